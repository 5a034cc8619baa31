# Silent wrong answers and unclear errors (issue 12): each class is checked
# at its root, against lme4, geepack or glm where they give the answer.

sa_binary <- function(seed = 1, M = 30, n = 8) {
  set.seed(seed)
  d <- data.frame(g = rep(seq_len(M), each = n), x = runif(M * n, 0, 10), z = rnorm(M * n),
                  h = rep(seq_len(n), M))
  d$y <- rbinom(M * n, 1, plogis(-1 + 0.3 * d$x - 0.03 * d$x^2 + 0.5 * d$z +
                                   rep(rnorm(M), each = n)))
  d
}

# ---- predvars: poly(), ns(), scale() on new data ---------------------------

test_that("predict() on new data reuses the fit's poly(), ns() and scale() (both engines)", {
  skip_if_not_installed("lme4")
  d <- sa_binary()
  nd <- d[c(3, 50, 111), ]
  f <- y ~ poly(x, 2) + splines::ns(z, 2) + scale(h) + (1 | g)
  ours <- glmm(f, data = d, family = binomial, nAGQ = 1)
  ref <- glmer_ref(f, data = d, family = binomial)
  # The rows of the fit predicted as new data give the fitted values...
  expect_equal(predict(ours, nd), predict(ours)[c(3, 50, 111)], tolerance = 1e-10)
  expect_equal(predict(ours, nd[1, ]), predict(ours)[3], tolerance = 1e-10)
  expect_equal(predict(ours, nd, re.form = NA), predict(ref, nd, re.form = NA),
               tolerance = 2e-3)
  # ... and so with several terms (the sparse engine), and on the response
  # scale.
  sp <- suppressWarnings(glmm(update(f, . ~ . + (1 | h)), data = d, family = binomial))
  expect_equal(unname(predict(sp, nd, type = "response")),
               unname(predict(sp, type = "response")[c(3, 50, 111)]), tolerance = 1e-10)
  # A random slope in scale(z) is rebuilt with the fit's centre and scale.
  rs <- suppressWarnings(glmm(y ~ x + (1 + scale(z) | g), data = d, family = binomial,
                              nAGQ = 1))
  expect_equal(predict(rs, nd), predict(rs)[c(3, 50, 111)], tolerance = 1e-10)
})

test_that("standardize() and plot_views() work on fits with data-dependent terms", {
  d <- sa_binary()
  fit <- glmm(y ~ poly(x, 2) + z + (1 | g), data = d, family = binomial, nAGQ = 1)
  st <- standardize(fit, "z", values = c(-1, 1), se = "none")
  # The standardized mean at the observed z is the mean of the marginal
  # predictions; at z = -1 and 1 it brackets it (z raises the risk).
  expect_true(st$estimate[1] < mean(d$y) && st$estimate[2] > mean(d$y))
  ge <- gee(y ~ poly(x, 2) + z, data = d, id = g, family = binomial)
  sg <- standardize(ge, "z", values = c(-1, 1), se = "none")
  nd <- transform(d, z = -1)
  expect_equal(sg$estimate[1], mean(predict(ge, nd, type = "response")), tolerance = 1e-10)
  skip_if_not_installed("lme4")
  f1 <- glmm(y ~ poly(x, 2) + (1 | g), data = d, family = binomial, nAGQ = 1)
  r1 <- glmer_ref(y ~ poly(x, 2) + (1 | g), data = d, family = binomial)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off())
  pv <- plot_views(f1, "x")
  expect_equal(unname(pv$typical),
               unname(predict(r1, data.frame(x = pv$x), re.form = NA, type = "response")),
               tolerance = 2e-3)
})

