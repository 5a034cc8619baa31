# Distributed gee() (gee_control(workers =)) against the in-memory fit on
# the same data: coefficients, correlation parameters, scale, every variance
# estimator and QIC's pieces, for every corstr, 1, 2 and 3 workers and 1 and
# 7 shards. One cluster of two local PSOCK workers for the file (a third
# joins it for the three-worker fits).

cl2 <- parallel::makePSOCKcluster(2L)
cl_extra <- parallel::makePSOCKcluster(1L)
withr::defer({
  try(parallel::stopCluster(cl2), silent = TRUE)
  try(parallel::stopCluster(cl_extra), silent = TRUE)
}, teardown_env())
cl1 <- cl2[1L]
cl3 <- structure(c(unclass(cl2), unclass(cl_extra)), class = class(cl2))

# Longitudinal counts with visits missing at random (waves with gaps), a
# centre factor whose last level occurs in the last clusters only (so in one
# shard), prior weights and an offset.
set.seed(1717)
M <- 48
d <- do.call(rbind, lapply(seq_len(M), function(i) {
  w <- sort(sample(1:6, sample(2:6, 1)))
  data.frame(id = i, wave = w, x = rnorm(length(w)), t = w / 6,
             centre = if (i > 42) "c" else c("a", "b")[1 + i %% 2])
}))
d$centre <- factor(d$centre)
u <- rnorm(M, sd = 0.5)[d$id]
d$expo <- runif(nrow(d), 0.5, 2)
d$y <- rpois(nrow(d), d$expo * exp(0.2 + 0.4 * d$x - 0.3 * d$t + 0.3 * (d$centre == "b") + u))
d$wt <- sample(c(1, 2), nrow(d), replace = TRUE)
Rfix <- 0.4^abs(outer(1:6, 1:6, "-"))

fit_gee <- function(corstr, std.err = "san.se", control = gee_control())
  gee(y ~ x + t + centre, data = d, id = id, waves = wave, family = poisson,
      corstr = corstr, std.err = std.err, offset = log(expo), weights = wt,
      R = if (corstr == "fixed") Rfix, Mv = if (corstr == "mdep") 2L else 1L, control = control)

expect_same_gee <- function(f, ref, tol = 1e-10) {
  expect_equal(coef(f), coef(ref), tolerance = tol)
  expect_equal(f$alpha, ref$alpha, tolerance = tol)
  expect_equal(f$scale, ref$scale, tolerance = tol)
  expect_identical(names(f$vcov), names(ref$vcov))
  for (tp in names(ref$vcov)) expect_equal(f$vcov[[tp]], ref$vcov[[tp]], tolerance = tol)
  expect_equal(f$quasi, ref$quasi, tolerance = tol)
  expect_equal(f$info.indep, ref$info.indep, tolerance = tol)
  expect_identical(f$iter, ref$iter)
  expect_identical(f$warnings, ref$warnings)
}

corstrs <- c("independence", "exchangeable", "ar1", "unstructured", "mdep", "fixed")

test_that("every corstr: 1, 2, 3 workers and 1, 7 shards equal the in-memory gee (1e-10)", {
  for (cs in corstrs) {
    ref <- fit_gee(cs)
    fits <- list()
    for (S in c(1L, 7L)) for (w in list(cl1, cl2, cl3)) {
      f <- fit_gee(cs, control = gee_control(workers = w, shards = S))
      expect_same_gee(f, ref)
      expect_identical(f$distributed$workers, length(w))
      expect_identical(f$distributed$shards, S)
      fits[[length(fits) + 1L]] <- f
    }
    # Sums in shard order: bitwise the same for any number of workers.
    for (k in 2:3) {
      expect_identical(fits[[k]]$coefficients, fits[[1L]]$coefficients)
      expect_identical(fits[[k + 3L]]$vcov, fits[[4L]]$vcov)
    }
  }
})

