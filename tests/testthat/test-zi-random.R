# Random effects in the zero part (ziformula = ~ x + (1 | g)): the engine's
# exact gradient against numerical differentiation, its agreement with the
# fixed-zero-part engine when the zero part's variance is zero, the fits
# against glmmTMB (independent terms, Laplace) and GLMMadaptive (one
# covariance over both parts, adaptive quadrature), recovery of known
# truth, and the post-estimation of both parts.

zi_random_engine <- function(d, family, kind, lam_row, lam_col, nagq, slope = FALSE) {
  fam <- glmmgee:::resolve_family(family)
  n <- nrow(d)
  X <- cbind(1, d$x)
  Zc <- if (slope) cbind(1, d$x) else matrix(1, n, 1)
  Xd <- if (fam$family == "nbinom2") matrix(1, n, 1) else matrix(0, n, 0)
  glmmgee:::cpp_two_part_new(X, Zc, matrix(1, n, 1), cbind(1, d$w), Xd, as.numeric(d$y),
                         rep(1, n), matrix(0, n, 3), as.integer(d$g), nlevels(d$g),
                         lam_row, lam_col, fam$family_code, fam$link_code, kind, nagq, 1L)
}

test_that("the two-part engine's gradient with random effects in both parts equals numerical differentiation", {
  skip_if_not_installed("numDeriv")
  d <- zi_random_sim(M = 20, ni = 5)
  dnb <- zi_random_sim(M = 20, ni = 5, nb = TRUE, seed = 2)
  dh <- zi_random_sim(M = 20, ni = 5, nb = TRUE, hurdle = TRUE, seed = 3)
  cases <- list(
    list(d = d, fam = poisson(), kind = 1L),
    list(d = dnb, fam = glmmgee::nbinom2(), kind = 1L),
    list(d = dh, fam = poisson(), kind = 2L),
    list(d = dh, fam = glmmgee::nbinom2(), kind = 2L))
  # Correlated (full 2 x 2 Lambda), independent (diagonal), and a random
  # slope in the count part with a correlated zero intercept (q = 3).
  pats <- list(full = list(r = c(0L, 1L, 1L), c = c(0L, 0L, 1L), slope = FALSE),
               indep = list(r = c(0L, 1L), c = c(0L, 1L), slope = FALSE),
               slope = list(r = c(0L, 1L, 2L, 1L, 2L, 2L), c = c(0L, 0L, 0L, 1L, 1L, 2L),
                            slope = TRUE))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    for (pn in names(pats)) {
      pt <- pats[[pn]]
      for (nagq in c(1L, 4L)) {
        if (pn == "slope" && nagq > 1L && k > 2L) next
        eng <- zi_random_engine(cs$d, cs$fam, cs$kind, pt$r, pt$c, nagq, pt$slope)
        set.seed(k)
        nl <- length(pt$r)
        th <- c(0.4, 0.3, 0.5 + 0.1 * seq_len(nl) * (pt$r == pt$c) + 0.2 * (pt$r != pt$c),
                -0.5, 0.6, if (cs$fam$family == "nbinom2") 0.4)
        an <- glmmgee:::cpp_two_part_eval(eng, th, TRUE)
        nu <- numDeriv::grad(function(t) glmmgee:::cpp_two_part_eval(eng, t, FALSE)$loglik, th)
        expect_true(is.finite(an$loglik))
        expect_equal(an$gradient, nu, tolerance = 1e-5,
                     label = sprintf("case %d, %s, nAGQ %d", k, pn, nagq))
      }
    }
  }
})

test_that("with the zero part's variance at zero the engine gives the fixed-zero-part likelihood", {
  d <- zi_random_sim(M = 25, ni = 6, nb = TRUE)
  n <- nrow(d)
  for (kind in 1:2) for (nagq in c(1L, 5L)) {
    eng <- zi_random_engine(d, glmmgee::nbinom2(), kind, c(0L, 1L, 1L), c(0L, 0L, 1L), nagq)
    old <- glmmgee:::cpp_agq_new(cbind(1, d$x), matrix(1, n, 1), as.numeric(d$y), rep(1, n),
                                 rep(0, n), as.integer(d$g), nlevels(d$g), 0L, 0L,
                                 glmmgee:::resolve_family(glmmgee::nbinom2())$family_code,
                                 glmmgee:::resolve_family(glmmgee::nbinom2())$link_code, nagq, 1L)
    glmmgee:::cpp_agq_set_aux(old, kind, cbind(1, d$w, 1), c(0L, 0L, 1L), matrix(0, n, 2))
    th <- c(0.4, 0.3, 0.7, -0.5, 0.6, 0.4)
    a <- glmmgee:::cpp_two_part_eval(eng, c(th[1:3], 0, 0, th[4:6]), TRUE)
    b <- glmmgee:::cpp_agq_eval(old, th, TRUE)
    expect_equal(a$loglik, b$loglik, tolerance = 1e-10)
    expect_equal(a$gradient[-(4:5)], b$gradient, tolerance = 1e-8)
  }
})

