# Covariance structures on one grouping factor (covstruct*.R): ar1(), cs(),
# diag(), homdiag() against glmmTMB (1.1: ar1 with one variance, cs with
# heterogeneous variances; homdiag as glmmTMB's diag with its variances
# mapped equal), against our own unstructured fits where the models
# coincide, and against known truth.

# glmmTMB's covstruct vignette: AR(1) over the levels of a time factor.
sim_ar1 <- function(seed, M, n = 6, phi = 0.7, family = "gaussian", sd = 1) {
  set.seed(seed)
  R <- phi^as.matrix(stats::dist(seq_len(n)))
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) * sd
  d <- data.frame(times = factor(rep(seq_len(n), M)), group = factor(rep(seq_len(M), each = n)),
                  x = stats::rnorm(M * n))
  eta <- as.vector(t(b))
  d$y <- switch(family,
                gaussian = eta + stats::rnorm(M * n),
                poisson = stats::rpois(M * n, exp(0.3 + 0.2 * d$x + eta)),
                binomial = stats::rbinom(M * n, 1, stats::plogis(-0.2 + 0.4 * d$x + eta)))
  d
}

test_that("ar1(): the covstruct vignette's gaussian AR(1) model matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_ar1(1, 150)
  f <- glmm(y ~ ar1(times + 0 | group), data = d)
  m <- glmmTMB::glmmTMB(y ~ ar1(times + 0 | group), data = d)
  expect_s3_class(f, "glmmgee_glmm_covstruct")
  expect_gte(loglik_value(f), loglik_value(m) - 1e-6)
  vc <- glmmTMB::VarCorr(m)$cond$group
  s <- f$structures[[1L]]
  expect_equal(unname(s$sd[1L]), unname(attr(vc, "stddev")[1L]), tolerance = 1e-3)
  expect_equal(s$rho, attr(vc, "correlation")[1L, 2L], tolerance = 1e-3)
  expect_equal(sigma(f), sigma(m), tolerance = 1e-3)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-3)
  # The covariance it implies is AR(1) with one variance.
  D <- f$D
  expect_equal(D[1, 3] / D[1, 1], s$rho^2, tolerance = 1e-8)
  expect_output(print(f), "AR\\(1\\)")
  expect_output(print(summary(f)), "rho")
  expect_equal(attr(logLik(f), "df"), 4)  # intercept, sd, rho, sigma
  # Wald intervals through the structure's covariance; profile intervals
  # on the structure's natural scale, around the estimates.
  ci <- confint(f, method = "Wald")
  expect_true(all(is.finite(ci)))
  expect_true(all(ci[, 1] < ci[, 2]))
  cp <- confint(f, method = "profile")
  expect_identical(rownames(cp), c("(Intercept)", "ar1(times + 0 | group): sd",
                                   "ar1(times + 0 | group): rho", "sigma"))
  est <- c(fixef(f), s$sd[1L], s$rho, sigma(f))
  expect_true(all(cp[, 1] < est & est < cp[, 2]))
  expect_equal(unname(cp[1, ]), unname(ci[1, ]), tolerance = 0.05)
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(f$cov_structure[1, 1])))
})

test_that("ar1()'s profile interval for rho: glmmTMB with rho held at each limit is the cutoff below", {
  skip_if_not_installed("glmmTMB")
  d <- sim_ar1(5, 80, n = 4, phi = 0.5, family = "poisson", sd = 0.7)
  form <- y ~ x + ar1(0 + times | group)
  f <- glmm(form, data = d, family = poisson, nAGQ = 1)
  ci <- confint(profile(f, which = "ar1(0 + times | group): rho"))
  rho <- f$structures[[1]]$rho
  expect_true(ci[1] < rho && rho < ci[2])
  # glmmTMB's ar1() correlation is t / sqrt(1 + t^2) of its last theta, as ours.
  m <- glmmTMB::glmmTMB(form, data = d, family = poisson)
  th <- m$fit$par[names(m$fit$par) == "theta"]
  for (r in ci) {
    held <- glmmTMB::glmmTMB(form, data = d, family = poisson,
                             start = list(theta = c(th[1], r / sqrt(1 - r^2))),
                             map = list(theta = factor(c(1, NA))))
    expect_equal(2 * (loglik_value(f) - loglik_value(held)), stats::qchisq(0.95, 1),
                 tolerance = 1e-3, label = paste("rho held at", r))
  }
})

test_that("ar1() and cs() in Poisson and logistic models (Laplace) match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  for (fam in c("poisson", "binomial")) {
    d <- sim_ar1(2, 120, n = 4, phi = 0.6, family = fam, sd = 0.8)
    for (st in c("ar1", "cs")) {
      form <- stats::as.formula(sprintf("y ~ x + %s(0 + times | group)", st))
      f <- suppressWarnings(glmm(form, data = d, family = fam, nAGQ = 1))
      m <- suppressWarnings(glmmTMB::glmmTMB(form, data = d, family = fam))
      lab <- paste(fam, st)
      expect_loglik_at_least(loglik_value(f), loglik_value(m), 1e-4, label = lab)
      expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 2e-3, label = lab)
      vc <- glmmTMB::VarCorr(m)$cond$group
      s <- f$structures[[1L]]
      expect_equal(unname(s$sd), unname(attr(vc, "stddev")), tolerance = 5e-3, label = lab)
      expect_equal(s$rho, attr(vc, "correlation")[1L, 2L], tolerance = 5e-3, label = lab)
    }
  }
})

