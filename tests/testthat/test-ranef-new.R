# ranef_new(): random effects of new clusters from their own observations;
# rank_intervals().

test_that("new-cluster predictions equal the fit's own posterior summaries of the same clusters", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  rn <- ranef_new(fit, cbpp)
  rm <- ranef(fit, type = "mode")
  rmean <- ranef(fit, type = "mean")
  expect_equal(rn$mode, rm$herd[, 1], tolerance = 1e-8)
  expect_equal(rn$mode_sd, unname(sqrt(attr(rm$herd, "postVar")[1, 1, ])), tolerance = 1e-8)
  expect_equal(rn$mean, rmean$herd[, 1], tolerance = 1e-8)
  expect_equal(rn$sd, unname(sqrt(attr(rmean$herd, "postVar")[1, 1, ])), tolerance = 1e-8)
  # The grid posterior behind the median and interval has the same mean.
  one <- cbpp[cbpp$herd == "3", ]
  r1 <- ranef_new(fit, one)
  eta <- drop(model.matrix(~ period, one) %*% fixef(fit))
  post <- function(b) vapply(b, function(bb)
    exp(sum(dbinom(one$incidence, one$size, plogis(eta + bb), log = TRUE))) *
      dnorm(bb, 0, fit$Lambda[1, 1]), 1)
  Z <- integrate(post, -Inf, Inf, rel.tol = 1e-12)$value
  cdf <- function(q) integrate(post, -Inf, q, rel.tol = 1e-12)$value / Z
  expect_equal(cdf(r1$median), 0.5, tolerance = 1e-4)
  expect_equal(c(cdf(r1$lower), cdf(r1$upper)), c(0.025, 0.975), tolerance = 1e-4)
  # Random slopes (q = 2): modes and means, no grid quantiles.
  data(sleepstudy, package = "lme4", envir = environment())
  fs <- glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
  r2 <- ranef_new(fs, sleepstudy)
  expect_equal(r2$mode[r2$term == "Days"], ranef(fs)$Subject[, "Days"], tolerance = 1e-8)
  expect_true(all(is.na(r2$median)))
  expect_error(ranef_new(fit, cbpp[0, ]), "'newdata'")
  expect_error(ranef_new(lm(size ~ period, cbpp), cbpp), "'fit' must be a glmm")
})

test_that("prediction intervals for new clusters cover the true random effects", {
  set.seed(42)
  M <- 500; ni <- 8
  id <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  b <- rnorm(M, 0, 1)
  d <- data.frame(y = rbinom(M * ni, 1, plogis(-0.3 + 0.7 * x + b[id])), x = x, id = id)
  old <- d[d$id <= 300, ]
  new <- d[d$id > 300, ]
  fit <- glmm(y ~ x + (1 | id), data = old, family = binomial)
  rn <- ranef_new(fit, new)
  truth <- b[as.integer(rn$group)]
  cover <- mean(rn$lower <= truth & truth <= rn$upper)
  # 200 clusters: the coverage's standard error is about 0.015.
  expect_gt(cover, 0.9)
  expect_lt(cover, 0.995)
  # The predictions use the cluster's own mode.
  p <- attr(rn, "predictions")
  expect_equal(p$mu, plogis(-0 + drop(cbind(1, new$x) %*% fixef(fit)) +
                              rn$mode[match(new$id, rn$group)]), tolerance = 1e-12)
})

test_that("rank intervals contain the ranks and leave the random stream alone", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  set.seed(9)
  before <- runif(1)
  set.seed(9)
  ri <- rank_intervals(fit, n_draws = 500)
  expect_equal(runif(1), before)
  expect_equal(nrow(ri), 15L)
  expect_true(all(ri$lower <= ri$mean_rank & ri$mean_rank <= ri$upper))
  expect_true(all(ri$lower >= 1 & ri$upper <= 15))
  expect_identical(rank_intervals(fit, n_draws = 500), ri)
  expect_equal(ri$rank, seq_len(15))
  pdf(NULL)
  on.exit(dev.off(), add = TRUE)
  expect_invisible(plot(ri))
})

test_that("with several terms the Laplace modes of new clusters equal the fit's own", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
              data = cbpp, family = binomial)
  rn <- ranef_new(fit, cbpp)
  re <- ranef(fit)
  h <- rn[rn$term == "herd.(Intercept)", ]
  expect_equal(h$mode, unname(re$herd[h$group, 1]), tolerance = 1e-8)
  expect_equal(h$mode_sd, unname(sqrt(attr(re$herd, "postVar")[1, 1, h$group])), tolerance = 1e-8)
  o <- rn[rn$term == "obs.(Intercept)", ]
  expect_equal(o$mode, unname(re$obs[o$group, 1]), tolerance = 1e-8)
  expect_equal(attr(rn, "predictions")$eta, unname(predict(fit)), tolerance = 1e-8)
})

