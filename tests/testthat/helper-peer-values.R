# Values read off fits, ours or a peer's, for comparing them.

# A fit's log-likelihood as a plain number (logLik() of any package).
loglik_value <- function(f) as.numeric(logLik(f))

# Our log-likelihood `ours` at least a peer's `peer`, less `tol` (the same
# optimum to the optimizers' tolerance, or a higher one). A peer
# whose fit failed to give one (glmmTMB reports NA where its Hessian is not
# positive definite, which on some builds of the C library's mathematical
# functions happens on fits that give a number on others) leaves nothing to
# compare: ours must then be a finite number.
expect_loglik_at_least <- function(ours, peer, tol = 1e-4, label = "our log-likelihood") {
  ours <- as.numeric(ours)
  peer <- as.numeric(peer)
  if (!is.finite(peer)) {
    expect_true(is.finite(ours), label = paste(label, "(the peer's log-likelihood is NA)"))
    return(invisible())
  }
  expect_gte(ours, peer - tol, label = label)
}

# glmmTMB's standard deviations of grouping factor `g`'s random effects
# (conditional part), and the correlation of its first two.
tmb_sd <- function(m, g) unname(attr(glmmTMB::VarCorr(m)$cond[[g]], "stddev"))
tmb_rho <- function(m, g) attr(glmmTMB::VarCorr(m)$cond[[g]], "correlation")[1L, 2L]

# glmmTMB's parameterization across its versions: a gaussian model's
# dispersion coefficients are of log(sigma) from 1.1.9 on, of
# log(sigma^2) before (`b` on the log sigma scale either way); the
# dispersion coefficients are named "disp~..." in vcov(full = TRUE) and
# `betadisp` in start and map from 1.1.10 on, "d~..." and `betad` before.
tmb_version_at_least <- function(v) utils::packageVersion("glmmTMB") >= v
tmb_gaussian_log_sigma <- function(b) if (tmb_version_at_least("1.1.9")) b else b / 2
tmb_disp_label <- function(name) paste0(if (tmb_version_at_least("1.1.10")) "disp~" else "d~", name)
tmb_betadisp <- function() if (tmb_version_at_least("1.1.10")) "betadisp" else "betad"
# glmmTMB's log-likelihood at the end of its search, also where logLik()
# is NA (from 1.1.10 on, wherever its Hessian is not positive definite).
tmb_loglik <- function(m) -m$fit$objective