test_that("every corstr x std.err (md, kc, jack, j1s) equals the in-memory gee on 7 shards", {
  ctl <- gee_control(workers = cl2, shards = 7L)
  for (cs in corstrs) for (se in c("md", "kc", "jack", "j1s")) {
    ref <- fit_gee(cs, se)
    f <- fit_gee(cs, se, control = ctl)
    expect_same_gee(f, ref)
    expect_equal(summary(f)$coefficients, summary(ref)$coefficients, tolerance = 1e-10)
  }
})

test_that("a shard without a cluster of positive weight gives the in-memory gee (any 'shards')", {
  # Such a shard returned no sandwich share: "'dimnames' applied to
  # non-array" for some values of 'shards' only.
  dz <- d
  dz$wt[dz$id %in% 1:3] <- 0
  dz$wt[dz$id == 5] <- 0
  dz$wt[dz$id == 5][1L] <- 1
  for (se in c("san.se", "md", "jack")) {
    ref <- gee(y ~ x + t, data = dz, id = id, waves = wave, family = poisson,
               corstr = "exchangeable", std.err = se, weights = wt)
    for (s in c(10L, 48L)) {
      f <- gee(y ~ x + t, data = dz, id = id, waves = wave, family = poisson,
               corstr = "exchangeable", std.err = se, weights = wt,
               control = gee_control(workers = cl2, shards = s))
      expect_same_gee(f, ref)
    }
  }
  # A shard file whose clusters all have weight 0.
  files <- shard_files(split(dz, cut(dz$id, c(0, 3, 24, 48))))
  f <- gee_shards(y ~ x + t, files, id = "id", waves = "wave", family = poisson,
                  corstr = "exchangeable", weights = "wt", workers = cl2)
  expect_equal(coef(f), coef(ref), tolerance = 1e-10)
  expect_equal(f$vcov$san.se, ref$vcov$san.se, tolerance = 1e-10)
})

test_that("post-estimation on a distributed gee equals the in-memory one", {
  ref <- fit_gee("exchangeable")
  f <- fit_gee("exchangeable", control = gee_control(workers = cl2, shards = 7L))
  expect_equal(confint(f), confint(ref), tolerance = 1e-10)
  nd <- d[1:5, ]
  expect_equal(predict(f, newdata = nd), predict(ref, newdata = nd), tolerance = 1e-10)
  expect_equal(anova(f), anova(ref), tolerance = 1e-10)
  expect_equal(QIC(f), QIC(ref), tolerance = 1e-10)
  expect_equal(vcov(f, type = "kc"), vcov(ref, type = "kc"), tolerance = 1e-10)
  expect_gt(f$distributed$rounds, 3L)
})

test_that("binomial and gaussian families, and refusals", {
  skip_if_not_installed("MASS")
  data(bacteria, package = "MASS")
  ctl <- gee_control(workers = cl2, shards = 7L)
  for (cs in c("exchangeable", "ar1")) {
    ref <- gee(y ~ ap + hilo, data = bacteria, id = ID, waves = week, family = binomial,
               corstr = cs, std.err = "j1s")
    expect_same_gee(gee(y ~ ap + hilo, data = bacteria, id = ID, waves = week,
                        family = binomial, corstr = cs, std.err = "j1s", control = ctl), ref)
  }
  ref <- gee(x ~ t, data = d, id = id, corstr = "ar1", waves = wave)
  expect_same_gee(gee(x ~ t, data = d, id = id, corstr = "ar1", waves = wave, control = ctl), ref)
  expect_error(fit_gee("exchangeable", "fij", control = ctl), "\"fij\" refits.*not distributed")
  expect_error(gee(y ~ x, data = d, id = id, family = nbinom2(), control = ctl),
               "nbinom2.*not distributed")
  expect_error(gee_control(workers = 2), "'workers' must be NULL or a cluster")
  expect_error(gee_control(shards = 0), "'shards' must be one positive whole number")
  dd <- d
  dd$wave[2] <- dd$wave[1]
  expect_error(gee(y ~ x, data = dd, id = id, waves = wave, corstr = "ar1", family = poisson,
                   control = ctl), "duplicated value within cluster 1 of 'id'")
})

