# Gaussian models with one known covariance, fitted by spectral rotation
# (fit-known-gaussian.R): against lme4 with the random-effect design
# replaced by Z L (K = L L'), ML and REML; a factor of K against the same K
# formed densely; K = identity against the plain random intercept; gaston's
# AI-REML where it is installed.

# Genotype-like data: n people, one measurement each, K a genomic
# relationship matrix from m standardized variants.
sim_gwas_like <- function(n = 120, m = 30, reps = 1, seed = 7) {
  set.seed(seed)
  G <- matrix(rbinom(n * m, 2, 0.3), n, m)
  L <- scale(G) / sqrt(m)
  rownames(L) <- paste0("p", seq_len(n))
  d <- data.frame(id = factor(rep(rownames(L), reps), levels = rownames(L)),
                  x = rnorm(n * reps))
  g <- drop(L %*% rnorm(m))
  d$y <- 1 + 0.5 * d$x + 1.2 * g[as.integer(d$id)] + rnorm(n * reps)
  K <- tcrossprod(L) + diag(0.01, n)
  list(data = d, L = L, K = K)
}

# lme4 on the same model: Zt replaced by (Z L)' with L the Cholesky factor
# of K, so that lme4's spherical random effects u give b = L u.
lmer_zl <- function(formula, d, K, REML) {
  Lk <- t(chol(K))
  lf <- lme4::lFormula(formula, d, REML = REML,
                       control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                   check.nobs.vs.nRE = "ignore"))
  Zt <- t(Lk) %*% as.matrix(lf$reTrms$Zt)
  lf$reTrms$Zt <- methods::as(methods::as(Matrix::Matrix(Zt, sparse = TRUE), "generalMatrix"),
                              "CsparseMatrix")
  lf$reTrms$Ztlist[[1L]] <- lf$reTrms$Zt
  dev <- do.call(lme4::mkLmerDevfun, lf)
  opt <- lme4::optimizeLmer(dev)
  fit <- lme4::mkMerMod(environment(dev), opt, lf$reTrms, fr = lf$fr)
  list(fit = fit, b = unname(drop(Lk %*% lme4::ranef(fit)[[1L]][[1L]])))
}

expect_same_as_lmer <- function(ours, ref, tol = 1e-6) {
  expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref$fit)), tolerance = 1e-8)
  expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref$fit)), tolerance = tol)
  vc <- as.data.frame(lme4::VarCorr(ref$fit))$vcov
  expect_equal(c(VarCorr(ours)$id[1, 1], sigma(ours)^2), vc, tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(ours)))),
               unname(sqrt(diag(as.matrix(stats::vcov(ref$fit))))), tolerance = 1e-5)
  expect_equal(ranef(ours)$id[[1L]], ref$b, tolerance = 1e-5)
}

test_that("one observation per person with a GRM: ML and REML equal lme4's Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_gwas_like()
  for (reml in c(FALSE, TRUE)) {
    ours <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = reml)
    expect_s3_class(ours, "glmmgee_glmm_known")
    expect_identical(ours$REML, reml)
    expect_same_as_lmer(ours, lmer_zl(y ~ x + (1 | id), s$data, s$K, reml))
  }
})

test_that("the tridiagonal route (dense K) equals the spectral route of a factor of the same K", {
  s <- sim_gwas_like(n = 140, m = 35, seed = 23)
  # rows of K in another order than the data, and a level without data
  perm <- sample(nrow(s$K))
  Kp <- s$K[perm, perm]
  Lp <- t(chol(Kp))
  rownames(Lp) <- rownames(Kp)
  d <- s$data[-5, ]
  for (reml in c(FALSE, TRUE)) {
    tri <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = Kp), REML = reml)
    spec <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = kfactor(Lp)), REML = reml)
    expect_match(tri$optinfo$method, "tridiagonal")
    expect_match(spec$optinfo$method, "spectral")
    expect_equal(as.numeric(logLik(tri)), as.numeric(logLik(spec)), tolerance = 1e-8)
    expect_equal(fixef(tri), fixef(spec), tolerance = 1e-6)
    expect_equal(c(VarCorr(tri)$id[1, 1], sigma(tri)), c(VarCorr(spec)$id[1, 1], sigma(spec)),
                 tolerance = 1e-6)
    expect_equal(vcov(tri), vcov(spec), tolerance = 1e-6)
    expect_equal(ranef(tri)$id, ranef(spec)$id, tolerance = 1e-6)
    expect_equal(tri$cov_theta, spec$cov_theta, tolerance = 1e-4)
  }
  # a non-symmetric K is refused before any work
  Ka <- Kp
  Ka[1, 2] <- Ka[1, 2] + 0.1
  expect_error(glmm(y ~ x + (1 | id), data = d, covariance = list(id = Ka)), "symmetric")
})

