# The two-part sparse engine's faster paths: the negative
# binomial's count-part derivatives in one pass (families-aux-re.h,
# TwoPartRE::inner_derivs()), the inner Newton search that reuses the rows'
# derivatives of its accepted trial point and the factor at the mode
# (laplace-zero-re.cpp), and searches that start from a given curvature
# (optimize_sparse(H0 =)).

zisp_engine <- function(d, fam, kind) {
  n <- nrow(d)
  fam <- glmmgee:::resolve_family(fam)
  ind <- function(f) Matrix::sparseMatrix(i = seq_len(n), j = as.integer(f), x = 1,
                                          dims = c(n, nlevels(f)))
  qa <- nlevels(d$a); qb <- nlevels(d$b); qc <- nlevels(d$c)
  Zc <- cbind(ind(d$a), ind(d$b))
  Zz <- cbind(ind(d$a), ind(d$c))
  Qc <- ncol(Zc)
  lr <- c(seq_len(qa), qa + seq_len(qb)) - 1L
  zr <- c(seq_len(qa), qa + seq_len(qc)) - 1L
  lk <- c(rep(0L, qa), rep(1L, qb), rep(2L, qa), rep(3L, qc))
  Xd <- if (glmmgee:::has_dispersion(fam)) matrix(1, n, 1) else matrix(0, n, 0)
  glmmgee:::cpp_sparse_two_part_new(cbind(1, d$x), cbind(1, d$w), Xd, methods::as(Zc, "CsparseMatrix"),
                           methods::as(Zz, "CsparseMatrix"), as.numeric(d$y), rep(1, n),
                           matrix(0, n, 3), c(lr, zr + Qc), c(lr, zr + Qc), lk, 4L,
                           fam$family_code, fam$link_code, kind)
}

zisp_data <- function(seed, hurdle = FALSE) {
  set.seed(seed)
  n <- 300
  d <- data.frame(a = factor(sample(12, n, TRUE)), b = factor(sample(7, n, TRUE)),
                  c = factor(sample(5, n, TRUE)), x = rnorm(n), w = rbinom(n, 1, 0.5))
  mu <- exp(0.5 + 0.4 * d$x + rnorm(12, 0, 0.5)[d$a] + rnorm(7, 0, 0.4)[d$b])
  pz <- plogis(-0.6 + 0.7 * d$w + rnorm(12, 0, 0.7)[d$a] + rnorm(5, 0, 0.6)[d$c])
  yc <- rnbinom(n, size = 1.5, mu = mu)
  if (hurdle) yc <- pmax(1, yc)
  d$y <- ifelse(runif(n) < pz, 0, yc)
  d
}

test_that("with no random-effect variance the two-part nbinom2 engine gives the direct log-likelihood", {
  # Lambda = 0: H = I and the modes are 0, so the Laplace value is the
  # log-likelihood itself, here against dnbinom() (mu, size = exp(delta)).
  for (hurdle in c(FALSE, TRUE)) {
    d <- zisp_data(if (hurdle) 12 else 11, hurdle)
    eng <- zisp_engine(d, glmmgee::nbinom2(), if (hurdle) 2L else 1L)
    for (th in list(c(0.4, 0.3, 0, 0, 0, 0, -0.5, 0.6, 0.4),
                    c(-0.2, 0.5, 0, 0, 0, 0, 0.3, -0.4, -1.1),
                    c(1.2, -0.3, 0, 0, 0, 0, -1.5, 1.0, 2.3))) {
      mu <- exp(th[1] + th[2] * d$x)
      pz <- plogis(th[7] + th[8] * d$w)
      size <- exp(th[9])
      ll <- zinb2_loglik_ref(d$y, mu, pz, size, hurdle)
      expect_equal(glmmgee:::cpp_sparse_two_part_eval(eng, cbind(th)), ll, tolerance = 1e-12,
                   label = sprintf("hurdle %s, theta %s", hurdle, paste(th, collapse = " ")))
    }
  }
})

