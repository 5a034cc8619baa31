# The engine's scalar fast path (one random effect, binomial-logit or
# poisson-log) must compute what the general code computes: the value, the
# gradient and every per-cluster summary, for random intercepts and random
# slopes (constant and varying z), unit and unequal weights, offsets,
# unequal cluster sizes, Laplace and quadrature.

fast_case <- function(fam, K, zconst, wo, seed) {
  set.seed(seed)
  M <- 60
  ni <- sample(1:12, M, TRUE)
  g <- rep(seq_len(M), ni)
  n <- length(g)
  x <- rnorm(n)
  X <- cbind(1, x)
  Z <- if (zconst) matrix(1, n) else matrix(runif(n, 0.5, 2), n)
  eta <- -0.3 + 0.7 * x + Z[, 1] * rnorm(M)[g]
  w <- rep(1, n)
  off <- rep(0, n)
  if (wo) {
    off <- rnorm(n, 0, 0.3)
    w <- if (fam$family == "binomial") sample(1:5, n, TRUE) else runif(n, 0.5, 2)
  }
  y <- if (fam$family == "binomial") rbinom(n, w, plogis(eta + off)) / w
       else rpois(n, exp(eta + off))
  function() glmmgee:::cpp_agq_new(X, Z, as.numeric(y), as.numeric(w), off, g, M, 0L, 0L,
                                   fam$family_code, fam$link_code, K, 1L)
}

test_that("the scalar fast path agrees with the general engine", {
  fams <- lapply(list(binomial(), poisson()), glmmgee:::resolve_family)
  seed <- 0
  for (fam in fams) for (K in c(1L, 2L, 5L, 10L)) for (zc in c(TRUE, FALSE)) for (wo in c(FALSE, TRUE)) {
    seed <- seed + 1
    mk <- fast_case(fam, K, zc, wo, seed)
    e_fast <- mk()
    e_gen <- mk()
    expect_true(glmmgee:::cpp_agq_set_fast(e_fast, TRUE))
    expect_false(glmmgee:::cpp_agq_set_fast(e_gen, FALSE))
    lab <- sprintf("%s, nAGQ = %d, constant z = %s, weights/offset = %s", fam$family, K, zc, wo)
    # A moderate point, a large variance (wide node span) and a near-zero one.
    for (th in list(c(0.1, 0.2, 0.9), c(-0.3, 0.7, 3), c(0, 0, 0.01))) {
      a <- glmmgee:::cpp_agq_eval(e_fast, th, TRUE)
      b <- glmmgee:::cpp_agq_eval(e_gen, th, TRUE)
      expect_equal(a$loglik, b$loglik, tolerance = 1e-12, label = lab)
      expect_equal(a$gradient, b$gradient, tolerance = 1e-10, label = lab)
      sa <- glmmgee:::cpp_agq_summaries(e_fast, th)
      sb <- glmmgee:::cpp_agq_summaries(e_gen, th)
      for (nm in c("mode", "mode_var", "post_mean", "post_var", "loglik"))
        expect_equal(sa[[nm]], sb[[nm]], tolerance = 1e-9, label = paste(lab, nm))
    }
  }
})

test_that("the fast path is used only where it applies", {
  mk <- fast_case(glmmgee:::resolve_family(binomial("probit")), 5L, TRUE, FALSE, 1)
  expect_false(glmmgee:::cpp_agq_set_fast(mk(), TRUE))
})

test_that("clusters with extreme linear predictors fall back to the general code", {
  # Offsets of +-60 put exp(eta) beyond the fast path's range in some
  # clusters; the answers must still agree with the general code.
  fam <- glmmgee:::resolve_family(binomial())
  set.seed(3)
  M <- 40; g <- rep(seq_len(M), each = 6); n <- length(g)
  X <- cbind(1, rnorm(n)); Z <- matrix(1, n)
  off <- ifelse(g %% 5 == 0, 60 * sign(rnorm(n)), 0)
  y <- as.numeric(rbinom(n, 1, plogis(off + X[, 2] + rnorm(M)[g])))
  mk <- function() glmmgee:::cpp_agq_new(X, Z, y, rep(1, n), off, g, M, 0L, 0L,
                                         fam$family_code, fam$link_code, 7L, 1L)
  e_fast <- mk(); e_gen <- mk()
  glmmgee:::cpp_agq_set_fast(e_gen, FALSE)
  th <- c(0.2, 0.8, 1.1)
  a <- glmmgee:::cpp_agq_eval(e_fast, th, TRUE)
  b <- glmmgee:::cpp_agq_eval(e_gen, th, TRUE)
  expect_true(is.finite(a$loglik))
  expect_equal(a$loglik, b$loglik, tolerance = 1e-12)
  expect_equal(a$gradient, b$gradient, tolerance = 1e-10)
})
