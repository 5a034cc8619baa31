# Random effects in the zero part and in the dispersion formula at once
# (zero-inflated and hurdle negative binomial models): the three parts'
# effects in one joint mode (engine kinds 7 and 8 of the two-part sparse
# engine), checked against a Laplace approximation written out here and,
# where glmmTMB fits random effects in dispformula, against glmmTMB.

test_that("zero-inflation: the logLik is the independent Laplace, at its maximum", {
  d <- three_part_data()
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d)
  expect_s3_class(fit, "glmmgee_glmm")
  expect_s3_class(fit, "glmmgee_glmm_dispre")
  expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
  expect_identical(fit$engine$name, "laplace_sparse_zero_re")
  expect_length(fit$optinfo$warnings, 0L)
  # (the smallest drop of a step of 1e-3 is 6e-7 here)
  expect_reference_maximum(fit, d, tol = 1e-5)
  # The exact gradient (which needs the rows' third derivatives in all three
  # predictors) against differences of the engine's value, away from the
  # optimum.
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, -0.1, 0.08, 0.2, -0.1, 0.05, 0.1)),
            1e-5)
})

test_that("a hurdle: the logLik is the independent Laplace, the gradient exact", {
  d <- three_part_data(hurdle = TRUE, seed = 6)
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = truncated_nbinom2, data = d)
  expect_identical(fit$aux$kind, "hurdle")
  X <- cbind(1, d$x)
  ref <- reference_three_part_loglik(three_part_par(fit), d$y, X, cbind(1, d$z), X, d$g,
                                      three_part_logdens(hurdle = TRUE))
  expect_lt(abs(as.numeric(logLik(fit)) - ref), 1e-5)
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, -0.1, 0.08, 0.2, -0.1, 0.05, 0.1)),
            1e-5)
  # A hurdle's zero part is its own likelihood: P(y = 0) per row.
  expect_equal(unname(predict(fit, type = "zprob")),
               unname(stats::plogis(predict(fit, type = "zlink"))), tolerance = 1e-12)
})

test_that("each part's random effects: VarCorr, ranef, predict, simulate", {
  d <- three_part_data()
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d)
  vc <- VarCorr(fit)
  expect_identical(names(vc), c("g", "zi~g", "disp~g"))
  expect_output(print(fit), "g \\(zero part\\)")
  expect_output(print(fit), "g \\(dispersion, log scale\\)")
  rz <- ranef(fit, component = "zi")$g[[1]]
  rd <- ranef(fit, component = "disp")$g[[1]]
  expect_identical(names(ranef(fit, component = "both")), c("cond", "zi", "disp"))
  # Each part's predictor carries its own modes.
  zc <- fit$aux$zi$coef
  expect_equal(unname(predict(fit, type = "zlink")),
               unname(zc[[1]] + zc[[2]] * d$z + rz[as.integer(d$g)]), tolerance = 1e-10)
  dc <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(dc[[1]] + dc[[2]] * d$x + rd[as.integer(d$g)])), tolerance = 1e-10)
  expect_equal(unname(predict(fit, type = "disp", re.form = NA)),
               unname(exp(dc[[1]] + dc[[2]] * d$x)), tolerance = 1e-10)
  mu <- predict(fit, type = "conditional")
  expect_equal(unname(predict(fit, type = "response")),
               unname((1 - predict(fit, type = "zprob")) * mu), tolerance = 1e-10)
  nd <- data.frame(x = 0.5, z = -1, g = c("1", "new"))
  expect_error(predict(fit, newdata = nd, type = "disp"), "allow.new.levels")
  pn <- predict(fit, newdata = nd, type = "disp", allow.new.levels = TRUE)
  expect_equal(unname(pn), exp(dc[[1]] + dc[[2]] * 0.5 + c(rd[1], 0)), tolerance = 1e-10)
  # New effects of all three parts: the simulated zeros' share follows the
  # fit's marginal one (within 0.03 over 400 draws of 400 rows).
  s <- simulate(fit, nsim = 400, seed = 1)
  expect_identical(dim(s), c(nrow(d), 400L))
  # (given the fitted modes instead, re.form = NULL: other draws)
  s1 <- simulate(fit, nsim = 400, seed = 1, re.form = NULL)
  expect_false(isTRUE(all.equal(s, s1)))
  expect_lt(abs(mean(s == 0) - mean(d$y == 0)), 0.03)
})

