# Weighted GEE for dropout at random: gee(dropout = ~ ..., dropout.level =).
# References: glmtoolbox's wglmgee() on its help-page examples, stats::glm
# for the independence working correlation, and a simulation with known
# truth.

amenorrhea_data <- function() {
  e <- new.env()
  utils::data(amenorrhea, package = "glmtoolbox", envir = e)
  within(as.data.frame(e$amenorrhea), {
    Ctime <- relevel(factor(Time), ref = "1")
    ylag1 <- c(0, amenorrhea[-length(ID)])
    ylag1 <- ifelse(Time == 0, 0, ylag1)
  })
}

# glmtoolbox's sandwich adds to B = sum_i S_i S_i' (S_i the dropout model's
# score of cluster i) the first visit's term z_i1 (1 - lambda(z_i1)), though
# the dropout model is fitted on the later visits only; its standard errors
# from our fit's pieces with that term added.
glmtoolbox_se <- function(fit, data, dropout) {
  d <- fit$dropout
  Z <- stats::model.matrix(dropout, stats::model.frame(dropout, data, na.action = stats::na.pass))
  Z <- Z[, names(d$coefficients), drop = FALSE]
  first <- !duplicated(data$ID)
  t1 <- Z[first, , drop = FALSE] * drop(1 - stats::plogis(Z[first, , drop = FALSE] %*% d$coefficients))
  E <- fit$pattern$U - d$S %*% solve(crossprod(d$S + t1), t(d$A))
  sqrt(diag(fit$pattern$Hinv %*% crossprod(E) %*% fit$pattern$Hinv))
}

test_that("weighted GEE equals glmtoolbox's wglmgee() on its help-page examples", {
  skip_if_not_installed("glmtoolbox")
  am <- amenorrhea_data()
  mod <- amenorrhea ~ poly(Time, 2) + Dose | Ctime + Dose + ylag1
  cases <- list(list("AR-M-dependent(1)", "AR-M", "observations"),
                list("Exchangeable", "exchangeable", "clusters"))
  for (cs in cases) {
    ref <- suppressWarnings(glmtoolbox::wglmgee(mod, family = binomial, data = am, id = ID,
                                                corstr = cs[[1]], level = cs[[3]], toler = 1e-12))
    fit <- gee(amenorrhea ~ poly(Time, 2) + Dose, data = am, id = ID, family = binomial,
               corstr = cs[[2]], Mv = 1, dropout = ~ Ctime + Dose + ylag1, dropout.level = cs[[3]])
    expect_equal(coef(fit), drop(ref$coefficients), tolerance = 1e-6, ignore_attr = TRUE,
                 info = cs[[1]])
    expect_equal(unname(fit$working.correlation), unname(ref$corr), tolerance = 1e-6,
                 info = cs[[1]])
    expect_equal(fit$scale, ref$phi, tolerance = 1e-6, info = cs[[1]])
    expect_equal(fit$dropout$coefficients, ref$missingm[, 1], tolerance = 1e-6,
                 info = cs[[1]])
    # the standard errors: equal once glmtoolbox's first-visit term is
    # added to B, and within 1e-3 of it as they are
    se_ref <- sqrt(diag(ref$R))
    expect_equal(glmtoolbox_se(fit, am, ~ Ctime + Dose + ylag1), se_ref, tolerance = 1e-6,
                 ignore_attr = TRUE, info = cs[[1]])
    se <- sqrt(diag(vcov(fit)))
    expect_lt(max(abs(se / se_ref - 1)), 1e-3)
    expect_gt(max(abs(se / se_ref - 1)), 1e-6)
  }
})

test_that("weighted GEE equals wglmgee() directly when the dropout covariates vanish at the first visit", {
  skip_if_not_installed("glmtoolbox")
  am <- amenorrhea_data()
  # visit-specific dropout model without intercept: its columns are zero at
  # visit 0, so glmtoolbox's extra first-visit term in B is zero
  mod <- amenorrhea ~ poly(Time, 2) + Dose | 0 + Ctime + Ctime:Dose + ylag1
  for (cs in list(c("Exchangeable", "exchangeable"), c("Stationary-M-dependent(2)", "stat_M_dep"),
                  c("Unstructured", "unstructured"), c("Independence", "independence"))) {
    for (lev in c("observations", "clusters")) {
      ref <- suppressWarnings(glmtoolbox::wglmgee(mod, family = binomial, data = am, id = ID,
                                                  corstr = cs[1], level = lev, toler = 1e-12))
      fit <- gee(amenorrhea ~ poly(Time, 2) + Dose, data = am, id = ID, family = binomial,
                 corstr = cs[2], Mv = if (cs[2] == "stat_M_dep") 2 else 1,
                 dropout = ~ 0 + Ctime + Ctime:Dose + ylag1,
                 dropout.level = lev)
      info <- paste(cs[1], lev)
      expect_equal(coef(fit), drop(ref$coefficients), tolerance = 1e-6, ignore_attr = TRUE,
                   info = info)
      expect_equal(sqrt(diag(vcov(fit))), sqrt(diag(ref$R)), tolerance = 1e-6,
                   ignore_attr = TRUE, info = info)
    }
  }
})

