# The model specification of glmm(): the arguments read once into one
# validated list (the parts, the family, the random-effect distribution,
# REML, the penalty, workers, control), the combinations no engine fits
# refused from one table, and the engine that fits the rest chosen from it.
# glmm() is then: spec -> refusals -> model frame -> engine -> fit;
# glmm(doFit = FALSE) stops before the fit and returns the spec.

# The spec. Arguments as glmm() has them after formulas given as strings
# were made formulas and `family` was resolved by family_arg().
glmm_spec <- function(mc, env, formula, family, family_default, ziformula, dispformula,
                      covariance, ranef_dist, REML, penalized, zi_correlated, nAGQ, control,
                      start, data_missing, data, weights_given) {
  aux <- wants_aux_parts(ziformula, dispformula, family, env)
  cum <- as_cumulative(family)
  cf <- truncated_count_family(family)
  # The family the engines see: the hurdle family's count family, a
  # cumulative family as given, any other resolved (resolve_family()).
  inner <- if (!is.null(cf)) resolve_family(switch(cf, poisson = stats::poisson(),
                                                   nbinom2 = nbinom2(), nbinom1 = nbinom1()))
           else if (!is.null(cum) && !aux) cum
           else if (aux) cum %||% resolve_family(family, env)
           else if (family_default) family else resolve_family(family, env)
  if (!inherits(formula, "formula") || length(formula) != 3L)
    stop("'formula' must be a two-sided formula such as y ~ x + (1 | g)", call. = FALSE)
  if (is.null(cum)) check_some_fixed(formula)
  if (!inherits(control, "glmmgee_glmm_control"))
    stop("'control' must come from glmm_control()", call. = FALSE)
  if (!data_missing && !is.data.frame(data) && !is.list(data))
    stop("'data' must be a data frame", call. = FALSE)
  if (!is.logical(REML) || length(REML) != 1L || is.na(REML))
    stop("'REML' must be TRUE or FALSE", call. = FALSE)
  if (!is.logical(zi_correlated) || length(zi_correlated) != 1L || is.na(zi_correlated))
    stop("'zi_correlated' must be TRUE or FALSE", call. = FALSE)
  if (!is.null(covariance) && !is.list(covariance))
    stop("'covariance' must be a named list of matrices, e.g. list(id = K)", call. = FALSE)
  fenv <- environment(formula) %||% env
  # Structures in each part as written (us() included: the two-part route
  # takes none); the conditional part's with us() made the plain term.
  written <- vapply(list(formula = formula, ziformula = ziformula, dispformula = dispformula),
                    function(f) inherits(f, "formula") && any(covstruct_kinds %in% all.names(f)) &&
                      isTRUE(tryCatch(reformulas::anySpecial(f, covstruct_kinds),
                                      error = function(e) FALSE)), TRUE)
  if (!aux) formula <- drop_us(covstruct_arguments(formula))
  has_zi <- !is_empty_part(ziformula, "ziformula")
  zi_bars <- if (has_zi) find_bars(ziformula)
  gnames <- unique(bar_group_names(formula))
  sparse <- needs_sparse_engine(formula, if (!aux) covariance)
  structure(list(
    call = mc, env = env, fenv = fenv, formula = formula, ziformula = ziformula,
    dispformula = dispformula, zi_bars = zi_bars,
    zi_fixed = if (length(zi_bars)) zi_fixed_formula(ziformula) else ziformula,
    family = inner, count_family = cf,
    cumulative = !is.null(cum), aux = aux, truncated = !is.null(cf), has_zi = has_zi,
    has_disp = !is_trivial_disp(dispformula),
    kind = if (!is.null(cf)) "hurdle" else if (has_zi) "zi" else if (aux) "disp",
    written = written, structured = !aux && has_covstruct(formula),
    gnames = gnames, sparse = sparse,
    zire_sparse = length(zi_bars) > 0L && zire_needs_sparse(formula, zi_bars, sparse),
    covariance = covariance, ranef_dist = check_ranef_dist(ranef_dist), REML = REML,
    penalty = penalty_prior(penalized), zi_correlated = zi_correlated, nAGQ = nAGQ,
    quadrature = !is.null(nAGQ) && !identical(as.numeric(nAGQ), 1),
    control = control, workers = !is.null(control$workers), start = start,
    weights_given = weights_given), class = "glmmgee_spec")
}

