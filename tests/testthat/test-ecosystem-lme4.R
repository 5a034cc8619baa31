# lme4's everyday calls on glmm() fits: getME(), ngrps(), isSingular(),
# refit(), bootMer(), compared with lme4's values on the same models.

l4_env <- new.env(parent = emptyenv())
l4_cbpp <- function() {
  if (is.null(l4_env$cbpp)) {
    cbpp <- lme4::cbpp
    l4_env$cbpp <- list(
      data = cbpp,
      ours = glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                  family = binomial, nAGQ = 1),
      lme4 = lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                         family = binomial))
  }
  l4_env$cbpp
}

test_that("getME() on a one-factor binomial GLMM matches glmer (cbpp)", {
  skip_if_not_installed("lme4")
  m <- l4_cbpp()
  ours <- m$ours; ref <- m$lme4
  expect_equal(unname(lme4::getME(ours, "X")), unname(lme4::getME(ref, "X")), ignore_attr = TRUE)
  expect_equal(as.matrix(lme4::getME(ours, "Z")), as.matrix(lme4::getME(ref, "Z")), ignore_attr = TRUE)
  expect_identical(colnames(lme4::getME(ours, "Z")), colnames(lme4::getME(ref, "Z")))
  # theta: the random intercept's SD (sigma = 1 for a binomial GLMM); ours
  # 0.6420, glmer 0.6420 (same Laplace likelihood)
  expect_equal(unname(lme4::getME(ours, "theta")), unname(lme4::getME(ref, "theta")), tolerance = 2e-3)
  expect_identical(lme4::getME(ours, "lower"), lme4::getME(ref, "lower"))
  expect_equal(lme4::getME(ours, "beta"), lme4::getME(ref, "beta"), tolerance = 1e-3, ignore_attr = TRUE)
  expect_equal(as.matrix(lme4::getME(ours, "Lambda")), as.matrix(lme4::getME(ref, "Lambda")),
               tolerance = 2e-3, ignore_attr = TRUE)
  expect_equal(lme4::getME(ours, "cnms"), lme4::getME(ref, "cnms"))
  expect_identical(lme4::ngrps(ours), lme4::ngrps(ref))
  expect_identical(lme4::getME(ours, "n"), lme4::getME(ref, "n"))
  expect_identical(lme4::getME(ours, "p"), lme4::getME(ref, "p"))
  expect_identical(lme4::getME(ours, "q"), lme4::getME(ref, "q"))
  expect_equal(lme4::getME(ours, "flist")$herd, lme4::getME(ref, "flist")$herd)
  expect_identical(lme4::getME(ours, "is_REML"), FALSE)
  expect_identical(lme4::getME(ours, "sigma"), 1)
  expect_equal(unname(lme4::getME(ours, "b")), unname(drop(as.matrix(lme4::getME(ref, "b")))),
               tolerance = 5e-3)
  expect_equal(lme4::getME(ours, "devcomp")$cmp[["dev"]], -2 * as.numeric(logLik(ours)))
  expect_identical(lme4::getME(ours, "devcomp")$dims[["GLMM"]], 1L)
  expect_false(lme4::isLMM(ours))
  expect_true(lme4::isGLMM(ours))
  expect_error(lme4::getME(ours, "RZX"), "no component \"RZX\"")
})

