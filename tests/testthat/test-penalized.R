# Penalized fixed effects (penalty.R): the Student-t prior of GLMMadaptive's
# mixed_model(penalized = TRUE), on separated and on ordinary data.

sim_sep <- function(seed, M = 60) {
  set.seed(seed)
  d <- data.frame(g = factor(rep(seq_len(M), each = 6)), x = stats::rnorm(6 * M))
  d$trt <- rep(0:1, length.out = M)[d$g]
  b <- stats::rnorm(M, 0, 0.8)
  d$y2 <- stats::rbinom(nrow(d), 1, stats::plogis(-0.3 + 0.5 * d$x + b[d$g]))
  d$y <- d$y2
  d$y[d$trt == 1] <- 1  # no failures among the treated: quasi-complete separation
  d
}

# GLMMadaptive's penalized fit; its EM phase stops on the separated
# coefficient, so the quasi-Newton phase alone (iter_EM = 0), with room
# for a large coefficient.
ga_pen <- function(form, d, nAGQ, penalized = TRUE) {
  ga <- GLMMadaptive::mixed_model(form, ~ 1 | g, d, family = binomial(), penalized = penalized,
                                  nAGQ = nAGQ,
                                  control = list(iter_EM = 0, max_coef_value = 1000,
                                                 optimizer = "nlminb"))
  list(beta = GLMMadaptive::fixef(ga), sd = sqrt(ga$D[1, 1]), pen_loglik = as.numeric(logLik(ga)))
}

test_that("separated data: finite penalized estimates, as GLMMadaptive's penalized = TRUE", {
  skip_if_not_installed("GLMMadaptive")
  d <- sim_sep(11)
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + trt + (1 | g), d, family = binomial, nAGQ = 11,
                                penalized = TRUE),
                           warning = function(cond) {
                             w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
                           })
  expect_true(all(is.finite(fixef(f))))
  expect_true(all(is.finite(sqrt(diag(vcov(f))))))
  expect_true(any(grepl("separation.*penalized", w)))
  ga <- ga_pen(y ~ x + trt, d, 11)
  expect_gte(f$penalty$objective, ga$pen_loglik - 1e-4)
  expect_equal(unname(fixef(f)), unname(ga$beta), tolerance = 1e-3)
  expect_equal(sqrt(f$D[1, 1]), ga$sd, tolerance = 1e-3)
  # logLik() is the log-likelihood without the penalty.
  expect_equal(as.numeric(logLik(f)), f$penalty$objective - f$penalty$value)
  expect_output(print(f), "penalized maximum likelihood")
  expect_output(print(f), "Student-t prior")
  # The unpenalized fit warns of separation and recommends the penalty.
  w0 <- character()
  withCallingHandlers(glmm(y ~ x + trt + (1 | g), d, family = binomial, nAGQ = 11),
                      warning = function(cond) {
                        w0 <<- c(w0, conditionMessage(cond)); invokeRestart("muffleWarning")
                      })
  expect_true(any(grepl("separation.*penalized = TRUE", w0)))
})

test_that("ordinary data and a prior given as a list: GLMMadaptive's estimates", {
  skip_if_not_installed("GLMMadaptive")
  d <- sim_sep(12)
  prior <- list(pen_mu = 0, pen_sigma = 2, pen_df = 5)
  f <- glmm(y2 ~ x + trt + (1 | g), d, family = binomial, nAGQ = 7, penalized = prior)
  ga <- ga_pen(y2 ~ x + trt, d, 7, penalized = prior)
  expect_gte(f$penalty$objective, ga$pen_loglik - 1e-4)
  expect_equal(unname(fixef(f)), unname(ga$beta), tolerance = 1e-3)
  # The penalty shrinks: the maximum likelihood fit has a higher likelihood.
  fm <- glmm(y2 ~ x + trt + (1 | g), d, family = binomial, nAGQ = 7)
  expect_gte(as.numeric(logLik(fm)), as.numeric(logLik(f)) - 1e-8)
  expect_lt(sum(fixef(f)^2), sum(fixef(fm)^2))
})

