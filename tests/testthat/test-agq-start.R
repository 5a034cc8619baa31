# Starting values from the engine (src/engines/agq/agq-start.cpp).

test_that("the engine's GLM start agrees with glm()", {
  # The start stops at a Newton decrement of 1e-7 relative, so it agrees
  # with glm() to about 1e-3 (relative), not to convergence.
  set.seed(11)
  n <- 400
  x <- rnorm(n); z <- runif(n); off <- rnorm(n, 0, 0.2)
  X <- cbind(1, x, z)
  g <- rep(1:40, each = 10)
  cases <- list(
    list(fam = binomial(), y = rbinom(n, 1, plogis(0.3 + x)), w = rep(1, n)),
    list(fam = binomial("probit"), y = rbinom(n, 1, pnorm(-0.2 + 0.5 * x)), w = rep(1, n)),
    list(fam = binomial("cloglog"), y = rbinom(n, 4, 0.3) / 4, w = rep(4, n)),
    list(fam = poisson(), y = rpois(n, exp(0.5 + 0.3 * x + off)), w = runif(n, 0.5, 2)),
    list(fam = gaussian(), y = 1 + x - z + rnorm(n), w = rep(1, n)))
  for (cs in cases) {
    fam <- glmmgee:::resolve_family(cs$fam)
    e <- glmmgee:::cpp_agq_new(X, matrix(1, n), as.numeric(cs$y), cs$w, off, g, 40L, 0L, 0L,
                               fam$family_code, fam$link_code, 1L, 1L)
    ref <- suppressWarnings(glm.fit(X, cs$y, weights = cs$w, offset = off, family = cs$fam))
    expect_equal(glmmgee:::cpp_agq_glm_start(e, 25L), unname(ref$coefficients),
                 tolerance = 1e-3, label = paste(fam$family, fam$link))
  }
})