test_that("a gee offset given as a workspace vector is an error on new data, not recycled", {
  d <- sa_binary()
  off <- rnorm(nrow(d), sd = 0.1)
  fit <- gee(y ~ x, data = d, id = g, family = binomial, offset = off)
  expect_error(predict(fit, d[1:3, ]), "offset = off.*240 value.*3 row")
  d$off <- off
  fit2 <- gee(y ~ x, data = d, id = g, family = binomial, offset = off)
  expect_equal(unname(predict(fit2, d[1:3, ])), unname(predict(fit2)[1:3]), tolerance = 1e-12)
  g2 <- glmm(y ~ x + (1 | g), data = d[, names(d) != "off"], family = binomial, offset = off,
             nAGQ = 1)
  expect_error(predict(g2, d[1:3, names(d) != "off"]), "offset = off.*3 row")
})

# ---- confint() arguments and the jackknife ---------------------------------

test_that("every confint() method refuses a bad level or an unknown parm", {
  d <- sa_binary()
  g <- glmm(y ~ z + (1 | g), data = d, family = binomial, nAGQ = 1)
  e <- gee(y ~ z, data = d, id = g, family = binomial)
  m <- marginal_coefs(g)
  for (obj in list(g, e, m)) {
    expect_error(confint(obj, level = 2), "'level' must be one number between 0 and 1")
    expect_error(confint(obj, level = 0), "'level'")
    expect_error(confint(obj, level = NA), "'level'")
    expect_error(confint(obj, parm = "zz"), "'parm'.*'zz' not among")
    expect_error(confint(obj, parm = 5), "'parm'")
    ci <- confint(obj, parm = "z", level = 0.9)
    expect_identical(dimnames(ci), list("z", c("5 %", "95 %")))
    b <- coef(obj)
    if (is.list(b)) b <- fixef(obj)
    se <- sqrt(diag(vcov(obj)))
    expect_equal(unname(ci[1, ]), unname(b["z"] + c(-1, 1) * qnorm(0.95) * se["z"]))
  }
  expect_error(odds_ratios(g, level = 1.5), "'level'")
})

test_that("jackknife variances with clusters <= parameters are refused by name", {
  set.seed(3)
  d <- data.frame(id = rep(1:4, each = 5), x = rnorm(20), x2 = rnorm(20))
  d$y <- rnorm(20)
  # 4 clusters, 4 parameters (2 coefficients, 1 correlation, the scale).
  expect_error(gee(y ~ x, data = d, id = id, corstr = "exchangeable", std.err = "jack"),
               "'std.err' = \"jack\".*4 clusters and 4 parameters")
  fit <- gee(y ~ x + x2, data = d, id = id, corstr = "exchangeable")
  for (tp in c("jack", "j1s", "fij"))
    expect_error(vcov(fit, type = tp), sprintf("'type' = \"%s\".*needs more clusters", tp))
  expect_error(confint(fit, type = "fij"), "needs more clusters")
  # With enough clusters the jackknife stays positive definite.
  set.seed(4)
  d <- data.frame(id = rep(1:12, each = 4), x = rnorm(48))
  d$y <- rnorm(48) + rep(rnorm(12), each = 4)
  fit <- gee(y ~ x, data = d, id = id, corstr = "exchangeable", std.err = "fij")
  expect_true(all(eigen(vcov(fit))$values > 0))
})

# ---- nAGQ default ----------------------------------------------------------

test_that("the default nAGQ is the Laplace approximation for five or more random effects", {
  expect_identical(default_nAGQ(5, binomial()), 1L)
  expect_identical(default_nAGQ(9, poisson()), 1L)
  expect_identical(vapply(1:4, default_nAGQ, 1L, family = binomial()), c(11L, 7L, 5L, 3L))
  set.seed(5)
  M <- 60; n <- 10
  d <- data.frame(g = rep(seq_len(M), each = n), matrix(rnorm(M * n * 4), ncol = 4))
  d$y <- rpois(M * n, exp(0.2 + 0.2 * d$X1 + rep(rnorm(M, sd = 0.3), each = n)))
  fit <- suppressWarnings(glmm(y ~ X1 + (X1 + X2 + X3 + X4 || g), data = d, family = poisson))
  expect_identical(fit$nAGQ, 1L)
  expect_output(print(fit), "Laplace approximation \\(the default for 5 random effects")
  expect_true(is.finite(logLik(fit)))
})

# ---- lme4 grouping syntax --------------------------------------------------

