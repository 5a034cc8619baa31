# The one-factor engine with auxiliary predictors (zero-inflation, hurdle,
# dispersion formula): exact gradient against numerical differentiation,
# the likelihood against pscl without random effects, recovery of known
# truth, invariance to the covariates' units, and refusals.

zi_sim <- function(M = 60, ni = 6, seed = 1) {
  set.seed(seed)
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  w <- rbinom(M * ni, 1, 0.5)
  b0 <- rnorm(M, 0, 0.6)[g]
  b1 <- rnorm(M, 0, 0.3)[g]
  mu <- exp(0.5 + 0.4 * x + b0 + b1 * x)
  pz <- plogis(-0.8 + 1.0 * w)
  th <- exp(0.3 + 0.5 * w)
  data.frame(g = g, x = x, w = w,
             yp = ifelse(runif(M * ni) < pz, 0, rpois(M * ni, mu)),
             ynb = ifelse(runif(M * ni) < pz, 0, rnbinom(M * ni, size = th, mu = mu)),
             yg = 1 + 0.5 * x + b0 + rnorm(M * ni, sd = exp(-0.3 + 0.6 * w)),
             ygam = rgamma(M * ni, shape = exp(0.5 + 0.8 * w), rate = exp(0.5 + 0.8 * w) / mu))
}

# The engine on a random-slope model (q = 2, Lambda with three free entries).
zi_engine <- function(d, y, family, kind, XA, pred, aoff, nagq) {
  fam <- glmmgee:::resolve_family(family)
  n <- nrow(d)
  X <- cbind(1, d$x)
  Z <- cbind(1, d$x)
  eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(y), rep(1, n), rep(0, n), as.integer(d$g),
                               max(d$g), c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code,
                               fam$link_code, nagq, 1L)
  P <- glmmgee:::cpp_agq_set_aux(eng, kind, XA, pred, aoff)
  list(eng = eng, P = P)
}

test_that("the gradient of every two-part and dispersion model equals numerical differentiation (Laplace and AGHQ, two random effects)", {
  skip_if_not_installed("numDeriv")
  d <- zi_sim(M = 25, ni = 5)
  d$ypos <- pmax(d$yp, 1)
  Xw <- cbind(1, d$w)
  hurdle_data <- d$ynb
  cases <- list(
    list(y = d$yp, fam = poisson(), kind = 1L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ynb, fam = glmmgee::nbinom2(), kind = 1L, XA = cbind(Xw, Xw), pred = c(0L, 0L, 1L, 1L), na = 2L),
    list(y = d$yp, fam = poisson(), kind = 2L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = hurdle_data, fam = glmmgee::nbinom2(), kind = 2L, XA = cbind(Xw, Xw), pred = c(0L, 0L, 1L, 1L), na = 2L),
    list(y = d$ypos, fam = poisson(), kind = 2L, XA = matrix(0, nrow(d), 0), pred = integer(), na = 1L,
         off = -Inf),
    list(y = d$yg, fam = gaussian(), kind = 0L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ygam, fam = Gamma(link = "log"), kind = 0L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ynb, fam = glmmgee::nbinom2(), kind = 0L, XA = Xw, pred = c(0L, 0L), na = 1L))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    aoff <- matrix(0, nrow(d), cs$na)
    if (!is.null(cs$off)) aoff[, 1] <- cs$off
    for (nagq in c(1L, 4L)) {
      e <- zi_engine(d, cs$y, cs$fam, cs$kind, cs$XA, cs$pred, aoff, nagq)
      set.seed(k)
      th <- c(0.3, 0.2, 0.5, 0.1, 0.25, rnorm(ncol(cs$XA), 0, 0.3))
      if (cs$kind == 0L && identical(cs$fam$family, "gaussian")) th[1] <- 1
      an <- glmmgee:::cpp_agq_eval(e$eng, th, TRUE)
      f <- function(t) glmmgee:::cpp_agq_eval(e$eng, t, FALSE)$loglik
      nu <- numDeriv::grad(f, th)
      expect_equal(e$P, length(th))
      expect_true(is.finite(an$loglik))
      expect_equal(an$gradient, nu, tolerance = 1e-5,
                   label = sprintf("case %d (kind %d, %s), nAGQ %d", k, cs$kind, cs$fam$family, nagq))
    }
  }
})

