# Post-estimation of fits with zero-part random effects by the two-part
# sparse engine (class glmmgee_glmm_zire_sparse): against the one-factor
# route on a model both fit, against glmmTMB (predictions, tidy), and the
# means over both parts' random effects against simulation with known
# parameters.

test_that("a zero-part term on the conditional factor: the sparse route gives the one-factor route's predictions, standardize() and marginal_coefs()", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB")
  S <- Salamanders
  S$site2 <- S$site  # the same grouping under another name: the sparse route
  for (fam in list(poisson, truncated_nbinom2)) {
    f1 <- glmm(count ~ mined + (1 | site), data = S, family = fam,
               ziformula = ~ mined + (1 | site))
    f2 <- glmm(count ~ mined + (1 | site), data = S, family = fam,
               ziformula = ~ mined + (1 | site2))
    expect_s3_class(f1, "glmmgee_glmm_zire")
    expect_s3_class(f2, "glmmgee_glmm_zire_sparse")
    expect_equal(as.numeric(logLik(f2)), as.numeric(logLik(f1)), tolerance = 1e-7)
    for (ty in c("conditional", "zprob", "response"))
      expect_equal(unname(predict(f2, type = ty)), unname(predict(f1, type = ty)),
                   tolerance = 1e-4)
    nd <- S[c(1, 200, 400), ]
    expect_equal(unname(predict(f2, nd, re.form = NA)), unname(predict(f1, nd, re.form = NA)),
                 tolerance = 1e-4)
    s1 <- standardize(f1, "mined")
    s2 <- standardize(f2, "mined")
    expect_equal(s2$estimate, s1$estimate, tolerance = 1e-4)
    expect_equal(s2$std.error, s1$std.error, tolerance = 1e-3)
    s1c <- standardize(f1, "mined", re = "conditional")
    s2c <- standardize(f2, "mined", re = "conditional")
    expect_equal(s2c$estimate, s1c$estimate, tolerance = 1e-4)
    m1 <- marginal_coefs(f1)
    m2 <- marginal_coefs(f2)
    expect_equal(coef(m2), coef(m1), tolerance = 1e-4)
    expect_equal(vcov(m2), vcov(m1), tolerance = 1e-3)
    # Marginal and conditional differ (the random effects matter here).
    expect_gt(max(abs(s2$estimate - s2c$estimate)), 0.01)
  }
})

# Crossed terms in both parts: conditional (1 | a) + (1 | b), zero part
# x + (1 | a) + (1 | cc).
zi_random_sparse_crossed <- function(seed = 11, hurdle = FALSE) {
  set.seed(seed)
  n <- 1200
  a <- sample(30, n, TRUE); b <- sample(20, n, TRUE); cc <- sample(25, n, TRUE)
  x <- rnorm(n)
  eta <- 0.7 + 0.4 * x + rnorm(30, 0, 0.5)[a] + rnorm(20, 0, 0.4)[b]
  pz <- plogis(-0.6 + 0.6 * x + rnorm(30, 0, 0.7)[a] + rnorm(25, 0, 0.5)[cc])
  mu <- exp(eta)
  yc <- if (hurdle) pmax(1, qpois(runif(n, dpois(0, mu), 1), mu)) else rpois(n, mu)
  data.frame(a = factor(a), b = factor(b), cc = factor(cc), x = x,
             y = ifelse(runif(n) < pz, 0, yc))
}

test_that("crossed terms in both parts: marginal means of y equal the mean of simulations with new random effects", {
  for (hurdle in c(FALSE, TRUE)) {
    d <- zi_random_sparse_crossed(hurdle = hurdle)
    fit <- glmm(y ~ x + (1 | a) + (1 | b), data = d,
                family = if (hurdle) truncated_poisson else poisson,
                ziformula = ~ x + (1 | a) + (1 | cc))
    expect_s3_class(fit, "glmmgee_glmm_zire_sparse")
    re <- glmmgee:::re_structure(fit, "test")
    m <- glmmgee:::glmm_means(re, fit$family, fit$theta, fit$X, re$Z, fit$offset,
                              "marginal")$mean
    # Each row's mean over new draws of all terms of both parts: the
    # totals of 400 simulated data sets (rows share levels, so the spread
    # of the totals carries their correlation).
    s <- as.matrix(simulate(fit, nsim = 400, seed = 3))
    tot <- colSums(s)
    expect_lt(abs(mean(tot) - sum(m)), 4 * sd(tot) / sqrt(length(tot)))
    # Per observation too, pooled over the rows with the largest and the
    # smallest x (where the marginal mean differs most from the conditional).
    hi <- order(d$x, decreasing = TRUE)[1:50]
    th <- colSums(s[hi, ])
    expect_lt(abs(mean(th) - sum(m[hi])), 4 * sd(th) / sqrt(length(th)))
    mc <- predict(fit, re.form = NA)
    expect_gt(abs(sum(m) - sum(mc)) / (sd(tot) / sqrt(length(tot))), 4)
    # standardize() and marginal_coefs() run on these means, with SEs.
    st <- standardize(fit, "x", values = c(-1, 1))
    expect_true(all(is.finite(st$estimate)) && all(st$std.error > 0))
    mcf <- marginal_coefs(fit)
    expect_true(all(is.finite(sqrt(diag(vcov(mcf))))))
    # The marginal log mean at x = 0 averaged over rows is the intercept's
    # order; the marginal slope lies between the two parts' pull.
    expect_equal(unname(coef(mcf)), unname(qr.coef(qr(fit$X), log(m))), tolerance = 1e-10)
  }
})

