# Ordinal GEE with global odds ratios (corstr = "global.exchangeable",
# "global.unstructured") against geepack::ordgee and on simulated data
# with known truth (the Plackett copula, whose global odds ratio is the same
# at every pair of cut points).

ohio_ordered <- function() {
  data("ohio", package = "geepack", envir = environment())
  ohio$resp <- ordered(as.factor(ohio$resp))
  ohio
}

test_that("ohio (ordgee's example): estimates, log odds ratios and SEs as ordgee's", {
  skip_if_not_installed("geepack")
  ohio <- ohio_ordered()
  for (cs in c("exchangeable", "unstructured")) {
    ref <- geepack::ordgee(resp ~ age + smoke + age:smoke, id = id, data = ohio, corstr = cs,
                           control = geepack::geese.control(epsilon = 1e-10, maxit = 200))
    ours <- gee(resp ~ age + smoke + age:smoke, data = ohio, id = id, family = cumulative,
                corstr = paste0("global.", cs))
    expect_s3_class(ours, "glmmgee_gee_ordinal")
    expect_true(ours$converged)
    # ordgee: logit P(Y > j) = alpha_j + x'beta, so its intercepts are -thresholds.
    expect_equal(unname(coef(ours)), unname(c(-ref$beta[1], ref$beta[-1])), tolerance = 1e-6)
    expect_equal(unname(ours$association$parameters), unname(ref$alpha), tolerance = 1e-6)
    expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(ref$vbeta))), tolerance = 1e-5)
    expect_equal(unname(sqrt(diag(vcov(ours, type = "naive")))), unname(sqrt(diag(ref$vbeta.naiv))),
                 tolerance = 1e-5)
    expect_equal(unname(sqrt(diag(ours$association$vcov$naive))), unname(sqrt(diag(ref$valpha.naiv))),
                 tolerance = 1e-5)
    ase <- sqrt(diag(ours$association$vcov$robust))
    if (cs == "exchangeable") {
      expect_equal(unname(ase), unname(sqrt(diag(ref$valpha))), tolerance = 1e-5)
    } else {
      # ordgee differentiates every pair's association equations with respect
      # to the mean parameters at the odds ratio of the cluster's first pair
      # (exact for one odds ratio, off by up to ~1% here); ours uses each
      # pair's own.
      expect_equal(unname(ase), unname(sqrt(diag(ref$valpha))), tolerance = 0.02)
    }
  }
  s <- summary(ours)
  expect_equal(rownames(s$association), names(ours$association$parameters))
  expect_output(print(s), "Log global odds ratios")
  expect_output(print(ours), "global odds ratios structure")
  P <- predict(ours, newdata = ohio[1:5, ], type = "prob")
  expect_equal(unname(rowSums(P)), rep(1, 5))
  expect_equal(dim(confint(ours)), c(4L, 2L))
})

