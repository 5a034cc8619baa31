# Numerical trouble: separation named before fitting and recorded in the fit;
# extreme linear predictors and large counts without overflow.

sep_data <- function() {
  data.frame(y = rep(c(0, 0, 0, 1, 1, 1), 10), x = rep(1:6, 10), g = rep(1:10, each = 6))
}

test_that("complete separation is named, warned and recorded (glmm), an error for gee", {
  d <- sep_data()
  w <- capture_warnings(f <- glmm(y ~ x + (1 | g), d, family = binomial))
  expect_match(w, "separation: the fixed effects '\\(Intercept\\)', 'x' predict 60 observation",
               all = FALSE)
  expect_true(f$separation$separated)
  expect_identical(f$separation$terms, c("(Intercept)", "x"))
  expect_match(f$optinfo$warnings, "^separation:", all = FALSE)
  # The direction separates: x'b <= 0 where y = 0 and >= 0 where y = 1.
  eta <- drop(cbind(1, d$x) %*% f$separation$direction)
  expect_true(all(eta[d$y == 0] <= 1e-8) && all(eta[d$y == 1] >= -1e-8))
  w2 <- capture_warnings(ge <- gee(y ~ x, data = d, id = g, family = binomial))
  expect_match(w2, "separation: the fixed effects '\\(Intercept\\)', 'x'.*no finite solution",
               all = FALSE)
  expect_identical(ge$separation$terms, c("(Intercept)", "x"))
  expect_match(ge$warnings, "^separation:", all = FALSE)
  # gee() has no penalized fit: the warning names one that exists, and
  # gee(penalized = TRUE) is refused as a glmm() argument, not a control one.
  expect_false(any(grepl("Firth", w2)))
  expect_match(w2, "gee\\(\\) offers no penalized fit; glmm\\(\\.\\.\\., penalized = TRUE\\)", all = FALSE)
  expect_error(gee(y ~ x, data = d, id = g, family = binomial, penalized = TRUE),
               "gee\\(\\) has no argument 'penalized': an argument of glmm\\(\\), not offered by gee\\(\\)")
  # glm only says that fitted probabilities are 0 or 1.
  expect_match(capture_warnings(glm(y ~ x, binomial, d)), "numerically 0 or 1", all = FALSE)
})

test_that("quasi-complete separation by one factor level names that level only", {
  set.seed(21)
  d <- data.frame(g = rep(1:40, each = 5), h = factor(sample(c("a", "b", "c"), 200, TRUE)),
                  z = rnorm(200))
  d$y <- rbinom(200, 1, plogis(0.2 + 0.5 * d$z + rnorm(40)[d$g]))
  d$y[d$h == "c"] <- 0
  w <- capture_warnings(f <- glmm(y ~ h + z + (1 | g), d, family = binomial, nAGQ = 1))
  expect_match(w, "separation: the fixed effects 'hc' predict", all = FALSE)
  expect_identical(f$separation$terms, "hc")
  expect_identical(f$separation$nobs, sum(d$h == "c"))
  # The coefficient has drifted far away, as the warning says.
  expect_lt(f$coefficients[["hc"]], -5)
  # GEE: the same warning, or the same message as an error if the engine
  # cannot continue.
  res <- tryCatch(capture_warnings(ge <- gee(y ~ h + z, data = d, id = g, family = binomial)),
                  error = conditionMessage)
  expect_match(res, "separation: the fixed effects 'hc' predict .*no finite solution", all = FALSE)
  # Without the offending level: no separation, nothing recorded.
  ok <- glmm(y ~ h + z + (1 | g), droplevels(d[d$h != "c", ]), family = binomial, nAGQ = 1)
  expect_false(ok$separation$separated)
})

