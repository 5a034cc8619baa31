# The one-factor engine reads X, Z, y, the weights and the offset in place
# when their rows come cluster by cluster, and from a reordered copy
# otherwise. Either way it must give the same numbers, outlive the R
# variables it was built from, and not see later changes to them.

views_case <- function(seed = 1) {
  set.seed(seed)
  M <- 40
  ni <- sample(2:9, M, TRUE)
  g <- rep(seq_len(M), ni)
  n <- length(g)
  x <- rnorm(n)
  list(X = cbind(1, x), Z = cbind(1, runif(n)), g = g, M = M,
       y = as.numeric(rbinom(n, 1, plogis(-0.2 + 0.6 * x + rnorm(M)[g]))),
       w = rep(1, n), off = rnorm(n, 0, 0.2))
}

views_engine <- function(d, rows = seq_along(d$g), nAGQ = 3L) {
  fam <- glmmgee:::resolve_family(binomial())
  glmmgee:::cpp_agq_new(d$X[rows, , drop = FALSE], d$Z[rows, , drop = FALSE], d$y[rows],
                        d$w[rows], d$off[rows], d$g[rows], d$M, c(0L, 1L, 1L), c(0L, 0L, 1L),
                        fam$family_code, fam$link_code, nAGQ, 1L)
}

views_theta <- c(-0.1, 0.5, 0.8, 0.2, 0.4)

# Engines a and b give identical evaluations, per-cluster scores and
# summaries (and start curvatures) at theta, by Laplace and 5-point AGHQ.
expect_same_engine <- function(a, b, theta, info, curvature = FALSE) {
  for (nq in c(1L, 5L)) {
    glmmgee:::cpp_agq_set_nagq(a, nq)
    glmmgee:::cpp_agq_set_nagq(b, nq)
    inf <- paste(info, nq)
    expect_identical(glmmgee:::cpp_agq_eval(a, theta, TRUE), glmmgee:::cpp_agq_eval(b, theta, TRUE),
                     info = inf)
    expect_identical(glmmgee:::cpp_agq_scores(a, theta), glmmgee:::cpp_agq_scores(b, theta),
                     info = inf)
    expect_identical(glmmgee:::cpp_agq_summaries(a, theta), glmmgee:::cpp_agq_summaries(b, theta),
                     info = inf)
    if (curvature)
      expect_identical(glmmgee:::cpp_agq_fixed_curvature(a, theta),
                       glmmgee:::cpp_agq_fixed_curvature(b, theta), info = inf)
  }
}

test_that("rows in cluster order (read in place) and in any order (copied) give the same fit", {
  d <- views_case()
  sorted <- views_engine(d)
  # Interleaved clusters, each cluster's rows in their own order: the
  # engine's copy puts them back in the same order, so every sum matches.
  within <- ave(seq_along(d$g), d$g, FUN = seq_along)
  shuffled <- views_engine(d, order(within, d$g))
  a <- glmmgee:::cpp_agq_eval(sorted, views_theta, TRUE)
  b <- glmmgee:::cpp_agq_eval(shuffled, views_theta, TRUE)
  expect_identical(a$loglik, b$loglik)
  expect_identical(a$gradient, b$gradient)
  expect_identical(glmmgee:::cpp_agq_summaries(sorted, views_theta)$mode,
                   glmmgee:::cpp_agq_summaries(shuffled, views_theta)$mode)
})