test_that("lme4's grouping syntax gives lme4's groups and log-likelihood on both routes", {
  skip_if_not_installed("lme4")
  set.seed(2)
  d <- data.frame(a = rep(1:10, each = 24), b = rep(rep(1:4, each = 6), 10),
                  g = rep(1:40, each = 6), x = rnorm(240))
  ab <- (d$a - 1) * 4 + d$b
  d$y <- rbinom(240, 1, plogis(-0.5 + 0.5 * d$x + rnorm(10)[d$a] + rnorm(40)[ab] +
                                 rnorm(40, sd = 0.7)[d$g] * d$x))
  d$g5 <- d$g %% 5
  cases <- list(
    list(y ~ x + (1 | a:b), NULL),                        # numbers: an interaction, not a:b
    list(y ~ x + (1 | I(g %% 5)), y ~ x + (1 | g5)),      # an expression (lme4 cannot)
    list(y ~ x + (1 | a/b), NULL),
    list(y ~ x + (x || g), NULL),
    list(y ~ x + (0 + x | g), NULL),
    list(y ~ x + (1 | g) + (0 + x | g), NULL),
    list(y ~ x + (1 | I(g %% 5)) + (1 | a), y ~ x + (1 | g5) + (1 | a)))
  for (cs in cases) {
    f <- cs[[1L]]
    ours <- suppressWarnings(glmm(f, data = d, family = binomial, nAGQ = 1))
    ref <- suppressMessages(suppressWarnings(
      glmer_ref(cs[[2L]] %||% f, data = d, family = binomial)))
    lab <- paste(deparse(f), collapse = "")
    expect_equal(sort(unname(ours$ngroups)), sort(unname(lme4::ngrps(ref))), info = lab)
    expect_equal(as.numeric(logLik(ours)), as.numeric(logLik(ref)), tolerance = 1e-4,
                 info = lab)
    # The grouping is rebuilt on new data the same way.
    expect_equal(unname(predict(ours, d[1:5, ])), unname(predict(ours)[1:5]), tolerance = 1e-10,
                 info = lab)
  }
})

# ---- separation in standardize() and the ratio tables -----------------------

test_that("standardize() and odds_ratios() on a separated fit warn instead of printing certainty", {
  set.seed(4)
  d <- data.frame(g = rep(1:20, each = 6), x = rnorm(120), t = rep(0:1, 60))
  d$y <- ifelse(d$t == 1, 1L, rbinom(120, 1, 0.4))
  fit <- suppressWarnings(glmm(y ~ t + x + (1 | g), data = d, family = binomial, nAGQ = 1))
  expect_true(fit$separation$separated)
  # No finite estimate, so no covariance either: delta-method intervals are
  # refused with the reason named; the estimates alone come with the warning.
  expect_error(standardize(fit, "t"), "the fit is separated \\('t'\\).*standard errors are unavailable")
  set.seed(41)
  expect_warning(st <- standardize(fit, "t", se = "none"), "the fit is separated \\('t'\\)")
  expect_match(attr(st, "warnings"), "not meaningful")
  expect_output(print(st), "Warning: the fit is separated")
  # 'x' has a finite estimate but, the fit having no covariance, no SE.
  expect_warning(expect_warning(odds_ratios(fit), "odds ratio for 't': no finite estimate"),
                 "odds ratio for 'x': the fit gives no standard error")
  ge <- suppressWarnings(gee(y ~ t + x, data = d, id = g, family = binomial))
  # A gee fit as the glmm: its covariance is NA under separation
  # (vcov.glmmgee_gee()), and the ratios' own warnings name it, once.
  w <- capture_warnings(odds_ratios(ge))
  expect_length(w, 2L)
  expect_match(w, "odds ratio for 't': no finite estimate", all = FALSE)
  expect_match(w, "odds ratio for 'x': the fit gives no standard error", all = FALSE)
  expect_error(standardize(ge, "t"), "the fit is separated \\('t'\\).*standard errors are unavailable")
  # A clean fit stays silent.
  d$y2 <- rbinom(120, 1, plogis(d$x))
  ok <- suppressWarnings(glmm(y2 ~ t + x + (1 | g), data = d, family = binomial, nAGQ = 1))
  expect_silent(odds_ratios(ok))
  expect_silent(standardize(ok, "t", se = "none"))
})

