# The one-factor engine starts each cluster's mode search at the cluster's
# mode at the last parameters (src/engines/agq/agq.cpp). A start left by an
# evaluation far away must not spoil the next one: before a value counts as
# undefined, the engine searches again from u = 0.

test_that("an evaluation far out does not leave the next one undefined", {
  # Cumulative cloglog model, three random effects, clusters of 2 rows: far
  # from the truth some clusters' modes lie where the curvature at the next
  # parameters is enormous; a search from there stopped at once at a point
  # whose value was NaN (95 of 300 such pairs of evaluations before).
  set.seed(143)
  M <- 30; n <- 2; N <- M * n
  g <- rep(seq_len(M), each = n)
  x <- rnorm(N); z <- rnorm(N); w2 <- rnorm(N)
  b <- cbind(rnorm(M, 0, 1), rnorm(M, 0, 0.6), rnorm(M, 0, 0.5))
  eta <- 0.5 * x - 0.3 * z + b[g, 1] + b[g, 2] * x + b[g, 3] * w2
  th <- qlogis(1:4 / 5) * 1.2
  P <- matrix(sapply(th, function(t) -expm1(-exp(t - eta))), N)
  y <- 1 + rowSums(runif(N) > P)
  X <- cbind(x, z, w2)
  Z <- cbind(1, x, w2)
  lr <- c(1L, 2L, 3L, 2L, 3L, 3L); lc <- c(1L, 1L, 1L, 2L, 2L, 3L)
  engine <- function() glmmgee:::ordinal_agq_engine(X, Z, y, rep(1, N), rep(0, N), g, M,
                                                    lr, lc, 5L,
                                                    cumulative("cloglog")$link_code, 3L)
  at <- list(theta = th, beta = c(0.5, -0.3, 0), l = c(0, 0, 0, log(0.6), 0, log(0.5)))
  value <- function(e, a) e$eval(a$theta, a$beta, a$l, 3L, gradient = FALSE)$loglik
  fresh <- engine()
  ref <- value(fresh, at)
  glmmgee:::cpp_agq_free(fresh$ptr)
  expect_true(is.finite(ref))
  set.seed(2)
  after <- vapply(seq_len(60), function(r) {
    e <- engine()
    on.exit(glmmgee:::cpp_agq_free(e$ptr))
    far <- list(theta = sort(at$theta + rnorm(4, 0, 8)), beta = at$beta + rnorm(3, 0, 8),
                l = at$l + rnorm(6, 0, 6))
    value(e, far)
    value(e, at)
  }, 0)
  expect_true(all(is.finite(after)))
  # A search held at a point of enormous curvature can still stop there
  # with a finite value (5 of 300 pairs): most pairs give the fresh value.
  expect_gte(mean(abs(after - ref) < 1e-8), 0.9)
})