test_that("getME() on LMMs matches lmer: theta relative to sigma, ML and REML, correlated and ||", {
  skip_if_not_installed("lme4")
  ss <- lme4::sleepstudy
  for (reml in c(FALSE, TRUE)) {
    ours <- glmm(Reaction ~ Days + (Days | Subject), data = ss, REML = reml)
    ref <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = ss, REML = reml)
    # ML theta: ours vs lmer 0.9292, 0.0182, 0.2226 (relative Cholesky factor)
    expect_equal(unname(lme4::getME(ours, "theta")), unname(lme4::getME(ref, "theta")),
                 tolerance = 1e-4, info = reml)
    expect_identical(names(lme4::getME(ours, "theta")), names(lme4::getME(ref, "theta")))
    expect_identical(lme4::getME(ours, "lower"), lme4::getME(ref, "lower"))
    expect_equal(as.matrix(lme4::getME(ours, "Z")), as.matrix(lme4::getME(ref, "Z")), ignore_attr = TRUE)
    expect_equal(as.matrix(lme4::getME(ours, "Lambdat")), as.matrix(lme4::getME(ref, "Lambdat")),
                 tolerance = 1e-4, ignore_attr = TRUE)
    expect_equal(lme4::getME(ours, "ST"), lme4::getME(ref, "ST"), tolerance = 1e-4, ignore_attr = TRUE)
    expect_equal(lme4::getME(ours, "sigma"), lme4::getME(ref, "sigma"), tolerance = 1e-5)
    expect_equal(unname(lme4::getME(ours, "u")), unname(lme4::getME(ref, "u")), tolerance = 1e-3)
    expect_identical(lme4::getME(ours, "is_REML"), reml)
    expect_true(lme4::isLMM(ours))
    dc <- lme4::getME(ours, "devcomp")$cmp
    expect_equal(dc[[if (reml) "REML" else "dev"]], lme4::getME(ref, "devcomp")$cmp[[if (reml) "REML" else "dev"]],
                 tolerance = 1e-7)
  }
  ours <- glmm(Reaction ~ Days + (Days || Subject), data = ss)
  ref <- lme4::lmer(Reaction ~ Days + (Days || Subject), data = ss, REML = FALSE)
  expect_equal(unname(lme4::getME(ours, "theta")), unname(lme4::getME(ref, "theta")), tolerance = 1e-4)
  expect_equal(as.matrix(lme4::getME(ours, "Z")), as.matrix(lme4::getME(ref, "Z")), ignore_attr = TRUE)
  expect_equal(unname(lme4::getME(ours, "cnms")), unname(lme4::getME(ref, "cnms")))
  expect_identical(lme4::ngrps(ours), lme4::ngrps(ref))
})

test_that("getME() on crossed terms matches lmer (Penicillin, terms in lme4's order)", {
  skip_if_not_installed("lme4")
  pen <- lme4::Penicillin
  # lme4 orders terms by decreasing number of levels: plate (24), sample (6)
  ours <- glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = pen, REML = TRUE)
  ref <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = pen)
  expect_equal(unname(lme4::getME(ours, "theta")), unname(lme4::getME(ref, "theta")), tolerance = 1e-4)
  expect_equal(as.matrix(lme4::getME(ours, "Z")), as.matrix(lme4::getME(ref, "Z")), ignore_attr = TRUE)
  expect_identical(lme4::ngrps(ours), lme4::ngrps(ref))
  expect_equal(lapply(lme4::getME(ours, "flist"), as.character),
               lapply(lme4::getME(ref, "flist"), as.character))
})

test_that("isSingular() agrees with lme4 on a singular and a regular fit", {
  skip_if_not_installed("lme4")
  set.seed(5)
  d <- data.frame(g = factor(rep(1:15, each = 4)), x = rnorm(60))
  d$y <- 1 + 0.5 * d$x + rnorm(60)      # no cluster effect: the variance is at zero
  ours <- suppressWarnings(glmm(y ~ x + (1 | g), data = d))
  ref <- suppressMessages(lme4::lmer(y ~ x + (1 | g), data = d, REML = FALSE))
  expect_true(lme4::isSingular(ref))
  expect_true(lme4::isSingular(ours))
  expect_false(lme4::isSingular(l4_cbpp()$ours))
  expect_false(lme4::isSingular(l4_cbpp()$lme4))
})

