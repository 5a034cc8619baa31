# Covariance structures and penalized fixed effects with several grouping
# factors (sparse Laplace engine; glmm-sparse-covstruct.R,
# fit-sparse-covstruct.R): glmmTMB's covstruct vignette models with a
# second term, simulated crossed and nested designs with known truth, and
# the one-factor penalized fit where the second term vanishes.

# The vignette's AR(1) over a time factor within `group`, plus a site
# effect crossed with the groups (or nested: groups within sites).
sim_ar1_site <- function(seed, M, n = 6, phi = 0.7, S = 15, family = "gaussian", sd = 1,
                         ssd = 0.6, nested = FALSE) {
  set.seed(seed)
  R <- phi^as.matrix(stats::dist(seq_len(n)))
  b <- matrix(stats::rnorm(M * n), M) %*% chol(R) * sd
  d <- data.frame(times = factor(rep(seq_len(n), M)), group = factor(rep(seq_len(M), each = n)),
                  x = stats::rnorm(M * n))
  d$site <- if (nested) factor(((as.integer(d$group) - 1L) %% S) + 1L)
            else factor(sample(S, M * n, replace = TRUE))
  u <- stats::rnorm(S, 0, ssd)
  eta <- as.vector(t(b)) + u[d$site]
  d$y <- switch(family,
                gaussian = 0.5 + 0.3 * d$x + eta + stats::rnorm(M * n),
                poisson = stats::rpois(M * n, exp(0.3 + 0.2 * d$x + eta)),
                binomial = stats::rbinom(M * n, 1, stats::plogis(-0.2 + 0.4 * d$x + eta)))
  d
}

# diag(1 + x | group) beside the crossed site (sparse engine) and alone
# (one factor).
diag_site_fits <- function(d) {
  list(sparse = glmm(y ~ x + diag(1 + x | group) + (1 | site), data = d, family = poisson),
       one = glmm(y ~ x + diag(1 + x | group), data = d, family = poisson))
}

test_that("ar1() beside a crossed site: the vignette's gaussian model matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_ar1_site(1, 150)
  form <- y ~ x + ar1(times + 0 | group) + (1 | site)
  f <- glmm(form, data = d)
  m <- glmmTMB::glmmTMB(form, data = d)
  expect_s3_class(f, "glmmgee_glmm_covstruct")
  expect_s3_class(f, "glmmgee_glmm_sparse")
  expect_gte(loglik_value(f), loglik_value(m) - 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(m)$cond))), tolerance = 1e-3)
  s <- f$structures
  expect_equal(unname(s[[1L]]$sd[1L]), tmb_sd(m, "group")[1L], tolerance = 1e-4)
  expect_equal(s[[1L]]$rho, tmb_rho(m, "group"), tolerance = 1e-4)
  expect_equal(unname(s[[2L]]$sd), tmb_sd(m, "site"), tolerance = 1e-4)
  expect_equal(sigma(f), sigma(m), tolerance = 1e-4)
  # Known truth: rho 0.7, sd 1, site sd 0.6 (15 sites: loose).
  expect_lt(abs(s[[1L]]$rho - 0.7), 0.1)
  expect_lt(abs(s[[1L]]$sd[1L] - 1), 0.15)
  # One variance and correlation rho^|j - k| in the group's block.
  D <- VarCorr(f)$group
  expect_equal(D[1, 3] / D[1, 1], s[[1L]]$rho^2, tolerance = 1e-8)
  expect_equal(attr(logLik(f), "df"), 6)  # 2 fixed, sd, rho, site sd, sigma
  expect_output(print(f), "AR\\(1\\)")
  expect_output(print(summary(f)), "rho")
  ci <- confint(f, method = "Wald")
  expect_true(all(is.finite(ci)))
})

