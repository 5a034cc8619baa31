# Distributed fits (glmm_control(workers =), glmm_shards()) against the
# in-memory fit on the same data: the same estimates, log-likelihood,
# standard errors and random-effect predictions, for 1, 2 and 3 workers and
# 1 and 7 shards. One cluster of two local PSOCK workers for the file (a
# third worker joins it for the three-worker fits), stopped at the end.

skip_if_not_installed("lme4")

cl2 <- parallel::makePSOCKcluster(2L)
cl_extra <- parallel::makePSOCKcluster(1L)
withr_stop <- function() {
  try(parallel::stopCluster(cl2), silent = TRUE)
  try(parallel::stopCluster(cl_extra), silent = TRUE)
}
withr::defer(withr_stop(), teardown_env())
cl1 <- cl2[1L]
cl3 <- structure(c(unclass(cl2), unclass(cl_extra)), class = class(cl2))

ses <- function(f) sqrt(diag(f$cov_theta))
expect_same_fit <- function(f, ref, tol = 1e-10) {
  expect_equal(f$theta, ref$theta, tolerance = tol)
  expect_equal(f$loglik, ref$loglik, tolerance = tol)
  expect_equal(ses(f), ses(ref), tolerance = tol)
  expect_equal(as.matrix(ranef(f)[[1L]]), as.matrix(ranef(ref)[[1L]]), tolerance = tol)
  expect_equal(attr(ranef(f, condVar = TRUE)[[1L]], "postVar"),
               attr(ranef(ref, condVar = TRUE)[[1L]], "postVar"), tolerance = tol)
  expect_identical(f$optinfo$warnings, ref$optinfo$warnings)
}

data(cbpp, package = "lme4")
cbpp_form <- cbind(incidence, size - incidence) ~ period + (1 | herd)

test_that("binomial, AGHQ and Laplace: 1, 2, 3 workers and 1, 7 shards equal the in-memory fit", {
  for (nq in c(1L, 9L)) {
    ref <- glmm(cbpp_form, cbpp, binomial, nAGQ = nq)
    fits <- list()
    for (S in c(1L, 7L)) for (w in list(cl1, cl2, cl3)) {
      f <- glmm(cbpp_form, cbpp, binomial, nAGQ = nq,
                control = glmm_control(workers = w, shards = S))
      expect_same_fit(f, ref)
      expect_identical(f$distributed$workers, length(w))
      fits[[length(fits) + 1L]] <- f
    }
    # Sums run over shards in shard order: bitwise the same for any number
    # of workers.
    expect_identical(fits[[2L]]$theta, fits[[1L]]$theta)
    expect_identical(fits[[3L]]$theta, fits[[1L]]$theta)
    expect_identical(fits[[6L]]$theta, fits[[4L]]$theta)
    expect_identical(fits[[6L]]$cov_theta, fits[[5L]]$cov_theta)
  }
})

test_that("every family and a random slope: 7 shards on 1, 2, 3 workers equal the in-memory fit", {
  set.seed(17)
  M <- 60; n_i <- 6
  d <- data.frame(g = rep(seq_len(M), each = n_i), x = rnorm(M * n_i))
  b <- rnorm(M, sd = 0.6)[d$g]
  mu <- exp(0.3 + 0.5 * d$x + b)
  d$yp <- rpois(nrow(d), mu)
  d$yn <- rnbinom(nrow(d), mu = mu, size = 2)
  d$yg <- rgamma(nrow(d), shape = 3, rate = 3 / mu)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$x + b))
  d$yc <- 1 + 0.5 * d$x + b + rnorm(nrow(d), sd = 0.5)
  data(sleepstudy, package = "lme4")
  # The engines' sums over clusters are order-independent (src/util/dd-sum.h):
  # seven shards give the in-memory sums, so the optimizer takes the same
  # path. nbinom2 and Gamma start from glm.fit() in memory and from IRLS
  # on shard sums, which agree to the last bits; both starts are rounded
  # to 10 significant digits (round_glm_start()), so they coincide too.
  cases <- list(
    list(yp ~ x + (1 | g), d, poisson, 5L),
    list(yb ~ x + (1 | g), d, binomial, 1L),
    list(yn ~ x + (1 | g), d, nbinom2, 1L),
    list(yg ~ x + (1 | g), d, Gamma(link = "log"), 1L),
    list(yc ~ x + (1 | g), d, gaussian, 1L),
    list(Reaction ~ Days + (Days | Subject), sleepstudy, gaussian, 1L))
  # Gaussian ML fits in memory take the profiled C++ search (fit-lmm-ml.R),
  # which shards cannot: the bitwise comparison is with the engine's route.
  op <- options(glmmgee.lmm_profiled = FALSE)
  on.exit(options(op), add = TRUE)
  for (cs in cases) {
    ref <- glmm(cs[[1L]], cs[[2L]], cs[[3L]], nAGQ = cs[[4L]])
    fits <- lapply(list(cl1, cl2, cl3), function(w)
      glmm(cs[[1L]], cs[[2L]], cs[[3L]], nAGQ = cs[[4L]],
           control = glmm_control(workers = w, shards = 7L)))
    for (f in fits) expect_same_fit(f, ref)
    # Bitwise the in-memory fit: a cluster's rows give the same linear
    # predictor whatever their position in the engine (src/util/lin-pred.h).
    expect_identical(fits[[1L]]$theta, ref$theta)
    expect_identical(fits[[1L]]$cov_theta, ref$cov_theta)
    # Bitwise the same for any number of workers.
    expect_identical(fits[[2L]]$theta, fits[[1L]]$theta)
    expect_identical(fits[[3L]]$theta, fits[[1L]]$theta)
    expect_identical(fits[[3L]]$cov_theta, fits[[1L]]$cov_theta)
  }
})

