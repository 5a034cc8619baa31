# Binomial and Poisson models with a dense known covariance against GMMAT
# (Chen et al. 2016, AJHG 98:653): glmmkin() and glmm.score().
#
# glmmkin fits by penalized quasi-likelihood (PQL): its "ML" criterion is
# the profile likelihood of the working linear mixed model, not the
# Laplace approximation we maximize, so the two optima differ by the
# PQL-Laplace gap (PQL shrinks the variance of binary effects). What is
# comparable, and asserted: (1) our Laplace log-likelihood at our estimates
# is at least its value at GMMAT's estimates (the same function, evaluated
# by our engine at both points); (2) the two sets of estimates are close, at
# the size of that gap; (3) GMMAT's default REML/AI fit gives the same
# picture. glmmkin's "ML" is offered only with method.optim = "Brent" (one
# variance component) or "Nelder-Mead"; Brent is used.
#
# glmm.score's statistic for a variant g (its manual): SCORE = g'r with r
# the null fit's scaled residuals (y - mu), VAR = g'P g with P the null
# working projection, PVAL from SCORE^2 / VAR on 1 df (g centred, which
# does not change either when X has an intercept). assoc_scan() computes
# g'P y~ and g'P g from the factor of K. Given the same null model (GMMAT's
# estimates put into our fitted object), the two must agree: to 1e-6
# against GMMAT's own P and residuals, and to the six significant digits
# glmm.score prints in its output file.

sim_gmmat <- function(nl = 300, m = 60, seed = 3) {
  set.seed(seed)
  G <- matrix(rbinom(nl * m, 2, 0.3), nl, m)
  L <- scale(G) / sqrt(m)
  ids <- paste0("id", seq_len(nl))
  K <- tcrossprod(L) + diag(0.05, nl)
  dimnames(K) <- list(ids, ids)
  d <- data.frame(id = factor(ids, levels = ids), idc = ids, x = rnorm(nl))
  b <- drop(t(chol(K)) %*% rnorm(nl)) * 0.9
  d$yb <- rbinom(nl, 1, stats::plogis(-0.3 + 0.6 * d$x + b))
  d$yp <- rpois(nl, exp(0.2 + 0.4 * d$x + 0.7 * b))
  snps <- matrix(rbinom(nl * 25, 2, 0.25), nl, 25)
  snps[, 3] <- as.numeric(runif(nl) < 0.02)  # a rare variant
  list(data = d, K = K, snps = snps)
}

# laplace_at(): helper-known-genomic.R.

# Our fitted object with GMMAT's null model in it: its variance and its
# linear predictor (fixed part plus predicted effects), from which
# assoc_scan() forms the working weights, the working response and P.
with_gmmat_null <- function(fit, gm) {
  fit$known_factor$s <- sqrt(gm$theta[[2L]])
  fit$linear.predictors <- unname(gm$linear.predictors)
  fit
}

test_that("binomial and Poisson with a dense K: the Laplace optimum is at least as high as at glmmkin's estimates", {
  skip_if_not_installed("GMMAT")
  s <- sim_gmmat()
  for (fam in c("binomial", "poisson")) {
    y <- if (fam == "binomial") "yb" else "yp"
    family <- get(fam)()
    gml <- GMMAT::glmmkin(stats::as.formula(paste(y, "~ x")), data = s$data, kins = s$K,
                          id = "idc", family = family, method = "ML", method.optim = "Brent",
                          tol = 1e-8)
    gmr <- GMMAT::glmmkin(stats::as.formula(paste(y, "~ x")), data = s$data, kins = s$K,
                          id = "idc", family = family)
    ours <- glmm(stats::as.formula(paste(y, "~ x + (1 | id)")), s$data, family = family,
                 covariance = list(id = s$K))
    ll <- as.numeric(logLik(ours))
    for (gm in list(gml, gmr)) {
      expect_equal(unname(gm$theta[[1L]]), 1)  # dispersion fixed at 1
      at_gm <- laplace_at(ours, gm$coefficients, sqrt(gm$theta[[2L]]))
      expect_gte(ll, at_gm - 1e-8)
      # the PQL-Laplace gap: a few hundredths in the coefficients and up to
      # a quarter of the variance for binary outcomes (PQL's known shrinkage)
      expect_equal(unname(fixef(ours)), unname(gm$coefficients), tolerance = 0.1)
      expect_equal(unname(VarCorr(ours)$id[1]), unname(gm$theta[[2L]]), tolerance = 0.3)
    }
    # At the PQL estimates our Laplace value is lower by more than the
    # optimizer's precision: the optima are distinct, not a tolerance artefact.
    expect_gt(ll - laplace_at(ours, gml$coefficients, sqrt(gml$theta[[2L]])), 1e-3)
  }
})

