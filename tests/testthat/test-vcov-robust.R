# vcov(type = "CR0" ... "CR3"): cluster-robust covariances of the fixed
# effects of glmm() fits.

# lmer evaluated at the variance parameters of a glmm() fit (no
# optimization), so that clubSandwich sees the same model as glmmgee and the
# comparison is not blurred by where two optimizers stop (about 1e-5 apart
# on some of these data).
vr_lmer_at <- function(fit, formula, data, weights = NULL) {
  data$.w <- if (is.null(weights)) 1 else weights
  l0 <- lme4::lmer(formula, data = data, REML = isTRUE(fit$REML), weights = .w)
  s <- sigma(fit)
  lower_chol <- function(D) {
    L <- t(chol(D))
    L[lower.tri(L, diag = TRUE)]
  }
  theta <- if (is.null(fit$reterms)) {
    lower_chol(fit$D / s^2)
  } else {
    # lme4's terms in its order, matched to ours by grouping
    unlist(lapply(names(l0@cnms), function(g) {
      k <- match(g, vapply(fit$reterms, `[[`, "", "group"))
      lower_chol(fit$reterms[[k]]$D / s^2)
    }))
  }
  l <- lme4::lmer(formula, data = data, REML = isTRUE(fit$REML), weights = .w,
                  start = list(theta = unname(theta)),
                  control = lme4::lmerControl(optimizer = NULL))
  # without weights, a call without them (clubSandwich refuses any)
  if (is.null(weights)) l@call$weights <- NULL
  l
}

# lme4's sleepstudy with a binary outcome `y` (subject intercepts) and a
# count `n` (subject intercepts and Days slopes), simulated on its design.
sleepstudy_outcomes <- function() {
  d <- lme4::sleepstudy
  set.seed(1)
  d$y <- rbinom(nrow(d), 1, plogis(-1 + 0.15 * d$Days + rep(rnorm(18, 0, 1), each = 10)))
  d$n <- rpois(nrow(d), exp(0.5 + 0.1 * d$Days + rep(rnorm(18, 0, 0.5), each = 10) +
                              d$Days * rep(rnorm(18, 0, 0.05), each = 10)))
  d
}

vr_rel <- function(a, b) {
  a <- as.matrix(a)
  b <- as.matrix(b)
  max(abs(a - b)) / max(abs(b))
}

# max relative difference, ours vs clubSandwich, per type
vr_against_clubsandwich <- function(fit, lfit, cluster = NULL, lcluster = cluster) {
  vapply(c("CR0", "CR1", "CR2", "CR3"), function(t) {
    ours <- vcov(fit, type = t, cluster = cluster)
    cs <- if (is.null(lcluster)) clubSandwich::vcovCR(lfit, type = t) else
      clubSandwich::vcovCR(lfit, type = t, cluster = lcluster)
    expect_identical(dimnames(ours), dimnames(as.matrix(cs)))
    vr_rel(ours, cs)
  }, 0)
}

vr_clinics <- function(seed = 11) {
  set.seed(seed)
  d <- expand.grid(visit = 1:3, patient = 1:6, clinic = 1:12)
  d$id <- factor(paste(d$clinic, d$patient))
  d <- d[-sample(nrow(d), 40), ]  # unbalanced
  d$x <- rnorm(nrow(d))
  d$z <- rnorm(12)[d$clinic]
  # clinic effects and heteroscedastic errors the random-intercept model misses
  d$y <- 1 + 0.5 * d$x + 0.3 * d$z + rnorm(72)[d$id] + 0.8 * rnorm(12)[d$clinic] +
    rnorm(nrow(d)) * (0.5 + abs(d$x))
  d$w <- runif(nrow(d), 0.5, 2)
  d
}

test_that("CR0-CR3 of a linear mixed model match clubSandwich's vcovCR() for lmer", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("clubSandwich")
  data(sleepstudy, package = "lme4")
  # unbalanced, so that the estimator depends on V (with the same design in
  # every cluster GLS is OLS and CR* do not depend on the variance parameters)
  ss <- sleepstudy[-c(1:3, 25:31, 50, 95:99, 150:151), ]
  fo <- Reaction ~ Days + (Days | Subject)
  for (reml in c(TRUE, FALSE)) {
    fit <- glmm(fo, data = ss, REML = reml)
    expect_identical(fit$engine$name, "lmm_one_factor")
    d <- vr_against_clubsandwich(fit, vr_lmer_at(fit, fo, ss))
    expect_true(all(d < 1e-6), info = paste("sleepstudy REML", reml, paste(signif(d, 3), collapse = " ")))
  }
  # nested: the default cluster is the top level (batch)
  data(Pastes, package = "lme4")
  fp <- strength ~ 1 + (1 | batch/cask)
  fit <- glmm(fp, data = Pastes, REML = TRUE)
  expect_identical(fit$engine$name, "lmm_sparse")
  d <- vr_against_clubsandwich(fit, vr_lmer_at(fit, fp, Pastes))
  expect_true(all(d < 1e-6), info = paste(signif(d, 3), collapse = " "))
  # nested with covariates, a random slope at the top level
  dc <- vr_clinics()
  fc <- y ~ x + z + (x | clinic) + (1 | id)
  fit <- glmm(fc, data = dc, REML = TRUE)
  expect_identical(fit$engine$name, "lmm_sparse")
  d <- vr_against_clubsandwich(fit, vr_lmer_at(fit, fc, dc))
  expect_true(all(d < 1e-6), info = paste(signif(d, 3), collapse = " "))
  # a random intercept per patient, clustered by the coarser clinic: as a
  # vector and as a formula
  fi <- y ~ x + z + (1 | id)
  fit <- glmm(fi, data = dc, REML = TRUE)
  lfit <- vr_lmer_at(fit, fi, dc)
  d <- vr_against_clubsandwich(fit, lfit, cluster = dc$clinic)
  expect_true(all(d < 1e-6), info = paste(signif(d, 3), collapse = " "))
  for (t in c("CR1", "CR2"))
    expect_identical(vcov(fit, type = t, cluster = ~ clinic), vcov(fit, type = t, cluster = dc$clinic))
  # clustering by patient (the default) differs from clustering by clinic
  expect_gt(vr_rel(vcov(fit, type = "CR2"), vcov(fit, type = "CR2", cluster = ~ clinic)), 0.01)
  d <- vr_against_clubsandwich(fit, lfit)
  expect_true(all(d < 1e-6), info = paste(signif(d, 3), collapse = " "))
})

test_that("the CR types differ as defined and the bread is the model-based covariance", {
  skip_if_not_installed("lme4")
  dc <- vr_clinics()
  fit <- glmm(y ~ x + z + (1 | id), data = dc, REML = TRUE)
  v <- lapply(c(CR0 = "CR0", CR1 = "CR1", CR2 = "CR2", CR3 = "CR3"), function(t)
    vcov(fit, type = t, cluster = ~ clinic))
  expect_equal(v$CR1, v$CR0 * 12 / 11, tolerance = 1e-12)
  # CR2 and CR3 inflate the plain sandwich
  expect_true(all(diag(v$CR2) > diag(v$CR0)) && all(diag(v$CR3) > diag(v$CR2)))
  # the per-cluster scores give CR0 through sandwich's formula, and sum to 0
  S <- glmmgee:::lmm_cluster_estfun(fit, ~ clinic)
  expect_identical(dim(S), c(12L, 3L))
  expect_identical(rownames(S), as.character(1:12))
  expect_identical(colnames(S), names(fixef(fit)))
  B <- attr(S, "bread")
  expect_equal(B %*% crossprod(S) %*% B, v$CR0, tolerance = 1e-8)
  expect_lt(max(abs(colSums(S)) * sqrt(diag(vcov(fit)))), 1e-6)
  # the GLS bread is vcov(fit) for a REML fit; and it is lmer's vcov()
  expect_equal(B, vcov(fit), tolerance = 1e-8)
  lfit <- vr_lmer_at(fit, y ~ x + z + (1 | id), dc)
  expect_equal(unname(B), unname(as.matrix(vcov(lfit))), tolerance = 1e-8)
  fml <- glmm(y ~ x + z + (1 | id), data = dc)
  expect_equal(unname(attr(glmmgee:::lmm_cluster_estfun(fml), "bread")),
               unname(as.matrix(vcov(vr_lmer_at(fml, y ~ x + z + (1 | id), dc)))), tolerance = 1e-8)
  # type = "model" is the model-based covariance, unchanged
  expect_identical(vcov(fit, type = "model"), vcov(fit))
  expect_identical(vcov(fit, type = "model", full = TRUE), vcov(fit, full = TRUE))
})

# A dense reference from the definitions, on lme4's pieces (n small): the
# full block-diagonal V and hat matrix.
vr_dense_cr <- function(lfit, cluster, type) {
  X <- lme4::getME(lfit, "X")
  Z <- as.matrix(lme4::getME(lfit, "Z"))
  L <- as.matrix(lme4::getME(lfit, "Lambda"))
  w <- weights(lfit)
  V <- Z %*% L %*% t(L) %*% t(Z) + diag(1 / w)
  V[outer(cluster, cluster, `!=`)] <- 0  # the model's V is block diagonal when nested
  Vi <- solve(V)
  M <- solve(t(X) %*% Vi %*% X)
  e <- lme4::getME(lfit, "y") - c(X %*% lme4::fixef(lfit))
  H <- X %*% M %*% t(X) %*% Vi
  meat <- 0
  for (g in unique(cluster)) {
    i <- cluster == g
    Vg <- V[i, i, drop = FALSE]
    A <- switch(type,
      CR0 = , CR1 = diag(sum(i)),
      CR2 = {
        # A = V^{1/2} B^{-1/2} V^{1/2}, B = V^{1/2} (I - H_gg) V_g V^{1/2},
        # with symmetric square roots
        pw <- function(S, p) {
          es <- eigen(S, symmetric = TRUE)
          es$vectors %*% (es$values^p * t(es$vectors))
        }
        Vh <- pw(Vg, 1 / 2)
        Vh %*% pw(Vh %*% (diag(sum(i)) - H[i, i, drop = FALSE]) %*% Vg %*% Vh, -1 / 2) %*% Vh
      },
      CR3 = solve(diag(sum(i)) - H[i, i, drop = FALSE]))
    u <- t(X[i, , drop = FALSE]) %*% Vi[i, i, drop = FALSE] %*% A %*% e[i]
    meat <- meat + u %*% t(u)
  }
  G <- length(unique(cluster))
  M %*% meat %*% M * (if (type == "CR1") G / (G - 1) else 1)
}

test_that("with prior weights, CR0-CR3 match the definitions on lmer's weighted model", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("clubSandwich")
  # clubSandwich refuses lmer fits with prior weights: the reference here is
  # the dense computation from the definitions, itself checked against
  # clubSandwich on the unweighted fit
  dc <- vr_clinics()
  fw <- glmm(y ~ x + z + (1 | id), data = dc, weights = w, REML = TRUE)
  lw <- vr_lmer_at(fw, y ~ x + z + (1 | id), dc, weights = dc$w)
  f1 <- glmm(y ~ x + z + (1 | id), data = dc, REML = TRUE)
  l1 <- vr_lmer_at(f1, y ~ x + z + (1 | id), dc)
  for (t in c("CR0", "CR1", "CR2", "CR3")) {
    expect_lt(vr_rel(vr_dense_cr(l1, dc$clinic, t),
                     clubSandwich::vcovCR(l1, type = t, cluster = dc$clinic)), 1e-8)
    expect_lt(vr_rel(vcov(fw, type = t, cluster = ~ clinic), vr_dense_cr(lw, dc$clinic, t)), 1e-6)
  }
  # the weights matter
  expect_gt(vr_rel(vcov(fw, type = "CR2", cluster = ~ clinic),
                   vcov(f1, type = "CR2", cluster = ~ clinic)), 0.01)
})

test_that("vcov(type = ) and 'cluster' refuse what they cannot give, naming the problem", {
  skip_if_not_installed("lme4")
  dc <- vr_clinics()
  fit <- glmm(y ~ x + z + (1 | id), data = dc, REML = TRUE)
  expect_error(vcov(fit, type = "CR4"), "'type' must be one of \"model\", \"CR0\", \"CR1\", \"CR2\", \"CR3\"")
  expect_error(vcov(fit, type = c("CR1", "CR2")), "'type' must be one of")
  expect_error(vcov(fit, type = "CR2", full = TRUE), "'full = TRUE' is not available")
  expect_error(vcov(fit, cluster = ~ clinic), "'cluster' is for the cluster-robust types")
  expect_error(vcov(fit, type = "CR2", cluster = dc$clinic[-1]),
               sprintf("'cluster' has %d values; it needs one per observation of the fit \\(%d\\)",
                       nrow(dc) - 1L, nrow(dc)))
  cl <- dc$clinic
  cl[1] <- NA
  expect_error(vcov(fit, type = "CR2", cluster = cl), "'cluster' has missing values")
  # a cluster that splits a patient
  expect_error(vcov(fit, type = "CR2", cluster = dc$visit),
               "'cluster' does not nest the random-effect grouping 'id'")
  expect_error(vcov(fit, type = "CR2", cluster = rep(1, nrow(dc))), "fewer than 2 clusters")
  expect_error(vcov(fit, type = "CR2", cluster = ~ not_a_column), "'cluster'.*cannot be evaluated")
  # crossed random effects: no default cluster; one that nests both works
  dc$rater <- factor(sample(letters[1:4], nrow(dc), TRUE))
  fx <- suppressWarnings(glmm(y ~ x + (1 | id) + (1 | rater), data = dc, REML = TRUE))
  expect_error(vcov(fx, type = "CR2"),
               "no grouping factor nests all random-effect terms \\(id, rater\\); give 'cluster ='")
  expect_error(vcov(fx, type = "CR2", cluster = ~ clinic),
               "does not nest the random-effect grouping 'rater'")
  # a non-gaussian fit: the engine's refusal
  dc$yb <- as.integer(dc$y > 1)
  fb <- glmm(yb ~ x + (1 | id), data = dc, family = binomial)
  if (!glmmgee:::has_capability(fb, "robust_vcov"))
    expect_error(vcov(fb, type = "CR2"),
                 "vcov\\(type = \"CR2\"\\): the agq engine .*does not provide cluster-robust covariances")
})

test_that("observations of zero weight add nothing to the cluster-robust covariance", {
  dc <- vr_clinics()
  dc$w0 <- 1
  dc$w0[1:5] <- 0
  f0 <- glmm(y ~ x + z + (1 | id), data = dc, weights = w0, REML = TRUE)
  fd <- glmm(y ~ x + z + (1 | id), data = dc[-(1:5), ], REML = TRUE)
  for (t in c("CR1", "CR2")) {
    expect_equal(vcov(f0, type = t, cluster = ~ clinic), vcov(fd, type = t, cluster = ~ clinic),
                 tolerance = 1e-6)
    # a cluster given for the observations of positive weight only
    expect_identical(vcov(f0, type = t, cluster = dc$clinic[-(1:5)]),
                     vcov(f0, type = t, cluster = ~ clinic))
  }
  # a whole cluster of weight 0 in a one-factor GLMM (its engine rebuilt
  # with fewer clusters than levels stopped with "cluster code out of
  # range")
  set.seed(8)
  M <- 30; g <- rep(seq_len(M), each = 10); x <- rnorm(M * 10)
  d <- data.frame(y = rpois(M * 10, exp(0.2 + 0.4 * x + rnorm(M, 0, 0.5)[g])), x = x, g = g,
                  w = as.numeric(g != 5))
  for (k in c(1, 3)) {
    fw <- glmm(y ~ x + (1 | g), data = d, weights = w, family = poisson, nAGQ = k)
    fs <- glmm(y ~ x + (1 | g), data = d[d$g != 5, ], family = poisson, nAGQ = k)
    for (t in c("CR0", "CR1", "CR2"))
      expect_equal(vcov(fw, type = t), vcov(fs, type = t), tolerance = 1e-6, info = t)
  }
})

