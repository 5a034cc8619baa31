# Reproducers from hostile testing of the issue-15 families against glmmTMB
# and GLMMadaptive (round 23): each failed before its fix.

# A covariate's standard error in the units of `x`, from a fit on `v`
# (`v = a x + b`).
se_in_x_units <- function(fit, a) {
  V <- vcov(fit, full = TRUE)
  i <- which(rownames(V) %in% c("v", "cond.v", "zi.v", "disp.v"))[1]
  sqrt(V[i, i]) * a
}

refit_units <- function(fml, data, ..., ctl = list()) {
  set.seed(1)
  data$x <- stats::rnorm(nrow(data))
  lapply(list(c(1, 0), c(1e-6, -5), c(1e7, 0), c(1, 1e4)), function(ab) {
    data$v <- data$x * ab[1] + ab[2]
    w <- character()
    f <- withCallingHandlers(glmm(fml, data = data, ...),
                             warning = function(e) {
                               w <<- c(w, conditionMessage(e))
                               invokeRestart("muffleWarning")
                             })
    list(fit = f, a = ab[1], warnings = w)
  })
}

expect_units_free <- function(fits, info) {
  ref <- fits[[1]]
  for (k in 2:4) {
    f <- fits[[k]]
    lab <- paste(info, c("", "x * 1e-6 - 5", "x * 1e7", "x + 1e4")[k])
    expect_equal(as.numeric(logLik(f$fit)), as.numeric(logLik(ref$fit)), tolerance = 1e-8, info = lab)
    expect_false(any(grepl("Hessian|converge", f$warnings)), info = paste(lab, f$warnings))
    expect_equal(se_in_x_units(f$fit, f$a), se_in_x_units(ref$fit, 1), tolerance = 2e-5, info = lab)
  }
}

test_that("standard errors do not depend on a covariate's units and location (x * 1e-6 - 5) in any family's route", {
  # The information was inverted on the user's scale, where with
  # x * 1e-6 - 5 the intercept and x are correlated to 1 - 1e-14: standard
  # errors 1e-4 to 1e-3 relative off, or none ("not negative definite").
  data(cbpp, package = "lme4")
  cb <- cbpp
  # Singular beta-binomial, one grouping factor (0.15658 vs 0.15666 in round
  # 22; here no standard errors at all).
  expect_units_free(refit_units(cbind(incidence, size - incidence) ~ period + v + (1 | herd), cb,
                                family = betabinomial()), "betabinomial")
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  expect_units_free(refit_units(count ~ mined + v + (1 | site), S, family = nbinom1()), "nbinom1")
  # Dispersion formula (no standard errors before) and zero part.
  expect_units_free(refit_units(count ~ mined + (1 | site), S, family = nbinom2(),
                                dispformula = ~ v), "dispformula")
  expect_units_free(refit_units(count ~ mined + v + (1 | site) + (1 | spp), S, family = poisson,
                                ziformula = ~ mined), "ZIP two terms")
  set.seed(2)
  gd <- data.frame(g = factor(rep(1:15, each = 6)), h = factor(rep(1:3, 30)))
  gd$y <- stats::rgamma(90, 4, 4 / exp(1 + 0.3 * stats::rnorm(90)))
  expect_units_free(refit_units(y ~ v + (1 | g) + (1 | h), gd, family = Gamma("log")), "Gamma two terms")
})

test_that("structured covariances: a covariate's units and location change neither the standard errors nor the convergence verdict", {
  # Before: "doubtful convergence: scaled gradient 1.2" with x * 1e-6 - 5 and
  # 0.0025 with x + 1e4 (the Newton step in the user's units), standard
  # errors 7e-4 relative off.
  set.seed(11)
  d <- data.frame(site = factor(rep(1:30, each = 6)), time = factor(rep(1:6, 30)))
  d$y <- stats::rpois(180, exp(1 + stats::rnorm(30, 0, 0.5)[d$site] + 0.2 * stats::rnorm(180)))
  expect_units_free(refit_units(y ~ v + ar1(time + 0 | site), d, family = poisson), "ar1")
  expect_units_free(refit_units(y ~ v + cs(time + 0 | site), d, family = poisson), "cs")
  data(sleepstudy, package = "lme4")
  expect_units_free(refit_units(Reaction ~ Days + v + diag(Days | Subject), sleepstudy, REML = FALSE),
                    "diag gaussian")
})

