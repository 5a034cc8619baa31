# Small-sample variance estimators of gee fits computed after the fit
# (vcov(type = ) and gee(std.err = )): each against a computation written
# here from its published formula, on the seizure counts (MASS::epil,
# balanced: 59 patients x 4 periods) and the respiratory trial (binary,
# balanced: 111 patients x 4 visits); those glmtoolbox offers against
# glmtoolbox on its own examples.

# Per-cluster pieces from first principles: balanced data sorted by cluster
# and time, an exchangeable or AR(1) working correlation alpha, canonical
# link (log for poisson, logit for binomial) so that D = diag(v) X.
vf_direct_pieces <- function(X, y, id, beta, alpha, corstr, family) {
  mu <- drop(if (family == "poisson") exp(X %*% beta) else plogis(X %*% beta))
  v <- if (family == "poisson") mu else mu * (1 - mu)
  lapply(split(seq_along(y), id), function(r) {
    n <- length(r)
    R <- if (corstr == "exchangeable") { m <- matrix(alpha, n, n); diag(m) <- 1; m }
         else alpha^abs(outer(seq_len(n), seq_len(n), "-"))
    A <- diag(v[r], n)
    V <- sqrt(A) %*% R %*% sqrt(A)
    list(D = A %*% X[r, , drop = FALSE], Vi = solve(V), e = y[r] - mu[r], A = A)
  })
}

# The estimators from their papers, given the pieces and the model-based
# variance phi H^-1 (for MBN).
vf_direct <- function(pc, Vmodel, N) {
  p <- ncol(pc[[1]]$D); K <- length(pc)
  H <- Reduce(`+`, lapply(pc, function(b) t(b$D) %*% b$Vi %*% b$D))
  Hi <- solve(H)
  U <- lapply(pc, function(b) t(b$D) %*% b$Vi %*% b$e)
  meat <- function(us) Reduce(`+`, lapply(us, function(u) u %*% t(u)))
  LZ <- Hi %*% meat(U) %*% Hi
  out <- list(san.se = LZ, df = K / (K - p) * LZ)
  # Fay and Graubard (2001), b = 0.75.
  out$fg <- Hi %*% meat(lapply(pc, function(b) {
    Hii <- t(b$D) %*% b$Vi %*% b$D %*% Hi
    diag(1 / sqrt(1 - pmin(0.75, diag(Hii))), p) %*% t(b$D) %*% b$Vi %*% b$e
  })) %*% Hi
  # Morel, Bokossa and Neerchal (2003), d = 2, r = 1.
  kk <- (N - 1) / (N - p) * K / (K - 1)
  delta <- if (K > 3 * p) p / (K - p) else 1 / 2
  xi <- max(1, sum(diag(solve(Vmodel) %*% LZ)) / p)
  out$mbn <- kk * LZ + delta * xi * Vmodel
  # Pan (2001): W = mean of A^-1/2 e e' A^-1/2; Gosho et al. (2014): / (K - p).
  W <- Reduce(`+`, lapply(pc, function(b) {
    s <- diag(1 / sqrt(diag(b$A))) %*% b$e
    s %*% t(s)
  }))
  pan_like <- function(W) Hi %*% Reduce(`+`, lapply(pc, function(b)
    t(b$D) %*% b$Vi %*% sqrt(b$A) %*% W %*% sqrt(b$A) %*% b$Vi %*% b$D)) %*% Hi
  out$pan <- pan_like(W / K)
  out$gst <- pan_like(W / (K - p))
  # Wang and Long (2011): W from (I - D H^-1 D' V^-1)^-1 e; Mancl-DeRouen.
  ec <- lapply(pc, function(b) solve(diag(length(b$e)) - b$D %*% Hi %*% t(b$D) %*% b$Vi, b$e))
  Wwl <- Reduce(`+`, Map(function(b, r) {
    s <- diag(1 / sqrt(diag(b$A))) %*% r
    s %*% t(s)
  }, pc, ec))
  out$wl <- pan_like(Wwl / K)
  dk <- Map(function(b, r) Hi %*% t(b$D) %*% b$Vi %*% r, pc, ec)
  out$md <- Hi %*% meat(Map(function(b, r) t(b$D) %*% b$Vi %*% r, pc, ec)) %*% Hi
  d <- do.call(rbind, lapply(dk, t))
  d <- sweep(d, 2, colMeans(d))
  out$cjack <- t(d) %*% d
  out
}

vf_check <- function(fit, X, y, id, family) {
  pc <- vf_direct_pieces(X, y, id, coef(fit), unname(fit$alpha[1]), fit$corstr, family)
  ref <- vf_direct(pc, vcov(fit, type = "model"), length(y))
  for (tp in names(ref))
    expect_equal(unname(vcov(fit, type = tp)), unname(ref[[tp]]), tolerance = 1e-10,
                 info = paste(fit$corstr, family, tp))
}

