sim_gee_binary <- function() {
  cached("sim_gee_binary", {
    set.seed(3)
    K <- 150; ni <- 5
    id <- rep(seq_len(K), each = ni)
    trt <- rep(rbinom(K, 1, 0.5), each = ni)
    age <- rnorm(K * ni)
    b <- rnorm(K, 0, 0.8)
    data.frame(y = rbinom(K * ni, 1, plogis(-0.4 + 0.7 * trt + 0.5 * age + b[id])),
               trt = trt, age = age, id = id)
  })
}

test_that("standardize() on a gee matches a hand g-computation", {
  skip_if_not_installed("MASS")
  pa <- interp_gee()
  d <- interp_bacteria()
  s <- standardize(pa, "trt")
  lev <- levels(d$trt)
  m <- vapply(lev, function(l) {
    d$trt <- factor(l, levels = lev)
    mean(plogis(model.matrix(~ trt + late, d) %*% coef(pa)))
  }, 1)
  means <- s[s$quantity == "mean", ]
  expect_equal(means$value, lev)
  expect_equal(means$estimate, unname(m), tolerance = 1e-12)
  expect_equal(s$estimate[s$quantity == "difference"], unname(m[-1] - m[1]), tolerance = 1e-12)
  expect_equal(s$estimate[s$quantity == "ratio"], unname(m[-1] / m[1]), tolerance = 1e-12)
  odds <- m / (1 - m)
  expect_equal(s$estimate[s$quantity == "odds ratio"], unname(odds[-1] / odds[1]),
               tolerance = 1e-12)
  expect_identical(attr(s, "view"), "marginal")
  expect_output(print(s), "marginal \\(population-averaged")
  expect_output(print(s), "delta method")
})

test_that("delta-method SE of a gee standardization agrees with a cluster bootstrap", {
  d <- sim_gee_binary()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial, corstr = "exchangeable")
  sd <- standardize(pa, "trt")
  expect_equal(sd$value[1:2], c("0", "1"))
  set.seed(11)
  sb <- standardize(pa, "trt", se = "bootstrap", B = 300, progress = FALSE)
  expect_equal(sb$estimate, sd$estimate)
  # With B = 300 the bootstrap SE has a Monte Carlo relative error of about
  # 1 / sqrt(2 B) = 4%; allow 4 of those.
  ratio <- sb$std.error / sd$std.error
  expect_true(all(abs(ratio - 1) < 0.16), info = paste(round(ratio, 3), collapse = " "))
  expect_equal(nrow(attr(sb, "replicates")), 300L)
  expect_output(print(sb), "cluster bootstrap, 300 replicates")
})

test_that("bootstrap results do not depend on the number of workers", {
  skip_on_os("windows")
  d <- sim_gee_binary()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial)
  set.seed(5)
  s1 <- standardize(pa, "trt", se = "bootstrap", B = 20, progress = FALSE)
  set.seed(5)
  s2 <- standardize(pa, "trt", se = "bootstrap", B = 20, cores = 2, progress = FALSE)
  expect_equal(attr(s1, "replicates"), attr(s2, "replicates"), tolerance = 1e-12)
})

test_that("the bootstrap's arguments with se = 'delta' or 'none' are errors naming them", {
  # standardize(fit, "trt", B = 500, boot_type = "bca", cores = 2) gave
  # delta-method intervals without a word
  skip_if_not_installed("MASS")
  fit <- interp_logit_glmm()
  expect_error(standardize(fit, "trt", B = 500, boot_type = "bca", cores = 2),
               "standardize\\(se = \"delta\"\\): 'B', 'cores' and 'boot_type' are for the bootstrap \\(se = \"bootstrap\"\\)")
  expect_error(standardize(interp_gee(), "trt", se = "none", cl = NULL),
               "standardize\\(se = \"none\"\\): 'cl' is for the bootstrap")
  expect_s3_class(standardize(fit, "trt", progress = FALSE), "glmmgee_standardized")
})

test_that("for a gaussian model the standardized difference equals the coefficient", {
  skip_if_not_installed("lme4")
  d <- lme4::sleepstudy
  d$late <- as.numeric(d$Days > 4)
  fit <- glmm(Reaction ~ late + Days + (1 | Subject), data = d)
  for (re in c("marginal", "conditional")) {
    s <- standardize(fit, "late", re = re)
    expect_equal(s$estimate[s$quantity == "difference"], unname(fixef(fit)["late"]),
                 tolerance = 1e-10)
    expect_equal(s$std.error[s$quantity == "difference"], sqrt(vcov(fit)["late", "late"]),
                 tolerance = 1e-8)
  }
  s <- standardize(fit, "Days", values = c(2, 7))
  expect_equal(s$estimate[3], 5 * unname(fixef(fit)["Days"]), tolerance = 1e-10)
  pa <- gee(Reaction ~ late + Days, data = d, id = Subject)
  s <- standardize(pa, "late")
  expect_equal(s$estimate[3], unname(coef(pa)["late"]), tolerance = 1e-10)
})

