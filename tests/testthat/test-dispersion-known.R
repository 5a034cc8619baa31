# A dispersion given rather than estimated: a dispersion formula of an
# offset alone (each row's log dispersion known), and dispformula = ~ 0,
# the gaussian model without residual variance (glmmTMB's meaning).

lizard_data <- function() {
  e <- new.env()
  utils::data("lizards", package = "ade4", envir = e)
  tree <- ape::read.tree(text = e$lizards$hprA)
  liz <- e$lizards$traits[tree$tip.label, ]
  liz$spp <- factor(rownames(liz), levels = rownames(liz))
  liz$dummy <- factor(0)
  list(d = liz, K = ape::vcv(tree, corr = TRUE))
}

# Clusters of a gaussian and a negative binomial response.
known_disp_data <- function(seed, M, m) {
  set.seed(seed)
  g <- rep(seq_len(M), each = m)
  d <- data.frame(g = g, x = rnorm(M * m))
  d$y <- 1 + d$x + rnorm(M)[g] + rnorm(M * m, 0, 0.5)
  d$yc <- stats::rnbinom(M * m, mu = exp(1 + 0.3 * d$x + rnorm(M, 0, 0.5)[g]), size = 2)
  d
}

test_that("dispformula = ~ 0 fits glmmTMB's phylogenetic GLS (its propto() test on ade4's lizards)", {
  skip_if_not_installed("ade4")
  skip_if_not_installed("ape")
  skip_if_not_installed("nlme")
  lz <- lizard_data()
  d <- lz$d
  K <- lz$K
  f <- glmm(matur.L ~ age.mat + propto(0 + spp | dummy, K), data = d, dispformula = ~ 0)
  # The model y ~ N(X beta, s^2 K) in closed form: beta by generalized least
  # squares, s^2 = RSS / n, and its maximized log-likelihood.
  X <- cbind(1, d$age.mat)
  Ki <- solve(K)
  beta <- drop(solve(crossprod(X, Ki %*% X), crossprod(X, Ki %*% d$matur.L)))
  r <- d$matur.L - drop(X %*% beta)
  n <- nrow(d)
  s2 <- drop(crossprod(r, Ki %*% r)) / n
  ll <- -n / 2 * log(2 * pi * s2) - as.numeric(determinant(K)$modulus) / 2 - n / 2
  # (the residual held at 1e-4 of sd(y), not at 0: with K's smallest
  # eigenvalue 6e-4 the model is the limit to about 2e-6)
  expect_equal(unname(f$coefficients), beta, tolerance = 5e-6)
  expect_equal(as.numeric(logLik(f)), ll, tolerance = 1e-6)
  expect_equal(attr(logLik(f), "df"), 3)
  # glmmTMB's expectations: gls's coefficients (5e-6) and the correlation
  # matrix given
  g <- nlme::gls(matur.L ~ age.mat, data = d,
                 correlation = nlme::corSymm(K[lower.tri(K)], fixed = TRUE))
  expect_equal(unname(f$coefficients), unname(coef(g)), tolerance = 5e-6)
  cc <- attr(VarCorr(f)[[1L]], "correlation")
  expect_equal(unname(cc), unname(K), tolerance = 1e-6)
  # gls() fits by REML, as glmm(REML = TRUE): its restricted
  # log-likelihood, sigma (the propto() scale's root) and standard errors
  fr <- glmm(matur.L ~ age.mat + propto(0 + spp | dummy, K), data = d, dispformula = ~ 0,
             REML = TRUE)
  expect_equal(as.numeric(logLik(fr)), as.numeric(logLik(g)), tolerance = 1e-6)
  expect_equal(sqrt(unname(fr$structures[[1L]]$extra[["scale"]])), g$sigma, tolerance = 1e-5)
  expect_equal(unname(fixef(fr)), unname(coef(g)), tolerance = 5e-6)
  expect_equal(unname(sqrt(diag(vcov(fr)))), unname(sqrt(diag(vcov(g)))), tolerance = 1e-5)
  # the residual's standard deviation held at 1e-4 of the response's, so
  # the fit does not depend on its units
  expect_equal(sigma(f), 1e-4 * stats::sd(d$matur.L))
  expect_equal(unname(predict(f, newdata = d[1:3, ], type = "disp")), rep(sigma(f), 3))
  d$mm <- d$matur.L * 1000
  f1 <- glmm(mm ~ age.mat + propto(0 + spp | dummy, K), data = d, dispformula = ~ 0)
  expect_equal(unname(f1$coefficients), 1000 * beta, tolerance = 5e-6)
  expect_equal(as.numeric(logLik(f1)), ll - n * log(1000), tolerance = 1e-6)
  expect_output(print(f), "Dispersion formula: ~ 0 \\(no residual variance")
  expect_output(print(summary(f)), "\\(none: dispformula = ~ 0\\)")
  # without ~ 0 the model has a residual variance, which takes all the
  # variation here (the propto() scale at its bound): not the GLS
  f2 <- suppressWarnings(glmm(matur.L ~ age.mat + propto(0 + spp | dummy, K), data = d))
  expect_gt(as.numeric(logLik(f2)), ll + 10)
})

