# Profiles of fits with known covariances (glmm(covariance = ), glmm-known.R).

# The known covariances of a fit: the `covariance` list it was fitted with,
# stored by fit_spec(), or NULL for a fit without one. The call's
# expression is not evaluated again: where the fit was made inside a
# function, or the name now holds another matrix, it gave another model's
# profile and likelihood-ratio tests with no word. A fit without the stored
# list (saved by an earlier version) is an error: `method` names the caller.
fit_known_covariance <- function(fit, method) {
  cv <- .subset2(fit, "covariance")
  if (!is.null(cv) || is.null(.subset2(fit, "call")$covariance)) return(cv)
  stop(sprintf(paste0("%s: the fit does not hold the known covariance it was fitted with ",
                      "(a fit saved by an earlier version of glmmgee); refit it with glmm()"),
               method), call. = FALSE)
}

# `call` (the fit's call, changed for a refit; not for update(fit,
# covariance = )) with the covariance the fit was made with in place of the
# call's expression, when the call still has that expression: a refit then
# uses the fitted K wherever the call is evaluated. The refit's own call
# gets the expression back (restore_call_covariance()).
call_with_fit_covariance <- function(call, fit) {
  expr <- .subset2(fit, "call")$covariance
  if (is.null(expr) || !identical(call$covariance, expr)) return(call)
  call$covariance <- fit_known_covariance(fit, "refit")
  call
}

# A refit made from call_with_fit_covariance()'s call, its call showing the
# expression of `fit`'s call again instead of the matrices.
restore_call_covariance <- function(refit, fit) {
  expr <- .subset2(fit, "call")$covariance
  if (!is.null(expr) && is.list(refit) && !is.null(refit$call) && is.list(refit$call$covariance))
    refit$call$covariance <- expr
  refit
}

# A gaussian fit with one known-covariance term (glmm-known.R):
# its exact log-likelihood in theta = (beta, sd of the term, log sigma) from
# the fit's own rotation (y1 = U'(y - offset), X1 = U'X, G = Z K Z' = U D U'
# or its tridiagonal / sparse form), O(k) per evaluation for the spectral
# rotation. The sparse Laplace engine, which the profile used otherwise,
# re-factored the n-level K at every point (80 s for a fit of 0.02 s).
# The gradient: beta's exact, X'V^-1 r; the two variance parameters' by
# central differences of the closed form.
known_profile_engine <- function(fit) {
  rot <- fit$rotation
  p <- length(fit$coefficients)
  X <- as.matrix(fit$X)
  yo <- as.numeric(fit$y) - (fit$offset %||% 0)
  n <- length(yo)
  X1 <- as.matrix(rot$X1)
  ll_var <- function(beta, sdg, lsig) {
    s2e <- exp(2 * lsig)
    r <- yo - drop(X %*% beta)
    r1 <- rot$y1 - drop(X1 %*% beta)
    s <- rotated_system(rot, sdg^2 / s2e, r1)
    if (!isTRUE(s$ok)) return(list(loglik = -Inf))
    sol <- drop(s$solution)
    quad <- sum(r1 * sol) + max(sum(r^2) - sum(r1^2), 0)
    list(loglik = -0.5 * (n * log(2 * pi) + s$logdet + n * log(s2e) + quad / s2e),
         gbeta = (drop(crossprod(X1, sol)) + drop(crossprod(X, r)) - drop(crossprod(X1, r1))) / s2e)
  }
  eval <- function(th) {
    beta <- th[seq_len(p)]
    sdg <- th[[p + 1L]]
    lsig <- th[[p + 2L]]
    v <- ll_var(beta, sdg, lsig)
    if (!is.finite(v$loglik)) return(list(loglik = -Inf, gradient = rep(NA_real_, p + 2L)))
    g_var <- fd_gradient(function(u) ll_var(beta, u[[1L]], u[[2L]])$loglik, c(sdg, lsig),
                         1e-5 * c(max(abs(sdg), 1e-3 * exp(lsig)), 1))
    list(loglik = v$loglik, gradient = c(v$gbeta, g_var))
  }
  list(eval = eval, lower = c(rep(-Inf, p), 0, -Inf), free = function() NULL, Tx = NULL)
}

# Whether known_profile_engine() serves a fit: ML, gaussian identity, one
# known-covariance term with its rotation, both variances off their bounds.
uses_known_profile <- function(fit) {
  inherits(fit, "glmmgee_glmm_known") && !isTRUE(fit$REML) && !is.null(fit$rotation) &&
    !is.null(fit$rotation$y1) && identical(fit$family$family, "gaussian") &&
    identical(fit$family$link, "identity") && length(fit$reterms) == 1L &&
    length(fit$theta) == length(fit$coefficients) + 2L &&
    !isTRUE(fit$singular) && is.finite(fit$rotation$lambda)
}
