# `contrasts =` of the file-based front ends glmm_shards() and gee_shards()
# (contrasts-shards.R): the fit from shard files equals the in-memory fit
# with the same contrasts (glmm_shards() bitwise: the shards' engines sum
# the clusters in the in-memory order; gee_shards() to 1e-10, as without
# contrasts), stores the same `$contrasts`, predicts with them,
# and bad values are the errors glmm() and gee() give.

skip_if_not_installed("lme4")

cl2 <- parallel::makePSOCKcluster(2L)
withr::defer(try(parallel::stopCluster(cl2), silent = TRUE), teardown_env())

data(cbpp, package = "lme4")
cbpp_form <- cbind(incidence, size - incidence) ~ period + (1 | herd)
codings <- list(sum = list(period = "contr.sum"), helmert = list(period = contr.helmert),
                matrix = list(period = contr.treatment(4, base = 3)))

test_that("glmm_shards(contrasts =) is the in-memory fit with the same contrasts, bitwise", {
  cb <- cbpp
  # Character columns in the files, a level of period missing from one shard.
  cb$period <- paste0("p", cb$period)
  parts <- split(cb, as.integer(cbpp$herd) %% 3L)
  parts[[2L]] <- parts[[2L]][parts[[2L]]$period != "p4", ]
  dat <- do.call(rbind, parts)
  files <- shard_files(parts)
  nd <- dat[c(1, 9, 20), ]
  for (ct in codings) {
    f <- glmm_shards(cbpp_form, files, binomial, nAGQ = 5, workers = cl2, contrasts = ct)
    ref <- glmm(cbpp_form, dat, binomial, nAGQ = 5, contrasts = ct)
    expect_identical(f$theta, ref$theta)
    expect_identical(f$loglik, ref$loglik)
    expect_identical(unname(f$cov_theta), unname(ref$cov_theta))
    expect_identical(f$contrasts, ref$contrasts)
    expect_identical(predict(f, newdata = nd, type = "response"),
                     predict(ref, newdata = nd, type = "response"))
    expect_equal(as.data.frame(standardize(f, "period")), as.data.frame(standardize(ref, "period")),
                 tolerance = 1e-10)
  }
  expect_equal(unname(f$contrasts$period), unname(contr.treatment(4, base = 3)))
  # The coding changes the coefficients, not the model.
  f0 <- glmm_shards(cbpp_form, files, binomial, nAGQ = 5, workers = cl2)
  expect_false(isTRUE(all.equal(fixef(f0), fixef(f))))
  expect_equal(f0$loglik, f$loglik, tolerance = 1e-8)
  expect_identical(f0$contrasts$period, "contr.treatment")
  # A contrast for the grouping factor is ignored (random effects keep the
  # default coding), as in glmm().
  fg <- glmm_shards(cbpp_form, files, binomial, nAGQ = 5, workers = cl2,
                    contrasts = list(herd = "contr.sum", period = "contr.sum"))
  expect_identical(fg$theta, glmm(cbpp_form, dat, binomial, nAGQ = 5,
                                  contrasts = list(period = "contr.sum"))$theta)
})

test_that("a random slope and marginal_coefs() on shards with sum contrasts equal the in-memory ones", {
  set.seed(2)
  d <- expand.grid(rep = 1:10, g = 1:36)
  d$x <- runif(nrow(d), -1, 1)
  d$f <- factor(c("lo", "mid", "hi")[1 + (d$rep + d$g) %% 3], levels = c("lo", "mid", "hi"))
  b0 <- rnorm(36, sd = 0.4)
  b1 <- rnorm(36, sd = 0.5)
  d$y <- rpois(nrow(d), exp(0.3 + 0.5 * d$x - 0.4 * (d$f == "hi") + b0[d$g] + b1[d$g] * d$x))
  form <- y ~ x + f + (1 + x | g)
  ct <- list(f = "contr.sum")
  ref <- glmm(form, d, poisson, nAGQ = 1, contrasts = ct)
  f <- glmm_shards(form, shard_files(unname(split(d, (d$g - 1L) %% 4L))), poisson, nAGQ = 1,
                   workers = cl2, contrasts = ct)
  expect_identical(names(fixef(f)), c("(Intercept)", "x", "f1", "f2"))
  expect_identical(unname(f$theta), unname(ref$theta))
  expect_identical(f$contrasts, ref$contrasts)
  expect_equal(coef(marginal_coefs(f)), coef(marginal_coefs(ref)), tolerance = 1e-10)
})