test_that("several observations per level (O(n r^2) route) equal lme4's Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_gwas_like(n = 60, m = 20, reps = 3, seed = 3)
  for (reml in c(FALSE, TRUE)) {
    ours <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = reml)
    expect_same_as_lmer(ours, lmer_zl(y ~ x + (1 | id), s$data, s$K, reml))
  }
})

test_that("K given by its factor equals K formed densely, also when K is singular", {
  s <- sim_gwas_like(n = 100, m = 25)
  Ks <- tcrossprod(s$L)   # rank 24 < n: only the factor route and eigen see it
  for (reml in c(FALSE, TRUE)) {
    viaL <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = kfactor(s$L)),
                 REML = reml)
    viaK <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Ks), REML = reml)
    expect_equal(as.numeric(logLik(viaL)), as.numeric(logLik(viaK)), tolerance = 1e-8)
    expect_equal(fixef(viaL), fixef(viaK), tolerance = 1e-6)
    expect_equal(VarCorr(viaL)$id[1, 1], VarCorr(viaK)$id[1, 1], tolerance = 1e-5)
    expect_equal(ranef(viaL)$id[[1L]], ranef(viaK)$id[[1L]], tolerance = 1e-5)
  }
})

test_that("the ML log-likelihood is the dense multivariate normal one, at its maximum", {
  s <- sim_gwas_like(n = 80, m = 20)
  fit <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K))
  X <- cbind(1, s$data$x)
  dense <- function(par) {
    V <- par[3]^2 * s$K + exp(2 * par[4]) * diag(nrow(X))
    R <- chol(V)
    r <- backsolve(R, s$data$y - X %*% par[1:2], transpose = TRUE)
    -0.5 * sum(r^2) - sum(log(diag(R))) - 0.5 * nrow(X) * log(2 * pi)
  }
  at <- unname(fit$theta)
  expect_equal(as.numeric(logLik(fit)), dense(at), tolerance = 1e-10)
  opt <- stats::optim(at + c(0.05, -0.05, 0.1, 0.1), dense, method = "BFGS",
                      control = list(fnscale = -1, reltol = 1e-14))
  expect_gt(as.numeric(logLik(fit)) - opt$value, -1e-7)
  # the variance parameters' standard errors are those of the dense
  # observed information (beta held at its estimate)
  h <- stats::optimHess(at, dense)
  se_dense <- sqrt(diag(solve(-h[3:4, 3:4])))
  expect_equal(unname(sqrt(diag(vcov(fit, full = TRUE)))[3:4]), se_dense, tolerance = 1e-3)
})

test_that("K = identity with several observations per level is the plain random intercept", {
  s <- sim_gwas_like(n = 40, m = 10, reps = 4, seed = 11)
  I <- diag(40)
  dimnames(I) <- list(levels(s$data$id), levels(s$data$id))
  withI <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = I))
  plain <- glmm(y ~ x + (1 | id), data = s$data)
  expect_equal(as.numeric(logLik(withI)), as.numeric(logLik(plain)), tolerance = 1e-7)
  expect_equal(fixef(withI), fixef(plain), tolerance = 1e-5)
  expect_equal(sigma(withI), sigma(plain), tolerance = 1e-5)
  expect_equal(ranef(withI)$id[[1L]], ranef(plain)$id[[1L]], tolerance = 1e-4)
})