test_that("cs(), diag() and homdiag() beside a second factor (Poisson, binomial) match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_ar1_site(2, 100, n = 4, phi = 0.5, family = "poisson", sd = 0.7, ssd = 0.5)
  for (form in list(y ~ x + cs(0 + times | group) + (1 | site),
                    y ~ x + diag(1 + x | group) + (1 | site))) {
    f <- suppressWarnings(glmm(form, data = d, family = poisson))
    m <- suppressWarnings(glmmTMB::glmmTMB(form, data = d, family = poisson))
    lab <- deparse(form)
    expect_gte(loglik_value(f), loglik_value(m) - 1e-6, label = lab)
    expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4, label = lab)
    expect_equal(unname(sqrt(diag(vcov(f)))), unname(sqrt(diag(vcov(m)$cond))), tolerance = 1e-3,
                 label = lab)
    expect_equal(unname(f$structures[[1L]]$sd), tmb_sd(m, "group"), tolerance = 1e-4, label = lab)
    if (!is.null(f$structures[[1L]]$rho))
      expect_equal(f$structures[[1L]]$rho, tmb_rho(m, "group"), tolerance = 1e-4, label = lab)
  }
  db <- sim_ar1_site(3, 150, n = 4, phi = 0.6, family = "binomial", sd = 0.9, ssd = 0.5)
  fh <- glmm(y ~ x + homdiag(1 + x | group) + (1 | site), db, family = binomial)
  mh <- suppressWarnings(glmmTMB::glmmTMB(y ~ x + diag(1 + x | group) + (1 | site), db,
                                          family = binomial, map = list(theta = factor(c(1, 1, 2)))))
  expect_gte(loglik_value(fh), loglik_value(mh) - 1e-6)
  expect_equal(unname(fh$structures[[1L]]$sd[1L]), tmb_sd(mh, "group")[1L], tolerance = 1e-4)
  expect_equal(unname(fixef(fh)), unname(glmmTMB::fixef(mh)$cond), tolerance = 1e-4)
  expect_output(print(fh), "one common variance")
})

test_that("diag(): the correlation it fixes at 0 has no interval, as VarCorr() shows none", {
  d <- sim_ar1_site(2, 100, n = 4, phi = 0.5, family = "poisson", sd = 0.7, ssd = 0.5)
  for (f in diag_site_fits(d)) {
    # (a Wald row [0, 0] before: the correlation is not a parameter)
    w <- confint(f)
    expect_false(any(grepl("^cor_", rownames(w))))
    expect_true(all(c("sd_(Intercept)|group", "sd_x|group") %in% rownames(w)))
    expect_equal(nrow(as.data.frame(VarCorr(f))), sum(grepl("^sd_", rownames(w))))
  }
})

test_that("a structured fit's profile takes the Wald names of the structures' parameters", {
  d <- sim_ar1_site(2, 100, n = 4, phi = 0.5, family = "poisson", sd = 0.7, ssd = 0.5)
  for (f in diag_site_fits(d)) {
    p_w <- confint(f, parm = c("sd_x|group", "x"), method = "profile")
    p_s <- confint(f, parm = c("diag(1 + x | group): sd(x)", "x"), method = "profile")
    expect_identical(rownames(p_w), c("sd_x|group", "x"))
    expect_equal(unname(p_w), unname(p_s))
    sdx <- f$structures[[1L]]$sd[["x"]]
    expect_true(p_w[1, 1] < sdx && sdx < p_w[1, 2])
    expect_identical(levels(profile(f, which = "sd_x|group")$parameter), "diag(1 + x | group): sd(x)")
  }
  # A Wald row that is no single structure parameter is refused with the
  # reason and the names the profile takes.
  fa <- glmm(y ~ x + ar1(0 + times | group) + (1 | site), data = d, family = poisson)
  expect_error(confint(fa, parm = "cor_times3.times1|group", method = "profile"),
               "not a parameter of this fit's profile.*'ar1\\(0 \\+ times \\| group\\): rho'.*'cor_times2.times1\\|group'")
})

test_that("nested design (groups within sites): ar1() and the site intercept match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  d <- sim_ar1_site(4, 120, n = 5, phi = 0.6, S = 20, family = "poisson", sd = 0.6,
                    nested = TRUE)
  form <- y ~ x + ar1(0 + times | group) + (1 | site)
  f <- suppressWarnings(glmm(form, data = d, family = poisson))
  m <- suppressWarnings(glmmTMB::glmmTMB(form, data = d, family = poisson))
  expect_gte(loglik_value(f), loglik_value(m) - 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  expect_equal(f$structures[[1L]]$rho, tmb_rho(m, "group"), tolerance = 1e-4)
  expect_equal(unname(f$structures[[2L]]$sd), tmb_sd(m, "site"), tolerance = 1e-4)
  # The unstructured 5 x 5 block nests AR(1): at least this log-likelihood.
  fu <- suppressWarnings(glmm(y ~ x + (0 + times | group) + (1 | site), d, family = poisson))
  expect_gte(loglik_value(fu), loglik_value(f) - 1e-6)
})