test_that("inference on each part: Wald and profile intervals, robust covariances, tidy", {
  d <- three_part_data()
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d)
  ci <- confint(fit)
  expect_true(all(c("sd_(Intercept)|g", "sd_zi.(Intercept)|g", "sd_disp.(Intercept)|g",
                    "disp.x", "zi.z") %in% rownames(ci)))
  expect_true(all(ci[, 1] < ci[, 2]))
  pr <- confint(fit, parm = c("x", "zi.z"), method = "profile")
  expect_equal(unname(pr), unname(ci[c("x", "zi.z"), ]), tolerance = 0.15)
  # The profile's limits: where the refit with the value held drops by the
  # chi-square quantile (a refit with x's coefficient an offset).
  d$off <- pr["x", 2] * d$x
  f0 <- glmm(y ~ 1 + offset(off) + (1 | g), ziformula = ~ z + (1 | g),
             dispformula = ~ x + (1 | g), family = nbinom2, data = d)
  expect_equal(2 * as.numeric(logLik(fit) - logLik(f0)), stats::qchisq(0.95, 1), tolerance = 1e-3)
  V <- vcov(fit, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  expect_identical(dim(vcov(fit, full = TRUE)), c(9L, 9L))
  td <- broom.mixed::tidy(fit)
  rp <- td[td$effect == "ran_pars", ]
  expect_setequal(rp$component, c("cond", "zi", "disp"))
  expect_equal(rp$estimate[rp$component == "disp"], attr(VarCorr(fit)[["disp~g"]], "stddev")[[1]],
               tolerance = 1e-12)
  # Each part's predicted random effects under its component.
  rv <- broom.mixed::tidy(fit, effects = "ran_vals")
  expect_identical(as.vector(table(rv$component)[c("cond", "zi", "disp")]), c(40L, 40L, 40L))
  for (cmp in c("cond", "zi", "disp"))
    expect_equal(rv$estimate[rv$component == cmp], ranef(fit, component = cmp)$g[[1]],
                 tolerance = 1e-12)
})

test_that("other grouping factors per part, and a known truth recovered", {
  set.seed(7)
  m <- 60
  d <- data.frame(g = factor(rep(seq_len(m), each = 12)), h = factor(rep(1:12, m)),
                  x = stats::rnorm(m * 12), z = stats::rnorm(m * 12))
  mu <- exp(1 + 0.4 * d$x + stats::rnorm(m, 0, 0.4)[d$g])
  pz <- stats::plogis(-1 + 0.5 * d$z + stats::rnorm(12, 0, 0.8)[d$h])
  th <- exp(1 + stats::rnorm(m, 0, 0.6)[d$g])
  d$y <- stats::rnbinom(nrow(d), mu = mu, size = th) * stats::rbinom(nrow(d), 1, 1 - pz)
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | h), dispformula = ~ 1 + (1 | g),
              family = nbinom2, data = d)
  expect_identical(names(VarCorr(fit)), c("g", "zi~h", "disp~g"))
  # (the zero-variance check names each term by its part)
  zv <- fit$optinfo$zero_variance_check$terms
  expect_identical(zv, c("(1 | g)", "zi~(1 | h)", "disp~(1 | g)"))
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, -0.1, 0.08, 0.2, -0.1, 0.05)), 1e-5)
  # The truth within the Wald intervals (log scale for the SDs).
  ci <- confint(fit)
  truth <- c(x = 0.4, zi.z = 0.5, "sd_(Intercept)|g" = 0.4, "sd_zi.(Intercept)|h" = 0.8,
             "sd_disp.(Intercept)|g" = 0.6)
  for (nm in names(truth)) {
    expect_gt(truth[[nm]], ci[nm, 1])
    expect_lt(truth[[nm]], ci[nm, 2])
  }
})

test_that("against glmmTMB where it fits random effects in dispformula (1.1.10 and later)", {
  skip_if_not_installed("glmmTMB", "1.1.10")
  d <- three_part_data()
  for (hurdle in c(FALSE, TRUE)) {
    dd <- if (hurdle) three_part_data(hurdle = TRUE, seed = 6) else d
    fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
                family = if (hurdle) truncated_nbinom2 else nbinom2, data = dd)
    tm <- glmmTMB::glmmTMB(y ~ x + (1 | g), ziformula = ~ z + (1 | g),
                           dispformula = ~ x + (1 | g), data = dd,
                           family = if (hurdle) glmmTMB::truncated_nbinom2() else glmmTMB::nbinom2())
    expect_gt(as.numeric(logLik(fit)), as.numeric(logLik(tm)) - 1e-4)
    expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tm)$cond), tolerance = 1e-3)
    expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(tm)$zi), tolerance = 1e-3)
    expect_equal(unname(fit$aux$disp$coef), unname(glmmTMB::fixef(tm)$disp), tolerance = 1e-3)
  }
})