test_that("every family, q = 1 and 2, Laplace and AGHQ, four fixed effects: 7 shards give the in-memory fit bitwise", {
  # With four columns in X, Eigen's matrix-vector product rounded a row
  # differently by its position, and these fits differed from the in-memory
  # ones by up to 1e-7 (relative) in cov_theta before the linear predictor
  # was taken row by row.
  # Clusters of 3 to 9 rows: each cluster sits at other row positions in the
  # shards than in memory, and the largest cluster (the engines' scratch
  # size) differs between shards. The gaussian start's residual sum of
  # squares is an order-independent sum too.
  set.seed(23)
  M <- 60
  sz <- sample(3:9, M, TRUE)
  d <- data.frame(g = rep(seq_len(M), sz), x = rnorm(sum(sz)),
                  f = factor(sample(c("a", "b", "c"), sum(sz), TRUE)))
  b <- rnorm(M, sd = 0.6)[d$g]
  b2 <- rnorm(M, sd = 0.3)[d$g]
  mu <- exp(0.3 + 0.5 * d$x + b + b2 * d$x)
  d$yp <- rpois(nrow(d), mu)
  d$yn <- rnbinom(nrow(d), mu = mu, size = 2)
  d$yg <- rgamma(nrow(d), shape = 3, rate = 3 / mu)
  d$yb <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$x + b + b2 * d$x))
  d$yc <- 1 + 0.5 * d$x + b + b2 * d$x + rnorm(nrow(d), sd = 0.5)
  d$x[c(7, 20)] <- NA
  fams <- list(yp = poisson, yb = binomial, yn = nbinom2, yg = Gamma(link = "log"),
               yc = gaussian)
  op <- options(glmmgee.lmm_profiled = FALSE)  # as above: the engine's route in memory
  on.exit(options(op), add = TRUE)
  for (y in names(fams)) for (re in c("(1 | g)", "(1 + x | g)"))
    for (nq in if (y == "yc") 1L else c(1L, 3L)) {
      form <- stats::as.formula(paste(y, "~ x + f +", re))
      ref <- glmm(form, d, fams[[y]], nAGQ = nq)
      f <- glmm(form, d, fams[[y]], nAGQ = nq,
                control = glmm_control(workers = cl2, shards = 7L))
      lab <- paste(y, re, nq)
      expect_identical(f$theta, ref$theta, label = lab)
      expect_identical(f$loglik, ref$loglik, label = lab)
      expect_identical(f$cov_theta, ref$cov_theta, label = lab)
    }
})

test_that("glmm_shards() from rds and csv files equals glmm() on the combined data", {
  cb <- cbpp
  # Character columns (what read.csv() gives back).
  cb$herd <- paste0("h", cb$herd)
  cb$period <- paste0("p", cb$period)
  parts <- split(cb, as.integer(cbpp$herd) %% 4L)
  # A level of period missing from one shard, a missing value in another.
  parts[[2L]] <- parts[[2L]][parts[[2L]]$period != "p4", ]
  parts[[3L]]$size[1L] <- NA
  all <- do.call(rbind, parts)
  ref <- glmm(cbpp_form, all, binomial, nAGQ = 9)
  for (ext in c("rds", "csv")) {
    files <- shard_files(parts, ext)
    f <- glmm_shards(cbpp_form, files, binomial, nAGQ = 9, workers = cl2)
    expect_s3_class(f, "glmmgee_glmm_sharded")
    expect_equal(f$theta, ref$theta, tolerance = 1e-10)
    expect_equal(f$loglik, ref$loglik, tolerance = 1e-10)
    expect_equal(ses(f), ses(ref), tolerance = 1e-10)
    expect_equal(as.matrix(ranef(f)[[1L]]), as.matrix(ranef(ref)[[1L]]), tolerance = 1e-10)
    expect_identical(nobs(f), nobs(ref))
    expect_identical(f$distributed$rows_used, nrow(all) - 1L)
    nd <- all[c(1, 9, 20), ]
    expect_equal(predict(f, newdata = nd), predict(ref, newdata = nd), tolerance = 1e-10)
    expect_equal(coef(summary(f)), coef(summary(ref)), tolerance = 1e-10)
    expect_equal(confint(f), confint(ref, parm = names(fixef(ref))), tolerance = 1e-10)
    expect_error(confint(f, method = "profile"), "Wald intervals")
  }
  # A factor stored as a factor with its levels declared per shard.
  parts_f <- split(cbpp, as.integer(cbpp$herd) %% 3L)
  f <- glmm_shards(cbpp_form, shard_files(parts_f, "rds"), binomial, nAGQ = 9, workers = cl1)
  expect_equal(f$theta, glmm(cbpp_form, do.call(rbind, parts_f), binomial, nAGQ = 9)$theta,
               tolerance = 1e-10)
})