test_that("a cluster formula is evaluated on the rows the fit used", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("clubSandwich")
  dc <- vr_clinics()
  dc$x[c(3, 50)] <- NA
  fit <- glmm(y ~ x + z + (1 | id), data = dc, REML = TRUE)
  used <- dc[!is.na(dc$x), ]
  lfit <- vr_lmer_at(fit, y ~ x + z + (1 | id), used)
  expect_lt(vr_rel(vcov(fit, type = "CR2", cluster = ~ clinic),
                   clubSandwich::vcovCR(lfit, type = "CR2", cluster = used$clinic)), 1e-6)
  expect_identical(vcov(fit, type = "CR2", cluster = ~ clinic),
                   vcov(fit, type = "CR2", cluster = used$clinic))
  # a vector over the rows of the data, including the dropped ones, is refused
  expect_error(vcov(fit, type = "CR2", cluster = dc$clinic),
               "'cluster' has 176 values; it needs one per observation of the fit \\(174\\)")
})

test_that("a cluster that alone determines a coefficient: CR2 as clubSandwich, CR3 an error", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("clubSandwich")
  dc <- vr_clinics()
  dc$first <- as.numeric(dc$clinic == 1)
  fit <- glmm(y ~ x + first + (1 | id), data = dc, REML = TRUE)
  lfit <- vr_lmer_at(fit, y ~ x + first + (1 | id), dc)
  # I - H_ii is singular for clinic 1: CR2's inverse square root is the
  # pseudo-inverse one
  expect_lt(vr_rel(vcov(fit, type = "CR2", cluster = ~ clinic),
                   clubSandwich::vcovCR(lfit, type = "CR2", cluster = dc$clinic)), 1e-6)
  expect_error(vcov(fit, type = "CR3", cluster = ~ clinic),
               "vcov\\(type = \"CR3\"\\): I - H is singular for cluster '1'")
})

# ---- GLMMs by quadrature or Laplace: sandwich from per-cluster scores ----

# A binary fit with crossed random intercepts (the laplace_sparse engine),
# optionally with a covariate.
vr_crossed_fit <- function(covariate = FALSE) {
  set.seed(5)
  dd <- expand.grid(a = factor(1:10), b = factor(1:8), r = 1:2)
  dd$y <- rbinom(nrow(dd), 1, 0.4)
  if (covariate) dd$x <- rnorm(nrow(dd))
  f <- if (covariate) y ~ x + (1 | a) + (1 | b) else y ~ 1 + (1 | a) + (1 | b)
  suppressWarnings(glmm(f, data = dd, family = binomial))
}

cbpp_fit <- function(nAGQ = 5) {
  data(cbpp, package = "lme4", envir = environment())
  glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
       family = binomial, nAGQ = nAGQ)
}

test_that("per-cluster scores are each cluster's exact gradient and sum to the fit's gradient", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  pe <- profile_engine(fit)
  th <- theta_star(as.numeric(fit$theta), pe$Tx)
  S <- pe$scores(th)
  expect_equal(dim(S), c(length(fit$group_levels), length(th)))
  expect_equal(colSums(S), pe$eval(th)$gradient, tolerance = 1e-10)
  expect_lt(max(abs(colSums(S))), 1e-3)
  eng <- environment(pe$scores)$eng
  J <- numDeriv::jacobian(function(t) cpp_agq_summaries(eng, t)$loglik, th)
  expect_equal(S, J, tolerance = 1e-6)
})

# binary outcomes with a random slope of x in 100 clusters of 8 rows
vr_slope_data <- function(seed = 3) {
  set.seed(seed)
  G <- 100
  d <- data.frame(g = rep(seq_len(G), each = 8), x = rnorm(8 * G), trt = rep(0:1, 4 * G))
  u <- rnorm(G, 0, 0.7)
  s <- rnorm(G, 0, 0.9)
  d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$trt + (0.4 + s[d$g]) * d$x + u[d$g]))
  d
}

test_that("the clusters' curvature kept with a one-factor fit gives the CR types of a rebuilt engine", {
  skip_if_not_installed("lme4")
  set.seed(3)
  G <- 30
  d <- data.frame(g = rep(seq_len(G), each = 8), x = rnorm(8 * G), trt = rep(0:1, 4 * G))
  u <- rnorm(G, 0, 0.7)
  s <- rnorm(G, 0, 0.4)
  d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$trt + (0.4 + s[d$g]) * d$x + u[d$g]))
  d$k <- rpois(nrow(d), exp(0.3 + 0.2 * d$trt + u[d$g]))
  d$yr <- 2000 + d$x  # a covariate far from zero: the standardized scale
  fits <- list(
    binomial_agq = glmm(y ~ trt + x + (1 | g), data = d, family = binomial, nAGQ = 7),
    # singular: the search held a coordinate on its bound
    binomial_slope_singular = suppressWarnings(glmm(y ~ trt + x + (x | g), data = d,
                                                    family = binomial)),
    binomial_slope = glmm(y ~ trt + x + (x | g), data = vr_slope_data(), family = binomial),
    poisson_far = glmm(k ~ trt + yr + (1 | g), data = d, family = poisson),
    cbpp = cbpp_fit())
  for (n in names(fits)) {
    f <- fits[[n]]
    cc <- f$cluster_curvature
    expect_false(is.null(cc), info = n)
    # one information per cluster, summing to the fit's own information
    parts <- cluster_score_parts(f, NULL, hessians = TRUE)
    expect_equal(rowSums(sandwich_informations(parts), dims = 2L), unname(parts$A), tolerance = 1e-8, info = n)
    expect_equal(colSums(parts$S), numeric(ncol(parts$S)), tolerance = 1e-3, info = n)
    g <- without_curvature(f)
    for (ty in c("CR0", "CR1", "CR2", "CR3")) {
      # forward differences (the fit's Hessian) against central ones
      expect_lt(vr_rel(vcov(f, type = ty), vcov(g, type = ty)), 1e-4)
    }
    expect_equal(attr(robust_vcov(f, "CR2", df = TRUE), "df"),
                 attr(robust_vcov(g, "CR2", df = TRUE), "df"), tolerance = 1e-4, info = n)
  }
  # a user cluster that nests the fit's clusters
  d$pair <- (d$g + 1) %/% 2
  f <- fits$binomial_agq
  expect_lt(vr_rel(vcov(f, type = "CR2", cluster = d$pair),
                   vcov(without_curvature(f), type = "CR2", cluster = d$pair)), 1e-4)
  # a fit whose parameters were mapped after the search keeps none that applies
  h <- f
  h$theta[1] <- h$theta[1] + 1e-3
  expect_null(curvature_score_parts(h, resolve_vcov_cluster(h, NULL), FALSE))
})


test_that("two-part fits keep their clusters' curvature: the CR types of a rebuilt engine", {
  set.seed(3)
  G <- 60
  d <- data.frame(g = rep(seq_len(G), each = 8), x = rnorm(8 * G), trt = rep(0:1, 4 * G))
  u <- rnorm(G, 0, 0.6)
  d$y <- ifelse(runif(nrow(d)) < plogis(-1 + 0.5 * d$x), 0,
                rpois(nrow(d), exp(0.5 + 0.3 * d$trt + u[d$g])))
  d$xf <- d$x * 1e-3 + 20
  d$pair <- rep(1:2, each = 4)
  fits <- list(
    zip = glmm(y ~ trt + x + (1 | g), ziformula = ~ x, data = d, family = poisson),
    zip_agq = glmm(y ~ trt + x + (1 | g), ziformula = ~ x, data = d, family = poisson, nAGQ = 5),
    hurdle = glmm(y ~ trt + x + (1 | g), ziformula = ~ x, data = d, family = truncated_poisson),
    nb_disp = glmm(y ~ trt + x + (1 | g), dispformula = ~ trt, data = d, family = nbinom2),
    zip_far = glmm(y ~ trt + xf + (1 | g), ziformula = ~ xf, data = d, family = poisson),
    zip_random_zero = suppressWarnings(glmm(y ~ trt + x + (1 | g), ziformula = ~ x + (1 | g),
                                            data = d, family = poisson, nAGQ = 3)),
    # several terms nested in one grouping (the sparse engine)
    zip_nested = glmm(y ~ trt + x + (1 | g/pair), ziformula = ~ x, data = d, family = poisson),
    nb_disp_nested = glmm(y ~ trt + x + (1 | g/pair), dispformula = ~ trt, data = d,
                          family = nbinom2))
  for (n in names(fits)) {
    f <- fits[[n]]
    expect_false(is.null(f$cluster_curvature), info = n)
    # (x * 1e-3 + 20: carried through the map of a covariate far from
    # zero, which costs digits)
    parts <- cluster_score_parts(f, NULL, hessians = TRUE)
    expect_equal(rowSums(sandwich_informations(parts), dims = 2L), unname(parts$A),
                 tolerance = if (n == "zip_far") 1e-5 else 1e-8, info = n)
    g <- without_curvature(f)
    for (ty in c("CR0", "CR2", "CR3"))
      expect_lt(vr_rel(vcov(f, type = ty), vcov(g, type = ty)), 1e-5)
  }
})

test_that("CR0 of a binomial GLMM equals the sandwich built from numerical derivatives", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  pe <- profile_engine(fit)
  eng <- environment(pe$scores)$eng
  th <- as.numeric(fit$theta)
  ll_i <- function(t) cpp_agq_summaries(eng, theta_star(t, pe$Tx))$loglik
  J <- numDeriv::jacobian(ll_i, th)
  H <- numDeriv::hessian(function(t) sum(ll_i(t)), th)
  Ai <- solve(-H)
  p <- length(fit$coefficients)
  ref <- (Ai %*% crossprod(J) %*% Ai)[1:p, 1:p]
  V0 <- vcov(fit, type = "CR0")
  expect_equal(unname(V0), ref, tolerance = 1e-5)
  G <- length(fit$group_levels)
  expect_equal(vcov(fit, type = "CR1"), V0 * G / (G - 1))
  # the covariance of all parameters, which marginal_coefs() and
  # standardize() carry through the delta method
  full <- score_cluster_sandwich(fit, "CR0", NULL)$V
  expect_equal(full, Ai %*% crossprod(J) %*% Ai, tolerance = 1e-5)
})

# ---- several random-effect terms: the likelihood split by cluster ----

# Pupils in classes in schools, a binary outcome: (1 | school/class) by the
# Laplace approximation (the laplace_sparse engine) or by nested adaptive
# quadrature (nAGQ > 1, the agq_nested engine).
vr_school_data <- function(seed = 11, schools = 24) {
  set.seed(seed)
  d <- expand.grid(pupil = 1:6, class = 1:3, school = seq_len(schools))
  d$class <- interaction(d$school, d$class)
  d$school <- factor(d$school)
  d$x <- rnorm(nrow(d))
  u <- rnorm(schools, 0, 0.8)[d$school]
  v <- rnorm(nlevels(d$class), 0, 0.5)[d$class]
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + u + v))
  d
}

# The per-cluster scores of the split engines against each cluster's own
# log-likelihood: a fit on the data of a few clusters builds its engine by
# the ordinary route, and the numerical gradient of its log-likelihood at
# the full fit's estimate must be the sum of those clusters' scores.
vr_check_split_scores <- function(fit, d, nAGQ, which = c(2L, 7L, 19L)) {
  parts <- cluster_score_parts(fit, NULL)
  expect_identical(parts$G, nlevels(d$school))
  # they sum to the fit's gradient, about zero at the optimum
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fit$cov_theta)))), 1e-3)
  sub <- droplevels(d[d$school %in% levels(d$school)[which], ])
  fs <- suppressWarnings(glmm(y ~ x + (1 | school/class), data = sub, family = binomial,
                              nAGQ = nAGQ))
  pe <- profile_engine(fs)
  on.exit(pe$free(), add = TRUE)
  ll <- function(t) pe$eval(theta_star(t, pe$Tx))$loglik
  g <- numDeriv::grad(ll, as.numeric(fit$theta))
  expect_equal(colSums(parts$S[which, , drop = FALSE]), g[parts$free], tolerance = 1e-6)
}

test_that("nested random effects by Laplace: each school's scores are its exact gradient", {
  skip_if_not_installed("numDeriv")
  d <- vr_school_data()
  fit <- glmm(y ~ x + (1 | school/class), data = d, family = binomial)
  expect_identical(fit$engine$name, "laplace_sparse")
  vr_check_split_scores(fit, d, 1L)
  # the sum of the clusters' Laplace log-likelihoods is the fit's
  pe <- profile_engine(fit)
  th <- theta_star(as.numeric(fit$theta), pe$Tx)
  expect_equal(pe$eval(th)$loglik, as.numeric(logLik(fit)), tolerance = 1e-8)
  # the engine's split checks its inputs at the boundary
  eng <- environment(pe$eval)$eng
  n <- nrow(d)
  Q <- ncol(environment(pe$split)$Z)
  expect_error(cpp_sparse_cluster_gradient(eng, th, rep(1L, n - 1L), rep(1L, Q), 1L),
               "one cluster per observation")
  expect_error(cpp_sparse_cluster_gradient(eng, th, rep(2L, n), rep(1L, Q), 1L),
               "must lie in 1..G")
  expect_error(cpp_sparse_cluster_gradient(eng, th[-1], rep(1L, n), rep(1L, Q), 1L),
               "theta has length")
  # one cluster holding everything: the whole gradient (away from the
  # optimum, where it is not rounding)
  t1 <- th + 0.1
  expect_equal(c(cpp_sparse_cluster_gradient(eng, t1, rep(1L, n), rep(1L, Q), 1L)),
               pe$eval(t1)$gradient, tolerance = 1e-10)
})

test_that("nested random effects by adaptive quadrature: each school's scores are its gradient", {
  skip_if_not_installed("numDeriv")
  d <- vr_school_data()
  fit <- glmm(y ~ x + (1 | school/class), data = d, family = binomial, nAGQ = 5)
  expect_identical(fit$engine$name, "agq_nested")
  vr_check_split_scores(fit, d, 5L)
})

test_that("nested quadrature with a random slope in the inner term: each school's scores are its gradient", {
  skip_if_not_installed("numDeriv")
  set.seed(3)
  d <- expand.grid(rep = 1:4, class = 1:3, school = 1:30)
  d$x <- rnorm(nrow(d))
  inner <- (d$school - 1L) * 3L + d$class
  d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$x + rnorm(30)[d$school] + rnorm(90, sd = 0.7)[inner] +
                                     rnorm(90, sd = 0.5)[inner] * d$x))
  d$school <- factor(d$school)
  d$class <- factor(paste(d$school, d$class))
  form <- y ~ x + (1 | school) + (1 + x | class)
  # (the slopes' correlation goes to a bound on these data: held there)
  fit <- suppressWarnings(glmm(form, data = d, family = binomial, nAGQ = 3))
  expect_identical(fit$engine$name, "agq_nested")
  parts <- cluster_score_parts(fit, NULL)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fit$cov_theta)[parts$free]))), 1e-3)
  which <- c(2L, 7L, 19L)
  sub <- droplevels(d[d$school %in% levels(d$school)[which], ])
  fs <- suppressWarnings(glmm(form, data = sub, family = binomial, nAGQ = 3))
  pe <- profile_engine(fs)
  g <- numDeriv::grad(function(t) pe$eval(theta_star(t, pe$Tx))$loglik, as.numeric(fit$theta))
  expect_equal(colSums(parts$S[which, , drop = FALSE]), g[parts$free], tolerance = 1e-6)
})