test_that("covariance structures in any of the three parts", {
  d <- three_part_data()
  plain <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
                family = nbinom2, data = d)
  # us() of one column is the plain term: the structured route reaches the
  # same optimum.
  st <- glmm(y ~ x + (1 | g), ziformula = ~ z + us(1 | g), dispformula = ~ x + (1 | g),
             family = nbinom2, data = d)
  expect_false(is.null(st$structures))
  expect_lt(abs(as.numeric(logLik(st) - logLik(plain))), 1e-6)
  expect_equal(unname(st$theta), unname(plain$theta), tolerance = 1e-4)
  expect_identical(names(VarCorr(st)), c("g", "zi~g", "disp~g"))
  # An AR(1) mean over four occasions per cluster beside random zero and
  # dispersion intercepts, on data of that model: it fits without a
  # warning, at or above the fit without the AR(1) structure, with each
  # part's methods.
  set.seed(11)
  m <- 60
  d <- data.frame(g = factor(rep(seq_len(m), each = 12)), t = factor(rep(1:4, 3 * m)),
                  x = stats::rnorm(12 * m), z = stats::rnorm(12 * m))
  L <- chol(0.5^2 * 0.6^abs(outer(1:4, 1:4, "-")))
  u <- matrix(stats::rnorm(4 * m), m) %*% L
  mu <- exp(1 + 0.4 * d$x + u[cbind(as.integer(d$g), as.integer(d$t))])
  pz <- stats::plogis(-1 + 0.5 * d$z + stats::rnorm(m, 0, 0.7)[d$g])
  th <- exp(1 + stats::rnorm(m, 0, 0.5)[d$g])
  d$y <- stats::rnbinom(nrow(d), mu = mu, size = th) * stats::rbinom(nrow(d), 1, 1 - pz)
  ar <- glmm(y ~ x + ar1(0 + t | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
             family = nbinom2, data = d)
  expect_length(ar$optinfo$warnings, 0L)
  one <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d)
  expect_gt(as.numeric(logLik(ar)), as.numeric(logLik(one)))
  expect_identical(names(VarCorr(ar)), c("g", "zi~g", "disp~g"))
  expect_length(ranef(ar)$g, 4L)
  expect_true(all(is.finite(predict(ar, type = "disp"))))
  expect_identical(dim(simulate(ar, nsim = 2, seed = 1)), c(nrow(d), 2L))
  V <- vcov(ar, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  expect_true(all(is.finite(confint(ar, parm = "x", method = "profile"))))
})

test_that("a hurdle's marginal mean integrates the dispersion's random effects too", {
  # The zero-truncated count part's mean mu / (1 - f(0; mu, theta)) depends
  # on theta, so standardize()'s marginal means average over the
  # dispersion's effects as well as the mean's and the zero part's: here
  # against a 161-point grid in each effect, with and without random
  # effects in the zero part.
  d <- three_part_data(hurdle = TRUE, seed = 6)
  t <- seq(-8, 8, by = 0.1)
  w <- stats::dnorm(t) / sum(stats::dnorm(t))
  for (zf in list(~ z + (1 | g), ~ z)) {
    fit <- glmm(y ~ x + (1 | g), ziformula = zf, dispformula = ~ x + (1 | g),
                family = truncated_nbinom2, data = d)
    vc <- VarCorr(fit)
    sd_of <- function(nm) if (is.null(vc[[nm]])) 0 else attr(vc[[nm]], "stddev")[[1]]
    b <- fixef(fit)
    gz <- fit$aux$zi$coef
    gd <- fit$aux$disp$coef
    grid <- vapply(c(0, 1), function(xv) {
      ep <- vapply(d$z, function(z) sum(w * stats::plogis(gz[[1]] + gz[[2]] * z + sd_of("zi~g") * t)), 0)
      mu <- exp(b[[1]] + b[[2]] * xv + sd_of("g") * t)
      th <- exp(gd[[1]] + gd[[2]] * xv + sd_of("disp~g") * t)
      H <- outer(mu, th, function(m, s) m / (1 - stats::dnbinom(0, mu = m, size = s)))
      mean((1 - ep) * sum(outer(w, w) * H))
    }, 0)
    st <- standardize(fit, "x", values = c(0, 1))
    expect_equal(st$estimate[st$quantity == "mean"], grid, tolerance = 1e-5)
  }
})