test_that("parquet shard files (nanoparquet) give the fit of the same shards as rds", {
  skip_if_not_installed("nanoparquet")
  cb <- cbpp
  cb$herd <- paste0("h", cb$herd)
  parts <- split(cb, as.integer(cbpp$herd) %% 4L)
  parts[[2L]] <- parts[[2L]][parts[[2L]]$period != "4", ]
  f_rds <- glmm_shards(cbpp_form, shard_files(parts, "rds"), binomial, nAGQ = 9, workers = cl2)
  f_pq <- glmm_shards(cbpp_form, shard_files(parts, "parquet"), binomial, nAGQ = 9, workers = cl2)
  expect_identical(f_pq$theta, f_rds$theta)
  expect_identical(f_pq$cov_theta, f_rds$cov_theta)
  expect_identical(f_pq$loglik, f_rds$loglik)
  expect_identical(ranef(f_pq), ranef(f_rds))
  ref <- glmm(cbpp_form, do.call(rbind, parts), binomial, nAGQ = 9)
  expect_equal(f_pq$theta, ref$theta, tolerance = 1e-10)
})

test_that("glmm_shards() refuses what it cannot fit, by name", {
  parts <- split(cbpp, as.integer(cbpp$herd) %% 2L)
  files <- shard_files(parts, "rds")
  expect_error(glmm_shards(cbpp_form, files, binomial, workers = "a"), "'workers' must be")
  expect_error(glmm_shards(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | period),
                           files, binomial, workers = cl1), "crossed designs|outermost factor")
  expect_error(glmm_shards(cbind(incidence, size - incidence) ~ period + (1 | herd/period),
                           files, binomial, workers = cl1), "outermost factor")
  split_herd <- shard_files(split(cbpp, seq_len(nrow(cbpp)) %% 2L), "rds")
  expect_error(glmm_shards(cbpp_form, split_herd, binomial, workers = cl1),
               "more than one shard file")
  expect_error(glmm_shards(cbpp_form, sub("rds$", "parquet", files), binomial, workers = cl1),
               if (requireNamespace("nanoparquet", quietly = TRUE) ||
                   requireNamespace("arrow", quietly = TRUE)) "does not exist"
               else "nanoparquet \\(or arrow\\) package")
  expect_error(glmm_control(workers = 2), "'workers' must be NULL or a cluster")
})

test_that("Gamma with the identity or inverse link on workers is the in-process fit, in any units", {
  # The workers' start (glm.fit()'s IRLS) went on from negative means where
  # glm.fit() fails and the in-process start retries from the mean of y:
  # a NaN log-likelihood. And y * 1000 was not fitted on y / s there.
  set.seed(1)
  g <- sample(1:40, 600, TRUE)
  d <- data.frame(g = factor(g), x = rnorm(600))
  d$y <- rgamma(600, shape = 3, rate = 3 / exp(0.5 + 0.3 * d$x + 0.3 * rnorm(40)[g]))
  d$yk <- d$y * 1000
  for (lk in c("identity", "inverse")) for (form in list(y ~ x + (1 | g), yk ~ x + (1 | g))) {
    ref <- glmm(form, d, Gamma(link = lk), nAGQ = 1)
    f <- glmm(form, d, Gamma(link = lk), nAGQ = 1, control = glmm_control(workers = cl2, shards = 3))
    expect_same_fit(f, ref)
    expect_true(is.finite(f$loglik))
  }
})

