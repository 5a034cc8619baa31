# Side-by-side benchmark of the known-covariance gaussian engine (spectral
# rotation), in one R session, same BLAS: glmmgee::glmm with K given by its
# genotype factor (kfactor) and with a dense full-rank K, against gaston's
# lmm.aireml (where installed) and lme4 with the random-effect design
# replaced by Z L (the "Z L trick"; at a smaller size, since its sparse
# Cholesky of a dense Z L is the bottleneck). Prints elapsed seconds and
# the REML estimates and log-likelihoods (lme4's REML criterion and ours
# are the same quantity).
#
# Usage: Rscript bench/bench-genomic.R [n_factor m n_dense n_lme4 m_lme4 n_sparse]
#        (default: 10000 1000 3000 2000 300 20000)
# GLMMGEE_BENCH_CASES=dense (or factor,dense,lme4,sparse: the default)
# runs only the cases named. The dense case with OpenBLAS, for this one
# process only (the system's BLAS alternatives untouched), on Debian:
#   R_LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread:/usr/lib/R/lib \
#     GLMMGEE_BENCH_CASES=dense Rscript bench/bench-genomic.R
# (R's start-up script puts its own library path before LD_LIBRARY_PATH,
# so LD_LIBRARY_PATH alone does not reach R's BLAS.)
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "gaston"), requireNamespace, TRUE, quietly = TRUE)
})
args <- as.integer(commandArgs(TRUE))
if (length(args) < 6L) args <- c(10000L, 1000L, 3000L, 2000L, 300L, 20000L)
cases <- strsplit(Sys.getenv("GLMMGEE_BENCH_CASES", "factor,dense,lme4,sparse"), ",")[[1L]]
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, BLAS %s, %s\n", packageVersion("glmmgee"),
            getRversion(), parallel::detectCores(), extSoftVersion()[["BLAS"]],
            format(Sys.time(), "%Y-%m-%d")))

# Elapsed and CPU (user + system, all threads) seconds: the machine is
# shared, so CPU time is the steadier figure of the two.
# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# sim_genotypes(): the tests' helper-known-genomic.R, in tests/testthat
# beside bench/.
source_test_helper("helper-known-genomic.R")

# n people, m standardized variants, heritability 0.5 through L = G / sqrt(m).
sim <- function(n, m, seed = 1) {
  s <- sim_genotypes(n, m, seed)
  s$d$y <- 1 + 0.3 * s$d$x + drop(s$L %*% rnorm(m)) + rnorm(n)
  s
}

lmer_zl <- function(d, L) {
  lf <- lme4::lFormula(y ~ x + (1 | id), d, REML = TRUE,
                       control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                   check.nobs.vs.nRE = "ignore"))
  Zt <- methods::as(methods::as(Matrix::Matrix(t(L), sparse = TRUE), "generalMatrix"),
                    "CsparseMatrix")
  lf$reTrms$Zt <- Zt
  lf$reTrms$Ztlist[[1L]] <- Zt
  # m spherical random effects (one per variant) instead of n: b = L u.
  lf$reTrms$Lambdat <- methods::as(Matrix::Matrix(diag(ncol(L)), sparse = TRUE), "generalMatrix")
  lf$reTrms$Lind <- rep(1L, ncol(L))
  dev <- do.call(lme4::mkLmerDevfun, lf)
  opt <- lme4::optimizeLmer(dev)
  lme4::mkMerMod(environment(dev), opt, lf$reTrms, fr = lf$fr)
}

row <- function(case, who, t, s2g, s2e, ll) {
  cat(sprintf("%-34s %-20s %8.2f s (CPU %7.2f s)  s2g %.4f  s2e %.4f  REML logLik %s\n", case,
              who, t$time, t$cpu, s2g, s2e, if (is.na(ll)) "-" else sprintf("%.4f", ll)))
}
ours_row <- function(case, f) row(case, "glmmgee", f, VarCorr(f$value)$id[1, 1],
                                  sigma(f$value)^2, as.numeric(logLik(f$value)))
gaston_row <- function(case, d, K) {
  X <- cbind(1, d$x)
  g <- timeit(gaston::lmm.aireml(d$y, X, K = K, verbose = FALSE))
  row(case, "gaston lmm.aireml", g, g$value$tau, g$value$sigma2, NA_real_)
}

# 1. K by its genotype factor (n x m): target <= 15 s at n = 10,000, m = 1,000.
if ("factor" %in% cases) {
s <- sim(args[1], args[2])
case <- sprintf("factor K, n = %d, m = %d", args[1], args[2])
ours_row(case, timeit(glmm(y ~ x + (1 | id), s$d, covariance = list(id = kfactor(s$L)),
                           REML = TRUE)))
# gaston needs K formed (n^2 m flops) and factorizes it per AI-REML
# iteration (n^3 / 3 flops each): run beside us only when asked
# (GLMMGEE_BENCH_GASTON_FACTOR=1), minutes to hours at n = 10,000 with a
# reference BLAS.
if (have[["gaston"]] && nzchar(Sys.getenv("GLMMGEE_BENCH_GASTON_FACTOR")))
  gaston_row(case, s$d, tcrossprod(s$L))
}

