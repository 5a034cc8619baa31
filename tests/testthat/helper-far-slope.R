# Shared fixtures of the far-off random slope tests.

# A crossed design (30 x 12) with a random slope on a and an intercept on b;
# gaussian or Poisson y; x2 = x * 1e-6 - 5 is x far from zero in odd units.
far_slope_crossed <- function(seed, family = "gaussian") {
  set.seed(seed)
  d <- expand.grid(a = factor(1:30), b = factor(1:12))
  d$x <- rnorm(nrow(d), 2, 1.5)
  eta <- 0.5 + 0.3 * d$x + rnorm(30, sd = 0.5)[d$a] + (0.2 * rnorm(30))[d$a] * d$x +
    rnorm(12, sd = 0.4)[d$b]
  d$y <- if (family == "gaussian") 2 * eta + rnorm(nrow(d)) else rpois(nrow(d), exp(eta / 2))
  d$x2 <- d$x * 1e-6 - 5
  d
}

# The sd of the slope's random effect of term `g` and its delta-method
# variance from cov_theta (its lambda[1,1], lambda[2,1], lambda[2,2]).
far_slope_sd <- function(fit, g) {
  nm <- names(fit$theta)
  lam <- fit$theta[startsWith(nm, paste0(g, "."))]
  V <- fit$cov_theta[names(lam), names(lam)]
  s <- sqrt(lam[2]^2 + lam[3]^2)
  gr <- c(0, lam[2], lam[3]) / s
  c(sd = unname(s), var = drop(t(gr) %*% V %*% gr))
}
