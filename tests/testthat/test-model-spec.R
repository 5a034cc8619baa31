# glmm()'s model specification: glmm(doFit = FALSE), the engine chosen for
# each kind of model, and the table of refused combinations (model-spec.R).

spec_data <- function() {
  set.seed(3)
  M <- 12L
  ni <- 5L
  d <- data.frame(id = factor(rep(seq_len(M), each = ni)), x = rnorm(M * ni),
                  time = factor(rep(seq_len(ni), M)))
  d$g2 <- factor((as.integer(d$id) - 1L) %/% 3L)
  d$site <- factor(rep(1:4, length.out = nrow(d)))
  d$y <- rbinom(nrow(d), 1, 0.5)
  d$count <- rpois(nrow(d), 2)
  d$cont <- rnorm(nrow(d)) + rnorm(M)[as.integer(d$id)]
  d$ord <- factor(sample(1:3, nrow(d), TRUE), ordered = TRUE)
  d$w <- 1
  d
}

test_that("doFit must be TRUE or FALSE", {
  d <- spec_data()
  for (bad in list(NA, "no", c(TRUE, FALSE), 1, NULL))
    expect_error(glmm(cont ~ x + (1 | id), data = d, doFit = bad),
                 "'doFit' must be TRUE or FALSE", fixed = TRUE)
})

test_that("doFit = FALSE returns the spec, the model data and the engine of every kind of model", {
  d <- spec_data()
  K <- diag(12)
  dimnames(K) <- list(levels(d$id), levels(d$id))
  cases <- list(
    agq = quote(glmm(y ~ x + (1 | id), data = d, family = binomial, doFit = FALSE)),
    agq_zero_re = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                             ziformula = ~ 1 + (1 | id), doFit = FALSE)),
    agq_ranef_dist = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                ranef_dist = "bridge", doFit = FALSE)),
    agq_nested = quote(glmm(y ~ x + (1 | g2/id), data = d, family = binomial, nAGQ = 3,
                            doFit = FALSE)),
    lmm_one_factor = quote(glmm(cont ~ x + (1 | id), data = d, REML = TRUE, doFit = FALSE)),
    lmm_sparse = quote(glmm(cont ~ x + (1 | id) + (1 | site), data = d, doFit = FALSE)),
    laplace_sparse = quote(glmm(y ~ x + (1 | id) + (1 | site), data = d, family = binomial,
                                doFit = FALSE)),
    laplace_sparse_zero_re = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                        ziformula = ~ 1 + (1 | site), doFit = FALSE)),
    known_gaussian = quote(glmm(cont ~ x + (1 | id), data = d, covariance = list(id = K),
                                doFit = FALSE)),
    known_laplace = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                               covariance = list(id = K), doFit = FALSE)),
    ordinal_agq = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative, doFit = FALSE)))
  for (engine in names(cases)) {
    s <- eval(cases[[engine]])
    expect_s3_class(s, "glmmgee_spec")
    expect_identical(s$engine, engine, label = engine)
    # The model data: the frame of every variable and the fixed-effect design.
    expect_identical(nrow(s$data$frame), nrow(d))
    expect_identical(colnames(s$data$X), c("(Intercept)", "x")[seq_len(ncol(s$data$X))])
    expect_output(print(s), sprintf("engine: %s", engine), fixed = TRUE)
  }
  # The parts of the spec.
  s <- eval(cases$agq_zero_re)
  expect_true(s$has_zi)
  expect_false(s$has_disp)
  expect_identical(s$kind, "zi")
  expect_identical(s$family$family, "poisson")
  expect_length(s$zi_bars, 1L)
  expect_true("count" %in% names(s$data$frame))
  expect_output(print(s), "random effects 1 | id: us", fixed = TRUE)
  s <- glmm(cont ~ x + ar1(0 + time | id) + (1 | site), data = d, REML = TRUE, doFit = FALSE)
  expect_true(s$structured)
  expect_identical(c(s$engine, s$route), c("lmm_sparse", "structured_sparse"))
  expect_output(print(s), "random effects 0 + time | id: ar1", fixed = TRUE)
  expect_output(print(s), "criterion: REML", fixed = TRUE)
  s <- eval(cases$known_gaussian)
  expect_output(print(s), "random effects 1 | id: known covariance", fixed = TRUE)
  s <- glmm(count ~ x + (1 | id), data = d, family = truncated_poisson, ziformula = ~ x,
            dispformula = NULL, doFit = FALSE)
  expect_identical(c(s$kind, s$engine), c("hurdle", "agq"))
  expect_output(print(s), "family:    truncated_poisson", fixed = TRUE)
  # The spec is what the fit is built from: the same model fitted gives the
  # estimates of a fit with doFit left at TRUE.
  f1 <- glmm(cont ~ x + (1 | id), data = d, REML = TRUE)
  expect_identical(f1$call, quote(glmm(formula = cont ~ x + (1 | id), data = d, REML = TRUE)))
  f2 <- glmm(cont ~ x + (1 | id), data = d, REML = TRUE, doFit = TRUE)
  expect_identical(f2$call, f1$call)
  expect_identical(fixef(f2), fixef(f1))
})

