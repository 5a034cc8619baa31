# Two sparse known covariances on the same cells (issue 18: "two structured
# effects on the same cells", "a sparse K stays sparse end to end"):
# families of five (1 on the diagonal, 0.5 within a family) and a compactly
# supported spatial covariance of positions on a line (Wendland, about 20
# neighbours a cell). Gaussian (sparse Cholesky of V, ML) and binary
# (sparse Laplace engine with sparse factors of K) at n = 20,000; at
# n = 2,000 the same models with K given densely (the dense route) and
# lme4 with Z L (lmer / glmer on the modified design), same run. Each case
# runs in a fresh R process (this script calling itself) so that its peak
# memory (VmHWM) is its own; reported is the peak above the process's size
# just before the fit. Prints elapsed and CPU seconds (user + system) and
# the log-likelihood.
#
# Usage: Rscript bench/bench-known-sparse-multi.R [n_large n_small]
#        (default: 20000 2000)
#        Rscript bench/bench-known-sparse-multi.R --case NAME n (one case)
suppressPackageStartupMessages(library(glmmgee))
argv <- commandArgs(TRUE)

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

# The two sparse K (never dense) and a trait: variances 1.2^2 and 0.9^2,
# residual 1 (gaussian) or a logit model with the same latent effects.
sim <- function(n, binary, seed = 1) {
  set.seed(seed)
  nm <- paste0("c", seq_len(n))
  f <- (seq_len(n) - 1L) %/% 5L
  pairs <- do.call(rbind, lapply(split(seq_len(n), f), function(ix) {
    g <- expand.grid(i = ix, j = ix)
    g[g$i >= g$j, ]
  }))
  K1 <- Matrix::sparseMatrix(i = pairs$i, j = pairs$j, x = ifelse(pairs$i == pairs$j, 1, 0.5),
                             dims = c(n, n), symmetric = TRUE, dimnames = list(nm, nm))
  pos <- sort(runif(n))
  range <- 10 / n
  hi <- findInterval(pos + range, pos)
  i <- rep(seq_len(n), hi - seq_len(n) + 1L)
  j <- i + sequence(hi - seq_len(n) + 1L) - 1L
  D <- abs(pos[i] - pos[j]) / range
  keep <- D < 1
  K2 <- Matrix::sparseMatrix(i = j[keep], j = i[keep], x = ((1 - D) ^ 4 * (1 + 4 * D))[keep],
                             dims = c(n, n), symmetric = TRUE, dimnames = list(nm, nm))
  draw <- function(K) {
    ch <- Matrix::Cholesky(K + Matrix::Diagonal(n, 1e-8), perm = TRUE, LDL = FALSE, super = FALSE)
    drop(as.matrix(Matrix::crossprod(methods::as(ch, "pMatrix"), methods::as(ch, "Matrix") %*% rnorm(n))))
  }
  d <- data.frame(cell = factor(nm, levels = nm), x = rnorm(n))
  d$space <- d$cell
  eta <- 0.3 + 0.5 * d$x + 1.2 * draw(K1) + 0.9 * draw(K2)
  d$y <- if (binary) rbinom(n, 1, stats::plogis(eta)) else eta + rnorm(n)
  list(d = d, K1 = K1, K2 = K2)
}

f2 <- y ~ x + (1 | cell) + (1 | space)

# lmer / glmer with Z L: each term's rows of Zt premultiplied by t(F), F a
# sparse factor of K (the one glmmgee uses, with a fill-reducing ordering).
# glmer through mkGlmerDevfun needs lme4's checks of levels against
# observations switched off (one observation a level), as lmer does.
lme4_zl <- function(s, binary = FALSE) {
  Fs <- list(glmmgee:::covariance_factor(s$K1, "cell"), glmmgee:::covariance_factor(s$K2, "space"))
  lf <- if (binary)
    lme4::glFormula(f2, s$d, family = binomial,
                    control = lme4::glmerControl(check.nobs.vs.nlev = "ignore",
                                                 check.nobs.vs.nRE = "ignore"))
  else lme4::lFormula(f2, s$d, REML = FALSE,
                      control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                  check.nobs.vs.nRE = "ignore"))
  zl <- lapply(1:2, function(k) methods::as(methods::as(Matrix::t(Fs[[k]]) %*% lf$reTrms$Ztlist[[k]],
                                                        "generalMatrix"), "CsparseMatrix"))
  lf$reTrms$Ztlist <- zl
  lf$reTrms$Zt <- methods::as(rbind(zl[[1L]], zl[[2L]]), "CsparseMatrix")
  if (!binary) {
    dev <- do.call(lme4::mkLmerDevfun, lf)
    return(lme4::mkMerMod(environment(dev), lme4::optimizeLmer(dev), lf$reTrms, fr = lf$fr))
  }
  dev <- do.call(lme4::mkGlmerDevfun, lf)
  opt <- lme4::optimizeGlmer(dev)
  dev <- lme4::updateGlmerDevfun(dev, lf$reTrms)
  opt <- lme4::optimizeGlmer(dev, stage = 2)
  lme4::mkMerMod(environment(dev), opt, lf$reTrms, fr = lf$fr)
}

run_case <- function(case, n) {
  binary <- grepl("binary", case)
  fam <- if (binary) binomial() else gaussian()
  s <- sim(n, binary, seed = 7)
  if (grepl("^dense", case)) {
    s$K1 <- as.matrix(s$K1)
    s$K2 <- as.matrix(s$K2)
  }
  size <- 12 * (Matrix::nnzero(s$K1) + Matrix::nnzero(s$K2)) / 2^20
  # a small fit first, so that loading code is not counted
  w <- sim(200L, binary, seed = 9)
  invisible(glmm(f2, w$d, family = fam, covariance = list(cell = w$K1, space = w$K2)))
  gc()
  base <- peak_kb("VmRSS")
  t <- if (grepl("lme4", case)) timeit(lme4_zl(s, binary))
       else timeit(glmm(f2, s$d, family = fam, covariance = list(cell = s$K1, space = s$K2)))
  fit <- t$value
  vc <- if (grepl("lme4", case)) as.data.frame(lme4::VarCorr(fit))$sdcor[1:2]
        else c(sqrt(VarCorr(fit)$cell[1, 1]), sqrt(VarCorr(fit)$space[1, 1]))
  cat(sprintf("%-24s n = %6d  elapsed %7.1f s  cpu %7.1f s  logLik %.4f  sd %.3f %.3f  peak +%.0f MB\n",
              case, n, t$time, t$cpu, as.numeric(logLik(fit)), vc[1L], vc[2L],
              (peak_kb() - base) / 1024))
}

if (length(argv) >= 1L && argv[1L] == "--case") {
  run_case(argv[2L], as.integer(argv[3L]))
} else {
  args <- as.integer(argv)
  if (length(args) < 2L) args <- c(20000L, 2000L)
  cat(sprintf("glmmgee %s, lme4 %s, R %s, BLAS %s, load average %s\n",
              packageVersion("glmmgee"), packageVersion("lme4"), getRversion(),
              extSoftVersion()[["BLAS"]], paste(readLines("/proc/loadavg", warn = FALSE), collapse = "")))
  me <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  for (cs in list(c("sparse-gaussian", args[2L]), c("dense-gaussian", args[2L]),
                  c("lme4-gaussian", args[2L]), c("sparse-gaussian", args[1L]),
                  c("sparse-binary", args[2L]), c("lme4-binary", args[2L]),
                  c("dense-binary", args[2L]),
                  c("sparse-binary", args[1L])))
    system2(file.path(R.home("bin"), "Rscript"), c(me, "--case", cs))
}
