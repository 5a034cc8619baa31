# Gaussian identity-link models with covariance structures beside other
# random-effect terms: the exact profiled criterion (ML and REML;
# fit-lmm-sparse-covstruct.R, src/engines/lmm/lmm-sparse-selinv.cpp) against glmmTMB,
# against the sparse Laplace route (exact for these models), under changes
# of the covariates' units, and its gradient against differences.

# ML fits take the profiled criterion only on request (REML always).
withr::local_options(glmmgee.covstruct_profiled = TRUE)

# Known truth: AR(1) (rho 0.6, sd 0.9) over `n` times within `group`, a site
# effect (sd 0.6) crossed with the groups or with groups nested in sites,
# residual sd 0.7.
# `reps` observations per group and time (cs(), diag() and homdiag() need
# more than one: with one, their variances and the residual's are confounded).
sim_lmm_site <- function(seed, M, n = 4, S = 12, nested = FALSE, reps = 1L) {
  set.seed(seed)
  R <- 0.6^abs(outer(seq_len(n), seq_len(n), "-"))
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) * 0.9
  N <- M * n * reps
  d <- data.frame(times = factor(rep(rep(seq_len(n), each = reps), M)),
                  group = factor(rep(seq_len(M), each = n * reps)), x = stats::rnorm(N))
  d$site <- if (nested) factor(((as.integer(d$group) - 1L) %% S) + 1L)
            else factor(sample(S, N, replace = TRUE))
  d$y <- 1 + 0.4 * d$x + rep(as.vector(t(b)), each = reps) + stats::rnorm(S, 0, 0.6)[d$site] +
    stats::rnorm(N, 0, 0.7)
  d
}

# Each structure's standard deviations and correlation from glmmTMB's fit.
expect_matches_tmb <- function(f, m, kind) {
  expect_gte(loglik_value(f), loglik_value(m) - 1e-7)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  s <- f$structures
  expect_equal(unname(s[[1L]]$sd), tmb_sd(m, "group"), tolerance = 1e-4)
  if (kind %in% c("ar1", "cs")) expect_equal(unname(s[[1L]]$rho), tmb_rho(m, "group"), tolerance = 1e-4)
  expect_equal(unname(s[[2L]]$sd), tmb_sd(m, "site"), tolerance = 1e-4)
  expect_equal(sigma(f), sigma(m), tolerance = 1e-4)
}

test_that("ar1() beside a crossed site intercept: ML and REML match glmmTMB, truth recovered", {
  skip_if_not_installed("glmmTMB")
  d <- sim_lmm_site(1, 300)
  form <- y ~ x + ar1(times + 0 | group) + (1 | site)
  for (reml in c(FALSE, TRUE)) {
    f <- glmm(form, d, REML = reml)
    m <- glmmTMB::glmmTMB(form, d, REML = reml)
    expect_s3_class(f, "glmmgee_glmm_covstruct")
    expect_s3_class(f, "glmmgee_glmm_sparse")
    expect_identical(isTRUE(f$REML), reml)
    expect_match(f$optinfo$method, if (reml) "REML" else "profiled")
    expect_equal(f$optinfo$convergence, 0L)
    expect_matches_tmb(f, m, "ar1")
    expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(m)$cond))), tolerance = 1e-3)
    # 300 groups of 4: rho's standard error is about 0.05.
    expect_lt(abs(f$structures[[1L]]$rho - 0.6), 0.15)
    expect_lt(abs(f$structures[[1L]]$sd[1L] - 0.9), 0.15)
    expect_equal(attr(logLik(f), "df"), 6)
    expect_true(all(is.finite(confint(f, method = "Wald"))))
  }
})

test_that("cs() and diag() beside a crossed or nested intercept match glmmTMB (ML, REML)", {
  skip_if_not_installed("glmmTMB")
  for (nested in c(FALSE, TRUE)) {
    d <- sim_lmm_site(2 + nested, 100, n = 3, S = 15, nested = nested, reps = 2L)
    for (kind in c("cs", "diag")) {
      form <- stats::as.formula(sprintf("y ~ x + %s(0 + times | group) + (1 | site)", kind))
      for (reml in c(FALSE, TRUE)) {
        f <- glmm(form, d, REML = reml)
        m <- glmmTMB::glmmTMB(form, d, REML = reml)
        expect_equal(f$optinfo$convergence, 0L)
        expect_matches_tmb(f, m, kind)
      }
    }
  }
})

