# The profile tracer's rules (profile_side(), profile-glmm.R) on profiles
# whose log-likelihood is known in closed form: a parameter x with no
# nuisance parameter, so each point's "refit" is the function itself.

# Both sides traced and their 95% crossings refined (trace_profile()), and
# the interval as confint.glmmgee_profile() reads it from the points.
limits_known <- function(loglik, level = 0.95, se = 1) {
  ev <- function(th) list(loglik = loglik(th))
  map <- list(theta = function(x, z) x, free = function(th) numeric(), lower = numeric())
  tg <- list(name = "x", estimate = 0, closed = c(NA_real_, NA_real_), se = se, log = FALSE)
  msgs <- character()
  pts <- withCallingHandlers(
    glmmgee:::trace_profile(ev, map, tg, 0, loglik(0), stats::qnorm(0.995), 20L, level,
                            list(rel.tol = 1e-10), 1),
    warning = function(w) {
      msgs <<- c(msgs, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  z <- stats::qnorm(1 - (1 - level) / 2)
  list(points = pts, warnings = msgs,
       ci = c(glmmgee:::invert_zeta(pts$value, pts$zeta, -z, NA),
              glmmgee:::invert_zeta(pts$value, pts$zeta, z, NA)))
}

test_that("a profile that levels off below the cutoff has no limit on that side, and refits that fail beyond it are not read as one", {
  # Lower side: the log-likelihood tends to 0.765 below its maximum (|zeta|
  # to 1.237 < 1.96), as a zero-inflation intercept's whose zero part
  # vanishes; past x = -20 the "refits" fail and lose 5 more. Upper side:
  # quadratic, zeta = x.
  ll <- function(x) if (x < 0) -0.765 * (1 - exp(-x^2 / 4)) - 5 * (x < -20) else -x^2 / 2
  r <- limits_known(ll)
  expect_true(any(grepl("levels off below the cutoff on the lower side", r$warnings)))
  expect_false(any(grepl("upper side", r$warnings)))
  # no point from where the refits fail, so no step in the profile
  expect_true(all(r$points$value > -20))
  expect_true(all(abs(r$points$zeta[r$points$value < 0]) < 1.2371))
  expect_true(is.na(r$ci[1]))
  expect_equal(r$ci[2], stats::qnorm(0.975), tolerance = 1e-6)
  # nor at any other level
  expect_true(is.na(limits_known(ll, 0.9)$ci[1]))
})

test_that("a profile that steepens sharply is traced through, its limit where it crosses", {
  # zeta = x up to 1, then the log-likelihood falls 40 times faster: the
  # steps after x = 1 rise far more than the slope before predicts, and
  # their shorter retries trace the true crossing, with no warning.
  ll <- function(x) if (x <= 1) -x^2 / 2 else -0.5 - (x - 1) - 40 * (x - 1)^2
  r <- limits_known(ll)
  expect_length(r$warnings, 0L)
  d <- (-1 + sqrt(1 + 160 * (stats::qnorm(0.975)^2 / 2 - 0.5))) / 80
  expect_equal(r$ci, c(-stats::qnorm(0.975), 1 + d), tolerance = 1e-6)
  # the trace ends past the 99% cutoff on both sides
  expect_true(max(r$points$zeta) >= stats::qnorm(0.995))
  expect_true(min(r$points$zeta) <= -stats::qnorm(0.995))
})

test_that("a profile that keeps rising slowly is not taken for one that levels off", {
  # zeta = log(1 + x) on the upper side: slow, but rising by more than
  # 0.001 over every step the tracer takes before the cutoff (at x = e^2.58 - 1).
  ll <- function(x) if (x < 0) -x^2 / 2 else -log1p(x)^2 / 2
  r <- limits_known(ll)
  expect_length(r$warnings, 0L)
  expect_equal(r$ci[2], exp(stats::qnorm(0.975)) - 1, tolerance = 1e-6)
})

test_that("a standard error far too small for the profile's scale is not taken for a level profile", {
  # zeta = x / 1e4 with the tracer told se = 1e-3 (a random slope's SD on
  # x + 1e6 comes this far from its scale): the first steps change |zeta|
  # by less than 0.001 but the profile has not risen at all; the steps
  # grow fourfold until it does, and the limits are found.
  ll <- function(x) -(x / 1e4)^2 / 2
  r <- limits_known(ll, se = 1e-3)
  expect_false(any(grepl("levels off", r$warnings)))
  expect_equal(r$ci, c(-1, 1) * stats::qnorm(0.975) * 1e4, tolerance = 1e-6)
})

test_that("a first step from an absurd standard error is shortened until its refit holds", {
  # zeta = x, the tracer told se = 1e4 (a diverged coefficient's Wald
  # standard error): the first steps land where the "refits" fail (|x| >
  # 50: 10 below); their jumps are retried at a quarter of the step until
  # one holds, and the limits are found.
  ll <- function(x) -x^2 / 2 - 10 * (abs(x) > 50)
  r <- limits_known(ll, se = 1e4)
  expect_length(r$warnings, 0L)
  expect_equal(r$ci, c(-1, 1) * stats::qnorm(0.975), tolerance = 1e-6)
})

test_that("refits that jump to a far lower value at every shorter step give no limit, with a warning", {
  # Flat up to -3, then 10 lower (the held refits fall into another basin
  # there): no step reaches a crossing that is a profile value.
  ll <- function(x) if (x < 0) -0.01 * (1 - exp(x)) - 10 * (x < -3) else -x^2 / 2
  r <- limits_known(ll)
  expect_true(any(grepl("lower side", r$warnings)))
  expect_true(is.na(r$ci[1]))
  expect_true(all(r$points$value >= -3))
  expect_equal(r$ci[2], stats::qnorm(0.975), tolerance = 1e-6)
})
