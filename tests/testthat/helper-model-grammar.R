# Models drawn at random from the grammar family x random-effect structure
# x zero part x dispersion part, with data simulated from a model of that
# kind (test-model-grammar.R): glmmgee and glmmTMB fit each draw by the
# Laplace approximation.

grammar_families <- c("gaussian", "binomial", "poisson", "nbinom2", "nbinom1", "Gamma", "beta",
                      "betabinomial")
grammar_re_terms <- c("(1 | g)", "(1 + x | g)", "(1 + x || g)", "(1 | g) + (1 | h)", "(1 | h/g)",
                      "ar1(0 + tf | g)", "cs(0 + tf | g)", "diag(0 + tf | g)", "toep(0 + tf | g)",
                      "ar1(0 + tf | g) + (1 | h)")
grammar_zero_parts <- list(none = ~ 0, fixed = ~ z, random = ~ z + (1 | g),
                           structured = ~ z + ar1(0 + tf | g))

# Draw k: a family, a random-effect structure, a zero part (count and
# binary families) and a dispersion part (families with a dispersion):
# none, fixed (~ z), or for half of the fixed ones random (~ z + (1 | g),
# drawn last, so that the other draws stay as they were).
grammar_draw <- function(k) {
  set.seed(1000 + k)
  fam <- sample(grammar_families, 1L)
  re <- sample(grammar_re_terms, 1L)
  zero <- if (fam %in% c("binomial", "poisson", "nbinom2", "nbinom1"))
    sample(names(grammar_zero_parts), 1L) else "none"
  disp <- if (fam %in% c("gaussian", "nbinom2", "nbinom1", "Gamma", "beta", "betabinomial"))
    sample(c("none", "fixed"), 1L) else "none"
  if (disp == "fixed" && stats::runif(1) < 0.5) disp <- "random"
  list(k = k, family = fam, re = re, zero = zero, disp = disp)
}

# 30 clusters g of 4 occasions tf, a crossed factor h of 6 levels,
# covariates x and z; an AR(1) of the occasions within g, a random slope
# of x, h effects, and (count and binary families) structural zeros with a
# random intercept of g; a dispersion part with random effects gets a g
# effect of SD 0.5 on the log dispersion.
grammar_data <- function(m) {
  ng <- 30
  pd <- panel_data(m$k, ng, 4L, 6L, 0.4)
  d <- pd$d
  u <- pd$u
  eta <- 0.3 + 0.4 * d$x + u[cbind(d$t, as.integer(d$g))] + rnorm(6, 0, 0.3)[d$h] +
    rnorm(ng, 0, 0.3)[d$g] * d$x
  n <- nrow(d)
  zi <- rbinom(n, 1, plogis(-1.2 + 0.7 * d$z + rnorm(ng, 0, 0.7)[d$g]))
  # (0, and no draw, unless the dispersion part has random effects)
  v <- if (identical(m$disp, "random")) rnorm(ng, 0, 0.5)[d$g] else 0
  ev <- exp(v)
  d$y <- switch(m$family,
    gaussian = eta + rnorm(n, 0, exp(-0.5 + 0.3 * d$z + v)),
    binomial = rbinom(n, 1, plogis(eta)) * (1 - zi),
    poisson = rpois(n, exp(eta)) * (1 - zi),
    nbinom2 = rnbinom(n, mu = exp(eta), size = exp(1 + 0.3 * d$z + v)) * (1 - zi),
    nbinom1 = rnbinom(n, mu = exp(eta), size = exp(eta) / (1.5 * ev)) * (1 - zi),
    Gamma = rgamma(n, shape = 3 * ev, rate = 3 * ev / exp(eta)),
    beta = rbeta(n, plogis(eta) * 8 * ev, (1 - plogis(eta)) * 8 * ev),
    betabinomial = rbinom(n, 5, rbeta(n, plogis(eta) * 6 * ev, (1 - plogis(eta)) * 6 * ev)))
  if (m$family == "betabinomial") d$yy <- cbind(d$y, 5 - d$y)
  d
}

grammar_family <- function(name, peer = FALSE) {
  tmb <- function(f) getExportedValue("glmmTMB", f)
  switch(name, gaussian = gaussian(), binomial = binomial(), poisson = poisson(),
         Gamma = Gamma(link = "log"),
         nbinom2 = if (peer) tmb("nbinom2")() else nbinom2(),
         nbinom1 = if (peer) tmb("nbinom1")() else nbinom1(),
         beta = if (peer) tmb("beta_family")() else beta_family(),
         betabinomial = if (peer) tmb("betabinomial")() else betabinomial())
}

# The draw's model: list(formula, ziformula, dispformula).
grammar_model <- function(m) {
  lhs <- if (m$family == "betabinomial") "yy" else "y"
  list(formula = stats::as.formula(paste(lhs, "~ x +", m$re)),
       ziformula = grammar_zero_parts[[m$zero]],
       dispformula = switch(m$disp, fixed = ~ z, random = ~ z + (1 | g), ~ 1))
}