test_that("a separated gee fit reports NA standard errors, intervals and tests for every variance type", {
  # The review's data: 20 clusters of 8, a random intercept, y = 0 for every
  # row with trt = C. The robust SE of trtC shrinks towards 0 as trtC runs
  # to -Inf (its residuals vanish): the exchangeable fit stopped with small
  # steps and printed "Converged", SE 0.8, confint (-10.1, -6.9), an
  # emmeans P(C) of 0.00015 and a chi-square of 128 for trt, all unwarned.
  set.seed(1)
  d <- data.frame(g = factor(rep(1:20, each = 8)), x = rnorm(160),
                  trt = factor(sample(c("A", "B", "C"), 160, TRUE)))
  d$y <- rbinom(160, 1, plogis(-0.3 + 0.4 * d$x + 0.5 * (d$trt == "B") + rnorm(20)[d$g]))
  d$y[d$trt == "C"] <- 0
  expect_warning(f <- gee(y ~ x + trt, id = g, data = d, family = binomial, corstr = "exchangeable"),
                 "separation: the fixed effects 'trtC'")
  expect_true(f$separation$separated)
  expect_identical(f$separation$terms, "trtC")
  msg <- "separation: 'trtC' has no finite estimate.*NA"
  for (type in c("san.se", "model", "md", "kc", "jack", "df", "mbn")) {
    expect_warning(V <- vcov(f, type = type), msg, info = type)
    expect_true(all(is.na(V)), info = type)
    expect_identical(dimnames(V), list(names(coef(f)), names(coef(f))))
  }
  # One warning per call, naming the coefficient; the estimates are kept.
  w <- capture_warnings(s <- summary(f))
  expect_length(w, 1L)
  expect_match(w, msg)
  expect_identical(s$coefficients[, "Estimate"], coef(f))
  expect_true(all(is.na(s$coefficients[, -1L])))
  out <- capture.output(print(s))
  expect_false(any(grepl("Converged in", out)))
  expect_match(out, "no finite root", all = FALSE)
  expect_warning(ci <- confint(f, type = "md"), msg)
  expect_true(all(is.na(ci)))
  expect_warning(td <- tidy(f, conf.int = TRUE), msg)
  expect_true(all(is.na(td[c("std.error", "statistic", "p.value", "conf.low", "conf.high")])))
  expect_warning(a <- anova(f), msg)
  expect_true(all(is.na(a$Chisq)))
  f0 <- gee(y ~ x, id = g, data = d, family = binomial, corstr = "exchangeable")
  expect_warning(a2 <- anova(f0, f), msg)
  expect_true(is.na(a2$Chisq[2L]))
  expect_warning(p <- predict(f, type = "response", se.fit = TRUE), msg)
  expect_true(all(is.na(p$se.fit)))
  if (requireNamespace("emmeans", quietly = TRUE)) {
    expect_warning(em <- summary(emmeans::emmeans(f, ~ trt, type = "response")), msg)
    expect_true(all(is.na(em$SE)) && all(is.na(em$asymp.LCL)))
  }
  # Complete separation: vcov was exactly [[1, 0], [0, 0]], z = Inf and a
  # confint of zero width.
  set.seed(2)
  dc <- data.frame(g = rep(1:30, each = 6), x = rnorm(180))
  dc$y <- as.numeric(dc$x > 0)
  suppressWarnings(fc <- gee(y ~ x, data = dc, id = g, family = binomial, corstr = "exchangeable"))
  expect_warning(ci <- confint(fc), "separation: '\\(Intercept\\)', 'x' have no finite estimate")
  expect_true(all(is.na(ci)))
  # A fit without separation is untouched: finite, and no warning.
  expect_no_warning(V0 <- vcov(f0, type = "md"))
  expect_true(all(is.finite(V0)))
  expect_false(f0$separation$separated)
})

test_that("poisson: a level with no events is separation too; gaussian is never checked", {
  set.seed(22)
  d <- data.frame(g = rep(1:30, each = 4), h = factor(rep(c("a", "b", "c"), 40)), x = rnorm(120))
  d$n <- rpois(120, exp(1 + 0.3 * d$x + rnorm(30, sd = 0.3)[d$g]))
  d$n[d$h == "b"] <- 0
  w <- capture_warnings(f <- glmm(n ~ h + x + (1 | g), d, family = poisson))
  expect_match(w, "separation: the fixed effects 'hb' predict 40", all = FALSE)
  expect_identical(f$separation$terms, "hb")
  expect_null(suppressWarnings(glmm(x ~ h + (1 | g), d))$separation)
})

