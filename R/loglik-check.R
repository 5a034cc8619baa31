#' How far is the fit's log-likelihood from the exact one?
#'
#' Computes the marginal log-likelihood of a [glmm()] fit at its estimates
#' by a method whose error is known, and sets it beside the value the fit
#' maximized (the Laplace approximation, or adaptive quadrature with the
#' fit's number of nodes).
#'
#' * Several random-effect terms fitted by Laplace (crossed, nested,
#'   slopes): importance sampling of the random effects, with the Laplace
#'   approximation's Gaussian (the conditional modes and the inverse of
#'   their Hessian) as proposal, widened to a multivariate t with `df`
#'   degrees of freedom so that its tails are heavier than the integrand's.
#'   With \eqn{u} the spherical random effects (\eqn{b = \Lambda u},
#'   \eqn{u \sim N(0, I)}) and \eqn{r_k = p(y | u_k) \phi(u_k) / q(u_k)},
#'   \eqn{u_k \sim q}, the estimate is \eqn{\log \bar r} and its Monte
#'   Carlo standard error \eqn{sd(r) / (\bar r \sqrt{N})}. The effective
#'   sample size \eqn{(\sum r)^2 / \sum r^2} says whether the proposal
#'   covers the integrand; below 50 the estimate is flagged.
#' * One grouping factor: adaptive Gauss-Hermite quadrature with `nodes`
#'   points per random effect (exact to many digits for smooth integrands),
#'   beside the fit's own.
#' * Gaussian models with the identity link: the fit's log-likelihood is
#'   exact; the check says so.
#'
#' The difference is the approximation's error in log-likelihood units at
#' these estimates. As a guide, a difference below 0.1 does not move
#' likelihood-ratio tests or information criteria noticeably; larger ones
#' mean the variance components may be biased (for binary crossed designs,
#' Laplace shrinks them towards zero).
#'
#' @param fit A [glmm()] fit.
#' @param draws Number of importance draws (several-term fits).
#' @param df Degrees of freedom of the t proposal (`Inf` for the Gaussian
#'   proposal itself).
#' @param nodes Quadrature points per random effect for one-factor fits.
#' @param seed Seed for the draws, or `NULL` to use the session's stream;
#'   the session's seed is left as it was either way when `seed` is given.
#' @return An object of class `glmmgee_loglik_check`: a list with
#'   `method`, `fit_loglik`, `loglik` (the accurate value), `se` (its Monte
#'   Carlo standard error; 0 for quadrature and exact values),
#'   `difference` (`loglik - fit_loglik`), `ess` and `draws` (importance
#'   sampling) and `approximation` (the fit's).
#' @examples
#' data(cbpp, package = "lme4")
#' cbpp$obs <- factor(seq_len(nrow(cbpp)))
#' fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
#'             data = cbpp, family = binomial)
#' loglik_check(fit, draws = 2000, seed = 1)
#' @export
loglik_check <- function(fit, draws = 2000L, df = 20, nodes = 25L, seed = NULL) {
  if (!inherits(fit, "glmmgee_glmm"))
    stop("'fit' must be a glmm() fit", call. = FALSE)
  if (!is.numeric(draws) || length(draws) != 1L || is.na(draws) || draws < 100 || draws != round(draws))
    stop("'draws' must be a whole number of at least 100", call. = FALSE)
  if (!is.numeric(df) || length(df) != 1L || is.na(df) || df <= 0)
    stop("'df' must be a positive number (Inf for a Gaussian proposal)", call. = FALSE)
  if (!is.numeric(nodes) || length(nodes) != 1L || is.na(nodes) || nodes < 2 || nodes > 100 ||
      nodes != round(nodes))
    stop("'nodes' must be a whole number between 2 and 100", call. = FALSE)
  if (!is.null(seed) && (!is.numeric(seed) || length(seed) != 1L || is.na(seed)))
    stop("'seed' must be one number or NULL", call. = FALSE)
  why <- loglik_check_refusal(fit)
  if (!is.null(why))
    stop(sprintf("loglik_check() is not available for %s", why), call. = FALSE)
  fam <- fit$family
  eng <- fit_engine(fit)$name
  approx <- approximation_label(fit)
  out <- list(fit_loglik = as.numeric(fit$loglik), approximation = approx, se = 0,
              ess = NA_real_, draws = NA_integer_)
  if (identical(fam$family, "gaussian") && identical(fam$link, "identity")) {
    out$method <- "exact (gaussian, identity link: the marginal likelihood is in closed form)"
    out$loglik <- out$fit_loglik
  } else if (eng == "agq") {
    out$method <- sprintf("adaptive Gauss-Hermite quadrature, %d points per random effect", nodes)
    out$loglik <- loglik_by_quadrature(fit, as.integer(nodes))
  } else {
    if (!is.null(seed)) {
      old <- if (exists(".Random.seed", globalenv(), inherits = FALSE))
        get(".Random.seed", globalenv(), inherits = FALSE)
      on.exit(if (is.null(old)) rm(".Random.seed", envir = globalenv())
              else assign(".Random.seed", old, envir = globalenv()), add = TRUE)
      set.seed(seed)
    }
    is <- loglik_by_importance(fit, as.integer(draws), df)
    out$method <- sprintf("importance sampling, %d draws from the Laplace Gaussian%s", draws,
                          if (is.finite(df)) sprintf(" widened to t with %g df", df) else "")
    out[c("loglik", "se", "ess")] <- is[c("loglik", "se", "ess")]
    out$draws <- as.integer(draws)
  }
  out$difference <- out$loglik - out$fit_loglik
  structure(out, class = "glmmgee_loglik_check")
}