test_that("terms computed from the data (poly(), scale(), ns()) are refused on shards, not per shard", {
  # Each shard computed its own basis or centre: another model, silently.
  set.seed(6)
  d <- data.frame(g = rep(1:30, each = 5), x = rnorm(150), z = runif(150))
  d$y <- 1 + d$x + 0.3 * d$x^2 + rnorm(30)[d$g] + rnorm(150)
  d$yp <- rpois(150, exp(0.3 + 0.3 * d$x + 0.5 * rnorm(30)[d$g]))
  parts <- unname(split(d, d$g %% 3))
  files <- shard_files(parts)
  dat <- do.call(rbind, parts)
  remedy <- "before writing the shard files, or use .*poly\\(x, 2, raw = TRUE\\) or I\\(x\\^2\\)"
  expect_error(glmm_shards(y ~ poly(x, 2) + (1 | g), files, workers = cl2),
               paste0("'poly\\(x, 2\\)' depends on the rows it is computed from.*", remedy))
  expect_error(glmm_shards(y ~ scale(x) + splines::ns(z, 3) + (1 | g), files, workers = cl2),
               "'scale\\(x\\)', 'splines::ns\\(z, 3\\)' depend on the rows")
  expect_error(glmm_shards(y ~ x + (1 + scale(z) | g), files, workers = cl2), "'scale\\(z\\)' depends")
  expect_error(gee_shards(y ~ poly(x, 2), files, id = "g", workers = cl2),
               "'poly\\(x, 2\\)' depends on the rows")
  # What does not depend on the data still fits, as in memory.
  for (form in list(y ~ poly(x, 2, raw = TRUE) + (1 | g), y ~ x + I(x^2) + log(z) + (1 | g))) {
    ref <- glmm(form, dat)
    f <- glmm_shards(form, files, workers = cl2)
    expect_equal(fixef(f), fixef(ref), tolerance = 1e-10)
    expect_equal(f$loglik, ref$loglik, tolerance = 1e-10)
  }
  gref <- gee(y ~ poly(x, 2, raw = TRUE), data = dat, id = g, corstr = "exchangeable")
  gf <- gee_shards(y ~ poly(x, 2, raw = TRUE), files, id = "g", corstr = "exchangeable",
                   workers = cl2)
  expect_equal(coef(gf), coef(gref), tolerance = 1e-10)
  # Data in memory: the terms are computed once, on the combined rows.
  ref <- glmm(yp ~ poly(x, 2) + scale(z) + (1 | g), dat, poisson)
  f <- glmm(yp ~ poly(x, 2) + scale(z) + (1 | g), dat, poisson,
            control = glmm_control(workers = cl2, shards = 3))
  expect_same_fit(f, ref)
  nd <- data.frame(x = c(-1, 0, 1), z = 0.5)
  expect_equal(predict(f, newdata = nd, re.form = NA), predict(ref, newdata = nd, re.form = NA),
               tolerance = 1e-10)
  gref <- gee(y ~ poly(x, 2), data = dat, id = g, corstr = "exchangeable")
  gf <- gee(y ~ poly(x, 2), data = dat, id = g, corstr = "exchangeable",
            control = gee_control(workers = cl2, shards = 3))
  expect_equal(coef(gf), coef(gref), tolerance = 1e-10)
})

test_that("a worker killed mid-fit: its shards move to the other worker, or a clear error names it", {
  kill_at <- function(round) {
    suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
          tracer = bquote(if (eng$rounds == .(round) && eng$alive[2L]) {
            tools::pskill(eng$info$pid[2L])
            Sys.sleep(0.5)
          })))
  }
  on.exit(suppressMessages(untrace("shard_round_once", where = asNamespace("glmmgee"))), add = TRUE)
  ref <- glmm(cbpp_form, cbpp, binomial, nAGQ = 9)
  clk <- parallel::makePSOCKcluster(2L)
  # A cluster with a dead worker: close every connection (stopCluster()
  # stops at the dead one and leaves the others to the garbage collector).
  close_all <- function(cl) for (nd in cl) try(close(nd$con), silent = TRUE)
  on.exit(close_all(clk), add = TRUE)
  kill_at(12L)
  warned <- character()
  f <- withCallingHandlers(
    glmm(cbpp_form, cbpp, binomial, nAGQ = 9, control = glmm_control(workers = clk, shards = 7L)),
    warning = function(w) {
      warned <<- c(warned, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_match(warned, "worker 2 \\(pid [0-9]+ on .*\\) stopped responding", all = FALSE)
  expect_match(f$optinfo$warnings, "reloaded on worker", all = FALSE)
  # The moved shards' modes start afresh: equal to the mode search's
  # tolerance, no longer bitwise.
  expect_equal(f$theta, ref$theta, tolerance = 1e-7)
  expect_equal(f$loglik, ref$loglik, tolerance = 1e-9)
  # Shard files removed before the kill: nothing to reload, a clear error.
  clk2 <- parallel::makePSOCKcluster(2L)
  on.exit(close_all(clk2), add = TRUE)
  files <- shard_files(split(cbpp, as.integer(cbpp$herd) %% 3L), "rds")
  suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
        tracer = bquote(if (eng$rounds == 5L && eng$alive[2L]) {
          unlink(.(files))
          tools::pskill(eng$info$pid[2L])
          Sys.sleep(0.5)
        })))
  expect_error(glmm_shards(cbpp_form, files, binomial, workers = clk2),
               "worker 2 \\(pid [0-9]+ on .*\\) stopped responding.*could not be reloaded")
})

