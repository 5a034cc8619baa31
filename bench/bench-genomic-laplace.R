# Side-by-side benchmark of the known-covariance Laplace engine for binary
# outcomes (fit-known-laplace.R), one R session, same BLAS: glmmgee::glmm
# with a dense full-rank K and with K given by its genotype factor
# (kfactor), against lme4's glmer with the random-effect design replaced by
# Z L (the "Z L trick"). GMMAT's glmmkin (the issue's peer) could not be
# installed on the benchmark machine: it needs Bioconductor packages. Prints
# elapsed and CPU seconds (user + system: the CPU time is the fairer figure
# on a shared machine), the estimates and the Laplace log-likelihoods.
#
# Usage: Rscript bench/bench-genomic-laplace.R [n_dense n_side n_factor r]
#        (default: 3000 1000 20000 1000; n_side: the size at which lme4 runs
#        beside us, since its sparse Cholesky of a dense Z L is slow)
suppressPackageStartupMessages({
  library(glmmgee)
  have_lme4 <- requireNamespace("lme4", quietly = TRUE)
})
args <- as.integer(commandArgs(TRUE))
if (length(args) < 4L) args <- c(3000L, 1000L, 20000L, 1000L)
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, BLAS %s, load average %s\n",
            packageVersion("glmmgee"), getRversion(), parallel::detectCores(),
            extSoftVersion()[["BLAS"]], paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")))

timeit <- function(expr) {
  gc()
  st <- system.time(val <- force(expr))
  list(elapsed = st[["elapsed"]], cpu = st[["user.self"]] + st[["sys.self"]], value = val)
}

# n people, m standardized variants; a binary trait with latent-scale
# variance 0.8^2 from L = G / sqrt(m).
sim <- function(n, m, seed = 1) {
  set.seed(seed)
  p <- runif(m, 0.05, 0.5)
  G <- vapply(p, function(pj) rbinom(n, 2, pj), numeric(n))
  L <- scale(G) / sqrt(m)
  rownames(L) <- paste0("p", seq_len(n))
  d <- data.frame(id = factor(rownames(L), levels = rownames(L)), x = rnorm(n))
  d$y <- rbinom(n, 1, stats::plogis(-0.5 + 0.5 * d$x + 0.8 * drop(L %*% rnorm(m))))
  list(d = d, L = L)
}

glmer_zl <- function(d, L) {
  lf <- lme4::glFormula(y ~ x + (1 | id), data = d, family = binomial)
  r <- ncol(L)
  Zt <- t(L) %*% as.matrix(lf$reTrms$Zt)
  lf$reTrms$Zt <- methods::as(methods::as(Matrix::Matrix(Zt, sparse = TRUE), "generalMatrix"),
                              "CsparseMatrix")
  lf$reTrms$Ztlist[[1L]] <- lf$reTrms$Zt
  lf$reTrms$Lambdat <- methods::as(methods::as(Matrix::Diagonal(r), "generalMatrix"), "CsparseMatrix")
  lf$reTrms$Lind <- rep(1L, r)
  lf$reTrms$Gp <- c(0L, r)
  dev <- do.call(lme4::mkGlmerDevfun, lf)
  parent.env(environment(dev)) <- asNamespace("lme4")
  opt <- lme4::optimizeGlmer(dev)
  dev <- lme4::updateGlmerDevfun(dev, lf$reTrms)
  opt <- lme4::optimizeGlmer(dev, stage = 2)
  lme4::mkMerMod(environment(dev), opt, lf$reTrms, fr = lf$fr)
}

report <- function(label, t, est, ll) {
  cat(sprintf("%-44s elapsed %7.1f s  cpu %7.1f s  est %s  logLik %.4f\n", label, t$elapsed, t$cpu,
              paste(sprintf("%.4f", est), collapse = " "), ll))
}

ctl <- glmm_control(nthreads = 2L)
dense_K <- function(s) {
  K <- tcrossprod(s$L) + diag(0.05, nrow(s$L))
  K
}

# 1. dense full-rank K, side by side with lme4 at n_side
s <- sim(args[2L], 1000L, seed = 2)
K <- dense_K(s)
t1 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = K), control = ctl))
report(sprintf("glmmgee dense K, n = %d", args[2L]), t1, t1$value$theta, t1$value$loglik)
if (have_lme4) {
  Lk <- t(chol(K))
  t2 <- timeit(glmer_zl(s$d, Lk))
  report(sprintf("lme4 glmer Z L (dense L), n = %d", args[2L]), t2,
         c(lme4::fixef(t2$value), lme4::getME(t2$value, "theta")), as.numeric(logLik(t2$value)))
  cat(sprintf("  ratio lme4 / glmmgee (cpu): %.1f\n", t2$cpu / t1$cpu))
}

# 2. dense full-rank K at n_dense (glmmgee only)
s <- sim(args[1L], 1000L, seed = 3)
K <- dense_K(s)
t3 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = K), control = ctl))
report(sprintf("glmmgee dense K, n = %d", args[1L]), t3, t3$value$theta, t3$value$loglik)
rm(K)

# 3. K by its factor: n_factor people, r variants
s <- sim(args[3L], args[4L], seed = 4)
t4 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = kfactor(s$L)),
                  control = ctl))
report(sprintf("glmmgee kfactor, n = %d, r = %d", args[3L], args[4L]), t4, t4$value$theta,
       t4$value$loglik)

# 4. score scan: 10,000 variants against a binary null model on 5,000
# people (K by a factor of 1,000 variants), variants generated block by
# block so that memory is bounded by the block size; SAIGE's variance ratio
# for the bulk, exact variances below p = 0.05.
s <- sim(5000L, 1000L, seed = 5)
null <- glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = kfactor(s$L)),
             control = ctl)
block <- function(j) {
  set.seed(j[1L])
  matrix(rbinom(5000L * length(j), 2, 0.3), 5000L, length(j))
}
t5 <- timeit(assoc_scan(null, block, m = 10000L, block_size = 1000L, progress = FALSE))
cat(sprintf("%-44s elapsed %7.1f s  cpu %7.1f s  exact variances %d, ratio %.4f\n",
            "assoc_scan 10,000 variants, n = 5000", t5$elapsed, t5$cpu, sum(t5$value$exact),
            attr(t5$value, "variance_ratio")))
