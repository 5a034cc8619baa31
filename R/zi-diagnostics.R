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
                 "(quasi-separation: %s) and has no standard error, the others' hold it at its ",
                 "limit; merge or drop that term"),
          what, if (lo && hi) "0 or 1" else if (lo) "0" else "1", lo + hi, length(eta),
          paste(why, collapse = " and "))
}

# The zero part at that limit, as aux_dispersion_limit() judges a
# dispersion's: TRUE at the zero-part coefficients (of P; `idx` their
# indices) that move only rows with |eta| > 15, the null space of the other
# rows' design (taken on the search's centred and scaled Xs, Xz = Xs Tz, and
# mapped back), with "directions" and "block" where those directions are
# not coordinate axes. limit_covariance() then holds them at the limit:
# the other parameters' standard errors are the limit model's (a zero-part
# indicator of zeros only, its coefficient at +Inf: glmmTMB's, and the fit
# with that coefficient held at +30, give the count part's SEs 0.0926 and
# 0.0428, where all were NA; a year with no zeros drifting to -Inf left the
# zero intercept's SE at 0.798 for the limit's 0.735).
aux_zero_limit <- function(Xz, offz, idx, P, Xs = Xz, Tz = NULL) {
  pz <- length(idx)
  function(theta) {
    out <- rep(FALSE, P)
    if (!pz) return(out)
    at <- abs(drop(Xz %*% theta[idx]) + (offz %||% 0)) > 15
    if (!any(at)) return(out)
    limit_mask(idx, P, Xs, Tz, !at)
  }
}

# The cause joins the "doubtful convergence" warning it explains (the
# Newton step along the flat intercept is what that warning measures), or
# stands alone when the optimizer stopped without one.
# A zero-truncated negative binomial (truncated_nbinom2(), or a hurdle's
# positive part) fitted to counts with many 1s runs to its log-series limit:
# as the size k -> 0 at a fixed probability p, the truncated NB(k, p) tends
# to the logarithmic distribution with parameter 1 - p (Johnson, Kemp and
# Kotz 2005, sec. 7.1.2). For nbinom2, k = theta and 1 - p = mu / (mu +
# theta), so mu and theta both run to 0 (their logs to -Inf together, their
# difference finite); for nbinom1 (truncated_nbinom1()), k = mu / phi and
# 1 - p = phi / (1 + phi), so mu runs to 0 at a finite phi. Along that
# direction the Hessian is singular. The fit then only said "Hessian not
# negative definite". nbinom2: mu and theta below 1e-4 in every row is no
# estimate these data support. nbinom1: the likelihood depends on mu only
# through terms of order k, so the search stops on the plateau sooner (k
# near 0.004 on logarithmic counts) and the count slopes wander along it;
# k = mu / phi below 0.01 in the median row is already that plateau (the
# positive counts then differ from logarithmic ones by about 1%). A search
# that stopped without converging (the optimizer's failure, a doubtful
# convergence or a Hessian that is not negative definite) may stop further
# up the plateau (the sparse hurdle NB1 route: false convergence at k near
# 0.05 on logarithmic counts, where the one-factor route runs to 1e-11):
# there ten times the thresholds (k below 0.1, mu and theta below 1e-3)
# name the cause. One rule for every two-part route (one grouping factor,
# several terms, random effects in the zero part on either engine), judged
# on the user's parameters `theta` (beta first, the dispersion coefficients
# at `id`) after the fit's warnings are known: said where the Hessian (or
# convergence) warning stands, else added, and recorded as
# optinfo$logseries_limit. nbinom1 also reaches the limit in part of the
# rows: those of one level of a factor, whose coefficient runs to -Inf
# (Salamanders, hurdle ~ mined: mu / phi 4e-9 in the mined sites, count
# intercept -18 with minedno +19; glmmTMB stops at -14 and +15 with the same
# log-likelihood); k below 1e-6 in any row is no estimate either. That fit
# said only "doubtful convergence" and "Hessian not negative definite".
zi_note_logseries <- function(optinfo, kind, family, X, offset, Xd, offd, theta, id) {
  logser <- zi_logseries_message(kind, family, X, theta[seq_len(ncol(X))], offset, Xd,
                                 theta[id], offd, optinfo$warnings)
  if (!is.null(logser)) {
    w <- optinfo$warnings
    i <- grep("not negative definite|^doubtful convergence", w)
    if (length(i)) w[i[[1L]]] <- paste0(w[i[[1L]]], "; cause: ", logser) else w <- c(w, logser)
    optinfo$warnings <- w
  }
  optinfo$logseries_limit <- !is.null(logser)
  optinfo
}

zi_logseries_message <- function(kind, family, X, beta, offset, Xd, gamma_d, offd, warn = NULL) {
  if (kind != "hurdle" || !family$family %in% c("nbinom2", "nbinom1") || is.null(Xd) ||
      !length(gamma_d))
    return(NULL)
  stuck <- any(grepl("did not converge|^doubtful convergence|not negative definite", warn))
  eta <- drop(X %*% beta) + (offset %||% 0)
  ld <- drop(Xd %*% gamma_d) + (offd %||% 0)
  if (family$family == "nbinom1") {
    kr <- exp(eta - ld)
    k <- stats::median(kr)
    if (!(k < (if (stuck) 0.1 else 0.01))) {
      low <- kr < 1e-6
      if (!any(low)) return(NULL)
      return(sprintf(paste0("the zero-truncated nbinom1 runs to its log-series limit in %d of %d rows: ",
                            "their mu goes to 0 at a finite phi (mu / phi below %.1e), where their ",
                            "positive counts follow a logarithmic distribution; the combination of count ",
                            "coefficients that gives their linear predictor runs to -Inf: a limit, not ",
                            "an optimum, without standard errors"),
                     sum(low), length(kr), max(kr[low])))
    }
    return(sprintf(paste0("the zero-truncated nbinom1 runs to its log-series limit: mu goes to 0 at a ",
                          "finite phi (median mu %.1e, median mu / phi %.1e, median phi %.3g), where ",
                          "the positive counts follow a logarithmic distribution with parameter ",
                          "phi / (1 + phi) and the count part's coefficients are not identified: ",
                          "they are a limit, not an optimum, and have no standard errors"),
                   stats::median(exp(eta)), k, stats::median(exp(ld))))
  }
  lim <- log(if (stuck) 1e-3 else 1e-4)
  if (!(max(eta) < lim && max(ld) < lim)) return(NULL)
  sprintf(paste0("the zero-truncated nbinom2 runs to its log-series limit: mu and theta both go to 0 ",
                 "(largest mu %.1e, largest theta %.1e; median log(mu / theta) %.3g), where the ",
                 "positive counts follow a logarithmic distribution and mu and theta are not ",
                 "identified separately: the count and dispersion estimates are a limit, not an ",
                 "optimum, and have no standard errors"),
          exp(max(eta)), exp(max(ld)), stats::median(eta - ld))
}

zi_fit_warnings <- function(warn, cause) {
  if (is.null(cause)) return(warn)
  i <- grep("^doubtful convergence", warn)
  if (!length(i)) return(c(warn, cause))
  warn[i] <- paste0(warn[i], "; cause: ", cause)
  warn
}