test_that("diag() is the model of independent terms; homdiag() glmmTMB's diag with equal variances", {
  skip_if_not_installed("glmmTMB")
  set.seed(3)
  M <- 80
  d <- data.frame(g = factor(rep(seq_len(M), each = 8)), x = stats::rnorm(8 * M))
  b0 <- stats::rnorm(M, 0, 0.7)
  b1 <- stats::rnorm(M, 0, 0.5)
  d$y <- stats::rpois(nrow(d), exp(0.2 + 0.3 * d$x + b0[d$g] + b1[d$g] * d$x))
  # diag(1 + x | g) and (1 | g) + (0 + x | g): the same model, on the same
  # quadrature (two effects: default nAGQ).
  fd <- glmm(y ~ x + diag(1 + x | g), d, family = poisson)
  fu <- glmm(y ~ x + (1 | g) + (0 + x | g), d, family = poisson)
  expect_equal(fd$nAGQ, fu$nAGQ)
  expect_equal(loglik_value(fd), loglik_value(fu), tolerance = 1e-8)
  expect_equal(unname(sqrt(diag(fd$D))), unname(sqrt(diag(fu$D))), tolerance = 1e-4)
  # Laplace against glmmTMB.
  f1 <- glmm(y ~ x + diag(1 + x | g), d, family = poisson, nAGQ = 1)
  m1 <- glmmTMB::glmmTMB(y ~ x + diag(1 + x | g), d, family = poisson)
  expect_gte(loglik_value(f1), loglik_value(m1) - 1e-4)
  expect_equal(unname(f1$structures[[1L]]$sd),
               unname(attr(glmmTMB::VarCorr(m1)$cond$g, "stddev")), tolerance = 2e-3)
  fh <- glmm(y ~ x + homdiag(1 + x | g), d, family = poisson, nAGQ = 1)
  mh <- glmmTMB::glmmTMB(y ~ x + diag(1 + x | g), d, family = poisson,
                         map = list(theta = factor(c(1, 1))))
  expect_gte(loglik_value(fh), loglik_value(mh) - 1e-4)
  expect_equal(unname(fh$structures[[1L]]$sd[1L]),
               unname(attr(glmmTMB::VarCorr(mh)$cond$g, "stddev")[1L]), tolerance = 2e-3)
  expect_equal(attr(logLik(fh), "df"), 3)
  expect_lte(loglik_value(fh), loglik_value(f1) + 1e-8)  # a restriction of diag()
  # VarCorr() reports no correlations, as for the `||` form
  for (f in list(fd, fh)) {
    expect_false(any(grepl("Corr", capture.output(print(VarCorr(f))))))
    expect_false(any(!is.na(as.data.frame(VarCorr(f))$var2)))
  }
  expect_true(any(grepl("Corr", capture.output(print(VarCorr(glmm(y ~ x + (1 + x | g), d,
                                                                   family = poisson)))))))
  # beside another term of the factor, that term's correlation only
  d$z <- stats::rnorm(nrow(d))
  d$w <- stats::rnorm(nrow(d))
  bz <- stats::rnorm(M, 0, 0.5)
  bw <- 0.7 * bz + stats::rnorm(M, 0, 0.3)
  d$y2 <- stats::rpois(nrow(d), exp(0.2 + 0.3 * d$x + b0[d$g] + b1[d$g] * d$x +
                                      bz[d$g] * d$z + bw[d$g] * d$w))
  fb <- glmm(y2 ~ x + diag(1 + x | g) + (0 + z + w | g), d, family = poisson, nAGQ = 1)
  vc <- as.data.frame(VarCorr(fb))
  expect_identical(vc$var1[!is.na(vc$var2)], "z")
  expect_identical(vc$var2[!is.na(vc$var2)], "w")
})

test_that("ar1() recovers a known correlation (Poisson, AGHQ by default for three levels)", {
  d <- sim_ar1(4, 400, n = 3, phi = 0.7, family = "poisson", sd = 0.8)
  f <- suppressWarnings(glmm(y ~ x + ar1(0 + times | group), d, family = poisson))
  expect_gt(f$nAGQ, 1L)
  s <- f$structures[[1L]]
  expect_lt(abs(s$rho - 0.7), 0.1)
  expect_lt(abs(s$sd[1L] - 0.8), 0.1)
  expect_lt(abs(fixef(f)[["x"]] - 0.2), 0.05)
  # An unstructured 3 x 3 covariance nests AR(1): at least this
  # log-likelihood, on the same quadrature.
  fu <- suppressWarnings(glmm(y ~ x + (0 + times | group), d, family = poisson, nAGQ = f$nAGQ))
  expect_gte(loglik_value(fu), loglik_value(f) - 1e-6)
})

test_that("a standard deviation driven to zero is reported only once verified", {
  set.seed(5)
  M <- 60
  d <- data.frame(g = factor(rep(seq_len(M), each = 6)), x = stats::rnorm(6 * M))
  d$y <- stats::rpois(nrow(d), exp(0.5 + 0.3 * d$x + stats::rnorm(M, 0, 0.6)[d$g]))
  f <- suppressWarnings(glmm(y ~ x + diag(1 + x | g), d, family = poisson, nAGQ = 1))
  bc <- f$optinfo$boundary_check
  if (f$singular) {
    expect_true(bc$verified)
    expect_gte(bc$restarts, 1L)
    expect_true(any(grepl("singular fit", f$optinfo$warnings)))
  }
  skip_if_not_installed("glmmTMB")
  m <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + diag(1 + x | g), d, family = poisson))
  expect_gte(loglik_value(f), loglik_value(m) - 1e-4)
})