test_that("rows in any order give the same fit; clusters of one response and absent categories are fine", {
  skip_if_not_installed("geepack")
  ohio <- ohio_ordered()
  ohio$wave <- ohio$age + 3
  f1 <- gee(resp ~ age + smoke, data = ohio, id = id, waves = wave, family = cumulative,
            corstr = "global.unstructured")
  set.seed(3)
  sh <- ohio[sample(nrow(ohio)), ]
  f2 <- gee(resp ~ age + smoke, data = sh, id = id, waves = wave, family = cumulative,
            corstr = "global.unstructured")
  expect_equal(coef(f2), coef(f1), tolerance = 1e-8)
  expect_equal(f2$association$parameters, f1$association$parameters, tolerance = 1e-8)
  expect_equal(vcov(f2), vcov(f1), tolerance = 1e-8)
  # Drop waves 2-4 of the first 100 children: clusters of size 1 add to the
  # marginal equations only; ordgee (on sorted data, its waves) agrees.
  keep <- !(ohio$id < 100 & ohio$wave > 1)
  sub <- ohio[keep, ]
  f3 <- gee(resp ~ age + smoke, data = sub, id = id, waves = wave, family = cumulative,
            corstr = "global.exchangeable")
  ref <- geepack::ordgee(resp ~ age + smoke, id = id, data = sub, corstr = "exchangeable",
                         control = geepack::geese.control(epsilon = 1e-10, maxit = 200))
  expect_equal(unname(coef(f3)), unname(c(-ref$beta[1], ref$beta[-1])), tolerance = 1e-6)
  expect_equal(unname(f3$association$parameters), unname(ref$alpha), tolerance = 1e-6)
  expect_equal(unname(sqrt(diag(vcov(f3)))), unname(sqrt(diag(ref$vbeta))), tolerance = 1e-5)
  expect_error(gee(resp ~ smoke, data = ohio[!duplicated(ohio$id), ], id = id, family = cumulative,
                   corstr = "global.exchangeable"), "repeated responses")
  expect_error(gee(resp ~ age, data = ohio, id = id, family = cumulative,
                   corstr = "global.exch"), "global.exchangeable")
  expect_error(gee(resp ~ age, data = ohio, id = id, family = cumulative, weights = rep(2, 2148),
                   corstr = "global.exchangeable"), "'weights'")
})

# Clusters of two responses whose uniforms follow the Plackett copula with
# odds ratio psi (conditional inverse, Nelsen 2006, sec. 3.3.1); Y <= k when
# U <= F(theta_k - x'beta), so every pair of cut points has odds ratio psi.
simulate_plackett <- function(K, theta, beta, psi) {
  u <- stats::runif(K); t <- stats::runif(K)
  a <- t * (1 - t); b <- psi + a * (psi - 1)^2
  cc <- 2 * a * (u * psi^2 + 1 - u) + psi * (1 - 2 * a)
  d <- sqrt(psi) * sqrt(psi + 4 * a * u * (1 - u) * (1 - psi)^2)
  v <- (cc - (1 - 2 * t) * d) / (2 * b)
  x <- stats::rnorm(2 * K)
  U <- as.vector(rbind(u, v))
  P <- stats::plogis(outer(-beta * x, theta, "+"))
  y <- 1L + rowSums(U > P)
  data.frame(id = rep(seq_len(K), each = 2), time = rep(1:2, K), x = x,
             y = factor(y, levels = seq_len(length(theta) + 1L)))
}

test_that("simulated Plackett pairs: estimates near the truth, independence equals clm", {
  set.seed(11)
  truth <- c(-0.5, 1, 0.8)
  d <- simulate_plackett(4000, truth[1:2], truth[3], exp(1.2))
  fit <- gee(y ~ x, data = d, id = id, family = cumulative, corstr = "global.exchangeable")
  se <- sqrt(diag(vcov(fit)))
  expect_true(all(abs(coef(fit) - truth) < 4 * se))
  a <- fit$association
  expect_lt(abs(a$parameters - 1.2), 4 * sqrt(a$vcov$robust[1, 1]))
  # The empirical global odds ratio of the pairs at cut point 1 x 2.
  w <- reshape(d[, c("id", "time", "y")], idvar = "id", timevar = "time", direction = "wide")
  tab <- table(as.integer(w$y.1) <= 1, as.integer(w$y.2) <= 2)
  expect_lt(abs(log(tab[1, 1] * tab[2, 2] / (tab[1, 2] * tab[2, 1])) - 1.2), 0.3)
  if (requireNamespace("ordinal", quietly = TRUE)) {
    ind <- gee(y ~ x, data = d, id = id, family = cumulative)
    expect_equal(unname(coef(ind)), unname(coef(ordinal::clm(y ~ x, data = d))), tolerance = 1e-6)
  }
})

