# The two-part engines' per-row negative binomial constants: exp(phi) and
# the log-gamma and digamma differences at y are computed once per
# evaluation (TwoPartRE::row_const(), families-aux-re.h) instead of on
# every pass of the inner search. They depend on theta
# through the row's dispersion, so a value left over from an evaluation at
# another dispersion would give a wrong log-likelihood: here the dispersion
# varies by row (dispformula ~ w), and each engine is evaluated elsewhere
# first.

row_constants_engine <- function(d, kind, fam = glmmgee::nbinom2(), wt = rep(1, nrow(d))) {
  n <- nrow(d)
  fam <- glmmgee:::resolve_family(fam)
  ind <- function(f) Matrix::sparseMatrix(i = seq_len(n), j = as.integer(f), x = 1,
                                          dims = c(n, nlevels(f)))
  qa <- nlevels(d$a); qc <- nlevels(d$c)
  Zc <- ind(d$a)
  Zz <- cbind(ind(d$a), ind(d$c))
  lr <- seq_len(qa) - 1L
  zr <- c(seq_len(qa), qa + seq_len(qc)) - 1L
  lk <- c(rep(0L, qa), rep(1L, qa), rep(2L, qc))
  Xd <- if (glmmgee:::has_dispersion(fam)) cbind(1, d$w) else matrix(0, n, 0)
  glmmgee:::cpp_sparse_two_part_new(cbind(1, d$x), cbind(1, d$w), Xd,
                           methods::as(Zc, "CsparseMatrix"), methods::as(Zz, "CsparseMatrix"),
                           as.numeric(d$y), wt, matrix(0, n, 3), c(lr, zr + qa),
                           c(lr, zr + qa), lk, 3L, fam$family_code, fam$link_code, kind)
}

row_constants_data <- function(seed, hurdle = FALSE) {
  set.seed(seed)
  n <- 300
  d <- data.frame(a = factor(sample(12, n, TRUE)), c = factor(sample(5, n, TRUE)),
                  x = rnorm(n), w = rbinom(n, 1, 0.5))
  mu <- exp(1 + 0.4 * d$x + rnorm(12, 0, 0.5)[d$a])
  pz <- plogis(-0.6 + 0.7 * d$w + rnorm(5, 0, 0.6)[d$c])
  # Counts above 8 take nb_lgamma_diff()'s log-gamma branch, smaller ones
  # its sum of log1p().
  yc <- rnbinom(n, size = exp(0.3 + 0.8 * d$w), mu = mu)
  if (hurdle) yc <- pmax(1, yc)
  d$y <- ifelse(runif(n) < pz, 0, yc)
  d
}

test_that("the two-part sparse engine's nbinom2 value follows a per-row dispersion from one evaluation to the next", {
  # Lambda = 0: H = I and the modes are 0, so the Laplace value is the
  # log-likelihood itself (dnbinom(), size = exp(delta1 + delta2 w)).
  for (hurdle in c(FALSE, TRUE)) {
    d <- row_constants_data(if (hurdle) 272 else 271, hurdle)
    expect_true(any(d$y > 8) && any(d$y > 0 & d$y <= 8))
    eng <- row_constants_engine(d, if (hurdle) 2L else 1L)
    thetas <- list(c(0.4, 0.3, 0, 0, 0, -0.5, 0.6, 0.4, 0.9),
                   c(-0.2, 0.5, 0, 0, 0, 0.3, -0.4, -1.1, 2.0),
                   c(1.2, -0.3, 0, 0, 0, -1.5, 1.0, 2.3, -1.7))
    for (th in thetas) {
      mu <- exp(th[1] + th[2] * d$x)
      pz <- plogis(th[6] + th[7] * d$w)
      size <- exp(th[8] + th[9] * d$w)
      ll <- zinb2_loglik_ref(d$y, mu, pz, size, hurdle)
      expect_equal(glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th)), ll, tolerance = 1e-12,
                   label = sprintf("hurdle %s, theta %s", hurdle, paste(th, collapse = " ")))
    }
  }
})

test_that("a reused sparse two-part engine gives a fresh engine's value and gradient at another dispersion", {
  # With random effects: the same mode from either warm start, so the value
  # and gradient agree; stale rows' constants (those of the dispersion
  # evaluated before) would move the value by far more.
  for (hurdle in c(FALSE, TRUE)) {
    d <- row_constants_data(if (hurdle) 274 else 273, hurdle)
    th <- c(0.4, 0.3, 0.5, 0.7, 0.6, -0.5, 0.6, 0.4, 0.9)
    before <- replace(th, 8:9, c(-1, -0.5))
    fresh <- glmmgee:::cpp_sparse_two_part_grad(row_constants_engine(d, if (hurdle) 2L else 1L), th)
    eng <- row_constants_engine(d, if (hurdle) 2L else 1L)
    expect_true(is.finite(glmmgee:::cpp_sparse_two_part_grad(eng, before)$loglik))
    again <- glmmgee:::cpp_sparse_two_part_grad(eng, th)
    expect_true(is.finite(fresh$loglik))
    expect_equal(again$loglik, fresh$loglik, tolerance = 1e-10)
    expect_equal(again$gradient, fresh$gradient, tolerance = 1e-7)
    # And the gradient in the dispersion coefficients is the value's.
    h <- 1e-5
    num <- vapply(8:9, function(k) {
      e <- replace(numeric(9), k, h)
      (glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th + e)) -
         glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th - e))) / (2 * h)
    }, 0)
    expect_equal(again$gradient[8:9], num, tolerance = 1e-5)
  }
})

test_that("one-factor two-part NB2 fits with a per-row dispersion reach glmmTMB's optimum", {
  skip_if_not_installed("glmmTMB")
  d <- row_constants_data(275)
  d$g <- d$a
  ours <- suppressWarnings(glmm(y ~ x + (1 | g), data = d, family = nbinom2,
                                ziformula = ~ w + (1 | g), dispformula = ~ w))
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = glmmTMB::nbinom2,
                          ziformula = ~ w + (1 | g), dispformula = ~ w)
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(tmb)), tolerance = 1e-6)
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
})

test_that("the sparse engine's exact gradient with weights matches differences of its value (third derivatives after the inner search)", {
  # The zero-inflated rows' third derivatives are made after the inner
  # search from kept pieces (TwoPartRE::third()), scaled by the row's
  # weight there: weights other than 1 and both families take every
  # branch (y = 0, y > 0, with and without dispersion).
  d <- row_constants_data(276)
  set.seed(277)
  wt <- sample(c(0, 0.5, 1, 2, 3), nrow(d), TRUE)
  for (fam in list(glmmgee::nbinom2(), stats::poisson())) {
    pois <- identical(fam$family, "poisson")
    th <- c(0.4, 0.3, 0.5, 0.7, 0.6, -0.5, 0.6, if (!pois) c(0.4, 0.9))
    eng <- row_constants_engine(d, 1L, fam, wt)
    r <- glmmgee:::cpp_sparse_two_part_grad(eng, th)
    expect_true(is.finite(r$loglik))
    h <- 1e-5
    num <- vapply(seq_along(th), function(k) {
      e <- replace(numeric(length(th)), k, h)
      (glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th + e)) -
         glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th - e))) / (2 * h)
    }, 0)
    expect_equal(r$gradient, num, tolerance = 1e-6, label = if (pois) "poisson" else "nbinom2")
  }
})
