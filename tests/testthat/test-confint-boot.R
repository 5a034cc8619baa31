# confint(method = "boot"): the parametric bootstrap of lme4's
# confint.merMod(method = "boot"), and simulate(newdata = ) as lme4's
# simulate.merMod(newdata = ). Both compared with lme4 in distribution,
# with tolerances from the Monte Carlo error of the runs themselves.

# Monte Carlo standard error of a bootstrap interval's limits from B
# replicates t: the normal interval's (mean +/- z sd) and the percentile
# interval's (a quantile: sqrt(p (1 - p) / B) / density at the quantile,
# the density of a normal with the replicates' sd).
mc_se_norm <- function(t, level = 0.95) {
  z <- stats::qnorm(1 - (1 - level) / 2)
  stats::sd(t) * sqrt(1 / length(t) + z^2 / (2 * (length(t) - 1)))
}
mc_se_perc <- function(t, level = 0.95) {
  p <- (1 - level) / 2
  sqrt(p * (1 - p) / length(t)) / (stats::dnorm(stats::qnorm(p)) / stats::sd(t))
}

boot_cbpp_fits <- function() {
  cbpp <- lme4::cbpp
  # the same approximation as glmer's (Laplace)
  list(ours = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                   family = binomial, nAGQ = 1),
       # lme4's default optimizer stops ~5e-3 short on the SD here
       # (helper-ecosystem-cbpp.R); bobyqa at a tight tolerance reaches our optimum
       lme4 = glmer_ref(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                        family = binomial,
                        control = lme4::glmerControl(optimizer = "bobyqa",
                                                     optCtrl = list(rhoend = 1e-10),
                                                     tolPwrss = 1e-12)))
}

test_that("confint(method = 'boot') of a binomial GLMM agrees with lme4's within Monte Carlo error", {
  skip_if_not_installed("lme4")
  f <- boot_cbpp_fits()
  B <- 200L
  ci <- suppressWarnings(confint(f$ours, method = "boot", nsim = B, seed = 11, boot.type = "norm"))
  # the same rows, names and scale as the Wald intervals
  expect_identical(dimnames(ci), dimnames(confint(f$ours)))
  expect_equal(attr(ci, "boot.fail"), 0L)
  bt <- suppressWarnings(glmmgee:::glmm_param_boot(f$ours, seq_len(nrow(ci)), B, 11, "no", 1L))
  expect_equal(as.vector(ci), as.vector(glmmgee:::boot_intervals(bt, 0.95, "norm")))
  lm4 <- suppressMessages(suppressWarnings(
    lme4::bootMer(f$lme4, function(m) c(lme4::fixef(m), sqrt(unlist(lme4::VarCorr(m)))),
                  nsim = B, seed = 12)))
  tl <- lm4$t[stats::complete.cases(lm4$t), , drop = FALSE]
  colnames(tl) <- rownames(ci)
  # the two fits' estimates agree closely; the intervals differ by Monte Carlo error
  expect_equal(unname(lm4$t0), unname(bt$t0), tolerance = 1e-3)
  for (j in seq_len(nrow(ci))) {
    # lme4's normal interval (bias-corrected, boot.ci()'s) from its own replicates
    l4 <- (2 * lm4$t0[j] - mean(tl[, j])) + c(-1, 1) * stats::qnorm(0.975) * stats::sd(tl[, j])
    expect_lt(max(abs(ci[j, ] - l4)), 4 * sqrt(mc_se_norm(bt$t[, j])^2 + mc_se_norm(tl[, j])^2))
  }
  # percentile intervals, by boot.ci() on lme4's bootMer() object as lme4's
  # confint(method = "boot") computes them
  cip <- glmmgee:::boot_intervals(bt, 0.95, "perc")
  for (j in seq_len(nrow(cip))) {
    l4p <- boot::boot.ci(lm4, type = "perc", index = j)$percent[4:5]
    expect_lt(max(abs(cip[j, ] - l4p)),
              4 * sqrt(mc_se_perc(bt$t[, j])^2 + mc_se_perc(tl[, j])^2))
  }
})

