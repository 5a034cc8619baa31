# The sparse Laplace engine on its own: its value against lme4's deviance at
# the same parameters, its exact gradient against finite differences, the
# selected inverse against a dense inverse, and agreement with the
# one-factor AGQ engine.

test_that("the Laplace value equals lme4's at lme4's estimates (cbpp, crossed)", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4")
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  f <- cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)
  g <- glmer_ref(f, cbpp, binomial)
  e <- sparse_engine_for(f, cbpp, binomial)
  th <- c(lme4::fixef(g), lme4::getME(g, "theta")[e$re$par_names])  # lme4 orders terms by size
  # lme4 stops its mode iterations a little earlier: agreement to 1e-7
  # relative, about 1e-5 on the log-likelihood.
  expect_equal(sparse_ll(e, unname(th)), as.numeric(logLik(g)), tolerance = 1e-6)
})

test_that("the gradient is exact: binomial, poisson, gaussian; crossed, slopes, nested", {
  set.seed(1)
  n <- 240
  d <- data.frame(x = rnorm(n), g = factor(sample(1:20, n, TRUE)),
                  h = factor(sample(1:7, n, TRUE)))
  d$yb <- rbinom(n, 1, 0.4); d$yp <- rpois(n, 2); d$yg <- rnorm(n)
  forms <- list(~ x + (1 | g) + (1 | h), ~ x + (x | g) + (1 | h), ~ x + (1 | g/h))
  fams <- list(list(binomial, "yb"), list(poisson, "yp"), list(gaussian, "yg"))
  for (f in forms) for (fm in fams) {
    ff <- stats::as.formula(paste(fm[[2]], paste(deparse(f), collapse = "")))
    e <- sparse_engine_for(ff, d, fm[[1]])
    np <- ncol(e$X) + e$re$ntheta + (fm[[2]] == "yg")
    th <- c(0.2, -0.3, 0.6 + 0.1 * seq_len(e$re$ntheta), if (fm[[2]] == "yg") -0.2)[seq_len(np)]
    r <- glmmgee:::cpp_sparse_eval(e$eng, th, TRUE)
    num <- central_grad(function(t) sparse_ll(e, t), th)
    expect_equal(r$gradient, num, tolerance = 1e-6, label = paste(deparse(ff), "gradient"))
  }
})

test_that("selected inverse and log-determinant agree with dense algebra", {
  set.seed(3)
  n <- 300
  d <- data.frame(x = rnorm(n), a = factor(sample(1:25, n, TRUE)),
                  b = factor(sample(1:9, n, TRUE)))
  d$y <- rpois(n, exp(0.3 + 0.2 * d$x))
  e <- sparse_engine_for(y ~ x + (x | a) + (1 | b), d, poisson)
  th <- c(0.3, 0.2, 0.5, 0.1, 0.3, 0.4)
  m <- glmmgee:::cpp_sparse_modes(e$eng, th)
  Lam <- Matrix::sparseMatrix(i = e$re$lam_row, j = e$re$lam_col, x = th[2 + e$re$lam_k],
                              dims = rep(ncol(e$re$Z), 2))
  A <- e$re$Z %*% Lam
  H <- as.matrix(Matrix::crossprod(A, m$w * A)) + diag(ncol(A))
  expect_equal(m$inv_x, solve(H)[cbind(m$inv_i, m$inv_j)], tolerance = 1e-10)
  expect_equal(m$logdet, as.numeric(determinant(H)$modulus), tolerance = 1e-10)
  # the mode solves A' d1 - u = 0
  expect_lt(max(abs(as.numeric(Matrix::crossprod(A, d$y - exp(m$eta))) - m$u)), 1e-8)
})

test_that("one grouping factor: the sparse engine equals the AGQ engine at nAGQ = 1", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4")
  d <- sim_binary_q2()$data
  f <- y ~ time + trt + (time | id)
  e <- sparse_engine_for(f, d, binomial)
  fit <- glmm(f, d, family = binomial, nAGQ = 1)
  lam <- fit$Lambda[lower.tri(fit$Lambda, diag = TRUE)]
  th <- c(unname(fixef(fit)), lam)
  expect_equal(sparse_ll(e, th), as.numeric(logLik(fit)), tolerance = 1e-9)
  # At the optimum both gradients are ~1e-5, near the level (~1e-9) at which
  # each engine's mode search leaves them, so a relative comparison there
  # measures that noise; away from the optimum the two must agree closely.
  th_off <- th + c(0.05, -0.05, 0.05, 0.1, 0.05, -0.05)
  expect_equal(glmmgee:::cpp_sparse_eval(e$eng, th_off, TRUE)$gradient,
               glmmgee:::cpp_agq_eval(engine_of(fit), th_off, TRUE)$gradient, tolerance = 1e-6)
  # and the fit through the sparse fitter reaches the same optimum
  fam <- glmmgee:::resolve_family(binomial)
  s <- glmmgee:::glmm_sparse_fit(e$X, e$y, e$re, fam, e$w, rep(0, nrow(d)), glmm_control())
  expect_equal(s$loglik, as.numeric(logLik(fit)), tolerance = 1e-7)
  expect_equal(unname(s$beta), unname(fixef(fit)), tolerance = 1e-4)
  expect_equal(s$terms[[1]]$D, fit$D, tolerance = 1e-3, ignore_attr = TRUE)
})