test_that("glmm standardization: integrated means and the delta method by numerical derivatives", {
  skip_if_not_installed("MASS")
  skip_if_not_installed("numDeriv")
  fit <- interp_logit_glmm()
  d <- interp_bacteria()
  s <- standardize(fit, "late")
  expect_equal(s$value[1:2], c("FALSE", "TRUE"))
  sig <- sqrt(fit$D[1, 1])
  hand <- vapply(c(FALSE, TRUE), function(v) {
    d$late <- v
    eta <- drop(model.matrix(~ trt + late, d) %*% fixef(fit))
    mean(vapply(eta, function(e) integrate(function(t) plogis(e + sig * t) * dnorm(t),
                                           -Inf, Inf, rel.tol = 1e-12)$value, 1))
  }, 1)
  expect_equal(s$estimate[1:2], hand, tolerance = 1e-9)
  # numerical Jacobian of the standardized means in all parameters
  f <- function(th) { g <- fit; g$theta[] <- th; standardize(g, "late", se = "none")$estimate[1:2] }
  J <- numDeriv::jacobian(f, unname(fit$theta))
  rows <- vapply(c(FALSE, TRUE), function(v) {
    dd <- d; dd$late <- v
    eta <- drop(model.matrix(~ trt + late, dd) %*% fixef(fit))
    vapply(eta, function(e) integrate(function(t) plogis(e + sig * t) * dnorm(t),
                                      -Inf, Inf, rel.tol = 1e-12)$value, 1)
  }, numeric(nrow(d)))
  K <- nlevels(d$ID)
  R <- (rowsum(rows, d$ID) - outer(as.vector(table(d$ID)), colMeans(rows))) / nrow(d)
  S <- J %*% vcov(fit, full = TRUE) %*% t(J) + crossprod(R) * K / (K - 1)
  expect_equal(s$std.error[1:2], sqrt(diag(S)), tolerance = 1e-5)
  a <- c(-1, 1)
  expect_equal(s$std.error[3], sqrt(drop(a %*% S %*% a)), tolerance = 1e-5)
  # with newdata the population is fixed: no between-cluster term
  s2 <- standardize(fit, "late", newdata = d)
  expect_equal(s2$estimate, s$estimate, tolerance = 1e-12)
  expect_equal(s2$std.error[1:2], sqrt(diag(J %*% vcov(fit, full = TRUE) %*% t(J))),
               tolerance = 1e-5)
  # the typical cluster is further from 1/2 than the population average
  sc <- standardize(fit, "late", re = "conditional")
  expect_identical(attr(sc, "view"), "typical")
  expect_true(all(abs(sc$estimate[1:2] - 0.5) > abs(s$estimate[1:2] - 0.5)))
})

test_that("glmm cluster bootstrap refits and gives sensible SEs", {
  skip_if_not_installed("MASS")
  fit <- interp_logit_glmm()
  set.seed(2)
  sb <- suppressWarnings(standardize(fit, "late", se = "bootstrap", B = 40, progress = FALSE))
  sd <- standardize(fit, "late")
  expect_equal(sb$estimate, sd$estimate)
  expect_true(all(sb$std.error[1:3] > 0.4 * sd$std.error[1:3] &
                    sb$std.error[1:3] < 2.5 * sd$std.error[1:3]))
})

test_that("default values: quantiles for a continuous variable", {
  d <- sim_gee_binary()
  pa <- gee(y ~ trt + age, data = d, id = id, family = binomial)
  s <- standardize(pa, "age", se = "none")
  q <- quantile(d$age, c(0.1, 0.25, 0.5, 0.75, 0.9))
  expect_equal(sum(s$quantity == "mean"), 5L)
  x <- d; x$age <- q[3]
  expect_equal(s$estimate[3], mean(predict(pa, x, type = "response")), tolerance = 1e-12)
  expect_true(all(is.na(s$std.error)))
})

test_that("standardize() bad input: clear errors naming the argument", {
  skip_if_not_installed("MASS")
  pa <- interp_gee()
  expect_error(standardize(pa, "dose"), "'variable'.*\"dose\" is not one")
  expect_error(standardize(pa, "trt", values = c("placebo", "aspirin")),
               "'values'.*\"aspirin\" not among the levels of 'trt'")
  expect_error(standardize(pa, "late", values = 3), "'values'.*TRUE/FALSE")
  expect_error(standardize(pa, "trt", newdata = 1:3), "'newdata' must be a data frame")
  expect_error(standardize(pa, "trt", se = "bootstrap", B = 5), "'B'")
  d <- interp_bacteria()
  few <- sim_gee_binary()
  few <- few[few$id <= 6, ]
  pf <- gee(y ~ trt, data = few, id = id, family = binomial)
  expect_error(standardize(pf, "trt", se = "bootstrap"),
               "'se' = \"bootstrap\" needs at least 10 clusters.*6")
  mf <- gee_fit(cbind(1, as.numeric(d$late)), as.numeric(d$y == "y"), d$ID, family = binomial)
  expect_error(standardize(mf, "late"), "formula interface")
})

test_that("standardize() of a penalized separated fit says the means are set by the prior, not infinite", {
  set.seed(4)
  d <- data.frame(g = factor(rep(1:20, each = 8)), x = rnorm(160),
                  trt = factor(rep(c("A", "B", "C"), length.out = 160)))
  d$y <- rbinom(160, 1, plogis(0.5 * d$x + rnorm(20)[d$g]))
  d$y[d$trt == "C"] <- 0
  fp <- suppressWarnings(glmm(y ~ x + trt + (1 | g), d, binomial, penalized = TRUE))
  w <- character()
  s <- withCallingHandlers(standardize(fp, "trt"), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  expect_length(w, 1L)
  expect_match(w, "penalized.*finite but set largely by the prior")
  expect_false(grepl("no finite estimate", w))
})