# ---- anova() and compare_views() -------------------------------------------

test_that("anova() refuses non-nested glmm fits and flags a larger fit with a lower likelihood", {
  set.seed(6)
  d <- data.frame(g = rep(1:25, each = 6), h = rep(1:6, 25), x = rnorm(150), t = rbinom(150, 1, 0.5))
  d$y <- rbinom(150, 1, plogis(d$x + rep(rnorm(25), each = 6)))
  f0 <- glmm(y ~ 1 + (1 | g), data = d, family = binomial, nAGQ = 1)
  fx <- glmm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 1)
  ft <- glmm(y ~ t + (1 | g), data = d, family = binomial, nAGQ = 1)
  fh <- suppressWarnings(glmm(y ~ 1 + (1 | h), data = d, family = binomial, nAGQ = 1))
  expect_error(anova(fx, ft), "not nested.*'x' are not in the larger model")
  expect_error(anova(fh, fx), "not nested.*'h: \\(Intercept\\)'")
  fp <- glmm(y ~ x + (1 | g), data = d, family = binomial(link = "probit"), nAGQ = 1)
  expect_error(anova(f0, fp), "not nested.*families")
  a <- anova(f0, fx)
  expect_true(a$Chisq[2] > 0)
  # Reparameterized fixed effects are nested (same column space).
  d$x2 <- 2 * d$x + 1
  fx2 <- glmm(y ~ x2 + (1 | g), data = d, family = binomial, nAGQ = 1)
  expect_silent(anova(f0, fx2))
  # A larger model stuck below the smaller one's likelihood.
  bad <- fx
  bad$loglik <- as.numeric(logLik(f0)) - 1
  expect_warning(anova(f0, bad), "lower log-likelihood")
  # The same model by two approximations: no parameter to test, and not
  # "more parameters" (which the warning said of equal numbers).
  fq <- glmm(y ~ x + (1 | g), data = d, family = binomial, nAGQ = 9)
  w <- capture_warnings(anova(fx, fq))
  expect_true(any(grepl("the same number of parameters.*0 degrees of freedom", w)))
  expect_false(any(grepl("more parameters", w)))
})

test_that("compare_views() refuses a gee fitted to other data", {
  d <- sa_binary()
  g <- glmm(y ~ z + (1 | g), data = d, family = binomial, nAGQ = 1)
  expect_s3_class(compare_views(g, gee(y ~ z, data = d, id = g, family = binomial)),
                  "glmmgee_views")
  expect_error(compare_views(g, gee(y ~ z, data = d[-1, ], id = g, family = binomial)),
               "different data \\(240 observations versus 239\\)")
  d2 <- d
  d2$y <- rev(d2$y)
  expect_error(compare_views(g, gee(y ~ z, data = d2, id = g, family = binomial)),
               "different responses")
  d3 <- d
  d3$z <- d3$z + 1
  expect_error(compare_views(g, gee(y ~ z, data = d3, id = g, family = binomial)),
               "different covariate values")
})

# ---- cluster ids -----------------------------------------------------------

test_that("ids differing by floating-point noise are one cluster in glmm() and gee() alike", {
  set.seed(7)
  ids <- c(0.3, 0.1 + 0.2, 0.7, 0.5, 0.2 + 0.3, 1.1)
  expect_false(identical(ids[1], ids[2]))
  d <- data.frame(id = rep(ids, each = 5), x = rnorm(30))
  d$y <- d$x + rep(rnorm(6), each = 5) + rnorm(30)
  ge <- gee(y ~ x, data = d, id = id)
  gm <- suppressWarnings(glmm(y ~ x + (1 | id), data = d))
  expect_identical(ge$nclusters, 4L)
  expect_identical(gm$ngroups, 4L)
  sp <- suppressWarnings(glmm(y ~ x + (1 | id) + (1 | x > 0), data = d))
  expect_identical(unname(sp$ngroups[sp$group_name == "id"]), 4L)
  expect_identical(gee_fit(cbind(1, d$x), d$y, d$id)$nclusters, 4L)
})