test_that("single-column terms searched first as log(sd): an interior and a zero variance", {
  skip_if_not_installed("glmmTMB")
  # covstruct-logsd.R: (1 | site) and (1 | blk) start on log(sd), then the
  # search ends on Lambda's entries; blk has no effect (a zero variance).
  d <- sim_ar1_site(11, 200, n = 4, phi = 0.6, S = 12, family = "poisson", sd = 0.8, ssd = 0.5)
  d$blk <- factor(rep(seq_len(20), length.out = nrow(d)))
  form <- y ~ x + ar1(0 + times | group) + (1 | site) + (1 | blk)
  f <- suppressWarnings(glmm(form, data = d, family = poisson))
  m <- suppressWarnings(glmmTMB::glmmTMB(form, data = d, family = poisson))
  expect_true(all(c("newton_logsd", "newton", "newton_polish") %in% names(f$optinfo$stages)))
  expect_gte(loglik_value(f), loglik_value(m) - 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(m)$cond), tolerance = 1e-4)
  s <- f$structures
  expect_equal(s[[1L]]$rho, tmb_rho(m, "group"), tolerance = 1e-3)
  # The site's entry is reported as Lambda's entry, its standard error on it.
  expect_equal(unname(s[[2L]]$parameters), tmb_sd(m, "site"), tolerance = 1e-4)
  expect_equal(names(s[[2L]]$parameters), "lambda[(Intercept),(Intercept)]")
  se_tmb <- sqrt(diag(vcov(m, full = TRUE)))[["theta_1|site.1"]] * tmb_sd(m, "site")
  expect_equal(unname(s[[2L]]$se), se_tmb, tolerance = 1e-3)
  expect_true(f$singular)
  expect_true(f$optinfo$boundary_check$verified)
  expect_lt(abs(s[[3L]]$parameters[[1L]]), 1e-4)
})

test_that("the optimum does not depend on centring or scaling the time covariate", {
  d <- sim_ar1_site(5, 80, n = 5, family = "poisson", sd = 0.6, ssd = 0.4)
  d$tnum <- as.numeric(d$times)
  d$tscaled <- (d$tnum - 3) * 250
  f1 <- suppressWarnings(glmm(y ~ tnum + ar1(0 + times | group) + (1 | site), d, family = poisson))
  f2 <- suppressWarnings(glmm(y ~ tscaled + ar1(0 + times | group) + (1 | site), d,
                              family = poisson))
  expect_equal(loglik_value(f1), loglik_value(f2), tolerance = 1e-9)
  expect_equal(fixef(f1)[["tnum"]], 250 * fixef(f2)[["tscaled"]], tolerance = 1e-6)
  expect_equal(f1$structures[[1L]]$rho, f2$structures[[1L]]$rho, tolerance = 1e-6)
  expect_equal(unname(f1$structures[[2L]]$sd), unname(f2$structures[[2L]]$sd), tolerance = 1e-6)
})

test_that("the objective's gradient through the structures is exact", {
  d <- sim_ar1_site(6, 40, n = 4, family = "poisson", sd = 0.6)
  form <- y ~ x + cs(0 + times | group) + (1 + x | site)
  mf <- model.frame(glmmgee:::covstruct_frame_formula(form), d)
  re <- glmmgee:::sparse_covstruct_terms(form, mf)
  X <- model.matrix(~ x, d)
  fam <- glmmgee:::resolve_family(poisson, environment())
  eng <- glmmgee:::cpp_sparse_new(X, re$Z, as.numeric(d$y), rep(1, nrow(d)), rep(0, nrow(d)),
                                  re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                                  fam$family_code, fam$link_code)
  k_re <- list(3:7, 8:10)
  prior <- glmmgee:::penalty_prior(TRUE)
  evalf <- glmmgee:::structure_evalf(function(th, g) glmmgee:::cpp_sparse_eval(eng, th, g),
                                     re$terms, k_re, 2L, FALSE, diag(2), prior)
  par <- c(0.2, 0.1, log(c(0.5, 0.6, 0.7, 0.4)), 0.3, 0.4, 0.1, 0.2)
  g <- evalf(par)$gradient
  gn <- vapply(seq_along(par), function(j) {
    h <- 1e-5
    pp <- par; pp[j] <- pp[j] + h
    pm <- par; pm[j] <- pm[j] - h
    (evalf(pp, FALSE)$loglik - evalf(pm, FALSE)$loglik) / (2 * h)
  }, 1)
  expect_equal(g, gn, tolerance = 1e-5)
})