test_that("refit() with a simulated response equals glmm() on the new data", {
  skip_if_not_installed("lme4")
  m <- l4_cbpp()
  ysim <- simulate(m$ours, seed = 3)[[1L]]
  r <- lme4::refit(m$ours, ysim)
  d <- m$data
  d$inc2 <- ysim[, 1L]
  d$non2 <- ysim[, 2L]
  direct <- glmm(cbind(inc2, non2) ~ period + (1 | herd), data = d, family = binomial, nAGQ = 1)
  expect_equal(fixef(r), fixef(direct), tolerance = 1e-8)
  expect_equal(as.numeric(logLik(r)), as.numeric(logLik(direct)), tolerance = 1e-10)
  expect_error(lme4::refit(m$ours, ysim[1:10, ]), "'newresp' has 10 values; the fit used 56 rows")
  # a gaussian response
  ss <- lme4::sleepstudy
  f <- glmm(Reaction ~ Days + (1 | Subject), data = ss)
  y2 <- simulate(f, seed = 9)[[1L]]
  ss$y2 <- y2
  expect_equal(fixef(lme4::refit(f, y2)), fixef(glmm(y2 ~ Days + (1 | Subject), data = ss)), tolerance = 1e-8)
})

test_that("refit() takes simulate()'s one-column data frame, as lme4's does", {
  # it stopped with "invalid type (list) for variable '.glmmgee_boot_y'"
  skip_if_not_installed("lme4")
  m <- l4_cbpp()
  sims <- simulate(m$ours, nsim = 2, seed = 3)
  expect_equal(fixef(lme4::refit(m$ours, sims[1])), fixef(lme4::refit(m$ours, sims[[1L]])),
               tolerance = 1e-12)
  expect_error(lme4::refit(m$ours, sims),
               "refit\\(\\): 'newresp' is a data frame of 2 columns; it takes one response")
})

test_that("simulate(na.action = na.exclude) pads the rows the fit dropped, as lme4's (bootMer() passes it)", {
  skip_if_not_installed("lme4")
  d <- l4_cbpp()$data
  d$period[c(3, 10)] <- NA
  f <- glmm(incidence ~ period + (1 | herd), data = d, family = poisson, nAGQ = 1)
  g <- lme4::glmer(incidence ~ period + (1 | herd), data = d, family = poisson)
  ours <- simulate(f, seed = 1, na.action = na.exclude)
  theirs <- simulate(g, seed = 1, na.action = na.exclude)
  expect_identical(dim(ours), dim(theirs))
  expect_identical(rownames(ours), rownames(theirs))
  expect_identical(which(is.na(ours$sim_1)), c(3L, 10L))
  # a two-column binomial response keeps its columns (lme4's warns here)
  fb <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d,
             family = binomial, nAGQ = 1)
  sb <- simulate(fb, seed = 1, na.action = na.exclude)
  expect_identical(dim(sb$sim_1), c(56L, 2L))
  expect_identical(which(is.na(sb$sim_1[, 1L])), c(3L, 10L))
  expect_equal(fixef(lme4::refit(fb, sb)), fixef(lme4::refit(fb, simulate(fb, seed = 1))),
               tolerance = 1e-12)
  # na.omit, na.pass and no na.action: the fitted rows
  expect_identical(nrow(simulate(f, na.action = na.omit)), 54L)
  expect_identical(nrow(simulate(f)), 54L)
  # refit() takes the padded response back
  expect_equal(fixef(lme4::refit(f, ours)), fixef(lme4::refit(f, simulate(f, seed = 1))),
               tolerance = 1e-12)
})

test_that("bootMer() runs on glmm() fits: t0 is fixef(fit), the replicates are finite", {
  skip_if_not_installed("lme4")
  m <- l4_cbpp()
  bt <- suppressWarnings(lme4::bootMer(m$ours, fixef, nsim = 8, seed = 101))
  expect_s3_class(bt, "boot")
  expect_identical(bt$t0, fixef(m$ours))
  expect_identical(dim(bt$t), c(8L, 4L))
  expect_true(all(is.finite(bt$t)))
  # the replicates vary around the estimates, as glmer's do (same design)
  rb <- suppressWarnings(lme4::bootMer(m$lme4, lme4::fixef, nsim = 8, seed = 101))
  expect_lt(max(abs(colMeans(bt$t) - bt$t0)), 4 * max(apply(rb$t, 2, sd)))
  # use.u = TRUE conditions on the fitted random effects
  bu <- suppressWarnings(lme4::bootMer(m$ours, fixef, nsim = 3, seed = 1, use.u = TRUE))
  expect_true(all(is.finite(bu$t)))
})