test_that("CR types on nested fits: the sandwich of the split scores, any nesting cluster", {
  skip_if_not_installed("numDeriv")
  d <- vr_school_data()
  for (k in c(1L, 5L)) {
    fit <- glmm(y ~ x + (1 | school/class), data = d, family = binomial, nAGQ = k)
    parts <- cluster_score_parts(fit, NULL)
    Ai <- solve(parts$A)
    p <- length(fit$coefficients)
    V0 <- vcov(fit, type = "CR0")
    expect_equal(unname(V0), unname(Ai %*% crossprod(parts$S) %*% Ai)[1:p, 1:p],
                 tolerance = 1e-10, info = k)
    V2 <- vcov(fit, type = "CR2")
    V3 <- vcov(fit, type = "CR3")
    # the corrections inflate the sandwich, CR3 most
    expect_true(all(diag(V2) > diag(V0)) && all(diag(V3) > diag(V2)), info = k)
    # a coarser cluster that nests the schools (pairs of schools)
    pair <- (as.integer(d$school) + 1L) %/% 2L
    Vp <- vcov(fit, type = "CR0", cluster = pair)
    ref <- cluster_score_parts(fit, NULL)$S
    Sp <- rowsum(ref, (seq_len(nrow(ref)) + 1L) %/% 2L)
    expect_equal(unname(Vp), unname(Ai %*% crossprod(Sp) %*% Ai)[1:p, 1:p], tolerance = 1e-8,
                 info = k)
    # classes do not nest schools
    expect_error(vcov(fit, type = "CR0", cluster = ~ class), "does not nest the random-effect grouping|nest the outermost",
                 info = k)
    s <- summary(fit, vcov = "CR2")
    expect_equal(s$coefficients[, "Std. Error"], sqrt(diag(V2)), tolerance = 1e-10, ignore_attr = TRUE)
  }
  # the Laplace and 5-node fits agree about the robust standard errors of
  # these data up to their approximations' difference
  f1 <- glmm(y ~ x + (1 | school/class), data = d, family = binomial)
  f5 <- glmm(y ~ x + (1 | school/class), data = d, family = binomial, nAGQ = 5)
  expect_equal(sqrt(diag(vcov(f1, type = "CR2"))), sqrt(diag(vcov(f5, type = "CR2"))),
               tolerance = 0.03)
})

test_that("fits of nested terms keep their schools' curvature: the CR types, free of x's origin", {
  skip_if_not_installed("lme4")
  d <- vr_school_data(schools = 30)
  d$x3 <- d$x + 3
  f <- glmm(y ~ x + (1 | school/class), data = d, family = binomial)
  cc <- f$cluster_curvature
  expect_identical(dim(cc$informations)[3L], nlevels(d$school))
  g <- without_curvature(f)
  for (ty in c("CR0", "CR1", "CR2", "CR3"))
    expect_lt(vr_rel(vcov(f, type = ty), vcov(g, type = ty)), 1e-5)
  # a random slope: the kept informations are in the fit's own coordinates,
  # where the slope's origin does not matter
  set.seed(8)
  u <- rnorm(30, 0, 0.9)[d$school]
  d$y2 <- rbinom(nrow(d), 1, plogis(0.3 * d$x + u * d$x + rnorm(30)[d$school] +
                                      rnorm(nlevels(d$class), 0, 0.6)[d$class]))
  f1 <- glmm(y2 ~ x + (x | school) + (1 | class), data = d, family = binomial)
  f2 <- glmm(y2 ~ x3 + (x3 | school) + (1 | class), data = d, family = binomial)
  expect_false(is.null(f1$cluster_curvature))
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f2, type = ty)[["x3", "x3"]], vcov(f1, type = ty)[["x", "x"]],
                 tolerance = 1e-6, info = ty)
  # By nested quadrature the fit keeps the schools' informations (the
  # scores are the value's, by differences at vcov() time); on a covariate
  # far from zero, whose search ran on the centred design, too.
  d$xfar <- d$x * 1e-4 + 50
  for (v in c("x", "xfar")) {
    fq <- glmm(reformulate(c(v, "(1 | school/class)"), "y"), data = d, family = binomial,
               nAGQ = 5)
    cq <- fq$cluster_curvature
    expect_null(cq$scores)
    expect_identical(dim(cq$informations)[3L], nlevels(d$school))
    parts <- cluster_score_parts(fq, NULL, hessians = TRUE)
    expect_equal(rowSums(sandwich_informations(parts), dims = 2L), unname(parts$A), tolerance = 1e-8, info = v)
    gq <- without_curvature(fq)
    for (ty in c("CR0", "CR2", "CR3"))
      expect_lt(vr_rel(vcov(fq, type = ty), vcov(gq, type = ty)), 1e-3)
    if (v == "x") fx <- fq
  }
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(fq, type = ty)[["xfar", "xfar"]], 1e8 * vcov(fx, type = ty)[["x", "x"]],
                 tolerance = 1e-4, info = ty)
  # crossed terms keep none (vcov() needs a 'cluster' that nests both)
  d$site <- factor(rep(1:5, length.out = nrow(d)))
  fc <- suppressWarnings(glmm(y ~ x + (1 | school) + (1 | site), data = d, family = binomial))
  expect_null(fc$cluster_curvature)
})

test_that("nested random effects with a zero-inflation part: the split carries the zero part", {
  skip_if_not_installed("numDeriv")
  set.seed(3)
  d <- vr_school_data(seed = 3, schools = 20)
  u <- rnorm(20, 0, 0.6)[d$school]
  v <- rnorm(nlevels(d$class), 0, 0.4)[d$class]
  d$n <- rpois(nrow(d), exp(0.5 + 0.4 * d$x + u + v)) * rbinom(nrow(d), 1, 0.8)
  fit <- glmm(n ~ x + (1 | school/class), data = d, family = poisson, ziformula = ~ 1)
  expect_identical(fit$engine$name, "laplace_sparse")
  parts <- cluster_score_parts(fit, NULL)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fit$cov_theta)[parts$free]))), 1e-3)
  which <- c(2L, 7L, 13L)
  sub <- droplevels(d[d$school %in% levels(d$school)[which], ])
  fs <- suppressWarnings(glmm(n ~ x + (1 | school/class), data = sub, family = poisson,
                              ziformula = ~ 1))
  pe <- profile_engine(fs)
  ll <- function(t) pe$eval(theta_star(t, pe$Tx))$loglik
  g <- numDeriv::grad(ll, as.numeric(fit$theta))
  expect_equal(colSums(parts$S[which, , drop = FALSE]), g[parts$free], tolerance = 1e-6)
  s <- summary(fit, vcov = "CR2")
  expect_true(all(c("cond", "zi") %in% names(s$tables)))
  # with a dispersion formula too (two auxiliary offsets per row)
  d$x2 <- rnorm(nrow(d))
  d$m <- rnbinom(nrow(d), mu = exp(1.5 + 0.4 * d$x + u + v), size = exp(1 + 0.5 * d$x2)) *
    rbinom(nrow(d), 1, 0.7)
  fd <- glmm(m ~ x + (1 | school/class), data = d, family = nbinom2, ziformula = ~ 1,
             dispformula = ~ x2)
  parts <- cluster_score_parts(fd, NULL)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fd$cov_theta)[parts$free]))), 1e-3)
  fs <- suppressWarnings(glmm(m ~ x + (1 | school/class), data = droplevels(d[d$school %in%
                                levels(d$school)[which], ]), family = nbinom2, ziformula = ~ 1,
                              dispformula = ~ x2))
  pe <- profile_engine(fs)
  g <- numDeriv::grad(function(t) pe$eval(theta_star(t, pe$Tx))$loglik, as.numeric(fd$theta))
  expect_equal(colSums(parts$S[which, , drop = FALSE]), g[parts$free], tolerance = 1e-6)
})

test_that("nested fits: rows of zero weight add nothing to the robust covariance", {
  d <- vr_school_data()
  d$w <- 1
  d$w[c(1:4, 30)] <- 0
  drop <- d$w == 0
  for (k in c(1L, 5L)) {
    fw <- glmm(y ~ x + (1 | school/class), data = d, family = binomial, weights = w, nAGQ = k)
    fd <- glmm(y ~ x + (1 | school/class), data = droplevels(d[!drop, ]), family = binomial,
               nAGQ = k)
    expect_equal(vcov(fw, type = "CR2"), vcov(fd, type = "CR2"), tolerance = 1e-5, info = k)
  }
})

test_that("a bridge random intercept: scores by differences, the sandwich over (beta, phi)", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fb <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
             family = binomial, ranef_dist = "bridge")
  parts <- cluster_score_parts(fb, NULL)
  th <- as.numeric(fb$theta)
  cl <- glmmgee:::cluster_index(cbpp$herd, "group")
  eng <- dist_engine(fb$X, as.numeric(fb$y), as.numeric(fb$prior.weights),
                     as.numeric(fb$offset), cl, fb$family)
  p <- length(fb$coefficients)
  ll_i <- function(t) eng(t[seq_len(p)], 0L, t[p + 1L])$cluster_loglik
  J <- numDeriv::jacobian(ll_i, th)
  expect_equal(unname(parts$S), J, tolerance = 1e-6)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fb$cov_theta)))), 1e-3)
  H <- numDeriv::hessian(function(t) sum(ll_i(t)), th)
  Ai <- solve(-H)
  expect_equal(unname(vcov(fb, type = "CR0")), (Ai %*% crossprod(J) %*% Ai)[1:p, 1:p],
               tolerance = 1e-4)
  V2 <- vcov(fb, type = "CR2")
  expect_true(all(diag(V2) > diag(vcov(fb, type = "CR0"))))
  # the population-averaged coefficients are phi * beta: their robust
  # covariance is the delta method on the sandwich of (beta, phi)
  mc <- marginal_coefs(fb, vcov = "CR2")
  Vf <- score_cluster_sandwich(fb, "CR2", NULL)$V
  D <- cbind(th[p + 1L] * diag(p), th[seq_len(p)])
  expect_equal(unname(mc$vcov), D %*% Vf %*% t(D), tolerance = 1e-8)
  # a coarser cluster (pairs of herds): the sandwich of the herds' summed
  # scores, and CR2 from the pairs' summed log-likelihoods
  pair <- (as.integer(cbpp$herd) + 1L) %/% 2L
  Sp <- rowsum(parts$S, (seq_len(nrow(parts$S)) + 1L) %/% 2L)
  Ai <- solve(parts$A)
  expect_equal(unname(vcov(fb, type = "CR0", cluster = pair)),
               unname(Ai %*% crossprod(Sp) %*% Ai)[1:p, 1:p], tolerance = 1e-8)
  expect_true(all(diag(vcov(fb, type = "CR2", cluster = pair)) >
                    diag(vcov(fb, type = "CR0", cluster = pair))))
})

# lme4's cbpp as one binary row per animal (y), with the period as a number
# (x): for cumulative link fits of two categories beside binomial ones.
vr_cbpp_binary <- function() {
  data(cbpp, package = "lme4", envir = environment())
  d <- cbpp[rep(seq_len(nrow(cbpp)), cbpp$size), ]
  d$y <- unlist(lapply(seq_len(nrow(cbpp)), function(i)
    rep(1:0, c(cbpp$incidence[i], cbpp$size[i] - cbpp$incidence[i]))))
  d$x <- as.numeric(d$period)
  d
}

test_that("a cumulative link random intercept: robust types agree with the binary GLMM it equals", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  # With two categories the cumulative logit model is the binomial logit
  # GLMM (intercept = -threshold): the same sandwich, from another engine.
  d <- vr_cbpp_binary()
  fo <- glmm(factor(y) ~ x + (1 | herd), data = d, family = cumulative("logit"), nAGQ = 5)
  fb <- glmm(y ~ x + (1 | herd), data = d, family = binomial, nAGQ = 5)
  for (ty in c("CR0", "CR2", "CR3")) {
    Vo <- vcov(fo, type = ty)
    Vb <- vcov(fb, type = ty)
    expect_identical(dimnames(Vo)[[1L]], c("0|1", "x"), info = ty)
    D <- diag(c(-1, 1))  # (threshold, x) = D (intercept, x)
    expect_equal(unname(Vo), unname(D %*% Vb %*% D), tolerance = 1e-4, info = ty)
    # clustered by pairs of herds, coarser than the engine's clusters
    pair <- (as.integer(d$herd) + 1L) %/% 2L
    expect_equal(unname(vcov(fo, type = ty, cluster = pair)),
                 unname(D %*% vcov(fb, type = ty, cluster = pair) %*% D), tolerance = 1e-4,
                 info = ty)
  }
  # the scores: each cluster's gradient, summing to about zero
  parts <- cluster_score_parts(fo, NULL)
  dd <- ordinal_fit_data(fo)
  th <- as.numeric(fo$theta)
  # theta = (x, sigma, threshold)
  ll_i <- function(t) cpp_ordinal_loglik(dd$y, dd$X, dd$offset, dd$w, dd$starts, 2L, t[3L],
                                         t[1L], log(t[2L]), 5L, fo$family$link_code,
                                         FALSE)$cluster_loglik
  expect_equal(unname(parts$S), numDeriv::jacobian(ll_i, th), tolerance = 1e-6)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fo$cov_theta)))), 1e-3)
  # summary() and odds_ratios() with vcov = use it, t with Satterthwaite df
  s <- summary(fo, vcov = "CR2")
  expect_equal(s$coefficients["x", "Std. Error"], sqrt(vcov(fo, type = "CR2")["x", "x"]),
               tolerance = 1e-10)
  expect_equal(unname(s$coefficients["x", "df"]),
               unname(summary(fb, vcov = "CR2")$coefficients["x", "df"]), tolerance = 1e-3)
  expect_output(print(s), "cluster-robust CR2, clusters: herd \\(15\\)")
  o <- odds_ratios(fo, vcov = "CR2")
  ob <- odds_ratios(fb, vcov = "CR2", parm = "x")
  expect_equal(o$conf.low, ob$conf.low, tolerance = 1e-4)
  # population-averaged odds ratios (here of a 0/1 column): the binomial
  # model's standardized odds ratio, its interval to rounding
  d$b <- as.numeric(d$period == "1")
  fo1 <- glmm(factor(y) ~ b + (1 | herd), data = d, family = cumulative("logit"), nAGQ = 5)
  fb1 <- glmm(y ~ b + (1 | herd), data = d, family = binomial, nAGQ = 5)
  om <- odds_ratios(fo1, type = "marginal", vcov = "CR2")
  sb <- standardize(fb1, "b", values = c(0, 1), newdata = d, vcov = "CR2")
  sb <- sb[sb$quantity == "odds ratio", ]
  expect_equal(c(om$estimate, om$conf.low, om$conf.high),
               c(sb$estimate, sb$conf.low, sb$conf.high), tolerance = 1e-5)
  expect_match(attr(om, "source"), "cluster-robust CR2, clusters: herd \\(15\\)")
  expect_error(odds_ratios(fo1, type = "marginal", vcov = vcov(fo1)),
               "not a matrix: the thresholds need their covariance too")
  # confint(): thresholds and coefficients, t on their Satterthwaite df
  ci <- confint(fo, vcov = "CR2")
  expect_identical(rownames(ci), c("0|1", "x"))
  cb <- confint(fb, vcov = "CR2")
  expect_equal(ci["x", ], cb["x", ], tolerance = 1e-4)
  expect_equal(unname(ci["0|1", ]), unname(-rev(cb["(Intercept)", ])), tolerance = 1e-4)
  expect_error(confint(fo, parm = "sigma", vcov = "CR2"), "'parm' selects 'sigma'")
  expect_error(confint(fo, vcov = "CR2", method = "profile"), "Wald intervals only")
})