test_that("incompatible margins and odds ratios: step halving, then a fit that says it did not converge", {
  # 15 clusters x 3 waves, 4 categories: with these seeds the unstructured
  # odds ratios drift where some cluster's working covariance is not
  # positive definite (formerly an error from C++ partway through).
  for (seed in c(1, 6, 18, 25, 30)) {
    set.seed(seed)
    K <- 15; Tn <- 3
    d <- data.frame(id = rep(1:K, each = Tn), t = rep(1:Tn, K), x = rnorm(K * Tn))
    u <- rep(rnorm(K, sd = 2), each = Tn)
    d$y <- factor(cut(d$x + u + rlogis(K * Tn), c(-Inf, -1, 0, 1.5, Inf), labels = FALSE), levels = 1:4)
    ws <- character()
    fit <- withCallingHandlers(
      gee(y ~ x, data = d, id = id, waves = t, family = cumulative, corstr = "global.unstructured"),
      warning = function(w) { ws <<- c(ws, conditionMessage(w)); invokeRestart("muffleWarning") })
    expect_s3_class(fit, "glmmgee_gee_ordinal")
    if (isTRUE(fit$converged)) {
      expect_length(ws, 0L)
    } else {
      expect_true(any(grepl("did not converge", ws)), info = paste("seed", seed))
      expect_true(any(grepl("did not converge", fit$warnings)), info = paste("seed", seed))
    }
    # Whatever happened, the returned estimates are finite, with ordered thresholds.
    th <- fit$thresholds
    expect_true(all(is.finite(th)) && all(diff(th) > 0), info = paste("seed", seed))
  }
})

test_that("the C++ scoring checks sizes, categories, times and the pairs' odds ratios", {
  X <- matrix(c(0.5, -0.2, 0.1, 0.3), 4, 1)
  call <- function(y = c(1L, 2L, 2L, 1L), starts = c(0L, 2L, 4L), time = c(0L, 1L, 0L, 1L),
                   group = matrix(0L, 2, 2), J = 2L, start = c(0, 0))
    glmmgee:::cpp_ordinal_gee_global(y, X, rep(0, 4), starts, time, group, J, 1L, start, 0L, 20L, 1e-8, TRUE)
  expect_type(call(), "list")     # valid input runs (two clusters: no solution)
  expect_error(call(y = c(1L, 3L, 2L, 1L)), "categories must lie in 1..J")
  expect_error(call(time = c(1L, 0L, 0L, 1L)), "times must increase")
  expect_error(call(time = c(0L, 2L, 0L, 1L)), "time index out of range")
  expect_error(call(starts = c(0L, 2L, 5L)), "'starts' must run")
  expect_error(call(starts = c(0L, 3L, 2L, 4L)), "must not decrease")
  expect_error(call(group = matrix(-1L, 2, 2)), "no log odds ratio for the times 1 and 2")
  expect_error(call(start = 0), "'start' has the wrong length")
  expect_error(call(J = 3L, start = c(1, 0, 0)), "thresholds are not increasing")
})

# The scoring computes each covariate pattern of whole clusters once
# (rows' covariates and offsets, and the odds ratio of each pair); it must
# give what computing every cluster on its own gives.
global_fit_both_ways <- function(d, fo, corstr) {
  id <- glmmgee:::cluster_index(d$id, "id")
  tm <- glmmgee:::ordinal_times(d$time, id)
  X <- stats::model.matrix(fo, d)[, -1L, drop = FALSE]
  off <- if (is.null(d$off)) rep(0, nrow(d)) else d$off
  fit <- function(patterns)
    glmmgee:::ordinal_global_fit(X, as.integer(d$y), nlevels(d$y), id, tm, cumulative(), off, corstr,
                                 gee_control(), patterns = patterns)
  list(reuse = fit(TRUE), each = fit(FALSE))
}

expect_same_global_fit <- function(f, info) {
  expect_true(f$reuse$converged, info = info)
  expect_identical(f$reuse$iterations, f$each$iterations, info = info)
  for (k in c("psi", "alpha", "naive", "robust", "alpha_vcov", "alpha_naive"))
    expect_equal(f$reuse[[k]], f$each[[k]], tolerance = 1e-10, info = paste(info, k))
}