test_that("the engine outlives the variables it was built from and ignores later changes to them", {
  d <- views_case(2)
  ref <- glmmgee:::cpp_agq_eval(views_engine(d), views_theta, TRUE)
  # Built from temporaries that nothing else holds, then memory churned.
  eng <- local({
    e <- views_case(2)
    views_engine(list(X = e$X + 0, Z = e$Z + 0, y = e$y + 0, w = e$w + 0, off = e$off + 0,
                      g = e$g, M = e$M))
  })
  for (i in 1:3) { junk <- lapply(1:50, function(k) rnorm(5000)); gc(verbose = FALSE) }
  expect_identical(glmmgee:::cpp_agq_eval(eng, views_theta, TRUE), ref)
  # Changed in place after the engine was built: R copies instead.
  y <- d$y
  X <- d$X
  fam <- glmmgee:::resolve_family(binomial())
  eng2 <- glmmgee:::cpp_agq_new(X, d$Z, y, d$w, d$off, d$g, d$M, c(0L, 1L, 1L), c(0L, 0L, 1L),
                                fam$family_code, fam$link_code, 3L, 1L)
  y[1:5] <- 1 - y[1:5]
  X[, 2] <- 0
  expect_identical(glmmgee:::cpp_agq_eval(eng2, views_theta, TRUE), ref)
})

test_that("empty weights and offset are unit weights and a zero offset, bitwise", {
  # glmm() passes unit weights and a zero offset as empty vectors, so that
  # the engine holds no n-vector for them: every result must be that of
  # the vectors of ones and zeros, on the general path (two random effects),
  # the scalar fast path (a binomial or Poisson random intercept, with the
  # rows in and out of cluster order) and the GLM start's sums.
  d <- views_case(3)
  n <- length(d$g)
  fam <- glmmgee:::resolve_family(binomial())
  pois <- glmmgee:::resolve_family(poisson())
  yc <- rpois(n, 2)
  within <- ave(seq_len(n), d$g, FUN = seq_along)
  cases <- list(
    list(Z = d$Z, y = d$y, fam = fam, lr = c(0L, 1L, 1L), lc = c(0L, 0L, 1L), rows = seq_len(n),
         theta = views_theta),
    list(Z = d$Z[, 1L, drop = FALSE], y = d$y, fam = fam, lr = 0L, lc = 0L, rows = seq_len(n),
         theta = c(-0.1, 0.5, 0.8)),
    list(Z = d$Z[, 1L, drop = FALSE], y = as.numeric(yc), fam = pois, lr = 0L, lc = 0L,
         rows = order(within, d$g), theta = c(0.3, 0.2, 0.6)))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    r <- cs$rows
    mk <- function(w, off) glmmgee:::cpp_agq_new(d$X[r, ], cs$Z[r, , drop = FALSE], cs$y[r], w, off,
                                                 d$g[r], d$M, cs$lr, cs$lc, cs$fam$family_code,
                                                 cs$fam$link_code, 5L, 1L)
    full <- mk(rep(1, n), rep(0, n))
    empty <- mk(numeric(0), numeric(0))
    expect_same_engine(empty, full, cs$theta, k)
    expect_identical(glmmgee:::cpp_agq_glm_sums(empty, c(0.1, -0.2)),
                     glmmgee:::cpp_agq_glm_sums(full, c(0.1, -0.2)), info = k)
    expect_identical(glmmgee:::cpp_agq_glm_start(empty, 20L),
                     glmmgee:::cpp_agq_glm_start(full, 20L), info = k)
    # Only empty vectors stand for unit weights and a zero offset.
    expect_error(mk(rep(1, n - 1), numeric(0)), "must all have")
  }
})