test_that("a dispersion given by an offset alone is held at it (glmmTMB with the dispersion mapped)", {
  d <- known_disp_data(11, 30, 5)
  g <- d$g
  d$ls <- log(0.5)
  d$lt <- log(2)
  # gaussian: the marginal log-likelihood with V = s^2 J + 0.25 I in each
  # cluster, exactly, is the fit's and is at its maximum there
  f <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ 0 + offset(ls))
  exact <- function(par) {
    mu <- par[1] + par[2] * d$x
    sum(vapply(split(seq_len(nrow(d)), g), function(i) {
      V <- exp(2 * par[3]) + diag(0.25, length(i))
      r <- d$y[i] - mu[i]
      ch <- chol(V)
      -length(i) / 2 * log(2 * pi) - sum(log(diag(ch))) - sum(backsolve(ch, r, transpose = TRUE)^2) / 2
    }, 1))
  }
  at <- c(f$coefficients, log(sqrt(f$D[1, 1])))
  expect_equal(as.numeric(logLik(f)), exact(at), tolerance = 1e-10)
  expect_lt(max(abs(numDeriv::grad(exact, at))), 1e-4)
  expect_equal(attr(logLik(f), "df"), 3)
  expect_equal(sigma(f), 0.5)
  expect_output(print(f), "Dispersion formula: ~0 \\+ offset\\(ls\\)")
  # nbinom2 with theta = 2: glmmTMB with its dispersion parameter mapped
  fn <- glmm(yc ~ x + (1 | g), data = d, dispformula = ~ 0 + offset(lt), family = nbinom2(), nAGQ = 1)
  expect_equal(sigma(fn), 2)
  skip_if_not_installed("glmmTMB")
  # (glmmTMB names the dispersion coefficients betad before 1.1.8,
  # betadisp since)
  tmb <- function(name) glmmTMB::glmmTMB(yc ~ x + (1 | g), data = d, family = glmmTMB::nbinom2,
                                         map = stats::setNames(list(factor(NA)), name),
                                         start = stats::setNames(list(log(2)), name))
  r <- tryCatch(tmb("betadisp"), error = function(e) tmb("betad"))
  expect_equal(sigma(r), 2)
  expect_equal(as.numeric(logLik(fn)), as.numeric(logLik(r)), tolerance = 1e-6)
  expect_equal(unname(fn$coefficients), unname(glmmTMB::fixef(r)$cond), tolerance = 1e-5)
})

