# Reproducers from hostile testing of the round-20 features (penalized
# zero-inflated fits, ordinal GEE with global odds ratios, one-factor REML,
# gaussian fits on y / s, structured REML beside other terms).

ohio_frame <- function() {
  data("ohio", package = "geepack", envir = environment())
  ohio
}

test_that("the ordinal GEE does not depend on where a covariate is centred or its units", {
  # age + 1e4 is nearly collinear with the thresholds: the independence and
  # global odds ratio fits stopped at the first step with a singular
  # information and gave no standard errors.
  skip_if_not_installed("geepack")
  o <- ohio_frame()
  o$a4 <- o$age + 1e4
  o$a6 <- o$age * 1e6
  for (cs in c("independence", "global.exchangeable", "global.unstructured", "uniform")) {
    f <- gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
             corstr = cs)
    h <- expect_no_warning(gee(factor(resp) ~ a4 + smoke, data = o, id = id, waves = age,
                               family = cumulative, corstr = cs))
    g <- gee(factor(resp) ~ a6 + smoke, data = o, id = id, waves = age, family = cumulative,
             corstr = cs)
    expect_true(h$converged, info = cs)
    expect_equal(unname(coef(h)[2:3]), unname(coef(f)[2:3]), tolerance = 1e-8, info = cs)
    # The threshold at a4 = 0 is the one at age = 0 moved along the slope.
    expect_equal(unname(coef(h)[1]), unname(coef(f)[1] + 1e4 * coef(f)[2]), tolerance = 1e-8,
                 info = cs)
    expect_equal(unname(sqrt(diag(vcov(h)))[2:3]), unname(sqrt(diag(vcov(f)))[2:3]),
                 tolerance = 1e-6, info = cs)
    expect_equal(unname(coef(g)[2]) * 1e6, unname(coef(f)[2]), tolerance = 1e-8, info = cs)
    expect_equal(unname(sqrt(diag(vcov(g)))[2]) * 1e6, unname(sqrt(diag(vcov(f)))[2]),
                 tolerance = 1e-6, info = cs)
  }
})

test_that("global odds ratios on clusters of over 96 rows (the blocked factor) agree with ordgee", {
  # Five clusters of 100 binary responses give working covariances of
  # 100 x 100, factored by the blocked routine. (For three or more
  # categories ordgee's within-time covariance differs: NEWS, ?ordinal-gee.)
  skip_if_not_installed("geepack")
  set.seed(21)
  K <- 5
  m <- 100
  d <- data.frame(id = rep(seq_len(K), each = m), t = rep(seq_len(m), K), x = rnorm(K * m))
  d$y <- ordered(rbinom(K * m, 1, plogis(0.5 * d$x + rnorm(K)[d$id])))
  ref <- geepack::ordgee(y ~ x, data = d, id = id, waves = t, corstr = "exchangeable",
                         control = geepack::geese.control(epsilon = 1e-10, maxit = 200))
  ours <- gee(y ~ x, data = d, id = id, waves = t, family = cumulative,
              corstr = "global.exchangeable")
  expect_true(ours$converged)
  expect_equal(unname(coef(ours)), unname(c(-ref$beta[1], ref$beta[2])), tolerance = 1e-6)
  expect_equal(unname(ours$association$parameters), unname(ref$alpha), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(ref$vbeta))), tolerance = 1e-5)
})

test_that("the ordinal GEE warns before a slow fit on huge clusters and refuses one beyond memory", {
  # Two clusters of 501 rows (binary response, so the fit stays quick); in
  # a child process, so that a crash fails this test only.
  res <- run_child(c(
    "set.seed(1); m <- 501",
    "d <- data.frame(id = rep(1:2, each = m), x = rnorm(2 * m))",
    "d$y <- factor(rbinom(2 * m, 1, plogis(d$x + rnorm(2)[d$id])))",
    "w <- character()",
    "f <- withCallingHandlers(gee(y ~ x, data = d, id = id, family = cumulative,",
    "  corstr = 'global.exchangeable'), warning = function(c) {",
    "  w <<- c(w, conditionMessage(c)); invokeRestart('muffleWarning') })",
    "child_say('warn', paste(w, collapse = ' | '))",
    "child_say('recorded', any(grepl('largest cluster has 501', f$warnings)))",
    "child_say('converged', f$converged)",
    "options(glmmgee.memory_limit = 1e6)",
    "child_try('memory', gee(y ~ x, data = d, id = id, family = cumulative, corstr = 'uniform'))"),
    timeout = 300)
  expect_child_ok(res, c("warn", "recorded", "converged", "memory"))
  expect_match(res$reports[["warn"]], "largest cluster has 501 responses", fixed = TRUE)
  expect_match(res$reports[["warn"]], "corstr = \"independence\"", fixed = TRUE)
  expect_equal(res$reports[["recorded"]], "TRUE")
  expect_equal(res$reports[["converged"]], "TRUE")
  expect_match(res$reports[["memory"]], "ERROR: corstr = \"uniform\": the working covariance of a cluster of 501 responses needs about",
               fixed = TRUE)
  # Ordinary clusters: no such warning.
  skip_if_not_installed("geepack")
  o <- ohio_frame()
  expect_no_warning(gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age,
                        family = cumulative, corstr = "global.exchangeable"))
})

