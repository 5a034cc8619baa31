# Shared by test-zi-dispersion-limit.R and test-dispersion-limit.R: fits that keep their
# warnings, and counts whose negative binomial dispersion runs to its
# Poisson limit in some rows.

fit_quiet <- function(...) {
  w <- character()
  f <- withCallingHandlers(glmm(...), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  list(fit = f, warnings = w)
}

# Dispersion formulas with covariates: the limit is a region of the
# coefficients. Poisson counts drive every row's dispersion there (all
# dispformula coefficients diverge); counts that are Poisson in one level
# of a factor and overdispersed in the other drive that level's only.
displim_mixed <- function(seed, xgen = stats::rnorm, mixed = TRUE) {
  set.seed(seed)
  M <- 60; n <- 8
  g <- rep(seq_len(M), each = n)
  x <- xgen(M * n)
  z <- rnorm(M * n)
  b <- rnorm(M, 0, 0.4)
  mu <- exp(0.5 + 0.3 * z + b[g])
  f <- factor(rep(c("a", "b"), length.out = M * n))
  y <- rpois(M * n, mu)
  if (mixed) y[f == "b"] <- rnbinom(sum(f == "b"), mu = mu[f == "b"], size = 1.5)
  y[runif(M * n) < 0.2] <- 0
  data.frame(y = y, x = x, z = z, g = factor(g), f = f,
             h = factor(rep(1:10, length.out = M * n)))
}

disp_se <- function(f) sqrt(diag(f$cov_theta))[f$aux$disp_index]