test_that("the penalty's gradient is exact, and bad priors are refused", {
  pr <- glmmgee:::penalty_prior(list(pen_sigma = c(1, 2, 3), pen_df = 4))
  beta <- c(0.3, -1.2, 2)
  g <- glmmgee:::penalty_value(pr, beta)$gradient
  gn <- vapply(1:3, function(j) {
    h <- 1e-6; bp <- beta; bp[j] <- bp[j] + h; bm <- beta; bm[j] <- bm[j] - h
    (glmmgee:::penalty_value(pr, bp)$value - glmmgee:::penalty_value(pr, bm)$value) / (2 * h)
  }, 1)
  expect_equal(g, gn, tolerance = 1e-7)
  d <- sim_sep(13, M = 20)
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial, penalized = "yes"), "'penalized'")
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial, penalized = list(scale = 1)),
               "unknown component")
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial, penalized = list(pen_df = -1)),
               "pen_df")
  # A location or scale vector of the wrong length is refused, not recycled
  # (the model has 2 coefficients; 3 and 4 values would silently shift).
  expect_error(glmm(y ~ x + (1 | g), d, family = binomial, penalized = list(pen_mu = c(0, 0, 1))),
               "pen_mu.*1 or 2 elements")
  d$h <- factor(rep(1:4, length.out = nrow(d)))
  expect_error(glmm(y ~ x + (1 | g) + (1 | h), d, family = binomial,
                    penalized = list(pen_sigma = c(1, 2, 3, 4))), "pen_sigma.*1 or 2 elements")
})


test_that("REML with penalized says that the two do not combine, not that covariance structures need more factors", {
  data(sleepstudy, package = "lme4")
  expect_error(glmm(Reaction ~ Days + (1 | Subject), data = sleepstudy, penalized = TRUE, REML = TRUE),
               "'REML = TRUE' cannot be combined with 'penalized'")
})

test_that("penalized = TRUE with a known covariance is refused for what it is", {
  d <- sim_sep(11, M = 20)
  K <- exp(-abs(outer(1:20, 1:20, "-")) / 3)
  dimnames(K) <- list(levels(d$g), levels(d$g))
  expect_error(glmm(y2 ~ x + (1 | g), data = d, family = binomial, penalized = TRUE,
                    covariance = list(g = K)),
               "'penalized' = TRUE is not available with a known covariance")
})

test_that("anova() of penalized fits: labelled, no p-value, and no mix with a maximum-likelihood fit", {
  # The table said "Likelihood-ratio tests" and gave a p-value for a
  # statistic that can be negative, blaming non-convergence.
  set.seed(1)
  d <- data.frame(g = factor(rep(1:30, each = 10)), x = rnorm(300), z = rnorm(300))
  d$y <- rbinom(300, 1, plogis(-4 + 5 * d$x + rnorm(30)[d$g]))
  # (both fits put the random-intercept variance at zero: a note, not the point)
  f0 <- suppressWarnings(glmm(y ~ x + (1 | g), d, family = binomial, penalized = TRUE))
  f1 <- suppressWarnings(glmm(y ~ x + z + (1 | g), d, family = binomial, penalized = TRUE))
  f0ml <- suppressWarnings(glmm(y ~ x + (1 | g), d, family = binomial))
  w <- character()
  a <- withCallingHandlers(anova(f0, f1), warning = function(cond) {
    w <<- c(w, conditionMessage(cond)); invokeRestart("muffleWarning")
  })
  expect_true(all(is.na(a[["Pr(>Chisq)"]])))
  expect_equal(a$Chisq[2], 2 * (as.numeric(logLik(f1)) - as.numeric(logLik(f0))))
  expect_match(attr(a, "heading")[1], "penalized GLMM fits")
  expect_false(grepl("Likelihood-ratio tests", attr(a, "heading")[1]))
  expect_length(w, 1L)
  expect_match(w, "penalized.*no chi-square reference distribution.*can be negative")
  expect_false(grepl("did not reach its maximum", w))
  expect_error(anova(f0ml, f1), "f1 is penalized \\(penalized = TRUE\\) but f0ml is not")
})
