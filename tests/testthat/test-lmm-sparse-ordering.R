# The several-term LMM's set-up (src/engines/lmm/lmm-sparse.cpp): the elimination order
# without AMD where it is optimal (random intercepts of two fully crossed
# factors: the larger factor's levels first), AMD elsewhere. The factor's
# size against AMD's on the same pattern (cpp_chol_factor_nnz(), the same
# ordering and symbolic count), and the criterion's pieces against dense
# algebra, so that a wrong order or permutation shows.

ordering_engine <- function(fo, d) {
  mf <- model.frame(reformulas::subbars(fo), d)
  re <- glmmgee:::sparse_re_terms(fo, mf, NULL)
  X <- model.matrix(reformulas::nobars(fo), d)
  y <- model.response(mf)
  n <- nrow(d)
  st <- glmmgee:::lmm_sparse_setup(X, y, re, rep(1, n), rep(0, n))
  list(st = st, re = re, X = X, y = y)
}

# Entries of the factor of Z'Z + I under AMD.
ordering_amd_nnz <- function(Z) {
  M <- Matrix::crossprod(Z) + Matrix::Diagonal(ncol(Z))
  glmmgee:::cpp_chol_factor_nnz(as(as(M, "CsparseMatrix"), "generalMatrix"))
}

# log|M|, log|RX'RX| and pwrss at theta from dense matrices (lmm-sparse.h),
# on the engine's scaled Z (columns divided by st$column).
ordering_dense <- function(e, theta) {
  Z <- as.matrix(e$re$Z) %*% diag(1 / e$st$column, ncol(e$re$Z))
  Lam <- matrix(0, ncol(Z), ncol(Z))
  Lam[cbind(e$re$lam_row, e$re$lam_col)] <- theta[e$re$lam_k]
  ZL <- Z %*% Lam
  M <- crossprod(ZL) + diag(ncol(Z))
  X <- e$X
  y <- e$y
  Mi <- solve(M)
  RX <- crossprod(X) - crossprod(X, ZL) %*% Mi %*% crossprod(ZL, X)
  beta <- solve(RX, crossprod(X, y) - crossprod(X, ZL) %*% Mi %*% crossprod(ZL, y))
  u <- Mi %*% crossprod(ZL, y - X %*% beta)
  list(ldL2 = as.numeric(determinant(M)$modulus), ldRX2 = as.numeric(determinant(RX)$modulus),
       pwrss = sum((y - X %*% beta - ZL %*% u)^2) + sum(u^2))
}

ordering_check <- function(e, thetas) {
  for (th in thetas) {
    ev <- glmmgee:::cpp_lmmsp_eval(e$st$eng, th, TRUE)
    dn <- ordering_dense(e, th)
    expect_true(ev$ok)
    expect_equal(ev$ldL2, dn$ldL2, tolerance = 1e-10)
    expect_equal(ev$ldRX2, dn$ldRX2, tolerance = 1e-10)
    expect_equal(ev$pwrss, dn$pwrss, tolerance = 1e-10)
  }
  glmmgee:::cpp_lmmsp_eval(e$st$eng, thetas[[1]], TRUE)$nnz_factor
}

ordering_data <- function(n = 300, na = 9, nb = 6, seed = 37) {
  set.seed(seed)
  d <- expand.grid(a = factor(seq_len(na)), b = factor(seq_len(nb)))
  d <- d[c(seq_len(nrow(d)), sample(nrow(d), n - nrow(d), TRUE)), ]
  d$c <- factor(sample(5, n, TRUE))
  d$x <- rnorm(n)
  d$y <- 1 + 0.5 * d$x + rnorm(na)[d$a] + 0.7 * rnorm(nb)[d$b] + 0.4 * rnorm(5)[d$c] + rnorm(n)
  rownames(d) <- NULL
  d
}

test_that("two fully crossed factors: the larger's levels first, the least fill, the same criterion", {
  d <- ordering_data()
  e <- ordering_engine(y ~ x + (1 | a) + (1 | b), d)
  nnz <- ordering_check(e, list(c(1, 1), c(0.3, 2.5), c(0, 0.7)))
  # 9 + 6 levels, 54 pairs, the 6 levels of b a clique: C(6, 2) = 15
  expect_equal(nnz, 9 + 6 + 54 + 15)
  expect_lte(nnz, ordering_amd_nnz(e$re$Z))
  # the other way round in the formula: the same order
  e2 <- ordering_engine(y ~ x + (1 | b) + (1 | a), d)
  expect_equal(ordering_check(e2, list(c(1, 1), c(2.5, 0.3))), nnz)
  # Penicillin: 24 plates x 6 samples
  data(Penicillin, package = "lme4", envir = environment())
  ep <- ordering_engine(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
  np <- ordering_check(ep, list(c(1, 1), c(0.8, 3)))
  expect_equal(np, 24 + 6 + 144 + 15)
  expect_equal(np, ordering_amd_nnz(ep$re$Z))
  f <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)
  expect_equal(f$optinfo$nnz_factor, np)
  # logLik of main's build (AMD's order), 1e-10 relative
  expect_equal(as.numeric(logLik(f)), -165.430294495543, tolerance = 1e-10)
})

test_that("designs where the order is not known to be optimal keep AMD's factor", {
  d <- ordering_data()
  # one pair of levels missing: not complete
  dm <- d[!(d$a == "3" & d$b == "2"), ]
  e <- ordering_engine(y ~ x + (1 | a) + (1 | b), dm)
  expect_equal(ordering_check(e, list(c(1, 1), c(0.3, 2.5))), ordering_amd_nnz(e$re$Z))
  # three crossed factors
  e3 <- ordering_engine(y ~ x + (1 | a) + (1 | b) + (1 | c), d)
  expect_equal(ordering_check(e3, list(c(1, 1, 1), c(0.3, 2.5, 0.8))),
               ordering_amd_nnz(e3$re$Z))
  # nested, and partially crossed
  dn <- transform(d, ab = interaction(a, c))
  en <- ordering_engine(y ~ x + (1 | a) + (1 | ab), dn)
  expect_equal(ordering_check(en, list(c(1, 1), c(2, 0.4))), ordering_amd_nnz(en$re$Z))
  ep <- ordering_engine(y ~ x + (1 | ab) + (1 | b), dn)
  expect_equal(ordering_check(ep, list(c(1, 1), c(2, 0.4))), ordering_amd_nnz(ep$re$Z))
  # a random slope beside a crossed intercept (Lambda not diagonal)
  es <- ordering_engine(y ~ x + (1 + x | a) + (1 | b), d)
  expect_equal(ordering_check(es, list(c(1, 0.2, 0.5, 1), c(0.7, -0.3, 0.9, 2))),
               ordering_amd_nnz(es$re$Z))
  # uncorrelated intercept and slope of one factor beside a second: two
  # parameters of a, so three groups of columns
  eu <- ordering_engine(y ~ x + (x || a) + (1 | b), d)
  expect_equal(ordering_check(eu, list(c(1, 0.5, 1), c(0.3, 1.2, 2))),
               ordering_amd_nnz(eu$re$Z))
})