test_that("an AR(1) correlation driven to 1 (a random intercept only) is verified, with standard errors", {
  set.seed(7)
  M <- 80
  d <- data.frame(g = factor(rep(seq_len(M), each = 4)), times = factor(rep(1:4, M)),
                  x = stats::rnorm(4 * M))
  d$y <- stats::rpois(nrow(d), exp(0.3 + 0.2 * d$x + stats::rnorm(M, 0, 0.7)[d$g]))
  f <- suppressWarnings(glmm(y ~ x + ar1(0 + times | g), d, family = poisson, nAGQ = 1))
  expect_gt(f$structures[[1L]]$rho, 0.999)
  expect_true(f$singular)
  expect_true(f$optinfo$boundary_check$verified)
  expect_true(all(is.finite(sqrt(diag(vcov(f))))))
  # The boundary model is the random intercept model.
  fi <- glmm(y ~ x + (1 | g), d, family = poisson, nAGQ = 1)
  expect_equal(loglik_value(f), loglik_value(fi), tolerance = 1e-6)
  skip_if_not_installed("glmmTMB")
  m <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + ar1(0 + times | g), d, family = poisson))
  expect_loglik_at_least(loglik_value(f), loglik_value(m), 1e-4)
})

test_that("the gaussian closed form is the one-factor engine's log-likelihood and gradient", {
  # Unequal clusters, precision weights (some zero), an offset, and Lambda
  # of every shape: full lower triangle (cs) and the one a fit meets.
  set.seed(7)
  M <- 40
  d <- data.frame(group = factor(sample(M, 260, replace = TRUE)), x = rnorm(260))
  d$times <- factor(sample(4, 260, replace = TRUE))
  d$y <- 1 + 0.5 * d$x + rnorm(M)[d$group] + rnorm(260)
  w <- runif(260, 0.5, 2)
  w[c(3, 50, 51)] <- 0
  off <- rnorm(260, 0, 0.2)
  ns <- asNamespace("glmmgee")
  fam <- ns$resolve_family(gaussian())
  for (form in list(y ~ x + cs(0 + times | group), y ~ x + ar1(times + 0 | group))) {
    re <- ns$covstruct_terms(form, model.frame(~ times + group, d), environment())
    X <- cbind(1, d$x)
    tx <- ns$design_transform(X)
    cl <- ns$cluster_index(re$group, "group")
    eng <- ns$cpp_agq_new(tx$M, re$Z, d$y, w, off, cl$index, length(cl$levels),
                          re$lam_row - 1L, re$lam_col - 1L, fam$family_code, fam$link_code, 1L, 1L)
    closed <- ns$covstruct_engine_eval(eng, tx$M, re, d$y, w, off, fam, cl)
    k <- length(re$lam_row)
    for (r in 1:3) {
      th <- c(rnorm(2, 0, 0.5), rnorm(k, 0, 0.4) + 0.8 * (re$lam_row == re$lam_col), rnorm(1, 0, 0.3))
      a <- ns$cpp_agq_eval(eng, th, TRUE)
      b <- closed(th, TRUE)
      expect_equal(b$loglik, a$loglik, tolerance = 1e-12)
      expect_equal(b$gradient, a$gradient, tolerance = 1e-9)
      expect_equal(closed(th, FALSE)$loglik, b$loglik)
    }
    ns$cpp_agq_free(eng)
  }
  # A Lambda that is not finite gives -Inf, as a structure outside its domain does.
  expect_identical(closed(replace(th, 3, NA_real_), TRUE)$loglik, -Inf)
  expect_error(closed(th[-1], TRUE), "theta must have length")
})

test_that("the search caps its first step only", {
  # A concave quadratic with its maximum at (10, -4) and the exact Hessian:
  # uncapped, one Newton step lands there; with max_first = 2 the first
  # point tried is 2 along the same direction, and the steps after it are
  # free to be long, so the maximum is still reached.
  top <- c(10, -4)
  tried <- list()
  ev <- function(th) {
    tried[[length(tried) + 1L]] <<- th
    list(loglik = -sum((th - top)^2) / 2, gradient = top - th)
  }
  H <- -diag(2)
  r <- glmmgee:::newton_search(ev, c(0, 0), H, c(FALSE, FALSE), c(-Inf, -Inf), maxit = 20,
                               tol = 1e-14, bfgs = TRUE, interpolate = FALSE, max_first = 2)
  expect_true(r$converged)
  expect_equal(r$theta, top, tolerance = 1e-8)
  expect_equal(tried[[2L]], top * 2 / 10)
  expect_gt(max(abs(tried[[3L]] - tried[[2L]])), 2)
  tried <- list()
  r0 <- glmmgee:::newton_search(ev, c(0, 0), H, c(FALSE, FALSE), c(-Inf, -Inf), maxit = 20,
                                tol = 1e-14, bfgs = TRUE, interpolate = FALSE)
  expect_equal(tried[[2L]], top)
})

