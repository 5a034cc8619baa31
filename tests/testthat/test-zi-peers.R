# Zero-inflated, hurdle and dispersion-formula GLMMs against glmmTMB
# (Laplace) and GLMMadaptive (adaptive quadrature), live, on the data of
# their own vignettes and tests.

# Every part's coefficients, the random-effect SD, standard errors and the
# log-likelihood (ours higher, or equal to the optimizer's tolerance).
# gaussian: glmmTMB's dispersion coefficients are of log sigma only from its
# 1.1.9 on (tmb_gaussian_log_sigma()).
expect_zi_as_glmmtmb <- function(ours, tmb, tol = 1e-4, gaussian = FALSE) {
  fx <- glmmTMB::fixef(tmb)
  expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = tol)
  if (!is.null(ours$aux$zi)) expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = tol)
  if (!is.null(ours$aux$disp))
    expect_equal(unname(ours$aux$disp$coef),
                 if (gaussian) tmb_gaussian_log_sigma(unname(fx$disp)) else unname(fx$disp),
                 tolerance = tol)
  sd_tmb <- attr(glmmTMB::VarCorr(tmb)$cond[[1]], "stddev")
  expect_equal(unname(sqrt(diag(ours$D))), unname(sd_tmb), tolerance = 10 * tol)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(tmb)$cond))), tolerance = 2e-3)
  d <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
  expect_gt(d, -1e-4)
  expect_lt(abs(d), 1e-3)
  expect_identical(attr(logLik(ours), "df"), attr(logLik(tmb), "df"))
}

test_that("zero-inflated poisson and hurdle models on Salamanders match glmmTMB (Laplace)", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  f <- count ~ spp * mined + (1 | site)
  zip <- glmm(f, data = d, ziformula = ~ spp * mined, family = poisson, nAGQ = 1)
  expect_zi_as_glmmtmb(zip, glmmTMB::glmmTMB(f, data = d, ziformula = ~ spp * mined,
                                             family = poisson))
  hp <- glmm(f, data = d, ziformula = ~ spp * mined, family = truncated_poisson, nAGQ = 1)
  tmb_hp <- glmmTMB::glmmTMB(f, data = d, ziformula = ~ spp * mined,
                             family = glmmTMB::truncated_poisson)
  expect_zi_as_glmmtmb(hp, tmb_hp)
  # Predictions on every scale agree with glmmTMB's.
  for (ty in c("response", "conditional", "zprob", "link"))
    expect_equal(unname(predict(hp, type = ty)), unname(predict(tmb_hp, type = ty)),
                 tolerance = 1e-4, label = ty)
  # Without the random effect: the hurdle mean from the fixed effects alone.
  nd <- d[1:5, c("spp", "mined", "site")]
  mu <- exp(drop(model.matrix(~ spp * mined, nd) %*% fixef(hp)))
  pz <- plogis(drop(model.matrix(~ spp * mined, nd) %*% hp$aux$zi$coef))
  expect_equal(unname(predict(hp, nd, type = "response", re.form = NA)),
               unname((1 - pz) * mu / (1 - exp(-mu))))
  # glmmTMB's hurdle nbinom2 with the full zero model (its vignette's model).
  hnb <- glmm(f, data = d, ziformula = ~ spp * mined, family = truncated_nbinom2, nAGQ = 1)
  expect_zi_as_glmmtmb(hnb, glmmTMB::glmmTMB(f, data = d, ziformula = ~ spp * mined,
                                             family = glmmTMB::truncated_nbinom2))
  out <- capture.output(print(summary(hnb)))
  expect_true(any(grepl("^Conditional model .*given the random effect", out)))
  expect_true(any(grepl("^Zero \\(hurdle\\) model.*no random effect", out)))
  expect_true(any(grepl("^Dispersion model \\(log theta", out)))
})