test_that("a cumulative link random intercept: each cluster's exact score and information", {
  skip_if_not_installed("numDeriv")
  set.seed(4)
  G <- 40
  d <- data.frame(g = rep(seq_len(G), each = 6), x = rnorm(6 * G), trt = rep(0:1, 3 * G))
  eta <- 0.5 * d$trt + 0.4 * d$x + rnorm(G, 0, 0.9)[d$g]
  d$o <- factor(cut(eta + rlogis(nrow(d)), c(-Inf, -1, 0, 1.2, Inf), labels = FALSE),
                ordered = TRUE)
  f <- glmm(o ~ trt + x + (1 | g), data = d, family = cumulative(), nAGQ = 5)
  eng <- robust_score_engine(f)
  th <- as.numeric(f$theta)
  cv <- eng$curvature(th)
  # theta = (trt, x, sigma, three thresholds): each cluster's score and
  # information are the derivatives of its log-likelihood contribution
  expect_equal(cv$scores, numDeriv::jacobian(eng$loglik, th), tolerance = 1e-6)
  # (without the informations, the scores come from the evaluation's own
  # gradient pass, as CR0 and CR1 take them)
  expect_equal(eng$curvature(th, hessians = FALSE)$scores, cv$scores, tolerance = 1e-9)
  expect_null(eng$curvature(th, hessians = FALSE)$informations)
  for (i in c(1L, 17L, 40L))
    expect_equal(cv$informations[, , i],
                 -numDeriv::hessian(function(t) eng$loglik(t)[i], th), tolerance = 1e-5,
                 info = i)
  expect_equal(rowSums(cv$informations, dims = 2L), unname(solve(f$cov_theta)), tolerance = 1e-6)
  # the fit keeps them from its own exact Hessian's pass (before its
  # Newton polish, which moves the estimates within their precision): the
  # same CR types
  kept <- f$cluster_curvature$informations
  expect_identical(dim(kept), dim(cv$informations))
  expect_lt(max(abs(kept - cv$informations)) / max(abs(cv$informations)), 1e-6)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_lt(vr_rel(vcov(f, type = ty), vcov(without_curvature(f), type = ty)), 1e-6)
  # a coarser cluster by formula, of a variable outside the model (the
  # fit's data were not recovered: its random-effect columns were checked
  # against an intercept the cumulative model does not have)
  d$pair <- (d$g + 1L) %/% 2L
  expect_equal(vcov(f, type = "CR2", cluster = ~ pair), vcov(f, type = "CR2", cluster = d$pair))
  # the CR types from them do not depend on the covariate's origin or
  # scale (x + 2010 and x * 1e-4 - 3 were refused: their scores by
  # differences did not sum to zero)
  d$xf <- d$x + 2010
  d$xs <- d$x * 1e-4 - 3
  ff <- glmm(o ~ trt + xf + (1 | g), data = d, family = cumulative(), nAGQ = 5)
  fs <- glmm(o ~ trt + xs + (1 | g), data = d, family = cumulative(), nAGQ = 5)
  for (ty in c("CR0", "CR2", "CR3")) {
    V <- vcov(f, type = ty)
    Vf <- vcov(ff, type = ty)
    Vs <- vcov(fs, type = ty)
    expect_equal(Vf[c("trt", "xf"), c("trt", "xf")], V[c("trt", "x"), c("trt", "x")],
                 tolerance = 1e-6, ignore_attr = TRUE, info = ty)
    expect_equal(Vs[c("trt", "xs"), c("trt", "xs")] * c(1, 1e-4)[col(diag(2))] *
                   c(1, 1e-4)[row(diag(2))], V[c("trt", "x"), c("trt", "x")],
                 tolerance = 1e-6, ignore_attr = TRUE, info = ty)
  }
})

test_that("cumulative link random slopes and several terms: the binary GLMM's robust types", {
  # two categories: the binomial logit GLMM with intercept = -threshold
  set.seed(6)
  d <- vr_school_data(seed = 6, schools = 30)
  d$y <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + rnorm(30, 0, 0.8)[d$school] +
                                     d$x * rnorm(30, 0, 0.5)[d$school] +
                                     rnorm(nlevels(d$class), 0, 0.5)[d$class]))
  D <- diag(c(-1, 1))  # (threshold, x) = D (intercept, x)
  # random slopes on one grouping factor (adaptive quadrature in both)
  fo <- glmm(factor(y) ~ x + (1 + x | school), data = d, family = cumulative("logit"), nAGQ = 3)
  fb <- glmm(y ~ x + (1 + x | school), data = d, family = binomial, nAGQ = 3)
  expect_equal(as.numeric(logLik(fo)), as.numeric(logLik(fb)), tolerance = 1e-6)
  parts <- cluster_score_parts(fo, NULL)
  expect_lt(max(abs(colSums(parts$S) * sqrt(diag(fo$cov_theta)))), 1e-3)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(unname(vcov(fo, type = ty)), unname(D %*% vcov(fb, type = ty) %*% D),
                 tolerance = 1e-4, info = ty)
  # the same whatever the origin of x (the clusters' informations in the
  # search's centred coefficients and thresholds: x + 100 moved CR2 by 1.7%)
  d$x100 <- d$x + 100
  f100 <- glmm(factor(y) ~ x100 + (1 + x100 | school), data = d, family = cumulative("logit"),
               nAGQ = 3)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f100, type = ty)[2, 2], vcov(fo, type = ty)[2, 2], tolerance = 1e-5,
                 info = ty)
  # nested terms on the sparse engine, split by school
  fo <- glmm(factor(y) ~ x + (1 | school/class), data = d, family = cumulative("logit"))
  fb <- glmm(y ~ x + (1 | school/class), data = d, family = binomial)
  expect_equal(as.numeric(logLik(fo)), as.numeric(logLik(fb)), tolerance = 1e-6)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(unname(vcov(fo, type = ty)), unname(D %*% vcov(fb, type = ty) %*% D),
                 tolerance = 1e-4, info = ty)
  s <- summary(fo, vcov = "CR2")
  expect_equal(unname(s$coefficients["x", "df"]),
               unname(summary(fb, vcov = "CR2")$coefficients["x", "df"]), tolerance = 1e-3)
})

test_that("a fit of nested terms searched on another basis has CR types without its kept curvature", {
  # (1 + x | site) with its correlation at -1 (a singular fit searched on
  # the centred basis) beside (1 | id): a fit saved without the clusters'
  # curvature stopped every CR type with "attempt to apply non-function"
  set.seed(2)
  s <- expand.grid(t = 1:5, id = 1:6, site = 1:15)
  s$id <- interaction(s$site, s$id, drop = TRUE)
  s$tf <- factor(s$t)
  s$x <- rnorm(nrow(s))
  s$trt <- rep(rbinom(15, 1, 0.5), each = 30)
  v <- matrix(rnorm(90 * 5), 90) %*% chol(0.6 * 0.6^abs(outer(1:5, 1:5, "-")))
  s$eta <- -0.2 + 0.5 * s$trt + 0.3 * s$x + rnorm(15, 0, 0.5)[s$site] +
    v[cbind(as.integer(s$id), s$t)]
  s$site <- factor(s$site)
  s$yp <- rpois(nrow(s), exp(s$eta))
  f <- suppressWarnings(glmm(yp ~ trt + x + (1 + x | site) + (1 | id), data = s,
                             family = poisson))
  expect_false(is.null(profile_z_blocks(f, every = TRUE)))
  for (ty in c("CR0", "CR2", "CR3"))
    expect_lt(vr_rel(vcov(without_curvature(f), type = ty), vcov(f, type = ty)), 1e-5)
})

test_that("cumulative link fits of nested terms keep their clusters' curvature, free of x's origin", {
  set.seed(4)
  G <- 40
  d <- data.frame(g = rep(1:G, each = 12), cls = rep(rep(1:3, each = 4), G),
                  x = rnorm(12 * G), trt = rep(0:1, 6 * G))
  d$cl <- interaction(d$g, d$cls)
  eta <- 0.5 * d$trt + 0.4 * d$x + rnorm(G, 0, 0.8)[d$g] + rnorm(3 * G, 0, 0.5)[as.integer(d$cl)]
  d$o <- factor(cut(eta + rlogis(nrow(d)), c(-Inf, -1, 0, 1, Inf), labels = FALSE), ordered = TRUE)
  d$w <- rep(c(1, 0, 2, 1), length.out = nrow(d))
  d$xf <- d$x + 2010
  f <- glmm(o ~ trt + x + (1 | g/cls), data = d, family = cumulative())
  fw <- glmm(o ~ trt + x + (1 | g/cls), data = d, family = cumulative(), weights = w)
  for (m in list(f, fw)) {
    expect_false(is.null(m$cluster_curvature))
    for (ty in c("CR0", "CR2", "CR3"))
      expect_lt(vr_rel(vcov(m, type = ty), vcov(without_curvature(m), type = ty)), 1e-5)
  }
  # the sandwich formed on the search's centred and scaled design, where
  # the curvature was kept: the slope's robust standard errors of x + 2010
  # are x's (formed in the user's coefficients, its CR0 moved by 2.2e-3,
  # CR2 and CR3 by 7e-4)
  ff <- glmm(o ~ trt + xf + (1 | g/cls), data = d, family = cumulative())
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(unname(sqrt(diag(vcov(ff, type = ty)))[c("trt", "xf")]),
                 unname(sqrt(diag(vcov(f, type = ty)))[c("trt", "x")]), tolerance = 1e-6, info = ty)
  # crossed terms: no grouping nests them, nothing kept
  fc <- suppressWarnings(glmm(o ~ trt + x + (1 | g) + (1 | cls), data = d, family = cumulative()))
  expect_null(fc$cluster_curvature)
})

test_that("marginal_coefs(vcov = ) carries the robust covariance of all parameters", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  # probit random intercept: the marginal coefficients are beta / sqrt(1 + s^2)
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial(link = "probit"), nAGQ = 7)
  th <- as.numeric(fit$theta)
  p <- length(fit$coefficients)
  s <- th[p + 1L]
  Jg <- cbind(diag(p) / sqrt(1 + s^2), -th[1:p] * s / (1 + s^2)^1.5)
  for (ty in c("CR0", "CR2")) {
    mc <- marginal_coefs(fit, vcov = ty)
    pc <- parameter_vcov_choice(fit, ty, NULL, "test")
    expect_equal(unname(mc$vcov), Jg %*% pc$vcov %*% t(Jg), tolerance = 1e-7)
    expect_equal(unname(mc$df), pc$df(Jg))
  }
  # the degrees of freedom of a coefficient are summary()'s
  expect_equal(unname(pc$df(diag(1, p, length(th)))),
               unname(summary(fit, vcov = "CR2")$coefficients[, "df"]))
  # intervals: t with those degrees of freedom, also for odds_ratios() of a logit fit
  ci <- confint(mc)
  expect_equal(unname(ci[, 2]), unname(coef(mc) + qt(0.975, mc$df) * sqrt(diag(mc$vcov))))
  expect_equal(as.data.frame(mc)$conf.high, unname(ci[, 2]))
  expect_false(isTRUE(all.equal(mc$vcov, marginal_coefs(fit)$vcov)))
  lg <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
             family = binomial, nAGQ = 7)
  ml <- marginal_coefs(lg, vcov = "CR2")
  or <- odds_ratios(ml)
  expect_equal(or$conf.high, unname(exp(coef(ml) + qt(0.975, ml$df) * sqrt(diag(ml$vcov)))[-1]))
  # refusals, naming the argument
  expect_error(marginal_coefs(fit, vcov = diag(p)), "'vcov' must be one of")
  expect_error(marginal_coefs(fit, vcov = "CR2", std_errors = FALSE), "std_errors = TRUE")
  expect_error(marginal_coefs(fit, cluster = ~ herd), "'cluster' is for")
  expect_error(marginal_coefs(fit, vcov = "CR2", cluster = ~ period), "does not nest")
})

test_that("a linear mixed model's robust marginal coefficients and standardized contrast are the GLS ones", {
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  fit <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
  mc <- marginal_coefs(fit, vcov = "CR2")
  sm <- summary(fit, vcov = "CR2")$coefficients
  expect_equal(mc$vcov, vcov(fit, type = "CR2"), ignore_attr = TRUE)
  expect_equal(unname(mc$df), unname(sm[, "df"]))
  # with the population fixed (newdata), the contrast of Days = 1 vs 0 is the
  # coefficient, its interval confint(vcov = )'s
  st <- standardize(fit, "Days", values = c(0, 1), newdata = sleepstudy, vcov = "CR2")
  d <- st[st$quantity == "difference", ]
  ci <- confint(fit, parm = "Days", method = "Wald", vcov = "CR2")
  expect_equal(d$estimate, unname(fixef(fit)["Days"]))
  expect_equal(d$std.error, unname(sm["Days", "Std. Error"]))
  expect_equal(c(d$conf.low, d$conf.high), unname(ci["Days", ]))
})

test_that("standardize(vcov = ) on a GLMM: robust delta method, Welch-Satterthwaite df, refusals", {
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  st <- standardize(fit, "period", vcov = "CR2")
  st0 <- standardize(fit, "period")
  expect_identical(st$estimate, st0$estimate)
  expect_false(isTRUE(all.equal(st$std.error, st0$std.error)))
  expect_match(paste(capture.output(print(st)), collapse = " "), "cluster-robust CR2")
  # an interval is wider than the normal one with the same standard error
  # and narrower than t with the smallest df of any piece (K - 1 = 14 or
  # less): t with the combined df
  m1 <- st[st$quantity == "mean", ][1, ]
  half <- (m1$conf.high - m1$conf.low) / 2
  expect_gt(half, qnorm(0.975) * m1$std.error)
  expect_lt(half, qt(0.975, 3) * m1$std.error)
  expect_error(standardize(fit, "period", vcov = "CR2", se = "none"), "se = \"delta\"")
  expect_error(standardize(fit, "period", vcov = "HC3"), "'vcov' must be one of")
  data(epil, package = "MASS", envir = environment())
  g <- gee(y ~ trt + lbase, data = epil, id = subject, family = poisson)
  expect_error(standardize(g, "trt", vcov = "CR2"), "'vcov' is for glmm")
})

test_that("standardize(vcov = ) of a cumulative link fit: the binary GLMM's robust intervals", {
  skip_if_not_installed("lme4")
  # two categories: P(Y = 1) standardized is the binomial model's mean
  d <- vr_cbpp_binary()
  fo <- glmm(factor(y) ~ x + (1 | herd), data = d, family = cumulative("logit"), nAGQ = 5)
  fb <- glmm(y ~ x + (1 | herd), data = d, family = binomial, nAGQ = 5)
  # given the covariates (newdata): the delta method alone in both
  so <- standardize(fo, "x", values = c(1, 4), newdata = d, vcov = "CR2")
  sb <- standardize(fb, "x", values = c(1, 4), newdata = d, vcov = "CR2")
  po <- so[so$category == "1", ]
  pb <- sb[sb$quantity == "mean", ]
  expect_equal(po$estimate, pb$estimate, tolerance = 1e-6)
  expect_equal(po$std.error, pb$std.error, tolerance = 1e-4)
  # the same t quantiles (Satterthwaite df): the ordinal interval is on the
  # logit scale, the binomial mean's on the probability scale
  qo <- (stats::qlogis(po$conf.high) - stats::qlogis(po$estimate)) * po$estimate *
    (1 - po$estimate) / po$std.error
  expect_equal(qo, (pb$conf.high - pb$estimate) / pb$std.error, tolerance = 1e-3)
  expect_equal(qo, stats::qt(0.975, po$df), tolerance = 1e-8)
  expect_output(print(so), "cluster-robust CR2, clusters: herd \\(15\\)")
  # the Jacobian in theta (beta, sigma, threshold), with the model-based
  # covariance, gives the model-based standard errors of the psi route
  rob <- list(V = fo$cov_theta, df = function(J) rep(Inf, nrow(J)), label = "model")
  sm <- ordinal_standardize(fo, "x", values = c(1, 4), newdata = d, robust = rob)
  expect_equal(sm$std.error, standardize(fo, "x", values = c(1, 4), newdata = d)$std.error,
               tolerance = 1e-4)
  # what it cannot honour is an error
  expect_error(standardize(fo, "x", se = "bootstrap"), "delta-method intervals only")
  expect_error(standardize(fo, "x", B = 10), "are for the bootstrap")
  expect_error(standardize(fo, "x", cluster = "herd"), "'cluster' is for the cluster-robust")
  expect_error(standardize(fo, "x", vcov = "CR2", cluster = "farm"),
               "'cluster' must name one of the fit's grouping factors")
})