test_that("the linear program agrees with divergence of glm's coefficients", {
  # Independent check: IRLS run long drives the linear predictor to about
  # +-20 or beyond exactly when the estimate does not exist.
  set.seed(23)
  n_sep <- 0L
  for (r in 1:120) {
    n <- sample(6:25, 1); p <- sample(1:4, 1)
    X <- if (p > 1) cbind(1, matrix(rnorm(n * (p - 1)), n)) else matrix(1, n, 1)
    colnames(X) <- c("(Intercept)", if (p > 1) paste0("x", seq_len(p - 1)))
    y <- rbinom(n, 1, 0.5)
    if (length(unique(y)) < 2L || qr(X)$rank < p) next
    s <- glmmgee:::detect_separation(X, y, rep(1, n), binomial())
    gl <- suppressWarnings(glm.fit(X, y, family = binomial(),
                                   control = glm.control(maxit = 200, epsilon = 1e-14)))
    expect_identical(s$separated, max(abs(gl$linear.predictors)) > 12, info = r)
    n_sep <- n_sep + s$separated
  }
  expect_gte(n_sep, 5)  # both kinds of data sets were met
  # Proportions: only rows with 0 or all successes constrain the direction.
  m <- rep(3, 12); s <- c(0, 0, 0, 1, 2, 1, 3, 3, 3, 2, 1, 2)
  X <- cbind("(Intercept)" = 1, x = 1:12)
  expect_false(glmmgee:::detect_separation(X, s / m, m, binomial())$separated)
})

test_that("a row subset certifies large data sets as not separated, and only those", {
  # no_separation_on_subset(): (II) and full rank on a subset imply (II) on
  # the whole set. Checked against the linear program over all rows, for
  # designs of every kind of outcome, on subsets small enough to be
  # separated sometimes.
  sub <- glmmgee:::no_separation_on_subset
  full <- function(X, y, w, fam) glmmgee:::detect_separation(X[seq_len(nrow(X)), , drop = FALSE],
                                                             y, w, fam)$separated
  set.seed(29)
  n <- 4000
  seen <- c(certified = 0L, not = 0L)
  for (r in 1:30) {
    rare <- as.numeric(seq_len(n) %in% sample(n, sample(c(3, 40), 1)))
    X <- cbind("(Intercept)" = 1, x = rnorm(n), rare = rare)
    eta <- -1 + X[, 2] + if (r %% 3 == 0) 30 * rare else 0
    y <- rbinom(n, 1, plogis(eta))
    if (r %% 5 == 0) y[rare == 1] <- 1  # the rare rows all successes: separated
    fam <- if (r %% 4 == 0) poisson() else binomial()
    if (fam$family == "poisson") y <- rpois(n, exp(pmin(eta, 3)) * (rare == 0))
    cert <- sub(X, y, rep(1, n), fam, size = 200L)
    sep <- full(X, y, rep(1, n), fam)
    if (cert) expect_false(sep, info = r)
    seen[if (cert) "certified" else "not"] <- seen[if (cert) "certified" else "not"] + 1L
  }
  expect_true(all(seen > 0L))
  # Too few rows for a subset: the whole set is checked.
  expect_false(sub(cbind(1, rnorm(100)), rbinom(100, 1, 0.5), rep(1, 100), binomial()))
})

test_that("the cross-product's rank test implies qr()'s", {
  # gram_full_rank() TRUE only where qr() finds full rank; FALSE leaves it
  # to qr(), so check_full_rank() decides as before.
  set.seed(31)
  n <- 3000
  x <- rnorm(n)
  designs <- list(cbind(1, x), cbind(1, x, 2 * x), cbind(1, x, x + 1e-9 * rnorm(n)),
                  cbind(1, x, x + 1e-2 * rnorm(n)), cbind(1, x * 1e-6 + 100),
                  cbind(1, rbinom(n, 1, 0.5), 0), cbind(x, x^2, x^3))
  for (i in seq_along(designs)) {
    X <- designs[[i]]
    if (glmmgee:::gram_full_rank(X)) expect_identical(qr(X)$rank, ncol(X), info = i)
  }
  expect_true(glmmgee:::gram_full_rank(designs[[1]]))
  expect_false(glmmgee:::gram_full_rank(designs[[2]]))
  expect_false(glmmgee:::gram_full_rank(designs[[3]]))
  expect_error(glmmgee:::check_full_rank(designs[[2]]), "rank deficient")
})

test_that("no separation is reported for ordinary data", {
  data(bacteria, package = "MASS")
  f <- glmm(y ~ trt + I(week > 2) + (1 | ID), bacteria, family = binomial, nAGQ = 1)
  expect_false(f$separation$separated)
  expect_false(any(grepl("separation", f$optinfo$warnings)))
  g <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial)
  expect_false(g$separation$separated)
})