test_that("a worker killed at any point of the search: the fit reaches the in-memory optimum and standard errors", {
  # Poisson counts with a random slope (5 parameters), from shard files
  # and from data in memory. The worker is killed in the Laplace stage and
  # in the Hessian at the end. From files, the shards the live worker held
  # were centred a second time when it read the dead one's (the fit went on
  # with another model on them: 0.175 below the optimum); a kill in the
  # Hessian left the fit without standard errors. A search that goes on
  # across a move compares engines in different states on either side of
  # it, so it runs again from the last point reached.
  set.seed(47)
  M <- 40
  dk <- data.frame(g = rep(seq_len(M), each = 8), x = rnorm(M * 8))
  dk$y <- rpois(nrow(dk), exp(0.5 + 0.3 * dk$x + rnorm(M, sd = 0.7)[dk$g] +
                                rnorm(M, sd = 0.3)[dk$g] * dk$x))
  form <- y ~ x + (1 + x | g)
  ref <- glmm(form, dk, poisson, nAGQ = 3)
  files <- shard_files(split(dk, dk$g %% 3L), "rds")
  close_all <- function(cl) for (nd in cl) try(close(nd$con), silent = TRUE)
  fit_killed <- function(round, shards_from_files) {
    clk <- parallel::makePSOCKcluster(2L)
    on.exit(close_all(clk), add = TRUE)
    suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
          tracer = bquote(if (eng$rounds == .(round) && eng$alive[2L]) {
            tools::pskill(eng$info$pid[2L])
            Sys.sleep(0.3)
          })))
    on.exit(suppressMessages(untrace("shard_round_once", where = asNamespace("glmmgee"))),
            add = TRUE)
    suppressWarnings(
      if (shards_from_files) glmm_shards(form, files, poisson, nAGQ = 3, workers = clk)
      else glmm(form, dk, poisson, nAGQ = 3, control = glmm_control(workers = clk, shards = 5L)))
  }
  rounds <- glmm_shards(form, files, poisson, nAGQ = 3, workers = cl2)$distributed$rounds
  for (run in list(list(TRUE, round(rounds * 0.2)), list(TRUE, rounds - 2L), list(FALSE, rounds - 2L))) {
    from_files <- run[[1L]]
    k <- run[[2L]]
    f <- fit_killed(k, from_files)
    info <- sprintf("killed at round %d of %d, %s", k, rounds, if (from_files) "files" else "memory")
    expect_match(f$optinfo$warnings, "worker 2 .* stopped responding", all = FALSE, info = info)
    expect_false(any(grepl("doubtful|did not converge|false convergence|no valid Hessian|not negative",
                           f$optinfo$warnings)), info = info)
    expect_lt(abs(as.numeric(logLik(f)) - as.numeric(logLik(ref))), 1e-6)
    expect_equal(fixef(f), fixef(ref), tolerance = 1e-5, info = info)
    expect_equal(f$theta, ref$theta, tolerance = 1e-5, info = info)
    expect_equal(sqrt(diag(vcov(f))), sqrt(diag(vcov(ref))), tolerance = 1e-4, info = info)
    expect_equal(ses(f), ses(ref), tolerance = 1e-4, info = info)
  }
})

test_that("glmm_shards(): a damaged or empty shard file is named with what is wrong", {
  parts <- split(cbpp, as.integer(cbpp$herd) %% 3L)
  files <- shard_files(parts, "rds")
  bad <- files
  # Not an rds file; a truncated one.
  writeBin(charToRaw("not an rds file at all"), bad[2L])
  expect_error(glmm_shards(cbpp_form, bad, binomial, workers = cl2),
               sprintf("shard file '[^']*%s' could not be read as rds", basename(bad[2L])))
  raw <- readBin(files[3L], "raw", 1e6)
  writeBin(raw[seq_len(length(raw) %/% 2L)], bad[2L])
  expect_error(glmm_shards(cbpp_form, bad, binomial, workers = cl2),
               sprintf("shard file '[^']*%s' could not be read as rds", basename(bad[2L])))
  # No rows (was "the response contains NaN"), or no complete row.
  saveRDS(cbpp[0L, ], bad[2L])
  expect_error(glmm_shards(cbpp_form, bad, binomial, workers = cl2),
               sprintf("shard file '[^']*%s' has no rows", basename(bad[2L])))
  na <- parts[[2L]]
  na$size <- NA
  saveRDS(na, bad[2L])
  expect_error(glmm_shards(cbpp_form, bad, binomial, workers = cl2),
               sprintf("shard file '[^']*%s': all its %d rows have a missing value", basename(bad[2L]),
                       nrow(na)))
  # Something other than a data frame.
  saveRDS(as.matrix(parts[[2L]]), bad[2L])
  expect_error(glmm_shards(cbpp_form, bad, binomial, workers = cl2),
               sprintf("shard file '[^']*%s' does not hold a data frame \\(it holds matrix\\)", basename(bad[2L])))
})