test_that("the sparse engine's gradient with auxiliary predictors equals numerical differentiation (crossed terms)", {
  skip_if_not_installed("numDeriv")
  set.seed(2)
  n <- 300
  a <- sample(1:12, n, TRUE)
  b <- sample(1:8, n, TRUE)
  x <- rnorm(n)
  w <- rbinom(n, 1, 0.5)
  mu <- exp(0.3 + 0.5 * x + rnorm(12, 0, 0.5)[a] + rnorm(8, 0, 0.4)[b])
  y <- ifelse(runif(n) < plogis(-1 + w), 0, rnbinom(n, size = 2, mu = mu))
  X <- cbind(1, x)
  Z <- Matrix::sparseMatrix(i = c(1:n, 1:n), j = c(a, 12 + b), x = 1, dims = c(n, 20))
  fam <- glmmgee:::resolve_family(glmmgee::nbinom2())
  Xw <- cbind(1, w)
  for (kind in 0:2) {
    eng <- glmmgee:::cpp_sparse_new(X, Z, as.numeric(y), rep(1, n), rep(0, n), 0:19, 0:19,
                                    c(rep(0L, 12), rep(1L, 8)), 2L, fam$family_code, fam$link_code)
    P <- if (kind == 0L) glmmgee:::cpp_sparse_set_aux(eng, 0L, Xw, c(0L, 0L), matrix(0, n, 1))
         else glmmgee:::cpp_sparse_set_aux(eng, kind, cbind(Xw, Xw), c(0L, 0L, 1L, 1L), matrix(0, n, 2))
    th <- c(0.2, 0.4, 0.5, 0.3, seq(-0.3, 0.3, length.out = P - 4L))
    an <- glmmgee:::cpp_sparse_eval(eng, th, TRUE)$gradient
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_sparse_eval(eng, t, FALSE)$loglik, th)
    expect_equal(an, nu, tolerance = 1e-5, label = sprintf("kind %d", kind))
  }
})

test_that("without a random effect the zero-inflated and hurdle likelihoods are pscl's at pscl's estimates", {
  skip_if_not_installed("pscl")
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  d <- Salamanders
  X <- model.matrix(~ spp + mined, d)
  Xz <- model.matrix(~ mined, d)
  n <- nrow(d)
  at_zero_re <- function(family, kind, par, Xa, pred, na) {
    fam <- glmmgee:::resolve_family(family)
    eng <- glmmgee:::cpp_agq_new(X, matrix(1, n, 1), as.numeric(d$count), rep(1, n), rep(0, n),
                                 as.integer(factor(d$site)), nlevels(factor(d$site)), 0L, 0L,
                                 fam$family_code, fam$link_code, 1L, 1L)
    glmmgee:::cpp_agq_set_aux(eng, kind, Xa, pred, matrix(0, n, na))
    glmmgee:::cpp_agq_eval(eng, par, TRUE)
  }
  zp <- pscl::zeroinfl(count ~ spp + mined | mined, data = d, dist = "poisson")
  r <- at_zero_re(poisson(), 1L, c(coef(zp, "count"), 0, coef(zp, "zero")), Xz, c(0L, 0L), 1L)
  expect_equal(r$loglik, as.numeric(logLik(zp)), tolerance = 1e-10)
  expect_lt(max(abs(r$gradient[-9])), 1e-3)
  zn <- pscl::zeroinfl(count ~ spp + mined | mined, data = d, dist = "negbin")
  r <- at_zero_re(glmmgee::nbinom2(), 1L, c(coef(zn, "count"), 0, coef(zn, "zero"), log(zn$theta)),
                  cbind(Xz, 1), c(0L, 0L, 1L), 2L)
  expect_equal(r$loglik, as.numeric(logLik(zn)), tolerance = 1e-10)
  # pscl's binomial hurdle models P(y > 0): the opposite sign of ours.
  hp <- pscl::hurdle(count ~ spp + mined | mined, data = d, dist = "poisson")
  r <- at_zero_re(poisson(), 2L, c(coef(hp, "count"), 0, -coef(hp, "zero")), Xz, c(0L, 0L), 1L)
  expect_equal(r$loglik, as.numeric(logLik(hp)), tolerance = 1e-10)
  hn <- pscl::hurdle(count ~ spp + mined | mined, data = d, dist = "negbin")
  r <- at_zero_re(glmmgee::nbinom2(), 2L, c(coef(hn, "count"), 0, -coef(hn, "zero"), log(hn$theta)),
                  cbind(Xz, 1), c(0L, 0L, 1L), 2L)
  expect_equal(r$loglik, as.numeric(logLik(hn)), tolerance = 1e-10)
})

