# Simulated data of the profile tests (test-profile-units-two-part.R,
# test-profile-boundary-block.R): 30 groups a, binary, gaussian and zero-inflated count
# responses, x and its far-off versions x2 = x * 1e-6 - 5 and x4 = x + 1e6.
two_part_units_data <- function(n = 800) {
  set.seed(30)
  a <- factor(sample(1:30, n, TRUE))
  b <- factor(sample(1:4, n, TRUE))
  h <- factor(sample(1:8, n, TRUE))
  x <- rnorm(n)
  ab <- interaction(a, b)
  b0 <- rnorm(30, sd = 0.8)
  b1 <- rnorm(30, sd = 0.6)
  c0 <- rnorm(nlevels(ab), sd = 0.5)
  c1 <- rnorm(nlevels(ab), sd = 0.4)
  eta <- -0.3 + 0.8 * x + b0[a] + b1[a] * x + c0[ab] + c1[ab] * x
  mu <- exp(0.3 + 0.4 * x + 0.5 * b0[a] + 0.4 * b1[a] * x)
  d <- data.frame(a, b, h, x, yb = rbinom(n, 1, plogis(eta)), yg = 2 + eta + rnorm(n),
                  yc = ifelse(runif(n) < 0.3, 0, rpois(n, mu)))
  d$x2 <- d$x * 1e-6 - 5
  d$x4 <- d$x + 1e6
  d
}

# Poisson and binomial responses on 40 groups of 10, with a random
# intercept and slope in x (x centred exactly, so that its centred and
# scaled columns are those of x2 - mean(x2) in any units), and a second
# factor b (test-reml-sigma-limit.R). Used by the cs() and sigma-limit tests.
count_slope_data <- function() {
  set.seed(301)
  M <- 40
  n <- 10
  a <- factor(rep(seq_len(M), each = n))
  x <- runif(M * n, 0, 4)
  x <- x - mean(x)
  b0 <- rnorm(M, 0, 0.6)
  b1 <- rnorm(M, 0, 0.4)
  eta <- 0.5 + 0.3 * x + b0[a] + b1[a] * x
  d <- data.frame(a = a, x = x, y = rpois(M * n, exp(eta)),
                  yb = rbinom(M * n, 1, plogis(eta - 0.5)))
  d$x_far <- d$x + 1e3
  d$x_small <- d$x * 1e-3 + 50
  d$b <- factor(rep(1:10, length.out = nrow(d)))
  d
}