# Facts the refusal table and the engine choice read, beyond the spec's
# fields (plain functions of the spec).
spec_penalized <- function(s) !is.null(s$penalty) && !s$cumulative
spec_structured_route <- function(s) !s$aux && !s$cumulative && (s$structured || spec_penalized(s))
spec_structured_sparse <- function(s) spec_structured_route(s) && covstruct_needs_sparse(s$formula)
spec_gaussian_identity <- function(s)
  identical(s$family$family, "gaussian") && identical(s$family$link, "identity")
spec_known_gaussian_form <- function(s)
  s$ranef_dist$type == "normal" && use_known_gaussian(s$formula, s$family, s$covariance)
spec_known_laplace <- function(s)
  s$ranef_dist$type == "normal" && !s$REML && use_known_laplace(s$formula, s$family, s$covariance)
spec_plain <- function(s) !s$aux && !s$cumulative && !spec_structured_route(s)
# Several terms with nAGQ > 1 on workers: the nested engine, split by its
# outermost factor; otherwise workers need one grouping factor named by a column.
spec_one_column_group <- function(s) {
  bars <- find_bars(s$formula)
  length(s$gnames) == 1L && is.name(bars[[1L]][[3L]])
}
spec_nested_workers <- function(s) {
  bars <- find_bars(s$formula)
  isTRUE(s$nAGQ > 1) && length(s$nAGQ) == 1L && is.numeric(s$nAGQ) &&
    (length(bars) > 1L || !is.name(bars[[1L]][[3L]]))
}

# One refusal: its name, the stage it is checked at ("spec": before any
# data is read; "route": once the engine is chosen, for the few that depend
# on the route), when it applies, and its message (a string, or a function
# of the spec).
refusal <- function(id, when, message, stage = "spec")
  list(id = id, stage = stage, when = when, message = message)

structures_text <- "covariance structures (ar1(), cs(), homcs(), diag(), homdiag(), us())"
use_plain_text <- "use unstructured terms, such as (time + 0 | g), (x || g) or (1 | g)"
workers_text <- paste0("glmm_control(workers = ): distributed fitting covers normal random effects ",
                       "of one grouping factor without known covariances or REML")

