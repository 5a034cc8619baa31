# glmm() for a binomial (logit) or Poisson (log) model whose one
# random-effect term (1 | id) has a known covariance given densely or by its
# factor (kfactor()): the formula front end of the dense-factor Laplace
# engine (fit-known-laplace.R). A sparse K keeps the sparse engine.

# Does the known-covariance Laplace engine fit this model?
use_known_laplace <- function(formula, family, covariance) {
  if (!length(covariance) || is.null(known_laplace_family(family))) return(FALSE)
  bars <- find_bars(formula)
  if (length(bars) != 1L || !identical(bars[[1L]][[2L]], 1)) return(FALSE)
  g <- paste(deparse(bars[[1L]][[3L]]), collapse = "")
  cv <- covariance[[g]]
  length(covariance) == 1L && !is.null(cv) &&
    (inherits(cv, "glmmgee_kfactor") || (is.matrix(cv) && is.numeric(cv)) ||
       (inherits(cv, "Matrix") && !inherits(cv, "sparseMatrix")))
}

glmm_known_laplace <- function(s, mf) {
  formula <- s$formula
  family <- s$family
  tm <- known_term(find_bars(formula)[[1L]], s$covariance, mf)
  d <- design_and_response(formula, mf, s$fenv, family)
  X <- d$X
  resp <- d$resp
  if (family$family == "poisson" && any(resp$weights != 1))
    stop("'weights' are not available for a Poisson model with a known covariance", call. = FALSE)
  if (any(resp$weights <= 0))
    stop("'weights' must be positive for a model with a known covariance", call. = FALSE)
  L <- known_laplace_factor(tm)
  extra_warn <- check_obs_level_effects(list(mf[[tm$g]]), family, resp$weights)
  sep <- separation_record(X, resp$y, resp$weights, family, "glmm")
  # On a centred and scaled X where the user's loses digits, as the
  # gaussian known-covariance routes: with x * 1e-6 - 5 the glm start's
  # X'WX was singular numerically and the fit failed.
  tx <- lmm_design_transform(X)
  fit <- known_laplace_fit(tx$M, resp$y, resp$weights, d$offset, tm$index, L, family, s$control,
                           tm$g)
  if (!isTRUE(tx$identity)) {
    # (beta, s) back to the user's X by the linear mixed models' map, which
    # keeps the standardized covariance for the delta methods.
    fit$theta <- c(fit$beta, fit$s)
    fit <- lmm_standard_x(fit, tx, FALSE)
    fit$theta <- NULL
  }
  obj <- new_glmm_known_laplace(fit, X, resp, d$offset, tm, L, mf, d$mt, s$call, formula, family)
  finish_glmm(obj, sep, extra_warn)
}

# The factor L (levels x r) of the term's K: given, or for a dense K its
# Cholesky factor with the columns in reverse order (computed in place in
# the one levels^2 matrix it returns, which the engine's products exploit:
# known-laplace.h), or from the eigendecomposition when K is singular
# (columns of eigenvalue zero dropped). Memory is checked before a dense
# factor is made.
known_laplace_factor <- function(tm) {
  if (!is.null(tm$kf)) return(tm$kf$L)
  nl <- nrow(tm$K)
  if (!inherits(tm$K, "sparseMatrix")) {
    check_memory(8 * nl^2, sprintf("the factor of 'covariance$%s' (%d x %d)", tm$g, nl, nl))
    K <- tm$K
    if (!is.matrix(K) || !is.double(K)) K <- as.matrix(K) + 0
    # the row names are set in C++: rownames<- here would copy the factor
    f <- cpp_known_dense_factor(K, 1e-8, as.character(tm$levels))
    if (!f$symmetric) stop(sprintf("'covariance$%s' is not symmetric", tm$g), call. = FALSE)
    if (f$ok) return(f$L)
  }
  check_memory(3 * 8 * nl^2, sprintf("the factor of 'covariance$%s' (%d x %d)", tm$g, nl, nl))
  L <- as.matrix(covariance_factor(tm$K, tm$g))
  ss <- colSums(L * L)
  keep <- ss > 1e-10 * max(ss)
  L <- L[, keep, drop = FALSE]
  rownames(L) <- tm$levels
  L
}

# The fitted object, built by the several-term constructor so that its
# methods (VarCorr, ranef, coef, predict, the interpretation layer) apply.
new_glmm_known_laplace <- function(fit, X, resp, offset, tm, L, mf, mt, call, formula, family) {
  p <- length(fit$beta)
  n <- length(resp$y)
  cn <- "(Intercept)"
  lev <- tm$levels
  nl <- length(lev)
  pnames <- c(names(fit$beta), paste0(tm$g, ".(Intercept)"))
  theta <- stats::setNames(c(fit$beta, fit$s), pnames)
  cov_theta <- fit$cov_theta
  dimnames(cov_theta) <- list(pnames, pnames)
  reterm <- list(group = tm$g, group_expr = tm$bar[[3L]], lhs = tm$bar[[2L]], cnames = cn,
                 levels = lev, index = tm$index, columns = seq_len(nl), par = 1L,
                 known_cov = TRUE,
                 Lambda = matrix(fit$s, 1, 1, dimnames = list(cn, cn)),
                 D = matrix(fit$s^2, 1, 1, dimnames = list(cn, cn)),
                 b = matrix(fit$b, nl, 1L, dimnames = list(lev, cn)),
                 kdiag = fit$kdiag,
                 condvar = array(fit$condvar, c(1L, 1L, nl), dimnames = list(cn, cn, lev)))
  sf <- list(beta = fit$beta, theta = theta, cov_theta = cov_theta, loglik = fit$loglik,
             sigma = 1, dispersion = NULL, family_par = NULL, family = family,
             terms = list(reterm), modes = list(eta = fit$eta), singular = fit$singular,
             gradient = fit$gradient, hessian = NULL, optinfo = fit$optinfo, engine = "known_laplace")
  Z <- Matrix::sparseMatrix(i = seq_len(n), j = tm$index, x = 1, dims = c(n, nl))
  obj <- new_glmm_sparse(sf, X = X, y = resp$y, weights = resp$weights, offset = offset,
                         re = list(Z = Z), mf = mf, mt = mt, call = call, formula = formula)
  obj$REML <- FALSE
  # what assoc_scan() needs for the null model's working covariance
  obj$known_factor <- list(L = L, index = tm$index, s = fit$s)
  class(obj) <- c("glmmgee_glmm_known", class(obj))
  if (fit$singular)
    obj$optinfo$warnings <- c(obj$optinfo$warnings,
                              sprintf("singular fit: the variance of the known-covariance effect of '%s' is estimated at zero",
                                      tm$g))
  obj
}
