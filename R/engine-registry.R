# The registry of the C++ engines behind glmm(): for each, what it fits and
# which methods it can serve. Every GLMM fit carries its engine as
# `$engine` (engine_info()); methods that an engine or a model part cannot
# serve stop through require_capability(), with one message style, instead
# of returning NULL or a number computed as if the model were another.

# What each capability is, as the missing piece of require_capability()'s
# message ("... does not provide <piece>").
engine_capabilities <- c(
  predict_newdata = "predictions at new data",
  simulate_new_re = "simulations with new random effects (re.form = NA)",
  simulate_newdata = "simulations at new data",
  ranef_new = "random effects of new clusters",
  profile = "a profile-likelihood table",
  confint_profile = "profile-likelihood intervals",
  bootstrap = "the parametric bootstrap (refits by the fit's call)",
  marginal = "marginal (population-averaged) coefficients",
  standardize = "standardized predictions",
  anova_lrt = "likelihood-ratio tests",
  refit = "refits (update())",
  cluster_loglik = "each cluster's log-likelihood ($cluster_loglik)",
  variance_shares = "variance shares, ICC and R2 (Nakagawa et al. 2017)",
  robust_vcov = "cluster-robust covariances (vcov(type = \"CR0\"...))",
  workers = "fits on workers")

# One row per engine: the name ($engine$name), what it fits (one line for
# users) and the capabilities it serves (see engine_capabilities).
engine_table <- function() {
  all <- names(engine_capabilities)
  but <- function(...) setdiff(all, c(...))
  rows <- list(
    agq = list("one grouping factor by adaptive Gauss-Hermite quadrature or Laplace, with fixed zero-inflation and dispersion parts and one-factor covariance structures",
               but()),
    agq_zero_re = list("one grouping factor with random effects in the zero-inflation or dispersion part",
                       but("simulate_newdata", "ranef_new", "bootstrap", "workers")),
    agq_ranef_dist = list("a random intercept with a non-normal distribution (bridge, nonparametric, ...)",
                          but("simulate_newdata", "bootstrap", "workers")),
    agq_nested = list(paste("nested grouping factors by nested adaptive quadrature, with slopes",
                            "or a covariance structure at the innermost level"),
                      but("cluster_loglik")),
    lmm_one_factor = list("gaussian identity models with one grouping factor, exact ML or REML",
                          but("workers")),
    lmm_sparse = list("gaussian identity models with several random-effect terms, exact ML or REML",
                      but("cluster_loglik", "workers")),
    laplace_sparse = list("several random-effect terms by the Laplace approximation",
                          but("cluster_loglik", "workers")),
    laplace_sparse_zero_re = list("several random-effect terms with random effects in the zero-inflation or dispersion part",
                                  but("simulate_newdata", "ranef_new", "bootstrap",
                                      "cluster_loglik", "workers")),
    known_gaussian = list(paste("gaussian models with known-covariance random effects, exact (spectral",
                                "or tridiagonal rotation, dense or sparse Cholesky)"),
                          but("simulate_newdata", "ranef_new", "bootstrap", "cluster_loglik",
                              "workers")),
    known_laplace = list("binomial and Poisson models with a known-covariance random effect (Laplace)",
                         but("simulate_newdata", "ranef_new", "bootstrap", "cluster_loglik",
                             "workers")),
    ordinal_agq = list("cumulative link (ordinal) models with one grouping factor",
                       but("simulate_newdata", "ranef_new", "profile", "confint_profile",
                           "bootstrap", "marginal", "workers")))
  caps <- t(vapply(rows, function(r) all %in% r[[2L]], logical(length(all))))
  colnames(caps) <- all
  data.frame(engine = names(rows), fits = vapply(rows, `[[`, "", 1L), caps,
             row.names = NULL, stringsAsFactors = FALSE)
}

