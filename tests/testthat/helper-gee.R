# Shared fixtures for the GEE tests: data sets shipped with R packages and
# simulated clustered data, each in a sorted copy (for geepack, which needs
# clusters in contiguous rows) and a shuffled copy (for glmmgee).

gee_tight <- function() geepack::geese.control(epsilon = 1e-12, maxit = 200)

shuffle_rows <- function(d, seed = 42) {
  set.seed(seed)
  d[sample(nrow(d)), , drop = FALSE]
}

resp_data <- function() {
  e <- new.env()
  utils::data("respiratory", package = "geepack", envir = e)
  d <- e$respiratory
  d$cid <- d$center * 1000 + d$id
  d[order(d$cid, d$visit), ]
}

ohio_data <- function() {
  e <- new.env()
  utils::data("ohio", package = "geepack", envir = e)
  d <- e$ohio
  d$wave <- d$age + 3L
  d[order(d$id, d$wave), ]
}

dietox_data <- function() {
  e <- new.env()
  utils::data("dietox", package = "geepack", envir = e)
  d <- e$dietox
  d[order(d$Pig, d$Time), ]
}

gee_bacteria_data <- function() {
  d <- MASS::bacteria
  d$yy <- as.integer(d$y == "y")
  d$wave <- as.integer(factor(d$week))  # visit number 1..5 (weeks 0, 2, 4, 6, 11)
  d[order(d$ID, d$wave), ]
}

epil_data <- function() {
  d <- MASS::epil
  d[order(d$subject, d$period), ]
}

# Clustered data with unequal cluster sizes and missing visits (waves), a
# correlated latent effect, and rows in cluster/wave order.
sim_gee_data <- function(M = 150, T = 6, family = "binomial", seed = 1) {
  set.seed(seed)
  d <- expand.grid(wave = seq_len(T), id = seq_len(M))
  d <- d[, c("id", "wave")]
  b <- rnorm(M, sd = 0.8)
  u <- b[d$id] + stats::filter(rnorm(nrow(d)), 0.5, method = "recursive")
  d$x1 <- rnorm(nrow(d))
  d$x2 <- rep(rbinom(M, 1, 0.5), each = T)
  eta <- -0.3 + 0.6 * d$x1 - 0.5 * d$x2 + 0.1 * d$wave
  d$expo <- runif(nrow(d), 0.5, 2)
  d$y <- switch(family,
                binomial = rbinom(nrow(d), 1, plogis(eta + u)),
                poisson = rpois(nrow(d), d$expo * exp(0.2 * eta + 0.4 * as.numeric(u))),
                gaussian = 2 + eta + u + rnorm(nrow(d)))
  keep <- runif(nrow(d)) > 0.25 | d$wave == 1  # missing visits, unequal sizes
  d[keep, ]
}

# Compares a glmmgee fit with a geeglm fit at relative tolerance tol.
expect_same_as_geeglm <- function(f, g, tol = 1e-6, info = NULL) {
  expect_equal(coef(f), coef(g), tolerance = tol, info = info)
  expect_equal(unname(f$alpha), unname(g$geese$alpha), tolerance = tol, info = info)
  expect_equal(f$scale, unname(g$geese$gamma), tolerance = tol, info = info)
  expect_equal(unname(vcov(f, type = "san.se")), unname(g$geese$vbeta),
               tolerance = tol, info = info)
  expect_equal(unname(vcov(f, type = "model")), unname(g$geese$vbeta.naiv),
               tolerance = tol, info = info)
}