test_that("ids that restart within another grouping are named in a message (geepack's respiratory)", {
  skip_if_not_installed("geepack")
  data(respiratory, package = "geepack", envir = environment())
  expect_message(m <- gee(outcome ~ treat + baseline, data = respiratory, id = id,
                          family = binomial, corstr = "exchangeable"),
                 "'id': 55 of the 56 ids occur in separate runs.*interaction\\(centre, id\\)")
  expect_identical(m$nclusters, 56L)
  u <- expect_silent(gee(outcome ~ treat + baseline, data = respiratory,
                         id = interaction(center, id), family = binomial,
                         corstr = "exchangeable"))
  ref <- geepack::geeglm(outcome ~ treat + baseline, data = respiratory,
                         id = interaction(center, id), family = binomial,
                         corstr = "exchangeable")
  expect_identical(u$nclusters, length(unique(interaction(respiratory$center, respiratory$id))))
  expect_equal(coef(u), coef(ref), tolerance = 1e-6)
  # Interleaved rows (sorted by time) are a layout, not restarted ids: silent.
  o <- respiratory[order(respiratory$visit), ]
  expect_silent(gee(outcome ~ treat + baseline, data = o, id = interaction(center, id),
                    family = binomial))
})

# ---- new levels in predict() -----------------------------------------------

test_that("new cluster levels are an error by default, as in lme4, naming them", {
  skip_if_not_installed("lme4")
  set.seed(8)
  d <- data.frame(g = sprintf("%03d", rep(1:15, each = 6)), x = rnorm(90))
  d$y <- rpois(90, exp(0.5 + 0.4 * d$x + rep(rnorm(15, sd = 0.5), each = 6)))
  fit <- glmm(y ~ x + (1 | g), data = d, family = poisson, nAGQ = 1)
  ref <- glmer_ref(y ~ x + (1 | g), data = d, family = poisson)
  nd <- data.frame(g = c(1, 2, 99), x = 0)
  expect_error(predict(ref, nd))
  expect_error(predict(fit, nd), "3 level\\(s\\) of 'g' not in the fit.*'1' versus '001'")
  expect_equal(predict(fit, nd, allow.new.levels = TRUE),
               predict(fit, nd, re.form = NA), ignore_attr = TRUE)
  nd2 <- data.frame(g = c("001", "new"), x = 0)
  expect_equal(unname(predict(fit, nd2, allow.new.levels = TRUE)),
               unname(predict(ref, nd2, allow.new.levels = TRUE)), tolerance = 2e-3)
  expect_error(predict(fit, nd2, allow.new.levels = NA), "'allow.new.levels' must be TRUE or FALSE")
  sp <- suppressWarnings(glmm(y ~ x + (1 | g) + (1 | x > 0), data = d, family = poisson))
  expect_error(predict(sp, nd), "level\\(s\\) of 'g' not in the fit")
})

# ---- zero weights ----------------------------------------------------------

test_that("clusters whose weights are all zero are not counted", {
  d <- sa_binary()
  d$w <- ifelse(d$g <= 3, 0, 1)
  fit <- glmm(y ~ z + (1 | g), data = d, family = binomial, weights = w, nAGQ = 1)
  ref <- glmm(y ~ z + (1 | g), data = d[d$w > 0, ], family = binomial, nAGQ = 1)
  expect_identical(fit$ngroups, 27L)
  expect_identical(nrow(ranef(fit)$g), 27L)
  expect_identical(dim(attr(ranef(fit)$g, "postVar"))[3], 27L)
  expect_identical(nrow(coef(fit)$g), 27L)
  expect_output(print(fit), "clusters: g, 27")
  # The random-effects design matches ranef() and rebuilds the linear predictor.
  Z <- model.matrix(fit, type = "random")
  expect_identical(ncol(Z), 27L)
  expect_equal(as.numeric(fit$X %*% fixef(fit) + Z %*% as.vector(t(ranef(fit)$g))),
               unname(predict(fit)), tolerance = 1e-10)
  expect_equal(fixef(fit), fixef(ref), tolerance = 1e-6)
  expect_equal(ranef(fit)$g, ranef(ref)$g, tolerance = 1e-5, ignore_attr = TRUE)
  sp <- suppressWarnings(glmm(y ~ z + (1 | g) + (1 | h), data = d, family = binomial,
                              weights = w))
  expect_identical(unname(sp$ngroups), c(27L, 8L))
  expect_identical(nrow(ranef(sp)$g), 27L)
  expect_identical(ranef(sp)$g, ranef(sp)$g[rownames(ranef(sp)$g) %in% as.character(4:30), ,
                                            drop = FALSE])
})