test_that("the Cholesky Jacobian of every structure matches finite differences", {
  D_chol <- function(s, par) { L <- t(chol(s$D(par))); L[lower.tri(L, diag = TRUE)] }
  # Central differences of chol(D)'s entries, one column per parameter.
  fd_jacobian <- function(s, par) {
    vapply(seq_along(par), function(k) {
      h <- 1e-6
      pp <- par; pp[k] <- pp[k] + h
      pm <- par; pm[k] <- pm[k] - h
      (D_chol(s, pp) - D_chol(s, pm)) / (2 * h)
    }, numeric(length(D_chol(s, par))))
  }
  cases <- list(list("diag", 3, c(0.1, -0.3, 0.2)), list("homdiag", 3, -0.2),
                list("ar1", 4, c(0.2, 0.9)), list("ar1", 3, c(-0.1, -1.5)),
                list("cs", 3, c(0.1, -0.2, 0.3, 0.4)), list("cs", 4, c(0, 0.2, -0.3, 0.1, -0.6)),
                list("homcs", 4, c(0.3, -0.4)), list("homcs", 2, c(-0.2, 1.1)),
                list("hetar1", 3, c(0.1, -0.2, 0.3, 0.8)), list("toep", 4, c(0, 0.2, -0.3, 0.1, 0.9, -0.5, 0.3)),
                list("homtoep", 3, c(-0.1, 1.2, 0.4)), list("toep", 2, c(0.3, -0.1, -2)))
  for (cs in cases) {
    s <- glmmgee:::covstruct(cs[[1L]], cs[[2L]])
    par <- cs[[3L]]
    J <- glmmgee:::chol_jacobian(s$D(par), s$dD(par))$J
    expect_equal(J, matrix(fd_jacobian(s, par), nrow(J)), tolerance = 1e-6, label = paste(cs[[1L]], cs[[2L]]))
  }
  # Structures on coordinates, their log standard deviation taken as a
  # scale of D (its column L itself, without products).
  xy <- cbind(c(0, 1, 0.5, 2), c(0, 0.3, 1.2, 1))
  for (kind in c("exp", "gau", "mat", "ou")) {
    s <- glmmgee:::cs_coordinates(kind, 4L, if (kind == "ou") xy[, 1L, drop = FALSE] else xy)
    par <- c(-0.2, 0.1, if (kind == "mat") 0.3)
    expect_identical(s$scale_par, 1L)
    J <- glmmgee:::chol_jacobian(s$D(par), s$dD(par), s$scale_par)$J
    expect_equal(J, matrix(fd_jacobian(s, par), nrow(J)), tolerance = 1e-6, label = kind)
    expect_equal(J, glmmgee:::chol_jacobian(s$D(par), s$dD(par))$J, tolerance = 1e-12, label = kind)
  }
})

test_that("covariance structures refuse what they cannot fit, naming the problem", {
  d <- sim_ar1(6, 20, n = 3)
  d$site <- factor(rep(1:4, length.out = nrow(d)))
  expect_error(glmm(y ~ ar1(0 + x | group), d), "at least two columns")
  expect_error(glmm(y ~ ar1(0 + times | group), d, ranef_dist = "bridge"), "ranef_dist")
  expect_error(glmm(y ~ ar1(0 + times | group), d, start = list(beta = 0)), "start")
})

test_that("the engine's gradient along directions is the Jacobian times its entry-wise gradient", {
  # Poisson and gaussian (a dispersion parameter), Laplace and quadrature,
  # unequal clusters with zero weights and an offset; random directions
  # and the structure's own Jacobian; then the scalar fast path (q = 1),
  # which contracts after its sums.
  set.seed(11)
  M <- 30
  n <- 200
  d <- data.frame(group = factor(sample(M, n, replace = TRUE)), x = rnorm(n),
                  times = factor(sample(3, n, replace = TRUE)))
  w <- runif(n, 0.5, 2)
  w[c(4, 90)] <- 0
  off <- rnorm(n, 0, 0.2)
  ns <- asNamespace("glmmgee")
  re <- ns$covstruct_terms(y ~ x + cs(0 + times | group), model.frame(~ times + group, d),
                           environment())
  cl <- ns$cluster_index(re$group, "group")
  X <- cbind(1, d$x)
  k <- length(re$lam_row)
  J_ar1 <- ns$structure_lambda(list(list(kind = "ar1", q = 3L, struct = ns$covstruct("ar1", 3L))),
                               list(3:4), c(0, 0, 0.3, 0.6))$J
  ys <- list(poisson = rpois(n, exp(0.2 + 0.3 * d$x + rnorm(M, 0, 0.5)[d$group])),
             gaussian = 1 + d$x + rnorm(M)[d$group] + rnorm(n))
  for (fname in names(ys)) for (K in c(1L, 2L)) {
    fam <- ns$resolve_family(get(fname)())
    eng <- ns$cpp_agq_new(X, re$Z, as.numeric(ys[[fname]]), w, off, cl$index, M,
                          re$lam_row - 1L, re$lam_col - 1L, fam$family_code, fam$link_code, K, 1L)
    disp <- fname == "gaussian"
    for (J in list(matrix(rnorm(k * 2), k), J_ar1, diag(k))) {
      th <- c(0.1, 0.2, rnorm(k, 0, 0.2) + 0.7 * (re$lam_row == re$lam_col), if (disp) 0.1)
      full <- ns$cpp_agq_eval(eng, th, TRUE)
      dir <- ns$cpp_agq_eval_dir(eng, th, TRUE, J)
      expect_equal(dir$loglik, full$loglik, tolerance = 1e-12)
      gl <- full$gradient[2 + seq_len(k)]
      expect_equal(dir$gradient, c(full$gradient[1:2], drop(crossprod(J, gl)),
                                   if (disp) full$gradient[[length(full$gradient)]]),
                   tolerance = 1e-9)
      expect_identical(ns$cpp_agq_eval_dir(eng, th, FALSE, J)$loglik, ns$cpp_agq_eval(eng, th, FALSE)$loglik)
      # each cluster's score along the directions, from the same pass:
      # the entry-wise scores contracted, summing to the same gradient
      sd <- ns$cpp_agq_eval_dir_scores(eng, th, J)
      S <- ns$cpp_agq_eval_scores(eng, th)$scores
      expect_identical(sd$gradient, dir$gradient)
      expect_equal(sd$scores, cbind(S[, 1:2], S[, 2 + seq_len(k)] %*% J,
                                    if (disp) S[, ncol(S)]), tolerance = 1e-9)
    }
    expect_error(ns$cpp_agq_eval_dir(eng, th, TRUE, J[-1, , drop = FALSE]), "dirs must have")
    expect_error(ns$cpp_agq_eval_dir_scores(eng, th, J[-1, , drop = FALSE]), "dirs must have")
    expect_error(ns$cpp_agq_eval_dir_scores(eng, th[-1], J), "theta must have length")
    ns$cpp_agq_free(eng)
  }
  fam <- ns$resolve_family(poisson())
  eng <- ns$cpp_agq_new(X, matrix(1, n), as.numeric(ys$poisson), w, off, as.integer(d$group), M,
                        0L, 0L, fam$family_code, fam$link_code, 1L, 1L)
  J <- matrix(c(0.7, -1.3), 1)
  full <- ns$cpp_agq_eval(eng, c(0.1, 0.2, 0.6), TRUE)
  dir <- ns$cpp_agq_eval_dir(eng, c(0.1, 0.2, 0.6), TRUE, J)
  expect_equal(dir$gradient, c(full$gradient[1:2], full$gradient[[3]] * J[1, ]), tolerance = 1e-12)
  sd <- ns$cpp_agq_eval_dir_scores(eng, c(0.1, 0.2, 0.6), J)
  S <- ns$cpp_agq_eval_scores(eng, c(0.1, 0.2, 0.6))$scores
  expect_identical(dim(sd$scores), c(as.integer(M), 4L))
  expect_equal(sd$scores, cbind(S[, 1:2], S[, 3] %o% J[1, ]), tolerance = 1e-12)
  expect_equal(colSums(sd$scores), sd$gradient, tolerance = 1e-12)
  expect_error(ns$cpp_agq_eval_dir_scores(eng, c(0.1, 0.2, 0.6), J * NaN), "finite")
  ns$cpp_agq_free(eng)
})

