# Counts over nt occasions of ns groups g, with an AR(1) of the occasions
# within g (sd 0.7, rho 0.6), a crossed factor h of 8 levels, covariates x
# and z, negative binomial noise and structural zeros whose logit has a
# random intercept of g (test-covstruct-two-part.R, test-covstruct.R).
two_part_structure_data <- function(seed = 3, ns = 40, nt = 4) {
  pd <- panel_data(seed, ns, nt, 8L, 0.5)
  d <- pd$d
  u <- pd$u
  eta <- 0.8 + 0.3 * d$x + u[cbind(d$t, as.integer(d$g))] + rnorm(8, 0, 0.3)[d$h]
  pz <- plogis(-1 + 0.8 * d$z + rnorm(ns, 0, 0.8)[d$g])
  d$y <- rnbinom(nrow(d), mu = exp(eta), size = 3) * rbinom(nrow(d), 1, 1 - pz)
  d
}