test_that("every row of the refusal table refuses its combination with its message", {
  d <- spec_data()
  K <- diag(12)
  dimnames(K) <- list(levels(d$id), levels(d$id))
  Ks <- Matrix::Diagonal(12)
  dimnames(Ks) <- dimnames(K)
  L <- K
  fake_cl <- structure(list(1), class = c("SOCKcluster", "cluster"))
  wk <- glmm_control(workers = fake_cl)
  ar1_term <- quote(ar1(0 + time | id))
  big <- data.frame(g1 = factor(rep(1:200, length.out = 30001)), g2 = factor(rep(1:150, each = 201)[1:30001]),
                    y = rep(0:1, length.out = 30001))
  models <- list(
    zi_correlated_without_zi = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                          zi_correlated = TRUE)),
    ordinal_ziformula = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative, ziformula = ~ 1)),
    ordinal_dispformula = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative,
                                     dispformula = ~ x)),
    two_part_known_dist = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                     ziformula = ~ 1, ranef_dist = "bridge")),
    two_part_reml = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                               ziformula = ~ 1, REML = TRUE)),
    two_part_reml_start = quote(glmm(cont ~ x + (1 | id), data = d, dispformula = ~ site,
                                     REML = TRUE, start = c(0, 0, 1, 0, 0, 0, 0))),
    two_part_structure_penalty = quote(glmm(count ~ x + ar1(0 + time | id), data = d,
                                            family = poisson, ziformula = ~ 1,
                                            penalized = TRUE)),
    two_part_workers = quote(glmm(count ~ x + (1 | id), data = d, family = poisson, ziformula = ~ 1,
                                  control = wk)),
    zi_correlated_without_zi_re = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                             ziformula = ~ x, zi_correlated = TRUE)),
    two_random_parts_quadrature = quote(glmm(count ~ x + (1 | id), data = d, family = nbinom2,
                                             ziformula = ~ (1 | time), dispformula = ~ x + (1 | id),
                                             nAGQ = 3)),
    two_random_parts_correlated = quote(glmm(count ~ x + (1 | id), data = d, family = nbinom2,
                                             ziformula = ~ (1 | id), dispformula = ~ x + (1 | id),
                                             zi_correlated = TRUE)),
    dispformula_random_quadrature = quote(glmm(count ~ x + (1 | id), data = d, family = nbinom2,
                                               dispformula = ~ x + (1 | time), nAGQ = 5)),
    zi_family = quote(glmm(cont ~ x + (1 | id), data = d, ziformula = ~ 1)),
    zi_binomial_weights = quote(glmm(y ~ x + (1 | id), data = d, family = binomial, ziformula = ~ 1,
                                     weights = w)),
    dispformula_zero_family = quote(glmm(count ~ x + (1 | id), data = d, family = nbinom2,
                                         dispformula = ~ 0)),
    dispformula_family = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                    dispformula = ~ x)),
    two_part_sparse_quadrature = quote(glmm(count ~ x + (1 | id) + (1 | site), data = d,
                                            family = poisson, ziformula = ~ 1, nAGQ = 3)),
    zi_correlated_sparse = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                      ziformula = ~ (1 | site), zi_correlated = TRUE)),
    zi_correlated_laplace = quote(glmm(count ~ x + (1 | id), data = d, family = poisson,
                                       ziformula = ~ 1 + (1 | id), zi_correlated = TRUE, nAGQ = 1)),
    pen_zi_without_zi = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                   penalized = list(pen_zi = TRUE))),
    ordinal_structure = quote(glmm(ord ~ x + ar1(0 + time | id), data = d, family = cumulative)),
    structure_workers = quote(glmm(cont ~ x + ar1(0 + time | id), data = d, control = wk)),
    structure_covariance = quote(glmm(cont ~ x + ar1(0 + time | id), data = d,
                                      covariance = list(id = K))),
    structure_ranef_dist = quote(glmm(y ~ x + ar1(0 + time | id), data = d, family = binomial,
                                      ranef_dist = "bridge")),
    reml_family = quote(glmm(y ~ x + (1 | id), data = d, family = binomial, REML = TRUE)),
    penalized_reml = quote(glmm(cont ~ x + (1 | id), data = d, penalized = TRUE, REML = TRUE)),
    structure_sparse_quadrature = quote(glmm(y ~ x + (1 | id) + (1 | site), data = d,
                                             family = binomial, penalized = TRUE, nAGQ = 3)),
    workers_known_reml_dist = quote(glmm(cont ~ x + (1 | id), data = d, REML = TRUE, control = wk)),
    workers_several_factors = quote(glmm(y ~ x + (1 | id) + (1 | site), data = d,
                                         family = binomial, control = wk)),
    ordinal_workers = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative, control = wk)),
    ordinal_reml_dist = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative, REML = TRUE)),
    ordinal_covariance = quote(glmm(ord ~ x + (1 | id), data = d, family = cumulative,
                                    covariance = list(id = K))),
    ordinal_no_random_effect = quote(glmm(ord ~ x, data = d, family = cumulative)),
    ordinal_sparse_quadrature = quote(glmm(ord ~ x + (1 | id) + (1 | site), data = d,
                                           family = cumulative, nAGQ = 3)),
    reml_dist_known = quote(glmm(cont ~ x + (1 | id), data = d, REML = TRUE, ranef_dist = "bridge")),
    penalized_covariance = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                      penalized = TRUE, covariance = list(id = K))),
    known_laplace_quadrature = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                          covariance = list(id = K), nAGQ = 3)),
    known_laplace_start = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                     covariance = list(id = K), start = c(0, 0, 0))),
    ranef_dist_several = quote(glmm(y ~ x + (1 | id) + (1 | site), data = d, family = binomial,
                                    ranef_dist = "bridge")),
    ranef_dist_nagq = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                 ranef_dist = "bridge", nAGQ = 1)),
    ranef_dist_start = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                  ranef_dist = "bridge", start = c(0, 0, 0))),
    bridge_family = quote(glmm(y ~ x + (1 | id), data = d, family = binomial("probit"),
                               ranef_dist = "bridge")),
    nonparametric_family = quote(glmm(cont ~ x + (1 | id), data = d, ranef_dist = "nonparametric")),
    known_gaussian_quadrature = quote(glmm(cont ~ x + (1 | id), data = d, covariance = list(id = K),
                                           nAGQ = 3)),
    known_gaussian_start = quote(glmm(cont ~ x + (1 | id), data = d, covariance = list(id = K),
                                      start = c(0, 0, 0))),
    nested_known = quote(glmm(y ~ x + (1 | g2) + (1 | id), data = d, family = binomial,
                              covariance = list(id = Ks), nAGQ = 3)),
    kfactor_sparse = quote(glmm(y ~ x + (1 | g2) + (1 | id), data = d, family = binomial,
                                covariance = list(id = kfactor(L)))),
    refinement_parts = quote(glmm(count ~ x + (1 | id) + (1 | site), data = d, family = poisson,
                                  ziformula = ~ 1, control = glmm_control(importance_draws = 500))),
    refinement_quadrature = quote(glmm(y ~ x + (1 | id) + (1 | site), data = d, family = binomial,
                                       nAGQ = 3, control = glmm_control(importance_draws = 500))),
    refinement_route = quote(glmm(y ~ x + (1 | id), data = d, family = binomial,
                                  control = glmm_control(importance_draws = 500))),
    second_order_size = quote(glmm(y ~ 1 + (1 | g1) + (1 | g2), data = big, family = binomial,
                                   control = glmm_control(laplace_order = 2))))
  table <- glmmgee:::glmm_refusals
  # One model per row, and no model for a row that does not exist.
  expect_setequal(names(models), names(table))
  for (id in names(table)) {
    row <- table[[id]]
    for (doFit in c(TRUE, FALSE)) {
      call <- models[[id]]
      call$doFit <- doFit
      err <- tryCatch(eval(call), error = identity)
      expect_s3_class(err, "glmmgee_refusal")
      expect_identical(err$id, id, label = sprintf("the row refusing %s", deparse(call, 500L)))
      if (is.character(row$message)) expect_identical(conditionMessage(err), row$message)
      else expect_true(nzchar(conditionMessage(err)))
    }
  }
  # The messages that are built from the model name its parts.
  err <- tryCatch(eval(models$ordinal_dispformula), error = identity)
  expect_match(conditionMessage(err), "cumulative(\"logit\")", fixed = TRUE)
  err <- tryCatch(eval(models$workers_several_factors), error = identity)
  expect_match(conditionMessage(err), "the formula has 'id', 'site'", fixed = TRUE)
})

