# The exact Hessian where Lambda is diagonal (random intercepts): each
# block's first part, mutually unconnected levels, eliminated before the
# dense Cholesky (diagonal_block_cf() in src/engines/lmm/lmm-sparse-hessian.cpp). The
# result must not depend on which term is eliminated, and must be
# numDeriv's at a variance of zero and with a single term (nothing left
# after the elimination).

hessian_diagonal_data <- function() {
  set.seed(37)
  n <- 500
  d <- data.frame(a = factor(sample(25, n, TRUE)), b = factor(sample(12, n, TRUE)),
                  g = factor(sample(30, n, TRUE)), s = factor(sample(4, n, TRUE)),
                  x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(25)[d$a] + 0.7 * rnorm(12)[d$b] + 0.6 * rnorm(30)[d$g] +
    0.8 * rnorm(120)[(as.integer(d$g) - 1) * 4 + as.integer(d$s)] + rnorm(n)
  d$w <- runif(n, 0.5, 2)
  d$o <- 0.3 * cos(seq_len(n))
  d
}

hessian_diagonal_engine <- function(fo, d, wt) {
  mf <- model.frame(reformulas::subbars(fo), d)
  re <- glmmgee:::sparse_re_terms(fo, mf, NULL)
  X <- model.matrix(reformulas::nobars(fo), d)
  w <- if (wt) d$w else rep(1, nrow(d))
  off <- if (wt) d$o else rep(0, nrow(d))
  glmmgee:::lmm_sparse_setup(X, d$y, re, w, off)$eng
}

test_that("the exact Hessian does not depend on which crossed term is eliminated first", {
  skip_if_not_installed("reformulas")
  d <- hessian_diagonal_data()
  # (a, b): 25 levels eliminated, 12 left (the unblocked Cholesky), or 12
  # and 25 (the blocked one); (a, g): 25 and 30, or 30 and 25
  pairs <- list(c("a", "b"), c("a", "g"))
  thetas <- list(c(0.9, 0.6), c(0, 0.6), c(0.9, 0), c(0, 0))
  for (pr in pairs) for (wt in c(FALSE, TRUE)) {
    f1 <- as.formula(sprintf("y ~ x + (1 | %s) + (1 | %s)", pr[1], pr[2]))
    f2 <- as.formula(sprintf("y ~ x + (1 | %s) + (1 | %s)", pr[2], pr[1]))
    e1 <- hessian_diagonal_engine(f1, d, wt)
    e2 <- hessian_diagonal_engine(f2, d, wt)
    for (th in thetas) for (reml in c(FALSE, TRUE)) {
      h1 <- glmmgee:::cpp_lmmsp_hessian(e1, th, reml, 1e9)
      h2 <- glmmgee:::cpp_lmmsp_hessian(e2, rev(th), reml, 1e9)
      info <- paste(pr[1], pr[2], wt, th[1], th[2], reml)
      expect_false(is.null(h1))
      expect_equal(h1$ldL2, h2$ldL2, tolerance = 1e-12, info = info)
      expect_equal(drop(h1$g_ld), rev(drop(h2$g_ld)), tolerance = 1e-10, info = info)
      expect_equal(drop(h1$g_q), rev(drop(h2$g_q)), tolerance = 1e-10, info = info)
      expect_equal(h1$h_ld, h2$h_ld[2:1, 2:1], tolerance = 1e-10, info = info)
      expect_equal(h1$h_q, h2$h_q[2:1, 2:1], tolerance = 1e-10, info = info)
    }
  }
})

test_that("the exact Hessian is numDeriv's at a variance of zero and with one term", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("reformulas")
  d <- hessian_diagonal_data()
  # the criterion is even in each lambda (Lambda diagonal), so the
  # differences across zero are those of the criterion itself. At zero
  # numDeriv's default step (1e-4, halved 3 times) loses the second
  # derivatives to rounding (off by 2e-7 on the three-term design; 1e-3
  # still on the nested one) and 0.05 to the higher-order terms (5e-5 on
  # (1 | a) + (1 | b)); main's general path gives the same Hessians there
  # to 1e-14
  ma <- list(eps = 5e-3)
  cases <- list(list(y ~ x + (1 | a) + (1 | b), c(0, 0.6)),
                list(y ~ x + (1 | a) + (1 | g), c(0.8, 0)),
                list(y ~ x + (1 | g/s), c(0, 1.1)),
                list(y ~ x + (1 | g/s), c(0.7, 0)),
                list(y ~ x + (1 | a) + (1 | b) + (1 | g), c(0.9, 0, 0.4)),
                list(y ~ x + (1 | a), 0.8),
                list(y ~ x + (1 | a), 0))
  for (cs in cases) for (wt in c(FALSE, TRUE)) {
    eng <- hessian_diagonal_engine(cs[[1]], d, wt)
    th <- cs[[2]]
    for (reml in c(FALSE, TRUE)) {
      piece <- function(t, j) {
        e <- glmmgee:::cpp_lmmsp_eval(eng, t, FALSE)
        c(e$ldL2 + if (reml) e$ldRX2 else 0, e$pwrss)[[j]]
      }
      eh <- glmmgee:::cpp_lmmsp_hessian(eng, th, reml, 1e9)
      expect_false(is.null(eh))
      info <- paste(deparse(cs[[1]]), paste(th, collapse = ","), wt, reml)
      for (j in 1:2) {
        H <- numDeriv::hessian(piece, th, j = j, method.args = ma)
        g <- numDeriv::grad(piece, th, j = j, method.args = ma)
        expect_equal(unname(if (j == 1) eh$h_ld else eh$h_q), H, tolerance = 1e-7, info = info)
        expect_equal(drop(if (j == 1) eh$g_ld else eh$g_q), g, tolerance = 1e-7, info = info)
      }
    }
  }
})