test_that("glmm(control = glmm_control(workers =)) refuses nested and crossed designs", {
  ctl <- glmm_control(workers = cl1)
  expect_error(glmm(cbind(incidence, size - incidence) ~ (1 | herd/period), cbpp, binomial,
                    control = ctl), "outermost factor")
  expect_error(glmm(cbind(incidence, size - incidence) ~ (1 | herd) + (1 | period), cbpp,
                    binomial, control = ctl), "crossed designs")
})

# Per-row results written beside the shard files, matched to the in-memory
# fit's by the rows' names in the combined data.
rows_written <- function(paths, parts, ext) {
  read <- switch(ext, rds = readRDS, csv = utils::read.csv,
                 parquet = function(p) as.data.frame(nanoparquet::read_parquet(p)))
  out <- lapply(seq_along(paths), function(s) {
    r <- read(paths[s])
    stats::setNames(r[[2L]], rownames(parts[[s]])[r$row])
  })
  unlist(out)
}

test_that("marginal_coefs(), standardize(), fitted(), residuals() and predict() of glmm_shards() fits equal the in-memory ones, 1 and 7 shards", {
  set.seed(171)
  M <- 40; n_i <- 5
  d <- data.frame(g = rep(seq_len(M), each = n_i), x = rnorm(M * n_i),
                  f = factor(sample(c("a", "b", "c"), M * n_i, TRUE)))
  d$y <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + 0.3 * (d$f == "b") +
                              rnorm(M, sd = 0.5)[d$g] + rnorm(M, sd = 0.3)[d$g] * d$x))
  d$x[7] <- NA
  form <- y ~ x + f + (1 + x | g)
  ref <- glmm(form, d, poisson, nAGQ = 1)
  mc_ref <- marginal_coefs(ref)
  ref_cb <- glmm(cbpp_form, cbpp, binomial, nAGQ = 9)
  for (S in c(1L, 7L)) {
    ext <- "rds"
    parts <- unname(split(d, (d$g - 1L) %% S))
    f <- glmm_shards(form, shard_files(parts, ext), poisson, nAGQ = 1, workers = cl2)
    expect_equal(f$theta, ref$theta, tolerance = 1e-10)
    # A random slope (q = 2) on shards that interleave the clusters: the
    # estimates and their covariance are bitwise the in-memory ones.
    expect_identical(unname(f$theta), unname(ref$theta))
    expect_identical(unname(f$cov_theta), unname(ref$cov_theta))
    mc <- marginal_coefs(f)
    expect_equal(coef(mc), coef(mc_ref), tolerance = 1e-10)
    expect_equal(vcov(mc), vcov(mc_ref), tolerance = 1e-10)
    expect_equal(coef(marginal_coefs(f, std_errors = FALSE)), coef(mc_ref), tolerance = 1e-10)
    fv <- fitted(f)
    expect_true(all(file.exists(fv)))
    expect_match(fv[1L], paste0("_fitted\\.", ext, "$"))
    expect_identical(sum(attr(fv, "rows")), nobs(ref))
    got <- rows_written(fv, parts, ext)
    expect_equal(got, fitted(ref)[names(got)], tolerance = 1e-10)
    expect_setequal(names(got), names(fitted(ref)))
    for (ty in c("deviance", "pearson", "working")) {
      got <- rows_written(residuals(f, type = ty), parts, ext)
      expect_equal(got, residuals(ref, type = ty)[names(got)], tolerance = 1e-10)
    }
    got <- rows_written(predict(f, type = "response", re.form = NA), parts, ext)
    expect_equal(got, predict(ref, type = "response", re.form = NA)[names(got)], tolerance = 1e-10)
    got <- rows_written(predict(f, suffix = "eta"), parts, ext)
    expect_equal(got, predict(ref)[names(got)], tolerance = 1e-10)
    expect_equal(as.data.frame(standardize(f, "f")), as.data.frame(standardize(ref, "f")),
                 tolerance = 1e-10)
    expect_equal(as.data.frame(standardize(f, "x", values = c(-1, 1), re = "conditional")),
                 as.data.frame(standardize(ref, "x", values = c(-1, 1), re = "conditional")),
                 tolerance = 1e-10)
    # The binomial fit of cbpp (marginal means within (0, 1)).
    pcb <- unname(split(cbpp, as.integer(cbpp$herd) %% S))
    fcb <- glmm_shards(cbpp_form, shard_files(pcb, "rds"), binomial, nAGQ = 9, workers = cl2)
    expect_equal(coef(marginal_coefs(fcb)), coef(marginal_coefs(ref_cb)), tolerance = 1e-10)
    expect_equal(vcov(marginal_coefs(fcb)), vcov(marginal_coefs(ref_cb)), tolerance = 1e-10)
    # Csv shards (lossless for these integer and character columns): the
    # results come back as csv files.
    cb <- transform(cbpp, herd = paste0("h", herd), period = paste0("p", period))
    pcb <- unname(split(cb, as.integer(cbpp$herd) %% S))
    fcb <- glmm_shards(cbpp_form, shard_files(pcb, "csv"), binomial, nAGQ = 9, workers = cl2)
    fv <- fitted(fcb)
    expect_match(fv[1L], "_fitted\\.csv$")
    got <- rows_written(fv, pcb, "csv")
    expect_equal(got, fitted(ref_cb)[names(got)], tolerance = 1e-10)
  }
  expect_error(predict(f, suffix = "a/b"), "'suffix' must be")
  expect_error(standardize(f, "x"), "'values' is needed for 'x'")
  expect_error(standardize(f, "f", se = "bootstrap"), "se = \"delta\" or \"none\"")
  # The fit's cluster stopped: a clear error, and workers = reads the shards
  # on another one.
  clx <- parallel::makePSOCKcluster(1L)
  fx <- glmm_shards(cbpp_form, shard_files(unname(split(cbpp, as.integer(cbpp$herd) %% 2L)), "rds"),
                    binomial, nAGQ = 9, workers = clx)
  parallel::stopCluster(clx)
  expect_error(marginal_coefs(fx), "has been stopped; give a running one.*workers =")
  expect_error(fitted(fx), "has been stopped; give a running one.*workers =")
  expect_equal(coef(marginal_coefs(fx, workers = cl2)), coef(marginal_coefs(ref_cb)), tolerance = 1e-10)
  expect_true(all(file.exists(fitted(fx, workers = cl2))))
})