test_that("sigma() of a dispersion formula is one value only where every row has it", {
  d <- known_disp_data(12, 20, 5)
  d$o1 <- log(0.5)
  d$o2 <- log(0.3 + 0.2 * (d$x > 0))
  f0 <- glmm(y ~ x + (1 | g), data = d)
  # an intercept beside a constant offset is one dispersion (had given 1)
  f1 <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ 1 + offset(o1))
  expect_equal(sigma(f1), sigma(f0), tolerance = 1e-5)
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f0)), tolerance = 1e-8)
  f2 <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ 1 + offset(o2))
  expect_error(sigma(f2), "the dispersion varies by observation")
})

test_that("dispformula = ~ 0 is for gaussian models; other families take an offset", {
  d <- data.frame(g = rep(1:10, each = 4), x = rnorm(40), yc = rpois(40, 3))
  expect_error(glmm(yc ~ x + (1 | g), data = d, family = nbinom2(), dispformula = ~ 0),
               "'dispformula = ~ 0' removes the residual variance of a gaussian model; the nbinom2 family's dispersion can be given by an offset alone")
})

test_that("dispformula = ~ 0 needs a random-effect term that takes the residual's place", {
  # Without one the fit went ahead to a log-likelihood of about -5e9.
  d <- known_disp_data(1, 30, 4)
  msg <- "'dispformula': ~ 0 holds the residual standard deviation at zero, but the random effects do not span"
  expect_error(glmm(y ~ x + (1 | g), data = d, dispformula = ~ 0), msg, fixed = TRUE)
  # One observation per level: that term is the residual (the linear model).
  d$obs <- factor(seq_len(nrow(d)))
  f <- glmm(y ~ x + (1 | obs), data = d, dispformula = ~ 0)
  l <- lm(y ~ x, d)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(l)), tolerance = 1e-7)
  expect_equal(fixef(f), coef(l), tolerance = 1e-6)
  # A known covariance over units that repeat in several rows spans fewer
  # rows than there are: refused (it ran to a log-likelihood of -1.2e7).
  du <- d[c(seq_len(20), 1:3), ]
  du$unit <- factor(rep_len(seq_len(20), 23))
  du$one <- factor(1)
  V <- diag(0.1, 20)
  dimnames(V) <- list(levels(du$unit), levels(du$unit))
  expect_error(glmm(y ~ x + equalto(0 + unit | one, V), data = du, dispformula = ~ 0), msg,
               fixed = TRUE)
  # So does a known covariance of lower rank over the rows (rank 5 over 30
  # rows ran to -1e8 without a warning), and a reduced-rank rr() term with
  # one observation per level and column (-1.1e9), on one grouping factor
  # or beside another; with a term of one observation per level the fit
  # goes ahead.
  set.seed(3)
  d$one <- factor(1)
  A <- matrix(rnorm(nrow(d) * 5), nrow(d))
  V5 <- tcrossprod(A) / 5
  dimnames(V5) <- list(levels(d$obs), levels(d$obs))
  expect_error(glmm(y ~ x + equalto(0 + obs | one, V5), data = d, dispformula = ~ 0), msg,
               fixed = TRUE)
  e <- data.frame(id = factor(rep(1:40, each = 3)), t = factor(rep(1:3, 40)),
                  h = factor(rep(1:5, length.out = 120)))
  e$y <- rnorm(40)[e$id] * c(1, 0.5, -0.3)[e$t] + rnorm(120, 0, 0.5)
  expect_error(glmm(y ~ t + rr(0 + t | id, d = 1), data = e, dispformula = ~ 0), msg,
               fixed = TRUE)
  expect_error(glmm(y ~ t + rr(0 + t | id, d = 2) + (1 | h), data = e, dispformula = ~ 0), msg,
               fixed = TRUE)
  # rr(d) of full rank is us(): not refused (an early stand-in for its
  # loadings had rank 2 whatever d)
  expect_equal(as.numeric(logLik(glmm(y ~ t + rr(0 + t | id, d = 3), data = e, dispformula = ~ 0))),
               as.numeric(logLik(glmm(y ~ t + us(0 + t | id), data = e, dispformula = ~ 0))),
               tolerance = 1e-7)
  e$obs <- factor(seq_len(nrow(e)))
  fr <- glmm(y ~ t + rr(0 + t | id, d = 1) + (1 | obs), data = e, dispformula = ~ 0)
  f0 <- glmm(y ~ t + rr(0 + t | id, d = 1), data = e)
  expect_equal(as.numeric(logLik(fr)), as.numeric(logLik(f0)), tolerance = 1e-7)
  expect_equal(fixef(fr), fixef(f0), tolerance = 1e-5)
  expect_equal(sqrt(VarCorr(fr)$obs[1]), sigma(f0), tolerance = 1e-5)
  skip_if_not_installed("nlme")
  # (0 + z | obs): a residual standard deviation proportional to z, gls's
  # varFixed(~ z^2).
  d$z <- exp(stats::runif(nrow(d), -1, 1))
  fz <- glmm(y ~ x + (0 + z | obs), data = d, dispformula = ~ 0)
  gz <- nlme::gls(y ~ x, data = d, weights = nlme::varFixed(~ I(z^2)), method = "ML")
  expect_equal(as.numeric(logLik(fz)), as.numeric(logLik(gz)), tolerance = 1e-7)
  # One observation per subject and age: gls with an unstructured covariance.
  O <- as.data.frame(nlme::Orthodont)
  O$t <- factor(O$age)
  O$Subject <- factor(as.character(O$Subject))
  f <- glmm(distance ~ age + Sex + us(0 + t | Subject), data = O, dispformula = ~ 0)
  g <- nlme::gls(distance ~ age + Sex, data = O, method = "ML",
                 correlation = nlme::corSymm(form = ~ 1 | Subject),
                 weights = nlme::varIdent(form = ~ 1 | t))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(g)), tolerance = 1e-7)
  expect_equal(unname(fixef(f)), unname(coef(g)), tolerance = 1e-5)
})