test_that("zero-inflated nbinom2 on Salamanders and Owls with a dispersion formula match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  zinb <- glmm(count ~ spp + mined + (1 | site), data = d, ziformula = ~ spp + mined,
               family = nbinom2, nAGQ = 1)
  expect_zi_as_glmmtmb(zinb, glmmTMB::glmmTMB(count ~ spp + mined + (1 | site), data = d,
                                              ziformula = ~ spp + mined,
                                              family = glmmTMB::nbinom2))
  e <- new.env()
  utils::data("Owls", package = "glmmTMB", envir = e)
  fo <- SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(log(BroodSize)) + (1 | Nest)
  ours <- glmm(fo, data = e$Owls, ziformula = ~ 1, dispformula = ~ FoodTreatment,
               family = nbinom2, nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(fo, data = e$Owls, ziformula = ~ 1, dispformula = ~ FoodTreatment,
                          family = glmmTMB::nbinom2)
  expect_zi_as_glmmtmb(ours, tmb)
  expect_equal(unname(predict(ours, type = "disp")), unname(predict(tmb, type = "disp")),
               tolerance = 1e-4)
  expect_equal(unname(predict(ours, type = "response")), unname(predict(tmb, type = "response")),
               tolerance = 1e-4)
})

test_that("a gaussian dispersion formula matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  set.seed(11)
  d <- data.frame(g = rep(1:40, each = 8), x = rnorm(320), w = rbinom(320, 1, 0.5))
  d$y <- 1 + 0.5 * d$x + rnorm(40, sd = 0.7)[d$g] + rnorm(320, sd = exp(-0.4 + 0.6 * d$w))
  ours <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ w)
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, dispformula = ~ w)
  expect_zi_as_glmmtmb(ours, tmb, gaussian = TRUE)
  expect_equal(unname(predict(ours, type = "disp")), unname(predict(tmb, type = "disp")),
               tolerance = 1e-4)
})

test_that("zero-inflated and hurdle models by adaptive quadrature match GLMMadaptive (ours at least as high)", {
  skip_if_not_installed("GLMMadaptive")
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fams <- list(list(GLMMadaptive::zi.poisson(), poisson),
               list(GLMMadaptive::zi.negative.binomial(), nbinom2),
               list(GLMMadaptive::hurdle.poisson(), truncated_poisson),
               list(GLMMadaptive::hurdle.negative.binomial(), truncated_nbinom2))
  for (fm in fams) {
    ga <- GLMMadaptive::mixed_model(count ~ spp + mined, random = ~ 1 | site, data = d,
                                    family = fm[[1]], zi_fixed = ~ mined, nAGQ = 11)
    ours <- glmm(count ~ spp + mined + (1 | site), data = d, ziformula = ~ mined,
                 family = fm[[2]], nAGQ = 11)
    lab <- fm[[1]]$family
    # GLMMadaptive stops at a looser tolerance: ours is never lower, and
    # close; the estimates agree to GLMMadaptive's accuracy.
    d_ll <- as.numeric(logLik(ours)) - as.numeric(logLik(ga))
    expect_gt(d_ll, -1e-5, label = lab)
    expect_lt(d_ll, 0.2, label = lab)
    expect_equal(unname(fixef(ours)), unname(GLMMadaptive::fixef(ga)), tolerance = 0.05, label = lab)
    expect_equal(unname(ours$aux$zi$coef), unname(GLMMadaptive::fixef(ga, "zero_part")),
                 tolerance = 0.05, label = lab)
    expect_lt(max(abs(ours$gradient)), 1e-3)
    expect_identical(ours$optinfo$method, "AGHQ")
  }
})

test_that("with two random-effect terms (sparse Laplace engine) zero-inflated, hurdle and dispersion-formula fits match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  f <- count ~ spp + mined + (1 | site) + (1 | sample)
  sds <- function(o) unname(unlist(lapply(o$reterms, function(t) sqrt(diag(t$D)))))
  tmb_sds <- function(m) unname(unlist(lapply(glmmTMB::VarCorr(m)$cond, attr, "stddev")))
  for (fm in list(list(poisson, poisson()),
                  list(truncated_nbinom2, glmmTMB::truncated_nbinom2()))) {
    ours <- glmm(f, data = d, ziformula = ~ mined, family = fm[[1]])
    tmb <- glmmTMB::glmmTMB(f, data = d, ziformula = ~ mined, family = fm[[2]])
    expect_s3_class(ours, "glmmgee_glmm_sparse")
    expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
    expect_equal(unname(ours$aux$zi$coef), unname(glmmTMB::fixef(tmb)$zi), tolerance = 1e-4)
    expect_equal(sds(ours), tmb_sds(tmb), tolerance = 1e-3)
    d_ll <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
    expect_gt(d_ll, -1e-4)
    expect_lt(abs(d_ll), 1e-3)
    expect_equal(unname(predict(ours, type = "response")), unname(predict(tmb, type = "response")),
                 tolerance = 1e-4)
  }
  set.seed(21)
  g <- data.frame(a = rep(1:20, each = 15), b = rep(1:15, 20), x = rnorm(300), w = rbinom(300, 1, 0.5))
  g$y <- 1 + g$x + rnorm(20)[g$a] + rnorm(15, sd = 0.5)[g$b] + rnorm(300, sd = exp(-0.3 + 0.5 * g$w))
  ours <- glmm(y ~ x + (1 | a) + (1 | b), data = g, dispformula = ~ w)
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | a) + (1 | b), data = g, dispformula = ~ w)
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(unname(ours$aux$disp$coef), tmb_gaussian_log_sigma(unname(glmmTMB::fixef(tmb)$disp)),
               tolerance = 1e-4)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(tmb)), -1e-4)
})

