# offset() terms in `ziformula` and `dispformula`, as glmmTMB takes them:
# each part's offset from its own offset() terms (glmm_zi(), part_offset()),
# the 'offset' argument the conditional part's only, carried by every route
# (one factor by Laplace and AGHQ, zero-part random effects on one factor
# and on the two-part sparse engine, several conditional terms) and by
# predict(), simulate(), residuals, standardize(), marginal_coefs(),
# profiles, update() and anova().

# glmmTMB's estimates, standard errors and logLik against ours (ours at
# least as high; the same optimum to the optimizers' tolerance).
zo_against_tmb <- function(ours, ref, label, tol = 1e-4, tol_se = 2e-3, tol_ll = 1e-7) {
  ll <- as.numeric(logLik(ours)); llr <- as.numeric(logLik(ref))
  expect_gt(ll, llr - 1e-6 * max(1, abs(llr)), label = paste(label, "logLik ours >= glmmTMB's"))
  expect_equal(ll, llr, tolerance = tol_ll, label = paste(label, "logLik"))
  fe <- glmmTMB::fixef(ref)
  parts <- intersect(c("cond", "zi", "disp"), names(Filter(length, fe)))
  est_r <- unlist(lapply(parts, function(k) unname(fe[[k]])))
  # The full covariance lists the coefficients part by part, then the
  # random effects' parameters.
  se_r <- sqrt(diag(stats::vcov(ref, full = TRUE)))[seq_along(est_r)]
  idx <- c(seq_along(ours$coefficients), ours$aux$zi_index, ours$aux$disp_index)
  expect_equal(length(idx), length(est_r), label = paste(label, "number of coefficients"))
  expect_equal(unname(ours$theta[idx]), est_r, tolerance = tol, label = paste(label, "estimates"))
  expect_equal(unname(sqrt(diag(ours$cov_theta))[idx]), unname(se_r), tolerance = tol_se,
               label = paste(label, "standard errors"))
}

# Counts whose structural-zero odds are proportional to an exposure t
# (logit pi = -1 + 0.5 w + log t), with a random intercept in the counts.
zo_sim <- function(M = 40, ni = 12, seed = 25) {
  set.seed(seed)
  n <- M * ni
  g <- factor(rep(seq_len(M), each = ni))
  # A second, crossed factor with an effect on the counts (several-term fits).
  h <- factor(rep(1:6, length.out = n))
  x <- stats::rnorm(n)
  w <- stats::rbinom(n, 1, 0.5)
  t <- exp(stats::runif(n, -1.5, 1.5))
  pz <- stats::plogis(-1 + 0.5 * w + log(t))
  mu <- exp(0.8 + 0.4 * x + stats::rnorm(M, 0, 0.5)[g] + stats::rnorm(6, 0, 0.4)[h])
  zero <- stats::runif(n) < pz
  y <- ifelse(zero, 0L, stats::rpois(n, mu))
  # An NB2 response whose log theta = 0.3 + log t (dispersion offset), and
  # its zero-inflated version.
  yn <- stats::rnbinom(n, size = exp(0.3 + log(t)), mu = mu)
  data.frame(g, h, x, w, t, lt = log(t), y, yn, yzn = ifelse(zero, 0L, yn))
}