test_that("what stays unidentified or unsupported is refused with the argument named", {
  s <- sim_gwas_like(n = 40, m = 10)
  I <- diag(40)
  dimnames(I) <- list(levels(s$data$id), levels(s$data$id))
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = I)),
               "confounded with the residual")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = 2 * I)),
               "confounded with the residual")
  # REML without a known covariance is the ordinary REML fit, which cannot
  # separate the two variances with one observation per level.
  expect_error(glmm(y ~ x + (1 | id), data = s$data, REML = TRUE), "one observation")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = NA),
               "'REML' must be TRUE or FALSE")
  s$data$yb <- as.integer(s$data$y > 1)
  expect_error(glmm(yb ~ x + (1 | id), data = s$data, family = binomial(link = "probit"),
                    covariance = list(id = kfactor(s$L))), "kfactor")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K),
                    weights = rep(2, 40)), "'weights'")
  expect_error(kfactor(unname(s$L)), "row names")
  expect_error(kfactor(as.data.frame(s$L)), "numeric matrix")
  Lna <- s$L
  Lna[1, 1] <- NA
  expect_error(kfactor(Lna), "finite")
  Ki <- s$K
  Ki[1, 2] <- Ki[2, 1] <- 30
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Ki)),
               "not positive semidefinite")
})

test_that("a request that cannot fit in memory is refused at once with its size", {
  expect_error(glmmgee:::check_memory(2^60, "the test allocation"),
               "the test allocation needs about [0-9.]+ GB")
  expect_invisible(glmmgee:::check_memory(1, "one byte"))
  # through glmm(): refused before any decomposition, naming the size
  s <- sim_gwas_like(n = 60, m = 15, seed = 19)
  # this testthat has no local_mocked_bindings(): swap the binding by hand
  ns <- asNamespace("glmmgee")
  real <- get("memory_available", ns)
  unlockBinding("memory_available", ns)
  assign("memory_available", function() 1024, envir = ns)
  on.exit({ assign("memory_available", real, envir = ns); lockBinding("memory_available", ns) })
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K)),
               "tridiagonal reduction of 'covariance\\$id' \\(60 x 60\\) needs about [0-9.]+ GB")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = kfactor(s$L))),
               "factor of 'covariance\\$id' \\(60 x 15\\) needs about")
})

test_that("a trait without a K component is a singular fit, reported, equal to lm", {
  s <- sim_gwas_like(n = 100, m = 25, seed = 5)
  set.seed(2)
  s$data$y <- 1 + 0.5 * s$data$x + rnorm(100)
  expect_warning(fit <- glmm(y ~ x + (1 | id), data = s$data,
                             covariance = list(id = kfactor(s$L))), "singular fit")
  expect_true(fit$singular)
  expect_equal(VarCorr(fit)$id[1, 1], 0)
  lmfit <- stats::lm(y ~ x, s$data)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(lmfit)), tolerance = 1e-8)
  expect_equal(fixef(fit), coef(lmfit), tolerance = 1e-8)
})

test_that("gaston's AI-REML reaches the same REML estimates", {
  skip_if_not_installed("gaston")
  s <- sim_gwas_like(n = 150, m = 40, seed = 21)
  ours <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = TRUE)
  X <- cbind(1, s$data$x)
  ref <- gaston::lmm.aireml(s$data$y, X, K = s$K, verbose = FALSE)
  expect_equal(unname(fixef(ours)), unname(ref$BLUP_beta), tolerance = 1e-4)
  expect_equal(VarCorr(ours)$id[1, 1], ref$tau, tolerance = 1e-4)
  expect_equal(sigma(ours)^2, ref$sigma2, tolerance = 1e-4)
})