# 2. Dense full-rank K (n x n): one tridiagonal reduction (4 n^3 / 3 flops),
# against gaston's Cholesky factorizations per AI-REML iteration. A spatial
# (exponential) covariance over random positions, so that building K costs
# O(n^2) rather than a genotype cross-product.
if ("dense" %in% cases) {
s <- sim(args[3], 50L, seed = 2)
set.seed(2)
pos <- matrix(runif(2L * args[3]), ncol = 2L)
K <- exp(-as.matrix(stats::dist(pos)) / 0.2)
dimnames(K) <- list(rownames(s$L), rownames(s$L))
s$d$y <- s$d$y + drop(t(chol(K)) %*% rnorm(args[3]))
case <- sprintf("dense K, n = %d", args[3])
ours_row(case, timeit(glmm(y ~ x + (1 | id), s$d, covariance = list(id = K), REML = TRUE)))
if (have[["gaston"]]) gaston_row(case, s$d, K)
rm(K)
}

# 3. lme4's Z L trick against ours on the same factor, at a size lme4 fits.
if (have[["lme4"]] && "lme4" %in% cases) {
  s <- sim(args[4], args[5], seed = 3)
  case <- sprintf("factor K, n = %d, m = %d", args[4], args[5])
  ours_row(case, timeit(glmm(y ~ x + (1 | id), s$d, covariance = list(id = kfactor(s$L)),
                             REML = TRUE)))
  z <- timeit(lmer_zl(s$d, s$L))
  vc <- as.data.frame(lme4::VarCorr(z$value))$vcov
  row(case, "lme4 (Z L)", z, vc[1], vc[2], as.numeric(logLik(z$value)))
}

# 4. A sparse K kept sparse (Matrix::dsCMatrix): a compactly supported
# (Wendland) spatial covariance over n random positions, about 30
# neighbours each, one observation per position. Peak resident memory of
# the process (VmHWM) before and after the fit, against the 8 n^2 bytes a
# dense K would take; run at n / 4, n / 2 and n to show it grows with the
# nonzeros, not with n^2. Built without any n x n matrix.
vm_peak <- function() {
  st <- tryCatch(readLines("/proc/self/status"), error = function(e) character())
  v <- grep("^VmHWM:", st, value = TRUE)
  if (length(v)) as.numeric(gsub("[^0-9]", "", v)) / 1024 else NA_real_
}
wendland_K <- function(n, seed) {
  set.seed(seed)
  pos <- cbind(runif(n), runif(n))
  r <- sqrt(30 / (pi * n))
  o <- order(pos[, 1L])
  pos <- pos[o, ]
  lo <- findInterval(pos[, 1L] - r, pos[, 1L]) + 1L
  ij <- lapply(seq_len(n), function(i) {
    j <- lo[i]:i
    dd <- sqrt((pos[j, 1L] - pos[i, 1L])^2 + (pos[j, 2L] - pos[i, 2L])^2)
    k <- dd < r
    cbind(i, j[k], (1 - dd[k] / r)^4 * (1 + 4 * dd[k] / r))
  })
  ij <- do.call(rbind, ij)
  nm <- paste0("s", seq_len(n))
  Matrix::sparseMatrix(i = ij[, 1L], j = ij[, 2L], x = ij[, 3L], dims = c(n, n),
                       symmetric = TRUE, dimnames = list(nm, nm))
}
if ("sparse" %in% cases) {
  for (n in args[6] / c(4, 2, 1)) {
    K <- wendland_K(n, seed = 4)
    d <- data.frame(id = factor(rownames(K), levels = rownames(K)), x = rnorm(n))
    # g ~ N(0, K) through K = P' L L' P
    ex <- Matrix::expand(Matrix::Cholesky(K, perm = TRUE, LDL = FALSE, super = FALSE))
    g <- as.numeric(Matrix::crossprod(ex$P, ex$L %*% rnorm(n)))
    d$y <- 1 + 0.3 * d$x + g + rnorm(n)
    before <- vm_peak()
    case <- sprintf("sparse K, n = %d, nnz = %d", n, Matrix::nnzero(K))
    f <- timeit(glmm(y ~ x + (1 | id), d, covariance = list(id = K), REML = TRUE))
    ours_row(case, f)
    cat(sprintf("%-34s peak RSS %.0f MB before the fit, %.0f MB after; a dense K would be %.0f MB\n",
                "", before, vm_peak(), 8 * n^2 / 2^20))
    rm(K, f)
  }
}