test_that("Owls: ziformula = ~ offset(logBroodSize) and a dispersion offset match glmmTMB (estimates, SEs, logLik, predict on newdata)", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB", envir = environment())
  fo <- SiblingNegotiation ~ FoodTreatment + ArrivalTime + (1 | Nest)
  ours <- glmm(fo, data = Owls, ziformula = ~ offset(logBroodSize), family = poisson, nAGQ = 1)
  ref <- glmmTMB::glmmTMB(fo, data = Owls, ziformula = ~ offset(logBroodSize), family = poisson)
  zo_against_tmb(ours, ref, "ZIP")
  expect_equal(ours$aux$zi$offset, Owls$logBroodSize)
  # Not the model without the offset.
  plain <- glmm(fo, data = Owls, ziformula = ~ 1, family = poisson, nAGQ = 1)
  expect_gt(abs(as.numeric(logLik(plain)) - as.numeric(logLik(ours))), 1)

  ours2 <- glmm(fo, data = Owls, ziformula = ~ FoodTreatment + offset(logBroodSize),
                dispformula = ~ SexParent + offset(logBroodSize), family = nbinom2(), nAGQ = 1)
  ref2 <- glmmTMB::glmmTMB(fo, data = Owls, ziformula = ~ FoodTreatment + offset(logBroodSize),
                           dispformula = ~ SexParent + offset(logBroodSize),
                           family = glmmTMB::nbinom2())
  zo_against_tmb(ours2, ref2, "ZINB2 with zero and dispersion offsets")
  # Predictions on newdata, the offsets evaluated there (other brood sizes
  # than in the data), and at the fit's data.
  nd <- Owls[c(1, 50, 100, 300, 500), ]
  nd$logBroodSize <- log(c(1, 2, 3, 9, 12))
  for (m in list(list(ours, ref), list(ours2, ref2))) {
    for (ty in c("link", "response", "zprob", "zlink", "conditional")) {
      expect_equal(unname(predict(m[[1]], nd, type = ty)), unname(predict(m[[2]], nd, type = ty)),
                   tolerance = 2e-4, info = ty)
      expect_equal(unname(predict(m[[1]], type = ty)), unname(predict(m[[2]], type = ty)),
                   tolerance = 2e-4, info = ty)
    }
  }
  expect_equal(unname(predict(ours2, nd, type = "disp")),
               unname(exp(glmmTMB::fixef(ref2)$disp[1] + glmmTMB::fixef(ref2)$disp[2] *
                            (nd$SexParent == "Male") + nd$logBroodSize)), tolerance = 2e-4)
  expect_equal(unname(fitted(ours2)), unname(fitted(ref2)), tolerance = 2e-4)
  expect_equal(unname(residuals(ours2, type = "pearson")),
               unname(residuals(ref2, type = "pearson")), tolerance = 5e-4)
  # newdata without the zero part's offset variable: named; a missing
  # value there gives a missing prediction in that row only.
  expect_error(predict(ours, nd[, c("FoodTreatment", "ArrivalTime", "Nest")], type = "zprob"),
               "'newdata' lacks the variable 'logBroodSize' of the ziformula")
  nd_na <- nd
  nd_na$logBroodSize[2] <- NA
  p_na <- predict(ours, nd_na, type = "response")
  expect_true(is.na(p_na[2]))
  expect_equal(unname(p_na[-2]), unname(predict(ours, nd, type = "response")[-2]))
  # The zero probability rises with the offset (coefficient 1 on the logit).
  zl <- predict(ours, nd, type = "zlink")
  expect_equal(unname(diff(zl)), diff(nd$logBroodSize), tolerance = 1e-12)
})

test_that("known truth: a zero probability proportional in odds to the exposure (Laplace and AGHQ), and against glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- zo_sim()
  for (nagq in c(1L, 7L)) {
    f <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w + offset(log(t)), family = poisson,
              nAGQ = nagq)
    est <- f$theta[c(1:2, f$aux$zi_index)]
    se <- sqrt(diag(f$cov_theta))[c(1:2, f$aux$zi_index)]
    expect_true(all(abs(est - c(0.8, 0.4, -1, 0.5)) < 3.5 * se), info = nagq)
    expect_equal(f$nAGQ, nagq)
  }
  ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, ziformula = ~ w + offset(log(t)),
                          family = poisson)
  f1 <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w + offset(log(t)), family = poisson,
             nAGQ = 1)
  zo_against_tmb(f1, ref, "simulated ZIP")
  # A dispersion offset with known truth: log theta = 0.3 + log t.
  fd <- glmm(yn ~ x + (1 | g), data = d, dispformula = ~ offset(lt), family = nbinom2(), nAGQ = 1)
  rd <- glmmTMB::glmmTMB(yn ~ x + (1 | g), data = d, dispformula = ~ offset(lt),
                         family = glmmTMB::nbinom2())
  zo_against_tmb(fd, rd, "NB2 dispersion offset")
  expect_lt(abs(fd$theta[fd$aux$disp_index] - 0.3), 3.5 * sqrt(diag(fd$cov_theta))[fd$aux$disp_index])
  expect_equal(unname(predict(fd, type = "disp")), exp(fd$theta[[fd$aux$disp_index]] + d$lt),
               tolerance = 1e-12)
})

