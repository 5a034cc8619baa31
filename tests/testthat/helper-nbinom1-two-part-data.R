# Simulated NB1 two-part counts for test-two-part-nbinom1.R.

# NB1 two-part counts: zeros with probability plogis(-0.7 + 0.9 w + a zero
# random intercept of SD zsd), counts NB1 with mean parameter mu = exp(0.6
# + 0.5 x + b), b of SD 0.5, and phi. positives: "none" (zero-inflated:
# the counts as drawn), "rejection" or "inverse" (hurdle: zero-truncated
# counts by redrawing the zeros, or by the inverse distribution function
# above P(0)).
nb1x_sim <- function(M, ni, seed, zsd, phi, positives = c("none", "rejection", "inverse")) {
  positives <- match.arg(positives)
  set.seed(seed)
  g <- factor(rep(seq_len(M), each = ni))
  n <- M * ni
  x <- stats::rnorm(n)
  w <- stats::rbinom(n, 1, 0.5)
  mu <- exp(0.6 + 0.5 * x + stats::rnorm(M, 0, 0.5)[g])
  pz <- stats::plogis(-0.7 + 0.9 * w + stats::rnorm(M, 0, zsd)[g])
  yc <- stats::rnbinom(n, size = mu / phi, mu = mu)
  if (positives == "rejection") {
    while (any(yc == 0)) {
      i <- which(yc == 0)
      yc[i] <- stats::rnbinom(length(i), size = mu[i] / phi, mu = mu[i])
    }
  } else if (positives == "inverse") {
    p0 <- stats::dnbinom(0, size = mu / phi, mu = mu)
    yc <- pmax(1, stats::qnbinom(stats::runif(n, p0, 1), size = mu / phi, mu = mu))
  }
  data.frame(g, x, w, h = factor(rep(1:6, length.out = n)), y = ifelse(stats::runif(n) < pz, 0, yc))
}

# Hurdle NB1 data (phi = 1.2 by default), positives drawn by rejection.
nb1x_hurdle_sim <- function(M = 60, ni = 8, seed = 25, zsd = 0, phi = 1.2)
  nb1x_sim(M, ni, seed, zsd, phi, "rejection")

# NB1 two-part counts with independent random intercepts in both parts
# (truth: beta = (0.6, 0.5), gamma = (-0.7, 0.9), SDs 0.5 and 0.7, phi).
nb1x_zi_random_sim <- function(M = 80, ni = 8, seed = 1, hurdle = FALSE, phi = 1.2)
  nb1x_sim(M, ni, seed, 0.7, phi, if (hurdle) "inverse" else "none")