#' The engines behind glmm() and what they can do
#'
#' Every fit of [glmm()] records the engine that fitted it in `$engine`, an
#' object of class `glmmgee_engine`: its `name`, what it `fits`, whether it
#' ran on `workers`, and its `capabilities`, a named logical vector of the
#' methods it can serve. A method that the engine (or a part of the model,
#' such as a zero-inflation part or a known covariance) cannot serve stops
#' with an error naming the engine and what is missing.
#'
#' | engine | fits |
#' |---|---|
#' | `agq` | one grouping factor by adaptive Gauss-Hermite quadrature or Laplace (also zero-inflation and dispersion parts without random effects, one-factor covariance structures, fits on workers) |
#' | `agq_zero_re` | one grouping factor with random effects in the zero-inflation or dispersion part |
#' | `agq_ranef_dist` | a random intercept with a non-normal distribution |
#' | `agq_nested` | nested grouping factors by nested quadrature (slopes or a covariance structure at the innermost level) |
#' | `lmm_one_factor` | gaussian identity models, one grouping factor, exact (RE)ML |
#' | `lmm_sparse` | gaussian identity models, several terms, exact (RE)ML |
#' | `laplace_sparse` | several terms by the Laplace approximation |
#' | `laplace_sparse_zero_re` | several terms with random effects in the zero part or the dispersion formula |
#' | `known_gaussian` | gaussian models with a known-covariance random effect |
#' | `known_laplace` | binomial and Poisson models with a known-covariance random effect |
#' | `ordinal_agq` | cumulative link models with one grouping factor |
#'
#' The capabilities: `predict_newdata`, `simulate_new_re` (new random
#' effects), `simulate_newdata`, `ranef_new` ([ranef_new()]), `profile` (the
#' profile table), `confint_profile`, `bootstrap` (`confint(method =
#' "boot")`), `marginal` ([marginal_coefs()]), `standardize`, `anova_lrt`,
#' `refit` ([update()]), `cluster_loglik`, `variance_shares`
#' ([variance_shares()], `performance::icc()`, `performance::r2()`),
#' `robust_vcov` (cluster-robust covariances, `vcov(type = "CR2")` and the
#' other types of [vcov()][glmm-extractors]) and `workers`.
#'
#' @param name The engine's name (see the table), or a fitted model, whose
#'   engine is returned.
#' @param workers Whether the fit ran on workers.
#' @return `engine_info()`: an object of class `glmmgee_engine`.
#'   `engine_registry()`: the table of all engines, one row each, with a
#'   logical column per capability.
#' @examples
#' engine_info("agq")
#' engine_registry()[, c("engine", "profile", "bootstrap")]
#' @export
engine_info <- function(name, workers = FALSE) {
  if (inherits(name, c("glmmgee_glmm", "glmmgee_glmm_ordinal"))) return(fit_engine(name))
  recs <- engine_records()
  if (!is.character(name) || length(name) != 1L || !name %in% names(recs))
    stop(sprintf("'name' must be one of the engines %s", paste(names(recs), collapse = ", ")),
         call. = FALSE)
  rec <- recs[[name]]
  if (isTRUE(workers)) rec$workers <- TRUE
  rec
}

#' @rdname engine_info
#' @export
engine_registry <- function() engine_registry_cached()

engine_registry_cached <- local({
  tab <- NULL
  function() {
    if (is.null(tab)) tab <<- engine_table()
    tab
  }
})

# Each engine's record (engine_info() with workers = FALSE), by name, made
# once per session from the registry: every glmm() call asks for its engine
# twice (the route choice and the fitted object), and reading a row of the
# registry's data frame cost about 0.15 ms each time, 3-5% of a small fit.
engine_records <- local({
  recs <- NULL
  function() {
    if (is.null(recs)) {
      tab <- engine_registry_cached()
      recs <<- lapply(stats::setNames(seq_len(nrow(tab)), tab$engine), function(i)
        structure(list(name = tab$engine[[i]], fits = tab$fits[[i]], workers = FALSE,
                       capabilities = unlist(tab[i, names(engine_capabilities)])),
                  class = "glmmgee_engine"))
    }
    recs
  }
})

#' @export
print.glmmgee_engine <- function(x, ...) {
  check_dots(..., .method = "print.glmmgee_engine")
  cat(sprintf("glmm engine %s%s: %s\n", x$name, if (isTRUE(x$workers)) " (on workers)" else "",
              x$fits))
  caps <- x$capabilities
  cat("  serves:  ", paste(names(caps)[caps], collapse = ", "), "\n", sep = "")
  if (any(!caps)) cat("  not:     ", paste(names(caps)[!caps], collapse = ", "), "\n", sep = "")
  invisible(x)
}

# The engine of a fit: `$engine`, or for a fit saved by a version without
# it, the engine its class and record imply.
fit_engine <- function(fit) {
  eng <- .subset2(fit, "engine")
  if (inherits(eng, "glmmgee_engine")) return(eng)
  engine_info(legacy_engine_name(fit),
                                           workers = !is.null(.subset2(fit, "distributed")) ||
                                             inherits(fit, "glmmgee_glmm_sharded"))
}

legacy_engine_name <- function(fit) {
  method <- .subset2(fit, "optinfo")$method %||% ""
  sparse <- inherits(fit, c("glmmgee_glmm_sparse", "glmmgee_glmm_ordinal_sparse"))
  if (inherits(fit, "glmmgee_glmm_ordinal")) return(if (sparse) "laplace_sparse" else "ordinal_agq")
  if (inherits(fit, "glmmgee_glmm_known"))
    return(if (identical(fit$family$family, "gaussian")) "known_gaussian" else "known_laplace")
  if (inherits(fit, "glmmgee_glmm_nested") ||
      sparse && is.null(.subset2(fit, "aux")) && isTRUE(.subset2(fit, "nAGQ") > 1L))
    return("agq_nested")
  if (inherits(fit, "glmmgee_glmm_dist")) return("agq_ranef_dist")
  if (inherits(fit, "glmmgee_glmm_zire_sparse")) return("laplace_sparse_zero_re")
  if (inherits(fit, "glmmgee_glmm_zire")) return("agq_zero_re")
  if (grepl("profiled|REML", method) ||
      grepl("C++", .subset2(fit, "optinfo")$optimizer %||% "", fixed = TRUE))
    return(if (sparse) "lmm_sparse" else "lmm_one_factor")
  if (sparse) "laplace_sparse" else "agq"
}