test_that("hurdle and zero-inflated binomial fits with zero-part offsets match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB", envir = environment())
  fo <- SiblingNegotiation ~ FoodTreatment + (1 | Nest)
  ours <- glmm(fo, data = Owls, ziformula = ~ SexParent + offset(logBroodSize),
               family = truncated_nbinom2(), nAGQ = 1)
  ref <- glmmTMB::glmmTMB(fo, data = Owls, ziformula = ~ SexParent + offset(logBroodSize),
                          family = glmmTMB::truncated_nbinom2())
  zo_against_tmb(ours, ref, "hurdle NB2")
  nd <- Owls[1:4, ]
  nd$logBroodSize <- log(c(1, 3, 5, 7))
  for (ty in c("response", "zprob", "conditional"))
    expect_equal(unname(predict(ours, nd, type = ty)), unname(predict(ref, nd, type = ty)),
                 tolerance = 2e-4, info = ty)
  # Zero-inflated binomial: successes of 6 trials, structural zeros whose
  # odds follow an exposure.
  set.seed(7)
  M <- 30; ni <- 10; n <- M * ni
  g <- factor(rep(seq_len(M), each = ni))
  x <- stats::rnorm(n); o <- stats::runif(n, -1, 1)
  p <- stats::plogis(-0.3 + 0.6 * x + stats::rnorm(M, 0, 0.6)[g])
  s <- ifelse(stats::runif(n) < stats::plogis(-0.8 + o), 0L, stats::rbinom(n, 6, p))
  db <- data.frame(g, x, o, s, f = 6 - s)
  ob <- glmm(cbind(s, f) ~ x + (1 | g), data = db, ziformula = ~ offset(o), family = binomial,
             nAGQ = 1)
  rb <- glmmTMB::glmmTMB(cbind(s, f) ~ x + (1 | g), data = db, ziformula = ~ offset(o),
                         family = binomial)
  zo_against_tmb(ob, rb, "zero-inflated binomial")
  expect_equal(unname(predict(ob, type = "zprob")), unname(predict(rb, type = "zprob")),
               tolerance = 2e-4)
})

test_that("several conditional terms and zero-part random effects (both engines) carry the zero-part offset, as glmmTMB", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  S <- Salamanders
  # Unordered, as glmmTMB's predict() needs for a subset of the rows.
  S$site <- factor(S$site, ordered = FALSE)
  S$o <- 0.5 * S$cover
  nd <- S[c(3, 70, 200, 400), ]
  nd$o <- c(-1, 0, 1, 2)
  cases <- list(
    sparse = list(count ~ mined + (1 | site) + (1 | spp), ~ mined + offset(o)),
    zi_random = list(count ~ mined + (1 | site), ~ offset(o) + (1 | site)),
    zi_random_sparse = list(count ~ mined + (1 | site), ~ offset(o) + (1 | spp)))
  for (k in names(cases)) {
    cs <- cases[[k]]
    ours <- glmm(cs[[1]], data = S, ziformula = cs[[2]], family = poisson, nAGQ = 1)
    ref <- glmmTMB::glmmTMB(cs[[1]], data = S, ziformula = cs[[2]], family = poisson)
    zo_against_tmb(ours, ref, k, tol = 5e-4, tol_se = 5e-3, tol_ll = 1e-7)
    expect_true(inherits(ours, switch(k, sparse = "glmmgee_glmm_sparse",
                                      zi_random = "glmmgee_glmm_zire",
                                      zi_random_sparse = "glmmgee_glmm_zire_sparse")), info = k)
    for (ty in c("response", "zprob", "zlink"))
      expect_equal(unname(predict(ours, nd, type = ty)), unname(predict(ref, nd, type = ty)),
                   tolerance = 1e-3, info = paste(k, ty))
  }
  # A dispersion offset on the sparse route (NB2, two terms).
  ours <- glmm(count ~ mined + (1 | site) + (1 | spp), data = S, dispformula = ~ offset(o),
               family = nbinom2(), nAGQ = 1)
  ref <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), data = S,
                          dispformula = ~ offset(o), family = glmmTMB::nbinom2())
  zo_against_tmb(ours, ref, "sparse NB2 dispersion offset", tol = 5e-4, tol_se = 5e-3)
})