test_that("gee_shards(contrasts =) is the in-memory gee() with the same contrasts", {
  set.seed(1717)
  M <- 30
  d <- do.call(rbind, lapply(seq_len(M), function(i) {
    w <- sort(sample(1:5, sample(2:5, 1)))
    data.frame(id = i, wave = w, x = rnorm(length(w)),
               centre = c("a", "b", "c")[1 + i %% 3])
  }))
  d$centre <- factor(d$centre)
  d$y <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + 0.3 * (d$centre == "b") + rnorm(M, sd = 0.5)[d$id]))
  files <- shard_files(split(d, cut(d$id, c(0, 10, 20, 30))))
  for (ct in list(list(centre = "contr.sum"), list(centre = contr.helmert))) {
    ref <- gee(y ~ x + centre, data = d, id = id, waves = wave, family = poisson,
               corstr = "exchangeable", contrasts = ct)
    f <- gee_shards(y ~ x + centre, files, id = "id", waves = "wave", family = poisson,
                    corstr = "exchangeable", workers = cl2, contrasts = ct)
    # To 1e-10, as gee_shards() without contrasts (test-distributed-gee.R):
    # its moments are summed per shard, in another order than gee()'s.
    expect_equal(coef(f), coef(ref), tolerance = 1e-10)
    expect_equal(f$alpha, ref$alpha, tolerance = 1e-10)
    expect_equal(f$vcov, ref$vcov, tolerance = 1e-10)
    expect_identical(f$contrasts, ref$contrasts)
    expect_equal(predict(f, newdata = d[c(1, 40, 80), ]), predict(ref, newdata = d[c(1, 40, 80), ]),
                 tolerance = 1e-10)
  }
  expect_identical(names(coef(f)), c("(Intercept)", "x", "centre1", "centre2"))
  expect_error(gee_shards(y ~ x + centre, files, id = "id", workers = cl2,
                          contrasts = list(x = "contr.sum")),
               "'contrasts' names 'x', which is not a factor")
})

test_that("bad 'contrasts' values are the errors glmm() gives", {
  files <- shard_files(split(cbpp, as.integer(cbpp$herd) %% 2L))
  both <- function(ct) {
    e1 <- tryCatch(glmm_shards(cbpp_form, files, binomial, workers = cl2, contrasts = ct),
                   error = conditionMessage)
    e2 <- tryCatch(glmm(cbpp_form, cbpp, binomial, contrasts = ct), error = conditionMessage)
    expect_type(e1, "character")
    expect_identical(e1, e2)
  }
  both("contr.sum")
  both(list("contr.sum"))
  both(list(zz = "contr.sum"))
  both(list(size = "contr.sum"))
  both(list(period = 3))
  both(list(period = "no_such_contrast_fn"))
  both(list(period = contr.treatment(3)))
  both(list(period = "contr.sum", period = "contr.helmert"))
})

test_that("an ordered factor on shards keeps the one-process contrasts (contr.poly, options, contrasts =)", {
  # The workers rebuilt it as an unordered factor: treatment contrasts
  # labelled o.L, o.Q, silently other numbers than glmm() and gee().
  set.seed(6)
  d <- data.frame(g = rep(1:30, each = 5), x = rnorm(150))
  d$o <- factor(sample(1:3, 150, TRUE), ordered = TRUE)
  d$y <- rbinom(150, 1, plogis(-0.2 + d$x + rnorm(30)[d$g]))
  parts <- unname(split(d, d$g %% 3))
  files <- shard_files(parts)
  dat <- do.call(rbind, parts)
  nd <- d[c(1, 7, 50), ]
  check <- function(ct = NULL) {
    ref <- glmm(y ~ o + (1 | g), dat, binomial, contrasts = ct)
    f <- glmm_shards(y ~ o + (1 | g), files, binomial, workers = cl2, contrasts = ct)
    expect_identical(names(fixef(f)), names(fixef(ref)))
    expect_equal(fixef(f), fixef(ref), tolerance = 1e-10)
    expect_equal(sqrt(diag(vcov(f))), sqrt(diag(vcov(ref))), tolerance = 1e-8)
    expect_identical(f$contrasts, ref$contrasts)
    expect_equal(predict(f, newdata = nd), predict(ref, newdata = nd), tolerance = 1e-10)
    gref <- gee(y ~ o, data = dat, id = g, family = binomial, corstr = "exchangeable",
                contrasts = ct)
    gf <- gee_shards(y ~ o, files, id = "g", family = binomial, corstr = "exchangeable",
                     workers = cl2, contrasts = ct)
    expect_equal(coef(gf), coef(gref), tolerance = 1e-10)
    expect_equal(gf$vcov, gref$vcov, tolerance = 1e-10)
    expect_identical(gf$contrasts, gref$contrasts)
    f
  }
  f <- check()
  expect_identical(f$contrasts$o, "contr.poly")
  expect_identical(names(fixef(f)), c("(Intercept)", "o.L", "o.Q"))
  check(list(o = "contr.treatment"))
  # options("contrasts") of this process, not the workers'.
  withr::with_options(list(contrasts = c("contr.treatment", "contr.treatment")), {
    f <- check()
    expect_identical(names(fixef(f)), c("(Intercept)", "o2", "o3"))
  })
})