test_that("a Gamma dispersion formula matches glmmTMB (the same log-shape coefficients)", {
  skip_if_not_installed("glmmTMB")
  set.seed(5)
  g <- rep(1:40, each = 8)
  x <- rnorm(320)
  w <- rbinom(320, 1, 0.5)
  mu <- exp(0.5 + 0.4 * x + rnorm(40, sd = 0.5)[g])
  sh <- exp(0.5 + 0.8 * w)
  d <- data.frame(g = g, x = x, w = w, y = rgamma(320, shape = sh, rate = sh / mu))
  ours <- glmm(y ~ x + (1 | g), data = d, family = Gamma(link = "log"), dispformula = ~ w,
               nAGQ = 1)
  tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = Gamma(link = "log"),
                          dispformula = ~ w)
  expect_zi_as_glmmtmb(ours, tmb)
  # glmmTMB's type = "disp" for Gamma is its sigma, 1 / sqrt(shape).
  expect_equal(unname(1 / sqrt(predict(ours, type = "disp"))), unname(predict(tmb, type = "disp")),
               tolerance = 1e-4)
})


test_that("two-part fits against glmmTMB: offsets and weights, NA in zero-part variables, contrasts, predict types, df", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB")
  O <- Owls
  set.seed(3)
  O$w <- sample(1:3, nrow(O), TRUE)
  O$zv <- stats::runif(nrow(O))
  O$zv[c(5, 40, 100, 200)] <- NA
  # Hurdle NB2 with an offset in the count part and weights.
  f <- glmm(SiblingNegotiation ~ FoodTreatment + offset(log(BroodSize)) + (1 | Nest), ziformula = ~ SexParent,
            data = O, family = truncated_nbinom2(), weights = w, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + offset(log(BroodSize)) + (1 | Nest), ziformula = ~ SexParent,
           data = O, family = glmmTMB::truncated_nbinom2(), weights = w))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  expect_identical(attr(logLik(f), "df"), as.integer(attr(logLik(r), "df")))
  for (ty in c("link", "response", "zprob", "conditional"))
    expect_equal(unname(predict(f, type = ty)), unname(predict(r, type = ty)), tolerance = 2e-4, info = ty)
  # NA only in a variable of ziformula (rows dropped in both parts), on both routes.
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ zv, data = O, family = poisson, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ zv, data = O, family = poisson))
  expect_equal(nobs(f), 595L)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ zv, data = O, family = nbinom2(), nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ zv, data = O, family = glmmTMB::nbinom2()))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
  # Sum contrasts in the zero part: the optimum of treatment coding.
  data(Salamanders, package = "glmmTMB")
  a <- glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson, nAGQ = 1,
            contrasts = list(spp = "contr.sum"))
  b <- glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson, nAGQ = 1)
  r <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders, family = poisson,
           contrasts = list(spp = "contr.sum")))
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-9)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(r)), tolerance = 1e-7)
  expect_equal(unname(predict(a, type = "zprob")), unname(predict(b, type = "zprob")), tolerance = 1e-6)
  # homdiag() against glmmTMB's diag() with one variance (map).
  data(sleepstudy, package = "lme4")
  s <- sleepstudy
  s$Dc <- s$Days - 4.5
  f <- glmm(Reaction ~ Days + homdiag(1 + Dc | Subject), data = s, REML = FALSE)
  r <- suppressWarnings(glmmTMB::glmmTMB(Reaction ~ Days + diag(1 + Dc | Subject), data = s, map = list(theta = factor(c(1, 1))),
           start = list(theta = c(3, 3))))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(r)), tolerance = 1e-7)
})