test_that("CR3 is close to the leave-one-cluster-out refits it approximates", {
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  data(cbpp, package = "lme4", envir = environment())
  d <- vapply(levels(cbpp$herd), function(h) {
    f <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
              data = droplevels(cbpp[cbpp$herd != h, ]), family = binomial, nAGQ = 5)
    fixef(f) - fixef(fit)
  }, numeric(4))
  exact <- tcrossprod(d)
  V3 <- vcov(fit, type = "CR3")
  expect_equal(sqrt(diag(V3)), sqrt(diag(exact)), tolerance = 0.1, ignore_attr = TRUE)
  V2 <- vcov(fit, type = "CR2")
  V0 <- vcov(fit, type = "CR0")
  # the corrections enlarge the plain sandwich, CR3 most
  expect_true(all(diag(V0) < diag(V2)) && all(diag(V2) < diag(V3)))
})

test_that("the robust covariance does not depend on the covariates' scale or a coarser cluster's coding", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  set.seed(3)
  cbpp$x <- rnorm(nrow(cbpp))
  f1 <- glmm(cbind(incidence, size - incidence) ~ x + (1 | herd), data = cbpp,
             family = binomial, nAGQ = 5)
  cbpp$xs <- cbpp$x * 1000 + 50
  f2 <- glmm(cbind(incidence, size - incidence) ~ xs + (1 | herd), data = cbpp,
             family = binomial, nAGQ = 5)
  for (ty in c("CR0", "CR2", "CR3")) {
    expect_equal(sqrt(vcov(f2, type = ty)[2, 2]) * 1000, sqrt(vcov(f1, type = ty)[2, 2]),
                 tolerance = 1e-4)
  }
  # a cluster of pairs of herds: scores of the herds in a pair are added
  pair <- (as.integer(cbpp$herd) + 1L) %/% 2L
  V <- vcov(f1, type = "CR0", cluster = pair)
  Vr <- vcov(f1, type = "CR0", cluster = paste0("p", 99 - pair))
  expect_equal(V, Vr)
  expect_false(isTRUE(all.equal(V, vcov(f1, type = "CR0"))))
})

test_that("estfun() and bread() give the sandwich package's clustered covariances", {
  skip_if_not_installed("sandwich")
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  data(cbpp, package = "lme4", envir = environment())
  ef <- sandwich::estfun(fit)
  expect_equal(dim(ef), c(nobs(fit), length(fixef(fit))))
  expect_equal(sum(rowSums(ef != 0) > 0), length(fit$group_levels))
  expect_equal(sandwich::vcovCL(fit, cluster = cbpp$herd, type = "HC0", cadjust = FALSE),
               vcov(fit, type = "CR0"))
  expect_equal(sandwich::sandwich(fit), vcov(fit, type = "CR0"))
  expect_equal(sandwich::vcovCL(fit, cluster = cbpp$herd), vcov(fit, type = "CR1"))
  fl <- glmm(Reaction ~ Days + (Days | Subject), data = lme4::sleepstudy[-(1:4), ], REML = TRUE)
  expect_equal(sandwich::vcovCL(fl, cluster = lme4::sleepstudy$Subject[-(1:4)], type = "HC0",
                                cadjust = FALSE), vcov(fl, type = "CR0"))
  # A clustering that does not nest the random effects' grouping summed
  # parts of clusters to about 0 (standard errors of 1e-12), and none took
  # each row as a cluster (G = 56 rows in the adjustment, not 15 herds):
  # both are errors, as in vcov().
  expect_error(sandwich::vcovCL(fit, cluster = ~ period),
               "'cluster' does not nest the random-effect grouping 'herd'")
  expect_error(sandwich::vcovCL(fit, cluster = cbpp$period),
               "'cluster' does not nest the random-effect grouping 'herd'")
  expect_error(sandwich::vcovCL(fit), "needs 'cluster =' \\(the grouping ~ herd")
  # A cluster that nests herd is accepted (herds 1-7 and 8-15).
  big <- factor(as.integer(cbpp$herd) > 7)
  expect_equal(sandwich::vcovCL(fit, cluster = big, type = "HC0", cadjust = FALSE),
               vcov(fit, type = "CR0", cluster = big))
})

test_that("random effects in the zero part: scores are exact and CR0 is the numerical sandwich", {
  skip_if_not_installed("numDeriv")
  set.seed(4)
  M <- 60; m <- 8; g <- rep(seq_len(M), each = m); x <- rnorm(M * m)
  mu <- exp(0.5 + 0.4 * x + rnorm(M, 0, 0.5)[g])
  z <- rbinom(M * m, 1, plogis(-1 + rnorm(M, 0, 0.8)[g]))
  d <- data.frame(y = ifelse(z == 1, 0, rpois(M * m, mu)), x = x, g = g)
  fit <- glmm(y ~ x + (1 | g), ziformula = ~ (1 | g), data = d, family = poisson)
  expect_identical(fit$engine$name, "agq_zero_re")
  pe <- profile_engine(fit)
  eng <- environment(pe$scores)$eng
  th <- as.numeric(fit$theta)
  ll_i <- function(t) cpp_two_part_summaries(eng, theta_star(t, pe$Tx))$loglik
  J <- numDeriv::jacobian(ll_i, th)
  expect_equal(pe$scores(theta_star(th, pe$Tx)), J, tolerance = 1e-6)
  H <- numDeriv::hessian(function(t) sum(ll_i(t)), th)
  Ai <- solve(-H)
  ref <- (Ai %*% crossprod(J) %*% Ai)[1:2, 1:2]
  # the fit's information is a difference quotient of the exact gradient
  # (about 5 digits): the reference's is numDeriv's
  expect_equal(unname(vcov(fit, type = "CR0")), ref, tolerance = 1e-4)
})

test_that("a random slope by quadrature: the scores of the fit's own approximation", {
  skip_if_not_installed("numDeriv")
  # nAGQ = 3 with two effects per group depends on their basis; the fit
  # maximized it on the centred slope, so its scores, taken there, sum to
  # about 0 and CR0 is the sandwich of that approximation, with or without
  # a zero-inflation part.
  set.seed(3)
  M <- 40; m <- 10; g <- rep(seq_len(M), each = m); x <- rnorm(M * m) + 3
  b <- cbind(rnorm(M, 0, 0.6), rnorm(M, 0, 0.3))[g, ]
  mu <- exp(-1 + 0.5 * x + b[, 1] + b[, 2] * (x - 3))
  z <- rnorm(M * m)
  d <- data.frame(y = rpois(M * m, mu), x = x, z = z, g = g)
  d$yz <- ifelse(runif(M * m) < plogis(-1 + 0.5 * z), 0, d$y)
  fits <- list(glmm(y ~ x + (1 + x | g), data = d, family = poisson, nAGQ = 3),
               glmm(yz ~ x + (1 + x | g), ziformula = ~ z, data = d, family = poisson, nAGQ = 3))
  for (fit in fits) {
    cs <- cluster_score_parts(fit, NULL)
    expect_lt(max(abs(colSums(cs$S))), 1e-5)
    pe <- fit_basis_engine(fit, "vcov()")
    eng <- environment(pe$scores)$eng
    ll_i <- function(t) cpp_agq_summaries(eng, theta_star(pe$to_engine(t), pe$Tx))$loglik
    th <- as.numeric(fit$theta)
    expect_equal(sum(ll_i(th)), fit$loglik, tolerance = 1e-10)
    J <- numDeriv::jacobian(ll_i, th)
    expect_equal(unname(cs$S), J, tolerance = 1e-6)
    H <- numDeriv::hessian(function(t) sum(ll_i(t)), th)
    Ai <- solve(-H)
    V0 <- Ai %*% crossprod(J) %*% Ai
    expect_equal(unname(vcov(fit, type = "CR0")), V0[1:2, 1:2], tolerance = 1e-4)
    # every parameter's, in fit$theta's coordinates (marginal_coefs(vcov = ))
    expect_equal(score_cluster_sandwich(fit, "CR0", NULL)$V, V0, tolerance = 1e-4)
    pe$free()
  }
  # the same basis whatever the slope's centring and units: every type of
  # the slope's variance the same (on the user's Z, CR2 moved by 0.3% and
  # CR3 by 0.6% between these two codings)
  d$xc <- (d$x - 3) * 10
  fc <- glmm(y ~ xc + (1 + xc | g), data = d, family = poisson, nAGQ = 3)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(fc, type = ty)[2, 2] * 100, vcov(fits[[1]], type = ty)[2, 2],
                 tolerance = 1e-5, info = ty)
  # by Laplace too, whose value does not depend on the basis but whose
  # clusters' informations are taken in it (CR2 moved by 0.6% on the
  # user's Z), with or without a zero part
  for (zi in list(NULL, ~ z)) {
    yv <- if (is.null(zi)) "y" else "yz"
    f1 <- glmm(reformulate(c("x", "(1 + x | g)"), yv), ziformula = zi, data = d,
               family = poisson, nAGQ = 1)
    f2 <- glmm(reformulate(c("xc", "(1 + xc | g)"), yv), ziformula = zi, data = d,
               family = poisson, nAGQ = 1)
    for (ty in c("CR2", "CR3"))
      expect_equal(vcov(f2, type = ty)[2, 2] * 100, vcov(f1, type = ty)[2, 2],
                   tolerance = 1e-6, info = ty)
  }
})

test_that("a slope far from zero (calendar years, x * 1e-6 - 5): the sandwich on the standardized scale", {
  # in the user's parameters the intercept at year 0 makes the covariance's
  # condition about 1e24: CR2 moved by 0.1% with the origin of the years,
  # and at x * 1e-6 - 5 the information could not be inverted
  set.seed(9)
  M <- 40; m <- 10; g <- rep(seq_len(M), each = m); x <- rnorm(M * m)
  b <- cbind(rnorm(M, 0, 0.6), rnorm(M, 0, 0.3))[g, ]
  d <- data.frame(y = rpois(M * m, exp(0.2 + 0.4 * x + b[, 1] + b[, 2] * x)), x = x, g = g)
  d$year <- d$x + 2010
  d$xf <- d$x * 1e-6 - 5
  for (k in c(1, 3)) {
    f0 <- glmm(y ~ x + (1 + x | g), data = d, family = poisson, nAGQ = k)
    fy <- glmm(y ~ year + (1 + year | g), data = d, family = poisson, nAGQ = k)
    ff <- glmm(y ~ xf + (1 + xf | g), data = d, family = poisson, nAGQ = k)
    for (ty in c("CR0", "CR2", "CR3")) {
      v0 <- vcov(f0, type = ty)[2, 2]
      expect_equal(vcov(fy, type = ty)[2, 2], v0, tolerance = 1e-6, info = ty)
      expect_equal(vcov(ff, type = ty)[2, 2] * 1e-12, v0, tolerance = 1e-5, info = ty)
    }
  }
})

test_that("a rebuilt approximation that is not at its maximum gives an error, not a sandwich", {
  # a singular fit of a slope at x * 1e-6 - 5: the map to the standardized
  # basis loses the digits of Lambda's entries (near 1e6, a correlation at
  # 1), the scores did not sum to zero and CR0 gave standard errors of 1e8
  set.seed(4)
  M <- 30; m <- 8; g <- rep(seq_len(M), each = m)
  d <- data.frame(g = factor(g), x = rnorm(M * m))
  d$y <- rbinom(nrow(d), 1, plogis(-0.5 + 0.7 * d$x + rnorm(M, 0, 0.6)[g]))
  d$u <- d$x * 1e-6 - 5
  f <- suppressWarnings(glmm(y ~ u + (1 + u | g), data = d, family = binomial, nAGQ = 3))
  expect_error(vcov(without_curvature(f), type = "CR0"), "do not sum to zero at the estimates")
  # the same model on x itself is fine
  fx <- suppressWarnings(glmm(y ~ x + (1 + x | g), data = d, family = binomial, nAGQ = 3))
  expect_true(all(diag(vcov(fx, type = "CR2")) > 0))
  # The fit's own curvature, kept on its standardized scale, needs no
  # rebuilt approximation: the slope's variances are those on x, times
  # 1e12.
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f, type = ty)[["u", "u"]], 1e12 * vcov(fx, type = ty)[["x", "x"]],
                 tolerance = 1e-4, info = ty)
})

test_that("an interaction slope by quadrature is robust on the fit's basis (centred over all rows)", {
  # (1 + t + t:x | g) with x near 50: the fit centres t:x over every row;
  # the rebuilt engine centred it within t's nonzero rows, another basis,
  # and vcov() stopped with 'could not be rebuilt'
  set.seed(11)
  M <- 40; m <- 12
  g <- rep(seq_len(M), each = m); t <- rep(0:1, length.out = M * m); x <- rnorm(M * m) + 50
  b <- matrix(rnorm(M * 3, 0, c(0.5, 0.3, 0.2)), M, 3, byrow = TRUE)[g, ]
  eta <- -0.5 + 0.3 * t + 0.2 * t * (x - 50) + b[, 1] + b[, 2] * t + b[, 3] * t * (x - 50)
  d <- data.frame(y = rpois(M * m, exp(eta)), t = t, x = x, g = g)
  f <- glmm(y ~ t + t:x + (1 + t + t:x | g), data = d, family = poisson, nAGQ = 3)
  cs <- cluster_score_parts(f, NULL)
  expect_lt(max(abs(colSums(cs$S)) * sqrt(diag(f$cov_theta))[cs$free]), 1e-6)
  expect_true(all(diag(vcov(f, type = "CR2")) > 0))
  expect_lt(abs(loglik_check(f, nodes = 3)$difference), 1e-8)
})

test_that("random effects in both parts with several terms: each site's scores are its gradient", {
  skip_if_not_installed("numDeriv")
  # counts of patients within sites, structural zeros varying by site
  set.seed(5)
  S <- 30
  d <- expand.grid(rep = 1:5, id = 1:4, site = 1:S)
  d$id <- interaction(d$site, d$id, drop = TRUE)
  d$site <- factor(d$site)
  d$x <- rnorm(nrow(d))
  mu <- exp(0.5 + 0.4 * d$x + rnorm(nlevels(d$id), 0, 0.5)[d$id] + rnorm(S, 0, 0.4)[d$site])
  z <- rbinom(nrow(d), 1, plogis(-0.8 + rnorm(S, 0, 0.8)[d$site]))
  d$n <- ifelse(z == 1, 0, rpois(nrow(d), mu))
  fit <- glmm(n ~ x + (1 | site/id), data = d, family = poisson, ziformula = ~ 1 + (1 | site))
  expect_identical(fit$engine$name, "laplace_sparse_zero_re")
  parts <- cluster_score_parts(fit, NULL)
  expect_lt(max(abs(colSums(parts$S)) * sqrt(diag(fit$cov_theta))), 1e-3)
  # two sites fitted on their own: the gradient of their Laplace
  # log-likelihood at the full fit's estimate is the sum of their scores
  which <- c(3L, 11L)
  sub <- droplevels(d[d$site %in% levels(d$site)[which], ])
  fs <- suppressWarnings(glmm(n ~ x + (1 | site/id), data = sub, family = poisson,
                              ziformula = ~ 1 + (1 | site)))
  pe <- profile_engine(fs)
  g <- numDeriv::grad(function(t) pe$eval(theta_star(t, pe$Tx))$loglik, as.numeric(fit$theta))
  expect_equal(colSums(parts$S[which, ]), g, tolerance = 1e-6)
  V0 <- vcov(fit, type = "CR0")
  Ai <- solve(parts$A)
  expect_equal(unname(V0), unname(Ai %*% crossprod(parts$S) %*% Ai)[1:2, 1:2])
  expect_true(all(diag(vcov(fit, type = "CR2")) > diag(V0)))
  # the zero part's coefficients get theirs in summary()
  s <- summary(fit, vcov = "CR2")
  expect_true(all(is.finite(s$tables$zi[, "Std. Error"])))
  expect_false(isTRUE(all.equal(s$tables$zi[, "Std. Error"], summary(fit)$tables$zi[, "Std. Error"])))
})