test_that("the profiled criterion reaches the sparse Laplace route's optimum", {
  d <- sim_lmm_site(4, 120, S = 10)
  form <- y ~ x + ar1(0 + times | group) + (1 | site)
  f <- glmm(form, d)
  f0 <- withr::with_options(list(glmmgee.covstruct_profiled = FALSE), glmm(form, d))
  expect_match(f$optinfo$method, "profiled")
  expect_match(f0$optinfo$method, "Laplace")
  expect_equal(loglik_value(f), loglik_value(f0), tolerance = 1e-8)
  expect_gte(loglik_value(f), loglik_value(f0) - 1e-7)
  expect_equal(abs(f$theta_structure), abs(f0$theta_structure), tolerance = 1e-4)  # signs of Lambda entries: not identified
  # The same observed information: standard errors agree.
  expect_equal(sqrt(diag(f$cov_structure)), sqrt(diag(f0$cov_structure)), tolerance = 1e-3)
})

test_that("homdiag() beside a site intercept: the sparse Laplace route's optimum", {
  # (the installed glmmTMB has no homdiag())
  for (nested in c(FALSE, TRUE)) {
    d <- sim_lmm_site(9 + nested, 100, n = 3, S = 15, nested = nested, reps = 2L)
    form <- y ~ x + homdiag(0 + times | group) + (1 | site)
    f <- glmm(form, d)
    f0 <- withr::with_options(list(glmmgee.covstruct_profiled = FALSE), glmm(form, d))
    expect_gte(loglik_value(f), loglik_value(f0) - 1e-7)
    expect_equal(abs(f$theta_structure), abs(f0$theta_structure), tolerance = 1e-4)  # signs of Lambda entries: not identified
    fr <- glmm(form, d, REML = TRUE)
    expect_equal(fr$optinfo$convergence, 0L)
    expect_gt(fr$structures[[1L]]$sd[[1L]], f$structures[[1L]]$sd[[1L]] * 0.9)
  }
})

test_that("the optimum does not depend on the covariates' units or centring", {
  d <- sim_lmm_site(5, 100)
  d$xs <- (d$x - 3) * 1000
  f1 <- glmm(y ~ x + ar1(0 + times | group) + (1 | site), d)
  f2 <- glmm(y ~ xs + ar1(0 + times | group) + (1 | site), d)
  expect_equal(loglik_value(f1), loglik_value(f2), tolerance = 1e-9)
  expect_equal(fixef(f1)[["x"]], 1000 * fixef(f2)[["xs"]], tolerance = 1e-6)
  expect_equal(f1$structures[[1L]]$rho, f2$structures[[1L]]$rho, tolerance = 1e-6)
  expect_equal(unname(f1$structures[[2L]]$sd), unname(f2$structures[[2L]]$sd), tolerance = 1e-6)
  # The response's units scale every standard deviation.
  d$y1000 <- 1000 * d$y
  f3 <- glmm(y1000 ~ x + ar1(0 + times | group) + (1 | site), d, REML = TRUE)
  f4 <- glmm(y ~ x + ar1(0 + times | group) + (1 | site), d, REML = TRUE)
  expect_equal(sigma(f3), 1000 * sigma(f4), tolerance = 1e-6)
  expect_equal(f3$structures[[1L]]$sd, 1000 * f4$structures[[1L]]$sd, tolerance = 1e-6)
  expect_equal(f3$structures[[1L]]$rho, f4$structures[[1L]]$rho, tolerance = 1e-6)
})

