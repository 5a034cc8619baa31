# The two-part sparse Laplace engine's exact gradient (src/engines/laplace/laplace-zero-re.cpp)
# against numerical differentiation of its own Laplace log-likelihood, on
# crossed designs with random effects in both parts: zero-inflated poisson
# and nbinom2, hurdle poisson and nbinom2, zero-inflated binomial.

sparse_two_part_test_engine <- function(d, fam, kind, slope = FALSE) {
  n <- nrow(d)
  fam <- glmmgee:::resolve_family(fam)
  ind <- function(f) Matrix::sparseMatrix(i = seq_len(n), j = as.integer(f), x = 1,
                                          dims = c(n, nlevels(f)))
  # Count part (1 | a) + (1 | b); zero part (1 | a) + (1 | c), or with a
  # correlated slope in x on c: columns (intercept, slope) per level of c.
  Zc <- cbind(ind(d$a), ind(d$b))
  qa <- nlevels(d$a); qb <- nlevels(d$b); qc <- nlevels(d$c)
  lr <- c(seq_len(qa), qa + seq_len(qb)) - 1L
  lk <- c(rep(0L, qa), rep(1L, qb))
  za <- ind(d$a)
  if (!slope) {
    Zz <- cbind(za, ind(d$c))
    zr <- c(seq_len(qa), qa + seq_len(qc)) - 1L
    zrow <- zr; zcol <- zr; zk <- c(rep(2L, qa), rep(3L, qc))
    nth <- 4L
  } else {
    zc <- ind(d$c)
    zs <- zc * d$x
    Zz <- cbind(za, zc, zs)[, c(seq_len(qa), qa + as.vector(rbind(seq_len(qc), qc + seq_len(qc))))]
    base <- qa + 2L * (seq_len(qc) - 1L)  # 0-based intercept column of level j
    zrow <- c(seq_len(qa) - 1L, base, base + 1L, base + 1L)
    zcol <- c(seq_len(qa) - 1L, base, base, base + 1L)
    zk <- c(rep(2L, qa), rep(3L, qc), rep(4L, qc), rep(5L, qc))
    nth <- 6L
  }
  Qc <- ncol(Zc)
  Xd <- if (glmmgee:::has_dispersion(fam)) matrix(1, n, 1) else matrix(0, n, 0)
  eng <- glmmgee:::cpp_sparse_two_part_new(cbind(1, d$x), cbind(1, d$w), Xd, methods::as(Zc, "CsparseMatrix"),
                                  methods::as(Zz, "CsparseMatrix"), as.numeric(d$y),
                                  as.numeric(d$n), matrix(0, n, 3),
                                  c(lr, zrow + Qc), c(lr, zcol + Qc), c(lk, zk), nth,
                                  fam$family_code, fam$link_code, kind)
  list(eng = eng, nth = nth, disp = ncol(Xd))
}

sparse_two_part_test_data <- function(seed, family = "poisson", hurdle = FALSE) {
  set.seed(seed)
  n <- 240
  d <- data.frame(a = factor(sample(12, n, TRUE)), b = factor(sample(7, n, TRUE)),
                  c = factor(sample(5, n, TRUE)), x = rnorm(n), w = rbinom(n, 1, 0.5), n = 1)
  ea <- rnorm(12, 0, 0.5); eb <- rnorm(7, 0, 0.4); za <- rnorm(12, 0, 0.7); zc <- rnorm(5, 0, 0.6)
  mu <- exp(0.5 + 0.4 * d$x + ea[d$a] + eb[d$b])
  pz <- plogis(-0.6 + 0.7 * d$w + za[d$a] + zc[d$c])
  if (family == "binomial") {
    d$n <- sample(2:6, n, TRUE)
    yc <- rbinom(n, d$n, plogis(0.3 + 0.4 * d$x + ea[d$a] + eb[d$b])) / d$n
  } else {
    yc <- if (family == "nbinom2") rnbinom(n, size = 2, mu = mu) else rpois(n, mu)
    if (hurdle) yc <- pmax(1, yc)
  }
  d$y <- ifelse(runif(n) < pz, 0, yc)
  d
}

test_that("the two-part sparse engine's exact gradient equals numerical differentiation", {
  skip_if_not_installed("numDeriv")
  cases <- list(
    list(d = sparse_two_part_test_data(1), fam = poisson(), kind = 1L),
    list(d = sparse_two_part_test_data(2, "nbinom2"), fam = glmmgee::nbinom2(), kind = 1L),
    list(d = sparse_two_part_test_data(3, hurdle = TRUE), fam = poisson(), kind = 2L),
    list(d = sparse_two_part_test_data(4, "nbinom2", hurdle = TRUE), fam = glmmgee::nbinom2(), kind = 2L),
    list(d = sparse_two_part_test_data(5, "binomial"), fam = binomial(), kind = 3L))
  for (k in seq_along(cases)) for (slope in c(FALSE, TRUE)) {
    cs <- cases[[k]]
    e <- sparse_two_part_test_engine(cs$d, cs$fam, cs$kind, slope)
    lam <- if (slope) c(0.5, 0.4, 0.7, 0.6, 0.3, 0.25) else c(0.5, 0.4, 0.7, 0.6)
    th <- c(0.4, 0.3, lam, -0.5, 0.6, if (e$disp) 0.4)
    an <- glmmgee:::cpp_sparse_two_part_grad(e$eng, th)
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_sparse_two_part_eval(e$eng, cbind(t)), th)
    expect_true(is.finite(an$loglik))
    expect_equal(an$loglik, glmmgee:::cpp_sparse_two_part_eval(e$eng, cbind(th)), tolerance = 1e-12)
    expect_equal(an$gradient, nu, tolerance = 1e-6,
                 label = sprintf("case %d, slope %s", k, slope))
  }
})

test_that("the engine's smallest eigenvalue of H (its validity guard) is the dense one", {
  e <- sparse_two_part_test_engine(sparse_two_part_test_data(2, "nbinom2"), glmmgee::nbinom2(), 1L)
  th <- c(0.4, 0.3, 0.5, 0.4, 0.7, 0.6, -0.5, 0.6, 0.4)
  m <- glmmgee:::cpp_sparse_two_part_modes(e$eng, th)
  expect_false(m$failed)
  Q <- max(m$inv_i) + 1L
  H <- matrix(0, Q, Q)
  H[cbind(m$inv_i + 1L, m$inv_j + 1L)] <- m$h_x
  H <- H + t(H) - diag(diag(H))
  ev <- eigen(H, symmetric = TRUE, only.values = TRUE)$values
  # Inverse iteration: an upper bound that falls to it; where the smallest
  # eigenvalues cluster near 1 (here) it stops within the cluster, which
  # is all the guard (bound 1e-3) needs.
  expect_gte(m$hmin, min(ev) * (1 - 1e-12))
  expect_lt(m$hmin, min(ev) * 1.05)
  expect_gt(min(ev), 0.5)
  # H^{-1} on H's pattern is the inverse of that H.
  Hi <- solve(H)
  expect_equal(m$inv_x, Hi[cbind(m$inv_i + 1L, m$inv_j + 1L)], tolerance = 1e-8)
  expect_equal(glmmgee:::cpp_sparse_two_part_degenerate(e$eng)$refused, 0)
})
