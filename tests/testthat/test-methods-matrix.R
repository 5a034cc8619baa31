# The methods matrix: every method of a fitted GLMM on one fit of every
# engine (the fixture models of inst/fixtures/route-models.R) either works,
# returning an object of the right size with finite numbers, or stops with
# a message that names the fit's engine. A method never returns NULL or a
# number computed as if the model were another.

# The fixed-effect covariate a method like standardize() varies: the first
# variable of the fixed part found in the data (NULL for intercept-only
# models).
first_covariate <- function(fit, data) {
  v <- intersect(all.vars(stats::delete.response(stats::terms(fit))), names(data))
  v <- setdiff(v, unlist(lapply(lme4_bars(fit), all.vars)))
  if (length(v)) v[[1L]]
}
lme4_bars <- function(fit) reformulas::findbars(stats::formula(fit))

numbers_in <- function(x) {
  if (is.numeric(x)) return(as.numeric(x))
  if (is.list(x)) return(unlist(lapply(unclass(x), numbers_in)))
  numeric(0)
}
finite_numbers <- function(x) {
  num <- numbers_in(x)
  length(num) > 0L && all(is.finite(num))
}

# One cell: `run()` works and `ok(value)` holds, or it stops naming the
# engine.
expect_cell <- function(fit, route, method, run, ok) {
  v <- tryCatch(suppressWarnings(suppressMessages(run())), error = function(e) e)
  info <- sprintf("%s on %s (engine %s)", method, route, fit$engine$name)
  if (inherits(v, "error")) {
    expect_match(conditionMessage(v), sprintf("the %s engine", fit$engine$name), fixed = TRUE,
                 info = info)
  } else {
    expect_false(is.null(v), info = info)
    expect_true(isTRUE(ok(v)), info = info)
  }
}

methods_of <- function(fit) {
  d <- route_model_data(fit)
  nd <- utils::head(d, 6L)
  n <- nobs(fit)
  p <- length(fixef(fit))
  v <- first_covariate(fit, d)
  list(
    print = list(function() capture.output(print(fit)), function(x) length(x) > 3L),
    summary = list(function() capture.output(print(summary(fit))), function(x) length(x) > 3L),
    predict = list(function() predict(fit), function(x) NROW(x) == nrow(fit$model) && all(is.finite(x))),
    predict_newdata = list(function() predict(fit, newdata = nd),
                           function(x) NROW(x) == nrow(nd) && all(is.finite(unlist(x)))),
    predict_response = list(function() predict(fit, newdata = nd, type = "response"),
                            function(x) NROW(x) == nrow(nd) && all(is.finite(unlist(x)))),
    simulate = list(function() simulate(fit, nsim = 2, seed = 1),
                    function(x) length(x) == 2L && all(vapply(x, function(s) all(is.finite(unlist(s))), TRUE))),
    simulate_newdata = list(function() simulate(fit, nsim = 1, seed = 1, newdata = nd),
                            function(x) NROW(x) == nrow(nd)),
    ranef = list(function() ranef(fit), function(x) length(x) >= 1L && finite_numbers(x)),
    VarCorr = list(function() VarCorr(fit), function(x) !is.null(x)),
    confint = list(function() confint(fit),
                   function(x) is.matrix(x) && ncol(x) == 2L && all(is.finite(x[seq_len(p), ]))),
    profile = list(function() profile(fit, which = 1L), function(x) nrow(x) > 3L),
    anova = list(function() anova(fit), function(x) nrow(x) >= 1L),
    standardize = list(function() standardize(fit, variable = v),
                       function(x) NROW(x) > 1L && all(is.finite(as.data.frame(x)$estimate[1:2]))),
    marginal_coefs = list(function() marginal_coefs(fit), function(x) finite_numbers(coef(x))),
    tidy = list(function() broom::tidy(fit),
                function(x) is.data.frame(x) && all(is.finite(x$estimate))),
    glance = list(function() broom::glance(fit),
                  function(x) is.data.frame(x) && nrow(x) == 1L && is.finite(x$logLik)),
    emmeans = list(function() summary(emmeans::emmeans(fit, v)),
                   function(x) nrow(x) >= 1L && all(is.finite(x[[which(names(x) %in% c("emmean", "prob", "rate", "response"))[1L]]]))),
    get_variance = list(function() insight::get_variance(fit), function(x) finite_numbers(x)))
}

test_that("every method works on one fit of every engine, or stops naming the engine", {
  skip_if_not_installed("broom")
  skip_if_not_installed("emmeans")
  skip_if_not_installed("insight")
  fits <- route_model_fits()
  # one fit per engine, and the routes whose parts take capabilities away
  routes <- c("agq_binomial", "zi_fixed", "covstruct_ar1", "agq_workers", "zi_random",
              "ranef_bridge", "nested_agq", "nested_agq_structure", "lmm_ml_onefactor",
              "lmm_reml_crossed",
              "sparse_crossed_binomial", "zi_sparse_random", "known_gaussian",
              "known_laplace", "ordinal_onefactor", "ordinal_slopes", "ordinal_sparse")
  for (r in routes) {
    fit <- fits[[r]]
    m <- methods_of(fit)
    # intercept-only models have no covariate to standardize, to take
    # marginal means over or to test
    if (is.null(first_covariate(fit, route_model_data(fit))))
      m[c("standardize", "emmeans", "anova")] <- NULL
    for (k in names(m)) expect_cell(fit, r, k, m[[k]][[1L]], m[[k]][[2L]])
  }
})

test_that("a method an engine cannot serve stops with one message style", {
  fits <- route_model_fits()
  expect_error(confint(fits$known_laplace, method = "boot", nsim = 2),
               paste0("the known_laplace engine (binomial and Poisson models with a ",
                      "known-covariance random effect (Laplace)) does not provide the parametric ",
                      "bootstrap (refits by the fit's call) for fits with a known-covariance term ",
                      "('covariance')"), fixed = TRUE)
  expect_error(profile(fits$ordinal_onefactor), "profile(): the ordinal_agq engine", fixed = TRUE)
  expect_error(confint(fits$zi_random, method = "boot", nsim = 2),
               "the agq_zero_re engine .* for zero-inflated, hurdle and dispersion-formula fits")
  expect_error(marginal_coefs(fits$ordinal_onefactor), "marginal_coefs(): the ordinal_agq engine",
               fixed = TRUE)
  expect_error(ranef_new(fits$ordinal_sparse, ordinal::wine[1:3, ]),
               "ranef_new\\(\\): the laplace_sparse engine .* for cumulative link")
  expect_error(confint(fits$covstruct_ar1, method = "boot", nsim = 2),
               "the agq engine .* for structured-covariance fits")
  # what an engine serves is what its capabilities say
  for (r in names(fits)) {
    caps <- fits[[r]]$engine$capabilities
    expect_identical(glmmgee:::has_capability(fits[[r]], "marginal"),
                     caps[["marginal"]] && !glmmgee:::is_cumulative(fits[[r]]$family), info = r)
  }
})