test_that("ranef(newdata = ) routes to ranef_new()", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  nd <- cbpp[cbpp$herd %in% c("2", "5"), ]
  expect_identical(ranef(fit, newdata = nd), ranef_new(fit, nd))
})

test_that("bridge and nonparametric fits predict new clusters with their own prior", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS", envir = environment())
  br <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial,
             ranef_dist = "bridge")
  rn <- ranef_new(br, bacteria)
  expect_equal(rn$mode, unname(br$ranef$mode[, 1]), tolerance = 1e-8)
  expect_equal(rn$mean, unname(br$ranef$mean[, 1]), tolerance = 1e-8)
  # The median from the grid against integrate() with the bridge prior.
  one <- bacteria[bacteria$ID == "X01", ]
  r1 <- ranef_new(br, one)
  eta <- drop(model.matrix(~ trt + I(week > 2), one) %*% fixef(br))
  y <- as.numeric(one$y == "y")
  post <- function(b) vapply(b, function(bb)
    exp(sum(dbinom(y, 1, plogis(eta + bb), log = TRUE))) *
      glmmgee:::dbridge(bb, br$ranef_dist$phi), 1)
  Z <- integrate(post, -Inf, Inf, rel.tol = 1e-12)$value
  expect_equal(integrate(post, -Inf, r1$median, rel.tol = 1e-12)$value / Z, 0.5, tolerance = 1e-4)
  data(epil, package = "MASS", envir = environment())
  np <- suppressWarnings(glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
                              ranef_dist = list("nonparametric", k = 3)))
  rp <- ranef_new(np, epil)
  expect_equal(rp$mean, unname(np$ranef$mean[, 1]), tolerance = 1e-8)
  expect_true(all(vapply(rp$median, function(m) min(abs(m - np$ranef_dist$mass)), 1) < 1e-10))
  expect_true(all(rp$lower <= rp$median & rp$median <= rp$upper))
})

test_that("predict(new_clusters = TRUE) uses each cluster's own observations", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial)
  # The fitted clusters, presented as new: the fit's own predictions.
  expect_equal(predict(fit, newdata = cbpp, new_clusters = TRUE, type = "response"),
               predict(fit, type = "response"), tolerance = 1e-8)
  # A herd renamed is new to the fit: b = 0 with allow.new.levels, its own mode here.
  nd <- cbpp[cbpp$herd == "1", ]
  nd$herd <- "new"
  own <- predict(fit, newdata = nd, new_clusters = TRUE)
  expect_equal(unname(own), unname(predict(fit)[cbpp$herd == "1"]), tolerance = 1e-8)
  expect_false(isTRUE(all.equal(unname(own), unname(predict(fit, newdata = nd, allow.new.levels = TRUE)))))
  expect_error(predict(fit, new_clusters = TRUE), "needs 'newdata'")
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  fs <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
             data = cbpp, family = binomial)
  expect_equal(unname(predict(fs, newdata = cbpp, new_clusters = TRUE)), unname(predict(fs)),
               tolerance = 1e-8)
})

test_that("predict(new_clusters = TRUE) honours na.action and refuses the arguments it cannot honour", {
  # (It returned its predictions before looking at se.fit, re.form,
  # allow.new.levels and na.action, and dropped rows with a missing value
  # under the default na.pass.)
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  fc <- glmm(incidence ~ period + (1 | herd), data = cbpp, family = poisson, nAGQ = 1)
  nd <- cbpp[cbpp$herd %in% c("1", "2"), ]
  nd$herd <- factor(paste0("n", nd$herd))
  expect_error(predict(fc, nd, new_clusters = TRUE, se.fit = TRUE),
               "'se.fit' is not available with new_clusters = TRUE")
  expect_error(predict(fc, nd, new_clusters = TRUE, re.form = NA),
               "'re.form' is not available with new_clusters = TRUE")
  expect_error(predict(fc, nd, new_clusters = TRUE, allow.new.levels = TRUE),
               "'allow.new.levels' is not available with new_clusters = TRUE")
  nd$period[2] <- NA
  p <- predict(fc, nd, new_clusters = TRUE)
  expect_identical(names(p), rownames(nd))
  expect_true(is.na(p[[2L]]))
  expect_false(anyNA(p[-2L]))
  expect_identical(names(predict(fc, nd, new_clusters = TRUE, na.action = na.omit)), rownames(nd)[-2L])
  expect_equal(predict(fc, nd, new_clusters = TRUE, na.action = na.exclude), p)
  expect_error(predict(fc, nd, new_clusters = TRUE, na.action = na.fail), "missing values")
  # Several terms: the same rules.
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  fs <- suppressWarnings(glmm(incidence ~ period + (1 | herd) + (1 | obs), data = cbpp,
                              family = poisson))
  expect_error(predict(fs, cbpp, new_clusters = TRUE, se.fit = TRUE), "'se.fit'")
  nds <- cbpp
  nds$period[3] <- NA
  expect_length(predict(fs, nds, new_clusters = TRUE), nrow(nds))
})