test_that("the criterion's gradient (selected inverse, Cholesky Jacobian) is exact", {
  d <- sim_lmm_site(6, 40, S = 6)
  form <- y ~ x + cs(0 + times | group) + (1 + x | site)
  mf <- model.frame(glmmgee:::covstruct_frame_formula(form), d)
  re <- glmmgee:::sparse_covstruct_terms(form, mf)
  X <- model.matrix(~ x, d)
  w <- runif(nrow(d), 0.5, 2)
  st <- glmmgee:::lmm_sparse_setup(X, d$y, re, w, rep(0.1, nrow(d)))
  npar <- vapply(re$terms, function(t) t$struct$npar, 1L)
  k0 <- split(seq_len(sum(npar)), rep(seq_along(npar), npar))
  set.seed(7)
  phi <- c(log(c(0.8, 1.1, 0.9, 1.2)), 0.4, 0.7, 0.2, 0.5)
  for (reml in c(FALSE, TRUE)) {
    obj <- glmmgee:::lmm_covstruct_objective(st, re$terms, k0, reml)
    g <- obj$gr(phi)
    num <- vapply(seq_along(phi), function(j) {
      h <- 1e-5
      (obj$fn(replace(phi, j, phi[j] + h)) - obj$fn(replace(phi, j, phi[j] - h))) / (2 * h)
    }, 1)
    expect_equal(g, num, tolerance = 1e-6)
  }
  # The sparse gradient in Lambda's entries is the dense one.
  th <- obj$theta(phi)
  a <- glmmgee:::cpp_lmmsp_grad_sparse(st$eng, th)
  b <- glmmgee:::cpp_lmmsp_grad(st$eng, th, 10000L)
  expect_equal(a$grad_ldL2, b$grad_ldL2, tolerance = 1e-10)
  expect_equal(a$grad_ldRX2, b$grad_ldRX2, tolerance = 1e-10)
  expect_equal(a$grad_pwrss, b$grad_pwrss, tolerance = 1e-10)
  # The log-likelihood with sigma free: its gradient against differences.
  roles <- glmmgee:::lmm_covstruct_roles(re$terms)
  par <- c(glmmgee:::lmm_covstruct_relative(phi, roles, -log(0.7)), log(0.7))
  for (reml in c(FALSE, TRUE)) {
    l <- function(x) glmmgee:::lmm_covstruct_loglik(st, re$terms, k0, roles, reml, x)
    num <- vapply(seq_along(par), function(j) {
      h <- 1e-5
      (l(replace(par, j, par[j] + h))$loglik - l(replace(par, j, par[j] - h))$loglik) / (2 * h)
    }, 1)
    expect_equal(l(par)$gradient, num, tolerance = 1e-6)
  }
})

test_that("REML with structures is refused where it is not defined, naming the problem", {
  d <- sim_lmm_site(8, 20, n = 3)
  d$count <- rpois(nrow(d), 2)
  expect_error(glmm(count ~ ar1(0 + times | group) + (1 | site), d, family = poisson, REML = TRUE),
               "REML")
  expect_error(glmm(y ~ ar1(0 + times | group) + (1 | site), d, REML = NA), "REML")
})

# The REML criterion of y ~ N(X beta, Sigma) with Sigma block diagonal over
# `group`, each block S(par) (Patterson & Thompson 1971), maximized by
# optim(): the reference for a structure on one grouping factor.
reml_blocks <- function(y, X, group, S, par0) {
  idx <- split(seq_along(y), group)
  crit <- function(par) {
    xsx <- matrix(0, ncol(X), ncol(X)); xsy <- numeric(ncol(X)); ld <- 0
    blocks <- lapply(idx, function(i) {
      R <- chol(S(par, length(i)))
      ld <<- ld + 2 * sum(log(diag(R)))
      Xi <- backsolve(R, X[i, , drop = FALSE], transpose = TRUE)
      yi <- backsolve(R, y[i], transpose = TRUE)
      xsx <<- xsx + crossprod(Xi); xsy <<- xsy + drop(crossprod(Xi, yi))
      list(Xi = Xi, yi = yi)
    })
    b <- solve(xsx, xsy)
    rss <- sum(vapply(blocks, function(k) sum((k$yi - k$Xi %*% b)^2), 1))
    -0.5 * (ld + determinant(xsx)$modulus[[1L]] + rss + (length(y) - ncol(X)) * log(2 * pi))
  }
  # (a step of the search that leaves the positive definite blocks is
  # refused by a very low value)
  safe <- function(par) tryCatch(crit(par), error = function(e) -1e10)
  o <- stats::optim(par0, safe, method = "BFGS", control = list(fnscale = -1, reltol = 1e-14,
                                                                maxit = 1000L))
  list(value = o$value, par = o$par)
}

