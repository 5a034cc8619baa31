# Known covariance beside a plain random intercept (issue 18): glmm() with
# covariance = list(cell = K) and a plain (1 | batch), ML and REML, against
# lme4 on the design Z F (F' = chol(K)) in the same session. Rscript bench/bench-known-mixed.R
suppressMessages({library(glmmgee); library(lme4)})
set.seed(1); n <- 2000; nm <- paste0("c", 1:n)
f <- (1:n - 1) %/% 5
K <- Matrix::forceSymmetric(as(Matrix::Matrix(0.5 * outer(f, f, "==") + diag(0.5, n), sparse = TRUE), "CsparseMatrix"))
dimnames(K) <- list(nm, nm)
d <- data.frame(cell = factor(nm, levels = nm), x = rnorm(n), batch = factor(sample(sprintf("b%02d", 1:20), n, TRUE)))
d$y <- 0.3 + 0.5*d$x + 1.2*drop(t(chol(as.matrix(K))) %*% rnorm(n)) + rnorm(20, sd = 0.7)[d$batch] + rnorm(n)
tm <- function(e) { t <- system.time(r <- eval(e)); list(r = r, el = t[["elapsed"]], cpu = t[["user.self"]] + t[["sys.self"]]) }
a <- tm(quote(glmm(y ~ x + (1 | cell) + (1 | batch), d, covariance = list(cell = K))))
b <- tm(quote({
  lf <- lFormula(y ~ x + (1 | cell) + (1 | batch), d, REML = FALSE, control = lmerControl(check.nobs.vs.nlev = "ignore", check.nobs.vs.nRE = "ignore"))
  F <- Matrix::t(Matrix::chol(K))   # K = F F'
  Z1 <- Matrix::t(F) %*% lf$reTrms$Ztlist[[1]]
  mk <- function(Z) as(as(Z, "generalMatrix"), "CsparseMatrix")
  lf$reTrms$Ztlist <- list(mk(Z1), mk(lf$reTrms$Ztlist[[2]])); lf$reTrms$Zt <- mk(rbind(Z1, lf$reTrms$Ztlist[[2]]))
  dev <- do.call(mkLmerDevfun, lf); mkMerMod(environment(dev), optimizeLmer(dev), lf$reTrms, fr = lf$fr)}))
cat(sprintf("ours: %s  el %.2f cpu %.2f logLik %.6f\n", a$r$optinfo$method, a$el, a$cpu, logLik(a$r)))
cat(sprintf("lme4 Z F: el %.2f cpu %.2f logLik %.6f\n", b$el, b$cpu, logLik(b$r)))
cat(sprintf("ratio lme4/ours: el %.2f cpu %.2f; logLik diff %.2e\n", b$el / a$el, b$cpu / a$cpu, logLik(a$r) - logLik(b$r)))
print(tryCatch(readLines("/proc/loadavg"), error = function(e) NA))
c2 <- tm(quote(glmm(y ~ x + (1 | cell) + (1 | batch), d, covariance = list(cell = K), REML = TRUE)))
cat(sprintf("ours REML: %s el %.2f cpu %.2f\n", c2$r$optinfo$method, c2$el, c2$cpu))