test_that("ranef(newdata =) is refused where new clusters' effects are not available, never ignored", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  zi <- glmm(count ~ mined + (1 | site), ziformula = ~ mined, data = Salamanders, family = poisson)
  expect_error(ranef(zi, newdata = Salamanders[1:10, ]), "zero-inflated, hurdle")
  expect_error(ranef_new(zi, Salamanders[1:10, ]), "zero-inflated, hurdle")
  zr <- glmm(count ~ mined + (1 | site), ziformula = ~ mined + (1 | site), data = Salamanders,
             family = poisson)
  expect_error(ranef(zr, newdata = Salamanders[1:10, ]), "'newdata'.*zero part")
  expect_equal(nrow(ranef(zr)$site), nlevels(Salamanders$site))
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  ord <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative)
  expect_error(ranef(ord, newdata = w[1:8, ]), "'newdata'.*cumulative link")
  ords <- glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w, family = cumulative)
  expect_error(ranef(ords, newdata = w[1:8, ]), "'newdata'.*cumulative link")
})

# The posterior mode of a new cluster's random effects given the fitted
# parameters, by optim() on the joint log-density: Poisson log-likelihood of
# the rows plus the normal log-density of the effects, covariance D.
direct_mode <- function(y, eta0, Zn, D) {
  Di <- solve(D)
  f <- function(u) -(sum(dpois(y, exp(eta0 + drop(Zn %*% u)), log = TRUE)) - 0.5 * sum(u * (Di %*% u)))
  g <- function(u) -(drop(crossprod(Zn, y - exp(eta0 + drop(Zn %*% u)))) - drop(Di %*% u))
  stats::optim(rep(0, ncol(Zn)), f, g, method = "BFGS",
               control = list(reltol = 1e-14, maxit = 1000))$par
}

test_that("ranef_new() on nested, crossed and structured fits: the posterior mode by direct computation", {
  set.seed(5)
  A <- 14
  d <- expand.grid(rep = 1:4, b = 1:3, a = 1:A)
  d$a <- factor(d$a); d$ab <- interaction(d$a, d$b)
  d$x <- rnorm(nrow(d))
  ua <- rnorm(A, sd = 0.7); ub <- rnorm(nlevels(d$ab), sd = 0.4)
  d$y <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + ua[d$a] + ub[d$ab]))
  old <- d[d$a != "1", ]
  new <- d[d$a == "1", ]
  # Nested (1 | a/b): the new outer unit and its three inner units.
  fn <- glmm(y ~ x + (1 | a/b), data = old, family = poisson)
  rn <- ranef_new(fn, new)
  sds <- vapply(fn$reterms, function(t) sqrt(t$D[1, 1]), 1)
  names(sds) <- vapply(fn$reterms, `[[`, "", "group")
  eta0 <- drop(model.matrix(~ x, new) %*% fixef(fn))
  Zn <- cbind(1, model.matrix(~ 0 + factor(b), new))
  u <- direct_mode(new$y, eta0, Zn, diag(c(sds[["a"]], rep(sds[["b:a"]], 3))^2))
  expect_equal(rn$mode[rn$term == "a.(Intercept)"], u[1], tolerance = 1e-5)
  expect_equal(rn$mode[rn$term == "b:a.(Intercept)"], u[-1], tolerance = 1e-5)
  # Nested by adaptive quadrature (the nested engine's fit): modes at its parameters.
  fq <- suppressWarnings(glmm(y ~ x + (1 | a/b), data = old, family = poisson, nAGQ = 5))
  rq <- ranef_new(fq, new)
  sq <- vapply(fq$reterms, function(t) sqrt(t$D[1, 1]), 1)
  names(sq) <- vapply(fq$reterms, `[[`, "", "group")
  uq <- direct_mode(new$y, drop(model.matrix(~ x, new) %*% fixef(fq)), Zn,
                    diag(c(sq[["a"]], rep(sq[["b:a"]], 3))^2))
  expect_equal(rq$mode[rq$term == "a.(Intercept)"], uq[1], tolerance = 1e-5)
  expect_equal(rq$mode[rq$term == "b:a.(Intercept)"], uq[-1], tolerance = 1e-5)
  # Crossed (1 | a) + (1 | r): a new level of a with levels of r, all new clusters.
  d$r <- factor(d$rep)
  d$t <- factor(d$rep)
  d$y2 <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + ua[d$a] + c(-0.6, -0.2, 0.3, 0.7)[d$rep]))
  new <- d[d$a == "1", ]
  fc <- glmm(y2 ~ x + (1 | a) + (1 | r), data = d[d$a != "1", ], family = poisson)
  rc <- ranef_new(fc, d[d$a == "1", ])
  sc <- vapply(fc$reterms, function(t) sqrt(t$D[1, 1]), 1)
  Zc <- cbind(1, model.matrix(~ 0 + r, new))
  uc <- direct_mode(new$y2, drop(model.matrix(~ x, new) %*% fixef(fc)), Zc,
                    diag(c(sc[1], rep(sc[2], 4))^2))
  expect_equal(rc$mode[rc$term == "a.(Intercept)"], uc[1], tolerance = 1e-5)
  expect_equal(rc$mode[rc$term == "r.(Intercept)"], uc[-1], tolerance = 1e-5)
  # A structured term on one grouping factor: ar1() over the four replicates.
  fs <- glmm(y ~ x + ar1(0 + t | a), data = d[d$a != "1", ], family = poisson)
  rs <- ranef_new(fs, new)
  Zs <- model.matrix(~ 0 + t, new)
  us <- direct_mode(new$y, drop(model.matrix(~ x, new) %*% fixef(fs)), Zs, fs$D)
  expect_equal(rs$mode, us, tolerance = 1e-5)
  # A new cluster seen at two of the four times still has four effects.
  r2 <- ranef_new(fs, new[new$t %in% c("1", "2"), ])
  expect_equal(nrow(r2), 4L)
  # Structured beside a crossed factor (the sparse engine).
  fsc <- suppressWarnings(glmm(y ~ x + ar1(0 + t | a) + (1 | b), data = d[d$a != "1", ], family = poisson))
  rsc <- ranef_new(fsc, new)
  D1 <- fsc$reterms[[1]]$D
  sb <- sqrt(fsc$reterms[[2]]$D[1, 1])
  Zb <- cbind(Zs, model.matrix(~ 0 + factor(b), new))
  D2 <- rbind(cbind(D1, matrix(0, 4, 3)), cbind(matrix(0, 3, 4), diag(sb^2, 3)))
  u2 <- direct_mode(new$y, drop(model.matrix(~ x, new) %*% fixef(fsc)), Zb, D2)
  expect_equal(rsc$mode, u2, tolerance = 1e-5)
})