# Why a fit cannot be checked, or NULL.
loglik_check_refusal <- function(fit) {
  eng <- fit_engine(fit)$name
  fam <- fit$family
  if (identical(fam$family, "gaussian") && identical(fam$link, "identity") &&
      is.null(.subset2(fit, "aux")))
    return(NULL)
  if (!is.null(.subset2(fit, "aux")))
    return("zero-inflated, hurdle or dispersion-formula fits")
  if (!is.null(.subset2(fit, "penalty"))) return("penalized fits")
  if (inherits(fit, "glmmgee_glmm_sharded")) return("distributed fits (glmm_shards())")
  if (!eng %in% c("agq", "laplace_sparse"))
    return(sprintf("fits of the %s engine (it checks the one-factor engine and the Laplace engine of several terms)",
                   eng))
  NULL
}

# The log-likelihood of a one-factor fit at its estimates by adaptive
# quadrature with `nodes` points (the fit's engine, rebuilt).
loglik_by_quadrature <- function(fit, nodes) {
  pe <- profile_engine(fit)
  on.exit(pe$free(), add = TRUE)
  th <- theta_star(as.numeric(fit$theta), pe$Tx)
  q <- ncol(as.matrix(fit$Z %||% matrix(1, 1, 1)))
  if (nodes^q > 1e6)
    stop(sprintf("loglik_check(): %d nodes for %d random effects per cluster make %.3g points; use fewer 'nodes'",
                 nodes, q, nodes^q), call. = FALSE)
  eng <- environment(pe$eval)$eng
  cpp_agq_set_nagq(eng, nodes)
  cpp_agq_eval(eng, th, FALSE)$loglik
}