test_that("bootstrap intervals of a Gaussian LMM's fixed effects agree with Wald's (REML, several terms)", {
  skip_if_not_installed("lme4")
  fm <- glmm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy, REML = TRUE)
  B <- 200L
  bt <- suppressWarnings(glmmgee:::glmm_param_boot(fm, 1:2, B, 3, "no", 1L))
  expect_equal(attr(bt, "boot.fail"), 0L)
  ci <- suppressWarnings(confint(fm, parm = "beta_", method = "boot", nsim = B, seed = 3,
                                 boot.type = "norm"))
  wald <- confint(fm, parm = "beta_")
  expect_identical(dimnames(ci), dimnames(wald))
  for (j in 1:2) expect_lt(max(abs(ci[j, ] - wald[j, ])), 4 * mc_se_norm(bt$t[, j]))
  # the refits are REML fits: the sd of sigma's replicates centres on the REML sigma
  cs <- suppressWarnings(confint(fm, parm = "sigma", method = "boot", nsim = 50, seed = 3))
  expect_true(cs[1] < fm$sigma && fm$sigma < cs[2])
  # several random-effect terms (the sparse route)
  pn <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = lme4::Penicillin)
  expect_s3_class(pn, "glmmgee_glmm_sparse")
  btp <- glmmgee:::glmm_param_boot(pn, 1L, 100L, 4, "no", 1L)
  cip <- confint(pn, method = "boot", nsim = 100, seed = 4, boot.type = "norm")
  expect_identical(dimnames(cip), dimnames(confint(pn)))
  expect_lt(max(abs(cip[1, ] - confint(pn)[1, ])), 4 * mc_se_norm(btp$t[, 1]))
  expect_true(all(cip[-1, 1] > 0))
})

test_that("confint(method = 'boot') is reproducible with a seed, restores the RNG, and does not depend on the workers", {
  skip_if_not_installed("lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
              family = binomial)
  set.seed(99)
  before <- .Random.seed
  a <- suppressWarnings(confint(fit, method = "boot", nsim = 20, seed = 5))
  expect_identical(.Random.seed, before)
  b <- suppressWarnings(confint(fit, method = "boot", nsim = 20, seed = 5))
  expect_identical(a, b)
  d <- suppressWarnings(confint(fit, method = "boot", nsim = 20, seed = 6))
  expect_false(isTRUE(all.equal(a, d)))
  basic <- suppressWarnings(confint(fit, method = "boot", nsim = 20, seed = 5, boot.type = "basic"))
  # basic = 2 * estimate - percentile limits reversed
  est <- c(fixef(fit), sqrt(VarCorr(fit)$herd[1, 1]))
  expect_equal(unname(basic[, 1] + a[, 2]), unname(2 * est), tolerance = 1e-6)
  skip_on_os("windows")
  m <- suppressWarnings(confint(fit, method = "boot", nsim = 20, seed = 5,
                                parallel = "multicore", ncpus = 2))
  expect_identical(unclass(m), unclass(a))
})

test_that("failed and warning refits are counted, the failed ones dropped", {
  skip_if_not_installed("lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
              family = binomial)
  # A refit fails when the simulated first herd-period has 3 or more cases,
  # and warns when it has exactly 1 (the observed response has 2): glmm()
  # traced in the namespace, where the refits find it.
  ns <- asNamespace("glmmgee")
  trace_glmm <- function(tracer)
    suppressMessages(trace("glmm", tracer = tracer, where = ns, print = FALSE))
  on.exit(suppressMessages(untrace("glmm", where = ns)), add = TRUE)
  trace_glmm(quote({
    y <- data$.glmmgee_boot_y
    if (!is.null(y) && y[1, 1] >= 3) stop("mock refit failure")
    if (!is.null(y) && y[1, 1] == 1) warning("mock refit warning")
  }))
  B <- 30L
  sims <- simulate(fit, nsim = B, seed = 8)
  first <- vapply(sims, function(s) s[1, 1], 0)
  expect_gt(sum(first >= 3), 0)
  expect_gt(sum(first == 1), 0)
  expect_warning(ci <- confint(fit, method = "boot", nsim = B, seed = 8),
                 sprintf("%d of %d bootstrap refits failed and were dropped \\(mock refit failure\\).*%d refit\\(s\\) gave warnings and were kept \\(mock refit warning\\)",
                         sum(first >= 3), B, sum(first == 1)))
  expect_equal(attr(ci, "boot.fail"), sum(first >= 3))
  expect_equal(attr(ci, "boot.warn"), sum(first == 1))
  bt <- suppressWarnings(glmmgee:::glmm_param_boot(fit, 1:5, B, 8, "no", 1L))
  expect_equal(bt$R, B - sum(first >= 3))
  trace_glmm(quote({
    y <- data$.glmmgee_boot_y
    if (!is.null(y) && !identical(as.numeric(y[, 1]), as.numeric(lme4::cbpp$incidence)))
      stop("mock refit failure")
  }))
  expect_error(confint(fit, method = "boot", nsim = 5, seed = 1), "5 of 5 refits failed")
})

