# The cell-fate model: a lineage covariance given as a matrix (propto())
# and a spatial covariance estimated (exp()) on the same cells of one
# embryo, in one call; variance_shares() splits the variation between them.

sim_cells <- function(seed, n = 64, depth = 6, reps = 4) {
  set.seed(seed)
  id <- 0:(n - 1)
  # cells of a binary lineage tree: the shared ancestry of two cells is the
  # depth of their last common ancestor, as a share of the tree's depth
  common <- outer(id, id, function(a, b) {
    x <- bitwXor(a, b)
    ifelse(x == 0, depth, depth - floor(log2(pmax(x, 1))) - 1)
  })
  K <- common / depth
  xy <- cbind(runif(n, 0, 10), runif(n, 0, 10))
  u1 <- drop(t(chol(0.6 * K + diag(1e-10, n))) %*% rnorm(n))
  u2 <- drop(t(chol(0.4 * exp(-as.matrix(stats::dist(xy)) / 2))) %*% rnorm(n))
  cells <- data.frame(cell = factor(paste0("c", id), levels = paste0("c", id)),
                      pos = numFactor(xy[, 1], xy[, 2]), embryo = factor(1))
  d <- cells[rep(seq_len(n), each = reps), ]
  d$y <- rnorm(nrow(d), 1 + u1[as.integer(d$cell)] + u2[as.integer(d$cell)], 0.5)
  dimnames(K) <- list(levels(cells$cell), levels(cells$cell))
  list(d = d, K = K)
}

test_that("lineage and spatial shares are recovered within their intervals over 20 seeds", {
  # true variances 0.6 (lineage), 0.4 (space), 0.25 (residual)
  truth <- c(0.6, 0.4, 0.25) / 1.25
  covered <- matrix(NA, 20, 3)
  for (s in 1:20) {
    cd <- sim_cells(s)
    K <- cd$K
    f <- glmm(y ~ 1 + propto(0 + cell | embryo, K) + exp(0 + pos | embryo), cd$d)
    v <- variance_shares(f)
    sh <- v[v$quantity == "share" & v$component != "fixed", ]
    expect_identical(sh$component, c("propto(0 + cell | embryo, K)", "exp(0 + pos | embryo)", "residual"))
    covered[s, ] <- sh$conf.low <= truth & truth <= sh$conf.high
  }
  # 95% intervals: 16 or fewer of 20 has probability 0.016 under nominal coverage
  expect_true(all(colSums(covered) >= 17), info = paste(colSums(covered), collapse = ", "))
})

test_that("one embryo is one group for given-matrix and distance terms, but not for unstructured ones", {
  cd <- sim_cells(1, n = 32)
  K <- cd$K
  f <- glmm(y ~ 1 + propto(0 + cell | embryo, K), cd$d)
  expect_equal(f$structures[[1]]$kind, "propto")
  expect_error(glmm(y ~ 1 + (1 | embryo), cd$d), "at least two groups")
  expect_error(glmm(y ~ 1 + propto(0 + cell | embryo, K) + (0 + cell | embryo), cd$d), "at least two groups")
})