# What glmm() does not fit: one row per combination, checked in this order
# (the first that applies is the error). Genuine limits of the engines: each
# part works alone; these combinations of them have no engine.
glmm_refusals <- list(
  # Zero-inflation, hurdle and dispersion parts (the two-part engines).
  refusal("zi_correlated_without_zi", function(s) s$zi_correlated && is.null(s$ziformula),
          "'zi_correlated' needs a 'ziformula' with a random-effect term, such as ~ x + (1 | g)"),
  refusal("ordinal_ziformula", function(s) s$cumulative && s$has_zi, function(s) sprintf(
    "'ziformula': zero-inflation is not defined for ordinal responses (cumulative(\"%s\")): the response is a category, not a count with extra zeros; drop 'ziformula'",
    s$family$link)),
  refusal("ordinal_dispformula", function(s) s$cumulative && s$has_disp, function(s) sprintf(
    "'dispformula': cumulative link models (cumulative(\"%s\")) have no dispersion parameter (the latent scale is fixed); drop 'dispformula'",
    s$family$link)),
  refusal("two_part_known_dist_reml",
          function(s) s$aux && (!is.null(s$covariance) || s$ranef_dist$type != "normal" || s$REML),
          "'ziformula', 'dispformula' and hurdle families cannot be combined with 'covariance', 'ranef_dist' or 'REML'"),
  refusal("two_part_structure_in_part", function(s) s$aux && any(s$written[-1L]),
          function(s) sprintf("'%s': %s are not available there; %s",
                              names(which(s$written[-1L]))[1L], structures_text, use_plain_text)),
  refusal("two_part_structure", function(s) s$aux && s$written[["formula"]], function(s) sprintf(
    "'formula': %s cannot be combined with %s; %s", structures_text,
    paste(c(if (s$truncated) "a hurdle family", if (s$has_zi) "'ziformula'",
            if (s$has_disp) "'dispformula'"), collapse = " or "), use_plain_text)),
  refusal("two_part_workers", function(s) s$aux && s$workers,
          "'control$workers': models with 'ziformula', 'dispformula' or a hurdle family are not fitted on workers"),
  refusal("zi_correlated_without_zi_re", function(s) s$zi_correlated && !length(s$zi_bars),
          "'zi_correlated' = TRUE needs a random-effect term in 'ziformula', such as ~ x + (1 | g)"),
  refusal("dispformula_random", function(s) s$aux && length(find_bars(s$dispformula)) > 0L,
          "'dispformula': random effects in the dispersion model are not supported (only fixed effects)"),
  refusal("zi_family", function(s) s$has_zi &&
            !s$family$family %in% c("poisson", "nbinom2", "nbinom1", "binomial"),
          function(s) sprintf("'ziformula': zero-inflation needs a count family (poisson, nbinom2, nbinom1, or truncated_poisson / truncated_nbinom2 / truncated_nbinom1 for hurdle models) or binomial, not %s",
                              s$family$family)),
  refusal("zi_binomial_weights", function(s) s$has_zi && s$family$family == "binomial" &&
            s$weights_given,
          "'weights': a zero-inflated binomial model takes the numbers of trials from cbind(successes, failures) and no prior weights"),
  refusal("dispformula_family", function(s) s$aux && s$has_disp && !has_dispersion(s$family),
          function(s) sprintf("'dispformula': the %s family has no dispersion parameter", s$family$family)),
  refusal("two_part_sparse_quadrature", function(s) s$aux && (s$sparse || s$zire_sparse) && s$quadrature,
          function(s) if (s$zire_sparse) "'nAGQ' > 1 (adaptive quadrature) needs the zero part's random effects on the conditional part's single grouping factor; otherwise only the Laplace approximation (nAGQ = 1) is available"
                      else "'nAGQ' > 1 (adaptive quadrature) needs a single grouping factor; with several random-effect terms only the Laplace approximation (nAGQ = 1) is available"),
  refusal("zi_correlated_sparse", function(s) s$zi_correlated && s$zire_sparse,
          "'zi_correlated' = TRUE needs the zero part's random effects on the conditional part's single grouping factor (one term in each part); with other terms the two parts' effects are independent"),
  refusal("pen_zi_without_zi", function(s) !is.null(s$penalty$zi) && !s$has_zi,
          "'penalized$pen_zi' penalizes the zero part's coefficients; it needs a 'ziformula'"),
  # Covariance structures and penalized fixed effects.
  refusal("ordinal_structure", function(s) s$structured && s$cumulative,
          "cumulative link models take no covariance-structure terms (ar1(), cs(), diag(), homdiag())"),
  refusal("structure_workers", function(s) spec_structured_route(s) && s$workers,
          "'control$workers': fits with covariance-structure terms or 'penalized' are not fitted on workers"),
  refusal("structure_covariance", function(s) spec_structured_route(s) && !is.null(s$covariance),
          "'covariance' (a known covariance) cannot be combined with a covariance structure such as ar1() or cs()"),
  refusal("structure_ranef_dist", function(s) spec_structured_route(s) && s$ranef_dist$type != "normal",
          "'ranef_dist' other than \"normal\" cannot be combined with a covariance structure"),
  refusal("reml_family", function(s) !s$aux && !s$cumulative && s$REML && !spec_gaussian_identity(s),
          function(s) reml_family_message(s$family)),
  refusal("penalized_reml", function(s) spec_penalized(s) && s$REML,
          "'REML = TRUE' cannot be combined with 'penalized' (REML integrates the fixed effects out; the prior is on them): use REML = FALSE"),
  refusal("structure_reml_one_factor", function(s) spec_structured_route(s) && s$REML &&
            !covstruct_needs_sparse(s$formula),
          "'REML = TRUE' with covariance structures is available for gaussian models with several grouping factors and no penalty"),
  refusal("structure_start", function(s) spec_structured_route(s) && !is.null(s$start),
          "'start' is not available with covariance structures (the structure's parameters start at their defaults)"),
  refusal("structure_sparse_quadrature", function(s) spec_structured_sparse(s) && s$quadrature,
          "'nAGQ' > 1 is not available with several grouping factors and covariance structures or 'penalized' (they are fitted by the sparse Laplace engine, nAGQ = 1)"),
  # Workers (the sharded AGQ engine and the nested engine).
  refusal("workers_known_reml_dist", function(s) !s$aux && !spec_structured_route(s) && s$workers &&
            (!is.null(s$covariance) || s$REML || s$ranef_dist$type != "normal"), workers_text),
  refusal("workers_several_factors", function(s) !s$aux && !spec_structured_route(s) && s$workers &&
            length(s$gnames) && !spec_nested_workers(s) && !spec_one_column_group(s),
          function(s) sprintf(paste0(
            "distributed fitting takes one grouping factor named by one column; the formula has %s. ",
            "Crossed designs have a likelihood that is not a sum over the clusters of one factor. ",
            "Nested random intercepts such as (1 | a/b) are fitted on workers by glmm() with data in memory and nAGQ > 1 (split by the outermost factor); ",
            "at scale, a nested design can also be fitted by its outermost factor alone (a random effect per top-level cluster), ",
            "or use method-of-moments or backfitting estimators, which large-scale systems use for crossed designs"),
            paste(sQuote(s$gnames, FALSE), collapse = ", "))),
  # Cumulative link (ordinal) models.
  refusal("ordinal_workers", function(s) s$cumulative && s$workers,
          "'control$workers': cumulative link models are not fitted on workers"),
  refusal("ordinal_reml_dist", function(s) s$cumulative && (s$REML || s$ranef_dist$type != "normal"),
          "cumulative link models take neither 'REML' nor another 'ranef_dist'"),
  refusal("ordinal_covariance", function(s) s$cumulative && !is.null(s$covariance),
          "'covariance': known covariances are not available for cumulative link models"),
  refusal("ordinal_no_random_effect", function(s) s$cumulative && !length(s$gnames),
          "cumulative link mixed models need a random-effect term such as (1 | g); the formula has none"),
  refusal("ordinal_sparse_quadrature", function(s) s$cumulative && length(s$gnames) > 1L && s$quadrature,
          "'nAGQ': cumulative link mixed models with several random-effect terms are fitted by the Laplace approximation only (nAGQ = 1)"),
  # REML, known covariances and non-normal random effects.
  refusal("reml_dist_known", function(s) spec_plain(s) && s$REML &&
            (s$ranef_dist$type != "normal" || (!is.null(s$covariance) && !spec_known_gaussian_form(s))),
          paste0("'REML = TRUE' cannot be combined with 'ranef_dist', nor with 'covariance' unless ",
                 "the model is gaussian (identity link) and every random-effect term is a random ",
                 "intercept (1 | g); a random slope beside a known covariance is fitted by ML only")),
  refusal("known_laplace_quadrature", function(s) spec_plain(s) && spec_known_laplace(s) && s$quadrature,
          "'nAGQ' > 1 is not available with a known covariance: the Laplace approximation (nAGQ = 1) is used"),
  refusal("known_laplace_start", function(s) spec_plain(s) && spec_known_laplace(s) && !is.null(s$start),
          "'start' is not used for a model with a known covariance"),
  refusal("ranef_dist_several", function(s) spec_plain(s) && s$ranef_dist$type != "normal" && s$sparse,
          function(s) sprintf("ranef_dist = \"%s\" needs a single random intercept on one grouping factor, e.g. (1 | g)",
                              s$ranef_dist$type)),
  refusal("ranef_dist_start", function(s) spec_plain(s) && s$ranef_dist$type != "normal" && !is.null(s$start),
          function(s) sprintf("'start' is not available with ranef_dist = \"%s\"", s$ranef_dist$type)),
  refusal("bridge_family", function(s) spec_plain(s) && s$ranef_dist$type == "bridge" &&
            !(s$family$family == "binomial" && s$family$link == "logit"),
          function(s) sprintf("'family': the bridge distribution needs binomial(link = \"logit\"), not %s(%s)%s",
                              s$family$family, s$family$link,
                              if (identical(s$family$link, "probit")) "; with the probit link the normal random intercept already gives marginal coefficients exactly beta / sqrt(1 + sigma^2)" else "")),
  refusal("nonparametric_family", function(s) spec_plain(s) && s$ranef_dist$type == "nonparametric" &&
            !(s$family$family %in% c("binomial", "poisson")),
          function(s) sprintf("'family': the nonparametric random intercept supports binomial and poisson families, not %s",
                              s$family$family)),
  # Checked once the engine is chosen (the known-covariance gaussian route
  # depends on the data; see choose_engine()).
  refusal("known_gaussian_quadrature", function(s) s$route == "known_gaussian" && s$quadrature,
          "'nAGQ' does not apply to a gaussian model with a known covariance (its likelihood is exact)",
          stage = "route"),
  refusal("known_gaussian_start", function(s) s$route == "known_gaussian" && !is.null(s$start),
          "'start' is not used for a gaussian model with a known covariance (the variance ratio is searched over its whole range)",
          stage = "route"),
  refusal("nested_known", function(s) s$route == "nested" && length(s$covariance) > 0L,
          "'nAGQ' > 1 is not available with a known covariance ('covariance'); use nAGQ = 1",
          stage = "route"),
  refusal("kfactor_sparse", function(s) s$route == "sparse" &&
            any(vapply(s$covariance, inherits, TRUE, "glmmgee_kfactor")),
          "a covariance given by its factor (kfactor()) is available only for gaussian models whose random-effect terms all have known covariances, and for binomial (logit) or Poisson (log) models with the one term (1 | id)",
          stage = "route")
)
names(glmm_refusals) <- vapply(glmm_refusals, `[[`, "", "id")