test_that("confint(method = 'boot') refuses the fits it does not support, and bad arguments", {
  skip_if_not_installed("lme4")
  cbpp <- lme4::cbpp
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  expect_error(confint(fit, method = "boot", nsim = 1), "'nsim'")
  expect_error(confint(fit, method = "boot", nsim = 10, boot.type = "bca"), "'boot.type'")
  expect_error(confint(fit, method = "boot", nsim = 10, parallel = "yes"), "'parallel'")
  expect_error(confint(fit, method = "boot", nsim = 10, ncpus = 0), "'ncpus'")
  zi <- suppressWarnings(glmm(incidence ~ period + (1 | herd), data = cbpp, family = poisson,
                              ziformula = ~ 1))
  expect_error(confint(zi, method = "boot", nsim = 10), "zero-inflated.*Wald")
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  ord <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative("logit"))
  expect_error(confint(ord, method = "boot", nsim = 10), "ordinal")
  bridge <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                 family = binomial, ranef_dist = "bridge")
  expect_error(confint(bridge, method = "boot", nsim = 10), "non-normal")
})

boot_sleep_fit <- function() glmm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy)

test_that("the bootstrap's arguments with method = 'Wald' or 'profile' are errors naming them", {
  # they were ignored: confint(fit, nsim = 1000, seed = 1) gave Wald intervals
  skip_if_not_installed("lme4")
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
              family = binomial, nAGQ = 1)
  expect_error(confint(fit, nsim = 1000, seed = 1),
               "confint\\(method = \"Wald\"\\): 'nsim' and 'seed' are for the parametric bootstrap \\(method = \"boot\"\\)")
  expect_error(confint(fit, parm = 2, method = "profile", parallel = "multicore", ncpus = 2,
                       boot.type = "basic"),
               "confint\\(method = \"profile\"\\): 'boot.type', 'parallel' and 'ncpus' are for the parametric bootstrap")
  # given at its default, an argument is still given
  expect_error(confint(fit, nsim = 500), "'nsim' is for the parametric bootstrap")
  expect_identical(dim(confint(fit)), c(5L, 2L))
})

test_that("simulate(newdata, re.form = NA) draws new random effects: means and variances of predict() and VarCorr()", {
  skip_if_not_installed("lme4")
  fm <- boot_sleep_fit()
  nd <- data.frame(Days = c(0, 4, 9, 9), Subject = c("308", "308", "new", "new"),
                   row.names = c("a", "b", "c", "d"))
  N <- 4000L
  s <- simulate(fm, nsim = N, seed = 1, newdata = nd)
  expect_identical(rownames(s), rownames(nd))
  expect_identical(names(s), paste0("sim_", seq_len(N)))
  m <- as.matrix(s)
  S <- VarCorr(fm)$Subject
  z <- cbind(1, nd$Days)
  V <- z %*% S %*% t(z) + diag(fm$sigma^2, 4)
  mu <- predict(fm, nd, re.form = NA)
  expect_true(all(abs(rowMeans(m) - mu) < 4 * sqrt(diag(V) / N)))
  v <- apply(m, 1, stats::var)
  expect_true(all(abs(v - diag(V)) < 4 * diag(V) * sqrt(2 / (N - 1))))
  # rows of one level share its draw: their covariance is z1' S z2
  cv <- stats::cov(m[1, ], m[2, ])
  se <- sqrt((V[1, 1] * V[2, 2] + V[1, 2]^2) / N)
  expect_lt(abs(cv - V[1, 2]), 4 * se)
  # and rows of different levels are independent
  expect_lt(abs(stats::cov(m[1, ], m[3, ])), 4 * sqrt(V[1, 1] * V[3, 3] / N))
  # the seed makes it reproducible
  expect_identical(simulate(fm, nsim = 3, seed = 2, newdata = nd),
                   simulate(fm, nsim = 3, seed = 2, newdata = nd))
})