test_that("fitted() and residuals() of an ordinal GEE do not return NULL", {
  skip_if_not_installed("geepack")
  o <- ohio_frame()
  f <- gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
           corstr = "global.exchangeable")
  P <- fitted(f)
  expect_equal(dim(P), c(nrow(o), 2L))
  expect_equal(unname(rowSums(P)), rep(1, nrow(o)), tolerance = 1e-12)
  expect_equal(P, predict(f, type = "prob"))
  expect_error(residuals(f), "not defined (the response is a category)", fixed = TRUE)
  o$r <- factor(o$resp)
  o$r[c(3, 50)] <- NA
  ex <- gee(r ~ age + smoke, data = o, id = id, waves = age, family = cumulative,
            corstr = "global.exchangeable", na.action = na.exclude)
  Pe <- fitted(ex)
  expect_equal(dim(Pe), c(nrow(o), 2L))
  expect_equal(unname(which(is.na(Pe[, 1]))), c(3L, 50L))
})

zi_counts <- function(seed = 1, M = 30, m = 8) {
  set.seed(seed)
  n <- M * m
  d <- data.frame(g = factor(rep(seq_len(M), each = m)), x = rnorm(n))
  mu <- exp(0.5 + 0.4 * d$x + rnorm(M, sd = 0.5)[d$g])
  z <- rbinom(n, 1, plogis(-0.5 + 0.5 * d$x))
  d$y <- ifelse(z == 1, 0, rpois(n, mu))
  d
}

test_that("zero-inflated, hurdle and dispersion fits with na.exclude pad fitted values and residuals", {
  # The count part's predictor came padded and the zero part's not: the
  # stored fitted values were recycled with a warning at fit time, and
  # fitted()/residuals() stopped with a names-length error.
  d <- zi_counts()
  d$x[c(5, 17)] <- NA
  d$y[30] <- NA
  drop <- c(5, 17, 30)
  specs <- list(zip = list(family = poisson, ziformula = ~ x),
                hurdle = list(family = truncated_poisson, ziformula = ~ x),
                penalized = list(family = poisson, ziformula = ~ x, penalized = TRUE),
                disp = list(family = nbinom2, dispformula = ~ x))
  for (info in names(specs)) {
    sp <- specs[[info]]
    ex <- expect_no_warning(do.call(glmm, c(list(y ~ x + (1 | g), d, na.action = na.exclude), sp)))
    om <- do.call(glmm, c(list(y ~ x + (1 | g), d, na.action = na.omit), sp))
    ft <- fitted(ex)
    expect_length(ft, nrow(d))
    expect_equal(unname(which(is.na(ft))), drop, info = info)
    expect_equal(unname(ft[-drop]), unname(fitted(om)), tolerance = 1e-12, info = info)
    r <- residuals(ex)
    expect_length(r, nrow(d))
    expect_equal(unname(r[-drop]), d$y[-drop] - unname(fitted(om)), tolerance = 1e-12, info = info)
    expect_equal(unname(which(is.na(residuals(ex, type = "pearson")))), drop, info = info)
    expect_length(predict(ex, type = "zprob"), nrow(d))
    expect_length(fitted(om), nrow(d) - 3L)
  }
})

test_that("a random slope on a covariate in large units is not reported singular", {
  # Days * 1e6: the slope's variance is 1e-14 times the intercept's, and
  # mapping the optimum back to the user's units zeroed its column of the
  # factor: a false singular fit, no standard errors and a wrong slope SD
  # (at the right log-likelihood).
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$D6 <- s$Days * 1e6
  a <- glmm(Reaction ~ Days + (Days | Subject), s)
  b <- expect_no_warning(glmm(Reaction ~ D6 + (D6 | Subject), s))
  expect_false(b$singular)
  expect_equal(as.numeric(logLik(b)), as.numeric(logLik(a)), tolerance = 1e-8)
  expect_equal(unname(b$Lambda[2, ]) * 1e6, unname(a$Lambda[2, ]), tolerance = 1e-5)
  expect_equal(unname(sqrt(diag(vcov(b)))[2]) * 1e6, unname(sqrt(diag(vcov(a)))[2]),
               tolerance = 1e-4)
  skip_if_not_installed("lme4")
  l <- lme4::lmer(Reaction ~ Days + (Days | Subject), s, REML = FALSE)
  expect_gte(as.numeric(logLik(b)), as.numeric(logLik(l)) - 1e-6)
})
