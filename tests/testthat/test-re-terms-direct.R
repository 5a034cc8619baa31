# Random-effect terms read from the factor codes (re-terms-direct.R) must
# give exactly what reformulas::mkReTrms() gives: the same Z (values and
# names), the same grouping factors (levels in the same order), the same
# term layout, so that fits and their random effects do not depend on the
# route.

route_parts <- function(re) {
  fl <- lapply(re$flist, function(f) list(codes = as.integer(f), levels = levels(f)))
  list(rest = re[setdiff(names(re), "flist")], flist = fl, fnames = names(re$flist),
       assign = attr(re$flist, "assign"))
}

test_that("direct random intercepts equal mkReTrms()' on variables, interactions and nesting", {
  set.seed(11)
  n <- 400
  d <- data.frame(a = factor(sample(c("x", "y", "z"), n, TRUE), levels = c("z", "y", "x", "w")),
                  b = sample(c(3, 1, 12, 7, 20), n, TRUE), c = sample(c("q", "p"), n, TRUE),
                  o = factor(sample(5, n, TRUE), ordered = TRUE), g = sample(40, n, TRUE),
                  x = rnorm(n), y = rbinom(n, 1, 0.5))
  d$x[c(3, 50)] <- NA  # rows dropped by the model frame: row names with gaps
  forms <- list(y ~ x + (1 | a) + (1 | b), y ~ x + (1 | a/b), y ~ x + (1 | a/b/c),
                y ~ (1 | c:a) + (1 | o), y ~ x + (1 | b) + (1 | b:c) + (1 | a:b:c),
                y ~ x + (1 | I(g %% 5)) + (1 | b), y ~ (1 | a) + (1 | a) + (1 | b))
  for (f in forms) {
    mf <- model.frame(reformulas::subbars(f), d)
    expect_false(is.null(glmmgee:::direct_re_trms(frame_bars_of(f, mf), mf)))
    direct <- glmmgee:::sparse_re_terms(f, mf)
    general <- glmmgee:::sparse_re_terms(f, mf, direct = FALSE)
    expect_identical(route_parts(direct), route_parts(general), info = deparse(f))
  }
})

test_that("direct slopes and factor terms equal mkReTrms()'", {
  set.seed(13)
  n <- 300
  d <- data.frame(times = factor(rep(1:4, length.out = n)), g = sample(60, n, TRUE),
                  site = factor(sample(c("s2", "s1", "s3"), n, TRUE)), x = rnorm(n),
                  z = sample(c(0, 0, 1.5, -2), n, TRUE), k = sample(c("u", "v"), n, TRUE),
                  y = rpois(n, 2))
  d$x[c(5, 77)] <- NA  # rows dropped by the model frame
  d$times[9] <- NA
  forms <- list(y ~ (0 + times | g) + (1 | site), y ~ x + (times + 0 | g) + (1 | site),
                y ~ (1 + x | g) + (z | site), y ~ (x | g:site) + (1 | g),
                y ~ (0 + times:z | g) + (1 | site), y ~ (-1 + k | g) + (times | site),
                y ~ (x * z | site) + (1 | g), y ~ (0 + (times) | g) + (0 + k | site))
  for (f in forms) {
    mf <- model.frame(reformulas::subbars(f), d)
    expect_false(is.null(glmmgee:::direct_re_trms(frame_bars_of(f, mf), mf)), info = deparse(f))
    direct <- glmmgee:::sparse_re_terms(f, mf)
    general <- glmmgee:::sparse_re_terms(f, mf, direct = FALSE)
    expect_identical(route_parts(direct), route_parts(general), info = deparse(f))
  }
})

test_that("terms the direct route cannot read go to mkReTrms()", {
  set.seed(12)
  d <- data.frame(a = factor(sample(4, 100, TRUE)), b = factor(sample(3, 100, TRUE)),
                  x = rnorm(100))
  mf <- model.frame(~ a + b + x, d)
  # a slope, and two combinations pasted into one label ("1:2:3")
  # a function on the left side, a grouping variable on the left side
  expect_null(glmmgee:::direct_re_trms(frame_bars_of(~ (log(abs(x)) | a) + (1 | b), mf), mf))
  expect_null(glmmgee:::direct_re_trms(frame_bars_of(~ (0 + a | a:b), mf), mf))
  d2 <- data.frame(u = factor(c("1:2", "1", "1:2", "1")), v = factor(c("3", "2:3", "3", "2:3")))
  expect_null(glmmgee:::direct_re_trms(frame_bars_of(~ (1 | u:v), d2), d2))
  # mkReTrms() merges them into one level: the same error by either route
  expect_error(glmmgee:::sparse_re_terms(~ (1 | u:v) + (1 | u), d2), "'u:v' has only 1 level")
})

test_that("a crossed fit is the same by either route", {
  skip_if_not_installed("lme4")
  data(VerbAgg, package = "lme4")
  d <- VerbAgg[VerbAgg$item %in% levels(VerbAgg$item)[1:8], ]
  f <- r2 ~ btype + (1 | id) + (1 | item)
  mf <- model.frame(reformulas::subbars(f), d)
  X <- model.matrix(r2 ~ btype, mf)
  y <- as.numeric(mf$r2 == "Y")
  fam <- glmmgee:::resolve_family(binomial)
  fit_by <- function(direct) {
    re <- glmmgee:::sparse_re_terms(f, mf, direct = direct)
    glmmgee:::glmm_sparse_fit(X, y, re, fam, rep(1, nrow(X)), rep(0, nrow(X)), glmm_control())
  }
  a <- fit_by(TRUE)
  b <- fit_by(FALSE)
  expect_identical(a$theta, b$theta)
  expect_identical(a$loglik, b$loglik)
  expect_identical(a$cov_theta, b$cov_theta)
  expect_identical(a$modes$b, b$modes$b)
})


test_that("(0 + gA + gB || id) gives group-specific variances, as lme4", {
  skip_if_not_installed("lme4")
  set.seed(3)
  M <- 60; ni <- 8
  id <- rep(seq_len(M), each = ni)
  grp <- rep(rep(c("A", "B"), each = ni / 2), M)
  b <- cbind(rnorm(M, 0, 0.5), rnorm(M, 0, 1.5))
  y <- 1 + (grp == "B") + ifelse(grp == "A", b[id, 1], b[id, 2]) + rnorm(M * ni)
  d <- data.frame(y, id, grp, gA = as.numeric(grp == "A"), gB = as.numeric(grp == "B"))
  fit <- glmm(y ~ grp + (0 + gA + gB || id), data = d)
  ref <- lme4::lmer(y ~ grp + (0 + gA + gB || id), data = d, REML = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  vr <- as.data.frame(lme4::VarCorr(ref))
  expect_equal(vc$sdcor[vc$var1 %in% c("gA", "gB") & is.na(vc$var2)],
               vr$sdcor[vr$var1 %in% c("gA", "gB")], tolerance = 1e-4)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-7)
})