# ---- response checks and singular_tol --------------------------------------

test_that("an all-zero nbinom2 response is refused, a logical poisson response accepted", {
  d <- sa_binary()
  d$zero <- 0
  expect_error(glmm(zero ~ z + (1 | g), data = d, family = nbinom2),
               "'zero' is 0 for every observation")
  expect_error(gee(zero ~ z, data = d, id = g, family = nbinom2),
               "'zero' is 0 for every observation")
  d$hit <- d$y == 1
  lg <- glmm(hit ~ z + (1 | g), data = d, family = poisson, nAGQ = 1)
  nm <- glmm(y ~ z + (1 | g), data = d, family = poisson, nAGQ = 1)
  expect_equal(fixef(lg), fixef(nm), tolerance = 1e-10)
  skip_if_not_installed("lme4")
  ref <- glmer_ref(hit ~ z + (1 | g), data = d, family = poisson)
  expect_equal(as.numeric(logLik(lg)), as.numeric(logLik(ref)), tolerance = 1e-5)
  expect_equal(coef(gee(hit ~ z, data = d, id = g, family = poisson)),
               coef(glm(y ~ z, data = d, family = poisson)), tolerance = 1e-7)
})

test_that("singular_tol is a validated reporting threshold that leaves the estimates alone", {
  expect_error(glmm_control(singular_tol = Inf), "'singular_tol' must be a finite number")
  expect_error(glmm_control(singular_tol = -1), "'singular_tol'")
  d <- sa_binary()
  a <- glmm(y ~ z + (1 | g), data = d, family = binomial, nAGQ = 1)
  b <- suppressWarnings(glmm(y ~ z + (1 | g), data = d, family = binomial, nAGQ = 1,
                             control = glmm_control(singular_tol = 10)))
  expect_equal(fixef(b), fixef(a), tolerance = 1e-8)
  expect_equal(b$theta, a$theta, tolerance = 1e-8)
  expect_false(a$singular)
  expect_true(b$singular)
  sa <- suppressWarnings(glmm(y ~ z + (1 | g) + (1 | h), data = d, family = binomial))
  sb <- suppressWarnings(glmm(y ~ z + (1 | g) + (1 | h), data = d, family = binomial,
                              control = glmm_control(singular_tol = 10)))
  expect_equal(sb$theta, sa$theta, tolerance = 1e-8)
})

# ---- a diverging gee -------------------------------------------------------

test_that("an unstructured poisson gee whose iterations diverge says so, not 'separation'", {
  set.seed(1)
  K <- 15; T <- 6
  d <- data.frame(id = rep(1:K, each = T), t = rep(1:T, K), x = rnorm(K * T))
  d$y <- rpois(K * T, exp(1 + 1.5 * d$x + rep(rnorm(K, sd = 1.5), each = T)))
  err <- tryCatch(gee(y ~ x, data = d, id = id, waves = t, family = poisson,
                      corstr = "unstructured"), error = conditionMessage)
  expect_match(err, "the iterations diverged.*\"unstructured\" working correlation has 15 parameters")
  expect_false(grepl("separation", err))
  expect_s3_class(gee(y ~ x, data = d, id = id, waves = t, family = poisson,
                      corstr = "exchangeable"), "glmmgee_gee")
})