reml_family_message <- function(family)
  sprintf(paste0("'REML = TRUE' needs family = gaussian(link = \"identity\"), not %s(%s): ",
                 "REML is defined for linear mixed models; glmm() does not offer the ",
                 "Laplace approximation over the fixed effects that glmmTMB calls REML ",
                 "for other families"), family$family, family$link)

# The first row of the table (at `stage`) that applies to the spec stops,
# with an error of class glmmgee_refusal naming the row.
check_refusals <- function(s, stage = "spec") {
  for (r in glmm_refusals) {
    if (r$stage != stage || !isTRUE(r$when(s))) next
    msg <- if (is.function(r$message)) r$message(s) else r$message
    stop(structure(class = c("glmmgee_refusal", "error", "condition"),
                   list(message = msg, call = NULL, id = r$id)))
  }
  invisible(s)
}

# The engine (a name of the engine registry) and the route of glmm() that
# fit the spec, from the spec and the model frame; adds $engine and $route.
# Decided later, in the route's front end or after a fit:
# - "lmm_ml": gaussian ML with one grouping factor minimizes lmer's
#   profiled criterion; when that search ends at a variance of zero the
#   fit is redone by the agq engine (lmm_ml_fit() returns NULL).
# - "structured_one": a two-column cs() with a column far from zero goes
#   to laplace_sparse (glmm_covstruct(), from its design); ar1()/cs() fits
#   on rescaled or centred columns are mapped back.
# - "structured_sparse": a gaussian ML fit by laplace_sparse that ends with
#   a warning is fitted again by the profiled criterion (lmm_sparse), and
#   the higher log-likelihood kept (glmm_sparse_covstruct()).
# - "agq" on workers: the sharded AGQ engine ($engine$workers).
choose_engine <- function(s, mf) {
  rd <- s$ranef_dist$type
  route <- if (s$aux) "two_part"
    else if (spec_structured_route(s)) {
      if (spec_structured_sparse(s)) "structured_sparse" else "structured_one"
    } else if (s$cumulative) { if (length(s$gnames) > 1L) "ordinal_sparse" else "ordinal_one" }
    else if (rd == "normal" && use_known_gaussian(s$formula, s$family, s$covariance, mf, s$REML,
                                                  s$start)) "known_gaussian"
    else if (spec_known_laplace(s)) "known_laplace"
    else if (rd != "normal") "ranef_dist"
    else if (s$sparse) {
      if (is.null(s$covariance) && !s$workers && (s$REML || is.null(s$start)) &&
          lmm_sparse_wanted(s$family, s$nAGQ, s$REML)) "lmm_sparse"
      else if (s$quadrature) "nested" else "sparse"
    } else if (s$REML) "lmm_reml"
    else if (use_lmm_ml(s$family, s$REML, s$start, s$nAGQ, s$control)) "lmm_ml"
    else "agq"
  s$route <- route
  s$engine <- switch(route,
    two_part = if (s$zire_sparse) "laplace_sparse_zero_re" else if (length(s$zi_bars)) "agq_zero_re"
               else if (s$sparse) "laplace_sparse" else "agq",
    structured_sparse = if (s$REML || lmm_covstruct_wanted(s$family, s$penalty)) "lmm_sparse"
                        else "laplace_sparse",
    structured_one = "agq", ordinal_sparse = "laplace_sparse", ordinal_one = "ordinal_agq",
    known_gaussian = "known_gaussian", known_laplace = "known_laplace",
    ranef_dist = "agq_ranef_dist", lmm_sparse = "lmm_sparse", nested = "agq_nested",
    sparse = "laplace_sparse", lmm_reml = , lmm_ml = "lmm_one_factor", agq = "agq")
  check_refusals(s, "route")
}