test_that("ranef_new() on Gamma(inverse) and penalized fits: the fit's own modes, a finite posterior grid", {
  set.seed(3)
  M <- 30; ni <- 8
  d <- data.frame(g = factor(rep(1:M, each = ni)), x = runif(M * ni))
  eta <- 0.5 + 0.4 * d$x + rnorm(M, 0, 0.1)[d$g]
  d$y <- rgamma(nrow(d), shape = 4, rate = 4 * eta)
  # The posterior grid reaches linear predictors <= 0, where the inverse
  # link has no mean (NaN there: "need at least two non-NA values to
  # interpolate" before).
  fit <- glmm(y ~ x + (1 | g), data = d, family = Gamma("inverse"), nAGQ = 1)
  rn <- ranef_new(fit, d[d$g %in% 1:3, ])
  expect_equal(rn$mode, unname(ranef(fit)$g[1:3, 1]), tolerance = 1e-6)
  expect_true(all(is.finite(rn$median)))
  expect_true(all(rn$lower < rn$median & rn$median < rn$upper))
  d$yb <- rbinom(nrow(d), 1, plogis(-0.5 + d$x + rnorm(M)[d$g]))
  pf <- glmm(yb ~ x + (1 | g), data = d, family = binomial, penalized = TRUE)
  rp <- ranef_new(pf, d[d$g %in% 1:3, ])
  expect_equal(rp$mode, unname(ranef(pf)$g[1:3, 1]), tolerance = 1e-5)
  expect_true(all(rp$lower < rp$median & rp$median < rp$upper))
})

test_that("weights given as an expression outside the data are refused for new rows, naming them", {
  # rep(1, n) with the fit's n cannot be evaluated for other rows: the error
  # names the weights instead of model.frame()'s "variable lengths differ".
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  n <- nrow(cbpp)
  fit <- glmm(incidence ~ period + offset(log(size)) + (1 | herd), data = cbpp,
              family = poisson, weights = rep(1, n))
  expect_error(ranef_new(fit, cbpp[1:10, ]), "the fit's weights, 'rep\\(1, n\\)', give 56 values for the 10 rows")
  # A column of the data is evaluated in newdata: the same effects as the fit's.
  fw <- glmm(incidence / size ~ period + (1 | herd), data = cbpp, family = binomial,
             weights = size)
  expect_equal(ranef_new(fw, cbpp)$mode, ranef(fw, type = "mode")$herd[, 1], tolerance = 1e-8)
})
