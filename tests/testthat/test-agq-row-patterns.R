# The one-factor engine groups a cluster's rows by their random-effect design
# row (one spatial field: 5,000 rows, 100 sites) and computes everything
# Lambda touches once per group. The grouped engine must compute what the
# row-by-row engine computes: value, gradient (entry-wise and along a
# structure's directions), cluster scores and every per-cluster summary.

row_pattern_pair <- function(X, Z, y, w, off, g, M, pat, fam, K) {
  mk <- function() glmmgee:::cpp_agq_new(X, Z, as.numeric(y), as.numeric(w), off, g, M,
                                         pat$row - 1L, pat$col - 1L, fam$family_code,
                                         fam$link_code, K, 1L)
  list(grouped = mk(), rows = mk())
}

expect_row_patterns_agree <- function(e, th, J, lab) {
  expect_true(glmmgee:::cpp_agq_set_patterns(e$grouped, TRUE), label = lab)
  expect_false(glmmgee:::cpp_agq_set_patterns(e$rows, FALSE), label = lab)
  a <- glmmgee:::cpp_agq_eval(e$grouped, th, TRUE)
  b <- glmmgee:::cpp_agq_eval(e$rows, th, TRUE)
  expect_true(is.finite(a$loglik), label = lab)
  expect_equal(a$loglik, b$loglik, tolerance = 1e-12, label = lab)
  expect_equal(a$gradient, b$gradient, tolerance = 1e-9, label = lab)
  ad <- glmmgee:::cpp_agq_eval_dir(e$grouped, th, TRUE, J)
  bd <- glmmgee:::cpp_agq_eval_dir(e$rows, th, TRUE, J)
  expect_equal(ad$gradient, bd$gradient, tolerance = 1e-9, label = paste(lab, "directions"))
  expect_equal(glmmgee:::cpp_agq_scores(e$grouped, th), glmmgee:::cpp_agq_scores(e$rows, th),
               tolerance = 1e-9, label = paste(lab, "scores"))
  sa <- glmmgee:::cpp_agq_summaries(e$grouped, th)
  sb <- glmmgee:::cpp_agq_summaries(e$rows, th)
  for (nm in c("mode", "mode_var", "post_mean", "post_var", "loglik"))
    expect_equal(sa[[nm]], sb[[nm]], tolerance = 1e-9, label = paste(lab, nm))
}

test_that("a spatial field's rows grouped by site give the row-by-row results", {
  # One cluster, 20 sites seen 6 times each, a full 20 x 20 Lambda (the
  # product route of q >= 16) and an exponential correlation's Jacobian
  # direction beside a random one; Poisson, and gaussian with its
  # dispersion; weights, an offset, one row of weight zero.
  set.seed(5)
  ns <- 20
  xy <- cbind(runif(ns, 0, 5), runif(ns, 0, 5))
  site <- rep(seq_len(ns), each = 6)
  n <- length(site)
  Z <- diag(ns)[site, ]
  X <- cbind(1, rnorm(n))
  w <- runif(n, 0.5, 2)
  w[7] <- 0
  off <- rnorm(n, 0, 0.2)
  pat <- glmmgee:::block_pattern(ns)
  L <- t(chol(0.5 * exp(-as.matrix(dist(xy)) / 1.5)))
  dL <- (t(chol(0.5 * exp(-as.matrix(dist(xy)) / 1.501))) - L) / 0.001
  J <- cbind(dL[cbind(pat$row, pat$col)], rnorm(length(pat$row)))
  u <- drop(L %*% rnorm(ns))
  ys <- list(poisson = rpois(n, exp(0.3 + 0.4 * X[, 2] + u[site] + off)),
             gaussian = 1 + X[, 2] + u[site] + rnorm(n, 0, 0.5))
  for (fname in names(ys)) {
    fam <- glmmgee:::resolve_family(get(fname)())
    e <- row_pattern_pair(X, Z, ys[[fname]], w, off, rep(1L, n), 1L, pat, fam, 1L)
    th <- c(0.2, 0.3, L[cbind(pat$row, pat$col)], if (fname == "gaussian") log(0.5))
    expect_row_patterns_agree(e, th, J, fname)
    glmmgee:::cpp_agq_free(e$grouped)
    glmmgee:::cpp_agq_free(e$rows)
  }
})

test_that("grouped rows give the row-by-row results under quadrature and with a zero part", {
  # Many clusters, three random effects on a factor of three levels with
  # several rows per level (grouped), and clusters too small to group;
  # Laplace and 3-point quadrature; binomial with trials; a zero-inflated
  # Poisson through the auxiliary predictors.
  set.seed(9)
  M <- 25
  ni <- sample(c(2:3, 9:15), M, TRUE)
  g <- rep(seq_len(M), ni)
  n <- length(g)
  tm <- factor(sample(3, n, TRUE))
  Z <- model.matrix(~ 0 + tm)
  X <- cbind(1, rnorm(n))
  pat <- glmmgee:::block_pattern(3)
  J <- matrix(rnorm(length(pat$row) * 2), ncol = 2)
  th0 <- c(-0.1, 0.4, 0.7, 0.2, 0.3, -0.1, 0.2, 0.5)
  trials <- sample(1:4, n, TRUE)
  b <- matrix(rnorm(M * 3, 0, 0.6), M)
  eta <- -0.1 + 0.4 * X[, 2] + rowSums(Z * b[g, ])
  for (K in c(1L, 3L)) {
    fam <- glmmgee:::resolve_family(binomial())
    e <- row_pattern_pair(X, Z, rbinom(n, trials, plogis(eta)) / trials, trials, rep(0, n), g, M,
                          pat, fam, K)
    expect_row_patterns_agree(e, th0, J, sprintf("binomial, nAGQ %d", K))
    fam <- glmmgee:::resolve_family(poisson())
    y <- ifelse(runif(n) < 0.3, 0, rpois(n, exp(eta)))
    e <- row_pattern_pair(X, Z, y, rep(1, n), rep(0, n), g, M, pat, fam, K)
    for (eng in e) glmmgee:::cpp_agq_set_aux(eng, 1L, cbind(1, X[, 2]), c(0L, 0L), cbind(rep(0, n)))
    expect_row_patterns_agree(e, c(th0, -0.8, 0.3), J, sprintf("zero-inflated Poisson, nAGQ %d", K))
  }
})

test_that("clusters whose rows mostly differ are not grouped", {
  # A random slope on a continuous covariate: every row its own pattern.
  set.seed(3)
  n <- 200
  g <- rep(1:20, each = 10)
  X <- cbind(1, rnorm(n))
  fam <- glmmgee:::resolve_family(poisson())
  eng <- glmmgee:::cpp_agq_new(X, X, as.numeric(rpois(n, 2)), rep(1, n), rep(0, n), g, 20L,
                               c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code, fam$link_code, 1L, 1L)
  expect_false(glmmgee:::cpp_agq_set_patterns(eng, TRUE))
  glmmgee:::cpp_agq_free(eng)
})