test_that("dispersion offsets of gaussian, Gamma and beta fits match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  set.seed(11)
  M <- 30; ni <- 8; n <- M * ni
  g <- factor(rep(seq_len(M), each = ni))
  x <- stats::rnorm(n); o <- stats::runif(n, -0.7, 0.7); h <- stats::rbinom(n, 1, 0.5)
  b <- stats::rnorm(M, 0, 0.4)[g]
  # (glmmTMB before 1.1.9 models log sigma^2: its offset is then twice ours)
  d <- data.frame(g, x, o, h, o2 = if (tmb_version_at_least("1.1.9")) o else 2 * o,
                  yg = 1 + 0.5 * x + b + stats::rnorm(n, 0, exp(-0.5 + 0.3 * h + o)),
                  ygam = stats::rgamma(n, shape = exp(1 + o), rate = exp(1 + o) / exp(0.3 + 0.4 * x + b)),
                  ybeta = {
                    mu <- stats::plogis(0.2 + 0.5 * x + b); ph <- exp(2 + o)
                    stats::rbeta(n, mu * ph, (1 - mu) * ph)
                  })
  og <- glmm(yg ~ x + (1 | g), data = d, dispformula = ~ h + offset(o), nAGQ = 1)
  rg <- glmmTMB::glmmTMB(yg ~ x + (1 | g), data = d, dispformula = ~ h + offset(o2))
  expect_equal(as.numeric(logLik(og)), as.numeric(logLik(rg)), tolerance = 1e-7)
  expect_equal(unname(og$theta[og$aux$disp_index]), tmb_gaussian_log_sigma(unname(glmmTMB::fixef(rg)$disp)),
               tolerance = 1e-4)
  expect_equal(unname(og$coefficients), unname(glmmTMB::fixef(rg)$cond), tolerance = 1e-4)
  expect_equal(unname(predict(og, type = "disp")), exp(drop(cbind(1, d$h) %*% og$theta[og$aux$disp_index]) + d$o),
               tolerance = 1e-12)
  oa <- glmm(ygam ~ x + (1 | g), data = d, family = Gamma(link = "log"),
             dispformula = ~ offset(o), nAGQ = 1)
  ra <- glmmTMB::glmmTMB(ygam ~ x + (1 | g), data = d, family = Gamma(link = "log"),
                         dispformula = ~ offset(o))
  zo_against_tmb(oa, ra, "Gamma")
  ob <- glmm(ybeta ~ x + (1 | g), data = d, family = glmmTMB::beta_family(),
             dispformula = ~ offset(o), nAGQ = 1)
  rb <- glmmTMB::glmmTMB(ybeta ~ x + (1 | g), data = d, family = glmmTMB::beta_family(),
                         dispformula = ~ offset(o))
  zo_against_tmb(ob, rb, "beta")
})

test_that("invariance: a constant offset moves only the intercept, offset(x) beside x only x's coefficient (every route, AGHQ, penalized)", {
  skip_if_not_installed("MASS")
  d <- zo_sim(M = 30, ni = 10)
  cst <- 1.7
  d$cc <- cst
  runs <- list(
    laplace = list(y ~ x + (1 | g), 1L, NULL),
    aghq = list(y ~ x + (1 | g), 7L, NULL),
    sparse = list(y ~ x + (1 | g) + (1 | h), 1L, NULL),
    zi_random = list(y ~ x + (1 | g), 1L, quote((1 | g))),
    zi_random_sparse = list(y ~ x + (1 | g), 1L, quote((1 | h))))
  for (k in names(runs)) {
    r <- runs[[k]]
    zf <- function(rhs) {
      f <- stats::as.formula(call("~", if (is.null(r[[3]])) rhs else call("+", rhs, r[[3]])))
      environment(f) <- environment()
      f
    }
    a <- glmm(r[[1]], data = d, ziformula = zf(quote(w)), family = poisson, nAGQ = r[[2]])
    b <- glmm(r[[1]], data = d, ziformula = zf(quote(w + offset(cc))), family = poisson,
              nAGQ = r[[2]])
    cx <- glmm(r[[1]], data = d, ziformula = zf(quote(w + offset(w))), family = poisson,
               nAGQ = r[[2]])
    za <- a$theta[a$aux$zi_index]
    expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8, info = k)
    expect_equal(unname(b$theta[b$aux$zi_index]), unname(za - c(cst, 0)), tolerance = 1e-4, info = k)
    expect_equal(unname(b$coefficients), unname(a$coefficients), tolerance = 1e-4, info = k)
    expect_equal(as.numeric(logLik(cx)), as.numeric(logLik(a)), tolerance = 1e-8, info = k)
    expect_equal(unname(cx$theta[cx$aux$zi_index]), unname(za - c(0, 1)), tolerance = 1e-4, info = k)
  }
  # Both parts' random effects correlated (GLMMadaptive's model, AGHQ), on
  # a response with correlated effects in both parts.
  set.seed(8)
  u <- MASS::mvrnorm(30, c(0, 0), matrix(c(0.3, 0.2, 0.2, 0.8), 2))
  d$y2 <- ifelse(stats::runif(nrow(d)) < stats::plogis(-1 + 0.5 * d$w + d$lt + u[d$g, 2]), 0L,
                 stats::rpois(nrow(d), exp(0.8 + 0.4 * d$x + u[d$g, 1])))
  a <- glmm(y2 ~ x + (1 | g), data = d, ziformula = ~ w + (1 | g), family = poisson,
            zi_correlated = TRUE, nAGQ = 5)
  b <- glmm(y2 ~ x + (1 | g), data = d, ziformula = ~ w + offset(cc) + (1 | g), family = poisson,
            zi_correlated = TRUE, nAGQ = 5)
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(b$theta[b$aux$zi_index]), unname(a$theta[a$aux$zi_index] - c(cst, 0)),
               tolerance = 1e-4)
  expect_equal(unname(b$theta[-b$aux$zi_index]), unname(a$theta[-a$aux$zi_index]), tolerance = 1e-4)
  # A dispersion offset (NB2): a constant moves only the dispersion intercept.
  a <- glmm(yn ~ x + (1 | g), data = d, dispformula = ~ w, family = nbinom2(), nAGQ = 5)
  b <- glmm(yn ~ x + (1 | g), data = d, dispformula = ~ w + offset(cc), family = nbinom2(),
            nAGQ = 5)
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(b$theta[b$aux$disp_index]), unname(a$theta[a$aux$disp_index] - c(cst, 0)),
               tolerance = 1e-4)
  # penalized = TRUE (the prior is on the conditional part's coefficients):
  # the zero part's offset(w) moves only w's zero coefficient.
  a <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = poisson, nAGQ = 1,
            penalized = TRUE)
  b <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w + offset(w), family = poisson, nAGQ = 1,
            penalized = TRUE)
  expect_false(is.null(b$penalty))
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(b$coefficients), unname(a$coefficients), tolerance = 1e-4)
  expect_equal(unname(b$theta[b$aux$zi_index]), unname(a$theta[a$aux$zi_index] - c(0, 1)),
               tolerance = 1e-4)
})

