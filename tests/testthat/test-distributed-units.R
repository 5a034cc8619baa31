# Sharded fits (glmm_shards(), gee_shards()): integer64 cluster ids group
# by their exact values, and covariates far from zero give the in-memory
# fits and standard errors.

test_that("integer64 cluster ids in shard files group by their exact values (glmm_shards, gee_shards)", {
  # The workers read the files without bit64's methods: as.character()
  # printed the ids' raw bits to 15 digits and merged distinct clusters
  # (18 sleepstudy subjects became 4), silently.
  skip_if_not_installed("bit64")
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$id64 <- bit64::as.integer64("9007199254740993") + as.integer(s$Subject) * 2L
  files <- shard_files(split(s, as.integer(s$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  a <- glmm_shards(Reaction ~ Days + (1 | id64), files, workers = cl)
  b <- glmm(Reaction ~ Days + (1 | id64), s)
  expect_equal(as.numeric(logLik(a)), as.numeric(logLik(b)), tolerance = 1e-10)
  expect_equal(a$ngroups, 18L)
  # The clusters in the in-memory fit's (numeric) order.
  ra <- ranef(a)[[1]]
  rb <- ranef(b)[[1]]
  expect_identical(rownames(ra), rownames(rb))
  expect_equal(ra[[1]], rb[[1]], tolerance = 1e-8)
  g <- gee_shards(Reaction ~ Days, files, id = "id64", corstr = "exchangeable", workers = cl)
  h <- gee(Reaction ~ Days, id = id64, data = s, corstr = "exchangeable")
  expect_equal(coef(g), coef(h), tolerance = 1e-10)
  expect_equal(vcov(g), vcov(h), tolerance = 1e-10)
  expect_equal(g$nclusters, 18L)
})

test_that("gee_shards() with x * 1e-6 - 5 or x + 1e4 is gee()'s fit on x", {
  # x + 1e4 stopped with "the starting weighted least-squares step
  # failed" and x * 1e-6 - 5 was refused as linearly dependent; the shards'
  # engines now solve on the centred and scaled design, as gee().
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$x2 <- s$x * 1e-6 - 5
  s$x3 <- s$x + 1e4
  files <- shard_files(split(s, as.integer(s$Subject) %% 3))
  cl <- parallel::makePSOCKcluster(2L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  a <- gee(Reaction ~ Days + x, id = Subject, data = s, corstr = "exchangeable")
  for (v in c("x2", "x3")) {
    sc <- if (v == "x2") 1e-6 else 1
    b <- gee_shards(as.formula(paste("Reaction ~ Days +", v)), files, id = "Subject",
                    corstr = "exchangeable", workers = cl)
    expect_equal(unname(coef(b)[v]) * sc, unname(coef(a)["x"]), tolerance = 1e-8)
    expect_equal(unname(sqrt(vcov(b)[v, v])) * sc, unname(sqrt(vcov(a)["x", "x"])), tolerance = 1e-8)
    expect_equal(unname(b$alpha), unname(a$alpha), tolerance = 1e-8)
    expect_equal(unname(predict(b, newdata = s[1:5, ])), unname(predict(a, newdata = s[1:5, ])),
                 tolerance = 1e-8)
  }
})

test_that("glmm_shards(): derived standard errors free of x's units; gee_shards() without an intercept as gee()", {
  d <- units_invariance_data()
  set.seed(3)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.3 + 0.6 * d$x + 0.5 * (d$trt == "1") +
                                      rnorm(60)[as.integer(d$id)]))
  dir <- tempfile("shards")
  dir.create(dir)
  part <- split(d, as.integer(d$id) %% 3)
  files <- file.path(dir, sprintf("p%d.rds", 1:3))
  for (i in 1:3) saveRDS(part[[i]], files[i])
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  nd <- d[c(1, 7, 33), ]
  fits <- lapply(c("x", "x2", "x3"), function(v)
    glmm_shards(as.formula(paste("yb ~", v, "+ trt + (1 | id)")), files, family = binomial,
                workers = cl))
  se <- lapply(fits, function(f) list(
    standardize = as.data.frame(standardize(f, "trt", se = "delta", workers = cl))$std.error,
    marginal = unname(sqrt(diag(vcov(marginal_coefs(f, workers = cl))))["trt1"]),
    link = unname(predict(f, newdata = nd, se.fit = TRUE)$se.fit)))
  for (k in names(se[[1]])) {
    expect_equal(se[[2]][[k]], se[[1]][[k]], tolerance = 1e-7, info = paste("x * 1e-6 - 5:", k))
    expect_equal(se[[3]][[k]], se[[1]][[k]], tolerance = 1e-7, info = paste("x + 1e4:", k))
  }
  expect_null(fits[[1]]$cov_star)
  expect_false(is.null(fits[[2]]$cov_star))
  # The in-memory fit's derived standard errors.
  m <- glmm(yb ~ x2 + trt + (1 | id), d, family = binomial)
  expect_equal(se[[2]]$link, unname(predict(m, newdata = nd, se.fit = TRUE)$se.fit), tolerance = 1e-6)
  # Without an intercept column, x + 1e4 was not rescaled on the shards and
  # the fit failed at its start ("the starting weighted least-squares step
  # failed"); gee() fits it.
  a <- gee_shards(yb ~ 0 + x3 + trt, files, id = "id", family = binomial, corstr = "exchangeable",
                  workers = cl)
  b <- gee(yb ~ 0 + x3 + trt, id = id, data = d, family = binomial, corstr = "exchangeable")
  expect_equal(coef(a), coef(b), tolerance = 1e-8)
  expect_equal(vcov(a), vcov(b), tolerance = 1e-6)
})
