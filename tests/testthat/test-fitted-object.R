# The fitted object, over the fixture models (one per fitting route): every
# GLMM fit inherits glmmgee_glmm, carries $engine from the registry, has the
# top-level fields ?glmmgee_glmm documents, and an $optinfo on the one
# schema of new_optinfo(); fits saved by an earlier version (no $engine, the
# record's old names) are read on today's layout.

# The engine each route runs on (ARCH of the engines: R/engine-registry.R).
route_engines <- c(
  agq_binomial = "agq", laplace_binomial_cbind = "agq", agq_slope_poisson = "agq",
  nbinom2 = "agq", lmm_ml_onefactor = "lmm_one_factor", lmm_reml_onefactor = "lmm_one_factor",
  lmm_reml_crossed = "lmm_sparse", lmm_ml_nested = "lmm_sparse",
  sparse_crossed_binomial = "laplace_sparse", nested_agq = "agq_nested",
  ordinal_onefactor = "ordinal_agq", ordinal_slopes = "ordinal_agq",
  ordinal_sparse = "laplace_sparse", zi_fixed = "agq",
  zi_random = "agq_zero_re", zi_sparse_random = "laplace_sparse_zero_re", dispformula = "agq",
  hurdle = "agq", covstruct_ar1 = "agq", covstruct_cs_reml = "lmm_sparse",
  known_gaussian = "known_gaussian", known_laplace = "known_laplace",
  ranef_bridge = "agq_ranef_dist", ranef_nonparametric = "agq_ranef_dist",
  agq_workers = "agq", zi_sparse_fixed = "laplace_sparse",
  known_gaussian_multi = "known_gaussian", nested_agq_slope = "agq_nested",
  nested_agq_structure = "agq_nested",
  covstruct_lmm_ml_profiled = "lmm_sparse", zi_correlated = "agq_zero_re",
  covstruct_sparse_poisson = "laplace_sparse", penalized_binomial = "agq",
  known_gaussian_two_terms = "laplace_sparse", sparse_known_binomial = "laplace_sparse",
  known_gaussian_sparse_reml = "known_gaussian", known_gaussian_tridiagonal = "known_gaussian",
  known_gaussian_kfactor_reml = "known_gaussian", known_gaussian_multi_sparse = "known_gaussian",
  known_laplace_kfactor_poisson = "known_laplace", known_laplace_wide_factor = "known_laplace",
  known_gaussian_plain_reml = "known_gaussian")

test_that("every GLMM fit inherits glmmgee_glmm and carries the engine of its route", {
  fits <- route_model_fits()
  expect_setequal(names(fits), names(route_engines))
  reg <- engine_registry()
  # every engine of the registry has a fixture
  expect_true(all(reg$engine %in% route_engines))
  for (n in names(fits)) {
    f <- fits[[n]]
    expect_s3_class(f, "glmmgee_glmm")
    eng <- f$engine
    expect_s3_class(eng, "glmmgee_engine")
    expect_identical(eng$name, route_engines[[n]], info = n)
    expect_identical(eng$capabilities, engine_info(eng$name)$capabilities, info = n)
    expect_identical(eng$workers, n == "agq_workers", info = n)
    expect_identical(engine_info(f), eng)
  }
})

test_that("a fit has $cluster_loglik exactly where its engine and parts say it can", {
  fits <- route_model_fits()
  for (n in names(fits)) {
    f <- fits[[n]]
    expect_identical(glmmgee:::has_capability(f, "cluster_loglik"), !is.null(f$cluster_loglik),
                     info = n)
  }
})

test_that("every GLMM fit has the documented top-level fields", {
  fits <- route_model_fits()
  fields <- glmmgee:::glmm_fit_fields
  # the help page lists each of them
  rd <- paste(capture.output(tools::Rd2txt(tools::Rd_db("glmmgee")[["glmmgee_glmm.Rd"]],
                                            options = list(underline_titles = FALSE))),
              collapse = " ")
  for (fl in fields) expect_match(rd, fl, fixed = TRUE, info = fl)
  for (n in names(fits)) {
    expect_identical(setdiff(fields, names(unclass(fits[[n]]))), character(0), info = n)
    # theta and cov_theta name the same parameters, the fixed effects first
    f <- fits[[n]]
    expect_identical(unname(rownames(f$cov_theta)), names(f$theta), info = n)
    expect_identical(names(f$theta)[seq_along(fixef(f))], names(fixef(f)), info = n)
  }
})

test_that("ordinal fits lay out theta, cov_theta and sigma as the other GLMM fits", {
  fits <- route_model_fits()
  # one grouping factor: the random intercept's Cholesky factor, lambda[1,1],
  # as on the AGQ engine (a standard deviation)
  o1 <- fits$ordinal_onefactor
  b1 <- fits$agq_binomial
  p <- length(fixef(o1))
  expect_identical(names(o1$theta), c(names(fixef(o1)), "lambda[1,1]", names(o1$thresholds)))
  expect_identical(grep("^lambda", names(o1$theta), value = TRUE),
                   grep("^lambda", names(b1$theta), value = TRUE))
  expect_equal(unname(o1$theta[["lambda[1,1]"]]), VarCorr(o1)$sdcor[1L], tolerance = 1e-12)
  expect_equal(unname(o1$theta), unname(c(fixef(o1), exp(o1$psi[["log(sigma)"]]), o1$thresholds)))
  # the delta method from log(sigma): SE(sigma) = sigma SE(log sigma)
  expect_equal(sqrt(o1$cov_theta["lambda[1,1]", "lambda[1,1]"]),
               exp(o1$psi[["log(sigma)"]]) * sqrt(o1$cov_psi["log(sigma)", "log(sigma)"]))
  expect_equal(unname(o1$cov_theta[seq_len(p), seq_len(p)]), unname(o1$vcov))
  # several terms: one standard deviation per term, named as on the sparse engine
  os <- fits$ordinal_sparse
  sb <- fits$sparse_crossed_binomial
  expect_identical(names(os$theta), c(names(fixef(os)), "judge.(Intercept)", "bottle.(Intercept)",
                                      names(os$thresholds)))
  expect_match(names(sb$theta)[3:4], "^[a-z]+\\.\\(Intercept\\)$")
  expect_equal(unname(os$theta[c("judge.(Intercept)", "bottle.(Intercept)")]), unname(os$sd_re))
  # the latent scale is fixed at 1, as binomial's sigma; no family parameter
  for (f in list(o1, os)) {
    expect_identical(f$sigma, 1)
    expect_identical(sigma(f), sigma(b1))
    expect_null(f$family_par)
  }
  expect_identical(o1$re_formula, list(1))
  expect_identical(os$re_formula, list(1, 1))
})

