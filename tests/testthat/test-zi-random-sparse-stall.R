# The two-part sparse engine's inner Newton search for the joint mode
# stops where it has stalled at the mode (laplace-zero-re.cpp,
# SparseTwoPart::newton()): on the hard Salamanders ZINB one evaluation of a
# refused-region restart ran all 200 iterations at a Newton decrement of
# 1.3e-15, its line search shortening the step to t = 5e-10 because the
# objective's rounding, not its model, decided it.

test_that("no evaluation of the hard Salamanders ZINB runs the inner search to its cap, and the fit is glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  data("Salamanders", package = "glmmTMB", envir = environment())
  ns <- asNamespace("glmmgee")
  real <- get("cpp_sparse_two_part_grad", ns)
  rec <- list()
  unlockBinding("cpp_sparse_two_part_grad", ns)
  assign("cpp_sparse_two_part_grad", function(ptr, theta) {
    warm <- real_warm(ptr)
    r <- real(ptr, theta)
    rec[[length(rec) + 1L]] <<- list(eng = ptr, theta = theta, warm = warm, r = r)
    r
  }, envir = ns)
  real_warm <- get("cpp_sparse_two_part_warm", ns)
  on.exit({ assign("cpp_sparse_two_part_grad", real, envir = ns); lockBinding("cpp_sparse_two_part_grad", ns) })
  fit <- glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders, family = nbinom2,
              ziformula = ~ (1 | site))
  assign("cpp_sparse_two_part_grad", real, envir = ns)
  it <- vapply(rec, function(e) as.numeric(e$r$iterations), 0)
  expect_length(it, length(rec))
  expect_true(length(it) > 50)
  # Main's build ran one evaluation to 200 iterations; a converged mode
  # needs a few from the last one.
  expect_lt(max(it), 100)
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), zi = ~ (1 | site),
                        data = Salamanders, family = glmmTMB::nbinom2)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(m)), tolerance = 1e-6 / 837)
  # The evaluation with the longest inner search, again from its warm start
  # and from zero modes: the same Laplace value and gradient (a search
  # stopped short of the mode would differ at first order in the gradient).
  k <- which.max(it)
  e <- rec[[k]]
  skip_if(!is.finite(e$r$loglik), "the longest inner search was at a refused point")
  glmmgee:::cpp_sparse_two_part_set_warm(e$eng, e$warm)
  again <- real(e$eng, e$theta)
  expect_identical(again$loglik, e$r$loglik)
  glmmgee:::cpp_sparse_two_part_set_warm(e$eng, 0 * e$warm)
  cold <- real(e$eng, e$theta)
  expect_equal(cold$loglik, e$r$loglik, tolerance = 1e-10)
  expect_equal(cold$gradient, e$r$gradient, tolerance = 1e-5)
})

test_that("simulated ZINB and ZIP with a grouping factor in both parts reach glmmTMB's optimum", {
  skip_if_not_installed("glmmTMB")
  # Known truth: counts by site (40) and species-like groups (7), structural
  # zeros by site (SD 1.5 on the logit scale).
  sim <- function(seed, nb) {
    set.seed(seed)
    n <- 560
    site <- sample(40, n, TRUE); sp <- sample(7, n, TRUE); x <- rnorm(n)
    mu <- exp(0.3 + 0.5 * x + rnorm(40, 0, 0.4)[site] + rnorm(7, 0, 0.6)[sp])
    yc <- if (nb) rnbinom(n, size = 1.5, mu = mu) else rpois(n, mu)
    pz <- plogis(-1 + rnorm(40, 0, 1.5)[site])
    data.frame(site = factor(site), sp = factor(sp), x = x, y = ifelse(runif(n) < pz, 0, yc))
  }
  for (cs in list(list(2, TRUE), list(3, TRUE), list(2, FALSE))) {
    d <- sim(cs[[1]], cs[[2]])
    fit <- glmm(y ~ x + (1 | site) + (1 | sp), data = d, family = if (cs[[2]]) nbinom2 else poisson,
                ziformula = ~ (1 | site))
    m <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + (1 | site) + (1 | sp), zi = ~ (1 | site), data = d,
                                           family = if (cs[[2]]) glmmTMB::nbinom2 else poisson))
    expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(m)), tolerance = 1e-7)
    expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
    # The slope's truth, 0.5, within four standard errors.
    se <- sqrt(diag(vcov(fit)))[["x"]]
    expect_lt(abs(fixef(fit)[["x"]] - 0.5), 4 * se)
  }
})