test_that("ar1() refuses times whose order would be alphabetical, naming the column", {
  d <- sim_ar1(3, 40, n = 4)
  d$tchr <- c("1", "2", "10", "20")[as.integer(d$times)]
  # A character column: its values would be taken as 1, 10, 2, 20.
  expect_error(glmm(y ~ ar1(0 + tchr | group), data = d), "'tchr' is a character column.*1, 10, 2, 20")
  # factor() of it has the same alphabetical levels: refused as well.
  expect_error(glmm(y ~ ar1(0 + factor(tchr) | group), data = d),
               "levels of 'factor\\(tchr\\)' are numbers out of numeric order \\(1, 10, 2, 20\\)")
  # The same times in their order: the fit of the factor with levels 1, 2, 3, 4.
  d$tnum <- factor(as.numeric(d$tchr))
  f1 <- suppressWarnings(glmm(y ~ ar1(0 + tnum | group), data = d))
  f2 <- suppressWarnings(glmm(y ~ ar1(0 + times | group), data = d))
  expect_equal(loglik_value(f1), loglik_value(f2), tolerance = 1e-8)
  # A numeric time gives one column: the message says to write factor().
  d$tn <- as.numeric(d$tchr)
  expect_error(glmm(y ~ ar1(0 + tn | group), data = d), "write factor\\(time\\)")
  # On the sparse engine (beside another grouping factor) the same check.
  d$site <- factor(rep(1:5, length.out = nrow(d)))
  expect_error(glmm(y ~ ar1(0 + tchr | group) + (1 | site), data = d), "'tchr' is a character column")
  # Structures that do not read the columns' order take a character column:
  # cs() and diag() give the same fit as on the factor in time order.
  # (one observation per group and time: their residual split is arbitrary,
  # which they say)
  q_fit <- function(f) suppressWarnings(glmm(f, data = d))
  expect_equal(loglik_value(q_fit(y ~ cs(0 + tchr | group))), loglik_value(q_fit(y ~ cs(0 + tnum | group))),
               tolerance = 1e-6)
  expect_equal(loglik_value(q_fit(y ~ diag(0 + tchr | group))), loglik_value(q_fit(y ~ diag(0 + tnum | group))),
               tolerance = 1e-6)
  # A logical time has two columns (FALSE, TRUE) and is accepted.
  d$tl <- d$tnum %in% c("10", "20")
  expect_s3_class(glmm(y ~ ar1(0 + tl | group), data = d), "glmmgee_glmm_covstruct")
})