# Families of four with a known kinship-like covariance (block diagonal by
# family), two rows per person.
vr_family_data <- function() {
  set.seed(1)
  F <- 40
  m <- 4
  id <- factor(seq_len(F * m))
  K1 <- matrix(0.5, m, m)
  diag(K1) <- 1
  K1[1, 2] <- K1[2, 1] <- 0
  K <- kronecker(diag(F), K1)
  dimnames(K) <- list(levels(id), levels(id))
  b <- t(chol(K)) %*% rnorm(F * m)
  d <- data.frame(id = id, fam = factor(rep(seq_len(F), each = m)))
  d <- d[rep(seq_len(F * m), each = 2), ]
  d$x <- rnorm(nrow(d))
  d$y <- d$x + 0.8 * b[as.integer(d$id)] + rnorm(nrow(d))
  d$yb <- rbinom(nrow(d), 1, plogis(0.3 * d$x + b[as.integer(d$id)]))
  list(d = d, K = K, K1 = K1, m = m)
}

test_that("a known covariance, block diagonal by family: clustered by family, as gls with it fixed", {
  skip_if_not_installed("clubSandwich")
  kd <- vr_family_data()
  d <- kd$d
  K <- kd$K
  f <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = K))
  expect_identical(f$engine$name, "known_gaussian")
  # the default cluster (each person) shares random effects within families
  expect_error(vcov(f, type = "CR2"), "share random effects .*every block of a known covariance")
  # the same marginal covariance held fixed in gls (the rows of a family
  # in one correlation block), through clubSandwich
  s2 <- sigma(f)^2
  Zf <- kronecker(diag(kd$m), matrix(1, 2, 1))
  R <- stats::cov2cor(f$reterms[[1]]$D[1, 1] * Zf %*% kd$K1 %*% t(Zf) + s2 * diag(2 * kd$m))
  g <- nlme::gls(y ~ x, data = d, method = "REML",
                 correlation = nlme::corSymm(R[lower.tri(R)], form = ~ 1 | fam, fixed = TRUE))
  expect_equal(unname(coef(g)), unname(fixef(f)), tolerance = 1e-6)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f, type = ty, cluster = ~ fam),
                 as.matrix(clubSandwich::vcovCR(g, cluster = d$fam, type = ty)),
                 tolerance = 1e-6, ignore_attr = TRUE, info = ty)
})

test_that("a known covariance in a binomial GLMM: each family's scores are its exact gradient", {
  skip_if_not_installed("numDeriv")
  kd <- vr_family_data()
  d <- kd$d
  fit <- glmm(yb ~ x + (1 | id), data = d, covariance = list(id = kd$K), family = binomial)
  expect_identical(fit$engine$name, "known_laplace")
  expect_error(vcov(fit, type = "CR0"), "share random effects")
  parts <- cluster_score_parts(fit, ~ fam)
  expect_identical(parts$G, nlevels(d$fam))
  expect_lt(max(abs(colSums(parts$S)) * sqrt(diag(fit$cov_theta))), 1e-3)
  # three families fitted on their own, with their blocks of the covariance
  which <- c(4L, 17L, 30L)
  sub <- droplevels(d[d$fam %in% levels(d$fam)[which], ])
  Ks <- kd$K[levels(sub$id), levels(sub$id)]
  fs <- suppressWarnings(glmm(yb ~ x + (1 | id), data = sub, covariance = list(id = Ks),
                              family = binomial))
  pe <- profile_engine(fs)
  g <- numDeriv::grad(function(t) pe$eval(theta_star(t, pe$Tx))$loglik, as.numeric(fit$theta))
  expect_equal(colSums(parts$S[which, ]), g, tolerance = 1e-6)
  V0 <- vcov(fit, type = "CR0", cluster = ~ fam)
  Ai <- solve(parts$A)
  expect_equal(unname(V0), unname(Ai %*% crossprod(parts$S) %*% Ai)[1:2, 1:2])
  s <- summary(fit, vcov = "CR2", cluster = ~ fam)
  expect_equal(unname(s$coefficients[, "Std. Error"]),
               unname(sqrt(diag(vcov(fit, type = "CR2", cluster = ~ fam)))))
})

test_that("crossed random effects and unsupported parts refuse robust types by name", {
  # crossed random effects link every cluster: no default cluster, and a
  # given one that splits a grouping's levels is refused, naming it
  fc <- vr_crossed_fit()
  expect_error(vcov(fc, type = "CR2", cluster = rep(1:2, length.out = nobs(fc))),
               "does not nest the random-effect grouping 'b'")
  expect_error(sandwich::estfun(fc), "no grouping factor nests all random-effect terms")
  # a penalized fit's estimates are set in part by the prior
  skip_if_not_installed("lme4")
  fp <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = lme4::cbpp,
             family = binomial, penalized = TRUE)
  expect_error(vcov(fp, type = "CR2"), "penalized fits \\(the prior sets the estimates in part")
})

test_that("structured covariances: scores in the structure's parameters, the same CR types as lme4's terms", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("lme4")
  d <- sleepstudy_outcomes()
  # ar1(): each subject's score is the gradient of its log-likelihood in
  # (beta, log sd, rho's parameter), and CR0 the sandwich over those
  fa <- glmm(y ~ Days + ar1(0 + factor(Days) | Subject), data = d, family = binomial)
  # (the rebuilt engine's scores, in the structure's parameters; the kept
  # ones come in the search's standardized parameters)
  eng <- covstruct_robust_engine(fa)
  ll_i <- function(ph) cpp_agq_summaries(environment(eng$scores)$eng,
                                         theta_star(eng$par$to_engine(ph), eng$Tx))$loglik
  parts <- cluster_score_parts(without_curvature(fa), NULL)
  phi <- as.numeric(fa$theta_structure)
  J <- numDeriv::jacobian(ll_i, phi)
  eng$free()
  expect_equal(unname(parts$S), J[, parts$free], tolerance = 1e-6)
  Ai <- solve(parts$A)
  expect_equal(unname(vcov(fa, type = "CR0")), unname(Ai %*% crossprod(J) %*% Ai)[1:2, 1:2],
               tolerance = 1e-6)
  s <- summary(fa, vcov = "CR2")
  expect_equal(unname(s$coefficients[, "Std. Error"]), unname(sqrt(diag(vcov(fa, type = "CR2")))))
  # diag() on log standard deviations is (1 + Days || Subject) on standard
  # deviations: the same model, the same robust covariances
  f1 <- glmm(n ~ Days + diag(1 + Days | Subject), data = d, family = poisson, nAGQ = 1)
  f2 <- glmm(n ~ Days + (1 + Days || Subject), data = d, family = poisson, nAGQ = 1)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f2)), tolerance = 1e-8)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f1, type = ty), vcov(f2, type = ty), tolerance = 1e-4, info = ty)
  expect_equal(summary(f1, vcov = "CR2")$coefficients[, "df"],
               summary(f2, vcov = "CR2")$coefficients[, "df"], tolerance = 1e-3)
})

test_that("structured fits keep their clusters' curvature: the rebuilt engine's CR types", {
  skip_if_not_installed("lme4")
  d <- sleepstudy_outcomes()
  d$w <- rep(c(1, 2, 0, 1, 1), length.out = nrow(d))
  fits <- list(
    ar1 = glmm(y ~ Days + ar1(0 + factor(Days) | Subject), data = d, family = binomial),
    diag = glmm(n ~ Days + diag(1 + Days | Subject), data = d, family = poisson, nAGQ = 1),
    cs_agq = glmm(n ~ Days + cs(1 + Days | Subject), data = d, family = poisson, nAGQ = 3),
    # one column: the engine's scalar path, its scores contracted after the pass
    one_column = glmm(n ~ Days + diag(1 | Subject), data = d, family = poisson),
    weighted = glmm(n ~ Days + diag(1 + Days | Subject), data = d, family = poisson,
                    weights = w))
  # beside other terms nested in one grouping (the sparse engine): visits
  # of patients within sites
  set.seed(2)
  s <- expand.grid(t = 1:5, id = 1:8, site = 1:12)
  s$id <- interaction(s$site, s$id)
  s$tf <- factor(s$t)
  s$x <- rnorm(nrow(s))
  v <- matrix(rnorm(96 * 5), 96) %*% chol(0.5 * 0.6^abs(outer(1:5, 1:5, "-")))
  s$n <- rpois(nrow(s), exp(0.3 + 0.3 * s$x + rnorm(12, 0, 0.5)[s$site] +
                              v[cbind(as.integer(s$id), s$t)]))
  fits$sparse_ar1 <- glmm(n ~ x + ar1(0 + tf | id) + (1 | site), data = s, family = poisson)
  fits$sparse_cs <- glmm(n ~ x + cs(0 + tf | id) + (1 | site), data = s, family = poisson)
  fits$sparse_diag <- glmm(n ~ x + diag(1 + x | site) + (1 | id), data = s, family = poisson)
  for (n in names(fits)) {
    f <- fits[[n]]
    expect_false(is.null(f$cluster_curvature), info = n)
    # each cluster's information in the structures' parameters is the
    # engine's (Lambda's entries) carried by the map's Jacobian, J' A_i J,
    # as a rebuilt engine takes it; without the map's second-derivative
    # term added back, CR2 moved by 1.6% and CR3 by 3.7% on these fits
    g <- without_curvature(f)
    for (ty in c("CR0", "CR2", "CR3")) {
      expect_lt(vr_rel(vcov(f, type = ty), vcov(g, type = ty)), 1e-5)
      # (all parameters: the variance parameters' too)
      expect_lt(vr_rel(score_cluster_sandwich(f, ty, NULL)$V, score_cluster_sandwich(g, ty, NULL)$V),
                1e-4)
    }
  }
  # the sandwich formed in the search's centred and scaled parameters,
  # where the covariance was kept too: Days * 1e-5 + 2010 gives Days'
  # robust standard errors (in the user's units the information could not
  # be inverted, reciprocal condition 1e-23)
  d$Dayf <- d$Days * 1e-5 + 2010
  ff <- glmm(y ~ Dayf + ar1(0 + factor(Days) | Subject), data = d, family = binomial)
  expect_equal(as.numeric(logLik(ff)), as.numeric(logLik(fits$ar1)), tolerance = 1e-8)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(sqrt(vcov(ff, type = ty)[2, 2]) * 1e-5, sqrt(vcov(fits$ar1, type = ty)[2, 2]),
                 tolerance = 1e-6, info = ty)
  # a coarser cluster (pairs of subjects) sums the kept clusters'
  pair <- (as.integer(d$Subject) + 1L) %/% 2L
  f <- fits$ar1
  expect_lt(vr_rel(vcov(f, type = "CR2", cluster = pair),
                   vcov(without_curvature(f), type = "CR2", cluster = pair)), 1e-5)
  # none where the fit's parameters are mapped after its search or its
  # robust types are another's: a penalized fit, gaussian ones (the linear
  # mixed model's)
  fp <- glmm(y ~ Days + ar1(0 + factor(Days) | Subject), data = d, family = binomial,
             penalized = TRUE)
  expect_null(fp$cluster_curvature)
  d$z <- d$Reaction / 100
  fg <- glmm(z ~ Days + ar1(0 + factor(Days) | Subject), data = d)
  expect_null(fg$cluster_curvature)
  s$z <- s$n + s$x
  expect_null(glmm(z ~ x + ar1(0 + tf | id) + (1 | site), data = s)$cluster_curvature)
})

test_that("a nonparametric random intercept: each cluster's score is that of its finite mixture", {
  skip_if_not_installed("numDeriv")
  skip_if_not_installed("sandwich")
  # a two-point intercept distribution, fitted with three mass points
  set.seed(2)
  G <- 60
  d <- data.frame(g = factor(rep(1:G, each = 8)), x = rnorm(G * 8))
  d$arm <- rep(0:1, length.out = G)[d$g]
  u <- ifelse(runif(G) < 0.3, 1.5, -0.5)[d$g]
  d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$x + 0.4 * d$arm + u))
  fit <- glmm(y ~ x + arm + (1 | g), data = d, family = binomial,
              ranef_dist = list("nonparametric", k = 3))
  parts <- cluster_score_parts(fit, NULL)
  # each cluster's log-likelihood written out: log sum_k w_k prod_j f(y_j | a_k)
  # in the free parameters (slopes, mass points, alpha_2, alpha_3)
  ll_i <- function(ph) {
    w <- exp(c(0, ph[6:7]))
    w <- w / sum(w)
    eta <- ph[1] * d$x + ph[2] * d$arm
    vapply(split(seq_len(nrow(d)), d$g), function(r)
      log(sum(w * vapply(ph[3:5], function(a) prod(dbinom(d$y[r], 1, plogis(eta[r] + a))), 1))), 1)
  }
  th <- as.numeric(fit$theta)
  phi <- c(th[2:3], th[4:6], th[8:9])
  J <- numDeriv::jacobian(ll_i, phi)
  expect_equal(unname(parts$S), J, tolerance = 1e-6)
  expect_lt(max(abs(colSums(parts$S)) * sqrt(diag(solve(parts$A)))), 1e-3)
  # the sandwich in the free parameters, carried to the reported intercept
  # (the distribution's mean) by the delta method
  Ai <- solve(parts$A)
  V0 <- parts$jac %*% Ai %*% crossprod(J) %*% Ai %*% t(parts$jac)
  expect_equal(unname(vcov(fit, type = "CR0")), V0[1:3, 1:3], tolerance = 1e-6)
  V2 <- vcov(fit, type = "CR2")
  expect_true(all(diag(V2) > diag(vcov(fit, type = "CR0"))))
  s <- summary(fit, vcov = "CR2")
  expect_equal(unname(s$coefficients[, "Std. Error"]), unname(sqrt(diag(V2))))
  # the sandwich package's clustered estimator from estfun() and bread()
  expect_equal(sandwich::vcovCL(fit, cluster = d$g, type = "HC0", cadjust = FALSE),
               vcov(fit, type = "CR0"), tolerance = 1e-8, ignore_attr = TRUE)
})

