# The model-data stage (R/model-data.R) on columns of type integer64
# (bit64, as data.table::fread() reads large ids): grouping factors and GEE
# ids beyond 2^53 define the groups of their values on every route;
# integer64 covariates are refused with the conversion to use; shard files
# mixing integer64 and numeric ids are refused.

test_that("an integer64 covariate is refused with the conversion to use, not read as its raw bits", {
  # model.matrix() reads an integer64 column's bits as doubles (4.9e-323
  # for 10): gee() returned a slope of 0 and an intercept of 298.5 (the
  # mean) without a word, glmm() stopped with "gradient function must
  # return a numeric vector of length 1".
  skip_if_not_installed("bit64")
  s <- sleepstudy_data()
  s$d64 <- bit64::as.integer64(s$Days)
  msg <- "'d64' is an integer64 \\(bit64\\) vector.*as.numeric\\(\\).*factor\\(\\)"
  expect_error(glmm(Reaction ~ d64 + (1 | Subject), s), msg)
  expect_error(glmm(Reaction ~ d64 + (1 | Subject), s, REML = TRUE), msg)
  expect_error(glmm(Reaction ~ Days + (d64 | Subject), s), "'d64' is an integer64")
  expect_error(gee(Reaction ~ d64, id = Subject, data = s), msg)
  # The conversion the message asks for gives the fit on the numbers.
  a <- gee(Reaction ~ as.numeric(d64), id = Subject, data = s)
  b <- gee(Reaction ~ Days, id = Subject, data = s)
  expect_equal(unname(coef(a)), unname(coef(b)), tolerance = 1e-12)
  # An integer64 response is read through as.numeric()'s method, as before.
  s$r64 <- bit64::as.integer64(round(s$Reaction))
  s$rr <- round(s$Reaction)
  expect_equal(unname(fixef(glmm(r64 ~ Days + (1 | Subject), s))),
               unname(fixef(glmm(rr ~ Days + (1 | Subject), s))), tolerance = 1e-12)
})


test_that("integer64 grouping factors and ids beyond 2^53 define the groups of their values", {
  # data.table::fread() reads large ids as integer64. 2^60 + k: as.numeric()
  # makes the 18 ids one number, and so do the raw bits read as doubles
  # (what model.matrix()/factor() without bit64's methods would see) to the
  # 15 digits factor() compares: either would give one cluster.
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  k <- as.integer(s$Subject)
  s$id64 <- bit64::as.integer64("1152921504606846976") + bit64::as.integer64(k)
  expect_equal(length(unique(suppressWarnings(as.numeric(s$id64)))), 1L)
  expect_equal(length(unique(as.character(unclass(s$id64)))), 1L)
  s$idf <- factor(k)
  a <- glmm(Reaction ~ Days + (Days | id64), s)
  b <- glmm(Reaction ~ Days + (Days | idf), s)
  expect_equal(a$ngroups, 18L)
  expect_identical(fixef(a), fixef(b))
  expect_identical(as.numeric(logLik(a)), as.numeric(logLik(b)))
  # Levels are the ids as bit64 prints them, in numeric order.
  expect_identical(rownames(ranef(a)[[1]]), as.character(s$id64[match(1:18, k)]))
  ga <- gee(Reaction ~ Days, id = id64, data = s, corstr = "exchangeable")
  gb <- gee(Reaction ~ Days, id = idf, data = s, corstr = "exchangeable")
  expect_identical(coef(ga), coef(gb))
  expect_identical(ga$std.err, gb$std.err)
  expect_equal(length(unique(ga$id)), 18L)
})