test_that("cluster-robust covariances of glmm_shards() fits equal the in-memory ones, and every method with 'vcov' uses them", {
  skip_if_not_installed("sandwich")
  # The in-memory fit keeps its clusters' informations from its Hessian's
  # forward differences (test-vcov-robust.R); shards take them by central
  # differences of rebuilt engines' scores, as the in-memory fit does
  # without them: the same numbers to 1e-8, and to the differences' error
  # (CR2 and CR3 about 1e-6 apart) against the kept ones.
  kept <- glmm(cbpp_form, cbpp, binomial, nAGQ = 9)
  ref <- without_curvature(kept)
  files <- shard_files(unname(split(cbpp, as.integer(cbpp$herd) %% 3L)), "rds")
  f <- glmm_shards(cbpp_form, files, binomial, nAGQ = 9, workers = cl2)
  for (ty in c("CR0", "CR1", "CR2", "CR3")) {
    expect_equal(vcov(f, type = ty), vcov(ref, type = ty), tolerance = 1e-8)
    expect_equal(vcov(f, type = ty), vcov(kept, type = ty), tolerance = 1e-5)
  }
  # With their Satterthwaite degrees of freedom, in every method with 'vcov'.
  expect_equal(coef(summary(f, vcov = "CR2")), coef(summary(ref, vcov = "CR2")), tolerance = 1e-8)
  expect_equal(confint(f, vcov = "CR3"), confint(ref, vcov = "CR3"), tolerance = 1e-8)
  expect_equal(confint(f, "period2", vcov = "CR2"), confint(ref, "period2", vcov = "CR2"), tolerance = 1e-8)
  expect_equal(as.data.frame(odds_ratios(f, vcov = "CR2")), as.data.frame(odds_ratios(ref, vcov = "CR2")),
               tolerance = 1e-8)
  mf <- marginal_coefs(f, vcov = "CR2")
  mr <- marginal_coefs(ref, vcov = "CR2")
  expect_equal(vcov(mf), vcov(mr), tolerance = 1e-8)
  expect_equal(mf$df, mr$df, tolerance = 1e-8)
  expect_false(isTRUE(all.equal(vcov(mf), vcov(marginal_coefs(ref)))))
  sf <- standardize(f, "period", vcov = "CR2")
  expect_equal(as.data.frame(sf), as.data.frame(standardize(ref, "period", vcov = "CR2")), tolerance = 1e-8)
  expect_match(attr(sf, "vcov_label"), "CR2")
  expect_equal(anova(f, vcov = "CR2"), anova(ref, vcov = "CR2"), tolerance = 1e-8)
  expect_equal(anova(f), anova(ref), tolerance = 1e-8)
  # estfun(): one row per cluster (the in-memory fit puts each on the
  # cluster's first row), so that sandwich's estimators agree.
  ef <- sandwich::estfun(ref)
  expect_equal(unname(sandwich::estfun(f)), unname(ef[rowSums(abs(ef)) > 0, ]), tolerance = 1e-8)
  expect_equal(sandwich::vcovCL(f, type = "HC0", cadjust = FALSE), vcov(ref, type = "CR0"),
               tolerance = 1e-8, ignore_attr = TRUE)
  # Only the fit's own grouping can be the cluster; 'workers' belongs to
  # the robust types.
  expect_equal(vcov(f, type = "CR2", cluster = ~ herd), vcov(ref, type = "CR2"), tolerance = 1e-8)
  expect_error(vcov(f, type = "CR2", cluster = ~ period), "clustered by its grouping factor 'herd'")
  expect_error(vcov(f, workers = cl2), "'workers' is for the cluster-robust types")
  # A random slope on 7 shards, a dispersion family; and a gaussian fit,
  # whose robust types take the GLS form of the in-memory linear mixed
  # model (test-vcov-robust.R: clubSandwich's on lmer).
  set.seed(61)
  M <- 60
  d <- data.frame(g = rep(seq_len(M), each = 6), x = rnorm(M * 6))
  d$y <- rnbinom(nrow(d), mu = exp(0.5 + 0.3 * d$x + rnorm(M, sd = 0.6)[d$g] +
                                      rnorm(M, sd = 0.4)[d$g] * d$x), size = 2)
  form <- y ~ x + (1 + x | g)
  keptn <- glmm(form, d, family = "nbinom2", nAGQ = 1)
  refn <- without_curvature(keptn)
  fn <- glmm_shards(form, shard_files(unname(split(d, d$g %% 7L)), "rds"), family = "nbinom2",
                    nAGQ = 1, workers = cl2)
  for (ty in c("CR0", "CR2", "CR3")) {
    expect_equal(vcov(fn, type = ty), vcov(refn, type = ty), tolerance = 1e-8)
    expect_equal(vcov(fn, type = ty), vcov(keptn, type = ty), tolerance = 1e-5)
  }
  data(sleepstudy, package = "lme4")
  sform <- Reaction ~ Days + (1 + Days | Subject)
  refg <- glmm(sform, sleepstudy)
  fg <- glmm_shards(sform, shard_files(unname(split(sleepstudy, as.integer(sleepstudy$Subject) %% 4L)), "rds"),
                    gaussian, workers = cl2)
  for (ty in c("CR0", "CR1", "CR2", "CR3"))
    expect_equal(vcov(fg, type = ty), vcov(refg, type = ty), tolerance = 1e-6)
  expect_equal(coef(summary(fg, vcov = "CR2")), coef(summary(refg, vcov = "CR2")), tolerance = 1e-6)
  expect_equal(sandwich::estfun(fg), sandwich::estfun(refg)[!duplicated(sleepstudy$Subject), ],
               tolerance = 1e-6, ignore_attr = TRUE)
  # The fit's cluster stopped: a clear error, and workers = reads the
  # shards on another one.
  clx <- parallel::makePSOCKcluster(1L)
  fx <- glmm_shards(cbpp_form, files, binomial, nAGQ = 9, workers = clx)
  parallel::stopCluster(clx)
  expect_error(vcov(fx, type = "CR2"), "has been stopped; give a running one.*workers =")
  expect_equal(vcov(fx, type = "CR2", workers = cl2), vcov(ref, type = "CR2"), tolerance = 1e-8)
  expect_equal(vcov(marginal_coefs(fx, vcov = "CR2", workers = cl2)), vcov(mr), tolerance = 1e-8)
  expect_equal(as.data.frame(standardize(fx, "period", vcov = "CR2", workers = cl2)),
               as.data.frame(standardize(ref, "period", vcov = "CR2")), tolerance = 1e-8)
})