test_that("a worker killed mid-fit: its shards move to the other worker and the fit continues", {
  on.exit(suppressMessages(untrace("shard_round_once", where = asNamespace("glmmgee"))), add = TRUE)
  ref <- fit_gee("ar1", "jack")
  clk <- parallel::makePSOCKcluster(2L)
  close_all <- function(cl) for (nd in cl) try(close(nd$con), silent = TRUE)
  on.exit(close_all(clk), add = TRUE)
  suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
        tracer = quote(if (eng$rounds == 6L && eng$alive[2L]) {
          tools::pskill(eng$info$pid[2L])
          Sys.sleep(0.5)
        })))
  warned <- character()
  f <- withCallingHandlers(
    fit_gee("ar1", "jack", control = gee_control(workers = clk, shards = 7L)),
    warning = function(w) {
      warned <<- c(warned, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  expect_match(warned, "worker 2 \\(pid [0-9]+ on .*\\) stopped responding", all = FALSE)
  expect_match(f$warnings, "reloaded on worker", all = FALSE)
  # The reloaded shards recompute the same sums: the fit is unchanged.
  expect_equal(coef(f), coef(ref), tolerance = 1e-10)
  expect_equal(f$vcov$jack, ref$vcov$jack, tolerance = 1e-10)
  # No live worker left: a clear error naming the worker.
  clk2 <- parallel::makePSOCKcluster(1L)
  on.exit(close_all(clk2), add = TRUE)
  suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
        tracer = quote(if (eng$rounds == 4L && eng$alive[1L]) {
          tools::pskill(eng$info$pid[1L])
          Sys.sleep(0.5)
        })))
  expect_error(fit_gee("ar1", control = gee_control(workers = clk2, shards = 3L)),
               "worker 1 \\(pid [0-9]+ on .*\\) stopped responding")
})

test_that("gee_shards() from parquet files (nanoparquet) equals the same shards as rds", {
  skip_if_not_installed("nanoparquet")
  parts <- split(d, cut(d$id, c(0, 15, 30, 48)))
  fit <- function(files)
    gee_shards(y ~ x + t + centre + offset(log(expo)), files, id = "id", waves = "wave",
               family = poisson, corstr = "ar1", weights = "wt", std.err = "kc", workers = cl2)
  f_rds <- fit(shard_files(parts, "rds"))
  f_pq <- fit(shard_files(parts, "parquet"))
  expect_identical(coef(f_pq), coef(f_rds))
  expect_identical(f_pq$vcov, f_rds$vcov)
  expect_identical(f_pq$alpha, f_rds$alpha)
})

# Per-row results written beside the shard files, matched to the in-memory
# fit's by the rows' names.
rows_written <- function(paths, parts, ext) {
  read <- switch(ext, rds = readRDS, csv = utils::read.csv)
  unlist(lapply(seq_along(paths), function(s) {
    r <- read(paths[s])
    stats::setNames(r[[2L]], rownames(parts[[s]])[r$row])
  }))
}