test_that("covariance structures with a zero part, a dispersion formula or a hurdle family are refused with the reason", {
  # Before: "could not build the model frame: could not find function \"ar1\"".
  set.seed(11)
  d <- data.frame(site = factor(rep(1:20, each = 5)), time = factor(rep(1:5, 20)), x = stats::rnorm(100))
  d$y <- stats::rpois(100, 2)
  expect_error(glmm(y ~ x + ar1(time + 0 | site), ziformula = ~ x, data = d, family = truncated_nbinom2()),
               "'formula': covariance structures .* cannot be combined with a hurdle family or 'ziformula'; use unstructured terms")
  expect_error(glmm(y ~ x + cs(time + 0 | site), dispformula = ~ x, data = d, family = nbinom2()),
               "'formula': covariance structures .* cannot be combined with 'dispformula'")
  expect_error(glmm(y ~ x + us(time + 0 | site), ziformula = ~ 1, data = d, family = poisson),
               "cannot be combined with 'ziformula'")
  expect_error(glmm(y ~ x + (1 | site), ziformula = ~ x + homdiag(1 | site), data = d, family = poisson),
               "'ziformula': covariance structures .* are not available there")
  # The unstructured equivalents fit.
  # (Poisson data: the zero part vanishes, and says so.)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + (time + 0 || site), ziformula = ~ 1, data = d[d$time %in% 1:2, ],
                                family = poisson),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("zero-inflation intercept runs to -Inf", w)))
  expect_true(is.finite(logLik(f)))
})

test_that("a dispersion at its no-overdispersion limit is said, not 'doubtful convergence' (unstructured terms)", {
  # Before: "doubtful convergence: scaled gradient 0.19-0.63" at optima equal
  # to the Poisson / binomial fits', and for betabinomial no standard
  # errors at all. (Round 22 did this for nbinom1 with structured terms.)
  set.seed(3)
  d <- data.frame(g = factor(rep(1:30, each = 6)), h = factor(rep(1:6, 30)), x = stats::rnorm(180), n = 10)
  d$yp <- stats::rpois(180, exp(0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  d$yb <- stats::rbinom(180, 10, stats::plogis(-0.5 + 0.3 * d$x + stats::rnorm(30, 0, 0.5)[d$g]))
  for (re in c("(1 | g)", "(1 | g) + (1 | h)")) {
    for (case in list(list("yp", nbinom2(), poisson(), "nbinom2 dispersion theta .* limit Inf"),
                      list("yp", nbinom1(), poisson(), "nbinom1 dispersion phi .* limit 0"),
                      list("cbind(yb, n - yb)", betabinomial(), binomial(), "betabinomial dispersion phi .* limit Inf"))) {
      fml <- stats::as.formula(paste(case[[1]], "~ x +", re))
      w <- character()
      f <- withCallingHandlers(glmm(fml, data = d, family = case[[2]], nAGQ = 1),
                               warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
      info <- paste(case[[2]]$family, re)
      expect_false(any(grepl("doubtful|did not converge|Hessian", w)), info = paste(info, w))
      expect_true(any(grepl(case[[4]], w)), info = info)
      expect_true(f$optinfo$dispersion_limit, info = info)
      lim <- suppressWarnings(glmm(fml, data = d, family = case[[3]], nAGQ = 1))
      expect_equal(as.numeric(logLik(f)), as.numeric(logLik(lim)), tolerance = 1e-7, info = info)
      expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(lim)))), tolerance = 1e-3, info = info)
    }
  }
  # Overdispersed counts: an interior dispersion, not flagged.
  d$y2 <- stats::rnbinom(180, mu = exp(1 + stats::rnorm(30, 0, 0.5)[d$g]), size = 2)
  f <- glmm(y2 ~ x + (1 | g), data = d, family = nbinom2())
  expect_false(f$optinfo$dispersion_limit)
})

