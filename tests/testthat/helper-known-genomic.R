# Fixtures of the known-covariance tests (test-known-laplace.R,
# test-known-laplace-gmmat.R, test-known-sparse-laplace.R), also sourced by bench/bench-genomic.R and
# bench/bench-genomic-laplace.R, so the benches simulate and compare as the
# tests do.

# n people and m standardized variants (allele frequencies U(0.05, 0.5)):
# L = G / sqrt(m), rows named p1..pn, and d with the factor id and a
# covariate x ~ N(0, 1). The caller draws a trait from the same stream.
sim_genotypes <- function(n, m, seed = 1) {
  set.seed(seed)
  p <- runif(m, 0.05, 0.5)
  G <- vapply(p, function(pj) rbinom(n, 2, pj), numeric(n))
  L <- scale(G) / sqrt(m)
  rownames(L) <- paste0("p", seq_len(n))
  d <- data.frame(id = factor(rownames(L), levels = rownames(L)), x = rnorm(n))
  list(d = d, L = L)
}

# The binary trait of bench/bench-genomic-laplace.R: latent-scale variance
# 0.8^2 from L.
sim_dense_binary <- function(n, m, seed = 1) {
  s <- sim_genotypes(n, m, seed)
  s$d$y <- rbinom(n, 1, stats::plogis(-0.5 + 0.5 * s$d$x + 0.8 * drop(s$L %*% rnorm(m))))
  s
}

# The dense K of such a factor, positive definite.
dense_K <- function(L) tcrossprod(L) + diag(0.05, nrow(L))

# glmer on the same model: Zt replaced by (Z L)' and r spherical effects
# with one common sd (lme4's Lambda = theta I_r), so b = theta L u. L dense
# (a base matrix) or sparse (a Matrix, kept sparse, as for
# test-known-sparse-laplace.R's factor F); `...` goes to the second stage's
# optimizeGlmer().
glmer_zl <- function(formula, d, L, family, ...) {
  lf <- lme4::glFormula(formula, data = d, family = family)
  r <- ncol(L)
  Zt <- if (inherits(L, "Matrix")) Matrix::t(L) %*% lf$reTrms$Zt else
    Matrix::Matrix(t(L) %*% as.matrix(lf$reTrms$Zt), sparse = TRUE)
  lf$reTrms$Zt <- methods::as(methods::as(Zt, "generalMatrix"), "CsparseMatrix")
  lf$reTrms$Ztlist[[1L]] <- lf$reTrms$Zt
  lf$reTrms$Lambdat <- methods::as(methods::as(Matrix::Diagonal(r), "generalMatrix"), "CsparseMatrix")
  lf$reTrms$Lind <- rep(1L, r)
  lf$reTrms$Gp <- c(0L, r)
  dev <- do.call(lme4::mkGlmerDevfun, lf)
  # the deviance function looks up lme4's internals from its environment
  parent.env(environment(dev)) <- asNamespace("lme4")
  opt <- lme4::optimizeGlmer(dev)
  dev <- lme4::updateGlmerDevfun(dev, lf$reTrms)
  opt <- lme4::optimizeGlmer(dev, stage = 2, ...)
  lme4::mkMerMod(environment(dev), opt, lf$reTrms, fr = lf$fr)
}

# Our Laplace log-likelihood of the model fitted as `fit` at (beta, s).
laplace_at <- function(fit, beta, s) {
  n <- length(fit$y)
  eng <- glmmgee:::known_laplace_engine(fit$X, fit$y, fit$prior.weights, rep(0, n),
                                        fit$known_factor$index, fit$known_factor$L,
                                        glmmgee:::known_laplace_family(fit$family), 1L)
  eng$eval(c(beta, log(s)), gradient = FALSE)$value
}
