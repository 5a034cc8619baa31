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