test_that("simulate() with the predicted random effects draws each family's fitted mean and variance", {
  # Known truth: with re.form = NULL each row's draws have the fitted
  # conditional mean and the family's variance at the fitted dispersion
  # (hurdle: zero with probability pi, else zero-truncated).
  set.seed(5)
  M <- 30; n <- 6
  g <- factor(rep(1:M, each = n)); x <- stats::rnorm(M * n)
  eta <- 0.5 + 0.3 * x + stats::rnorm(M, 0, 0.4)[g]
  mu <- exp(eta); pr <- stats::plogis(eta - 0.5)
  d <- data.frame(g, x, N = stats::rpois(M * n, 6) + 2,
                  ynb1 = stats::rnbinom(M * n, mu = mu, size = mu / 2),
                  ybeta = stats::rbeta(M * n, pr * 8, (1 - pr) * 8),
                  yhp = ifelse(stats::runif(M * n) < 0.4, 0, stats::qpois(stats::runif(M * n, stats::dpois(0, mu), 1), mu)))
  d$ybb <- stats::rbinom(M * n, d$N, stats::rbeta(M * n, pr * 5, (1 - pr) * 5))
  d$yzi <- ifelse(stats::runif(M * n) < 0.3, 0, stats::rnbinom(M * n, mu = mu, size = 2))
  cases <- list(
    nb1 = list(ynb1 ~ x + (1 | g), nbinom1(), NULL, function(m, ph, pz, N) m * (1 + ph)),
    beta = list(ybeta ~ x + (1 | g), beta_family(), NULL, function(m, ph, pz, N) m * (1 - m) / (1 + ph)),
    bb = list(cbind(ybb, N - ybb) ~ x + (1 | g), betabinomial(), NULL,
              function(m, ph, pz, N) N * m * (1 - m) * (1 + (N - 1) / (ph + 1))),
    zinb = list(yzi ~ x + (1 | g), nbinom2(), ~ 1, function(m, ph, pz, N) (1 - pz) * m * (1 + m / ph + pz * m)),
    hnb = list(yhp ~ x + (1 | g), truncated_nbinom2(), ~ 1, function(m, ph, pz, N) {
      p0 <- (ph / (ph + m))^ph
      (1 - pz) * (m + m^2 / ph + m^2) / (1 - p0) - ((1 - pz) * m / (1 - p0))^2
    }))
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    f <- suppressWarnings(glmm(cs[[1]], data = d, family = cs[[2]], ziformula = cs[[3]], nAGQ = 1))
    S <- simulate(f, nsim = 2000, seed = 2, re.form = NULL)
    Y <- if (is.matrix(S[[1]])) sapply(S, function(s) s[, 1]) else as.matrix(S)
    m <- if (is.null(cs[[3]])) predict(f, type = "response") else exp(predict(f, type = "link"))
    pz <- if (is.null(cs[[3]])) 0 else predict(f, type = "zprob")
    ph <- exp(f$theta[[length(f$theta)]])
    v <- cs[[4]](m, ph, pz, d$N)
    mean_fit <- if (nm == "bb") d$N * m else predict(f, type = "response")
    z <- (rowMeans(Y) - mean_fit) / sqrt(v / ncol(Y))
    expect_lt(abs(mean(z)), 4 / sqrt(length(z)), label = paste(nm, "mean"))
    expect_lt(abs(stats::sd(z) - 1), 0.2, label = paste(nm, "sd of z"))
    expect_lt(abs(mean(apply(Y, 1, stats::var) / v) - 1), 0.02, label = paste(nm, "variance"))
  }
})

test_that("two-part fits against glmmTMB: offsets and weights, NA in zero-part variables, contrasts, predict types, df", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB")
  O <- Owls
  set.seed(3)
  O$w <- sample(1:3, nrow(O), TRUE)
  O$zv <- stats::runif(nrow(O))
  O$zv[c(5, 40, 100, 200)] <- NA
  # Hurdle NB2 with an offset in the count part and weights.
  f <- glmm(SiblingNegotiation ~ FoodTreatment + offset(log(BroodSize)) + (1 | Nest), ziformula = ~ SexParent,
            data = O, family = truncated_nbinom2(), weights = w, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + offset(log(BroodSize)) + (1 | Nest), ziformula = ~ SexParent,
           data = O, family = glmmTMB::truncated_nbinom2(), weights = w))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  expect_identical(attr(logLik(f), "df"), as.integer(attr(logLik(r), "df")))
  for (ty in c("link", "response", "zprob", "conditional"))
    expect_equal(unname(predict(f, type = ty)), unname(predict(r, type = ty)), tolerance = 2e-4, info = ty)
  # NA only in a variable of ziformula (rows dropped in both parts), on both routes.
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ zv, data = O, family = poisson, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ zv, data = O, family = poisson))
  expect_equal(nobs(f), 595L)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ zv, data = O, family = nbinom2(), nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ zv, data = O, family = glmmTMB::nbinom2()))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  # Sum contrasts in the zero part: the optimum of treatment coding.
  data(Salamanders, package = "glmmTMB")
  a <- glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson, nAGQ = 1,
            contrasts = list(spp = "contr.sum"))
  b <- glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson,
           contrasts = list(spp = "contr.sum")))
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-9)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-7)
  expect_equal(unname(predict(a, type = "zprob")), unname(predict(b, type = "zprob")), tolerance = 1e-6)
  # homdiag() against glmmTMB's diag() with one variance (map).
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  s$Dc <- s$Days - 4.5
  f <- glmm(Reaction ~ Days + homdiag(1 + Dc | Subject), data = s, REML = FALSE)
  r <- suppressWarnings(glmmTMB::glmmTMB(Reaction ~ Days + diag(1 + Dc | Subject), data = s, map = list(theta = factor(c(1, 1))),
           start = list(theta = c(3, 3))))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
})

test_that("a diverging zero-part coefficient (quasi-separation in ziformula) is named as the cause", {
  # Before: "doubtful convergence" and no standard errors, without a reason
  # (glmmTMB: a non-positive-definite Hessian). Species GP and EC-L need no
  # structural zeros: their zero-inflation probability runs to 0.
  data(Salamanders, package = "glmmTMB")
  w <- character()
  f <- withCallingHandlers(glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders,
                                family = nbinom2(), nAGQ = 1),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("zero-inflation probability runs to 0 for 184 of 644 rows: a coefficient of 'ziformula' diverges", w)))
  # An interior zero part says nothing of the kind.
  w <- character()
  f <- withCallingHandlers(glmm(count ~ mined + (1 | site), ziformula = ~ mined, data = Salamanders,
                                family = nbinom2(), nAGQ = 1),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("diverges", w)))
})