# Cells with a spatial and a lineage-like covariance, one measurement each.
sim_two_covariances <- function(n = 150, seed = 3) {
  set.seed(seed)
  pos <- cbind(runif(n), runif(n))
  Ks <- exp(-as.matrix(stats::dist(pos)) / 0.2)
  A <- matrix(rnorm(n * 10), n, 10)
  Kl <- tcrossprod(A) / 10 + diag(0.05, n)
  nm <- paste0("c", seq_len(n))
  dimnames(Ks) <- dimnames(Kl) <- list(nm, nm)
  d <- data.frame(cell = factor(nm, levels = nm), lineage = factor(nm, levels = nm),
                  x = rnorm(n))
  d$y <- 0.5 + 0.3 * d$x + 0.8 * drop(t(chol(Ks)) %*% rnorm(n)) +
    0.6 * drop(t(chol(Kl)) %*% rnorm(n)) + rnorm(n, sd = 0.7)
  list(data = d, Ks = Ks, Kl = Kl)
}

test_that("two known covariances on the same cells: ML and REML equal lme4's Z L fit", {
  skip_if_not_installed("lme4")
  s <- sim_two_covariances()
  f <- y ~ x + (1 | cell) + (1 | lineage)
  mk <- function(Z) methods::as(methods::as(Matrix::Matrix(Z, sparse = TRUE), "generalMatrix"),
                                "CsparseMatrix")
  for (reml in c(FALSE, TRUE)) {
    ours <- glmm(f, s$data, covariance = list(cell = s$Ks, lineage = s$Kl), REML = reml)
    expect_length(ours$optinfo$warnings, 0L)
    lf <- lme4::lFormula(f, s$data, REML = reml,
                         control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                     check.nobs.vs.nRE = "ignore"))
    Z1 <- chol(s$Ks) %*% as.matrix(lf$reTrms$Ztlist[[1L]])
    Z2 <- chol(s$Kl) %*% as.matrix(lf$reTrms$Ztlist[[2L]])
    lf$reTrms$Ztlist <- list(mk(Z1), mk(Z2))
    lf$reTrms$Zt <- mk(rbind(Z1, Z2))
    dev <- do.call(lme4::mkLmerDevfun, lf)
    ref <- lme4::mkMerMod(environment(dev), lme4::optimizeLmer(dev), lf$reTrms, fr = lf$fr)
    expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-7)
    expect_equal(unname(fixef(ours)), unname(lme4::fixef(ref)), tolerance = 1e-5)
    expect_equal(c(VarCorr(ours)$cell[1, 1], VarCorr(ours)$lineage[1, 1], sigma(ours)^2),
                 as.data.frame(lme4::VarCorr(ref))$vcov, tolerance = 1e-4)
    expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(as.matrix(stats::vcov(ref))))),
                 tolerance = 1e-4)
    bl <- drop(t(chol(s$Kl)) %*% lme4::ranef(ref)$lineage[[1L]])
    expect_equal(ranef(ours)$lineage[[1L]], unname(bl), tolerance = 1e-3)
  }
})

test_that("with two covariances, one absent from the data is a singular component", {
  s <- sim_two_covariances(seed = 8)
  set.seed(1)
  s$data$y <- 0.5 + 0.8 * drop(t(chol(s$Ks)) %*% rnorm(150)) + rnorm(150, sd = 0.7)
  expect_warning(fit <- glmm(y ~ x + (1 | cell) + (1 | lineage), s$data,
                             covariance = list(cell = s$Ks, lineage = s$Kl)),
                 "'lineage' is estimated at zero")
  one <- glmm(y ~ x + (1 | cell), s$data, covariance = list(cell = s$Ks))
  expect_true(fit$singular)
  expect_equal(VarCorr(fit)$lineage[1, 1], 0)
  # at the boundary the two-term model is the one-term model (spectral route)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(one)), tolerance = 1e-7)
  expect_equal(fixef(fit), fixef(one), tolerance = 1e-5)
})

test_that("rows with missing values are dropped and levels without data predicted through K", {
  s <- sim_gwas_like(n = 80, m = 20, seed = 13)
  d <- s$data
  d$x[c(3, 10)] <- NA
  fit <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = s$K), REML = TRUE)
  cc <- d[!is.na(d$x), ]
  # the same model on the complete cases, K restricted to their levels:
  # same optimum; the two dropped levels are predicted from the others
  keep <- as.character(cc$id)
  ref <- glmm(y ~ x + (1 | id), data = droplevels(cc),
              covariance = list(id = s$K[keep, keep]), REML = TRUE)
  expect_equal(nobs(fit), 78L)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8)
  expect_equal(fixef(fit), fixef(ref), tolerance = 1e-6)
  b <- ranef(fit)$id
  expect_equal(b[keep, 1], ranef(ref)$id[keep, 1], tolerance = 1e-5)
  # BLUP of a level without data: K_{l,obs} K_obs^{-1} b_obs
  lo <- as.character(d$id[3])
  expect_equal(b[lo, 1], drop(s$K[lo, keep] %*% solve(s$K[keep, keep], b[keep, 1])),
               tolerance = 1e-5)
})