test_that("the 'offset' argument is the conditional part's only, as glmmTMB's", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB", envir = environment())
  fo <- SiblingNegotiation ~ FoodTreatment + (1 | Nest)
  a <- glmm(fo, data = Owls, offset = logBroodSize, ziformula = ~ offset(logBroodSize),
            family = poisson, nAGQ = 1)
  b <- glmm(update(fo, . ~ . + offset(logBroodSize)), data = Owls,
            ziformula = ~ offset(logBroodSize), family = poisson, nAGQ = 1)
  r <- glmmTMB::glmmTMB(fo, data = Owls, offset = logBroodSize,
                        ziformula = ~ offset(logBroodSize), family = poisson)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  zo_against_tmb(a, r, "offset argument")
  expect_equal(unname(a$offset), Owls$logBroodSize)
  expect_equal(a$aux$zi$offset, Owls$logBroodSize)
  # Without the zero-part term, the argument does not reach the zero part.
  c0 <- glmm(fo, data = Owls, offset = logBroodSize, ziformula = ~ 1, family = poisson, nAGQ = 1)
  r0 <- glmmTMB::glmmTMB(fo, data = Owls, offset = logBroodSize, ziformula = ~ 1, family = poisson)
  expect_null(c0$aux$zi$offset)
  zo_against_tmb(c0, r0, "offset argument, no zero-part offset")
})

test_that("simulate(), standardize() and marginal_coefs() use the zero and dispersion offsets", {
  d <- zo_sim(M = 30, ni = 10)
  f <- glmm(y ~ x + w + (1 | g), data = d, ziformula = ~ w + offset(lt), family = poisson,
            nAGQ = 1)
  # The mean of y by hand: (1 - pi) exp(eta + s^2 / 2), pi with the offset.
  s2 <- VarCorr(f)[[1]][1, 1]
  pz <- stats::plogis(drop(cbind(1, d$w) %*% f$theta[f$aux$zi_index]) + d$lt)
  expect_equal(unname(predict(f, type = "zprob")), pz, tolerance = 1e-12)
  by_hand <- function(wv, lt = d$lt) {
    eta <- drop(cbind(1, d$x, wv) %*% f$coefficients)
    pzw <- stats::plogis(f$theta[f$aux$zi_index][1] + f$theta[f$aux$zi_index][2] * wv + lt)
    mean((1 - pzw) * exp(eta + s2 / 2))
  }
  st <- standardize(f, "w", values = c(0, 1), se = "none")
  expect_equal(st$estimate[1:2], c(by_hand(0), by_hand(1)), tolerance = 1e-8)
  # On newdata, the zero part's offset taken from it (longer exposures).
  nd <- d
  nd$lt <- nd$lt + 1
  st2 <- standardize(f, "w", values = c(0, 1), newdata = nd, se = "delta")
  expect_equal(st2$estimate[1:2], c(by_hand(0, nd$lt), by_hand(1, nd$lt)), tolerance = 1e-8)
  expect_true(all(st2$estimate[1:2] < st$estimate[1:2]))
  expect_true(all(is.finite(st2$std.error)))
  # marginal_coefs(): the same means at the data, regressed on the link scale.
  mc <- marginal_coefs(f, std_errors = FALSE)
  mu <- (1 - pz) * exp(drop(model.matrix(f) %*% f$coefficients) + s2 / 2)
  expect_equal(unname(mc$coefficients), unname(qr.coef(qr(model.matrix(f)), log(mu))), tolerance = 1e-6)
  # simulate() at the predicted random effects: the share of zeros is the
  # model's, pi + (1 - pi) exp(-mu), with the offset in pi (60000 draws:
  # standard error about 0.002).
  sims <- as.matrix(simulate(f, nsim = 200, seed = 3, re.form = NULL))
  mu_c <- unname(predict(f, type = "conditional"))
  p0 <- pz + (1 - pz) * exp(-mu_c)
  expect_lt(abs(mean(sims == 0) - mean(p0)), 0.01)
  hi <- d$lt > 1; lo <- d$lt < -1
  expect_gt(mean(sims[hi, ] == 0), mean(sims[lo, ] == 0) + 0.2)
  expect_lt(abs(mean(sims[hi, ] == 0) - mean(p0[hi])), 0.02)
  expect_lt(abs(mean(sims[lo, ] == 0) - mean(p0[lo])), 0.02)
  # Dispersion offset: the variance of NB2 draws at theta = exp(delta + o).
  fd <- glmm(yn ~ x + (1 | g), data = d, dispformula = ~ offset(lt), family = nbinom2(), nAGQ = 1)
  sd <- as.matrix(simulate(fd, nsim = 400, seed = 4, re.form = NULL))
  mu_d <- unname(predict(fd, type = "conditional"))
  th <- exp(fd$theta[[fd$aux$disp_index]] + d$lt)
  z <- (sd - mu_d) / sqrt(mu_d + mu_d^2 / th)
  expect_lt(abs(mean(z^2) - 1), 0.05)
  expect_lt(abs(mean(z[hi, ]^2) - 1), 0.1)
  expect_lt(abs(mean(z[lo, ]^2) - 1), 0.1)
})