test_that("where the approximation breaks down at the estimates, the fit keeps its value and says so", {
  # Each row two or three times over: the dispersion's SD runs up to where
  # the joint mode degenerates, and the search ends at the edge of that
  # region. The fit warns that the approximation breaks down, and keeps its
  # log-likelihood, modes and predictions there (they were -Inf and NA, and
  # the zero part was said to vanish).
  d <- three_part_data()
  set.seed(9)
  dd <- d[rep(seq_len(nrow(d)), sample(1:3, nrow(d), TRUE)), ]
  w <- character()
  fit <- withCallingHandlers(
    glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
         family = nbinom2, data = dd),
    warning = function(cond) {
      w <<- c(w, conditionMessage(cond))
      invokeRestart("muffleWarning")
    })
  expect_true(any(grepl("the Laplace approximation breaks down", w)))
  # (every part's effects on g: quadrature is offered as the way out)
  expect_true(any(grepl("Refit with nAGQ > 1", w, fixed = TRUE)))
  expect_false(any(grepl("runs to -Inf", w)))
  expect_true(is.finite(logLik(fit)))
  expect_true(all(is.finite(predict(fit, type = "zprob"))))
  # The independent Laplace at the estimates, within a unit: next to the
  # degenerate region the joint mode is flat in one direction and the
  # reference's own mode search lands elsewhere on it (0.24 apart here).
  X <- cbind(1, dd$x)
  ref <- reference_three_part_loglik(three_part_par(fit), dd$y, X, cbind(1, dd$z), X, dd$g,
                                      three_part_logdens())
  expect_lt(abs(as.numeric(logLik(fit)) - ref), 1)
})

test_that("adaptive quadrature over the three parts' effects: the independent rule, at its maximum", {
  # Every part's effects on g: nAGQ > 1 integrates each cluster's three
  # effects on a product grid centred and scaled at their joint mode (the
  # one-factor two-part engine, kinds 7 and 8), with the exact gradient.
  d <- three_part_data()
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d, nAGQ = 7)
  expect_s3_class(fit, "glmmgee_glmm_dispre")
  expect_identical(fit$engine$name, "agq_zero_re")
  expect_identical(fit$nAGQ, 7L)
  expect_length(fit$optinfo$warnings, 0L)
  expect_output(print(fit), "fitted by adaptive Gauss-Hermite quadrature \\(nAGQ = 7\\)")
  expect_reference_maximum(fit, d, nodes = 7L, tol = 1e-6)
  expect_lt(engine_gradient_error(fit, c(0.05, -0.03, 0.1, -0.1, 0.08, 0.2, -0.1, 0.05, 0.1)),
            1e-6)
  # The rule has converged: a finer one moves the log-likelihood by less
  # than 1e-3 (Laplace is 0.16 off on these clusters of ten rows).
  lc <- loglik_check(fit)
  expect_lt(abs(lc$difference), 1e-3)
  lap <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d)
  expect_gt(abs(as.numeric(logLik(lap) - logLik(fit))), 0.05)

  # A hurdle: the same rule against the reference.
  dh <- three_part_data(hurdle = TRUE, seed = 6)
  fh <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
             family = truncated_nbinom2, data = dh, nAGQ = 7)
  Xh <- cbind(1, dh$x)
  refh <- reference_three_part_loglik(three_part_par(fh), dh$y, Xh, cbind(1, dh$z), Xh, dh$g,
                                      three_part_logdens(hurdle = TRUE), nodes = 7L)
  expect_lt(abs(as.numeric(logLik(fh)) - refh), 1e-6)
  expect_lt(engine_gradient_error(fh, c(0.05, -0.03, 0.1, -0.1, 0.08, 0.2, -0.1, 0.05, 0.1)),
            1e-6)
})