test_that("the small-sample sandwiches equal their published formulas on the seizure counts", {
  skip_if_not_installed("MASS")
  d <- MASS::epil
  d <- d[order(d$subject, d$period), ]
  X <- model.matrix(~ lbase + trt + lage + V4, d)
  for (cs in c("exchangeable", "ar1")) {
    fit <- gee(y ~ lbase + trt + lage + V4, data = d, id = subject, family = poisson,
               corstr = cs, control = gee_control(epsilon = 1e-10))
    vf_check(fit, X, d$y, d$subject, "poisson")
  }
})

test_that("the small-sample sandwiches equal their published formulas on a binary trial", {
  skip_if_not_installed("geepack")
  d <- resp_data()
  X <- model.matrix(~ treat + sex + age + baseline, d)
  for (cs in c("exchangeable", "ar1")) {
    fit <- gee(outcome ~ treat + sex + age + baseline, data = d, id = cid,
               family = binomial, corstr = cs, control = gee_control(epsilon = 1e-10))
    vf_check(fit, X, d$outcome, d$cid, "binomial")
  }
})

test_that("the small-sample sandwiches of an intercept-only fit equal their published formulas", {
  skip_if_not_installed("geepack")
  d <- resp_data()
  X <- model.matrix(~ 1, d)
  for (cs in c("exchangeable", "ar1")) {
    fit <- gee(outcome ~ 1, data = d, id = cid, family = binomial, corstr = cs,
               control = gee_control(epsilon = 1e-10))
    vf_check(fit, X, d$outcome, d$cid, "binomial")
  }
})

test_that("the centred jackknife of an intercept-only fit equals the delete-one-cluster refits", {
  # Gaussian, independence: the estimating equation is linear in beta, so
  # the one-step deletion changes are the refits' exactly.
  set.seed(42)
  n <- rep(2:6, 2)
  d <- data.frame(id = rep(seq_along(n), n))
  d$y <- rnorm(nrow(d), 1 + rep(rnorm(length(n)), n))
  fit <- gee(y ~ 1, data = d, id = id, family = gaussian, corstr = "independence")
  b <- vapply(seq_along(n), function(k)
    unname(coef(gee(y ~ 1, data = d[d$id != k, ], id = id, family = gaussian,
                    corstr = "independence"))), 1)
  v <- vcov(fit, type = "cjack")
  expect_identical(dimnames(v), list("(Intercept)", "(Intercept)"))
  expect_equal(v[1, 1], sum((b - mean(b))^2), tolerance = 1e-8)
})

test_that("gee(std.err = ) reports a post-fit estimator, glmtoolbox's names are aliases, and an unknown type is refused", {
  skip_if_not_installed("MASS")
  fit <- gee(y ~ lbase + trt + lage + V4, data = MASS::epil, id = subject,
             family = poisson, corstr = "exchangeable", std.err = "fg")
  expect_identical(fit$std.err, "fg")
  expect_equal(vcov(fit), vcov(fit, type = "fg"))
  expect_equal(summary(fit)$coefficients[, "Std. Error"], sqrt(diag(vcov(fit, type = "fg"))))
  expect_output(print(summary(fit)), "Fay-Graubard")
  expect_equal(vcov(fit, type = "bias-corrected"), vcov(fit, type = "md"))
  expect_equal(vcov(fit, type = "df-adjusted"), vcov(fit, type = "df"))
  expect_equal(vcov(fit, type = "robust"), vcov(fit, type = "san.se"))
  expect_equal(vcov(fit, type = "jackknife"), vcov(fit, type = "cjack"))
  expect_identical(update(fit, std.err = "df-adjusted")$std.err, "df")
  expect_error(vcov(fit, type = "pann"), "'type' must be one of .*\"pan\".*\"wl\"")
  expect_error(gee(y ~ lbase, data = MASS::epil, id = subject, family = poisson, std.err = "HC3"),
               "'std.err' must be one of")
  # The estimators dividing by K - p need more clusters than coefficients.
  small <- MASS::epil[MASS::epil$subject %in% c(1, 2, 30, 31, 32), ]
  f5 <- gee(y ~ lbase + trt + lage + V4, data = small, id = subject, family = poisson)
  expect_error(vcov(f5, type = "gst"), "needs more clusters \\(5\\) than coefficients \\(5\\)")
  f4 <- gee(y ~ lbase + trt + lage + V4, data = small[small$subject != 32, ], id = subject,
            family = poisson)
  expect_error(vcov(f4, type = "df"), "needs more clusters \\(4\\) than coefficients \\(5\\)")
})

test_that("the estimators glmtoolbox offers equal its vcov() on its examples", {
  skip_if_not_installed("glmtoolbox")
  for (nm in names(cs <- gtb_cases())) {
    pr <- gtb_pair(cs[[nm]])
    expect_equal(unname(coef(pr$fit)), unname(drop(coef(pr$ref))), tolerance = 1e-8, info = nm)
    for (tp in c("robust", "df-adjusted", "model", "bias-corrected", "jackknife"))
      expect_equal(unname(vcov(pr$fit, type = tp)), unname(vcov(pr$ref, type = tp)),
                   tolerance = 1e-6, info = paste(nm, tp))
  }
})