test_that("profile(), update() and anova() refit with the zero and dispersion offsets", {
  d <- zo_sim(M = 30, ni = 10)
  f <- glmm(yzn ~ x + w + (1 | g), data = d, ziformula = ~ offset(lt), dispformula = ~ offset(lt),
            family = nbinom2(), nAGQ = 1)
  # The profile engine is rebuilt from the stored parts (its logLik at the
  # estimate is checked against the fit's; without the offsets it differs).
  ci <- confint(f, parm = "x", method = "profile")
  wald <- confint(f, parm = "x", method = "Wald")
  expect_equal(unname(ci), unname(wald), tolerance = 0.02)
  expect_lt(ci[1, 1], f$coefficients[["x"]])
  expect_gt(ci[1, 2], f$coefficients[["x"]])
  # update() and anova(): the refits keep both parts' offsets.
  f0 <- update(f, . ~ . - w)
  direct <- glmm(yzn ~ x + (1 | g), data = d, ziformula = ~ offset(lt), dispformula = ~ offset(lt),
                 family = nbinom2(), nAGQ = 1)
  expect_equal(as.numeric(logLik(f0)), as.numeric(logLik(direct)), tolerance = 1e-10)
  expect_equal(f0$aux$zi$offset, d$lt)
  expect_equal(f0$aux$disp$offset, d$lt)
  av <- anova(f0, f)
  expect_equal(av$Chisq[2], 2 * (as.numeric(logLik(f)) - as.numeric(logLik(f0))), tolerance = 1e-8)
  # Sparse route and zero-part random effects: profiles rebuild those engines too.
  fs <- glmm(y ~ x + (1 | g) + (1 | h), data = d, ziformula = ~ w + offset(lt), family = poisson,
             nAGQ = 1)
  cs <- confint(fs, parm = "x", method = "profile")
  expect_equal(unname(cs), unname(confint(fs, parm = "x", method = "Wald")), tolerance = 0.02)
  fz <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w + offset(lt) + (1 | g), family = poisson,
             nAGQ = 1)
  cz <- confint(fz, parm = "x", method = "profile")
  expect_equal(unname(cz), unname(confint(fz, parm = "x", method = "Wald")), tolerance = 0.02)
})