test_that("structured covariances beside other terms: each site's scores are its exact gradient", {
  skip_if_not_installed("numDeriv")
  # patients (ar1() over six visits) within sites (a random intercept)
  set.seed(3)
  S <- 40
  d <- expand.grid(t = 1:6, id = 1:3, site = 1:S)
  d$id <- interaction(d$site, d$id, drop = TRUE)
  d$site <- factor(d$site)
  d$x <- rnorm(nrow(d))
  d$tf <- factor(d$t)
  B <- matrix(0, nlevels(d$id), 6)
  B[, 1] <- rnorm(nrow(B))
  for (k in 2:6) B[, k] <- 0.6 * B[, k - 1] + 0.8 * rnorm(nrow(B))
  d$n <- rpois(nrow(d), exp(0.2 + 0.3 * d$x + 0.6 * B[cbind(as.integer(d$id), d$t)] +
                              rnorm(S, 0, 0.5)[d$site]))
  fit <- glmm(n ~ x + ar1(0 + tf | id) + (1 | site), data = d, family = poisson)
  expect_identical(fit$engine$name, "laplace_sparse")
  # (the rebuilt engine's scores, in the structure's parameters)
  parts <- cluster_score_parts(without_curvature(fit), NULL)
  expect_identical(parts$G, as.integer(S))
  phi <- as.numeric(fit$theta_structure)
  expect_lt(max(abs(colSums(parts$S)) * sqrt(diag(fit$cov_structure))), 1e-3)
  # three sites fitted on their own by the unstructured route: the gradient
  # of their Laplace log-likelihood at the ar1() estimate (Lambda from the
  # structure's parameters, written out here) is the sum of their scores
  which <- c(2L, 7L, 19L)
  sub <- droplevels(d[d$site %in% levels(d$site)[which], ])
  fs <- suppressWarnings(glmm(n ~ x + (0 + tf | id) + (1 | site), data = sub, family = poisson))
  pe <- profile_engine(fs)
  lam <- function(ph) {
    r <- ph[4] / sqrt(1 + ph[4]^2)
    L <- t(chol(exp(2 * ph[3]) * r^abs(outer(1:6, 1:6, "-"))))
    c(ph[1:2], L[lower.tri(L, diag = TRUE)], ph[5])
  }
  g <- numDeriv::grad(function(ph) pe$eval(theta_star(lam(ph), pe$Tx))$loglik, phi)
  expect_equal(colSums(parts$S[which, ]), g, tolerance = 1e-6)
  Ai <- solve(parts$A)
  expect_equal(unname(vcov(fit, type = "CR0")), unname(Ai %*% crossprod(parts$S) %*% Ai)[1:2, 1:2])
  v2 <- vcov(fit, type = "CR2")
  expect_true(all(diag(v2) > diag(vcov(fit, type = "CR0"))))
  # diag() on log standard deviations beside a second term is lme4's term
  f1 <- glmm(n ~ x + diag(1 | id) + (1 | site), data = d, family = poisson)
  f2 <- glmm(n ~ x + (1 | id) + (1 | site), data = d, family = poisson)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f2)), tolerance = 1e-8)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f1, type = ty), vcov(f2, type = ty), tolerance = 1e-4, info = ty)
})

test_that("gaussian structured fits take the linear mixed model's CR types (clubSandwich's)", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("clubSandwich")
  # one grouping factor: diag() is (1 + Days || Subject), whatever engine fits it
  d <- lme4::sleepstudy
  f1 <- glmm(Reaction ~ Days + diag(1 + Days | Subject), data = d)
  f2 <- glmm(Reaction ~ Days + (1 + Days || Subject), data = d)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(f1, type = ty), vcov(f2, type = ty), tolerance = 1e-6, info = ty)
  expect_equal(summary(f1, vcov = "CR2")$coefficients[, "df"],
               summary(f2, vcov = "CR2")$coefficients[, "df"], tolerance = 1e-6)
  # several terms by REML: lmer's fit of the same model through clubSandwich
  set.seed(4)
  d <- expand.grid(t = 1:4, id = 1:3, site = 1:30)
  d$id <- interaction(d$site, d$id, drop = TRUE)
  d$site <- factor(d$site)
  d$x <- rnorm(nrow(d))
  d$y <- d$x + rnorm(nlevels(d$id))[d$id] + rnorm(30)[d$site] + rnorm(nrow(d))
  g1 <- glmm(y ~ x + diag(1 | id) + (1 | site), data = d, REML = TRUE)
  g2 <- lme4::lmer(y ~ x + (1 | id) + (1 | site), data = d, REML = TRUE)
  expect_equal(as.numeric(logLik(g1)), as.numeric(logLik(g2)), tolerance = 1e-6)
  for (ty in c("CR0", "CR2", "CR3"))
    expect_equal(vcov(g1, type = ty), as.matrix(clubSandwich::vcovCR(g2, type = ty)),
                 tolerance = 1e-5, ignore_attr = TRUE, info = ty)
  expect_equal(as.matrix(clubSandwich::vcovCR(g1, type = "CR2")), vcov(g1, type = "CR2"),
               tolerance = 1e-8, ignore_attr = TRUE)
})

test_that("CR2 and CR3 stay defined when a cluster's log-likelihood is not concave in the variance", {
  # Poisson counts with skewed centre effects: some clusters' own information
  # is indefinite in the random-effect SD, which made another cluster's
  # leverage exceed 1 before the leverages were taken from the positive parts
  set.seed(1 + 1 + 1e5 * 20)
  G <- 20L; m <- 10L
  centre <- rep(seq_len(G), each = m)
  trt <- rep(rep(0:1, length.out = m), G)
  x <- rnorm(G * m)
  b <- (0.7 * (rexp(G) - 1))[centre]
  d <- data.frame(y = rpois(G * m, exp(-0.5 + 0.5 * trt + 0.3 * x + b)), trt, x, centre)
  fit <- glmm(y ~ trt + x + (1 | centre), data = d, family = poisson)
  parts <- cluster_score_parts(fit, NULL, hessians = TRUE)
  ev <- eigen(solve(parts$A)) # the bread is positive definite
  expect_true(all(ev$values > 0))
  lev_min <- apply(sandwich_informations(parts), 3L, function(H) min(eigen(H, symmetric = TRUE)$values))
  expect_true(any(lev_min < 0))
  V0 <- vcov(fit, type = "CR0"); V2 <- vcov(fit, type = "CR2"); V3 <- vcov(fit, type = "CR3")
  expect_true(all(diag(V0) < diag(V2)) && all(diag(V2) < diag(V3)))
  d$x2 <- d$x * 100 - 7
  f2 <- glmm(y ~ trt + x2 + (1 | centre), data = d, family = poisson)
  expect_equal(sqrt(vcov(f2, type = "CR2")[3, 3]) * 100, sqrt(V2[3, 3]), tolerance = 1e-4)
  expect_equal(vcov(f2, type = "CR3")[2, 2], V3[2, 2], tolerance = 1e-4)
})

# The two fits on which summary(), confint(), odds_ratios() and
# rate_ratios() with vcov = are checked against vcov(type = ).
vr_use_fits <- function() {
  data(sleepstudy, package = "lme4", envir = environment())
  data(cbpp, package = "lme4", envir = environment())
  list(lmm = glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = TRUE),
       bin = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                  family = binomial, nAGQ = 5),
       cbpp = cbpp)
}

test_that("summary(vcov = ) gives the standard errors, t and p values of that covariance", {
  skip_if_not_installed("lme4")
  fits <- vr_use_fits()
  for (fit in fits[c("lmm", "bin")]) for (type in c("CR0", "CR2", "CR3")) {
    V <- vcov(fit, type = type)
    se <- sqrt(diag(V))
    df <- attr(robust_vcov(fit, type, NULL, df = TRUE), "df")
    s <- summary(fit, vcov = type)
    expect_equal(unname(s$coefficients[, "Std. Error"]), unname(se), tolerance = 1e-12)
    expect_equal(unname(s$coefficients[, "t value"]), unname(fixef(fit) / se), tolerance = 1e-12)
    expect_equal(unname(s$coefficients[, "df"]), unname(df), tolerance = 1e-12)
    expect_equal(unname(s$coefficients[, "Pr(>|t|)"]), unname(2 * pt(-abs(fixef(fit) / se), df)),
                 tolerance = 1e-12)
    expect_equal(unname(s$coefficients[, "Estimate"]), unname(fixef(fit)))
    # a matrix (in another order) gives normal-quantile tests with the same errors
    p <- rev(seq_len(nrow(V)))
    sm <- summary(fit, vcov = V[p, p])$coefficients
    expect_equal(sm[, "Std. Error"], s$coefficients[, "Std. Error"])
    expect_equal(unname(sm[, "Pr(>|z|)"]), unname(2 * pnorm(-abs(fixef(fit) / se))))
  }
  # the model-based default is unchanged, and "model" is the same
  s0 <- summary(fits$lmm)
  expect_equal(unname(s0$coefficients[, "Std. Error"]), unname(sqrt(diag(vcov(fits$lmm)))))
  expect_null(s0$vcov_label)
  expect_identical(summary(fits$lmm, vcov = "model")$coefficients, s0$coefficients)
  out0 <- capture.output(print(s0))
  expect_false(any(grepl("^Standard errors:", out0)))
  # the printed summary names the covariance and the clusters
  out <- capture.output(print(summary(fits$lmm, vcov = "CR2", cluster = ~ Subject)))
  expect_true(paste("Standard errors: cluster-robust CR2, clusters: Subject (18);",
                    "t tests with Satterthwaite degrees of freedom") %in% out)
  out <- capture.output(print(summary(fits$bin, vcov = "CR1")))
  expect_true(any(startsWith(out, "Standard errors: cluster-robust CR1, clusters: herd (15);")))
  # a coarser cluster given as a vector
  coarse <- as.integer(fits$cbpp$herd) %% 5
  expect_equal(unname(summary(fits$bin, vcov = "CR2", cluster = coarse)$coefficients[, 2]),
               unname(sqrt(diag(vcov(fits$bin, type = "CR2", cluster = coarse)))), tolerance = 1e-12)
})

test_that("summary(vcov = ) refuses what it cannot use, naming the argument", {
  skip_if_not_installed("lme4")
  fits <- vr_use_fits()
  fit <- fits$bin
  expect_error(summary(fit, vcov = "HC0"), "summary\\(\\): 'vcov' must be one of \"model\", \"CR0\"")
  expect_error(summary(fit, vcov = c("CR1", "CR2")), "'vcov' must be one of")
  expect_error(summary(fit, vcov = diag(3)),
               "'vcov' is a 3 x 3 matrix; the fit has 4 fixed effects")
  V <- vcov(fit)
  V2 <- V
  dimnames(V2) <- list(letters[1:4], letters[1:4])
  expect_error(summary(fit, vcov = V2), "the row names of 'vcov' \\(a, b, c, d\\) are not the fixed effects'")
  V3 <- V
  V3[1, 2] <- V3[1, 2] + 1
  expect_error(summary(fit, vcov = V3), "finite symmetric matrix")
  expect_error(summary(fit, vcov = "CR2", cluster = ~ nothere), "'cluster'")
  expect_error(summary(fit, cluster = ~ herd), "'cluster' is for the cluster-robust covariances")
  expect_error(summary(fit, vcov = V, cluster = ~ herd), "not a 'vcov' matrix")
  expect_error(summary(fit, vcov = "CR2", type = "CR2"), "has no argument 'type'")
  # crossed random effects: no cluster owns its random effects
  fc <- vr_crossed_fit()
  expect_error(summary(fc, vcov = "CR2", cluster = rep(1:2, length.out = nobs(fc))),
               "does not nest the random-effect grouping")
  # a cumulative link mixed model: a type it does not know and a matrix
  # are refused by name
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$ord <- cut(d$Reaction, c(0, 250, 300, 350, Inf), ordered_result = TRUE)
  fo <- glmm(ord ~ Days + (1 | Subject), data = d, family = cumulative("logit"))
  expect_error(summary(fo, vcov = "HC0"),
               "summary\\(\\) of a cumulative link mixed model: 'vcov' must be one of \"model\", \"CR0\"")
  expect_error(summary(fo, vcov = vcov(fo)[4, 4, drop = FALSE]), "not a matrix")
  expect_identical(summary(fo, vcov = "model")$coefficients, summary(fo)$coefficients)
})

test_that("confint(vcov = ) gives Wald intervals of the fixed effects from that covariance", {
  skip_if_not_installed("lme4")
  fits <- vr_use_fits()
  for (fit in fits[c("lmm", "bin")]) for (type in c("CR1", "CR2")) {
    se <- sqrt(diag(vcov(fit, type = type)))
    z <- qt(0.95, attr(robust_vcov(fit, type, NULL, df = TRUE), "df"))
    ci <- confint(fit, vcov = type, level = 0.9)
    expect_identical(rownames(ci), names(fixef(fit)))
    expect_identical(colnames(ci), c("5 %", "95 %"))
    expect_equal(unname(ci[, 1]), unname(fixef(fit) - z * se), tolerance = 1e-12)
    expect_equal(unname(ci[, 2]), unname(fixef(fit) + z * se), tolerance = 1e-12)
    expect_equal(confint(fit, vcov = type, level = 0.9, parm = "beta_"), ci)
    nm <- names(fixef(fit))[2]
    expect_equal(confint(fit, vcov = type, level = 0.9, parm = nm), ci[nm, , drop = FALSE])
    # a matrix: normal quantiles
    expect_equal(unname(confint(fit, vcov = vcov(fit, type = type), level = 0.9)[, 2]),
                 unname(fixef(fit) + qnorm(0.95) * se))
  }
  # the default is unchanged
  expect_equal(confint(fits$bin, parm = "beta_"),
               confint(fits$bin, parm = "beta_", vcov = vcov(fits$bin)))
})

test_that("confint(vcov = ) refuses other methods and variance parameters, naming the argument", {
  skip_if_not_installed("lme4")
  fit <- vr_use_fits()$bin
  expect_error(confint(fit, vcov = "CR2", method = "profile"),
               "confint\\(method = \"profile\"\\): 'vcov' and 'cluster' are for Wald intervals")
  expect_error(confint(fit, vcov = "CR2", method = "boot", nsim = 2),
               "confint\\(method = \"boot\"\\): 'vcov' and 'cluster' are for Wald intervals")
  expect_error(confint(fit, vcov = "CR2", parm = "theta_"),
               "'parm' selects 'sd_\\(Intercept\\)\\|herd'; a 'vcov' other than \"model\" gives intervals of the fixed effects only")
  expect_error(confint(fit, vcov = "CR2", parm = c("period2", "sd_(Intercept)|herd")),
               "'parm' selects 'sd_\\(Intercept\\)\\|herd'")
  expect_error(confint(fit, vcov = "CR9"), "confint\\(\\): 'vcov' must be one of")
  expect_error(confint(fit, vcov = diag(2)), "'vcov' is a 2 x 2 matrix")
  expect_error(confint(fit, cluster = ~ herd), "'cluster' is for the cluster-robust covariances")
})

test_that("odds_ratios() and rate_ratios() with vcov = take their intervals from that covariance", {
  skip_if_not_installed("lme4")
  fits <- vr_use_fits()
  fit <- fits$bin
  for (type in c("CR0", "CR2")) {
    se <- sqrt(diag(vcov(fit, type = type)))[-1]
    df <- attr(robust_vcov(fit, type, NULL, df = TRUE), "df")[-1]
    z <- qt(0.975, df)
    b <- fixef(fit)[-1]
    o <- odds_ratios(fit, vcov = type)
    expect_equal(o$term, names(b))
    expect_equal(o$estimate, unname(exp(b)))
    expect_equal(o$std.error, unname(se), tolerance = 1e-12)
    expect_equal(o$conf.low, unname(exp(b - z * se)), tolerance = 1e-12)
    expect_equal(o$conf.high, unname(exp(b + z * se)), tolerance = 1e-12)
    expect_equal(o$p.value, unname(2 * pt(-abs(b / se), df)), tolerance = 1e-12)
    expect_true(any(grepl(sprintf("standard errors: cluster-robust %s, clusters: herd \\(15\\)", type),
                          capture.output(print(o)))))
  }
  # the default printout is unchanged
  expect_false(any(grepl("standard errors", capture.output(print(odds_ratios(fit))))))
  expect_equal(odds_ratios(fit, vcov = vcov(fit))$conf.low, odds_ratios(fit)$conf.low)
  # rate ratios of a poisson GLMM with a cluster formula
  d <- fits$cbpp
  fp <- glmm(incidence ~ period + offset(log(size)) + (1 | herd), data = d, family = poisson)
  se <- sqrt(diag(vcov(fp, type = "CR1", cluster = ~ herd)))[-1]
  q <- qt(0.95, attr(robust_vcov(fp, "CR1", ~ herd, df = TRUE), "df")[-1])
  r <- rate_ratios(fp, vcov = "CR1", cluster = ~ herd, level = 0.9)
  expect_equal(r$conf.low, unname(exp(fixef(fp)[-1] - q * se)), tolerance = 1e-12)
  expect_equal(r$conf.high, unname(exp(fixef(fp)[-1] + q * se)), tolerance = 1e-12)
  # on the LMM, rate_ratios() refuses the identity link before anything else
  expect_error(rate_ratios(fits$lmm, vcov = "CR2"), "rate ratios need the log link")
})