test_that("independent random intercepts in both parts match glmmTMB on Salamanders (Laplace)", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  # (The zero-inflated nbinom2 of this model is degenerate on Salamanders:
  # the zero part's variance grows without bound and glmmTMB stops with a
  # non-positive-definite Hessian; it is compared on simulated data below.)
  for (fam in list(list(ours = poisson, tmb = poisson),
                   list(ours = truncated_poisson, tmb = glmmTMB::truncated_poisson))) {
    ours <- glmm(count ~ mined + (1 | site), data = d, family = fam$ours,
                 ziformula = ~ mined + (1 | site), nAGQ = 1)
    tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), zi = ~ mined + (1 | site), data = d,
                            family = fam$tmb)
    lab <- ours$aux$family_name
    dl <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
    expect_gt(dl, -1e-4)
    expect_lt(abs(dl), 1e-3)
    expect_identical(attr(logLik(ours), "df"), attr(logLik(tmb), "df"))
    fx <- glmmTMB::fixef(tmb)
    expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = 1e-4, label = lab)
    expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = 1e-4, label = lab)
    vc <- glmmTMB::VarCorr(tmb)
    sds <- attr(VarCorr(ours)[[1]], "stddev")
    expect_equal(unname(sds), unname(c(attr(vc$cond$site, "stddev"), attr(vc$zi$site, "stddev"))),
                 tolerance = 1e-3, label = lab)
    expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(tmb)$cond))),
                 tolerance = 2e-3, label = lab)
    # Both parts' random effects, and predictions with and without them.
    re_t <- glmmTMB::ranef(tmb)
    expect_equal(unname(ranef(ours)$site[[1]]), unname(re_t$cond$site[[1]]), tolerance = 2e-3)
    expect_equal(unname(ranef(ours, component = "zi")$site[[1]]), unname(re_t$zi$site[[1]]),
                 tolerance = 2e-3)
    for (ty in c("response", "conditional", "zprob", "link", "zlink"))
      expect_equal(unname(predict(ours, type = ty)), unname(predict(tmb, type = ty)),
                   tolerance = 1e-3, label = paste(lab, ty))
    # Without random effects: the fixed parts alone, at new data.
    nd <- d[c(1, 30, 200), c("mined", "site")]
    Xn <- model.matrix(~ mined, nd)
    pz <- plogis(drop(Xn %*% ours$aux$zi$coef))
    mu <- exp(drop(Xn %*% fixef(ours)))
    if (ours$aux$kind == "hurdle") mu <- mu / (1 - exp(-mu))
    expect_equal(unname(predict(ours, nd, type = "zprob", re.form = NA)), unname(pz))
    expect_equal(unname(predict(ours, nd, type = "response", re.form = NA)),
                 unname((1 - pz) * mu))
    # With them, at new data: the fit's own clusters' modes.
    expect_equal(unname(predict(ours, nd, type = "zlink")),
                 unname(predict(ours, type = "zlink")[c(1, 30, 200)]))
  }
})

test_that("zero-inflated and hurdle nbinom2 with independent random intercepts match glmmTMB on simulated data", {
  skip_if_not_installed("glmmTMB")
  for (hurdle in c(FALSE, TRUE)) {
    d <- zi_random_sim(M = 60, ni = 8, nb = TRUE, hurdle = hurdle, rho = 0, seed = 5)
    ours <- glmm(y ~ x + (1 | g), data = d, family = if (hurdle) truncated_nbinom2 else nbinom2,
                 ziformula = ~ w + (1 | g), nAGQ = 1)
    tmb <- glmmTMB::glmmTMB(y ~ x + (1 | g), zi = ~ w + (1 | g), data = d,
                            family = if (hurdle) glmmTMB::truncated_nbinom2 else glmmTMB::nbinom2)
    dl <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
    expect_gt(dl, -1e-4)
    expect_lt(abs(dl), 1e-3)
    fx <- glmmTMB::fixef(tmb)
    expect_equal(unname(fixef(ours)), unname(fx$cond), tolerance = 1e-3)
    expect_equal(unname(ours$aux$zi$coef), unname(fx$zi), tolerance = 1e-3)
    expect_equal(unname(ours$aux$disp$coef), unname(fx$disp), tolerance = 1e-3)
    vc <- glmmTMB::VarCorr(tmb)
    expect_equal(unname(attr(VarCorr(ours)[[1]], "stddev")),
                 unname(c(attr(vc$cond$g, "stddev"), attr(vc$zi$g, "stddev"))), tolerance = 2e-3)
  }
})

