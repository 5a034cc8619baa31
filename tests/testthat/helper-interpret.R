# Shared fits for the interpretation tests, computed once per session
# (cached() comes from helper-glmm-fits.R).

interp_bacteria <- function() {
  cached("interp_bacteria", {
    d <- MASS::bacteria
    d$late <- d$week > 2
    d
  })
}

interp_logit_glmm <- function() {
  cached("interp_logit_glmm", {
    d <- interp_bacteria()
    glmm(y ~ trt + late + (1 | ID), data = d, family = binomial)
  })
}

interp_gee <- function() {
  cached("interp_gee", {
    d <- interp_bacteria()
    gee(y ~ trt + late, data = d, id = ID, family = binomial, corstr = "exchangeable")
  })
}

# Binary data with a large random-intercept SD (3), so the marginal effect
# is clearly attenuated.
sim_large_sigma <- function() {
  cached("sim_large_sigma", {
    set.seed(42)
    M <- 150; ni <- 8
    id <- rep(seq_len(M), each = ni)
    x <- rnorm(M * ni)
    b <- rnorm(M, 0, 3)
    data.frame(y = rbinom(M * ni, 1, plogis(0.3 + 1 * x + b[id])), x = x, id = factor(id))
  })
}
