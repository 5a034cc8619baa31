# Values read off fits, ours or a peer's, for comparing them.

# A fit's log-likelihood as a plain number (logLik() of any package).
loglik_value <- function(f) as.numeric(logLik(f))

# glmmTMB's standard deviations of grouping factor `g`'s random effects
# (conditional part), and the correlation of its first two.
tmb_sd <- function(m, g) unname(attr(glmmTMB::VarCorr(m)$cond[[g]], "stddev"))
tmb_rho <- function(m, g) attr(glmmTMB::VarCorr(m)$cond[[g]], "correlation")[1L, 2L]