# Capabilities a part of the model takes away whatever the engine: each
# with the fits it concerns, for the message.
part_limits <- function(fit) {
  out <- character()
  add <- function(caps, why) out[setdiff(caps, names(out))] <<- why
  if (inherits(fit, "glmmgee_glmm_zi"))
    add(c("ranef_new", "simulate_newdata", "bootstrap"),
        "zero-inflated, hurdle and dispersion-formula fits")
  if (!(.subset2(fit, "aux")$kind %||% "disp") %in% "disp")
    add("variance_shares", "zero-inflated or hurdle fits")
  if (inherits(fit, "glmmgee_glmm_covstruct"))
    add("bootstrap", "structured-covariance fits (ar1(), cs(), ...)")
  if (!is.null(.subset2(fit, "penalty"))) {
    add("robust_vcov", paste0("penalized fits (the prior sets the estimates in part, and a ",
                              "sandwich of the clusters' scores does not describe it)"))
    add(c("profile", "confint_profile", "bootstrap"), "penalized fits")
  }
  if (isTRUE(re_known_cov(fit)) || !is.null(.subset2(fit, "call")$covariance))
    add(c("simulate_newdata", "ranef_new", "bootstrap"),
        "fits with a known-covariance term ('covariance')")
  if (inherits(fit, "glmmgee_glmm_sharded"))
    add("bootstrap", "distributed fits (glmm_shards(); their rows stay on the workers)")
  if (!is.null(.subset2(fit, "importance")))
    add(c("profile", "confint_profile", "robust_vcov"),
        paste0("importance-sampling fits (their profiles and cluster scores would be the ",
               "Laplace approximation's; use Wald intervals, which include the Monte Carlo error)"))
  if (!is.null(.subset2(fit, "second_order")))
    add(c("profile", "confint_profile", "robust_vcov"),
        paste0("second-order Laplace fits (their profiles and cluster scores would be the ",
               "first-order approximation's; use Wald intervals)"))
  if (isTRUE(.subset2(fit, "REML")))
    add("cluster_loglik", "REML fits (the restricted likelihood does not split by cluster)")
  if (isTRUE(.subset2(fit, "REML")) && inherits(fit, "glmmgee_glmm_zi"))
    add("robust_vcov", paste0("REML fits with a 'dispformula' or equalto() terms (their cluster ",
                              "scores would be the ML likelihood's; refit with REML = FALSE)"))
  if (is_cumulative(.subset2(fit, "family")))
    add(c("marginal", "profile", "confint_profile", "bootstrap", "ranef_new", "simulate_newdata"),
        "cumulative link (ordinal) fits")
  if (inherits(fit, "glmmgee_glmm_ordinal_re"))
    add("standardize", paste0("cumulative link fits with random slopes (population-averaged ",
                              "probabilities are available for a random intercept only)"))
  out
}

# Whether a fit can serve a capability: its engine's and its parts'.
has_capability <- function(fit, what) {
  if (!inherits(fit, c("glmmgee_glmm", "glmmgee_glmm_ordinal"))) return(TRUE)
  eng <- fit_engine(fit)
  isTRUE(unname(eng$capabilities[what])) && !what %in% names(part_limits(fit))
}

# Stops, naming the engine and the missing piece, when `fit` cannot serve
# `what` (a name of engine_capabilities). `method`: the call the user made;
# `hint`: what to use instead.
require_capability <- function(fit, what, method = what, hint = NULL) {
  # (other objects: the method's own checks name what it needs)
  if (!inherits(fit, c("glmmgee_glmm", "glmmgee_glmm_ordinal"))) return(invisible(fit))
  eng <- fit_engine(fit)
  limits <- part_limits(fit)
  if (isTRUE(unname(eng$capabilities[what])) && !what %in% names(limits)) return(invisible(fit))
  stop(capability_refusal(method, eng, what, if (what %in% names(limits)) limits[[what]], hint),
       call. = FALSE)
}

# The one message of a refused capability: `method` the call, `eng` the
# engine record (engine_info()), `what` the capability, `limit` the model
# part that withholds it, `hint` what to use instead.
capability_refusal <- function(method, eng, what, limit = NULL, hint = NULL)
  sprintf("%s: the %s engine (%s) does not provide %s%s%s", method, eng$name, eng$fits,
          engine_capabilities[[what]], if (is.null(limit)) "" else paste(" for", limit),
          if (is.null(hint)) "" else paste0("; ", hint))