test_that("correlated random intercepts in both parts match GLMMadaptive (AGHQ)", {
  skip_if_not_installed("GLMMadaptive")
  d <- salamanders_data()
  cases <- list(
    list(ours = poisson, ga = GLMMadaptive::zi.poisson(), k = 11L),
    list(ours = nbinom2, ga = GLMMadaptive::zi.negative.binomial(), k = 7L),
    list(ours = truncated_poisson, ga = GLMMadaptive::hurdle.poisson(), k = 9L))
  for (cs in cases) {
    ga <- GLMMadaptive::mixed_model(count ~ mined, random = ~ 1 | site, data = d,
                                    family = cs$ga, zi_fixed = ~ mined, zi_random = ~ 1 | site,
                                    nAGQ = cs$k,
                                    control = list(iter_EM = 0, tol1 = 1e-10, tol2 = 1e-10,
                                                   tol3 = 1e-12))
    ours <- glmm(count ~ mined + (1 | site), data = d, family = cs$ours,
                 ziformula = ~ mined + (1 | site), zi_correlated = TRUE, nAGQ = cs$k)
    lab <- ours$aux$family_name
    dl <- as.numeric(logLik(ours)) - as.numeric(logLik(ga))
    # GLMMadaptive run to tight tolerances (its defaults stop ~1e-3 lower);
    # ours as high or higher.
    expect_gt(dl, -1e-4)
    expect_lt(dl, 0.01)
    # Estimates: within 5% of a standard error (the nbinom2 zero part is
    # flat: GLMMadaptive stops 0.002 lower in logLik, 0.025 away in a
    # coefficient whose standard error is above 1).
    est <- c(fixef(ours), ours$aux$zi$coef)
    se <- sqrt(diag(ours$cov_theta))[c(1:2, ours$aux$zi_index)]
    ref <- c(GLMMadaptive::fixef(ga), GLMMadaptive::fixef(ga, "zero_part"))
    expect_lt(max(abs(est - ref) / se), 0.05, label = lab)
    expect_equal(as.vector(ours$aux$zi$re$D_full), as.vector(ga$D), tolerance = 0.05, label = lab)
  }
})

test_that("simulated data: known truth recovered, and the fit does not depend on the covariates' units", {
  d <- zi_random_sim(M = 300, ni = 8, rho = 0.5, seed = 11)
  fit <- glmm(y ~ x + (1 | g), data = d, family = poisson, ziformula = ~ w + (1 | g),
              zi_correlated = TRUE, nAGQ = 5)
  expect_equal(unname(fixef(fit)), c(0.6, 0.4), tolerance = 0.2)
  expect_equal(unname(fit$aux$zi$coef), c(-0.7, 0.8), tolerance = 0.3)
  sds <- attr(VarCorr(fit)[[1]], "stddev")
  expect_equal(unname(sds), c(0.6, 0.8), tolerance = 0.3)
  d2 <- d
  d2$x <- 10 * d$x + 3
  d2$w <- 1 - d$w
  fit2 <- glmm(y ~ x + (1 | g), data = d2, family = poisson, ziformula = ~ w + (1 | g),
               zi_correlated = TRUE, nAGQ = 5)
  expect_equal(as.numeric(logLik(fit2)), as.numeric(logLik(fit)), tolerance = 1e-6)
})

test_that("simulate() draws both parts' random effects; refusals name the argument", {
  skip_if_not_installed("glmmTMB")
  d <- salamanders_data()
  fit <- glmm(count ~ mined + (1 | site), data = d, family = poisson,
              ziformula = ~ mined + (1 | site), nAGQ = 1)
  s <- simulate(fit, nsim = 200, seed = 1)
  expect_equal(dim(s), c(nrow(d), 200L))
  # The mean of the simulated zeros against the model's marginal zero probability.
  expect_equal(mean(as.matrix(s) == 0), mean(d$count == 0), tolerance = 0.05)
  # Another grouping factor in the zero part goes to the two-part sparse
  # engine (test-zi-random-sparse.R).
  expect_s3_class(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                       ziformula = ~ mined + (1 | spp)), "glmmgee_glmm_zire_sparse")
  expect_error(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                    ziformula = ~ mined, zi_correlated = TRUE), "zi_correlated")
  expect_error(glmm(count ~ mined + (1 | site), data = d, family = poisson,
                    zi_correlated = NA), "zi_correlated")
})