test_that("fitted(), residuals(), predict() and standardize() of gee_shards() fits, 1 and 7 shards, equal the in-memory ones; a stopped cluster", {
  ref <- gee(y ~ x + t + centre + offset(log(expo)), data = d, id = id, waves = wave,
             family = poisson, corstr = "exchangeable", weights = wt)
  for (S in c(1L, 7L)) {
    parts <- unname(split(d, (d$id - 1L) %% S))
    f <- gee_shards(y ~ x + t + centre + offset(log(expo)), shard_files(parts, "rds"), id = "id",
                    waves = "wave", family = poisson, corstr = "exchangeable", weights = "wt",
                    workers = cl2)
    got <- rows_written(fitted(f), parts, "rds")
    expect_setequal(names(got), names(fitted(ref)))
    expect_equal(got, fitted(ref)[names(got)], tolerance = 1e-10)
    got <- rows_written(residuals(f), parts, "rds")
    expect_equal(got, residuals(ref)[names(got)], tolerance = 1e-10)
    got <- rows_written(predict(f), parts, "rds")
    expect_equal(got, predict(ref)[names(got)], tolerance = 1e-10)
    expect_equal(as.data.frame(standardize(f, "centre")), as.data.frame(standardize(ref, "centre")),
                 tolerance = 1e-10)
    expect_equal(as.data.frame(standardize(f, "x", values = c(0, 1), se = "none")),
                 as.data.frame(standardize(ref, "x", values = c(0, 1), se = "none")),
                 tolerance = 1e-10)
  }
  clx <- parallel::makePSOCKcluster(1L)
  fx <- gee_shards(y ~ x, shard_files(unname(split(d, d$id > 20)), "rds"), id = "id",
                   family = poisson, workers = clx)
  parallel::stopCluster(clx)
  expect_error(fitted(fx), "has been stopped; give a running one.*workers =")
  expect_true(all(file.exists(predict(fx, workers = cl2))))
})

test_that("gee_shards() from rds and csv files equals gee() on the combined rows", {
  # Centre "c" occurs only in the last clusters: missing from the other files.
  parts <- split(d, cut(d$id, c(0, 15, 30, 48)))
  expect_false("c" %in% parts[[1L]]$centre)
  files_rds <- shard_files(parts, "rds")
  files_csv <- shard_files(lapply(parts, function(p) transform(p, centre = as.character(centre))), "csv")
  for (cs in c("exchangeable", "ar1", "unstructured")) {
    ref <- gee(y ~ x + t + centre + offset(log(expo)), data = d, id = id, waves = wave,
               family = poisson, corstr = cs, weights = wt, std.err = "kc")
    for (files in list(files_rds, files_csv)) {
      f <- gee_shards(y ~ x + t + centre + offset(log(expo)), files, id = "id", waves = "wave",
                      family = poisson, corstr = cs, weights = "wt", std.err = "kc", workers = cl2)
      expect_s3_class(f, "glmmgee_gee_sharded")
      expect_same_gee(f, ref)
      expect_equal(f$working.correlation, ref$working.correlation, tolerance = 1e-10)
      expect_equal(summary(f)$coefficients, summary(ref)$coefficients, tolerance = 1e-10)
      expect_equal(anova(f), anova(ref), tolerance = 1e-10)
      expect_equal(QIC(f), QIC(ref), tolerance = 1e-10)
      expect_equal(predict(f, newdata = d[c(1, 60, 200), ]),
                   predict(ref, newdata = d[c(1, 60, 200), ]), tolerance = 1e-10)
    }
  }
  # Per-row results written beside the (csv) shard files.
  fv <- fitted(f)
  expect_match(fv[1L], "_fitted\\.csv$")
  got <- rows_written(fv, parts, "csv")
  expect_setequal(names(got), names(fitted(ref)))
  expect_equal(got, fitted(ref)[names(got)], tolerance = 1e-10)
  for (ty in c("pearson", "response", "working")) {
    got <- rows_written(residuals(f, type = ty), parts, "csv")
    expect_equal(got, residuals(ref, type = ty)[names(got)], tolerance = 1e-10)
  }
  got <- rows_written(predict(f), parts, "csv")
  expect_equal(got, predict(ref)[names(got)], tolerance = 1e-10)
  expect_error(vcov(f, type = "jack"), "not computed at fit time")
  # A row with a missing covariate is dropped as na.omit would.
  dn <- d
  dn$x[5] <- NA
  ref <- gee(y ~ x, data = dn, id = id, family = poisson, corstr = "exchangeable")
  f <- gee_shards(y ~ x, shard_files(split(dn, dn$id > 20), "rds"), id = "id", family = poisson,
                  corstr = "exchangeable", workers = cl2)
  expect_same_gee(f, ref)
  got <- rows_written(predict(f, type = "response"), unname(split(dn, dn$id > 20)), "rds")
  expect_setequal(names(got), names(fitted(ref)))
  expect_equal(got, predict(ref, type = "response")[names(got)], tolerance = 1e-10)
  expect_error(gee_shards(y ~ x, files_rds, id = "id", family = poisson, workers = cl2,
                          std.err = "fij"), "not distributed")
  expect_error(gee_shards(y ~ x, shard_files(list(d, d), "rds"), id = "id", workers = cl2),
               "appear in more than one shard file")
})