sim_sep_crossed <- function(seed, M = 60, H = 12) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = 6)), x = stats::rnorm(6 * M))
  d$h <- factor(sample(H, nrow(d), replace = TRUE))
  d$trt <- rep(0:1, length.out = M)[d$g]
  b <- stats::rnorm(M, 0, 0.8)
  d$y2 <- stats::rbinom(nrow(d), 1, stats::plogis(-0.3 + 0.5 * d$x + b[d$g]))
  d$y <- d$y2
  d$y[d$trt == 1] <- 1  # no failures among the treated: quasi-complete separation
  d
}

test_that("penalized = TRUE with two crossed factors: finite estimates under separation", {
  d <- sim_sep_crossed(21)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + trt + (1 | g) + (1 | h), d, family = binomial,
                                penalized = TRUE),
                           warning = function(cond) {
                             w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
                           })
  expect_s3_class(f, "glmmgee_glmm_sparse")
  expect_true(all(is.finite(fixef(f))))
  expect_true(all(is.finite(sqrt(diag(vcov(f))))))
  expect_true(any(grepl("separation.*penalized", w)))
  expect_true(any(grepl("separation", f$optinfo$warnings)))
  expect_equal(loglik_value(f), f$penalty$objective - f$penalty$value)
  expect_output(print(f), "Student-t prior")
  # Without the penalty the separation warning recommends it.
  w0 <- character()
  withCallingHandlers(glmm(y ~ x + trt + (1 | g) + (1 | h), d, family = binomial),
                      warning = function(cond) {
                        w0 <<- c(w0, conditionMessage(cond)); invokeRestart("muffleWarning")
                      })
  expect_true(any(grepl("separation.*penalized = TRUE", w0)))
})

test_that("the penalized sparse fit is the one-factor penalized fit when the second variance is zero", {
  d <- sim_sep_crossed(22)
  # h has no effect in the simulation; at this seed its estimate is on the
  # boundary, where the model is the one-factor one.
  f2 <- suppressWarnings(glmm(y ~ x + trt + (1 | g) + (1 | h), d, family = binomial,
                              penalized = TRUE))
  expect_true(f2$singular)
  expect_true(f2$optinfo$boundary_check$verified)
  expect_lt(f2$structures[[2L]]$parameters[[1L]]^2, 1e-8)
  f1 <- suppressWarnings(glmm(y ~ x + trt + (1 | g), d, family = binomial, nAGQ = 1,
                              penalized = TRUE))
  expect_equal(f2$penalty$objective, f1$penalty$objective, tolerance = 1e-7)
  expect_equal(unname(fixef(f2)), unname(fixef(f1)), tolerance = 1e-4)
  expect_equal(unname(f2$structures[[1L]]$sd), unname(f1$structures[[1L]]$sd), tolerance = 1e-4)
})

test_that("structures with several factors refuse what they cannot fit, naming the problem", {
  d <- sim_ar1_site(7, 20, n = 3)
  expect_error(glmm(y ~ ar1(0 + times | group) + (1 | site), d, nAGQ = 5), "nAGQ")
  expect_error(glmm(y ~ ar1(0 + x | group) + (1 | site), d), "at least two columns")
  expect_error(glmm(round(exp(y)) ~ ar1(0 + times | group) + (1 | site), d, family = poisson,
                    REML = TRUE), "REML")
  expect_error(glmm(y ~ ar1(0 + times | group) + (1 | site), d, start = c(0, 1)), "start")
  d$z <- as.numeric(d$y > 0.5)
  f <- suppressWarnings(glmm(z ~ x + ar1(0 + times | group) + (1 | site), d, family = binomial))
  expect_error(standardize(f, "x", values = c(0, 1), se = "bootstrap"), "bootstrap")
})