test_that("quadrature fits offer every method of the Laplace ones", {
  d <- three_part_data()
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g), dispformula = ~ x + (1 | g),
              family = nbinom2, data = d, nAGQ = 7)
  expect_identical(names(VarCorr(fit)), c("g", "zi~g", "disp~g"))
  re <- ranef(fit, component = "both")
  expect_identical(names(re), c("cond", "zi", "disp"))
  zc <- fit$aux$zi$coef
  expect_equal(unname(predict(fit, type = "zlink")),
               unname(zc[[1]] + zc[[2]] * d$z + re$zi$g[[1]][as.integer(d$g)]), tolerance = 1e-10)
  dc <- fit$aux$disp$coef
  expect_equal(unname(predict(fit, type = "disp")),
               unname(exp(dc[[1]] + dc[[2]] * d$x + re$disp$g[[1]][as.integer(d$g)])),
               tolerance = 1e-10)
  expect_identical(dim(simulate(fit, nsim = 2, seed = 1)), c(nrow(d), 2L))
  ci <- confint(fit)
  expect_true(all(c("sd_zi.(Intercept)|g", "sd_disp.(Intercept)|g") %in% rownames(ci)))
  # The profile's limit: where the refit at nAGQ = 7 with x's coefficient
  # held (an offset) drops by the chi-square quantile.
  pr <- confint(fit, parm = "x", method = "profile")
  d$off <- pr[1, 2] * d$x
  f0 <- glmm(y ~ 1 + offset(off) + (1 | g), ziformula = ~ z + (1 | g),
             dispformula = ~ x + (1 | g), family = nbinom2, data = d, nAGQ = 7)
  expect_equal(2 * as.numeric(logLik(fit) - logLik(f0)), stats::qchisq(0.95, 1), tolerance = 1e-3)
  V <- vcov(fit, type = "CR2")
  expect_true(all(is.finite(V)) && all(diag(V) > 0))
  rv <- broom.mixed::tidy(fit, effects = "ran_vals")
  for (cmp in c("cond", "zi", "disp"))
    expect_equal(rv$estimate[rv$component == cmp], ranef(fit, component = cmp)$g[[1]],
                 tolerance = 1e-12)
})

test_that("Salamanders: where Laplace breaks down, quadrature fits the three parts cleanly", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  f <- count ~ mined + spp + (1 | site)
  zf <- ~ mined + (1 | site)
  # By Laplace the search stops at the edge of the region where the
  # approximation breaks down, and says so, naming quadrature.
  w <- character()
  lap <- withCallingHandlers(
    glmm(f, ziformula = zf, dispformula = ~ mined + (1 | site), family = nbinom2,
         data = Salamanders),
    warning = function(cond) {
      w <<- c(w, conditionMessage(cond))
      invokeRestart("muffleWarning")
    })
  expect_true(any(grepl("breaks down.*Refit with nAGQ > 1", w)))
  # By quadrature: no warning, and above the fit without the dispersion's
  # random effect (the nested model, its SD at zero).
  q3 <- glmm(f, ziformula = zf, dispformula = ~ mined + (1 | site), family = nbinom2,
             data = Salamanders, nAGQ = 7)
  q2 <- glmm(f, ziformula = zf, dispformula = ~ mined, family = nbinom2, data = Salamanders,
             nAGQ = 7)
  expect_length(q3$optinfo$warnings, 0L)
  expect_gt(as.numeric(logLik(q3)), as.numeric(logLik(q2)))
  expect_lt(abs(loglik_check(q3)$difference), 0.05)
})

test_that("a profile that meets points without a value ends there instead of stopping", {
  # Profiling the three SDs in turn, the crossing of the dispersion SD's
  # profile was refined towards a point whose log-likelihood was -Inf (the
  # engine's modes had been left far out by the profiles before); the
  # search then divided infinities and stopped with "missing value where
  # TRUE/FALSE needed". It now keeps the crossing of the traced points.
  d <- three_part_data(seed = 5)
  fit <- suppressWarnings(glmm(y ~ x + (1 | g), ziformula = ~ z + (1 | g),
                               dispformula = ~ x + (1 | g), family = nbinom2, data = d,
                               nAGQ = 5))
  sds <- c("sd_(Intercept)|g", "sd_zi.(Intercept)|g", "sd_disp.(Intercept)|g")
  ci <- suppressWarnings(confint(fit, parm = sds, method = "profile"))
  expect_identical(rownames(ci), sds)
  est <- attr(VarCorr(fit)[["disp~g"]], "stddev")[[1]]
  expect_true(is.finite(ci[3, 1]) && ci[3, 1] < est)
})