test_that("K as a dense Matrix (nearPD()$mat, Matrix(K)) gives the base matrix's fit, ML and REML", {
  # these had stopped with "invalid 'type' (list) of argument"
  s <- sim_gwas_like(n = 60, m = 15, reps = 2, seed = 19)
  for (reml in c(FALSE, TRUE)) {
    base <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = reml)
    for (K in list(Matrix::nearPD(s$K)$mat, Matrix::Matrix(s$K))) {
      f <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = K), REML = reml)
      expect_equal(logLik(f), logLik(base), tolerance = 1e-8)
      expect_equal(VarCorr(f)$id, VarCorr(base)$id, tolerance = 1e-6)
    }
  }
})

test_that("print() and ngrps() count the levels in the data when K covers more", {
  skip_if_not_installed("lme4")
  # print() had said "levels: id 80", the rows of K
  s <- sim_gwas_like(n = 80, m = 20, reps = 2, seed = 23)
  d <- droplevels(s$data[s$data$id %in% rownames(s$K)[1:60], ])
  d$yb <- as.integer(d$y > median(d$y))
  fits <- list(glmm(y ~ x + (1 | id), data = d, covariance = list(id = s$K)),
               glmm(yb ~ x + (1 | id), data = d, family = binomial, covariance = list(id = s$K)))
  for (f in fits) {
    expect_equal(f$ngroups, 60L)
    expect_equal(unname(lme4::ngrps(f)), 60)
    expect_output(print(f), "levels: id 60 \\(of 80 in its covariance\\)")
    expect_output(print(summary(f)), "levels: id 60 ")
    # ranef() predicts every level of K
    expect_equal(nrow(ranef(f)$id), 80L)
  }
})

test_that("print() states the criterion", {
  s <- sim_gwas_like(n = 60, m = 15, seed = 17)
  ml <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = kfactor(s$L)))
  reml <- update(ml, REML = TRUE)
  expect_output(print(ml), "fit by ML \\(spectral rotation\\)")
  expect_output(print(reml), "fit by REML \\(spectral rotation\\)")
  expect_output(print(reml), "REML log-likelihood")
})

test_that("variance shares of two known-covariance terms: sigma_j^2 mean(diag K_j) over the total", {
  s <- sim_two_covariances()
  fit <- glmm(y ~ x + (1 | cell) + (1 | lineage), s$data,
              covariance = list(cell = s$Ks, lineage = s$Kl))
  vs <- variance_shares(fit)
  v <- function(q, comp) vs$estimate[vs$quantity == q & vs$component == comp]
  vcell <- VarCorr(fit)$cell[1, 1] * mean(diag(s$Ks))
  vlin <- VarCorr(fit)$lineage[1, 1] * mean(diag(s$Kl))
  vfix <- stats::var(drop(fit$X %*% fixef(fit)))
  total <- vcell + vlin + sigma(fit)^2 + vfix
  expect_equal(v("variance", "cell"), vcell, tolerance = 1e-8)
  expect_equal(v("variance", "lineage"), vlin, tolerance = 1e-8)
  expect_equal(v("share", "lineage"), vlin / total, tolerance = 1e-3)
  expect_true(all(is.finite(vs$conf.low[vs$quantity == "share"])))
})

