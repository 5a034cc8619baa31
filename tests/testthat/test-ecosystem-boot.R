# The cluster bootstrap of standardize() on boot::boot(): the replicates
# equal a cluster bootstrap written by hand with boot::boot() and the
# formula interface, the intervals are boot.ci()'s, and the results do not
# depend on how the refits are run.

boot_gee_data <- function() {
  cached("eco_boot_gee", {
    set.seed(8)
    K <- 40; ni <- 4
    id <- rep(seq_len(K), each = ni)
    trt <- rep(rbinom(K, 1, 0.5), each = ni)
    age <- rnorm(K * ni)
    b <- rnorm(K, 0, 0.7)
    data.frame(y = rbinom(K * ni, 1, plogis(-0.3 + 0.8 * trt + 0.4 * age + b[id])),
               trt = trt, age = age, id = id)
  })
}

test_that("bootstrap replicates equal a hand-written boot::boot cluster bootstrap", {
  d <- boot_gee_data()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial, corstr = "exchangeable")
  set.seed(21)
  sb <- standardize(pa, "trt", se = "bootstrap", B = 25, progress = FALSE, level = 0.8)
  bt <- attr(sb, "boot")
  expect_s3_class(bt, "boot")
  expect_equal(bt$R, 25)
  expect_equal(unname(bt$t0), sb$estimate[1:2])
  expect_equal(unname(bt$t), unname(attr(sb, "replicates")))
  by_id <- split(seq_len(nrow(d)), d$id)
  hand <- function(clusters, i) {
    parts <- by_id[clusters[i]]
    dd <- d[unlist(parts), ]
    dd$copy <- rep(seq_along(parts), lengths(parts))
    f <- gee(y ~ trt + age, data = dd, id = copy, family = binomial, corstr = "exchangeable",
             control = gee_control(epsilon = 1e-12))
    vapply(0:1, function(v) mean(predict(f, transform(dd, trt = v), type = "response")), 1)
  }
  set.seed(21)
  ref <- boot::boot(seq_along(by_id), hand, R = 25)
  expect_equal(unname(bt$t), unname(ref$t), tolerance = 1e-6)
  # Standard errors and intervals from the replicates.
  expect_equal(sb$std.error[1:2], apply(ref$t, 2, sd), tolerance = 1e-6)
  expect_equal(sb$std.error[3], sd(ref$t[, 2] - ref$t[, 1]), tolerance = 1e-6)
  perc <- boot::boot.ci(ref, conf = 0.8, type = "perc", index = 2)$percent[4:5]
  expect_equal(c(sb$conf.low[2], sb$conf.high[2]), perc, tolerance = 1e-6)
})

test_that("boot_type gives boot.ci's BCa and normal intervals (log scale for ratios)", {
  d <- boot_gee_data()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial)
  set.seed(4)
  sn <- standardize(pa, "trt", se = "bootstrap", B = 60, progress = FALSE, boot_type = "norm")
  bt <- attr(sn, "boot")
  lr <- bt
  lr$t0 <- log(bt$t0[2] / bt$t0[1])
  lr$t <- matrix(log(bt$t[, 2] / bt$t[, 1]))
  ci <- boot::boot.ci(lr, type = "norm")$normal[2:3]
  row <- sn$quantity == "ratio"
  expect_equal(c(sn$conf.low[row], sn$conf.high[row]), exp(ci))
  expect_output(print(sn), "normal \\(bootstrap SE\\) intervals")
  set.seed(4)
  sbca <- standardize(pa, "trt", se = "bootstrap", B = 60, progress = FALSE, boot_type = "bca")
  expect_equal(unname(attr(sbca, "replicates")), unname(attr(sn, "replicates")))
  bca <- boot::boot.ci(attr(sbca, "boot"), type = "bca", index = 1)$bca[4:5]
  expect_equal(c(sbca$conf.low[1], sbca$conf.high[1]), bca)
  expect_false(isTRUE(all.equal(sbca$conf.low, sn$conf.low)))
})

test_that("the bootstrap on a socket cluster gives the serial replicates", {
  d <- boot_gee_data()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial)
  cl <- parallel::makePSOCKcluster(2L)
  on.exit(parallel::stopCluster(cl))
  parallel::clusterCall(cl, function(p) .libPaths(p), .libPaths())
  set.seed(9)
  s1 <- standardize(pa, "trt", se = "bootstrap", B = 20, progress = FALSE)
  set.seed(9)
  s2 <- standardize(pa, "trt", se = "bootstrap", B = 20, progress = FALSE, cl = cl)
  expect_equal(attr(s1, "replicates"), attr(s2, "replicates"), tolerance = 1e-12)
})

test_that("the serial bootstrap shows a progress bar; bad arguments are refused", {
  d <- boot_gee_data()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial)
  expect_output(standardize(pa, "trt", se = "bootstrap", B = 20, progress = TRUE), "100%")
  expect_error(standardize(pa, "trt", se = "bootstrap", B = 20, cl = 2),
               "'cl' must be a cluster")
  expect_error(standardize(pa, "trt", se = "bootstrap", boot_type = "student"), "'arg'")
})

test_that("a glmm bootstrap on boot::boot refits and keeps the boot object", {
  skip_if_not_installed("MASS")
  data("bacteria", package = "MASS", envir = environment())
  fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial, nAGQ = 1)
  set.seed(6)
  sb <- suppressWarnings(standardize(fit, "trt", se = "bootstrap", B = 20, progress = FALSE))
  bt <- attr(sb, "boot")
  expect_equal(unname(bt$t0), sb$estimate[1:3])
  expect_equal(nrow(attr(sb, "replicates")) + attr(sb, "failed"), 20L)
  expect_true(all(sb$std.error > 0))
})
