# The fixture models of inst/fixtures/route-models.R (one per fitting route
# of glmm(), the same set tools/fit-fixtures.R compares between builds),
# fitted once per test run: route_model_fits() returns the GLMM fits, named
# by route; the GEE fixtures are left out.
route_model_cache <- new.env()
route_model_fits <- function() {
  if (!is.null(route_model_cache$fits)) return(route_model_cache$fits)
  for (p in c("MASS", "lme4", "ordinal")) testthat::skip_if_not_installed(p)
  file <- system.file("fixtures", "route-models.R", package = "glmmgee")
  if (!nzchar(file)) testthat::skip("the fixture models are not installed")
  env <- new.env()
  sys.source(file, env)
  nm <- grep("^gee_", names(env$fixtures), value = TRUE, invert = TRUE)
  route_model_cache$fits <- lapply(stats::setNames(nm, nm),
                                   function(n) suppressWarnings(env$fixtures[[n]]()))
}

# The data a fixture fit was made from (its call's data, in the fixture's
# environment), for methods that take new data.
route_model_data <- function(fit) {
  as.data.frame(eval(fit$call$data, environment(fit$formula)))
}