# Importance sampling of the marginal log-likelihood of a several-term
# Laplace fit at its estimates (see loglik_check()).
loglik_by_importance <- function(fit, draws, df) {
  fam <- fit$family
  n <- length(fit$y)
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  off <- as.numeric(fit$offset %||% rep(0, n))
  ax <- profile_aux_inputs(fit)
  re <- sparse_re_terms(fit$formula, fit$model, fit_known_covariance(fit, "loglik_check()"))
  eng <- cpp_sparse_new(ax$X, re$Z, y, w, off, re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L,
                        re$ntheta, fam$family_code, fam$link_code)
  th <- theta_star(as.numeric(fit$theta), ax$Tx)
  p <- ncol(ax$X)
  laplace <- cpp_sparse_eval(eng, th, FALSE)$loglik
  m <- cpp_sparse_modes(eng, th)
  phi <- if (length(th) > p + re$ntheta) th[p + re$ntheta + 1L] else 0
  Lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[p + re$lam_k],
                              dims = rep(ncol(re$Z), 2L))
  ZL <- methods::as(re$Z %*% Lam, "CsparseMatrix")
  nq <- ncol(ZL)
  # H = I + (Z Lambda)' W (Z Lambda) at the modes, W = -d2 l / d eta2, as
  # the engine's Laplace approximation; its value rebuilt here must be the
  # fit's, or the proposal is not the one the check describes.
  H <- Matrix::crossprod(ZL, ZL * m$w) + Matrix::Diagonal(nq)
  ch <- Matrix::Cholesky(methods::as(H, "CsparseMatrix"), perm = TRUE, LDL = FALSE)
  logdet <- 2 * as.numeric(Matrix::determinant(ch, sqrt = TRUE, logarithm = TRUE)$modulus)
  cond <- function(eta) {
    ll <- cpp_family_eval(fam$family_code, fam$link_code, rep(y, length.out = length(eta)),
                          rep(w, length.out = length(eta)), eta, phi)$loglik
    colSums(matrix(ifelse(rep(w, length.out = length(eta)) > 0, ll, 0), n))
  }
  l0 <- cond(m$eta)
  lap_r <- l0 - sum(m$u^2) / 2 - logdet / 2
  if (!is.finite(lap_r) || abs(lap_r - laplace) > 1e-6 * max(1, abs(laplace)))
    stop("loglik_check(): the Laplace approximation rebuilt from the fit does not reproduce its log-likelihood; ",
         "the check is not available for this fit", call. = FALSE)
  # Draws x = u - u^ ~ N(0, H^-1) (P' L^-T z, H = P' L L' P), scaled by
  # sqrt(df / chi2_df) for the t proposal; m = x' H x = |z|^2 / g.
  logr <- numeric(draws)
  tconst <- if (is.finite(df)) lgamma((df + nq) / 2) - lgamma(df / 2) - nq / 2 * log(df / 2) else 0
  chunk <- max(1L, min(draws, floor(2e7 / max(n, nq))))
  done <- 0L
  while (done < draws) {
    k <- min(chunk, draws - done)
    z <- matrix(stats::rnorm(nq * k), nq, k)
    g <- if (is.finite(df)) stats::rchisq(k, df) / df else rep(1, k)
    x <- as.matrix(Matrix::solve(ch, Matrix::solve(ch, z, system = "Lt"), system = "Pt"))
    x <- sweep(x, 2L, sqrt(g), "/")
    maha <- colSums(z^2) / g
    u <- x + m$u
    eta <- as.matrix(ZL %*% x) + m$eta
    lq <- if (is.finite(df)) -(df + nq) / 2 * log1p(maha / df) + tconst else -maha / 2
    idx <- done + seq_len(k)
    logr[idx] <- cond(eta) - l0 - (colSums(u^2) - sum(m$u^2)) / 2 - lq
    done <- done + k
  }
  if (!all(is.finite(logr)))
    stop("loglik_check(): some importance weights are not finite", call. = FALSE)
  top <- max(logr)
  r <- exp(logr - top)
  mr <- mean(r)
  list(loglik = laplace + top + log(mr), se = stats::sd(r) / (mr * sqrt(draws)),
       ess = sum(r)^2 / sum(r^2))
}

#' @export
print.glmmgee_loglik_check <- function(x, digits = 4, ...) {
  check_dots(..., .method = "print.glmmgee_loglik_check")
  cat("Log-likelihood of the fit at its estimates\n")
  cat(sprintf("  fit (%s): %s\n", x$approximation, format(x$fit_loglik, nsmall = 2, digits = 10)))
  cat(sprintf("  %s: %s%s\n", x$method, format(x$loglik, nsmall = 2, digits = 10),
              if (x$se > 0) sprintf(" (Monte Carlo SE %.2g)", x$se) else ""))
  if (!is.na(x$ess))
    cat(sprintf("  effective sample size %.0f of %d draws%s\n", x$ess, x$draws,
                if (x$ess < 50) " (low: the proposal covers the integrand poorly; the SE may understate the error)" else ""))
  d <- x$difference
  verdict <- if (x$se == 0 && abs(d) < 1e-6) "the fit's value is exact to 1e-6" else
    if (abs(d) <= max(3 * x$se, 0.01)) "no error detectable at this precision" else
      if (abs(d) < 0.1) "a small error: tests and information criteria are not moved noticeably" else
        "a material error: the estimates, variance components most, may be biased; consider more quadrature points or a more accurate method"
  cat(sprintf("  difference %s%s: %s\n", formatC(d, digits = digits, format = "g"),
              if (x$se > 0) sprintf(" (%.1f SE)", d / x$se) else "", verdict))
  invisible(x)
}