# The model frame of the spec: the variables of every part.
spec_frame <- function(s, contrasts) {
  f <- s$formula
  if (s$aux) {
    ff <- reformulas::subbars(f)
    for (g in list(if (s$has_zi) s$zi_fixed, if (s$has_disp) s$dispformula,
                   if (length(s$zi_bars)) reformulas::subbars(zi_bars_formula(s$zi_bars))))
      if (!is.null(g)) ff[[3L]] <- call("+", ff[[3L]], g[[2L]])
    formulas <- list(formula = f, ziformula = s$ziformula, dispformula = s$dispformula)
  } else {
    ff <- if (s$structured) covstruct_frame_formula(f) else sub_bars(f)
    formulas <- list(f)
  }
  environment(ff) <- s$fenv
  frame_from_call(s$call, ff, s$env, extras = c("weights", "offset"), contrasts,
                  formulas = formulas)
}

# Fits the spec on its model frame by its route's front end.
fit_spec <- function(s, mf) {
  f <- s$formula
  mc <- s$call
  switch(s$route,
    two_part = glmm_zi(s, mf),
    structured_one = glmm_covstruct(f, mf, s$family, s$nAGQ, s$control, mc, s$fenv, s$penalty),
    structured_sparse = glmm_sparse_covstruct(f, mf, s$family, s$nAGQ, s$control, mc, s$fenv,
                                              s$penalty, s$REML),
    ordinal_one = , ordinal_sparse = glmm_ordinal(f, mf, s$family, s$nAGQ, s$control, s$start,
                                                  s$covariance, mc, s$fenv, s$penalty),
    known_gaussian = glmm_known_gaussian(f, mf, s$family, s$control, s$covariance, s$REML, mc,
                                         s$fenv),
    known_laplace = glmm_known_laplace(f, mf, s$family, s$control, s$covariance, mc, s$fenv),
    ranef_dist = glmm_ranef_dist(s$ranef_dist, f, mf, s$family, s$control, s$start,
                                 s$covariance, mc, s$fenv),
    lmm_sparse = glmm_lmm_sparse(f, mf, s$family, s$control, s$start, mc, s$fenv, s$REML),
    nested = glmm_nested(f, mf, s$family, s$nAGQ, s$control, s$start, mc, s$fenv),
    sparse = glmm_sparse(f, mf, s$family, s$control, s$start, s$covariance, mc, s$fenv),
    glmm_one_factor(s, mf))
}