test_that("simulate(newdata, re.form = NULL) conditions on the fitted clusters; new levels drawn or refused", {
  skip_if_not_installed("lme4")
  fm <- boot_sleep_fit()
  nd <- data.frame(Days = c(0, 9, 9), Subject = c("308", "308", "new"))
  expect_error(simulate(fm, nsim = 1, newdata = nd, re.form = NULL), "'new'.*allow.new.levels")
  N <- 4000L
  m <- as.matrix(simulate(fm, nsim = N, seed = 3, newdata = nd, re.form = NULL,
                          allow.new.levels = TRUE))
  mu <- predict(fm, nd, re.form = NULL, allow.new.levels = TRUE)
  s2 <- fm$sigma^2
  S <- VarCorr(fm)$Subject
  vnew <- drop(c(1, 9) %*% S %*% c(1, 9)) + s2
  vv <- c(s2, s2, vnew)
  expect_true(all(abs(rowMeans(m) - mu) < 4 * sqrt(vv / N)))
  v <- apply(m, 1, stats::var)
  expect_true(all(abs(v - vv) < 4 * vv * sqrt(2 / (N - 1))))
  # fitted rows of a known subject: only the residual is random
  expect_lt(abs(stats::cov(m[1, ], m[2, ])), 4 * s2 / sqrt(N))
})

test_that("simulate(newdata) for a binomial GLMM: trials from newdata, and lme4's distribution", {
  skip_if_not_installed("lme4")
  f <- boot_cbpp_fits()
  nd <- data.frame(period = factor(1:4), herd = factor(c(1, 1, 2, 2), levels = levels(lme4::cbpp$herd)),
                   incidence = 0, size = c(5, 10, 20, 40))
  s <- simulate(f$ours, nsim = 5, seed = 1, newdata = nd)
  for (y in s) {
    expect_true(is.matrix(y))
    expect_equal(rowSums(y), nd$size)
  }
  s1 <- simulate(f$ours, nsim = 5, seed = 1, newdata = nd[, 1:2], weights = c(2, 2, 3, 3))
  for (y in s1) expect_equal(rowSums(y), c(2, 2, 3, 3))
  expect_error(simulate(f$ours, nsim = 1, newdata = nd, weights = 1:2), "'weights'")
  N <- 3000L
  ours <- vapply(simulate(f$ours, nsim = N, seed = 4, newdata = nd), function(y) y[, 1], numeric(4))
  theirs <- vapply(simulate(f$lme4, nsim = N, seed = 5, newdata = nd, weights = nd$size),
                   function(y) y[, 1], numeric(4))
  for (i in 1:4) {
    se <- sqrt((stats::var(ours[i, ]) + stats::var(theirs[i, ])) / N)
    expect_lt(abs(mean(ours[i, ]) - mean(theirs[i, ])), 4 * se)
    # variances (over-dispersed by the new herd effects): within 4 SE of the difference
    sev <- sqrt(2 / (N - 1)) * (stats::var(ours[i, ]) + stats::var(theirs[i, ]))
    expect_lt(abs(stats::var(ours[i, ]) - stats::var(theirs[i, ])), 4 * sev)
  }
  # re.form = NULL: conditional on herds 1 and 2, as lme4's
  oc <- vapply(simulate(f$ours, nsim = N, seed = 6, newdata = nd, re.form = NULL),
               function(y) y[, 1], numeric(4))
  tc <- vapply(simulate(f$lme4, nsim = N, seed = 7, newdata = nd, weights = nd$size, re.form = NULL),
               function(y) y[, 1], numeric(4))
  for (i in 1:4) {
    se <- sqrt((stats::var(oc[i, ]) + stats::var(tc[i, ])) / N)
    expect_lt(abs(mean(oc[i, ]) - mean(tc[i, ])), 4 * se)
  }
  expect_equal(rowMeans(oc) / nd$size, unname(predict(f$ours, nd, type = "response")),
               tolerance = 4 * max(sqrt(0.25 / (N * nd$size))) / 0.1)
})