test_that("with an independence working correlation the weighted GEE is glm with the weights", {
  skip_if_not_installed("glmtoolbox")
  am <- amenorrhea_data()
  ob <- !is.na(am$amenorrhea)
  # the dropout model by glm(): lambda on the visits at risk
  risk <- am$Time > 0 & (am$Time == 1 | c(NA, ob[-nrow(am)]))
  risk[is.na(risk)] <- FALSE
  gz <- glm(ob ~ Ctime + Dose + ylag1, family = binomial, data = am, subset = risk)
  lam <- rep(1, nrow(am))
  lam[risk] <- fitted(gz)
  pi_obs <- ave(lam, am$ID, FUN = cumprod)
  for (lev in c("observations", "clusters")) {
    fit <- gee(amenorrhea ~ Time + I(Time^2) + Dose, data = am, id = ID, family = binomial,
               dropout = ~ Ctime + Dose + ylag1, dropout.level = lev)
    expect_equal(fit$dropout$coefficients, coef(gz)[names(fit$dropout$coefficients)],
                 tolerance = 1e-8)
    if (lev == "observations") {
      w <- 1 / pi_obs[ob]
    } else {
      # 1 / P(pattern): completers 1 / pi at the last visit, dropouts
      # 1 / (pi at the last visit seen x (1 - lambda at the first missed))
      last <- ave(am$Time * ob, am$ID, FUN = max)
      pid <- tapply(ifelse(ob & am$Time == last, pi_obs, NA), am$ID, max, na.rm = TRUE)
      dr <- tapply(ifelse(!ob & am$Time == last + 1, 1 - lam, 1), am$ID, prod)
      w <- as.vector((1 / (pid * dr))[as.character(am$ID[ob])])
    }
    expect_equal(fit$dropout$weights[ob], unname(w), tolerance = 1e-10)
    ref <- suppressWarnings(glm(amenorrhea ~ Time + I(Time^2) + Dose, family = binomial,
                                data = am[ob, ], weights = w))
    expect_equal(coef(fit), coef(ref), tolerance = 1e-7)
  }
})

test_that("weighted GEE removes the bias of unweighted GEE under dropout at random", {
  script <- system.file("scripts", "gee-dropout-simulation.R", package = "glmmgee")
  skip_if(!nzchar(script), "simulation script not installed")
  sim <- new.env()
  sys.source(script, envir = sim)
  set.seed(4511)
  res <- do.call(rbind, lapply(1:30, function(r) sim$sim_dropout_fit(sim$sim_dropout_data(300))))
  res$truth <- sim$sim_dropout_truth[res$term]
  tab <- sim$sim_dropout_table(res)
  slope <- tab[tab$term == "time", ]
  z <- setNames(slope$bias / slope$mc_se, as.character(slope$method))
  expect_gt(abs(z[["unweighted"]]), 3)
  expect_lt(abs(z[["observations"]]), 3)
  expect_lt(abs(z[["clusters"]]), 3)
  # the stored 200-replication table says the same
  stored <- utils::read.csv(system.file("extdata", "gee-dropout-simulation.csv",
                                        package = "glmmgee"))
  s <- stored[stored$term == "time", ]
  zs <- setNames(s$bias / s$mc_se, s$method)
  expect_gt(abs(zs[["unweighted"]]), 3)
  expect_true(all(abs(zs[c("observations", "clusters")]) < 3))
})

