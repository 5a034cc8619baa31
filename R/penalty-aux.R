# Penalized fixed effects (penalty.R) in the fits with auxiliary linear
# predictors (zero-inflated, hurdle, dispersion formula; fit-glmm-zi.R,
# fit-glmm-zi-random.R, fit-sparse-zi.R, fit-sparse-zi-random.R). Their searches run
# on theta* = (Tx beta, covariance parameters, Tz gamma, Td delta)
# (reparam-zi.R): the prior of beta (and, with pen_zi, the independent one
# of gamma) is evaluated at beta = Tx^-1 beta*, gamma = Tz^-1 gamma*, and
# its gradient carried back by Tx^-T, Tz^-T; the maps are linear, so the
# penalized objective and its gradient stay exact.

# prior: penalty_prior()'s result (NULL: none); p, pz the numbers of fixed
# and zero coefficients, iz the zero coefficients' positions in theta;
# Tx, Tz the design transforms of X and Xz. Returns NULL or
# function(theta_s, hessian = FALSE) list(value, gradient [length of
# theta_s], hessian [P x P when asked]).
aux_penalty <- function(prior, p, pz, iz, Tx, Tz) {
  if (is.null(prior)) return(NULL)
  check_prior_length(prior, p, "penalized")
  if (!is.null(prior$zi)) {
    if (!pz)
      stop("'penalized$pen_zi' needs a zero part with fixed effects (a 'ziformula' such as ~ x)",
           call. = FALSE)
    check_prior_length(prior$zi, pz, "penalized$pen_zi")
  }
  parts <- list(list(prior = prior, at = seq_len(p), T = Tx))
  if (!is.null(prior$zi)) parts[[2L]] <- list(prior = prior$zi, at = iz, T = Tz)
  function(theta_s, hessian = FALSE) {
    P <- length(theta_s)
    value <- 0
    grad <- numeric(P)
    H <- if (hessian) matrix(0, P, P)
    for (b in parts) {
      u <- backsolve(b$T, theta_s[b$at])
      pv <- penalty_value(b$prior, u)
      value <- value + pv$value
      grad[b$at] <- forwardsolve(t(b$T), pv$gradient)
      if (hessian) {
        Ti <- backsolve(b$T, diag(1, length(b$at)))
        H[b$at, b$at] <- crossprod(Ti, penalty_hessian(b$prior, u) %*% Ti)
      }
    }
    list(value = value, gradient = grad, hessian = H)
  }
}

check_prior_length <- function(prior, p, arg) {
  for (k in c("pen_mu", "pen_sigma"))
    if (!length(prior[[k]]) %in% c(1L, p))
      stop(sprintf("'%s$%s' must have 1 or %d elements (one per coefficient), not %d",
                   arg, k, p, length(prior[[k]])), call. = FALSE)
}

# An evaluation `r` (loglik, gradient in theta_s) with the penalty added;
# r$penalty records the log prior.
add_aux_penalty <- function(r, pen, theta_s, gradient = TRUE) {
  pv <- pen(theta_s)
  r$penalty <- pv$value
  r$loglik <- r$loglik + pv$value
  if (gradient && length(r$gradient)) r$gradient <- r$gradient + pv$gradient
  r
}

# The sparse fitters' evaluator evalf(theta_s) with the penalty added.
penalized_evalf <- function(evalf, pen) {
  if (is.null(pen)) return(evalf)
  function(th) add_aux_penalty(evalf(th), pen, th)
}

# A stand-in for a one-factor engine (the AGQ engine, the engine with
# random effects in both parts) whose evaluations include the penalty;
# agq_eval() and agq_set_nagq() (workers-engine.R) reach it like the others.
penalized_engine <- function(eng, pen) {
  if (is.null(pen)) return(eng)
  structure(list(inner = eng, pen = pen), class = "glmmgee_penalized_engine")
}

# The engine under a penalized stand-in (the engine itself otherwise).
engine_core <- function(eng) if (inherits(eng, "glmmgee_penalized_engine")) eng$inner else eng

# The fit's record of the penalty at the optimum (`final`: the penalized
# evaluation there): the prior, the log prior, the log-likelihood without
# it and the penalized objective, as the other penalized fits record it.
aux_penalty_record <- function(prior, final) {
  if (is.null(prior)) return(NULL)
  list(prior = prior, value = final$penalty, loglik = final$loglik - final$penalty,
       objective = final$loglik)
}
