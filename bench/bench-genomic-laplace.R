# Side-by-side benchmark of the known-covariance Laplace engine for binary
# outcomes (fit-known-laplace.R), same machine, same BLAS: glmmgee::glmm
# with a dense full-rank K against GMMAT's glmmkin (penalized
# quasi-likelihood, its default REML/AI and its ML/Brent) and lme4's glmer
# with the random-effect design replaced by Z L (the "Z L trick"); K given by
# its genotype factor (kfactor) at n = 20,000; a score scan. Each case runs
# in a fresh R process (this script calling itself), so that its peak
# memory (VmHWM of /proc/self/status) is its own; the peak above the
# process's size just before the fit is reported as a multiple of the
# size of K (or of its factor). Prints elapsed and CPU seconds (user +
# system: the fairer figure on a shared machine), the estimates, and our
# Laplace log-likelihood at every package's estimates (GMMAT maximizes a
# different criterion, PQL, so its estimates are scored by our engine).
#
# Usage: Rscript bench/bench-genomic-laplace.R [n_dense n_side n_factor r]
#        (default: 3000 1000 20000 1000; n_side: the size at which lme4 runs
#        beside us, since its sparse Cholesky of a dense Z L is slow)
#        Rscript bench/bench-genomic-laplace.R --case NAME n r (one case:
#        side, dense, lowrank, factor or scan; e.g. --case dense 10000 1000
#        for a full-rank dense K at n = 10,000, --case lowrank 10000 1000
#        for a dense K of rank 1,000)
suppressPackageStartupMessages(library(glmmgee))
argv <- commandArgs(TRUE)

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# sim_dense_binary() (n people, m standardized variants; a binary trait
# with latent-scale variance 0.8^2 from L = G / sqrt(m)), dense_K(),
# glmer_zl() and laplace_at(): the tests' helper-known-genomic.R, in
# tests/testthat beside bench/, so this bench simulates as the tests do.
source_test_helper("helper-known-genomic.R")
sim <- sim_dense_binary

report <- function(label, t, est, ll, size_mb = NA, base_kb = NA) {
  mem <- if (is.finite(size_mb))
    sprintf("  peak +%.0f MB = %.2f x size", (peak_kb() - base_kb) / 1024,
            (peak_kb() - base_kb) / 1024 / size_mb) else ""
  cat(sprintf("%-46s elapsed %7.1f s  cpu %7.1f s  est %s  Laplace logLik %.4f%s\n", label,
              t$time, t$cpu, paste(sprintf("%.4f", est), collapse = " "), ll, mem))
}

# threads of glmmgee's fits: 2, or the environment's BENCH_THREADS
ctl <- glmm_control(nthreads = as.integer(Sys.getenv("BENCH_THREADS", "2")))

# A small fit first, so that the namespaces and code the fit loads are not
# counted in the peak memory of the measured one.
warm_up <- function() {
  s <- sim(200L, 50L, seed = 9)
  invisible(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = kfactor(s$L))))
}