test_that("a cluster with a dead worker: gee() fits on the live ones and says which worker died", {
  # A worker killed before the fit (e.g. in an earlier fit on the same
  # cluster) was reported as "the workers could not load glmmgee".
  ref <- fit_gee("exchangeable", "kc")
  clk <- parallel::makePSOCKcluster(2L)
  close_all <- function(cl) for (nd in cl) try(close(nd$con), silent = TRUE)
  on.exit(close_all(clk), add = TRUE)
  pids <- unlist(parallel::clusterCall(clk, Sys.getpid))
  tools::pskill(pids[2L])
  Sys.sleep(0.5)
  expect_warning(f <- fit_gee("exchangeable", "kc", control = gee_control(workers = clk, shards = 7L)),
                 "worker 2 of the cluster did not respond.*process has ended")
  expect_same_gee(f, ref)
  expect_identical(f$distributed$workers, 2L)
  # The GLMM on the same cluster, alike.
  g_ref <- glmm(y ~ x + t + (1 | id), data = d, family = poisson, nAGQ = 5)
  expect_warning(g <- glmm(y ~ x + t + (1 | id), data = d, family = poisson, nAGQ = 5,
                           control = glmm_control(workers = clk, shards = 7L)),
                 "worker 2 of the cluster did not respond")
  expect_equal(g$theta, g_ref$theta, tolerance = 1e-10)
  expect_equal(logLik(g), logLik(g_ref), tolerance = 1e-10)
  # No live worker: an error that says so, not a missing installation.
  tools::pskill(pids[1L])
  Sys.sleep(0.5)
  expect_error(fit_gee("exchangeable", control = gee_control(workers = clk)),
               "no worker of the cluster responds.*processes have ended")
  # A worker that cannot load glmmgee (as without it in its library) is
  # still reported as such.
  cln <- parallel::makePSOCKcluster(1L)
  on.exit(parallel::stopCluster(cln), add = TRUE)
  parallel::clusterEvalQ(cln, suppressMessages(trace(loadNamespace, print = FALSE, quote(
    if (identical(package, "glmmgee")) stop("there is no package called 'glmmgee'")))))
  expect_error(fit_gee("exchangeable", control = gee_control(workers = cln)),
               "could not load glmmgee.*worker 1 answered: there is no package called 'glmmgee'")
})

test_that("gee_shards(): a damaged or empty shard file is named with what is wrong", {
  parts <- split(d, cut(d$id, c(0, 15, 30, 48)))
  files <- shard_files(parts, "rds")
  fit <- function(files, ...) gee_shards(y ~ x, files, id = "id", family = poisson, workers = cl2, ...)
  bad <- files
  writeBin(as.raw(1:200), bad[2L])
  expect_error(fit(bad), sprintf("shard file '[^']*%s' could not be read as rds", basename(bad[2L])))
  saveRDS(d[0L, ], bad[2L])
  expect_error(fit(bad), sprintf("shard file '[^']*%s' has no rows", basename(bad[2L])))
  na <- parts[[2L]]
  na$x <- NA
  saveRDS(na, bad[2L])
  expect_error(fit(bad), sprintf("shard file '[^']*%s': all its %d rows have a missing value",
                                 basename(bad[2L]), nrow(na)))
  csv <- shard_files(parts, "csv")
  writeLines(character(), csv[3L])
  expect_error(fit(csv), sprintf("shard file '[^']*%s' could not be read as csv", basename(csv[3L])))
})