test_that("binomial offsets of +-40 (|eta| > 30) fit without overflow", {
  set.seed(24)
  M <- 60; n <- M * 8
  d <- data.frame(g = rep(seq_len(M), each = 8), x = rnorm(n))
  d$o <- sample(c(-40, 0, 40), n, replace = TRUE, prob = c(0.25, 0.5, 0.25))
  eta <- d$o - 0.3 + 0.8 * d$x + rnorm(M, sd = 0.7)[d$g]
  d$y <- rbinom(n, 1, plogis(eta))
  expect_true(all(d$y[d$o == 40] == 1) && all(d$y[d$o == -40] == 0))
  f <- glmm(y ~ x + offset(o) + (1 | g), d, family = binomial, nAGQ = 1)
  expect_true(is.finite(f$loglik))
  expect_true(all(is.finite(f$vcov)))
  expect_false(f$separation$separated)
  # Rows with |offset| = 40 carry no information: the fit equals the one without them.
  f0 <- glmm(y ~ x + (1 | g), d[d$o == 0, ], family = binomial, nAGQ = 1)
  expect_equal(f$coefficients, f0$coefficients, tolerance = 1e-5)
  expect_equal(f$loglik, f0$loglik, tolerance = 1e-6)
  skip_if_not_installed("lme4")
  r <- glmer_ref(y ~ x + offset(o) + (1 | g), d, family = binomial, nAGQ = 1)
  # lme4 stops a little short of the optimum here (relative 3e-4 in the
  # coefficients); ours is at least as high.
  expect_equal(unname(f$coefficients), unname(lme4::fixef(r)), tolerance = 1e-3)
  expect_equal(f$loglik, as.numeric(logLik(r)), tolerance = 1e-5)
  expect_gte(f$loglik, as.numeric(logLik(r)) - 1e-8)
  ge <- gee(y ~ x + offset(o), data = d, id = g, family = binomial)
  gl <- suppressWarnings(glm(y ~ x + offset(o), binomial, d))  # "fitted probabilities 0 or 1"
  expect_equal(coef(ge), coef(gl), tolerance = 1e-7)
})

test_that("poisson counts around 1e6 fit without overflow", {
  set.seed(25)
  M <- 40; n <- M * 5
  d <- data.frame(g = rep(seq_len(M), each = 5), x = runif(n))
  d$n <- rpois(n, exp(13.8 + 0.5 * d$x + rnorm(M, sd = 0.2)[d$g]))
  expect_gt(median(d$n), 5e5)
  f <- glmm(n ~ x + (1 | g), d, family = poisson, nAGQ = 1)
  expect_true(is.finite(f$loglik))
  expect_equal(unname(f$coefficients), c(13.8, 0.5), tolerance = 0.05)
  expect_equal(sqrt(f$D[1, 1]), 0.2, tolerance = 0.3)
  ge <- gee(n ~ x, data = d, id = g, family = poisson)
  expect_equal(coef(ge), coef(glm(n ~ x, poisson, d)), tolerance = 1e-8)
  skip_if_not_installed("lme4")
  r <- suppressWarnings(glmer_ref(n ~ x + (1 | g), d, family = poisson, nAGQ = 1))
  # The log-likelihood is of order -1e3 at counts of 1e6: compare absolutely.
  expect_lt(abs(f$loglik - as.numeric(logLik(r))), 1e-3)
  expect_equal(unname(f$coefficients), unname(lme4::fixef(r)), tolerance = 1e-5)
})


test_that("jacobian_inverse() gives NULL, not an if (NA) error, for a Jacobian with NaN entries", {
  # solve() refuses a matrix with a NaN below the diagonal; the fallback's
  # triangular test then read NA and stopped the whole standard-error step
  J <- matrix(c(1, NaN, 0, 1), 2)
  expect_null(glmmgee:::jacobian_inverse(J))
  # block-wise: the NaN block's parameters are named singular, the other
  # block keeps its exact inverse
  Jb <- diag(c(2, 1, 1))
  Jb[3, 2] <- NaN
  A <- glmmgee:::jacobian_blocks_inverse(Jb)
  expect_false(is.null(A))
  expect_equal(A[1, 1], 0.5)
  expect_setequal(attr(A, "singular"), 2:3)
})