test_that("degenerate known covariances are refused with what is wrong with them", {
  s <- sim_gwas_like(n = 40, m = 10)
  K <- s$K
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = 0 * K)),
               "'covariance\\$id' is zero")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Matrix::Matrix(0 * K, sparse = TRUE))),
               "'covariance\\$id' is zero")
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = -K)),
               "negative variances on its diagonal")
  Kna <- K
  Kna[3, 3] <- NA
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Kna)),
               "missing or infinite")
  Kn <- K
  dimnames(Kn) <- list(paste0("q", 1:40), paste0("q", 1:40))
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Kn)), "row names")
  # A K with a negative eigenvalue but a positive diagonal.
  Ki <- K
  Ki[1, 2] <- Ki[2, 1] <- 30
  expect_error(glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = Ki)),
               "not positive semidefinite")
})

test_that("profile intervals of a known-covariance fit: the exact likelihood, centred as Wald's", {
  s <- sim_gwas_like(n = 150, m = 40)
  fit <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K))
  expect_silent(ci <- confint(fit, method = "profile"))
  w <- confint(fit, method = "Wald")
  # The fixed effects' profile intervals are nearly symmetric about the
  # estimates: their centres within a tenth of a standard error of Wald's.
  se <- sqrt(diag(vcov(fit)))
  for (j in names(fixef(fit)))
    expect_lt(abs(mean(ci[j, ]) - mean(w[j, ])), 0.1 * se[[j]])
  # A profile by hand of the slope: the log-likelihood of the dense
  # multivariate normal maximized over the other parameters at the upper limit.
  y <- s$data$y; X <- cbind(1, s$data$x); K <- s$K
  prof_ll <- function(b1) {
    f <- function(par) {
      V <- exp(2 * par[2]) * K + exp(2 * par[3]) * diag(length(y))
      r <- y - X[, 2] * b1 - par[1]
      R <- chol(V)
      -(-0.5 * (length(y) * log(2 * pi) + 2 * sum(log(diag(R))) + sum(backsolve(R, r, transpose = TRUE)^2)))
    }
    -optim(c(fixef(fit)[[1]], log(sqrt(fit$reterms[[1]]$D[1, 1])), log(sigma(fit))), f,
           method = "BFGS", control = list(reltol = 1e-12))$value
  }
  ll_hat <- as.numeric(logLik(fit))
  expect_equal(2 * (ll_hat - prof_ll(ci["x", 2])), qchisq(0.95, 1), tolerance = 2e-3)
  expect_equal(2 * (ll_hat - prof_ll(ci["x", 1])), qchisq(0.95, 1), tolerance = 2e-3)
})

# Direct dense computations for a fit with known covariances: the variance
# components from the fit, V = s2e I + sum_j s2g_j Z_j K_j Z_j'.
direct_known <- function(fit, y, X, Ks, index) {
  vc <- as.data.frame(VarCorr(fit))
  s2g <- vc$vcov[vc$grp != "Residual"]
  s2e <- sigma(fit)^2
  n <- length(y)
  G <- lapply(seq_along(Ks), function(j) as.matrix(Ks[[j]])[index[[j]], index[[j]]])
  Vs <- diag(n)
  for (j in seq_along(Ks)) Vs <- Vs + s2g[j] / s2e * G[[j]]
  Vi <- solve(Vs)
  XVX <- crossprod(X, Vi %*% X)
  beta <- solve(XVX, crossprod(X, Vi %*% y))
  r <- drop(y - X %*% beta)
  q <- sum(r * (Vi %*% r))
  ld <- determinant(Vs)$modulus[[1]]
  p <- ncol(X)
  V <- s2e * Vs
  condvar <- lapply(seq_along(Ks), function(j) {
    K <- as.matrix(Ks[[j]])
    ZK <- K[index[[j]], , drop = FALSE]
    unname(diag(s2g[j] * K - s2g[j]^2 * crossprod(ZK, solve(V, ZK))))
  })
  # sigma profiled at the fit's variance ratios, as lme4's logLik(REML = )
  list(ml = -0.5 * (ld + n * (1 + log(2 * pi * q / n))),
       reml = -0.5 * (ld + determinant(XVX)$modulus[[1]] + (n - p) * (1 + log(2 * pi * q / (n - p)))),
       condvar = condvar)
}