test_that("covariate patterns computed once give the per-cluster fit", {
  set.seed(41)
  K <- 300
  Tn <- 4
  d <- data.frame(id = rep(seq_len(K), each = Tn), time = rep(seq_len(Tn), K),
                  trt = rep(rbinom(K, 1, 0.5), each = Tn), dose = rep(c(0, 1, 1, 2), K))
  u <- rep(rnorm(K), each = Tn)
  d$y <- factor(cut(0.6 * d$trt - 0.3 * d$dose + u + rlogis(K * Tn), c(-Inf, -1, 0, 1, Inf),
                    labels = FALSE), levels = 1:4)
  # Missing waves (unbalanced clusters, some of one response), rows shuffled.
  d <- d[-sample(nrow(d), 250), ]
  d <- d[sample(nrow(d)), ]
  for (cs in c("global.exchangeable", "global.unstructured")) {
    f <- global_fit_both_ways(d, ~ trt + dose, cs)
    expect_lt(f$reuse$patterns, 40L)                    # many clusters share a pattern
    expect_equal(f$each$patterns, length(unique(d$id)))
    expect_same_global_fit(f, paste("repeated patterns", cs))
    # An offset is part of the pattern.
    d$off <- 0.2 * (d$id %% 3)
    f <- global_fit_both_ways(d, ~ trt + dose, cs)
    expect_same_global_fit(f, paste("offset", cs))
    d$off <- NULL
    # A continuous covariate: every cluster its own pattern.
    d$x <- rnorm(nrow(d))
    f <- global_fit_both_ways(d, ~ trt + x, cs)
    expect_equal(f$reuse$patterns, length(unique(d$id)))
    expect_same_global_fit(f, paste("unique patterns", cs))
    d$x <- NULL
  }
})

test_that("clusters with equal covariates at different times are different patterns under global.unstructured", {
  # Covariates constant within a cluster, times 1-2, 1-3 or 2-3: under
  # "global.unstructured" the pairs of such clusters have different odds
  # ratios, under "global.exchangeable" the same.
  set.seed(7)
  K <- 240
  times <- list(c(1, 2), c(1, 3), c(2, 3))[rep(1:3, K / 3)]
  d <- data.frame(id = rep(seq_len(K), each = 2), time = unlist(times),
                  trt = rep(rep(0:1, each = 3, length.out = K), each = 2))
  u <- rep(rnorm(K), each = 2)
  d$y <- factor(cut(0.5 * d$trt + u + rlogis(2 * K), c(-Inf, -0.5, 0.7, Inf), labels = FALSE), levels = 1:3)
  f <- global_fit_both_ways(d, ~ trt, "global.unstructured")
  expect_equal(f$reuse$patterns, 6L)
  expect_length(f$reuse$alpha, 3L)
  expect_same_global_fit(f, "unstructured")
  f <- global_fit_both_ways(d, ~ trt, "global.exchangeable")
  expect_equal(f$reuse$patterns, 2L)
  expect_same_global_fit(f, "exchangeable")
})


test_that("odds_ratios() of a global odds ratio GEE names its structure", {
  skip_if_not_installed("geepack")
  data(ohio, package = "geepack", envir = environment())
  f <- gee(factor(resp) ~ age + smoke, data = ohio, id = id, waves = age,
           family = cumulative, corstr = "global.exchangeable")
  o <- odds_ratios(f)
  expect_match(attr(o, "source"), "global.exchangeable", fixed = TRUE)
  expect_no_match(attr(o, "source"), "independence", fixed = TRUE)
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
  o <- ohio_data_as_shipped()
  expect_no_warning(gee(factor(resp) ~ age + smoke, data = o, id = id, waves = age,
                        family = cumulative, corstr = "global.exchangeable"))
})
