# The m-dependent and AR-M working correlations of gee() (corstr =
# "stat_M_dep", "non_stat_M_dep", "AR-M" with order Mv), against glmtoolbox's
# glmgee() on its help-page examples and variations of them.

glmtoolbox_data <- function(name) {
  e <- new.env()
  utils::data(list = name, package = "glmtoolbox", envir = e)
  as.data.frame(e[[name]])
}

test_that("m-dependent and AR-M working correlations equal glmtoolbox's glmgee()", {
  skip_if_not_installed("glmtoolbox")
  cases <- list(
    # glmgee()'s help-page examples 1, 2, 3 and 5
    list(size ~ poly(days, 4) + treat, "tree", Gamma(log), "AR-M-dependent(1)", "AR-M", 1, "spruces"),
    list(depressd ~ visit + group, "subj", binomial(logit), "AR-M-dependent(1)", "AR-M", 1, "depression"),
    list(dep ~ visit * group, "subj", gaussian(), "AR-M-dependent(1)", "AR-M", 1, "depression"),
    list(pain2 ~ treatment + age + time, "id", binomial(logit), "Stationary-M-dependent(2)",
         "stat_M_dep", 2, "cholecystectomy"),
    # other orders and the non-stationary structure on the same data
    list(size ~ poly(days, 4) + treat, "tree", Gamma(log), "AR-M-dependent(2)", "AR-M", 2, "spruces"),
    # (its estimated correlation is not positive definite for most clusters:
    # both fits say so, and still agree)
    list(dep ~ visit * group, "subj", gaussian(), "Non-Stationary-M-dependent(1)",
         "non_stat_M_dep", 1, "depression", TRUE),
    list(pain2 ~ treatment + age + time, "id", binomial(logit), "Stationary-M-dependent(1)",
         "stat_M_dep", 1, "cholecystectomy"))
  for (cs in cases) {
    dat <- glmtoolbox_data(cs[[7]])
    dat$.id <- dat[[cs[[2]]]]
    ref <- suppressWarnings(glmtoolbox::glmgee(cs[[1]], id = .id, family = cs[[3]],
                                               corstr = cs[[4]], data = dat, toler = 1e-12))
    run <- function() gee(cs[[1]], id = .id, family = cs[[3]], corstr = cs[[5]], Mv = cs[[6]],
                          data = dat)
    if (length(cs) > 7L) expect_warning(fit <- run(), "not positive definite for 46 of the 61")
    else fit <- run()
    info <- paste(cs[[7]], cs[[4]])
    expect_true(ref$converged, info = info)
    expect_equal(coef(fit), drop(ref$coefficients), tolerance = 1e-6, ignore_attr = TRUE,
                 info = info)
    expect_equal(sqrt(diag(vcov(fit))), sqrt(diag(ref$R)), tolerance = 1e-6,
                 ignore_attr = TRUE, info = info)
    expect_equal(unname(fit$working.correlation), unname(ref$corr), tolerance = 1e-6,
                 info = info)
    expect_equal(fit$scale, ref$phi, tolerance = 1e-6, info = info)
  }
})

test_that("the structures have the shapes they are named for", {
  set.seed(2)
  K <- 150; T <- 6
  d <- data.frame(id = rep(seq_len(K), each = T), t = rep(seq_len(T), K))
  # AR(1) errors within clusters (correlation 0.4 at lag 1)
  e <- unlist(lapply(seq_len(K), function(k)
    as.numeric(stats::arima.sim(list(ar = 0.4), T, sd = sqrt(1 - 0.16)))))
  d$y <- 1 + 0.2 * d$t + e
  arm <- gee(y ~ t, data = d, id = id, corstr = "AR-M", Mv = 1)
  R <- arm$working.correlation
  expect_equal(unname(R), unname(arm$alpha[[1]]^abs(outer(1:T, 1:T, "-"))), tolerance = 1e-12)
  ar2 <- gee(y ~ t, data = d, id = id, corstr = "AR-M", Mv = 2)
  r <- ar2$working.correlation[1, ]
  # Yule-Walker: beyond lag 2 each correlation follows the AR(2) recursion
  ph <- solve(toeplitz(c(1, r[2])), r[2:3])
  expect_equal(unname(r[4:6]), unname(ph[1] * r[3:5] + ph[2] * r[2:4]), tolerance = 1e-10)
  sm <- gee(y ~ t, data = d, id = id, corstr = "stat_M_dep", Mv = 2)
  R <- sm$working.correlation
  expect_equal(R[abs(row(R) - col(R)) > 2], rep(0, sum(abs(row(R) - col(R)) > 2)))
  expect_equal(unname(R[cbind(1:5, 2:6)]), rep(unname(sm$alpha[[1]]), 5))
  ns <- gee(y ~ t, data = d, id = id, corstr = "non_stat_M_dep", Mv = 1)
  R <- ns$working.correlation
  expect_equal(R[abs(row(R) - col(R)) > 1], rep(0, sum(abs(row(R) - col(R)) > 1)))
  expect_length(ns$alpha, T - 1)
  expect_equal(names(ns$alpha), paste0("alpha.", 1:5, ":", 2:6))
  # the gaussian identity fit at the final working correlation is the
  # generalized least squares fit with that correlation (corstr = "fixed")
  fx <- gee(y ~ t, data = d, id = id, corstr = "fixed", R = ar2$working.correlation)
  expect_equal(coef(fx), coef(ar2), tolerance = 1e-7)
  expect_output(print(summary(ar2)), "AR-M\" \\(Mv = 2\\)")
})

