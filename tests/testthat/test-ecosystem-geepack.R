# QIC() on gee fits whichever of glmmgee and geepack is attached last.

test_that("geepack's QIC generic dispatches to our method", {
  skip_if_not_installed("geepack")
  data("bacteria", package = "MASS", envir = environment())
  fits <- lapply(c("independence", "exchangeable"), function(cs)
    gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial, corstr = cs))
  ours <- glmmgee::QIC(fits[[2]])
  expect_identical(geepack::QIC(fits[[2]]), ours)
  both <- geepack::QIC(fits[[1]], fits[[2]])
  expect_equal(both, glmmgee::QIC(fits[[1]], fits[[2]]), ignore_attr = TRUE)
  expect_equal(unname(both[2, ]), unname(ours))
  # The independence QICu equals -2 quasi-likelihood + 2p of the GLM at the
  # same coefficients (binomial: the log-likelihood).
  g <- glm(y ~ trt + I(week > 2), data = bacteria, family = binomial)
  expect_equal(unname(both[1, "QICu"]), -2 * as.numeric(logLik(g)) + 2 * 4, tolerance = 1e-6)
})