test_that("a Z without rows is a random intercept's column of ones, bitwise", {
  # glmm() passes a lone random intercept's Z as a matrix without rows, so
  # that no n-vector of ones is built: every result must be that of the
  # column of ones, on the scalar fast paths (binomial, Poisson with rows
  # out of cluster order), the general path (Gamma, nbinom2), and with a
  # zero-inflation part (its designs reordered by the same rows).
  d <- views_case(5)
  n <- length(d$g)
  set.seed(5)
  mu <- exp(0.2 + 0.4 * d$X[, 2] + rnorm(d$M, sd = 0.5)[d$g])
  within <- ave(seq_len(n), d$g, FUN = seq_along)
  shuffled <- order(within, d$g)
  cases <- list(
    list(y = d$y, fam = binomial(), rows = seq_len(n), theta = c(-0.1, 0.5, 0.8)),
    list(y = d$y, fam = binomial(), rows = shuffled, theta = c(-0.1, 0.5, 0.8)),
    list(y = as.numeric(rpois(n, mu)), fam = poisson(), rows = shuffled, theta = c(0.3, 0.2, 0.6)),
    list(y = rgamma(n, shape = 3, rate = 3 / mu), fam = Gamma(link = "log"), rows = seq_len(n),
         theta = c(0.2, 0.3, 0.5, log(0.4))),
    list(y = as.numeric(rnbinom(n, mu = mu, size = 2)), fam = nbinom2(), rows = shuffled,
         theta = c(0.2, 0.3, 0.5, log(2))),
    list(y = as.numeric(rpois(n, mu) * rbinom(n, 1, 0.7)), fam = poisson(), rows = shuffled,
         theta = c(0.3, 0.2, 0.6, -0.8), zi = TRUE))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    fam <- glmmgee:::resolve_family(cs$fam)
    r <- cs$rows
    mk <- function(Z) {
      e <- glmmgee:::cpp_agq_new(d$X[r, ], Z, cs$y[r], numeric(0), d$off[r], d$g[r], d$M, 0L, 0L,
                                 fam$family_code, fam$link_code, 5L, 1L)
      if (isTRUE(cs$zi)) glmmgee:::cpp_agq_set_aux(e, 1L, matrix(1, n, 1L), 0L, cbind(rep(0, n)))
      e
    }
    ones <- mk(matrix(1, n, 1L))
    unit <- mk(matrix(0, 0L, 1L))
    # The start curvature only for the models with auxiliary predictors.
    expect_same_engine(unit, ones, cs$theta, k, curvature = isTRUE(cs$zi))
    expect_identical(glmmgee:::cpp_agq_glm_sums(unit, c(0.1, -0.2)),
                     glmmgee:::cpp_agq_glm_sums(ones, c(0.1, -0.2)), info = k)
  }
  fam <- glmmgee:::resolve_family(binomial())
  expect_error(glmmgee:::cpp_agq_new(d$X, matrix(0, 0L, 2L), d$y, numeric(0), numeric(0), d$g,
                                     d$M, c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code,
                                     fam$link_code, 1L, 1L), "without rows must have one column")
})

test_that("glmm_fit() and glmm() without the random intercept's column fit as with it", {
  # Z = NULL in glmm_fit() is the column of ones; glmm() passes it so for a
  # lone random intercept. Same fit, on one thread and on workers.
  d <- views_case(6)
  n <- length(d$g)
  ones <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  for (fam in list(binomial(), Gamma(link = "log"))) {
    y <- if (fam$family == "binomial") d$y else rgamma(n, shape = 3, rate = 3 / exp(d$X[, 2] / 3))
    a <- glmm_fit(d$X, y, NULL, d$g, fam, nAGQ = 3)
    b <- glmm_fit(d$X, y, ones, d$g, fam, nAGQ = 3)
    for (el in c("theta", "loglik", "cov_theta", "modes"))
      expect_identical(a[[el]], b[[el]], info = paste(fam$family, el))
  }
  dd <- data.frame(y = d$y, x = d$X[, 2], g = d$g)
  fit <- glmm(y ~ x + (1 | g), dd, family = binomial, nAGQ = 3)
  ref <- glmm_fit(d$X, d$y, ones, d$g, binomial(), nAGQ = 3)
  expect_identical(unname(fit$theta), unname(ref$theta))
  expect_identical(fit$loglik, ref$loglik)
  expect_null(glmmgee:::re_terms(y ~ x + (1 | g), model.frame(y ~ x + g, dd), unit_z = TRUE)$Z)
  expect_identical(dim(glmmgee:::re_terms(y ~ x + (x | g), model.frame(y ~ x + g, dd),
                                          unit_z = TRUE)$Z), c(n, 2L))
  expect_error(glmm_fit(d$X, d$y, NULL, d$g, binomial(), cov_blocks = 2), "cov_blocks")
})