# A sparse K: families of five (0.5 within a family, 1 on the diagonal).
sparse_family_K <- function(dn) {
  f <- (seq_along(dn[[1]]) - 1L) %/% 5L
  K <- 0.5 * outer(f, f, "==") + diag(0.5, length(f))
  dimnames(K) <- dn
  Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE), "CsparseMatrix"))
}

# One general K on every gaussian known-covariance route: spectral (four
# observations per level), tridiagonal (one each), the factor and sparse;
# each with its data, its 'covariance' and the K of direct_known().
known_route_cases <- function() {
  s <- sim_gwas_like(n = 60, m = 20, reps = 4, seed = 5)
  s1 <- sim_gwas_like(n = 80, m = 20, seed = 6)
  Ks <- sparse_family_K(dimnames(s$K))
  list(dense = list(d = s$data, cov = list(id = s$K), K = list(s$K)),
       tri = list(d = s1$data, cov = list(id = s1$K), K = list(s1$K)),
       factor = list(d = s$data, cov = list(id = kfactor(s$L)), K = list(tcrossprod(s$L))),
       sparse = list(d = s$data, cov = list(id = Ks), K = list(Ks)))
}

test_that("logLik(REML = FALSE) of a REML known-covariance fit is the ML log-likelihood at its estimates", {
  skip_if_not_installed("lme4")
  set.seed(3)
  ids <- paste0("i", 1:60)
  dd <- data.frame(id = factor(rep(ids, each = 4), levels = ids), x = rnorm(240))
  dd$y <- 1 + 0.5 * dd$x + rnorm(60)[dd$id] + rnorm(240)
  I60 <- diag(60)
  dimnames(I60) <- list(ids, ids)
  fi <- glmm(y ~ x + (1 | id), data = dd, covariance = list(id = I60), REML = TRUE)
  m <- lme4::lmer(y ~ x + (1 | id), dd)
  expect_equal(as.numeric(logLik(fi)), as.numeric(logLik(m)), tolerance = 1e-7)
  expect_equal(as.numeric(logLik(fi, REML = FALSE)), as.numeric(logLik(m, REML = FALSE)),
               tolerance = 1e-7)
  # and the ML fit's restricted log-likelihood at its estimates, as lme4's
  mm <- lme4::lmer(y ~ x + (1 | id), dd, REML = FALSE)
  fm <- glmm(y ~ x + (1 | id), data = dd, covariance = list(id = I60))
  expect_equal(as.numeric(logLik(fm, REML = TRUE)), as.numeric(logLik(mm, REML = TRUE)),
               tolerance = 1e-7)
  # A general K on every route: spectral (four observations per level),
  # tridiagonal (one each), the factor, sparse, and two terms.
  s <- sim_gwas_like(n = 60, m = 20, reps = 4, seed = 5)
  X <- cbind(1, s$data$x)
  cases <- known_route_cases()
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    for (reml in c(TRUE, FALSE)) {
      f <- glmm(y ~ x + (1 | id), data = cs$d, covariance = cs$cov, REML = reml)
      ref <- direct_known(f, cs$d$y, cbind(1, cs$d$x), cs$K, list(as.integer(cs$d$id)))
      expect_equal(as.numeric(logLik(f, REML = FALSE)), ref$ml, tolerance = 1e-8, info = nm)
      expect_equal(as.numeric(logLik(f, REML = TRUE)), ref$reml, tolerance = 1e-8, info = nm)
    }
  }
  d2 <- s$data
  d2$id2 <- d2$id
  # effects of both terms (the family K's and one of each level)
  set.seed(8)
  d2$y <- d2$y + 2 * drop(t(chol(as.matrix(sparse_family_K(dimnames(s$K))))) %*% rnorm(60))[d2$id] +
    rnorm(60)[d2$id]
  I2 <- diag(60)
  dimnames(I2) <- dimnames(s$K)
  f2 <- glmm(y ~ x + (1 | id) + (1 | id2), data = d2, REML = TRUE,
             covariance = list(id = s$K, id2 = I2))
  ref <- direct_known(f2, d2$y, X, list(s$K, I2), rep(list(as.integer(d2$id)), 2))
  expect_equal(as.numeric(logLik(f2, REML = FALSE)), ref$ml, tolerance = 1e-8)
})