test_that("known sampling variances by equalto() or by the dispersion's offset are one model (glmmTMB's equalto test)", {
  # glmmTMB's test-equalto.R: a multilevel meta-analysis whose sampling
  # variances vi are known, given as equalto(0 + id | g, diag(vi)) beside a
  # residual, or as the residual variance itself (there by mapping the
  # dispersion, here by its offset) beside an effect per estimate. glmmTMB
  # compares the REML fits; glmm() fits neither with REML, so ML here.
  k.studies <- 10
  study <- rep(seq_len(k.studies), times = 5)
  k <- length(study)
  set.seed(123)
  vi <- rbeta(k, 2, 20)
  set.seed(123)
  u <- rnorm(k.studies, 0, sqrt(0.2))[study]
  set.seed(123)
  m <- rnorm(k, 0, sqrt(0.3))
  set.seed(123)
  e <- rnorm(k, 0, sqrt(vi))[study]
  dat <- data.frame(y = 0.2 + u + m + e, vi = vi, study = study, id = factor(seq_len(k)), g = 1)
  V <- diag(dat$vi)
  dimnames(V) <- list(levels(dat$id), levels(dat$id))
  f1 <- glmm(y ~ 1 + (1 | study) + equalto(0 + id | g, V), data = dat)
  dat$log_se <- log(sqrt(dat$vi))
  f2 <- glmm(y ~ 1 + (1 | study) + (1 | id), data = dat, dispformula = ~ 0 + offset(log_se))
  expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(f2)), tolerance = 1e-6)
  expect_equal(unname(fixef(f1)), unname(fixef(f2)), tolerance = 1e-5)
  vc1 <- VarCorr(f1)
  vc2 <- VarCorr(f2)
  expect_equal(c(vc1$study), c(vc2$study), tolerance = 1e-4)
  expect_equal(sigma(f1)^2, c(vc2$id), tolerance = 1e-4)
})
