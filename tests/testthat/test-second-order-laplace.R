# The second-order Laplace approximation (glmm_control(laplace_order = 2)):
# its terms against a dense computation of the formula, its fit against the
# exact likelihood of nested quadrature and the published salamander
# estimates, threads, what methods serve, refusals.

so_nested <- function(seed, H = 12L, W = 3L) {
  set.seed(seed)
  d <- expand.grid(patient = 1:4, ward = seq_len(W), hospital = seq_len(H))
  d$hospital <- factor(d$hospital)
  d$hw <- factor(paste(d$hospital, d$ward))
  d$x <- rnorm(nrow(d))
  eta <- -0.2 + 0.6 * d$x + rnorm(H, 0, 0.8)[d$hospital] + rnorm(W * H, 0, 1.2)[as.integer(d$hw)]
  d$y <- rbinom(nrow(d), 1, plogis(eta))
  d$count <- rpois(nrow(d), exp(eta - 1))
  d
}

test_that("the second-order terms equal the dense formula (binomial, Poisson, a random slope)", {
  d <- so_nested(2)
  for (cs in list(list(y ~ x + (1 | hospital) + (1 | hw), binomial()),
                  list(count ~ x + (1 + x | hospital) + (1 | hw), poisson()))) {
    fam <- glmmgee:::resolve_family(cs[[2]])
    mf <- model.frame(glmmgee:::sub_bars(cs[[1]]), d)
    re <- sparse_re_terms(cs[[1]], mf)
    n <- nrow(mf)
    set.seed(1)
    A <- as_dgc(re$Z %*% Matrix::Diagonal(ncol(re$Z), runif(ncol(re$Z), 0.3, 1.2)))
    eta <- rnorm(n, -0.3, 0.8)
    y <- as.numeric(model.response(mf))
    ev <- cpp_family_eval(fam$family_code, fam$link_code, y, rep(1, n), eta, 0)
    S <- solve(as.matrix(Matrix::crossprod(A, A * (-ev$d2))) + diag(ncol(A)))
    # the fourth derivative by differences of the third, as the engine takes it
    hstep <- 1e-4 * pmax(1, abs(eta))
    d4 <- (cpp_family_eval(fam$family_code, fam$link_code, y, rep(1, n), eta + hstep, 0)$d3 -
             cpp_family_eval(fam$family_code, fam$link_code, y, rep(1, n), eta - hstep, 0)$d3) / (2 * hstep)
    Ad <- as.matrix(A)
    h <- Ad %*% S %*% t(Ad)
    hd <- diag(h)
    d3 <- ev$d3
    dense <- sum(d4 * hd^2) / 8 + sum(outer(d3 * hd, d3 * hd) * h) / 8 + sum(outer(d3, d3) * h^3) / 12
    for (nt in 1:2) {
      r <- cpp_second_order_terms(fam$family_code, fam$link_code, y, rep(1, n), eta, A, S, 0, nt)
      expect_equal(r$correction, dense, tolerance = 1e-10)
    }
    # binomial logit: the fourth derivative in closed form, -v (1 - 6 v)
    if (fam$family == "binomial") {
      p <- plogis(eta)
      expect_equal(d4, -p * (1 - p) * (1 - 6 * p * (1 - p)), tolerance = 1e-6)
    }
  }
})

test_that("the second-order fit removes most of Laplace's error on nested designs where quadrature is exact", {
  f <- y ~ x + (1 | hospital) + (1 | hw)
  for (seed in 2:4) {
    d <- so_nested(seed)
    fl <- glmm(f, data = d, family = binomial)
    fq <- glmm(f, data = d, family = binomial, nAGQ = 15)
    fs <- glmm(f, data = d, family = binomial, control = glmm_control(laplace_order = 2))
    expect_match(approximation_label(fs), "Second-order Laplace")
    expect_equal(fs$second_order$laplace_loglik, fl$loglik, tolerance = 1e-8)
    # the wards' SD, where Laplace is 0.11-0.16 low: at most half that error
    # left (the second-order terms overshoot a little)
    err_l <- abs(fl$theta[["hw.(Intercept)"]] - fq$theta[["hw.(Intercept)"]])
    err_s <- abs(fs$theta[["hw.(Intercept)"]] - fq$theta[["hw.(Intercept)"]])
    expect_gt(err_l, 0.1)
    expect_lt(err_s, 0.5 * err_l)
    # and the maximized log-likelihood: within a third of Laplace's error
    expect_lt(abs(fs$loglik - fq$loglik), abs(fl$loglik - fq$loglik) / 3)
    expect_true(all(is.finite(sqrt(diag(fs$cov_theta)))))
    expect_equal(sqrt(diag(fs$cov_theta)), sqrt(diag(fq$cov_theta)), tolerance = 0.1)
  }
})

test_that("the salamander data: the second-order fit is within 0.02 of the published Monte Carlo EM estimates", {
  skip_if_not_installed("glmm")
  data(salamander, package = "glmm", envir = environment())
  fs <- glmm(Mate ~ 0 + Cross + (1 | Female) + (1 | Male), data = salamander, family = binomial,
             control = glmm_control(laplace_order = 2))
  est <- c(fs$coefficients, fs$theta[c("Female.(Intercept)", "Male.(Intercept)")]^2)
  # Booth and Hobert (1999), as in test-importance-sampling.R
  expect_lt(max(abs(est - c(1.03, 0.32, -1.95, 0.99, 1.40, 1.25))), 0.02)
})

test_that("second-order fits: threads, methods, refusals", {
  d <- so_nested(3)
  f <- y ~ x + (1 | hospital) + (1 | hw)
  a <- glmm(f, data = d, family = binomial, control = glmm_control(laplace_order = 2))
  b <- glmm(f, data = d, family = binomial, control = glmm_control(laplace_order = 2, nthreads = 2))
  expect_identical(a$theta, b$theta)
  expect_output(print(summary(a)), "Second-order Laplace approximation")
  expect_error(confint(a, method = "profile"), "second-order Laplace fits")
  expect_error(vcov(a, type = "CR0"), "second-order Laplace fits")
  expect_identical(update(a)$theta, a$theta)
  expect_error(glmm_control(laplace_order = 3), "'laplace_order'")
  expect_error(glmm_control(laplace_order = 2, importance_draws = 500), "give one of them")
  expect_error(glmm(y ~ x + (1 | hospital), data = d, family = binomial,
                    control = glmm_control(laplace_order = 2)), "adaptive quadrature gives the likelihood exactly")
  big <- data.frame(g1 = factor(rep(1:200, length.out = 30001)), g2 = factor(rep(1:150, each = 201)[1:30001]),
                    y = rep(0:1, length.out = 30001))
  err <- tryCatch(glmm(y ~ 1 + (1 | g1) + (1 | g2), data = big, family = binomial,
                       control = glmm_control(laplace_order = 2)), error = identity)
  expect_s3_class(err, "glmmgee_refusal")
  expect_match(conditionMessage(err), "every pair of observations")
})
