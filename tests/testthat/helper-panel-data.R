# The panel both structured-model helpers draw on (two_part_structure_data(),
# grammar_data()): nt occasions t (and the factor tf) of ng groups g, a
# crossed factor h of nh levels, covariates x and z, and `u`, an AR(1) of
# the occasions within g (variance `v`, correlation 0.6), nt x ng, drawn
# after them from `seed`.
panel_data <- function(seed, ng, nt, nh, v) {
  set.seed(seed)
  d <- expand.grid(t = seq_len(nt), g = factor(seq_len(ng)))
  d$tf <- factor(d$t)
  d$h <- factor(sample(seq_len(nh), nrow(d), TRUE))
  d$x <- rnorm(nrow(d))
  d$z <- rnorm(nrow(d))
  u <- t(chol(v * 0.6^abs(outer(seq_len(nt), seq_len(nt), "-")))) %*% matrix(rnorm(nt * ng), nt)
  list(d = d, u = u)
}