test_that("$optinfo has the same schema on every route", {
  fits <- route_model_fits()
  core <- glmmgee:::optinfo_core
  known <- c(core, glmmgee:::optinfo_optional)
  for (n in names(fits)) {
    oi <- fits[[n]]$optinfo
    expect_identical(names(oi)[seq_along(core)], core, info = n)
    expect_identical(setdiff(names(oi), known), character(0), info = n)
    expect_false(anyDuplicated(names(oi)) > 0, info = n)
    expect_true(is.logical(oi$converged) && length(oi$converged) == 1L, info = n)
    expect_true(is.character(oi$method) && length(oi$method) == 1L, info = n)
    expect_true(is.numeric(oi$max_grad) && length(oi$max_grad) == 1L, info = n)
    expect_true(is.numeric(oi$hessian_cond) && length(oi$hessian_cond) == 1L, info = n)
    expect_true(is.null(oi$warnings) || is.character(oi$warnings), info = n)
    # converged is the optimizer's own verdict
    if (!is.na(oi$convergence)) expect_identical(oi$converged, oi$convergence == 0L, info = n)
  }
  # the optimizers that report a gradient report it under one name
  expect_true(is.finite(fits$ordinal_onefactor$optinfo$max_grad))
  expect_true(is.finite(fits$ordinal_onefactor$optinfo$hessian_cond))
  expect_true(is.finite(fits$agq_binomial$optinfo$max_grad))
})

test_that("new_optinfo() refuses a field outside the schema", {
  oi <- glmmgee:::new_optinfo(method = "Laplace", optimizer = "x", convergence = 1L,
                              warnings = "w", stages = list(a = list(iterations = 2L, evaluations = 3L),
                                                            b = list(iterations = 1L, evaluations = 1L)))
  expect_identical(oi$iterations, 3L)
  expect_identical(oi$evaluations, 4L)
  expect_false(oi$converged)
  expect_error(glmmgee:::new_optinfo(method = "Laplace", optimizer = "x", gradient_max = 1),
               "no field gradient_max")
})

test_that("a search that stopped at a non-finite gradient is not converged", {
  # the stopping rule may have been met (convergence 0), but a gradient of
  # NaN or Inf verifies nothing; NA means the route did not compute it
  oi <- function(g) glmmgee:::new_optinfo(method = "AGHQ", optimizer = "x", convergence = 0L,
                                          max_grad = g)
  expect_true(oi(1e-8)$converged)
  expect_false(oi(NaN)$converged)
  expect_false(oi(Inf)$converged)
  expect_true(oi(NA_real_)$converged)
  expect_identical(oi(NaN)$convergence, 0L)
})

test_that("fits saved by an earlier version read on today's layout", {
  fits <- route_model_fits()
  for (n in names(fits)) {
    f <- fits[[n]]
    old <- unclass(f)
    old$engine <- NULL
    oi <- old$optinfo
    # the earlier record: no 'converged', the ordinal routes' old names
    oi$converged <- NULL
    names(oi)[names(oi) == "max_grad"] <- "gradient_max"
    names(oi)[names(oi) == "hessian_cond"] <- "hessian_condition"
    old$optinfo <- oi
    # ordinal fits of an earlier version: without the documented fields
    # that their thresholds, psi and cov_psi (or par, cov_par) give
    if (!is.null(f$thresholds))
      old[c("theta", "cov_theta", "sigma", "family_par", "re_formula")] <- NULL
    class(old) <- class(f)
    if (!is.null(f$thresholds)) {
      expect_identical(old$theta, f$theta, info = n)
      expect_identical(old$cov_theta, f$cov_theta, info = n)
      expect_identical(old$sigma, f$sigma, info = n)
      expect_identical(old$re_formula, f$re_formula, info = n)
    }
    expect_identical(engine_info(old)$name, f$engine$name, info = n)
    if (!inherits(f, "glmmgee_glmm")) next
    expect_identical(old$optinfo$max_grad, f$optinfo$max_grad, info = n)
    expect_identical(old$optinfo$hessian_cond, f$optinfo$hessian_cond, info = n)
    expect_identical(old$optinfo$converged, f$optinfo$converged, info = n)
    expect_null(old$optinfo$gradient_max)
    expect_output(print(old))
    expect_equal(predict(old), predict(f), info = n)
  }
})

test_that("engine_info() names its argument's problem and prints the capabilities", {
  expect_error(engine_info("nope"), "'name' must be one of the engines agq, ")
  e <- engine_info("known_laplace")
  expect_false(e$capabilities[["simulate_newdata"]])
  out <- capture.output(print(e))
  expect_match(out[1L], "^glmm engine known_laplace: binomial and Poisson")
  expect_match(out[3L], "not: .*simulate_newdata")
  expect_error(print(e, digits = 3), "digits")
})
