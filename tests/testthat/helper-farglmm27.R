# The simulated crossed design of the farglmm27 tests (test-farglmm27.R):
# 30 x 12 levels of a and b, x ~ N(2, 1.5^2), binary yb and count yp
# with a random slope on a and an intercept on b, and x2 = x * 1e-6 - 5, x
# far from zero in odd units (no random numbers drawn for it).
fg27_sim <- function(seed = 2701) {
  set.seed(seed)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  ra <- rnorm(30)
  rs <- rnorm(30)
  rb <- rnorm(12)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.5 * d$x + ra[d$a] + 0.4 * rs[d$a] * d$x +
                                      0.7 * rb[d$b]))
  d$yp <- rpois(nrow(d), exp(0.5 + 0.2 * d$x + 0.4 * ra[d$a] + 0.15 * rs[d$a] * d$x +
                               0.4 * rb[d$b]))
  d$x2 <- d$x * 1e-6 - 5
  d
}
