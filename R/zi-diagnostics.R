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

# Quasi-separation in the zero part: for some rows (a level of a factor in
# `ziformula`, say, whose counts are never zero, or always zero) the zero
# probability runs to 0 or 1 while the others stay inside, so a zero-part
# coefficient diverges; the fit then warned "doubtful convergence" and gave
# no standard errors without saying why. |eta| > 15 (a probability beyond
# 3e-7 of 0 or 1) is no estimate any data of this kind support.
zi_separation_message <- function(kind, Xz_star, gamma_star, offz) {
  if (!length(gamma_star) || ncol(Xz_star) < 2L) return(NULL)
  eta <- drop(Xz_star %*% gamma_star) + (offz %||% 0)
  lo <- sum(eta < -15)
  hi <- sum(eta > 15)
  if (!lo && !hi) return(NULL)
  what <- if (kind == "hurdle") "probability of a zero" else "zero-inflation probability"
  why <- c(if (lo) if (kind == "hurdle") "rows with no zeros" else "rows needing no structural zeros",
           if (hi) "rows that are all zeros")
  sprintf(paste0("the %s runs to %s for %d of %d rows: a coefficient of 'ziformula' diverges ",
                 "(quasi-separation: %s); merge or drop that term"),
          what, if (lo && hi) "0 or 1" else if (lo) "0" else "1", lo + hi, length(eta),
          paste(why, collapse = " and "))
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
