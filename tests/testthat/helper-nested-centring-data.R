# Hospitals, wards within them and a binary outcome with a covariate x and
# its far-off copy xf = x * 1e-6 - 5: the data of test-glmm-nested-slope-centring.R and
# test-agq-diagonal-terms.R.
nested_shifted_slope_data <- function() {
  set.seed(3)
  H <- 5; W <- 3; m <- 6
  d <- expand.grid(i = 1:m, ward = 1:W, hospital = 1:H)
  d$hospital <- factor(d$hospital)
  d$ward <- factor(d$ward)
  d$x <- rnorm(nrow(d))
  hw <- interaction(d$hospital, d$ward)
  b0 <- rnorm(H, 0, 0.6)[d$hospital]
  b1 <- rnorm(nlevels(hw), 0, 0.4)[hw]
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.5 * d$x + b0 + b1))
  d$xf <- d$x * 1e-6 - 5
  d
}