test_that("dropout fits: methods, print and the variance for known weights", {
  set.seed(3)
  script <- system.file("scripts", "gee-dropout-simulation.R", package = "glmmgee")
  skip_if(!nzchar(script), "simulation script not installed")
  sim <- new.env()
  sys.source(script, envir = sim)
  d <- sim$sim_dropout_data(200)
  fit <- gee(y ~ time + x, data = d, id = id, family = binomial("probit"),
             corstr = "exchangeable", dropout = ~ ylag + x)
  expect_s3_class(fit, "glmmgee_gee")
  expect_equal(nobs(fit), sum(!is.na(d$y)))
  expect_length(residuals(fit), sum(!is.na(d$y)))
  expect_output(print(fit), "Weighted for dropout at random: observation-level")
  expect_output(print(summary(fit)), "robust sandwich")
  expect_equal(dim(confint(fit)), c(3L, 2L))
  # accounting for the estimated weights shrinks the sandwich (Robins,
  # Rotnitzky and Zhao, 1995): V_known - V is positive semi-definite
  dv <- fit$dropout$vcov_known_weights - vcov(fit)
  expect_true(all(eigen(dv, symmetric = TRUE, only.values = TRUE)$values > -1e-12))
  expect_error(vcov(fit, type = "md"), "not available for this fit")
  expect_error(QIC(fit), "dropout weights")
  # the post-fit pieces of gee_cluster_blocks() do not carry the weights:
  # refused as such, not as a fit without its data rows
  for (f in list(function(m) hatvalues(m), function(m) cooks.distance(m),
                 function(m) simulate(m)))
    expect_error(f(fit), "is not available for a gee fit with dropout weights")
  if (requireNamespace("sandwich", quietly = TRUE))
    expect_error(sandwich::estfun(fit), "estfun\\(\\) is not available for a gee fit with dropout weights")
  # rows in any order: the visits are ordered by 'waves'
  fw <- gee(y ~ time + x, data = d, id = id, family = binomial("probit"), corstr = "AR-M",
            waves = time, dropout = ~ ylag + x, dropout.level = "clusters")
  fs <- gee(y ~ time + x, data = d[sample(nrow(d)), ], id = id, family = binomial("probit"),
            corstr = "AR-M", waves = time, dropout = ~ ylag + x, dropout.level = "clusters")
  expect_equal(coef(fs), coef(fw), tolerance = 1e-10)
  expect_equal(vcov(fs), vcov(fw), tolerance = 1e-10)
  p <- predict(fit, newdata = d[1:4, ], type = "response")
  expect_equal(unname(p), pnorm(drop(cbind(1, d$time[1:4], d$x[1:4]) %*% coef(fit))))
})

test_that("bad input to dropout fits is refused by name", {
  set.seed(5)
  d <- data.frame(id = rep(1:40, each = 3), time = rep(0:2, 40), x = rnorm(120))
  d$y <- rnorm(120) + d$time
  d$ylag <- ave(d$y, d$id, FUN = function(v) c(0, v[-length(v)]))
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag),
               "no missing values, so there is no dropout")
  d$y[d$time == 2 & d$id <= 10] <- NA
  expect_error(gee(y ~ time, data = d, id = id, dropout = "ylag"),
               "'dropout' must be a one-sided formula")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag, dropout.level = "visits"),
               "'dropout.level' must be")
  expect_error(gee(y ~ time, data = d, id = id, dropout.level = "clusters"),
               "'dropout.level' is used with 'dropout' only")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag, na.action = na.omit),
               "'na.action' cannot be used with 'dropout'")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag, weights = rep(-1, 120)),
               "'weights' must be positive")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag,
                   weights = replace(rep(1, 120), 5, NA)), "'weights' must be positive")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag, std.err = "jack"),
               "'std.err' = \"jack\" is not available")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag, corstr = "ar1"),
               "'corstr' = \"ar1\" is not available with dropout weights")
  di <- d
  di$y[di$id == 11 & di$time == 1] <- NA  # intermittent: seen again at time 2
  expect_error(gee(y ~ time, data = di, id = id, dropout = ~ ylag),
               "1 cluster of 'id' \\(e.g. 11\\) miss a visit and return later")
  d0 <- d
  d0$y[d0$id == 12] <- NA
  expect_error(gee(y ~ time, data = d0, id = id, dropout = ~ ylag),
               "have no observed response")
  dz <- d
  dz$ylag[dz$id == 3 & dz$time == 2] <- NA
  expect_error(gee(y ~ time, data = dz, id = id, dropout = ~ ylag),
               "covariates of the dropout model are missing at 1 visit")
  dx <- d
  dx$x[dx$id == 3 & dx$time == 2] <- NA
  expect_error(gee(y ~ time + x, data = dx, id = id, dropout = ~ ylag),
               "missed visit have missing covariates")
  expect_error(gee(y ~ time, data = d, id = id, family = cumulative(), dropout = ~ ylag),
               "not available for the ordinal GEE")
  # the observed responses are checked as in every fit: no silent recoding
  # of a three-level factor, no Poisson fit of a fraction
  d3 <- d
  d3$y <- factor(ifelse(is.na(d$y), NA, rep(c("a", "b", "c"), 40)))
  expect_error(gee(y ~ time, data = d3, id = id, family = binomial, dropout = ~ ylag),
               "a factor response for binomial must have two levels; it has 3")
  dp <- d
  dp$y <- ifelse(is.na(d$y), NA, 1)
  dp$y[1] <- 0.5
  expect_error(gee(y ~ time, data = dp, id = id, family = poisson, dropout = ~ ylag),
               "poisson response must be a non-negative whole number; found 0.5")
  expect_error(gee(y ~ time, data = d, id = id, dropout = ~ ylag + nosuch),
               "variable 'nosuch' used in the model is not in 'data'")
})
