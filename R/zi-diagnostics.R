# What a zero-inflated fit says about its own zero part.

# The zero-inflation probability running to zero: its intercept on the
# optimizer's (centred) scale far below any probability the data can
# support. The likelihood then rises towards gamma_0 = -Inf and the fit
# stops on a plateau; the cause is named so that the user drops the
# ziformula instead of chasing the optimizer.
zi_vanishing_message <- function(kind, Xz_star, gamma_star, offz) {
  if (kind != "zi" || !length(gamma_star)) return(NULL)
  eta <- drop(Xz_star %*% gamma_star) + (offz %||% 0)
  if (max(eta) > -8) return(NULL)
  sprintf("the zero-inflation intercept runs to -Inf (largest zero-inflation probability %.1e): the data need no structural zeros; refit without 'ziformula'",
          stats::plogis(max(eta)))
}

# The cause joins the "doubtful convergence" warning it explains (the
# Newton step along the flat intercept is what that warning measures), or
# stands alone when the optimizer stopped without one.
zi_fit_warnings <- function(warn, cause) {
  if (is.null(cause)) return(warn)
  i <- grep("^doubtful convergence", warn)
  if (!length(i)) return(c(warn, cause))
  warn[i] <- paste0(warn[i], "; cause: ", cause)
  warn
}