test_that("lme4's hom = TRUE / FALSE is read; other arguments of a structure are refused by name", {
  d <- sim_ar1(4, 60, n = 3)
  # two observations per group and time: the residual variance identified
  d <- rbind(d, transform(d, y = y + rnorm(nrow(d))))
  # diag(hom = TRUE) is homdiag(); the defaults of lme4 (cs: hom = FALSE,
  # ar1: hom = TRUE) are our cs() and ar1().
  expect_equal(loglik_value(glmm(y ~ diag(0 + times | group, hom = TRUE), data = d)),
               loglik_value(glmm(y ~ homdiag(0 + times | group), data = d)), tolerance = 1e-10)
  expect_equal(loglik_value(glmm(y ~ diag(0 + times | group, hom = FALSE), data = d)),
               loglik_value(glmm(y ~ diag(0 + times | group), data = d)), tolerance = 1e-10)
  expect_equal(loglik_value(glmm(y ~ cs(0 + times | group, hom = FALSE), data = d)),
               loglik_value(glmm(y ~ cs(0 + times | group), data = d)), tolerance = 1e-10)
  fa <- suppressWarnings(glmm(y ~ ar1(0 + times | group, hom = TRUE), data = d))
  expect_equal(loglik_value(fa), loglik_value(suppressWarnings(glmm(y ~ ar1(0 + times | group), data = d))),
               tolerance = 1e-10)
  expect_equal(deparse(fa$formula), "y ~ ar1(0 + times | group)")
  # cs(hom = TRUE) is homogeneous compound symmetry, homcs(): with a
  # positive correlation the model of (1 | group) + (1 | group:times)
  # (lme4's nested fit; glmmTMB's test-varstruc.R compares the same pair).
  d$y <- d$y + rep(rnorm(60, sd = 0.8), each = 3)
  fh <- glmm(y ~ cs(0 + times | group, hom = TRUE), data = d)
  expect_equal(loglik_value(fh), loglik_value(glmm(y ~ homcs(0 + times | group), data = d)), tolerance = 1e-10)
  fn <- glmm(y ~ (1 | group) + (1 | group:times), data = d)
  expect_gt(fh$structures[[1]]$rho, 0)
  expect_equal(loglik_value(fh), loglik_value(fn), tolerance = 1e-6)
  expect_equal(unname(fh$structures[[1]]$sd[1]^2),
               sum(as.data.frame(VarCorr(fn))$vcov[1:2]), tolerance = 1e-4)
  if (requireNamespace("lme4", quietly = TRUE))
    expect_equal(loglik_value(fh), as.numeric(logLik(lme4::lmer(y ~ (1 | group) + (1 | group:times), data = d,
                                                      REML = FALSE))), tolerance = 1e-6)
  # What has no structure here is refused, naming the argument.
  # ar1(hom = FALSE) is the heterogeneous AR(1), hetar1().
  expect_equal(loglik_value(suppressWarnings(glmm(y ~ ar1(0 + times | group, hom = FALSE), data = d))),
               loglik_value(suppressWarnings(glmm(y ~ hetar1(0 + times | group), data = d))), tolerance = 1e-10)
  expect_error(glmm(y ~ diag(0 + times | group, het = TRUE), data = d), "diag\\(\\) takes no argument 'het'")
  expect_error(glmm(y ~ cs(0 + times | group, TRUE), data = d), "no argument 'TRUE' \\(unnamed\\)")
  expect_error(glmm(y ~ us(0 + times | group, hom = TRUE), data = d), "us\\(\\) takes no argument 'hom'")
  expect_error(glmm(y ~ homdiag(0 + times | group, hom = TRUE), data = d), "homdiag\\(\\) takes no argument 'hom'")
  expect_error(glmm(y ~ diag(0 + times | group, hom = NA), data = d), "'hom' must be TRUE or FALSE")
  # Structures that take an argument say which.
  expect_error(glmm(y ~ rr(0 + times | group, hom = TRUE), data = d), "rr\\(\\) takes the term and its rank d")
  expect_error(glmm(y ~ propto(0 + times | group), data = d), "propto\\(\\) takes the term and one matrix")
  # With several grouping factors (the sparse engine) the same.
  d$site <- factor(rep(1:6, length.out = nrow(d)))
  expect_error(glmm(y ~ ar1(0 + times | group, het = FALSE) + (1 | site), data = d), "takes no argument 'het'")
  expect_equal(loglik_value(suppressWarnings(glmm(y ~ diag(0 + times | group, hom = TRUE) + (1 | site), data = d))),
               loglik_value(suppressWarnings(glmm(y ~ homdiag(0 + times | group) + (1 | site), data = d))),
               tolerance = 1e-10)
})

test_that("one random effect per observation (glmmTMB's ar1(row + 0 | Subject)) fits in memory of the model's size", {
  skip_on_cran()
  skip_if_not_installed("lme4")
  # In a child: its peak resident memory (VmHWM) is the fit's alone.
  res <- run_child(c(
    "data(sleepstudy, package = 'lme4')",
    "fss <- transform(sleepstudy, row = factor(seq_len(nrow(sleepstudy))))",
    "fit <- glmm(Reaction ~ 1 + (1 | Subject) + ar1(row + 0 | Subject), data = fss)",
    "child_say('ll', format(as.numeric(logLik(fit)), digits = 15))",
    "child_say('beta', format(unname(fixef(fit)), digits = 15))",
    "child_say('q', ncol(fit$D))",
    "child_say('ranef', paste(dim(ranef(fit)$Subject), collapse = 'x'))",
    "hwm <- grep('^VmHWM', readLines('/proc/self/status'), value = TRUE)",
    "child_say('hwm_kb', gsub('[^0-9]', '', hwm))"), timeout = 300)
  expect_child_ok(res, c("ll", "beta", "q", "ranef", "hwm_kb"))
  q <- as.numeric(res$reports[["q"]])
  expect_equal(q, 181)
  expect_equal(res$reports[["ranef"]], "18x181")
  # The model's own arrays: 18 clusters' q x q moments and q x q matrices,
  # a few MB; the bound leaves R's own ~150 MB and ample room, far below
  # the q^2 x q^2 (8.6 GB) matrix the constructor once built.
  bound_kb <- (300e6 + 200 * 8 * q^2 * 18) / 1024
  if (file.exists("/proc/self/status"))
    expect_lt(as.numeric(res$reports[["hwm_kb"]]), bound_kb)
  skip_if_not_installed("glmmTMB")
  data(sleepstudy, package = "lme4", envir = environment())
  fss <- transform(sleepstudy, row = factor(seq_len(nrow(sleepstudy))))
  m <- suppressWarnings(glmmTMB::glmmTMB(Reaction ~ 1 + (1 | Subject) + ar1(row + 0 | Subject),
                                         data = fss))
  # glmmTMB's optimum is not above ours; the intercept is the same.
  expect_gte(as.numeric(res$reports[["ll"]]), as.numeric(logLik(m)) - 1e-4)
  expect_equal(as.numeric(res$reports[["beta"]]), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-3)
})