test_that("standardize() integrates the mean of y over both parts' random effects jointly", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("statmod")
  d <- salamanders_data()
  fits <- list(zi = glmm(count ~ mined + (1 | site), data = d, family = poisson,
                         ziformula = ~ mined + (1 | site), zi_correlated = TRUE, nAGQ = 11),
               hurdle = glmm(count ~ mined + (1 | site), data = d, family = truncated_poisson,
                             ziformula = ~ mined + (1 | site), zi_correlated = TRUE, nAGQ = 11))
  gq <- statmod::gauss.quad.prob(40, "normal")
  for (k in names(fits)) {
    fit <- fits[[k]]
    st <- standardize(fit, "mined")
    R <- chol(fit$aux$zi$re$D_full)
    z1 <- rep(gq$nodes, 40); z2 <- rep(gq$nodes, each = 40)
    w <- rep(gq$weights, 40) * rep(gq$weights, each = 40)
    bc <- R[1, 1] * z1
    bz <- R[1, 2] * z1 + R[2, 2] * z2
    for (v in c("yes", "no")) {
      nd <- d
      nd$mined <- factor(v, levels = levels(d$mined))
      eta <- predict(fit, nd, type = "link", re.form = NA)
      a <- predict(fit, nd, type = "zlink", re.form = NA)
      ref <- mean(vapply(seq_along(eta), function(i) {
        mu <- exp(eta[i] + bc)
        cm <- if (k == "zi") mu else mu / (1 - exp(-mu))
        sum(w * (1 - plogis(a[i] + bz)) * cm)
      }, 0))
      expect_equal(st$estimate[st$quantity == "mean" & st$value == v], ref, tolerance = 1e-7,
                   label = paste(k, v))
    }
    expect_true(all(is.finite(st$std.error)) && all(st$std.error > 0))
  }
})

test_that("the coarse-rule pilot stage reaches the full rule's optimum of a direct search", {
  # The search with nAGQ > 3 maximizes a 3-point rule first; the optimum
  # must be the one a search on the full rule alone finds (laplace_start =
  # FALSE), on Salamanders and on simulated hurdle data.
  d <- salamanders_data()
  sim <- zi_random_sim(M = 60, ni = 6, rho = 0.5, seed = 5, hurdle = TRUE)
  cases <- list(
    list(f = count ~ mined + (1 | site), zi = ~ mined + (1 | site), d = d, fam = poisson),
    list(f = count ~ mined + (1 | site), zi = ~ mined + (1 | site), d = d,
         fam = truncated_poisson),
    list(f = y ~ x + (1 | g), zi = ~ w + (1 | g), d = sim, fam = truncated_poisson))
  for (cs in cases) {
    fit <- function(ctl) glmm(cs$f, data = cs$d, family = cs$fam, ziformula = cs$zi,
                              zi_correlated = TRUE, nAGQ = 9, control = ctl)
    a <- fit(glmm_control())
    b <- fit(glmm_control(laplace_start = FALSE))
    lab <- paste(a$aux$family_name, nrow(cs$d))
    expect_true("pilot" %in% names(a$optinfo$stages), label = lab)
    expect_false("pilot" %in% names(b$optinfo$stages), label = lab)
    expect_equal(a$optinfo$convergence, 0L, label = lab)
    expect_gt(as.numeric(logLik(a)) - as.numeric(logLik(b)), -1e-8)
    expect_equal(a$theta, b$theta, tolerance = 1e-5, label = lab)
    # The full rule's evaluations: at most those of the direct search.
    full <- function(f) {
      st <- f$optinfo$stages
      sum(vapply(intersect(c("curvature", "newton", "nlminb"), names(st)),
                 function(k) as.integer(st[[k]]$evaluations), 1L))
    }
    expect_lte(full(a), full(b), label = lab)
  }
})


test_that("a grouping factor in both parts: the two-part search reaches glmmTMB's optimum, not a lower one", {
  # Site effects in both parts: the mined sites' zeros can be carried by the
  # count part (site SD 0.47, zero intercept -2.2) or by the zero part (zero
  # site SD 2.0, zero intercept -0.66). The search from the default start
  # stopped at the first, 0.049 below glmmTMB's optimum, with no warning.
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- expect_no_warning(glmm(count ~ mined + (1 | site), data = Salamanders, family = nbinom2(),
                                ziformula = ~ (1 | spp) + (1 | site)))
  tmb <- glmmTMB::glmmTMB(count ~ mined + (1 | site), data = Salamanders,
                          family = glmmTMB::nbinom2(), ziformula = ~ (1 | spp) + (1 | site))
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(tmb)) - 1e-6)
  expect_equal(unname(fixef(fit)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-3)
  expect_equal(unname(fit$aux$zi$coef), unname(glmmTMB::fixef(tmb)$zi), tolerance = 1e-3)
})