test_that("integer64 ids equal factor and numeric ids on every route (negative ids too)", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  # Negative ids: their raw bits are NaN payloads as doubles.
  s$num <- -as.numeric(s$Subject) * 1000
  s$id64 <- bit64::as.integer64(s$num)
  expect_true(all(is.nan(unclass(s$id64))))
  s$d3 <- s$Days %% 3
  s$d3_64 <- bit64::as.integer64(s$d3)
  # One factor (exact gaussian ML, REML) and a binomial quadrature fit.
  expect_identical(fixef(glmm(Reaction ~ Days + (1 | id64), s)),
                   fixef(glmm(Reaction ~ Days + (1 | num), s)))
  expect_identical(fixef(glmm(Reaction ~ Days + (1 | id64), s, REML = TRUE)),
                   fixef(glmm(Reaction ~ Days + (1 | factor(num)), s, REML = TRUE)))
  s$hi <- as.numeric(s$Reaction > 300)
  expect_identical(fixef(glmm(hi ~ Days + (1 | id64), s, family = binomial)),
                   fixef(glmm(hi ~ Days + (1 | num), s, family = binomial)))
  # Several terms (sparse route), crossed.
  a <- suppressWarnings(glmm(Reaction ~ Days + (1 | id64) + (1 | d3_64), s))
  b <- suppressWarnings(glmm(Reaction ~ Days + (1 | num) + (1 | d3), s))
  expect_identical(fixef(a), fixef(b))
  expect_identical(as.numeric(logLik(a)), as.numeric(logLik(b)))
  # An interaction of an integer64 factor with another.
  a <- glmm(Reaction ~ Days + (1 | id64:d3_64), s)
  b <- glmm(Reaction ~ Days + (1 | num:d3), s)
  expect_identical(fixef(a), fixef(b))
  # gee(): id and waves as integer64 (waves are converted to exact doubles).
  s$w64 <- bit64::as.integer64(s$Days)
  ga <- gee(Reaction ~ Days, id = id64, waves = w64, data = s, corstr = "ar1")
  gb <- gee(Reaction ~ Days, id = num, waves = Days, data = s, corstr = "ar1")
  expect_identical(coef(ga), coef(gb))
  expect_identical(ga$alpha, gb$alpha)
})

test_that("integer64 covariates stay refused wherever they enter the model", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  s$d64 <- bit64::as.integer64(s$Days)
  s$id64 <- bit64::as.integer64(as.integer(s$Subject))
  msg <- "'d64' is an integer64"
  expect_error(glmm(Reaction ~ d64 + (1 | id64), s), msg)
  # A random slope, and a variable that is both covariate and grouping factor.
  expect_error(glmm(Reaction ~ Days + (d64 | id64), s), msg)
  expect_error(glmm(Reaction ~ d64 + (1 | d64), s), msg)
  expect_error(glmm(Reaction ~ Days + (1 | id64), s, weights = d64), "'weights' is an integer64")
  expect_error(glmm(Reaction ~ Days + (1 | id64), s, offset = d64), "'offset' is an integer64")
  expect_error(gee(Reaction ~ Days, id = id64, weights = d64, data = s), "'weights' is an integer64")
  s$cnt <- round(s$Reaction / 50) * (s$Days > 2)
  expect_error(glmm(cnt ~ Days + (1 | id64), s, family = poisson, ziformula = ~ d64), msg)
  expect_error(glmm(cnt ~ Days + (1 | id64), s, family = nbinom2(), dispformula = ~ d64), msg)
  # waves beyond 2^53 cannot be read exactly as doubles.
  s$wbig <- bit64::as.integer64("9007199254740993") + bit64::as.integer64(s$Days)
  expect_error(gee(Reaction ~ Days, id = id64, waves = wbig, data = s, corstr = "ar1"),
               "'waves' holds integer64 values beyond 2\\^53")
})

test_that("an integer64 grouping factor works in a zero-inflated fit with zero-part random effects", {
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  s <- sleepstudy_data()
  s$cnt <- round(s$Reaction / 50) * (s$Days > 2)
  s$id64 <- bit64::as.integer64(as.integer(s$Subject))
  a <- suppressWarnings(glmm(cnt ~ Days + (1 | id64), s, family = poisson, ziformula = ~ 1 + (1 | id64)))
  b <- suppressWarnings(glmm(cnt ~ Days + (1 | Subject), s, family = poisson, ziformula = ~ 1 + (1 | Subject)))
  expect_identical(a$theta, b$theta)
})


test_that("shard files mixing integer64 and numeric cluster ids are a clear error (glmm_shards, gee_shards)", {
  # integer64 ids group by their exact values, numeric ones by their
  # doubles: 2^53 + 1 as integer64 and the double 2^53 + 1 (which is 2^53)
  # were two clusters or one depending on the file.
  skip_if_not_installed("bit64")
  skip_if_not_installed("lme4")
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  part <- split(s, as.integer(s$Subject) %% 2)
  part[[1]]$id <- bit64::as.integer64("9007199254740993") + as.integer(part[[1]]$Subject) * 2L
  part[[2]]$id <- 9007199254740993 + as.integer(part[[2]]$Subject) * 2
  dir <- tempfile("shards")
  dir.create(dir)
  files <- file.path(dir, sprintf("part%d.rds", 1:2))
  for (i in 1:2) saveRDS(part[[i]], files[i])
  cl <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  msg <- "cluster ids 'id' are integer64 \\(bit64\\) in shard file\\(s\\) 1 but not in 2"
  expect_error(glmm_shards(Reaction ~ Days + (1 | id), files, workers = cl), msg)
  expect_error(gee_shards(Reaction ~ Days, files, id = "id", workers = cl), msg)
})