test_that("simulate(newdata) with several random-effect terms, missing values and Poisson", {
  skip_if_not_installed("lme4")
  pn <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = lme4::Penicillin)
  nd <- lme4::Penicillin[1:3, ]
  N <- 4000L
  m <- as.matrix(simulate(pn, nsim = N, seed = 2, newdata = nd))
  vc <- VarCorr(pn)
  vt <- vc$plate[1, 1] + vc$sample[1, 1] + pn$sigma^2
  v <- apply(m, 1, stats::var)
  expect_true(all(abs(v - vt) < 4 * vt * sqrt(2 / (N - 1))))
  mc <- as.matrix(simulate(pn, nsim = N, seed = 2, newdata = nd, re.form = NULL))
  expect_true(all(abs(rowMeans(mc) - predict(pn, nd)) < 4 * pn$sigma / sqrt(N)))
  set.seed(1)
  g <- rep(1:20, each = 10)
  x <- stats::rnorm(200)
  d <- data.frame(y = stats::rpois(200, exp(1 + 0.3 * x + stats::rnorm(20, 0, 0.5)[g])), x = x, g = g)
  pf <- glmm(y ~ x + (1 | g), data = d, family = poisson)
  nd2 <- data.frame(x = c(0, NA, 1), g = 1, row.names = c("r1", "r2", "r3"))
  s <- simulate(pf, nsim = 2, seed = 1, newdata = nd2)
  expect_identical(rownames(s), rownames(nd2))
  expect_true(all(is.na(unlist(s[2, ]))) && !anyNA(unlist(s[-2, ])))
  so <- simulate(pf, nsim = 2, seed = 1, newdata = nd2, na.action = stats::na.omit)
  expect_identical(rownames(so), c("r1", "r3"))
  se <- simulate(pf, nsim = 2, seed = 1, newdata = nd2, na.action = stats::na.exclude)
  expect_identical(rownames(se), rownames(nd2))
  expect_equal(se[c(1, 3), ], so, ignore_attr = TRUE)
  mp <- as.matrix(simulate(pf, nsim = N, seed = 9, newdata = nd2[-2, ], re.form = NULL))
  mu <- predict(pf, nd2[-2, ], type = "response")
  expect_true(all(abs(rowMeans(mp) - mu) < 4 * sqrt(mu / N)))
})


test_that("confint(method = 'boot') refits a formula with '.' as the same model", {
  skip_if_not_installed("lme4")
  ss <- lme4::sleepstudy[, c("Reaction", "Days", "Subject")]
  dot <- glmm(Reaction ~ . - Subject + (1 | Subject), data = ss)
  named <- glmm(Reaction ~ Days + (1 | Subject), data = ss)
  expect_equal(fixef(dot), fixef(named))
  # the refits took the observed response among the covariates ('.'), so the
  # refit of the observed response did not reproduce the fit: an error
  expect_identical(confint(dot, method = "boot", nsim = 3, seed = 1),
                   confint(named, method = "boot", nsim = 3, seed = 1))
})