test_that("REML with a structure on one grouping factor: the exact criterion, lmer's where it is lmer's model", {
  # (one grouping factor goes to the same profiled criterion as several)
  d <- sim_lmm_site(4, 80, n = 5)
  X <- cbind(1, d$x)
  # ar1(): sd^2 rho^|j - k| + sigma^2 on each group's 5 times
  f <- glmm(y ~ x + ar1(0 + times | group), d, REML = TRUE)
  expect_match(f$optinfo$method, "REML")
  expect_equal(f$optinfo$convergence, 0L)
  ar1_S <- function(par, n) exp(2 * par[1]) * tanh(par[2])^abs(outer(1:n, 1:n, "-")) +
    diag(exp(2 * par[3]), n)
  r <- reml_blocks(d$y, X, d$group, ar1_S, c(0, 0.5, 0))
  expect_equal(as.numeric(logLik(f)), r$value, tolerance = 1e-8)
  st <- f$structures[[1L]]
  expect_equal(unname(c(st$sd[1L], st$rho, sigma(f))),
               c(exp(r$par[1]), tanh(r$par[2]), exp(r$par[3])), tolerance = 1e-4)
  expect_gte(as.numeric(logLik(f)), r$value - 1e-8)
  # homcs(): sd^2 (rho + (1 - rho) I) + sigma^2 I, two observations per
  # time, rho in (-1/2, 1) for its 3 times
  d2 <- sim_lmm_site(5, 60, n = 3, reps = 2L)
  f2 <- glmm(y ~ x + homcs(0 + times | group), d2, REML = TRUE)
  cs_S <- function(par, n) {
    k <- as.integer(d2$times[seq_len(n)])  # each group's rows in the same order
    rho <- -0.5 + 1.5 * stats::plogis(par[2])
    C <- outer(k, k, function(a, b) ifelse(a == b, 1, rho))
    exp(2 * par[1]) * C + diag(exp(2 * par[3]), n)
  }
  r2 <- reml_blocks(d2$y, cbind(1, d2$x), d2$group, cs_S, c(0, 0.3, 0))
  expect_equal(as.numeric(logLik(f2)), r2$value, tolerance = 1e-8)
  expect_equal(unname(f2$structures[[1L]]$rho), -0.5 + 1.5 * stats::plogis(r2$par[2]),
               tolerance = 1e-4)
  # diag() and us() are lmer's (x || g) and (x | g)
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4")
  for (k in c("diag", "us")) {
    f3 <- glmm(as.formula(sprintf("Reaction ~ Days + %s(1 + Days | Subject)", k)), sleepstudy,
               REML = TRUE)
    l3 <- lme4::lmer(if (k == "diag") Reaction ~ Days + (1 + Days || Subject)
                     else Reaction ~ Days + (1 + Days | Subject), sleepstudy, REML = TRUE)
    expect_equal(as.numeric(logLik(f3)), as.numeric(logLik(l3)), tolerance = 1e-8, label = k)
    expect_equal(unname(fixef(f3)), unname(lme4::fixef(l3)), tolerance = 1e-6, label = k)
    expect_equal(unname(sqrt(diag(vcov(f3)))), unname(sqrt(diag(as.matrix(vcov(l3))))),
                 tolerance = 1e-4, label = k)
  }
  # the methods, as on other REML fits
  expect_true(all(is.finite(confint(f, method = "Wald"))))
  expect_equal(attr(logLik(f), "df"), 5)
  expect_lt(as.numeric(logLik(f, REML = FALSE)), as.numeric(logLik(f)) + 10)
  expect_error(glmm(y ~ x + ar1(0 + times | group), d, REML = TRUE, start = c(1, 0)), "start")
  # cs() with one observation per subject and time: the residual variance
  # is confounded with the structure's, sigma goes to its zero limit; the
  # fit is a converged singular one at the criterion's maximum (it said
  # "the optimizer did not converge: false convergence" beside that)
  set.seed(1)
  d4 <- expand.grid(time = 1:5, subj = factor(1:30))
  d4$times <- factor(d4$time)
  d4$x <- rnorm(150)
  e <- t(sapply(1:30, function(i) {
    v <- numeric(5)
    v[1] <- rnorm(1)
    for (t in 2:5) v[t] <- 0.6 * v[t - 1] + 0.8 * rnorm(1)
    v
  }))
  d4$y <- 1 + 0.5 * d4$x + 0.3 * d4$time + 1.5 * as.vector(t(e)) + rnorm(150, sd = 0.7)
  f4 <- suppressWarnings(glmm(y ~ x + time + cs(0 + times | subj), d4, REML = TRUE))
  expect_true(f4$optinfo$converged)
  expect_identical(f4$optinfo$convergence, 0L)
  expect_true(f4$singular)
  expect_false(any(grepl("did not converge", f4$optinfo$warnings)))
  hcs_S <- function(par, n) {
    rho <- -0.25 + 1.25 * stats::plogis(par[6])
    D <- diag(exp(par[1:5]))
    D %*% (rho + (1 - rho) * diag(5)) %*% D + diag(exp(2 * par[7]), 5)
  }
  r4 <- reml_blocks(d4$y, cbind(1, d4$x, d4$time), d4$subj, hcs_S, c(rep(0, 5), 0, -1))
  expect_gte(as.numeric(logLik(f4)), r4$value - 1e-6)
  expect_equal(as.numeric(logLik(f4)), r4$value, tolerance = 1e-6)
  # nAGQ does not change the exact criterion (as for REML without structures)
  f5 <- glmm(y ~ x + ar1(0 + times | group), d, REML = TRUE, nAGQ = 5)
  expect_equal(as.numeric(logLik(f5)), as.numeric(logLik(f)), tolerance = 1e-12)
})