test_that("odds_ratios(vcov = ) refuses what it cannot use, naming the argument", {
  skip_if_not_installed("lme4")
  fits <- vr_use_fits()
  fit <- fits$bin
  expect_error(odds_ratios(fit, vcov = "CR7"), "odds_ratios\\(\\): 'vcov' must be one of")
  expect_error(odds_ratios(fit, vcov = diag(5)), "'vcov' is a 5 x 5 matrix; the fit has 4 fixed effects")
  expect_error(odds_ratios(fit, cluster = ~ herd), "'cluster' is for the cluster-robust covariances")
  expect_error(odds_ratios(fit, vcov = "CR2", foo = 1), "has no argument 'foo'")
  g <- gee(cbind(incidence, size - incidence) ~ period, id = herd, data = fits$cbpp,
           family = binomial)
  expect_error(odds_ratios(g, vcov = "CR2"), "'vcov' and 'cluster' are for glmm\\(\\) fits")
  fc <- vr_crossed_fit(covariate = TRUE)
  expect_error(odds_ratios(fc, vcov = "CR2", cluster = rep(1:2, length.out = nobs(fc))),
               "does not nest the random-effect grouping")
  # a step delta scales the standard error from a given matrix as the model-based one
  V <- vcov(fc)
  expect_equal(odds_ratios(fc, vcov = 4 * V, parm = "x", delta = 3)$std.error,
               3 * 2 * sqrt(V["x", "x"]), tolerance = 1e-12)
  data(sleepstudy, package = "lme4", envir = environment())
  d <- sleepstudy
  d$ord <- cut(d$Reaction, c(0, 250, 300, 350, Inf), ordered_result = TRUE)
  fo <- glmm(ord ~ Days + (1 | Subject), data = d, family = cumulative("logit"))
  expect_error(odds_ratios(fo, vcov = vcov(fo)), "'vcov' is a 4 x 4 matrix; the fit has 1 fixed effects")
  expect_equal(odds_ratios(fo, vcov = "model"), odds_ratios(fo))
})

test_that("zero-inflated fits: robust intervals and a robust summary of every part", {
  set.seed(1)
  n <- 40
  d <- data.frame(g = factor(rep(1:n, each = 6)), x = rnorm(6 * n))
  d$y <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + rep(rnorm(n, 0, 0.5), each = 6))) *
    rbinom(nrow(d), 1, 0.8)
  f <- glmm(y ~ x + (1 | g), data = d, family = poisson, ziformula = ~ 1)
  skip_if_not(glmmgee:::has_capability(f, "robust_vcov"))
  se <- sqrt(diag(vcov(f, type = "CR2")))
  ci <- confint(f, vcov = "CR2")
  df <- attr(robust_vcov(f, "CR2", NULL, df = TRUE), "df")
  expect_equal(unname(ci[, 2] - ci[, 1]), unname(2 * qt(0.975, df) * se), tolerance = 1e-12)
  expect_error(confint(f, vcov = "CR2", parm = "zi.(Intercept)"), "'parm' selects 'zi.\\(Intercept\\)'")
  expect_equal(rate_ratios(f, vcov = "CR2")$std.error, unname(se["x"]), tolerance = 1e-12)
  sm <- summary(f, vcov = "CR2")
  full <- parameter_vcov_choice(f, "CR2", NULL, "test")
  expect_equal(unname(sm$tables$cond[, "Std. Error"]), unname(se), tolerance = 1e-12)
  expect_equal(unname(sm$tables$cond[, "df"]), unname(df), tolerance = 1e-10)
  zi <- f$aux$zi_index
  expect_equal(unname(sm$tables$zi[, "Std. Error"]), sqrt(diag(full$vcov)[zi]), tolerance = 1e-12)
  expect_false(isTRUE(all.equal(unname(sm$tables$zi[, "Std. Error"]),
                                unname(summary(f)$tables$zi[, "Std. Error"]))))
  expect_true(all(sm$tables$zi[, "df"] > 1 & sm$tables$zi[, "df"] < nlevels(d$g)))
  expect_match(paste(capture.output(print(sm)), collapse = " "), "cluster-robust CR2")
  expect_error(summary(f, vcov = vcov(f, type = "CR2")), "'vcov' must be one of")
})

# ---- Satterthwaite degrees of freedom ----

test_that("degrees of freedom of linear mixed models are clubSandwich's coef_test() Satterthwaite", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy[-c(1:4, 30:33, 100:104), ]
  fit <- glmm(Reaction ~ Days + (Days | Subject), data = d, REML = TRUE)
  l <- vr_lmer_at(fit, Reaction ~ Days + (Days | Subject), d)
  for (ty in c("CR0", "CR2", "CR3")) {
    ours <- attr(robust_vcov(fit, ty, NULL, df = TRUE), "df")
    ct <- clubSandwich::coef_test(l, vcov = ty, test = "Satterthwaite")
    expect_equal(unname(ours), ct$df_Satt %||% ct$df, tolerance = 1e-6, info = ty)
  }
  # a nested design on the sparse engine, clustered at the top
  fit2 <- glmm(strength ~ 1 + (1 | batch/cask), data = lme4::Pastes, REML = TRUE)
  l2 <- vr_lmer_at(fit2, strength ~ 1 + (1 | batch/cask), lme4::Pastes)
  ct2 <- clubSandwich::coef_test(l2, vcov = "CR2", test = "Satterthwaite")
  expect_equal(unname(attr(robust_vcov(fit2, "CR2", NULL, df = TRUE), "df")),
               ct2$df_Satt %||% ct2$df, tolerance = 1e-6)
})

test_that("summary(), confint() and odds_ratios() with a robust vcov use t with those df", {
  skip_if_not_installed("lme4")
  fit <- cbpp_fit()
  V <- robust_vcov(fit, "CR2", NULL, df = TRUE)
  df <- attr(V, "df")
  # each df lies between 1 and the number of clusters; equal clusters would give 15
  expect_true(all(df > 1 & df <= length(fit$group_levels)))
  s <- summary(fit, vcov = "CR2")
  expect_equal(unname(s$coefficients[, "df"]), unname(df))
  tval <- fixef(fit) / sqrt(diag(V))
  expect_equal(unname(s$coefficients[, "Pr(>|t|)"]), unname(2 * pt(-abs(tval), df)))
  ci <- confint(fit, method = "Wald", vcov = "CR2")
  expect_equal(unname(ci[, 2]), unname(fixef(fit) + qt(0.975, df) * sqrt(diag(V))))
  or <- odds_ratios(fit, vcov = "CR2")
  expect_equal(or$conf.high, unname(exp(fixef(fit)[-1] + qt(0.975, df[-1]) * sqrt(diag(V))[-1])))
})

test_that("anova(vcov = ) gives clubSandwich's HTZ Wald tests for an LMM and t^2 for one column", {
  skip_if_not_installed("clubSandwich")
  skip_if_not_installed("lme4")
  data(sleepstudy, package = "lme4", envir = environment())
  set.seed(3)
  d <- sleepstudy[sort(sample(nrow(sleepstudy), 140)), ]  # unbalanced
  d$f <- factor(d$Days %% 3)
  fit <- glmm(Reaction ~ Days + f + (Days | Subject), data = d, REML = TRUE)
  a <- anova(fit, vcov = "CR2")
  expect_identical(names(a), c("Df", "Den Df", "F", "Pr(>F)"))
  for (k in 1:2) {
    j <- which(attr(fit$X, "assign") == k)
    w <- clubSandwich::Wald_test(fit, constraints = clubSandwich::constrain_zero(j),
                                 vcov = "CR2", test = "HTZ")
    expect_equal(a$F[k], w$Fstat, tolerance = 1e-8)
    expect_equal(a[["Den Df"]][k], w$df_denom, tolerance = 1e-8)
    expect_equal(a[["Pr(>F)"]][k], w$p_val, tolerance = 1e-7)
  }
  expect_gt(abs(a[["Den Df"]][2] - (nlevels(d$Subject) - 2)), 0.01)  # not a naive df
  # a binomial GLMM: a one-column term's F is summary()'s t squared on its df
  g <- glmm(cbind(incidence, size - incidence) ~ period + size + (1 | herd),
            data = lme4::cbpp, family = binomial, nAGQ = 5)
  ag <- anova(g, vcov = "CR3")
  sm <- summary(g, vcov = "CR3")$coefficients
  expect_equal(ag["size", "F"], sm["size", "t value"]^2, tolerance = 1e-10)
  expect_equal(ag["size", "Den Df"], sm["size", "df"], tolerance = 1e-10)
  expect_equal(ag["size", "Pr(>F)"], sm["size", "Pr(>|t|)"], tolerance = 1e-8)
  expect_equal(ag["period", "Df"], 3)
  expect_true(ag["period", "Den Df"] > 0 && ag["period", "Den Df"] < nlevels(lme4::cbpp$herd))
  expect_match(paste(attr(ag, "heading"), collapse = ""), "cluster-robust CR3")
  # refusals
  g0 <- update(g, . ~ . - size)
  expect_error(anova(g0, g, vcov = "CR2"), "one fit")
  expect_error(anova(g, vcov = "HC0"), "'vcov' must be one of")
  expect_error(anova(g, cluster = ~ herd), "'cluster' is for")
})

test_that("a reduced coverage simulation: CR2 repairs a model-based SE that a misspecified model gets wrong", {
  # the design of bench/robust-coverage.R: 20 centres of 10 patients, a
  # Poisson outcome whose random-intercept variance differs by arm, fitted
  # with one common variance; 100 replications (the bench runs 1,000 per
  # cell over two outcomes, four models and 20, 40 and 100 centres)
  design <- system.file("scripts", "robust-coverage-design.R", package = "glmmgee")
  skip_if(!nzchar(design), "the simulation design is not installed")
  sim <- new.env()
  sys.source(design, envir = sim)
  target <- sim$robust_trial_target("poisson", "arm_var", fits = 1L)
  r <- sim$robust_trial_cell("poisson", "arm_var", 20L, target, reps = 100L, seed0 = 7L)
  expect_true(all(is.finite(r$estimates)))
  # mean estimated variance over the variance of the estimates
  ratio <- colMeans(r$variances) / stats::var(r$estimates)
  expect_lt(ratio[["model"]], 0.5)
  expect_lt(r$coverage[["model"]], 80)
  expect_gt(ratio[["CR2"]], 0.75)
  expect_lt(ratio[["CR2"]], 1.35)
  expect_gte(r$coverage[["CR2"]], 88)
  expect_gte(r$coverage[["CR3"]], r$coverage[["CR0"]])
  expect_true(ratio[["CR0"]] < ratio[["CR2"]] && ratio[["CR2"]] < ratio[["CR3"]])
})

test_that("a GLMM cluster that alone determines a coefficient: CR2 and CR3 name it, CR1 stands", {
  set.seed(2)
  G <- 20
  d <- data.frame(g = rep(seq_len(G), each = 10), x = rnorm(10 * G))
  d$z <- as.numeric(d$g == 7)  # varies in cluster 7 only
  d$y <- rbinom(nrow(d), 1, plogis(0.3 * d$x + rnorm(G, 0, 0.5)[d$g]))
  f <- glmm(y ~ x + z + (1 | g), data = d, family = binomial)
  for (ty in c("CR2", "CR3"))
    expect_error(vcov(f, type = ty), sprintf("type = \"%s\"\\): cluster '7' alone determines", ty))
  V1 <- vcov(f, type = "CR1")
  expect_true(all(is.finite(V1)) && all(diag(V1) > 0))
})

test_that("the clusters' leverages and adjustments equal the matrix-by-matrix computation", {
  set.seed(5)
  k <- 5L
  P <- 4L
  G <- 9L
  H <- array(0, c(k, k, G))
  for (i in seq_len(G)) {
    A <- matrix(rnorm(k * k), k)
    H[, , i] <- crossprod(A) / 8 - diag(0.3, k)  # symmetric, some indefinite
  }
  H[, , 4] <- -diag(k)                           # no direction of positive curvature
  H[, , 6] <- tcrossprod(rnorm(k)) / 10           # rank one
  M <- matrix(rnorm(k * P), k) / 3
  U <- matrix(rnorm(G * P), G)
  # the steps of score_cluster_sandwich() one cluster at a time
  sym_fun <- function(S, f) {
    e <- eigen((S + t(S)) / 2, symmetric = TRUE)
    e$vectors %*% (f(e$values) * t(e$vectors))
  }
  W <- lapply(seq_len(G), function(i) crossprod(M, H[, , i] %*% M))
  Pp <- lapply(W, sym_fun, f = function(l) pmax(l, 0))
  T <- Reduce(`+`, Pp)
  Th <- sym_fun(T, sqrt)
  Tih <- sym_fun(T, function(l) 1 / sqrt(l))
  for (power in c(0, 1 / 2, 1)) {
    lev <- cpp_cluster_leverage(H, M, U, power)
    expect_true(lev$finite)
    expect_identical(lev$one, 0L)
    expect_equal(lev$Th, Th, tolerance = 1e-12)
    expect_equal(lev$Tih, Tih, tolerance = 1e-12)
    for (i in seq_len(G)) {
      L <- Tih %*% Pp[[i]] %*% Tih
      adj <- sym_fun(L, function(l) (1 - pmin(pmax(l, 0), 1))^-power)
      expect_equal(lev$L[, , i], L, tolerance = 1e-12, info = i)
      expect_equal(lev$adj[, , i], adj, tolerance = 1e-12, info = i)
      expect_equal(lev$U[i, ], c(Th %*% adj %*% Tih %*% U[i, ]), tolerance = 1e-12, info = i)
    }
  }
  # a cluster that alone determines a direction (leverage 1): named when
  # the adjustment needs its inverse, not for CR0/CR1's degrees of freedom
  Hone <- array(0, c(2L, 2L, 3L))
  Hone[, , 1] <- diag(c(1, 0))
  Hone[, , 2] <- diag(c(0, 1))
  Hone[, , 3] <- diag(c(0, 1))
  expect_identical(cpp_cluster_leverage(Hone, diag(2), matrix(1, 3, 2), 1 / 2)$one, 1L)
  expect_identical(cpp_cluster_leverage(Hone, diag(2), matrix(1, 3, 2), 0)$one, 0L)
  bad <- H
  bad[1, 1, 3] <- NaN
  expect_false(cpp_cluster_leverage(bad, M, U, 1 / 2)$finite)
  expect_error(cpp_cluster_leverage(H[, , 1:3], M, U, 1 / 2), "one nrow\\(M\\) x nrow\\(M\\) slice per row")
  expect_error(cpp_cluster_leverage(H, M, U[, 1:2], 1 / 2), "ncol\\(M\\) columns")
  expect_error(cpp_cluster_leverage(H, M, U, -1), "'power'")
  # batch_matvec(): the rows M_i v_i
  v <- matrix(rnorm(G * k), G)
  mv <- batch_matvec(H, v)
  for (i in seq_len(G)) expect_equal(mv[i, ], c(H[, , i] %*% v[i, ]), tolerance = 1e-12)
})