test_that("anova() of nested glmm_shards() fits is the in-memory likelihood-ratio test; what it cannot check is named", {
  set.seed(8)
  d <- data.frame(g = rep(1:25, each = 6), x = rnorm(150), f = factor(sample(letters[1:3], 150, TRUE)))
  d$y <- rbinom(150, 1, plogis(-0.2 + d$x + rnorm(25)[d$g]))
  files <- shard_files(split(d, d$g %% 3), "rds")
  a0 <- glmm(y ~ x + (1 | g), d, binomial)
  b0 <- glmm(y ~ x + f + (1 | g), d, binomial)
  a1 <- glmm_shards(y ~ x + (1 | g), files, binomial, workers = cl2)
  b1 <- glmm_shards(y ~ x + f + (1 | g), files, binomial, workers = cl2)
  r0 <- anova(a0, b0)
  r1 <- anova(a1, b1)
  for (k in c("npar", "logLik", "Chisq", "Df", "Pr(>Chisq)")) expect_equal(r1[[k]], r0[[k]], tolerance = 1e-8)
  # Was "'y' needs the data rows, which stayed on the workers".
  expect_error(anova(a0, b1), "cannot be compared with a fit of data in memory")
  c1 <- glmm_shards(y ~ f + (1 | g), files, binomial, workers = cl2)
  expect_error(anova(a1, c1), "not nested.*'x' are not columns of the larger model")
  e1 <- suppressWarnings(glmm_shards(x ~ f + (1 | g), files, gaussian, workers = cl2))
  expect_error(anova(e1, b1), "families|differ in their response")
})