# glmm(doFit = FALSE): the spec with its model data. The designs are those
# built before any fit: the model frame, the conditional part's fixed-effect
# matrix and the random-effect terms (re_terms() or sparse_re_terms(), as
# the route builds them); NULL where the route builds them its own way.
spec_with_data <- function(s, mf) {
  fx <- tryCatch(fixed_design(if (s$structured) covstruct_split(s$formula)$plain else s$formula,
                              mf, s$fenv), error = function(e) NULL)
  s$data <- list(frame = mf, X = fx$X, terms = fx$mt)
  s
}

#' @export
print.glmmgee_spec <- function(x, ...) {
  check_dots_empty(...)
  cat("glmm() model specification\n")
  fam <- if (x$truncated) paste0("truncated_", x$count_family)
         else paste0(x$family$family, "(", x$family$link, ")")
  cat("  family:    ", fam, "\n", sep = "")
  show_part <- function(label, f) {
    if (is.null(f)) return(invisible())
    cat(sprintf("  %-11s%s\n", paste0(label, ":"), paste(deparse(f, 500L), collapse = " ")))
    bars <- if (label == "conditional" && x$structured) covstruct_split(f)
            else list(bars = find_bars(f), kinds = rep("us", length(find_bars(f))))
    for (k in seq_along(bars$bars)) {
      b <- bars$bars[[k]]
      g <- paste(deparse(b[[3L]]), collapse = "")
      kind <- if (!is.null(x$covariance[[g]])) "known covariance" else bars$kinds[k]
      cat(sprintf("    random effects %s | %s: %s\n", paste(deparse(b[[2L]]), collapse = ""), g, kind))
    }
  }
  show_part("conditional", x$formula)
  if (x$has_zi) show_part(if (x$truncated) "hurdle" else "zero", x$ziformula)
  if (x$has_disp) show_part("dispersion", x$dispformula)
  rd <- x$ranef_dist$type
  cat("  random-effect distribution: ", rd, if (rd == "nonparametric") sprintf(" (k = %d)", x$ranef_dist$k),
      "\n", sep = "")
  cat("  criterion: ", if (x$REML) "REML" else "ML", if (!is.null(x$penalty)) ", penalized",
      if (x$zi_correlated) ", zero part correlated with the conditional part", "\n", sep = "")
  cat("  nAGQ: ", if (is.null(x$nAGQ)) "default" else format(x$nAGQ),
      if (x$workers) "; on workers", "\n", sep = "")
  if (!is.null(x$engine)) cat("  engine: ", x$engine, " (route ", x$route, ")\n", sep = "")
  if (!is.null(x$data$frame))
    cat("  data: ", nrow(x$data$frame), " rows in the model frame\n", sep = "")
  invisible(x)
}