test_that("the two-part sparse engine's value does not depend on where its mode search starts", {
  # The inner Newton search reuses its last trial point's derivatives and
  # the factor at the mode: a stale or damped factor would make log det(H),
  # and so the value and gradient, depend on the warm start.
  for (hurdle in c(FALSE, TRUE)) {
    d <- zisp_data(if (hurdle) 14 else 13, hurdle)
    th <- c(0.4, 0.3, 0.5, 0.4, 0.7, 0.6, -0.5, 0.6, 0.4)
    far <- c(-0.5, 0.1, 1.5, 0.05, 0.2, 1.4, 0.8, -0.3, -0.6)
    fresh <- glmmgee:::cpp_sparse_two_part_grad(zisp_engine(d, glmmgee::nbinom2(), if (hurdle) 2L else 1L), th)
    eng <- zisp_engine(d, glmmgee::nbinom2(), if (hurdle) 2L else 1L)
    expect_true(is.finite(glmmgee:::cpp_sparse_two_part_grad(eng, far)$loglik))
    warm <- glmmgee:::cpp_sparse_two_part_grad(eng, th)
    expect_true(is.finite(fresh$loglik))
    expect_equal(warm$loglik, fresh$loglik, tolerance = 1e-10)
    expect_equal(warm$gradient, fresh$gradient, tolerance = 1e-7)
    # cpp_sparse_two_part_modes() runs the same mode search (from the last mode).
    m <- glmmgee:::cpp_sparse_two_part_modes(eng, th)
    expect_false(m$failed)
    expect_equal(m$loglik, fresh$loglik, tolerance = 1e-10)
  }
})

test_that("given_curvature() accepts only a finite negative definite matrix of the right size", {
  H <- -diag(c(2, 3, 4))
  expect_identical(glmmgee:::given_curvature(H, 3L, rep(FALSE, 3)), H)
  expect_null(glmmgee:::given_curvature(NULL, 3L, rep(FALSE, 3)))
  expect_null(glmmgee:::given_curvature(H[1:2, 1:2], 3L, rep(FALSE, 3)))
  Hn <- H; Hn[2, 2] <- NA
  expect_null(glmmgee:::given_curvature(Hn, 3L, rep(FALSE, 3)))
  Hp <- H; Hp[3, 3] <- 1
  expect_null(glmmgee:::given_curvature(Hp, 3L, rep(FALSE, 3)))
  # Only the free parameters need a negative definite block.
  expect_identical(glmmgee:::given_curvature(Hp, 3L, c(FALSE, FALSE, TRUE)), Hp)
})

test_that("optimize_sparse() from a given curvature reaches the same optimum with fewer evaluations", {
  # A smooth concave function with its exact gradient: log-likelihood-like,
  # correlated parameters, one bounded below at 0.
  A <- matrix(c(4, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 2), 3)
  m <- c(0.3, -0.7, 0.8)
  n <- 0L
  evalf <- function(t) {
    n <<- n + 1L
    r <- t - m
    list(loglik = -0.5 * sum(r * (A %*% r)) - 0.1 * sum(r^4),
         gradient = -drop(A %*% r) - 0.4 * r^3)
  }
  ctl <- glmmgee:::glmm_control()
  # The search stops at a Newton decrement below rel.tol (1e-10), about 1e-5
  # from the optimum here; finish_search()'s Newton steps do the rest.
  lower <- c(-Inf, -Inf, 0)
  bnd <- function(t) c(FALSE, FALSE, abs(t[3]) < 1e-8)
  a <- glmmgee:::optimize_sparse(evalf, c(0, 0, 0.5), lower, ctl, bnd)
  na <- n
  expect_equal(a$opt$convergence, 0L)
  expect_equal(a$theta, m, tolerance = 1e-4)
  expect_true(is.matrix(a$curvature))
  n <- 0L
  b <- glmmgee:::optimize_sparse(evalf, c(0.1, -0.5, 0.6), lower, ctl, bnd, H0 = a$curvature)
  expect_equal(b$opt$convergence, 0L)
  expect_equal(b$theta, m, tolerance = 1e-4)
  expect_identical(b$stages$start$message, "curvature from the previous search")
  expect_equal(b$stages$start$evaluations, 1L)
  n0 <- n
  n <- 0L
  c0 <- glmmgee:::optimize_sparse(evalf, c(0.1, -0.5, 0.6), lower, ctl, bnd)
  expect_lt(n0, n)
  # A curvature that cannot start a search is ignored (differences instead).
  n <- 0L
  d <- glmmgee:::optimize_sparse(evalf, c(0.1, -0.5, 0.6), lower, ctl, bnd, H0 = diag(3))
  expect_identical(d$stages$start$message, "curvature at the start")
  expect_equal(d$theta, m, tolerance = 1e-4)
})
