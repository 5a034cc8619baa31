# The second-order Laplace approximation (Shun and McCullagh 1995;
# Raudenbush, Yang and Yosef 2000) set beside the importance-sampling fit
# (glmm_control(importance_draws = )) and, where it exists, the exact
# likelihood (nested adaptive quadrature, 15 points): binary models with
# nested intercepts (12 hospitals x 3 wards x 4 patients) and the
# salamander mating data (crossed, glmm package). The second-order
# approximation is computed here, densely, for this comparison only:
#
#   log L = Laplace + (1/8) sum_i d4_i h_ii^2
#           + (1/8) sum_ij d3_i d3_j h_ii h_ij h_jj + (1/12) sum_ij d3_i d3_j h_ij^3,
#
# with d3, d4 the third and fourth derivatives of each observation's
# log-likelihood in its linear predictor at the conditional modes and
# h = A H^-1 A' (A = Z Lambda, H the random effects' negative Hessian), the
# conditional covariance of the linear predictors. Its last sum runs over
# all pairs of observations: n^2 work and memory per evaluation.
#
#   Rscript bench/compare-second-order-laplace.R

suppressPackageStartupMessages(library(glmmgee))
ns <- asNamespace("glmmgee")

second_order <- function(formula, data) {
  mf <- model.frame(ns$sub_bars(formula), data)
  re <- ns$sparse_re_terms(formula, mf)
  X <- model.matrix(reformulas::nobars(formula), mf)
  y <- as.numeric(model.response(mf))
  n <- length(y)
  fam <- ns$resolve_family(binomial())
  eng <- ns$cpp_sparse_new(X, re$Z, y, rep(1, n), rep(0, n), re$lam_row - 1L, re$lam_col - 1L,
                           re$lam_k - 1L, re$ntheta, fam$family_code, fam$link_code)
  p <- ncol(X)
  nq <- ncol(re$Z)
  function(th) {
    laplace <- ns$cpp_sparse_eval(eng, th, FALSE)$loglik
    m <- ns$cpp_sparse_modes(eng, th)
    Lam <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = th[p + re$lam_k],
                                dims = c(nq, nq))
    A <- as.matrix(re$Z %*% Lam)
    pr <- plogis(m$eta)
    v <- pr * (1 - pr)
    d3 <- -v * (1 - 2 * pr)
    d4 <- -v * (1 - 6 * v)
    S <- solve(crossprod(A, A * v) + diag(nq))
    h <- A %*% S %*% t(A)
    hd <- diag(h)
    a <- crossprod(A, d3 * hd)
    laplace + sum(d4 * hd^2) / 8 + drop(crossprod(a, S %*% a)) / 8 + sum(outer(d3, d3) * h^3) / 12
  }
}

fit_second_order <- function(formula, data, start) {
  f <- second_order(formula, data)
  o <- optim(start, function(t) -f(t), method = "BFGS", control = list(reltol = 1e-12))
  o$par
}

secs <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}

compare <- function(label, formula, data, exact = NULL, published = NULL, sq = identity) {
  tl <- secs(fl <- glmm(formula, data = data, family = binomial))
  ti <- secs(fi <- glmm(formula, data = data, family = binomial,
                        control = glmm_control(importance_draws = 4000, importance_seed = 1)))
  ts <- secs(so <- fit_second_order(formula, data, as.numeric(fl$theta)))
  tab <- rbind(Laplace = sq(fl$theta), `second-order Laplace` = sq(so),
               `importance sampling` = sq(fi$theta), exact = exact, published = published)
  cat(sprintf("\n%s (seconds: Laplace %.2f, second-order %.2f, importance sampling %.2f)\n",
              label, tl, ts, ti))
  print(round(tab, 3))
  ref <- if (!is.null(exact)) exact else published
  err <- sweep(tab[1:3, , drop = FALSE], 2, ref)
  cat("largest error in a variance parameter:\n")
  print(round(apply(abs(err[, grep("Intercept", colnames(tab)), drop = FALSE]), 1, max), 3))
}

nested <- function(seed, H = 12L, W = 3L) {
  set.seed(seed)
  d <- expand.grid(patient = 1:4, ward = seq_len(W), hospital = seq_len(H))
  d$hospital <- factor(d$hospital)
  d$hw <- factor(paste(d$hospital, d$ward))
  d$x <- rnorm(nrow(d))
  eta <- -0.2 + 0.6 * d$x + rnorm(H, 0, 0.8)[d$hospital] + rnorm(W * H, 0, 1.2)[as.integer(d$hw)]
  d$y <- rbinom(nrow(d), 1, plogis(eta))
  d
}
fn <- y ~ x + (1 | hospital) + (1 | hw)
for (s in 2:4) {
  d <- nested(s)
  fq <- glmm(fn, data = d, family = binomial, nAGQ = 15)
  compare(sprintf("nested binary, data set %d", s), fn, d, exact = fq$theta)
}
if (requireNamespace("glmm", quietly = TRUE)) {
  data(salamander, package = "glmm")
  # variances, as published (Booth and Hobert 1999, Monte Carlo EM)
  sq <- function(th) { th <- as.numeric(th); c(th[1:4], th[5:6]^2) }
  pub <- c(1.03, 0.32, -1.95, 0.99, 1.40, 1.25)
  names(pub) <- c("R/R", "R/W", "W/R", "W/W", "var Female.(Intercept)", "var Male.(Intercept)")
  compare("salamander mating data (variances)", Mate ~ 0 + Cross + (1 | Female) + (1 | Male),
          salamander, published = pub, sq = function(th) stats::setNames(sq(th), names(pub)))
}