test_that("logLik(REML = ) refuses what it cannot give instead of the fit's own criterion", {
  s <- sim_gwas_like(n = 60, m = 20, reps = 2, seed = 5)
  s$data$yb <- as.integer(s$data$y > 1)
  fb <- glmm(yb ~ x + (1 | id), data = s$data, family = binomial, covariance = list(id = s$K))
  expect_error(logLik(fb, REML = TRUE), "gaussian family.*binomial")
  expect_equal(logLik(fb, REML = FALSE), logLik(fb))
  fr <- glmm(y ~ x + (1 | id), data = s$data, covariance = list(id = s$K), REML = TRUE)
  fr$loglik_ml <- NULL
  expect_error(logLik(fr, REML = FALSE), "not available.*refit with REML = FALSE")
  expect_error(logLik(fr, REML = NA), "'REML' must be TRUE, FALSE or NULL")
})

test_that("ranef(condVar = TRUE) of a gaussian known-covariance fit: Var(b | y) at the estimates", {
  skip_if_not_installed("lme4")
  set.seed(3)
  ids <- paste0("i", 1:60)
  dd <- data.frame(id = factor(rep(ids, each = 4), levels = ids), x = rnorm(240))
  dd$y <- 1 + 0.5 * dd$x + rnorm(60)[dd$id] + rnorm(240)
  I60 <- diag(60)
  dimnames(I60) <- list(ids, ids)
  for (reml in c(TRUE, FALSE)) {
    fi <- glmm(y ~ x + (1 | id), data = dd, covariance = list(id = I60), REML = reml)
    m <- lme4::lmer(y ~ x + (1 | id), dd, REML = reml)
    pv <- attr(ranef(fi, condVar = TRUE)$id, "postVar")
    expect_equal(as.numeric(pv), as.numeric(attr(lme4::ranef(m, condVar = TRUE)$id, "postVar")),
                 tolerance = 1e-5)
  }
  s <- sim_gwas_like(n = 60, m = 20, reps = 4, seed = 5)
  Ks <- sparse_family_K(dimnames(s$K))
  cases <- known_route_cases()
  for (nm in names(cases)) {
    cs <- cases[[nm]]
    for (reml in c(TRUE, FALSE)) {
      f <- glmm(y ~ x + (1 | id), data = cs$d, covariance = cs$cov, REML = reml)
      ref <- direct_known(f, cs$d$y, cbind(1, cs$d$x), cs$K, list(as.integer(cs$d$id)))
      pv <- as.numeric(attr(ranef(f, condVar = TRUE)$id, "postVar"))
      expect_equal(pv, ref$condvar[[1]], tolerance = 1e-6, info = paste(nm, reml))
    }
  }
  d2 <- s$data
  d2$id2 <- d2$id
  # effects of both terms (the family K's and one of each level)
  set.seed(8)
  d2$y <- d2$y + 2 * drop(t(chol(as.matrix(sparse_family_K(dimnames(s$K))))) %*% rnorm(60))[d2$id] +
    rnorm(60)[d2$id]
  # a dense and a sparse second term: the dense and the sparse routes
  I2 <- Matrix::Diagonal(60)
  I2 <- Matrix::forceSymmetric(methods::as(I2, "CsparseMatrix"))
  dimnames(I2) <- dimnames(s$K)
  for (K2 in list(s$K, I2)) {
    f2 <- glmm(y ~ x + (1 | id) + (1 | id2), data = d2, covariance = list(id = Ks, id2 = K2))
    ref <- direct_known(f2, d2$y, cbind(1, d2$x), list(Ks, K2), rep(list(as.integer(d2$id)), 2))
    re <- ranef(f2, condVar = TRUE)
    expect_equal(as.numeric(attr(re$id, "postVar")), ref$condvar[[1]], tolerance = 1e-6)
    expect_equal(as.numeric(attr(re$id2, "postVar")), ref$condvar[[2]], tolerance = 1e-6)
  }
  pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  expect_no_error(plot_ranef(f))
})