test_that("crossed zero part: predictions of every type and tidy() match glmmTMB", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("broom.mixed")
  d <- zi_random_sparse_crossed()
  f <- y ~ x + (1 | a) + (1 | b)
  fit <- glmm(f, data = d, family = poisson, ziformula = ~ x + (1 | a) + (1 | cc))
  m <- glmmTMB::glmmTMB(f, ziformula = ~ x + (1 | a) + (1 | cc), data = d, family = poisson)
  for (ty in c("conditional", "zprob", "response", "link", "zlink"))
    expect_equal(unname(predict(fit, type = ty)), unname(predict(m, type = ty)),
                 tolerance = 2e-3)
  # re.form = NA: both parts at zero random effects, from glmmTMB's
  # coefficients (glmmTMB 1.1.5's own predict(re.form = NA) does not set
  # the zero part's effects to zero with new data).
  nd <- d[1:5, ]
  Xn <- cbind(1, nd$x)
  mu0 <- exp(drop(Xn %*% glmmTMB::fixef(m)$cond))
  pz0 <- plogis(drop(Xn %*% glmmTMB::fixef(m)$zi))
  expect_equal(unname(predict(fit, nd, type = "conditional", re.form = NA)), mu0,
               tolerance = 2e-3)
  expect_equal(unname(predict(fit, nd, type = "zprob", re.form = NA)), pz0, tolerance = 2e-3)
  expect_equal(unname(predict(fit, nd, type = "response", re.form = NA)), (1 - pz0) * mu0,
               tolerance = 2e-3)
  to <- tidy(fit, conf.int = TRUE)
  tt <- as.data.frame(broom.mixed::tidy(m, conf.int = TRUE))
  key <- function(x) paste(x$effect, x$component, ifelse(is.na(x$group), "", x$group), x$term)
  expect_setequal(key(to), key(tt))
  tt <- tt[match(key(to), key(tt)), ]
  expect_equal(to$estimate, tt$estimate, tolerance = 5e-3)
  fx <- to$effect == "fixed"
  expect_equal(to$std.error[fx], tt$std.error[fx], tolerance = 1e-2)
  expect_equal(to$conf.low[fx], tt$conf.low[fx], tolerance = 1e-2)
  # The zero part's SDs have delta-method standard errors.
  zsd <- to$effect == "ran_pars" & to$component == "zi"
  expect_equal(sum(zsd), 2L)
  expect_true(all(to$std.error[zsd] > 0))
  g <- glance(fit)
  expect_equal(g$logLik, as.numeric(logLik(m)), tolerance = 1e-6)
  expect_equal(g$AIC, AIC(m), tolerance = 1e-6)
})

test_that("zero-inflated binomial: standardized means are (1 - pi) E_b[plogis(eta + b)], not the log link's", {
  set.seed(5)
  n <- 600; g <- rep(1:60, each = 10); x <- rnorm(n); N <- 8
  p <- plogis(-0.3 + 0.8 * x + rnorm(60, 0, 1)[g])
  y <- ifelse(runif(n) < plogis(-1), 0, rbinom(n, N, p))
  d <- data.frame(y = y, f = N - y, x = x, g = factor(g))
  fit <- glmm(cbind(y, f) ~ x + (1 | g), data = d, family = binomial, ziformula = ~ 1)
  st <- standardize(fit, "x", values = c(0, 1))
  sd0 <- sqrt(VarCorr(fit)[[1L]][1L])
  pz0 <- plogis(unname(fit$aux$zi$coef))
  truth <- vapply(c(0, 1), function(v) (1 - pz0) * integrate(function(t)
    plogis(sum(fixef(fit) * c(1, v)) + sd0 * t) * dnorm(t), -Inf, Inf, rel.tol = 1e-10)$value, 0)
  expect_equal(st$estimate[st$quantity == "mean"], truth, tolerance = 1e-7)
  stc <- standardize(fit, "x", values = c(0, 1), re = "conditional")
  expect_equal(stc$estimate[stc$quantity == "mean"],
               (1 - pz0) * plogis(fixef(fit)[[1L]] + fixef(fit)[[2L]] * c(0, 1)), tolerance = 1e-7)
})