test_that("the one-factor engine's gradient is exact with many random effects per cluster (q >= 16)", {
  # From 16 columns on, Lambda's entries' terms come from one q x q product
  # per cluster instead of a loop over entries (ar1() over 200 times: 9 s
  # an evaluation, then a fraction of a second).
  set.seed(2)
  M <- 8; q <- 18
  d <- data.frame(g = rep(1:M, each = q * 2), t = rep(rep(1:q, 2), M))
  Z <- model.matrix(~ 0 + factor(t), d)
  X <- cbind(1, rnorm(nrow(d)))
  y <- rpois(nrow(d), exp(0.2 + rnorm(nrow(d), sd = 0.3)))
  fam <- glmmgee:::resolve_family(poisson(), globalenv())
  pat <- glmmgee:::block_pattern(q)
  eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(y), rep(1, nrow(d)), rep(0, nrow(d)), d$g, M,
                               pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code, 1L, 1L)
  on.exit(glmmgee:::cpp_agq_free(eng))
  nl <- length(pat$row)
  L <- t(chol(0.3 * 0.7^abs(outer(1:q, 1:q, "-"))))
  th <- c(0.1, 0.2, L[cbind(pat$row, pat$col)])
  r <- glmmgee:::cpp_agq_eval(eng, th, TRUE)
  idx <- c(1, 2, 3, 5, 20, 50, nl)
  num <- vapply(idx, function(k) {
    h <- 1e-6
    e <- replace(numeric(length(th)), k, h)
    (glmmgee:::cpp_agq_eval(eng, th + e, FALSE)$loglik -
       glmmgee:::cpp_agq_eval(eng, th - e, FALSE)$loglik) / (2 * h)
  }, 1)
  expect_equal(r$gradient[idx], num, tolerance = 1e-6)
  J <- matrix(rnorm(nl * 2), nl, 2)
  rd <- glmmgee:::cpp_agq_eval_dir(eng, th, TRUE, J)
  expect_equal(rd$gradient[3:4], drop(crossprod(J, r$gradient[2 + seq_len(nl)])), tolerance = 1e-10)
})

# glmmTMB's own expectations for its variance structures (its
# tests/testthat/test-varstruc.R, on the models of its
# inst/test_data/make_ex.R): the numbers it asserts, reproduced.
test_that("glmmTMB's variance-structure expectations on sleepstudy hold here", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  fs <- transform(sleepstudy, fDays = cut(Days, c(0, 3, 6, 10), right = FALSE),
                  row = factor(seq_len(nrow(sleepstudy))))
  # "diag": diag() is the two separate terms, as lmer fits them
  fm_diag1 <- glmm(Reaction ~ Days + diag(Days | Subject), fs)
  fm_diag2 <- glmm(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), fs)
  expect_equal(loglik_value(fm_diag1), loglik_value(fm_diag2), tolerance = 1e-7)
  if (requireNamespace("lme4", quietly = TRUE)) {
    lm_diag <- lme4::lmer(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), fs, REML = FALSE)
    expect_equal(loglik_value(fm_diag1), loglik_value(lm_diag), tolerance = 1e-7)
  }
  # "cs_us": on two columns cs() is the unstructured term; its
  # correlation prints as 0.081
  fm_us1 <- glmm(Reaction ~ Days + (Days | Subject), fs)
  fm_cs1 <- glmm(Reaction ~ Days + cs(Days | Subject), fs)
  expect_equal(loglik_value(fm_cs1), loglik_value(fm_us1), tolerance = 1e-7)
  expect_equal(loglik_value(fm_us1),
               loglik_value(lme4::lmer(Reaction ~ Days + (Days | Subject), fs, REML = FALSE)),
               tolerance = 1e-7)
  expect_equal(round(fm_cs1$structures[[1]]$rho, 3), 0.081)
  # "hom vs het diag": one common variance, 69.4182616453357 (2e-4)
  fmhomdiag <- glmm(Reaction ~ Days + homdiag(Days | Subject), sleepstudy)
  expect_equal(unname(fmhomdiag$structures[[1]]$sd^2), rep(69.4182616453357, 2), tolerance = 2e-4)
  # "basic ar1" and "varcorr_print": an AR(1) over the 180 rows beside a
  # random intercept (whose variance is practically zero, 0.6^2 beside
  # 60.8^2 in glmmTMB's fit: ours is singular), its correlation printed as
  # 0.873 and the correlation matrix's first row rho^(0:179)
  fm_ar1 <- suppressWarnings(glmm(Reaction ~ 1 + (1 | Subject) + ar1(row + 0 | Subject), fs))
  rho <- fm_ar1$structures[[2]]$rho
  expect_equal(round(rho, 3), 0.873)
  cc <- stats::cov2cor(VarCorr(fm_ar1)$Subject[-1, -1])
  expect_equal(unname(cc[1, ]), rho^(0:(nrow(cc) - 1)), tolerance = 1e-10)
})

test_that("a correlation estimated at its limit has that limit as its profile bound", {
  # a random intercept seen through ar1(): rho goes to 1
  set.seed(1)
  d <- data.frame(g = factor(rep(1:40, each = 4)), t = factor(rep(1:4, 40)))
  d$y <- rnorm(160) + rnorm(40)[d$g]
  f <- suppressWarnings(glmm(y ~ ar1(0 + t | g), d))
  expect_gt(f$structures[[1]]$rho, 1 - 1e-6)
  ci <- confint(f, parm = "ar1(0 + t | g): rho", method = "profile")
  expect_identical(ci[1, 2], 1)
  expect_true(ci[1, 1] > 0.5 && ci[1, 1] < 1)
})

