# The several-term LMM's leaner front end and after-search pieces: sparse
# designs made from their slots in C++, column sums of squares and Z b from
# the slots, the estimates' criterion pieces and modes from one evaluation,
# 1 x 1 blocks of H^-1 from its diagonal.

test_that("cpp_new_dgc() gives the dgCMatrix Matrix builds from the same slots", {
  set.seed(261)
  for (k in 1:20) {
    n <- sample(3:60, 1)
    q <- sample(1:15, 1)
    Z <- methods::as(Matrix::rsparsematrix(n, q, density = 0.3), "generalMatrix")
    dn <- list(if (k %% 2) paste0("r", seq_len(n)), if (k %% 3) paste0("c", seq_len(q)))
    dimnames(Z) <- dn
    got <- glmmgee:::cpp_new_dgc(Z@i, Z@p, Z@x, Z@Dim, Z@Dimnames)
    expect_identical(got, Z)
    expect_true(methods::validObject(got))
  }
  expect_error(glmmgee:::cpp_new_dgc(0L, c(0L, 2L), 1, c(2L, 1L), NULL), "must agree")
  expect_error(glmmgee:::cpp_new_dgc(0L, c(0L, 1L), 1, c(2L, 3L), NULL), "column pointers")
  expect_error(glmmgee:::cpp_new_dgc(0L, c(0L, 1L), 1, 2L, NULL), "two non-negative")
})

test_that("the indicator design and the joined terms are Matrix's", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  mf <- stats::model.frame(diameter ~ plate + sample, Penicillin)
  re <- glmmgee:::sparse_re_terms(diameter ~ 1 + (1 | plate) + (1 | sample), mf)
  rt <- reformulas::mkReTrms(reformulas::findbars(diameter ~ 1 + (1 | plate) + (1 | sample)), mf,
                             reorder.terms = FALSE)
  ref <- methods::as(Matrix::t(rt$Zt), "generalMatrix")
  expect_equal(as.matrix(re$Z), as.matrix(ref), ignore_attr = TRUE)
  expect_identical(colnames(re$Z), colnames(ref))
  expect_true(methods::validObject(re$Z))
})

test_that("column sums of squares and Z b from the slots equal Matrix's, bit for bit", {
  set.seed(262)
  for (k in 1:30) {
    n <- sample(2:400, 1)
    q <- sample(1:40, 1)
    Z <- methods::as(Matrix::rsparsematrix(n, q, density = runif(1, 0.02, 0.6),
                                           rand.x = function(m) rnorm(m) * 10^runif(m, -6, 6)),
                     "generalMatrix")
    v <- rnorm(q) * 10^runif(q, -4, 4)
    expect_identical(glmmgee:::cpp_dgc_times(Z@p, Z@i, Z@x, v, nrow(Z)), as.vector(Z %*% v))
    expect_equal(glmmgee:::cpp_dgc_col_sumsq(Z@p, Z@x), Matrix::colSums(Z^2), tolerance = 1e-14)
  }
  Z <- Matrix::sparseMatrix(i = c(1, 3), j = c(1, 2), x = c(2, -1), dims = c(3, 2))
  expect_error(glmmgee:::cpp_dgc_times(Z@p, Z@i, Z@x, 1, 3L), "do not conform")
  expect_error(glmmgee:::cpp_dgc_times(Z@p, c(0L, 7L), Z@x, c(1, 1), 3L), "out of range")
  expect_error(glmmgee:::cpp_dgc_col_sumsq(c(0L, 3L), c(1, 2)), "column pointers")
})

test_that("the estimates' pieces from one evaluation are cpp_lmmsp_eval()'s", {
  skip_if_not_installed("lme4")
  data(Pastes, package = "lme4")
  mf <- stats::model.frame(strength ~ batch + cask, Pastes)
  f <- strength ~ 1 + (1 | batch/cask)
  re <- glmmgee:::sparse_re_terms(f, mf)
  X <- matrix(1, nrow(mf), 1)
  st <- glmmgee:::lmm_sparse_setup(X, mf$strength, re, rep(1, nrow(mf)), rep(0, nrow(mf)))
  th <- c(0.7, 2.1)
  a <- glmmgee:::cpp_lmmsp_eval(st$eng, th, TRUE)
  b <- glmmgee:::cpp_lmmsp_final(st$eng, th)
  expect_identical(b[names(a)], a)
  # intercept terms: Lambda is diagonal, b_s = theta_k(j) u_j
  expect_identical(b$b_scaled[re$lam_row], th[re$lam_k] * b$u[re$lam_col])
  expect_false(glmmgee:::cpp_lmmsp_final(st$eng, c(NaN, 1))$ok)
})

test_that("conditional variances of several intercept terms match lmer's", {
  skip_if_not_installed("lme4")
  data(Penicillin, package = "lme4")
  f <- diameter ~ 1 + (1 | plate) + (1 | sample)
  for (reml in c(TRUE, FALSE)) {
    g <- glmm(f, Penicillin, REML = reml)
    l <- lme4::lmer(f, Penicillin, REML = reml)
    rl <- lme4::ranef(l, condVar = TRUE)
    for (t in g$reterms) {
      pv <- attr(rl[[t$group]], "postVar")
      expect_equal(as.vector(t$condvar), as.vector(pv), tolerance = 1e-5)
      expect_equal(as.vector(t$b), rl[[t$group]][[1]], tolerance = 1e-5)
    }
  }
})