test_that("glmm_fit() with NULL weights and offset is the fit with ones and zeros, every family", {
  # NULL weights and offset go to the engine as empty vectors; the starts
  # (the GLM of each family, the dispersion's moment start) must see them as
  # ones and zeros. The dispersion starts once summed NULL weights to 0 and
  # started at their caps, and the log-link binomial start failed.
  d <- views_case(4)
  n <- length(d$g)
  set.seed(4)
  mu <- exp(0.3 + 0.4 * d$X[, 2] + rnorm(d$M, sd = 0.5)[d$g])
  ys <- list(binomial = d$y, nbinom2 = as.numeric(rnbinom(n, mu = mu, size = 3)),
             nbinom1 = as.numeric(rnbinom(n, mu = mu, size = 3)),
             Gamma = rgamma(n, shape = 4, rate = 4 / mu),
             beta = plogis(rnorm(n, -0.3 + 0.3 * d$X[, 2], 0.6)),
             betabinomial = as.numeric(rbinom(n, 1, 0.3)),
             gaussian = log(mu) + rnorm(n), binlog = as.numeric(rbinom(n, 1, 0.3 * mu / max(mu))))
  fams <- list(binomial = binomial(), nbinom2 = nbinom2(), nbinom1 = nbinom1(),
               Gamma = Gamma(link = "log"), beta = beta_family(), betabinomial = betabinomial(),
               gaussian = gaussian(), binlog = binomial(link = "log"))
  for (k in names(fams)) {
    Z <- d$Z[, 1L, drop = FALSE]
    a <- glmm_fit(d$X, ys[[k]], Z, d$g, fams[[k]], nAGQ = 3)
    b <- glmm_fit(d$X, ys[[k]], Z, d$g, fams[[k]], weights = rep(1, n), offset = rep(0, n),
                  nAGQ = 3)
    expect_identical(a$theta, b$theta, info = k)
    expect_identical(a$loglik, b$loglik, info = k)
    expect_identical(a$cov_theta, b$cov_theta, info = k)
    expect_identical(a$modes, b$modes, info = k)
    expect_identical(a$optinfo$stages, b$optinfo$stages, info = k)
  }
})

test_that("the engine refuses data it cannot read in place, naming the argument", {
  d <- views_case(3)
  fam <- glmmgee:::resolve_family(binomial())
  mk <- function(X = d$X, y = d$y, off = d$off)
    glmmgee:::cpp_agq_new(X, d$Z, y, d$w, off, d$g, d$M, 0L, 0L, fam$family_code,
                          fam$link_code, 1L, 1L)
  expect_error(mk(X = d$X > 0), "'X' must be a double matrix")
  expect_error(mk(y = as.integer(d$y)), "'y' must be a double vector")
  expect_error(mk(off = d$off[-1]), "must all have")
})

test_that("the direct numeric design converts integer columns as as.double() does", {
  k <- c(3L, NA, -2L, .Machine$integer.max)
  X <- glmmgee:::cpp_numeric_design(list(k, c(0.5, 1, NA, Inf)), TRUE, 4L)
  expect_identical(X, cbind(1, as.double(k), c(0.5, 1, NA, Inf), deparse.level = 0))
  expect_identical(glmmgee:::cpp_numeric_design(list(k), FALSE, 4L), matrix(as.double(k)))
  expect_identical(dim(glmmgee:::cpp_numeric_design(list(), TRUE, 0L)), c(0L, 1L))
  expect_error(glmmgee:::cpp_numeric_design(list(k, 1:3), TRUE, 4L), "column 2")
  expect_error(glmmgee:::cpp_numeric_design(list("a"), TRUE, 1L), "column 1")
})