test_that("predict(re.form = <formula>) selects the random-effect terms of every part", {
  # (A formula kept every zero and dispersion term, which it could not name.)
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  f <- glmm(count ~ mined + (1 | site), data = Salamanders, ziformula = ~ mined + (1 | spp),
            dispformula = ~ 1 + (1 | spp), family = nbinom2(), nAGQ = 1)
  nd <- data.frame(mined = "no", site = "R-1", spp = "GP")
  p <- function(type, re.form) unname(predict(f, nd, type = type, re.form = re.form))
  for (type in c("zprob", "disp")) {
    # ~ (1 | site): the conditional term only, the others' at zero.
    expect_equal(p(type, ~ (1 | site)), p(type, NA))
    # ~ (1 | spp): the zero and the dispersion part's term, named as written.
    expect_equal(p(type, ~ (1 | spp)), p(type, NULL))
    expect_false(isTRUE(all.equal(p(type, NA), p(type, NULL))))
  }
  expect_equal(p("link", ~ (1 | spp)), p("link", NA))
  expect_equal(p("link", ~ (1 | site)), p("link", NULL))
  expect_equal(p("response", ~ (1 | site) + (1 | spp)), p("response", NULL))
  # On the data of the fit too.
  expect_equal(predict(f, type = "zprob", re.form = ~ (1 | site)), predict(f, type = "zprob", re.form = NA))
  expect_error(predict(f, nd, re.form = ~ (1 | pond)), "'re.form' term\\(s\\) in no part of the model.*1 \\| pond")
  # A missing label of the zero and dispersion parts' grouping: an error
  # naming it and the part, zero effects with allow.new.levels = TRUE.
  na_spp <- data.frame(mined = "no", site = "R-1", spp = NA)
  expect_error(predict(f, na_spp, type = "zprob"),
               "missing value\\(s\\) of the grouping variable 'spp' \\(zero part\\)")
  expect_error(predict(f, na_spp, type = "zprob", re.form = ~ (1 | site) + (1 | spp)), "'spp' \\(zero part\\)")
  expect_error(predict(f, na_spp, type = "disp", re.form = ~ (1 | spp)), "'spp' \\(zero part\\)")
  expect_equal(unname(predict(f, na_spp, type = "zprob", allow.new.levels = TRUE)), p("zprob", NA))
  expect_equal(unname(predict(f, na_spp, type = "zprob", re.form = ~ (1 | site))), p("zprob", NA))
})

test_that("a missing grouping label of a zero part on the conditional factor is an error unless allowed", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  g <- glmm(count ~ mined + (1 | site), data = Salamanders, ziformula = ~ mined + (1 | site),
            family = poisson, nAGQ = 1)
  nd <- data.frame(mined = "no", site = c(NA, "R-1"))
  expect_error(predict(g, nd, type = "zprob"), "missing value\\(s\\) of the grouping variable 'site'")
  expect_error(predict(g, nd, type = "zprob", re.form = ~ (1 | site)), "grouping variable 'site'")
  expect_equal(unname(predict(g, nd, type = "zprob", allow.new.levels = TRUE))[1L],
               unname(predict(g, nd[1L, ], type = "zprob", re.form = NA)))
  # na.omit and na.exclude act on that row, as on one-part fits (it stopped).
  p2 <- predict(g, nd[2L, ], type = "zprob")
  expect_equal(predict(g, nd, type = "zprob", na.action = na.omit), p2)
  expect_identical(names(predict(g, nd, type = "zprob", na.action = na.omit)), "2")
  ex <- predict(g, nd, type = "response", na.action = na.exclude, se.fit = TRUE)
  expect_identical(names(ex$fit), c("1", "2"))
  expect_true(is.na(ex$fit[[1L]]) && is.na(ex$se.fit[[1L]]))
  expect_equal(ex$fit[[2L]], unname(predict(g, nd[2L, ], type = "response")))
  # Without the term in re.form the label is not needed, and no row is dropped.
  expect_length(predict(g, nd, type = "zprob", re.form = NA, na.action = na.omit), 2L)
  # A missing covariate in another row as well: one record of both.
  nd3 <- data.frame(mined = c("no", NA, "yes"), site = c(NA, "R-1", "R-1"))
  ex3 <- predict(g, nd3, type = "response", na.action = na.exclude)
  expect_identical(which(is.na(ex3)), c(`1` = 1L, `2` = 2L))
  expect_equal(ex3[[3L]], unname(predict(g, nd3[3L, ], type = "response")))
  expect_identical(names(predict(g, nd3, na.action = na.omit)), "3")
})
