# Nested random intercepts fitted on workers (glmm(..., nAGQ > 1,
# control = glmm_control(workers = ))): shards of whole outermost units,
# the multilevel quadrature sums taken over shards in shard order. The fit
# equals the in-memory nested fit and does not depend on the number of
# workers. Two local PSOCK workers, stopped at the end.

cl2 <- parallel::makePSOCKcluster(2L)
withr::defer(try(parallel::stopCluster(cl2), silent = TRUE), teardown_env())

set.seed(4)
dn <- expand.grid(patient = 1:4, ward = 1:4, hospital = 1:20)
dn$x <- rnorm(nrow(dn))
dn$y <- rbinom(nrow(dn), 1, plogis(-0.5 + dn$x + rnorm(20)[dn$hospital] +
                                    1.5 * rnorm(80)[(dn$hospital - 1) * 4 + dn$ward]))
# Rows of an outermost unit need not be contiguous.
dn <- dn[sample(nrow(dn)), ]

test_that("nested AGHQ on workers equals the in-memory fit for 1 and 2 workers, 1 and 5 shards", {
  ref <- glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 5)
  fits <- list()
  for (W in 1:2) for (S in c(1L, 5L)) {
    f <- glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 5,
              control = glmm_control(workers = cl2[seq_len(W)], shards = S))
    expect_s3_class(f, "glmmgee_glmm_nested")
    expect_equal(f$distributed$shards, S)
    expect_equal(f$distributed$workers, W)
    expect_equal(f$theta, ref$theta, tolerance = 1e-8)
    expect_equal(f$loglik, ref$loglik, tolerance = 1e-8)
    expect_equal(sqrt(diag(f$cov_theta)), sqrt(diag(ref$cov_theta)), tolerance = 1e-8)
    re <- ranef(f, condVar = TRUE)
    rr <- ranef(ref, condVar = TRUE)
    for (g in names(rr)) {
      expect_equal(as.matrix(re[[g]]), as.matrix(rr[[g]]), tolerance = 1e-8)
      expect_equal(attr(re[[g]], "postVar"), attr(rr[[g]], "postVar"), tolerance = 1e-8)
    }
    expect_equal(fitted(f), fitted(ref), tolerance = 1e-8)
    expect_identical(f$optinfo$warnings, ref$optinfo$warnings)
    fits[[paste(W, S)]] <- f
  }
  # The same shards give the same sums whatever the number of workers.
  for (S in c(1L, 5L)) {
    expect_identical(fits[[paste(1, S)]]$theta, fits[[paste(2, S)]]$theta)
    expect_identical(fits[[paste(1, S)]]$loglik, fits[[paste(2, S)]]$loglik)
    expect_identical(fits[[paste(1, S)]]$cov_theta, fits[[paste(2, S)]]$cov_theta)
  }
})

test_that("a Poisson three-level nested fit on workers equals the in-memory fit", {
  set.seed(7)
  d3 <- expand.grid(rep = 1:3, c = 1:3, b = 1:3, a = 1:12)
  d3$x <- runif(nrow(d3))
  ia <- d3$a; ib <- (d3$a - 1) * 3 + d3$b; ic <- (ib - 1) * 3 + d3$c
  d3$y <- rpois(nrow(d3), exp(0.3 + 0.5 * d3$x + 0.6 * rnorm(12)[ia] +
                                 0.4 * rnorm(36)[ib] + 0.3 * rnorm(108)[ic]))
  ref <- glmm(y ~ x + (1 | a/b/c), data = d3, family = poisson, nAGQ = 3)
  f <- glmm(y ~ x + (1 | a/b/c), data = d3, family = poisson, nAGQ = 3,
            control = glmm_control(workers = cl2, shards = 5L))
  expect_equal(f$theta, ref$theta, tolerance = 1e-8)
  expect_equal(f$loglik, ref$loglik, tolerance = 1e-8)
  expect_equal(sqrt(diag(f$cov_theta)), sqrt(diag(ref$cov_theta)), tolerance = 1e-8)
  for (g in names(ranef(ref)))
    expect_equal(as.matrix(ranef(f)[[g]]), as.matrix(ranef(ref)[[g]]), tolerance = 1e-8)
})

test_that("crossed designs and nested Laplace fits are refused on workers", {
  expect_error(glmm(y ~ x + (1 | hospital) + (1 | patient), data = dn, family = binomial,
                    nAGQ = 5, control = glmm_control(workers = cl2)),
               "crossed.*not fitted on workers.*method-of-moments")
  expect_error(glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 1,
                    control = glmm_control(workers = cl2)),
               "one grouping factor.*nAGQ > 1")
})

test_that("a worker killed mid-search: the nested fit says so and reaches the in-memory optimum", {
  # The dead worker's shards move to the other; the move was not reported
  # at all, and the search went on across it.
  ref <- glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 5)
  close_all <- function(cl) for (nd in cl) try(close(nd$con), silent = TRUE)
  rounds <- glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial, nAGQ = 5,
                 control = glmm_control(workers = cl2, shards = 5L))$distributed$rounds
  for (k in rounds - 3L) {  # in the Hessian at the end
    clk <- parallel::makePSOCKcluster(2L)
    suppressMessages(trace("shard_round_once", where = asNamespace("glmmgee"), print = FALSE,
          tracer = bquote(if (eng$rounds == .(k) && eng$alive[2L]) {
            tools::pskill(eng$info$pid[2L])
            Sys.sleep(0.3)
          })))
    f <- suppressWarnings(glmm(y ~ x + (1 | hospital/ward), data = dn, family = binomial,
                               nAGQ = 5, control = glmm_control(workers = clk, shards = 5L)))
    suppressMessages(untrace("shard_round_once", where = asNamespace("glmmgee")))
    close_all(clk)
    info <- sprintf("killed at round %d of %d", k, rounds)
    expect_match(f$optinfo$warnings, "worker 2 .* stopped responding", all = FALSE, info = info)
    expect_lt(abs(f$loglik - ref$loglik), 1e-6)
    expect_equal(f$theta, ref$theta, tolerance = 1e-5, info = info)
    expect_equal(sqrt(diag(f$cov_theta)), sqrt(diag(ref$cov_theta)), tolerance = 1e-4, info = info)
  }
})