test_that("bad offsets in ziformula and dispformula: a clear error naming the argument", {
  d <- zo_sim(M = 10, ni = 6)
  d$chr <- as.character(d$w)
  d$inf <- d$lt
  d$inf[3] <- Inf
  expect_error(glmm(y ~ x + (1 | g), data = d, ziformula = ~ offset(chr), family = poisson),
               "'ziformula': offset\\(chr\\) must be a numeric vector")
  expect_error(glmm(yn ~ x + (1 | g), data = d, dispformula = ~ offset(inf), family = nbinom2()),
               "'dispformula': offset\\(inf\\) contains NA, NaN or infinite values")
  expect_error(glmm(y ~ x + (1 | g), data = d, ziformula = ~ offset(d$lt[1:5]), family = poisson),
               "'ziformula': 'offset\\(d\\$lt\\[1:5\\]\\)' must have one value per row")
  expect_error(glmm(yn ~ x + (1 | g), data = d, dispformula = ~ offset(d$lt[1:5]), family = nbinom2()),
               "'dispformula': 'offset\\(d\\$lt\\[1:5\\]\\)' must have one value per row")
  expect_error(glmm(y ~ x + (1 | g), data = d, ziformula = ~ offset(cbind(lt, lt)),
                    family = poisson), "'ziformula': offset\\(cbind\\(lt, lt\\)\\) must be a numeric vector, not a matrix")
  # A missing offset: the row goes with na.omit (as for every variable of
  # the model, and as glmmTMB), and na.fail names it.
  d$na <- d$lt
  d$na[5] <- NA
  a <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ offset(na), family = poisson, nAGQ = 1)
  b <- glmm(y ~ x + (1 | g), data = d[-5, ], ziformula = ~ offset(lt), family = poisson, nAGQ = 1)
  expect_equal(nobs(a), nrow(d) - 1L)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  expect_error(glmm(y ~ x + (1 | g), data = d, ziformula = ~ offset(na), family = poisson,
                    na.action = na.fail), "'ziformula': missing values in 'offset\\(na\\)'")
  # The conditional part's offset argument keeps its own checks and name.
  expect_error(glmm(y ~ x + (1 | g), data = d, offset = chr, ziformula = ~ 1, family = poisson),
               "'offset': the 'offset' argument must be a numeric vector")
})

test_that("a zero part with an offset but no coefficient is refused, not dropped", {
  # (a dispersion part so is a known dispersion: test-dispersion-known.R)
  d <- zo_sim(M = 10, ni = 6)
  expect_error(glmm(y ~ x + (1 | g), data = d, ziformula = ~ 0 + offset(lt), family = poisson),
               "'ziformula': an offset\\(\\) term needs an intercept or another term")
})

test_that("standardize(se = \"bootstrap\") refuses two-part fits clearly (its refits fit the conditional part alone)", {
  d <- zo_sim(M = 20, ni = 8)
  f <- glmm(y ~ x + w + (1 | g), data = d, ziformula = ~ offset(lt), family = poisson, nAGQ = 1)
  expect_error(standardize(f, "w", se = "bootstrap", B = 20, progress = FALSE),
               "'se' = \"bootstrap\" is not available for zero-inflated, hurdle or dispersion-formula fits")
  expect_true(all(is.finite(standardize(f, "w")$std.error)))
})


test_that("a constant offset in ziformula or dispformula is absorbed by that part's intercept", {
  data(Salamanders, package = "glmmTMB", envir = environment())
  # The parts' starts ignored the offsets: a zero-inflation probability of
  # 1 - 2e-5 at the start (offset 10) ended 178 log-likelihood units low with
  # "the data need no structural zeros"; a dispersion offset of -10 ended at
  # the Poisson-less limit, 240 units low.
  fits <- list(
    zi_one = function(d) glmm(count ~ mined + (1 | site), d, family = poisson,
                              ziformula = ~ spp + offset(oz), nAGQ = 1),
    zi_sparse = function(d) glmm(count ~ mined + (1 | site) + (1 | spp), d, family = poisson,
                                 ziformula = ~ mined + offset(oz)),
    disp_one = function(d) glmm(count ~ mined + (1 | site), d, family = nbinom2(),
                                dispformula = ~ mined + offset(oz), nAGQ = 1),
    disp_sparse = function(d) glmm(count ~ mined + (1 | site) + (1 | spp), d, family = nbinom2(),
                                   dispformula = ~ mined + offset(oz)))
  for (nm in names(fits)) {
    d <- Salamanders
    d$oz <- 0
    ref <- fits[[nm]](d)
    part <- if (startsWith(nm, "zi")) "zi" else "disp"
    for (oz in c(10, -10)) {
      d$oz <- oz
      fit <- fits[[nm]](d)
      expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(ref)), tolerance = 1e-8,
                   label = paste(nm, oz))
      expect_equal(fixef(fit), fixef(ref), tolerance = 1e-5, label = paste(nm, oz))
      int <- paste0(part, "~(Intercept)")
      expect_equal(fit$theta[[int]] + oz, ref$theta[[int]], tolerance = 1e-5,
                   label = paste(nm, oz))
      expect_equal(fit$optinfo$warnings, ref$optinfo$warnings, label = paste(nm, oz))
    }
  }
})