test_that("nbinom1 with a dispersion formula (glmmTMB's test-disp.R model) reaches glmmTMB's optimum", {
  skip_if_not_installed("glmmTMB")
  # glmmTMB's tests/testthat/test-disp.R data: two groups of counts around
  # 100 (sd 10) and 200 (sd 5); the second is underdispersed, its nbinom1
  # phi at the Poisson limit 0, the first's inside.
  sim <- function(mu, residsd, nfac = 24, nt = 100) {
    dat <- expand.grid(fac = factor(1:nfac, levels = 1:nfac), t = 1:nt)
    n <- nrow(dat)
    re_fac <- rnorm(nfac, sd = 0.1)[dat$fac]
    re_t <- rnorm(nt, sd = 0.15)[dat$t]
    dat$x <- rnorm(n, mean = mu, sd = residsd) + re_fac + re_t
    dat
  }
  set.seed(101)
  d1 <- sim(100, 10)
  d2 <- sim(200, 5)
  d1$fac <- paste0(d1$fac, "_D10"); d1$disp <- "ten"
  d2$fac <- paste0(d2$fac, "_D5"); d2$disp <- "five"
  dat <- rbind(head(d1, 50), head(d2, 50))
  dat$disp <- factor(dat$disp, levels = c("ten", "five"))
  dat$y <- round(dat$x)
  ours <- suppressWarnings(glmm(y ~ disp + (1 | fac), dispformula = ~ disp, data = dat,
                                family = nbinom1(), nAGQ = 1))
  tmb <- suppressWarnings(glmmTMB::glmmTMB(y ~ disp + (1 | fac), ziformula = ~ 0,
                                           dispformula = ~ disp, data = dat,
                                           family = glmmTMB::nbinom1()))
  # glmmTMB -369.6553 (with "false convergence"; its logLik() is NA there
  # from 1.1.10 on, its Hessian not positive definite, so its objective);
  # ours ended at -370.2777 with both levels at the limit before.
  expect_gt(as.numeric(logLik(ours)) + tmb$fit$objective, -1e-4)
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(unname(ours$aux$disp$coef[1]), unname(glmmTMB::fixef(tmb)$disp[1]), tolerance = 1e-3)
  expect_false(any(grepl("false convergence", ours$optinfo$warnings)))
  expect_true(any(grepl("limit 0 in 50 of 100 rows", ours$optinfo$warnings)))
})

# glmmTMB's test-disp.R: two residual standard deviations (10 and 5) beside
# crossed random effects. Its expectation, in glmmTMB's log variances with
# "ten" the first level (factor levels in order of appearance, as R 3 made
# them): c(log(10^2), log(5^2) - log(10^2)), to 1e-2; ours are log
# standard deviations, half of those.
test_that("glmmTMB's dispersion-formula expectation beside crossed random effects holds here", {
  sim1 <- function(nfac = 20, nt = 1000, facsd = 0.1, tsd = 0.15, mu = 0, residsd = 1) {
    dat <- expand.grid(fac = factor(letters[1:nfac]), t = 1:nt)
    dat$REfac <- rnorm(nfac, sd = facsd)[dat$fac]
    dat$REt <- rnorm(nt, sd = tsd)[dat$t]
    dat$x <- rnorm(nrow(dat), mean = mu, sd = residsd) + dat$REfac + dat$REt
    dat
  }
  set.seed(101)
  d1 <- transform(sim1(mu = 1, residsd = 10), fac = paste0(fac, 1), disp = "ten")
  d2 <- transform(sim1(mu = 10, residsd = 5), fac = paste0(fac, 2), disp = "five")
  dat <- rbind(d1, d2)
  dat$disp <- factor(dat$disp, levels = c("ten", "five"))
  m0 <- suppressWarnings(glmm(x ~ disp + (1 | t) + (1 | fac), dispformula = ~disp, data = dat))
  dc <- unname(m0$theta[grep("^disp~", names(m0$theta))])
  expect_equal(2 * dc, c(log(10^2), log(5^2) - log(10^2)), tolerance = 1e-2)
  skip_if_not_installed("glmmTMB")
  tmb <- glmmTMB::glmmTMB(x ~ disp + (1 | t) + (1 | fac), dispformula = ~disp, data = dat)
  expect_gte(loglik_value(m0), loglik_value(tmb) - 1e-6)
})