test_that("confint(method = 'boot') of a fit without 'data' and a transformed covariate", {
  set.seed(1)
  g <- rep(1:15, each = 8)
  x <- stats::runif(120, 1, 5)
  y <- stats::rpois(120, exp(0.3 * log(x) + stats::rnorm(15, 0, 0.5)[g]))
  loose <- glmm(y ~ log(x) + (1 | g), family = poisson)
  framed <- glmm(y ~ log(x) + (1 | g), family = poisson, data = data.frame(y, x, g))
  # the model frame has log(x), not x: "could not refit the model"
  ref <- confint(framed, method = "boot", nsim = 3, seed = 1)
  expect_identical(confint(loose, method = "boot", nsim = 3, seed = 1), ref)
  # socket workers get the variables with the refitting function
  expect_identical(unclass(confint(loose, method = "boot", nsim = 3, seed = 1, parallel = "snow",
                                   ncpus = 2)), unclass(ref))
})

test_that("confint(method = 'boot') says why the refit of the observed response failed", {
  skip_if_not_installed("lme4")
  fo <- Reaction ~ Days + (1 | Subject)
  make <- function() {
    dd <- lme4::sleepstudy
    fam <- gaussian()
    glmm(fo, data = dd, family = fam)
  }
  fit <- make()
  # the family lives in make()'s frame, the formula's environment is the test's
  expect_error(confint(fit, method = "boot", nsim = 3, seed = 1),
               "could not refit.*object 'fam' not found")
})

test_that("confint(method = 'boot'): several boot.type values are refused by name", {
  skip_if_not_installed("lme4")
  fit <- glmm(Reaction ~ Days + (1 | Subject), data = lme4::sleepstudy)
  expect_error(confint(fit, method = "boot", nsim = 3, boot.type = c("perc", "norm")),
               "'boot.type' must be one of")
})


test_that("confint(method = 'boot') names 'parallel' for an empty or several-valued choice", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  g <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
            family = binomial)
  # before: match.arg()'s "'arg' must be of length 1" / "'arg' should be one of"
  expect_error(confint(g, method = "boot", nsim = 3, parallel = c("multicore", "snow")),
               "'parallel' must be")
  expect_error(confint(g, method = "boot", nsim = 3, parallel = character(0)), "'parallel' must be")
})

test_that("confint(method = 'boot') refuses an infinite 'nsim' or 'ncpus' by name", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  g <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
            family = binomial)
  # before: ncpus = Inf became NA and stopped in "if (NA)"; nsim = Inf was
  # refused by simulate() as "'nsim' must be a whole number >= 1"
  expect_error(confint(g, parm = 1, method = "boot", nsim = 3, ncpus = Inf, parallel = "multicore"),
               "'ncpus' must be")
  expect_error(confint(g, method = "boot", nsim = Inf), "'nsim' must be a whole number of bootstrap")
})

test_that("bootstrap intervals of a weighted binary fit do not depend on how the response is coded", {
  # weights 1 and 3 (three trials): the factor and logical codings were
  # simulated as a factor with NA levels and a logical TRUE at any success,
  # and gave intervals far from the 0/1 coding's (excluding the estimate)
  set.seed(2)
  d <- data.frame(g = factor(rep(1:30, each = 8)), x = stats::rnorm(240))
  d$y <- stats::rbinom(240, 1, stats::plogis(d$x + stats::rnorm(30)[d$g]))
  d$w <- rep(c(1, 3), 120)
  d$w[1:8] <- 0  # rows of weight 0: no NA in the refits
  d$yf <- factor(ifelse(d$y == 1, "yes", "no"))
  d$yl <- d$y == 1
  ci <- lapply(c("y", "yf", "yl"), function(v) {
    fo <- stats::as.formula(paste(v, "~ x + (1 | g)"))
    fit <- glmm(fo, data = d, family = binomial, weights = w)
    confint(fit, method = "boot", nsim = 20, seed = 1)
  })
  expect_identical(ci[[2]], ci[[1]])
  expect_identical(ci[[3]], ci[[1]])
  expect_identical(attr(ci[[1]], "boot.fail"), 0L)
  fit <- glmm(y ~ x + (1 | g), data = d, family = binomial, weights = w)
  est <- fixef(fit)[["(Intercept)"]]
  expect_true(ci[[1]]["(Intercept)", 1] < est && est < ci[[1]]["(Intercept)", 2])
})