test_that("a model the table does not refuse passes it: each part alone is fitted", {
  d <- spec_data()
  ok <- list(
    quote(glmm(count ~ x + (1 | id), data = d, family = poisson, ziformula = ~ 1, doFit = FALSE)),
    quote(glmm(cont ~ x + ar1(0 + time | id), data = d, doFit = FALSE)),
    quote(glmm(count ~ x + (1 | id), data = d, family = nbinom2, dispformula = ~ x + (1 | site),
               doFit = FALSE)),
    quote(glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson,
               ziformula = ~ x + cs(0 + time | id), doFit = FALSE)),
    quote(glmm(y ~ x + (1 | id), data = d, family = binomial, ranef_dist = "bridge", doFit = FALSE)),
    quote(glmm(ord ~ x + (1 | id) + (1 | site), data = d, family = cumulative, doFit = FALSE)))
  for (m in ok) expect_s3_class(eval(m), "glmmgee_spec")
})

test_that("a fit whose log-likelihood is not finite says so, on every route", {
  # Offsets of +/- 1e6 make every row's probability 0 or 1 at any
  # parameters. The binary fit stopped in its GLM start with "missing value
  # where TRUE/FALSE needed" and blamed the quadrature nodes; the ordinal fit
  # printed logLik NaN with only the optimizer's warnings.
  set.seed(1)
  d <- data.frame(g = factor(rep(1:10, each = 6)), x = rnorm(60), yb = rbinom(60, 1, 0.5),
                  o = c(1e6, -1e6)[1 + (seq_len(60) %% 2)])
  ws <- character()
  f <- withCallingHandlers(glmm(yb ~ x + offset(o) + (1 | g), data = d, family = binomial("cloglog")),
                           warning = function(w) {
                             ws <<- c(ws, conditionMessage(w))
                             invokeRestart("muffleWarning")
                           })
  expect_match(ws, "log-likelihood at the estimates is not finite", all = FALSE)
  expect_false(any(grepl("puts nodes where the mean", ws)))
  expect_match(f$optinfo$warnings, "not finite: the fit is not usable", all = FALSE)
  w <- ordinal::wine
  w$o <- c(1e6, -1e6)[1 + (seq_len(72) %% 2)]
  expect_warning(fo <- suppressWarnings(glmm(rating ~ temp + contact + offset(o) + (1 | judge), data = w,
                                             family = cumulative(), nAGQ = 5)), NA)
  expect_match(fo$optinfo$warnings, "not finite: the fit is not usable", all = FALSE)
  # a usable fit has no such note
  fine <- glmm(yb ~ x + (1 | g), data = d, family = binomial)
  expect_false(any(grepl("not finite", fine$optinfo$warnings)))
})