run_case <- function(case, n, r) {
  if (case == "dense") {
    s <- sim(n, r, seed = 3)
    K <- dense_K(s$L)
    s$L <- NULL
    size <- 8 * n^2 / 2^20
    warm_up()
    gc()
    base <- peak_kb("VmRSS")
    t1 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = K),
                      control = ctl))
    report(sprintf("glmmgee dense K, n = %d", n), t1, t1$value$theta, t1$value$loglik, size, base)
    cat(sprintf("  optimizer: %s, %d evaluations\n", t1$value$optinfo$optimizer,
                sum(t1$value$optinfo$evaluations)))
    if (requireNamespace("GMMAT", quietly = TRUE)) {
      s$d$idc <- as.character(s$d$id)
      dimnames(K) <- list(s$d$idc, s$d$idc)
      # GMMAT's default (REML, AI); its ML/Brent, slower, only up to n = 1,500
      for (m in if (n <= 1500L) c("REML", "ML") else "REML") {
        t2 <- timeit(GMMAT::glmmkin(y ~ x, data = s$d, kins = K, id = "idc", family = binomial(),
                                    method = m, method.optim = if (m == "ML") "Brent" else "AI"))
        g <- t2$value
        report(sprintf("GMMAT glmmkin %s (PQL), n = %d", m, n), t2,
               c(g$coefficients, sqrt(g$theta[[2L]])),
               laplace_at(t1$value, g$coefficients, sqrt(g$theta[[2L]])))
        cat(sprintf("  ratio GMMAT %s / glmmgee (cpu): %.2f\n", m, t2$cpu / t1$cpu))
      }
    } else cat("GMMAT not installed: skipped\n")
  } else if (case == "side") {
    s <- sim(n, r, seed = 2)
    K <- dense_K(s$L)
    t1 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = K),
                      control = ctl))
    report(sprintf("glmmgee dense K, n = %d", n), t1, t1$value$theta, t1$value$loglik)
    if (requireNamespace("lme4", quietly = TRUE)) {
      Lk <- t(chol(K))
      t2 <- timeit(glmer_zl(y ~ x + (1 | id), s$d, Lk, binomial))
      report(sprintf("lme4 glmer Z L (dense L), n = %d", n), t2,
             c(lme4::fixef(t2$value), lme4::getME(t2$value, "theta")),
             laplace_at(t1$value, lme4::fixef(t2$value), lme4::getME(t2$value, "theta")))
      cat(sprintf("  ratio lme4 / glmmgee (cpu): %.1f\n", t2$cpu / t1$cpu))
    }
  } else if (case == "lowrank") {
    # a dense K of rank r (no diagonal added): the fit finds the rank and
    # runs on the pivoted Cholesky factor; beside it the same model by the
    # factor the user may not have at hand
    s <- sim(n, r, seed = 3)
    K <- tcrossprod(s$L)
    t1 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = K),
                      control = ctl))
    report(sprintf("glmmgee dense K of rank %d, n = %d", r, n), t1, t1$value$theta,
           t1$value$loglik)
    cat(sprintf("  rank found: %d\n", t1$value$optinfo$rank))
    t2 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial,
                      covariance = list(id = kfactor(s$L)), control = ctl))
    report(sprintf("glmmgee kfactor, n = %d, r = %d", n, r), t2, t2$value$theta, t2$value$loglik)
  } else if (case == "factor") {
    s <- sim(n, r, seed = 4)
    kf <- kfactor(s$L)
    size <- 8 * n * r / 2^20
    warm_up()
    gc()
    base <- peak_kb("VmRSS")
    t4 <- timeit(glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = kf),
                      control = ctl))
    report(sprintf("glmmgee kfactor, n = %d, r = %d", n, r), t4, t4$value$theta,
           t4$value$loglik, size, base)
    cat(sprintf("  optimizer: %s, %d evaluations\n", t4$value$optinfo$optimizer,
                sum(t4$value$optinfo$evaluations)))
  } else if (case == "scan") {
    # 10,000 variants against a binary null model on n people (K by a
    # factor of r variants), generated block by block so that memory is
    # bounded by the block size; SAIGE's variance ratio for the bulk, exact
    # variances below p = 0.05.
    s <- sim(n, r, seed = 5)
    null <- glmm(y ~ x + (1 | id), s$d, family = binomial, covariance = list(id = kfactor(s$L)),
                 control = ctl)
    block <- function(j) {
      set.seed(j[1L])
      matrix(rbinom(n * length(j), 2, 0.3), n, length(j))
    }
    t5 <- timeit(assoc_scan(null, block, m = 10000L, block_size = 1000L, progress = FALSE))
    cat(sprintf("%-46s elapsed %7.1f s  cpu %7.1f s  exact variances %d, ratio %.4f\n",
                sprintf("assoc_scan 10,000 variants, n = %d", n), t5$time, t5$cpu,
                sum(t5$value$exact), attr(t5$value, "variance_ratio")))
  }
}

if (length(argv) >= 1L && argv[1L] == "--case") {
  run_case(argv[2L], as.integer(argv[3L]), as.integer(argv[4L]))
} else {
  args <- as.integer(argv)
  if (length(args) < 4L) args <- c(3000L, 1000L, 20000L, 1000L)
  cat(sprintf("glmmgee %s, GMMAT %s, R %s, %d core(s) detected, BLAS %s, load average %s\n",
              packageVersion("glmmgee"),
              if (requireNamespace("GMMAT", quietly = TRUE)) packageVersion("GMMAT") else "-",
              getRversion(), parallel::detectCores(), extSoftVersion()[["BLAS"]],
              paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")))
  me <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  for (cs in list(c("side", args[2L], 1000L), c("dense", args[1L], 1000L),
                  c("lowrank", args[1L], 300L), c("factor", args[3L], args[4L]),
                  c("scan", 5000L, 1000L)))
    system2(file.path(R.home("bin"), "Rscript"), c(me, "--case", cs))
}
