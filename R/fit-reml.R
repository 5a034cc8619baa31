# REML for gaussian identity-link GLMMs (glmm(..., REML = TRUE)), for the
# one-factor and the sparse engine alike.
#
# The restricted likelihood integrates the marginal likelihood over beta
# under a flat prior (Harville 1977): for a linear mixed model it is the ML
# log-likelihood at the GLS beta plus p/2 log(2 pi) - 1/2 log det(X'V^-1 X).
# With sigma profiled out it is the criterion lmer minimizes (Bates, Maechler,
# Bolker & Walker 2015, J. Stat. Softw. 67(1), section 3.4), written here on
# the user's X so that the reported value is lmer's; rescaling X changes it by
# a constant log|det|, so its optimum does not depend on the coding. The
# engine first fits by ML (its optimum is the start); the restricted
# criterion is then maximized over the relative covariance factor, and the
# fitted object is rewritten with the REML estimates.

# REML = TRUE is refused outside linear mixed models, saying why.
check_reml_family <- function(family) {
  if (!identical(family$family, "gaussian") || !identical(family$link, "identity"))
    stop(sprintf(paste0("'REML = TRUE' needs family = gaussian(link = \"identity\"), not %s(%s): ",
                        "REML is defined for linear mixed models; glmm() does not offer the ",
                        "Laplace approximation over the fixed effects that glmmTMB calls REML ",
                        "for other families"), family$family, family$link), call. = FALSE)
}

# The pieces of the criterion that do not change with the covariance
# parameters: lme4's random-effects structure (Zt, the template of
# Lambda', which entries of theta fill it) and the weighted data.
reml_setup <- function(formula, mf, X, y, weights, offset) {
  bars <- reformulas::findbars(formula)
  rt <- reformulas::mkReTrms(bars, mf)
  sw <- sqrt(weights)
  keep <- weights > 0
  Zt <- rt$Zt[, keep, drop = FALSE] %*% Matrix::Diagonal(x = sw[keep])
  Xw <- X[keep, , drop = FALSE] * sw[keep]
  yw <- (y - offset)[keep] * sw[keep]
  # The pattern of Lambda'Z' does not change with theta: one symbolic
  # factorization, refactored numerically at each evaluation.
  Lt <- rt$Lambdat
  Lt@x <- rep(1, length(Lt@x))
  ch0 <- Matrix::Cholesky(Matrix::tcrossprod(Lt %*% Zt), LDL = FALSE, perm = TRUE, Imult = 1)
  list(rt = rt, Zt = Zt, X = Xw, y = yw, n = sum(keep), p = ncol(X), ch0 = ch0,
       logw = sum(log(weights[keep])), lower = rt$lower,
       ZtX = as.matrix(Zt %*% Xw), Zty = as.vector(Zt %*% yw),
       XtX = crossprod(Xw), Xty = drop(crossprod(Xw, yw)), yty = sum(yw^2))
}

# Penalized least squares at relative covariance factor `th` (lme4's theta):
# beta, the spherical modes u, the penalized residual sum of squares and the
# log-determinants the criteria need.
reml_pls <- function(s, th) {
  Lt <- s$rt$Lambdat
  Lt@x <- th[s$rt$Lind]
  LZ <- Lt %*% s$Zt
  ch <- Matrix::update(s$ch0, LZ, mult = 1)
  LZX <- as.matrix(Lt %*% s$ZtX)
  LZy <- as.vector(Lt %*% s$Zty)
  SX <- as.matrix(Matrix::solve(ch, LZX, system = "A"))
  Sy <- as.vector(Matrix::solve(ch, LZy, system = "A"))
  RXtRX <- s$XtX - crossprod(LZX, SX)
  RXtRX <- (RXtRX + t(RXtRX)) / 2
  cx <- tryCatch(chol(RXtRX), error = function(e) NULL)
  if (is.null(cx)) return(NULL)
  beta <- backsolve(cx, forwardsolve(t(cx), s$Xty - crossprod(LZX, Sy)))
  u <- Sy - SX %*% beta
  r <- s$y - drop(s$X %*% beta) - as.vector(Matrix::crossprod(LZ, u))
  list(beta = drop(beta), u = drop(u), pwrss = sum(r^2) + sum(u^2), RXtRX = RXtRX,
       ldL2 = 2 * as.numeric(Matrix::determinant(ch, sqrt = TRUE)$modulus),
       ldRX2 = 2 * sum(log(diag(cx))), ch = ch, Lt = Lt)
}

# lmer's REML criterion (-2 x the restricted log-likelihood, sigma profiled).
reml_deviance <- function(s, pls) {
  if (is.null(pls)) return(Inf)
  nmp <- s$n - s$p
  pls$ldL2 + pls$ldRX2 + nmp * (1 + log(2 * pi * pls$pwrss / nmp)) - s$logw
}

# -2 x the ML log-likelihood at the same covariance factor and beta for a
# given sigma^2; logLik(fit, REML = FALSE) passes pwrss / n, as lme4 does.
ml_deviance_at <- function(s, pls, sigma2) {
  s$n * log(2 * pi * sigma2) + pls$ldL2 + pls$pwrss / sigma2 - s$logw
}

# Maximizes the restricted likelihood over lme4's theta from `start` (the
# ML optimum, relative to sigma). When that start is on the boundary or the
# search does not converge, lme4's default start is tried as well and the
# better optimum kept, so a singular ML start cannot trap the search.
reml_optimize <- function(s, start) {
  f <- function(th) reml_deviance(s, reml_pls(s, th))
  run <- function(st) {
    r <- stats::nlminb(st, f, lower = s$lower,
                       control = list(eval.max = 2000L, iter.max = 1000L, rel.tol = 1e-12))
    r$start <- st
    r
  }
  st <- pmax(start, s$lower)
  runs <- list(run(st))
  if (any(is.finite(s$lower) & st <= s$lower + 1e-8) || runs[[1L]]$convergence != 0L)
    runs <- c(runs, list(run(s$rt$theta)))
  best <- runs[[which.min(vapply(runs, `[[`, 1, "objective"))]]
  # Entries that came to rest at their bound are set there exactly: lmer's
  # singular fits report a variance of exactly zero.
  th <- best$par
  at_bound <- is.finite(s$lower) & th < 1e-7
  if (any(at_bound)) {
    th0 <- th; th0[at_bound] <- s$lower[at_bound]
    if (f(th0) <= best$objective + 1e-10) th <- th0
  }
  list(theta = th, deviance = f(th), runs = runs)
}