# Review cases (60 groups of 4, one observation per group and time): a
# structure beside `(1 | group)` on the same groups, where a structure's
# variance can take the residual's part and the optimum lies at a
# correlation limit. glmmTMB's criterion at its optimum (-fit$objective,
# its log-likelihood also where its Hessian gives none) bounds ours from
# below; the boundary is flagged, verified and warned about; the fixed
# effects keep finite standard errors.
tmb_ll <- function(m) -m$fit$objective

expect_boundary_fit <- function(f, m) {
  expect_gte(loglik_value(f), tmb_ll(m) - 1e-6)
  expect_true(f$singular)
  expect_gt(length(f$optinfo$boundary_check$boundary_index), 0L)
  expect_true(f$optinfo$boundary_check$performed)
  expect_true(f$optinfo$boundary_check$verified)
  expect_true(any(grepl("singular fit", f$optinfo$warnings)))
  expect_true(all(is.finite(sqrt(diag(vcov(f))))))
}

test_that("ar1() beside (1 | group): REML and ML reach glmmTMB's optimum at rho = -1", {
  skip_if_not_installed("glmmTMB")
  form <- y ~ x + ar1(0 + times | group) + (1 | group) + (1 | site)
  for (seed in c(1, 3)) {
    d <- sim_lmm_site(seed, 60)
    for (reml in c(TRUE, FALSE)) {
      f <- expect_no_error(suppressWarnings(glmm(form, d, REML = reml)))
      m <- suppressWarnings(glmmTMB::glmmTMB(form, d, REML = reml))
      expect_boundary_fit(f, m)
      expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-3)
    }
    if (seed == 1) expect_equal(f$structures[[1L]]$rho, -1, tolerance = 1e-3)
  }
  # The ML optimum is the sparse Laplace route's (exact for this model).
  d <- sim_lmm_site(1, 60)
  f1 <- suppressWarnings(glmm(form, d))
  f0 <- withr::with_options(list(glmmgee.covstruct_profiled = FALSE), suppressWarnings(glmm(form, d)))
  expect_equal(loglik_value(f1), loglik_value(f0), tolerance = 1e-6 / abs(loglik_value(f0)))
})

test_that("cs() at a correlation limit: reported as a boundary, never an error", {
  skip_if_not_installed("glmmTMB")
  form <- y ~ x + cs(0 + times | group) + (1 | group) + (1 | site)
  # Seed 2: rho at its lower limit -1 / (q - 1) (the user's-units
  # refactorisation failed there); seed 4: rho at 1.
  for (seed in c(2, 4)) {
    d <- sim_lmm_site(seed, 60)
    for (reml in c(TRUE, FALSE)) {
      f <- expect_no_error(suppressWarnings(glmm(form, d, REML = reml)))
      m <- suppressWarnings(glmmTMB::glmmTMB(form, d, REML = reml))
      expect_boundary_fit(f, m)
    }
    expect_equal(f$structures[[1L]]$rho, if (seed == 2) -1 / 3 else 1, tolerance = 1e-3)
  }
  d <- sim_lmm_site(1, 60)
  form <- y ~ x + cs(0 + times | group) + (1 | site)
  for (reml in c(TRUE, FALSE)) {
    f <- suppressWarnings(glmm(form, d, REML = reml))
    m <- suppressWarnings(glmmTMB::glmmTMB(form, d, REML = reml))
    expect_boundary_fit(f, m)
    expect_equal(f$structures[[1L]]$rho, 1, tolerance = 1e-3)
  }
})

test_that("the structured route's convergence report is the other routes'", {
  # Scaled gradient (Newton step over the free parameters) and the boundary
  # record, as DESIGN.md asks of every route.
  d <- sim_lmm_site(1, 60)
  f <- suppressWarnings(glmm(y ~ x + ar1(0 + times | group) + (1 | group) + (1 | site), d,
                             REML = TRUE))
  expect_true(is.finite(f$optinfo$scaled_grad))
  expect_lt(f$optinfo$scaled_grad, glmm_control()$grad_tol)
  expect_false(any(grepl("doubtful", f$optinfo$warnings)))
  expect_match(f$optinfo$boundary_check$message, "verified")
})