# Poisson counts in 30 clusters of `size` rows (cluster "c1" alone at factor
# level "solo": its leverage is 1 for one row, and without it grpsolo
# cannot be estimated).
solo_cluster_data <- function(size) {
  set.seed(4)
  d <- data.frame(id = rep(1:30, each = 3), x = rnorm(90))
  d$grp <- factor(ifelse(d$id == 1, "solo", rep(c("A", "B"), length.out = 90)))
  d$y <- rpois(90, exp(0.5 + 0.3 * d$x))
  d$y[1] <- 3
  d <- d[d$id != 1 | seq_len(90) <= size, ]
  d$id <- paste0("c", d$id)
  d
}

test_that("a cluster of leverage 1 is refused alike by md, kc, wl, cjack and dfbeta(), in any row order", {
  d <- solo_cluster_data(1)
  for (s in 1:4) {
    set.seed(s)
    dd <- if (s == 1) d else d[sample(nrow(d)), ]
    g <- gee(y ~ x + grp, data = dd, id = id, family = poisson, corstr = "exchangeable")
    # cjack, wl and dfbeta() had given row-order noise (cjack SE 1.315 or 0.664).
    for (ty in c("md", "kc", "wl", "cjack"))
      expect_error(vcov(g, type = ty), "leverage of cluster c1 is 1: some coefficient", info = paste(s, ty))
    expect_error(dfbeta(g), "leverage of cluster c1 is 1: some coefficient", info = s)
  }
})

test_that("the jackknife variances stop when deleting a cluster leaves a coefficient inestimable", {
  d <- solo_cluster_data(3)
  g <- gee(y ~ x + grp, data = d, id = id, family = poisson, corstr = "exchangeable")
  # jack, j1s and fij had given 0.089, 0.089 and 0.079, below san.se's 0.0945.
  for (ty in c("jack", "j1s", "fij"))
    expect_error(vcov(g, type = ty), "without cluster c1 the coefficient 'grpsolo' cannot be estimated",
                 info = ty)
  expect_error(update(g, std.err = "jack"), "without cluster c1 the coefficient 'grpsolo'")
  # Without the lone level every deletion is estimable.
  g2 <- gee(y ~ x, data = d, id = id, family = poisson, corstr = "exchangeable")
  expect_true(all(is.finite(vcov(g2, type = "jack"))))
})

test_that("the jackknife refusal does not depend on the location or scale of a covariate", {
  # Calendar year, x + 1000 and x * 1e5 had every deletion refused when the
  # variance was asked for after the fit (the unscaled design); the values
  # are those of the fit-time variance and of the release before.
  set.seed(1)
  d <- data.frame(id = rep(1:30, each = 4), x = rnorm(120), year = rep(2001:2004, 30))
  d$y <- rpois(120, exp(0.3 + 0.3 * d$x + 0.05 * (d$year - 2002)))
  g <- gee(y ~ x + year, data = d, id = id, family = poisson, corstr = "exchangeable")
  ref <- list(jack = c(129.773949, 0.0854474814, 0.0648093746),
              j1s = c(129.773949, 0.0854474814, 0.0648093745),
              fij = c(131.112700, 0.0873481994, 0.0654781093))
  for (ty in names(ref)) {
    se <- sqrt(diag(vcov(g, type = ty)))
    expect_equal(unname(se), ref[[ty]], tolerance = 1e-7, info = ty)
    fit_time <- update(g, std.err = ty)
    expect_equal(sqrt(diag(vcov(fit_time))), se, tolerance = 1e-8, info = ty)
  }
  d$x1000 <- d$x + 1000
  d$x1e5 <- d$x * 1e5
  g0 <- gee(y ~ x, data = d, id = id, family = poisson)
  se0 <- sqrt(vcov(g0, type = "jack")[2, 2])
  expect_equal(se0, 0.08685896, tolerance = 1e-7)
  expect_equal(sqrt(vcov(gee(y ~ x1000, data = d, id = id, family = poisson), type = "jack")[2, 2]),
               se0, tolerance = 1e-6)
  expect_equal(sqrt(vcov(gee(y ~ x1e5, data = d, id = id, family = poisson), type = "jack")[2, 2]),
               se0 / 1e5, tolerance = 1e-6)
})

test_that("the leverage-1 rule of cjack, wl and dfbeta() does not depend on a covariate's location", {
  # With x + 1e4, solve(H) had refused the design as computationally
  # singular; through an inverted H the leverage 1 came out as 1 - 1e-9.
  d <- solo_cluster_data(1)
  d$xs <- d$x + 1e4
  g <- gee(y ~ xs + grp, data = d, id = id, family = poisson, corstr = "exchangeable")
  for (ty in c("md", "wl", "cjack"))
    expect_error(vcov(g, type = ty), "leverage of cluster c1 is 1: some coefficient", info = ty)
  expect_error(dfbeta(g), "leverage of cluster c1 is 1: some coefficient")
  g0 <- gee(y ~ x, data = d, id = id, family = poisson, corstr = "exchangeable")
  gs <- gee(y ~ xs, data = d, id = id, family = poisson, corstr = "exchangeable")
  for (ty in c("wl", "cjack"))
    expect_equal(vcov(gs, type = ty)[2, 2], vcov(g0, type = ty)[2, 2], tolerance = 1e-6, info = ty)
})