test_that("a zero-inflated negative binomial with a dispersion formula recovers known truth", {
  d <- zi_sim(M = 150, ni = 8, seed = 3)
  d$x2 <- d$x * 10
  fit <- glmm(ynb ~ x + (1 | g), data = d, ziformula = ~ w, dispformula = ~ w,
              family = nbinom2, nAGQ = 1)
  truth <- c(0.5, 0.4, -0.8, 1.0, 0.3, 0.5)
  est <- c(fixef(fit), fit$aux$zi$coef, fit$aux$disp$coef)
  idx <- c(1:2, fit$aux$zi_index, fit$aux$disp_index)
  se <- sqrt(diag(fit$cov_theta))[idx]
  expect_true(all(abs(est - truth) < 4 * se))
  expect_lt(max(abs(fit$gradient)), 1e-3)
  # The optimum does not depend on the units of x.
  fit2 <- glmm(ynb ~ x2 + (1 | g), data = d, ziformula = ~ w, dispformula = ~ w,
               family = nbinom2, nAGQ = 1)
  expect_equal(fit2$loglik, fit$loglik, tolerance = 1e-7)
  expect_equal(unname(fixef(fit2)[2] * 10), unname(fixef(fit)[2]), tolerance = 1e-4)
  # Predictions fit together: response = (1 - zprob) * conditional.
  expect_equal(predict(fit, type = "response"),
               (1 - predict(fit, type = "zprob")) * predict(fit, type = "conditional"))
  expect_equal(unname(predict(fit, type = "disp")), unname(exp(fit$aux$disp$coef[1] + fit$aux$disp$coef[2] * d$w)))
  nd <- data.frame(x = 0, w = c(0, 1), g = NA)
  expect_equal(unname(predict(fit, nd, type = "zprob", re.form = NA)),
               plogis(fit$aux$zi$coef[1] + c(0, 1) * fit$aux$zi$coef[2]))
  # Simulation from the fitted model reproduces the share of zeros.
  sims <- simulate(fit, nsim = 20, seed = 2)
  expect_equal(dim(sims), c(nrow(d), 20L))
  expect_equal(mean(unlist(sims) == 0), mean(d$ynb == 0), tolerance = 0.1)
})

test_that("hurdle simulation gives no zeros from the count part, and zero-truncated models refuse zeros", {
  d <- zi_sim(M = 40, ni = 6, seed = 5)
  fit <- glmm(yp ~ x + (1 | g), data = d, ziformula = ~ 1, family = truncated_poisson, nAGQ = 1)
  expect_s3_class(fit, "glmmgee_glmm_zi")
  sims <- simulate(fit, nsim = 50, seed = 1)
  pz <- predict(fit, type = "zprob")[1]
  expect_equal(mean(unlist(sims) == 0), unname(pz), tolerance = 0.1)
  expect_true(all(unlist(sims) >= 0))
  # A given seed reproduces the draws and leaves the caller's stream alone.
  set.seed(9)
  before <- .Random.seed
  expect_identical(simulate(fit, nsim = 2, seed = 4), simulate(fit, nsim = 2, seed = 4))
  expect_identical(.Random.seed, before)
  expect_error(glmm(yp ~ x + (1 | g), data = d, family = truncated_poisson),
               "zero-truncated, but the response has zeros")
  # The other way round: a hurdle's zero part needs zeros; and a response of
  # zeros alone is named with the two-part model's family.
  dp <- d[d$yp > 0, ]
  expect_error(glmm(yp ~ x + (1 | g), data = dp, family = truncated_poisson, ziformula = ~ 1),
               "'ziformula': the response has no zeros.*zero-truncated truncated_poisson")
  d$y0 <- 0
  expect_error(glmm(y0 ~ x + (1 | g), data = d, family = truncated_nbinom2, ziformula = ~ 1),
               "is 0 for every observation: the truncated_nbinom2 model")
  expect_error(glmm(y0 ~ x + (1 | g), data = d, family = nbinom2, ziformula = ~ 1),
               "is 0 for every observation: the zero-inflated nbinom2 model")
})

test_that("unsupported combinations are refused with the argument named", {
  d <- zi_sim(M = 20, ni = 4, seed = 7)
  d$h <- rep(1:4, 20)
  # Random effects in the zero part and in the dispersion model are fitted
  # (test-zi-random.R, test-zi-random-sparse.R, test-dispersion-random.R),
  # in both at once too (test-zero-and-dispersion-random.R), but then by
  # adaptive quadrature only where every part's terms lie on one factor.
  expect_error(glmm(ynb ~ x + (1 | g), data = d, ziformula = ~ (1 | h),
                    dispformula = ~ x + (1 | g), family = nbinom2, nAGQ = 5),
               "'nAGQ' > 1 \\(adaptive quadrature\\) with random effects in both.*one grouping factor")
  expect_error(glmm(yp ~ x + (1 | g) + (1 | h), data = d, ziformula = ~ x, family = poisson,
                    nAGQ = 5), "only the Laplace approximation")
  expect_error(glmm(yg ~ x + (1 | g), data = d, ziformula = ~ x),
               "'ziformula': zero-inflation needs a count family")
  expect_error(glmm(yp ~ x + (1 | g), data = d, dispformula = ~ x, family = poisson),
               "'dispformula': the poisson family has no dispersion parameter")
  expect_error(glmm(yp ~ x + (1 | g), data = d, ziformula = y ~ x, family = poisson),
               "'ziformula' must be a one-sided formula")
  expect_error(glmm(yp ~ x + (1 | g), data = d, ziformula = ~ offset(as.character(x)),
                    family = poisson), "'ziformula': offset\\(as.character\\(x\\)\\) must be a numeric vector")
})
