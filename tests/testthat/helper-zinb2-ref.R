# The zero-inflated (hurdle = FALSE) or hurdle negative binomial (nbinom2)
# log-likelihood of counts y from dnbinom(), the reference of the two-part
# engines' values: mu the count mean, pz the zero probability, size theta.
zinb2_loglik_ref <- function(y, mu, pz, size, hurdle) {
  f0 <- dnbinom(0, size = size, mu = mu)
  if (hurdle) {
    sum(ifelse(y == 0, log(pz),
               log1p(-pz) + dnbinom(y, size = size, mu = mu, log = TRUE) - log1p(-f0)))
  } else {
    sum(ifelse(y == 0, log(pz + (1 - pz) * f0),
               log1p(-pz) + dnbinom(y, size = size, mu = mu, log = TRUE)))
  }
}