test_that("bad input to the m-dependent and AR-M structures is refused by name", {
  d <- data.frame(id = rep(1:30, each = 3), t = rep(1:3, 30))
  set.seed(1)
  d$y <- rnorm(90)
  expect_error(gee(y ~ t, data = d, id = id, corstr = "AR-M", Mv = 3),
               "'Mv' = 3 but there are only 3 wave positions")
  expect_error(gee(y ~ t, data = d, id = id, corstr = "stat_M_dep", Mv = 0),
               "'Mv' must be one positive whole number")
  expect_error(gee(y ~ t, data = d, id = id, corstr = "non_stat_M_dep", Mv = 1.5),
               "'Mv' must be one positive whole number")
  expect_error(gee(y ~ t, data = d, id = id, corstr = "AR-M", std.err = "md"),
               "'std.err' = \"md\" is not available with corstr = \"AR-M\"")
  fit <- gee(y ~ t, data = d, id = id, corstr = "AR-M")
  expect_error(vcov(fit, type = "kc"), "not available for this fit")
  expect_error(anova(gee(y ~ 1, data = d, id = id, corstr = "AR-M"), fit, test = "score"),
               "corstr = \"AR-M\"")
  d$n <- rpois(90, 3)
  expect_error(gee(n ~ t, data = d, id = id, corstr = "AR-M", family = nbinom2()),
               "nbinom2\\(\\) is not available")
  expect_error(suppressMessages(gee(y ~ t, data = rbind(d, d[1, ]), id = id, corstr = "AR-M",
                                    waves = t)), "duplicated value within")
  # abbreviations keep their old meaning
  expect_equal(gee(y ~ t, data = d, id = id, corstr = "ar")$corstr, "ar1")
})

test_that("a correlation with no more pairs than coefficients is refused by name", {
  set.seed(3)
  d <- data.frame(id = rep(1:20, each = 3), t = rep(1:3, 20), x = rnorm(60))
  d$y <- rnorm(60)
  # positions 1 and 3 together in two clusters only, with 3 coefficients
  d <- d[!(d$t == 3 & d$id > 2), ]
  expect_error(gee(y ~ t + x, data = d, id = id, corstr = "non_stat_M_dep", Mv = 2, waves = t),
               "the correlation of the wave positions 1 and 3 is estimated from no more pairs")
  expect_error(gee(y ~ t + x, data = d, id = id, corstr = "AR-M", Mv = 2, waves = t),
               "the correlation of lag 2 is estimated")
  expect_s3_class(gee(y ~ t + x, data = d, id = id, corstr = "AR-M", Mv = 1, waves = t),
                  "glmmgee_gee")
})

test_that("pattern structures with zero weights keep every row's wave, as engine fits do", {
  set.seed(2)
  d <- data.frame(id = rep(1:30, each = 4), t = rep(c(2, 3, 5, 6), 30), x = rnorm(120))
  d$y <- rpois(120, exp(0.2 + 0.3 * d$x))
  d$w <- replace(rep(1, 120), c(3, 50, 77), 0)
  for (cs in c("stat_M_dep", "AR-M")) {
    f <- gee(y ~ x, id = id, waves = t, data = d, family = poisson, corstr = cs, Mv = 1,
             weights = w)
    # every row's position from the first wave, rows of weight 0 included
    expect_identical(as.numeric(f$waves), d$t - 1, info = cs)
    expect_identical(as.numeric(f$waves),
                     as.numeric(gee(y ~ x, id = id, waves = t, data = d, family = poisson,
                                    corstr = "ar1", weights = w)$waves), info = cs)
    # so the fit's waves refit it through the matrix interface
    g <- gee_fit(cbind(1, d$x), d$y, d$id, family = poisson, corstr = cs, Mv = 1,
                 waves = f$waves, weights = d$w)
    expect_equal(unname(coef(g)), unname(coef(f)), tolerance = 1e-10, info = cs)
    # without waves, none are stored (as for engine fits), not the positions
    # of the weighted rows only
    expect_null(gee(y ~ x, id = id, data = d, family = poisson, corstr = cs, Mv = 1,
                    weights = w)$waves, info = cs)
  }
})