# A constant offset in the dispersion formula, whose intercept is free, only
# shifts that intercept. With zero-part random effects the start ignored
# the offset (log theta started at -10 with offset(oz), oz = -10): the
# search ran to the Poisson limit, and the Laplace fit reported logLik -Inf
# beside its estimates (quadrature: -Inf too).
salamanders_disp_offset <- function(oz, nAGQ) {
  data(Salamanders, package = "glmmTMB", envir = environment())
  Salamanders$oz <- oz
  glmm(count ~ mined + (1 | site), Salamanders, family = nbinom2(),
       dispformula = ~ mined + offset(oz), ziformula = ~ mined + (1 | site), nAGQ = nAGQ)
}

test_that("a dispersion offset beside zero-part random effects only shifts the dispersion intercept", {
  skip_if_not_installed("glmmTMB")
  # Quadrature, where this model converges cleanly.
  f0 <- salamanders_disp_offset(0, 7)
  for (oz in c(-10, 10)) {
    f <- salamanders_disp_offset(oz, 7)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(f0)), tolerance = 1e-8)
    dn <- c("disp~(Intercept)", "disp~minedno")
    expect_equal(f$theta[dn], f0$theta[dn] - c(oz, 0), tolerance = 1e-4)
    expect_equal(f$theta[-match(dn, names(f$theta))], f0$theta[-match(dn, names(f0$theta))],
                 tolerance = 1e-4)
  }
  # Laplace: the fit is troubled at any offset (false convergence, which
  # glmmTMB shares), and says so, but its log-likelihood is finite and the
  # dispersion does not run to the Poisson limit.
  w <- character()
  f <- withCallingHandlers(salamanders_disp_offset(-10, 1), warning = function(x) {
    w <<- c(w, conditionMessage(x))
    invokeRestart("muffleWarning")
  })
  expect_true(is.finite(as.numeric(logLik(f))))
  expect_false(any(grepl("estimated at its limit Inf", w)))
  expect_true(any(grepl("Laplace approximation can fail", w)))
})


test_that("hostile codings of zero-part offsets agree with glmmTMB; a partial log-series limit is said", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  s <- Salamanders
  set.seed(1)
  s$lt <- log(runif(nrow(s), 0.5, 2))
  s$lt[c(3, 50)] <- NA
  s$minedc <- as.character(s$mined)
  s$minedl <- s$mined == "yes"
  ll <- function(f) as.numeric(logLik(f))
  # offset() in ziformula with missing offsets (na.omit), a character
  # factor, a logical; a dispformula offset on a tibble.
  a <- glmm(count ~ minedc + (1 | site), s, family = poisson, ziformula = ~ minedc + offset(lt), nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ minedc + (1 | site), s, family = poisson, ziformula = ~ minedc + offset(lt))
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  expect_equal(nobs(a), nrow(s) - 2L)
  a <- glmm(count ~ minedl + (1 | site), s, family = poisson, ziformula = ~ minedl, nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ minedl + (1 | site), s, family = poisson, ziformula = ~ minedl)
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  expect_equal(unname(fixef(a)), unname(glmmTMB::fixef(b)$cond), tolerance = 1e-5)
  skip_if_not_installed("tibble")
  st <- tibble::as_tibble(s)
  a <- glmm(count ~ mined + (1 | site), st, family = nbinom2, dispformula = ~ minedc + offset(lt), nAGQ = 1)
  b <- glmmTMB::glmmTMB(count ~ mined + (1 | site), st, family = nbinom2, dispformula = ~ minedc + offset(lt))
  expect_equal(ll(a), ll(b), tolerance = 1e-8)
  # truncated_nbinom1 hurdle on ~ mined: the mined sites' mu runs to 0 at a
  # finite phi (count intercept -18, minedno +19; glmmTMB stops at -14,
  # +15 with the same log-likelihood). Said and recorded, as the whole-fit
  # log-series limit is; it said only "doubtful convergence" before.
  w <- character()
  f <- withCallingHandlers(
    glmm(count ~ mined + (1 | site), s, family = truncated_nbinom1(), ziformula = ~ mined, nAGQ = 1),
    warning = function(cnd) { w <<- c(w, conditionMessage(cnd)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("log-series limit in 308 of 644 rows", w)))
  expect_true(f$optinfo$logseries_limit)
  g <- suppressWarnings(glmmTMB::glmmTMB(count ~ mined + (1 | site), s, family = glmmTMB::truncated_nbinom1,
                                         ziformula = ~ mined))
  expect_gte(ll(f), ll(g) - 1e-6)
  expect_equal(ll(f), ll(g), tolerance = 1e-8)
})