test_that("a profile whose held fits leave a standard deviation's zero reaches its true limit", {
  # nbinom2 counts over 4 occasions of 40 groups: the AR(1) term's sd is
  # estimated at zero (1e-5, rho 0.999), but with x held at its lower
  # limit the best fit has sd 0.28 and rho 0.81. Warm-started at sd 1e-5,
  # where the log-likelihood is flat in log(sd), each held fit stayed
  # there and the lower limit came out 0.2094, where a refit is 3.76 below
  # the maximum. The refit with x held at each limit (offset) must be
  # qchisq(0.95, 1) below.
  d <- two_part_structure_data(seed = 7)
  f <- suppressWarnings(glmm(y ~ x + ar1(0 + tf | g), family = nbinom2, data = d, nAGQ = 1))
  expect_lt(f$structures[[1L]]$sd[[1L]], 1e-3)
  ci <- confint(f, parm = "x", method = "profile")
  for (j in 1:2) {
    d$xo <- ci[1L, j] * d$x
    g <- suppressWarnings(glmm(y ~ 1 + offset(xo) + ar1(0 + tf | g), family = nbinom2, data = d,
                               nAGQ = 1))
    expect_equal(2 * (as.numeric(logLik(f)) - as.numeric(logLik(g))), stats::qchisq(0.95, 1),
                 tolerance = 1e-3, label = sprintf("the refit at the %s limit", c("lower", "upper")[j]))
  }
})

test_that("a correlation parameter far out maps to its limit, not to 0", {
  # t / sqrt(1 + t^2) with t^2 overflowing gave rho = 0 at t = 1e300
  expect_identical(glmmgee:::bounded_correlation(c(1e300, -1e300, -Inf)), c(1, -1, -1))
  t <- c(-3, 0.2, 7)
  expect_identical(glmmgee:::bounded_correlation(t), t / sqrt(1 + t^2))
  expect_equal(glmmgee:::cs_ar1(3)$D(c(0, 1e300)), matrix(1, 3, 3))
  expect_equal(glmmgee:::cs_hetar1(2)$D(c(0, 0, -1e300)), matrix(c(1, -1, -1, 1), 2))
  expect_equal(glmmgee:::toeplitz_pacf(c(1e300, 0))$phi, c(1, 0))
})

test_that("a correlation at one limit is verified from the other side too", {
  # Binary cs() over 6 occasions: the search and both restarts from rho = 0
  # went to the lower limit rho = -0.2 and called it verified, 0.45 below
  # the optimum at rho = 1 that glmmTMB finds.
  set.seed(7301); M <- 60; T <- 6; n <- M * T
  d <- data.frame(g = factor(rep(1:M, each = T)), time = factor(rep(1:T, M)))
  d$site <- factor(sample(1:10, n, replace = TRUE)); d$x <- rnorm(n)
  u0 <- rnorm(M, sd = 0.6); u1 <- rnorm(M, sd = 0.3)
  e <- as.vector(t(chol(0.25 * 0.6^abs(outer(1:T, 1:T, "-")))) %*% matrix(rnorm(T * M), T))
  lp <- u0[d$g] + u1[d$g] * d$x + e + rnorm(10, sd = 0.4)[d$site]
  zg <- rnorm(M, sd = 0.7); pz <- plogis(-1 + 0.5 * d$x + zg[d$g]); mu <- exp(0.8 + 0.4 * d$x + lp)
  d$y_cnt <- ifelse(runif(n) < pz, 0L, rnbinom(n, mu = mu, size = 2))
  d$y_gau <- 1 + 0.5 * d$x + lp + rnorm(n, sd = exp(-0.3 + 0.3 * d$x))
  sh <- exp(1 + 0.3 * d$x); d$y_pos <- rgamma(n, shape = sh, rate = sh / exp(0.5 + 0.3 * d$x + lp))
  d$y <- rbinom(n, 1, plogis(-0.3 + 0.7 * d$x + lp))
  f <- suppressWarnings(glmm(y ~ x + cs(0 + time | g), d, family = binomial, nAGQ = 1))
  expect_gt(f$structures[[1]]$rho, 0.99)
  expect_gt(as.numeric(logLik(f)), -239.4114)  # glmmTMB 1.1.15: -239.41133
  bc <- f$optinfo$boundary_check
  expect_gte(bc$restarts, 3L)
  expect_true(any(bc$loglik_restarts > -239.42, na.rm = TRUE))
  skip_if_not_installed("glmmTMB")
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + cs(0 + time | g), d, family = binomial))
  expect_gte(as.numeric(logLik(f)), -tmb$fit$objective - 1e-6)
})

test_that("covstruct_restart_point() flips only a correlation at a limit", {
  terms <- list(list(struct = glmmgee:::cs_cs(4)))
  k_re <- list(1:5)
  par <- c(log(c(1, 0.5, 2, 1)), -30)  # rho at its lower limit -1/3
  st <- terms[[1]]$struct$start(1)[5]
  expect_equal(glmmgee:::covstruct_restart_point(par, terms, k_re, 5L, 1)[5], st)
  flipped <- glmmgee:::covstruct_restart_point(par, terms, k_re, 5L, 1, flip = TRUE)
  expect_equal(flipped[5], st + 2)
  expect_gt(terms[[1]]$struct$rho(flipped), 0.5)
  # a standard deviation at zero: the correlation is reset, not flipped
  par2 <- c(log(c(1e-9, 0.5, 2, 1)), -30)
  expect_identical(glmmgee:::covstruct_restart_point(par2, terms, k_re, 1L, 1, flip = TRUE),
                   glmmgee:::covstruct_restart_point(par2, terms, k_re, 1L, 1))
})