test_that("assoc_scan() on glmmkin's null model equals glmm.score (binomial, Poisson)", {
  skip_if_not_installed("GMMAT")
  s <- sim_gmmat()
  G <- s$snps
  Gc <- scale(G, scale = FALSE)
  gfile <- tempfile(fileext = ".txt")
  ofile <- tempfile(fileext = ".txt")
  on.exit(unlink(c(gfile, ofile)))
  # glmm.score's text format: one variant per row, a name column, then people
  utils::write.table(data.frame(SNP = paste0("s", seq_len(ncol(G))), t(G)), gfile, sep = "\t",
                     quote = FALSE, row.names = FALSE, col.names = FALSE)
  for (fam in c("binomial", "poisson")) {
    y <- if (fam == "binomial") "yb" else "yp"
    family <- get(fam)()
    gm <- GMMAT::glmmkin(stats::as.formula(paste(y, "~ x")), data = s$data, kins = s$K,
                         id = "idc", family = family, method = "ML", method.optim = "Brent",
                         tol = 1e-8)
    ours <- glmm(stats::as.formula(paste(y, "~ x + (1 | id)")), s$data, family = family,
                 covariance = list(id = s$K))
    sc <- assoc_scan(with_gmmat_null(ours, gm), G, exact_p = 1, progress = FALSE)
    # GMMAT's definitions from its own fitted object (dense P, scaled residuals)
    score <- drop(crossprod(Gc, gm$scaled.residuals))
    vr <- colSums(Gc * (gm$P %*% Gc))
    expect_equal(sc$estimate / sc$se^2, unname(score), tolerance = 1e-6)
    expect_equal(1 / sc$se^2, unname(vr), tolerance = 1e-6)
    expect_equal(sc$statistic, unname(score^2 / vr), tolerance = 1e-6)
    expect_equal(sc$p_value, stats::pchisq(unname(score^2 / vr), 1, lower.tail = FALSE),
                 tolerance = 1e-6)
    # glmm.score itself, read back from its file (printed to 6 significant digits)
    suppressWarnings(GMMAT::glmm.score(gm, infile = gfile, outfile = ofile,
                                       infile.nrow = ncol(G), infile.ncol.skip = 1,
                                       infile.ncol.print = 1, infile.header.print = "SNP"))
    out <- utils::read.table(ofile, header = TRUE)
    expect_equal(out$SNP, paste0("s", seq_len(ncol(G))))
    expect_equal(sc$estimate / sc$se^2, out$SCORE, tolerance = 1e-5)
    expect_equal(1 / sc$se^2, out$VAR, tolerance = 1e-5)
    expect_equal(sc$p_value, out$PVAL, tolerance = 1e-5)
    # our own null (Laplace) gives the same ranking of the variants' evidence
    own <- assoc_scan(ours, G, exact_p = 1, progress = FALSE)
    expect_gt(stats::cor(own$statistic, out$SCORE^2 / out$VAR, method = "spearman"), 0.95)
  }
})