test_that("getME(), ngrps(), isSingular() on every kind of GLMM fit, or a clear refusal", {
  skip_if_not_installed("lme4")
  set.seed(47)
  M <- 20; ni <- 6
  g <- factor(rep(seq_len(M), each = ni))
  h <- factor(sample(letters[1:4], M * ni, TRUE))
  sub <- factor(rep(rep(1:2, each = ni / 2), M))
  x <- rnorm(M * ni)
  b <- rnorm(M, 0, 0.8)
  tm <- factor(rep(seq_len(3), length.out = M * ni))
  d <- data.frame(g = g, h = h, sub = sub, x = x, tm = tm,
                  y = rbinom(M * ni, 1, plogis(0.5 * x + b[g])),
                  cnt = rpois(M * ni, exp(0.3 + 0.4 * x + b[g] / 2)) * rbinom(M * ni, 1, 0.8),
                  yg = 1 + 0.5 * x + b[g] + rnorm(M * ni, 0, 0.7))
  d$ord <- cut(0.5 * x + b[g] + rlogis(M * ni), c(-Inf, -0.5, 0.5, Inf), ordered_result = TRUE)
  K <- exp(-abs(outer(seq_len(M), seq_len(M), "-")) / 3)
  dimnames(K) <- list(levels(g), levels(g))
  q <- function(e) suppressWarnings(suppressMessages(e))
  fits <- list(
    sparse = q(glmm(cnt ~ x + (1 | g) + (1 | h), data = d, family = poisson)),
    nested = q(glmm(y ~ x + (1 | g/sub), data = d, family = binomial, nAGQ = 3)),
    ordinal = q(glmm(ord ~ x + (1 | g), data = d, family = cumulative())),
    ordinal_slopes = q(glmm(ord ~ x + (1 + x | g), data = d, family = cumulative())),
    ordinal_sparse = q(glmm(ord ~ x + (1 | g) + (1 | h), data = d, family = cumulative())),
    zi = q(glmm(cnt ~ x + (1 | g), data = d, family = poisson, ziformula = ~ 1)),
    reml = q(glmm(yg ~ x + (x | g), data = d, REML = TRUE)),
    structured = q(glmm(yg ~ x + ar1(tm + 0 | g), data = d)),
    known = q(glmm(yg ~ x + (1 | g), data = d, covariance = list(g = K))),
    dist = q(glmm(y ~ x + (1 | g), data = d, family = binomial, ranef_dist = "nonparametric")))
  for (k in names(fits)) {
    f <- fits[[k]]
    if (k %in% c("known", "dist")) {
      expect_error(lme4::getME(f, "theta"), if (k == "known") "known covariance" else "not normal",
                   info = k)
      expect_error(lme4::isSingular(f), "getME", info = k)
      next
    }
    Z <- lme4::getME(f, "Z")
    X <- lme4::getME(f, "X")
    bb <- lme4::getME(f, "b")
    expect_identical(ncol(Z), length(bb), info = k)
    expect_identical(nrow(Z), nrow(X), info = k)
    # X beta + Z b is the fit's conditional linear predictor
    if (!grepl("ordinal", k)) {
      eta <- as.vector(X %*% lme4::getME(f, "beta") + Z %*% bb)
      expect_equal(unname(eta), unname(f$linear.predictors - (if (is.null(f$offset)) 0 else f$offset)), tolerance = 1e-6,
                   info = k)
    }
    # Lambda u = b, Lambda Lambda' = the covariance of b (relative to sigma^2 for an LMM)
    expect_equal(as.vector(as.matrix(lme4::getME(f, "Lambda")) %*% lme4::getME(f, "u")), unname(bb),
                 tolerance = 1e-8, info = k)
    th <- lme4::getME(f, "theta")
    expect_identical(length(th), length(lme4::getME(f, "lower")), info = k)
    expect_type(lme4::isSingular(f), "logical")
    ng <- lme4::ngrps(f)
    expect_true(all(ng >= 2L), info = k)
  }
  expect_identical(lme4::getME(fits$reml, "is_REML"), TRUE)
  expect_identical(sort(unname(lme4::ngrps(fits$nested))), c(20, 40))
})
