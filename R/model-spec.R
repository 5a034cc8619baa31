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
  cum <- as_cumulative(family)
  cf <- truncated_count_family(family)
  # The two-part route: a zero or dispersion part, or a hurdle family.
  aux <- !is.null(cf) || !is_empty_part(ziformula, "ziformula") || !is_trivial_disp(dispformula)
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
  # (checked here for every route: the REML routes do not use nAGQ, and
  # took -1, 1.5, NA or "a" without a word)
  if (!is.null(nAGQ)) check_nagq_value(nAGQ)
  if (!is.logical(zi_correlated) || length(zi_correlated) != 1L || is.na(zi_correlated))
    stop("'zi_correlated' must be TRUE or FALSE", call. = FALSE)
  if (!is.null(covariance) && !is.list(covariance))
    stop("'covariance' must be a named list of matrices, e.g. list(id = K)", call. = FALSE)
  fenv <- environment(formula) %||% env
  # A gaussian REML fit with equalto() goes to the two-part route too (a
  # covariance fixed in y's units, which the one-part route's profiled
  # criterion cannot hold): the residual variance is its dispersion part.
  # So does an ML fit on several grouping factors, which the two-part route
  # fits on y / s (the sparse Laplace route kept y's units and, in units 1e6
  # of y's spread, ended 7.9 below the optimum).
  gaussian_id <- identical(inner$family, "gaussian") && identical(inner$link, "identity")
  aux <- aux || (gaussian_id && "equalto" %in% all.names(formula) &&
                   (REML || (isFALSE(penalized) && covstruct_needs_sparse(formula))))
  # Structures in each part as written (us() included: the two-part route
  # takes none); the conditional part's with us() made the plain term.
  written <- if (aux) vapply(list(formula = formula, ziformula = ziformula, dispformula = dispformula),
                             function(f) inherits(f, "formula") && any(covstruct_kinds %in% all.names(f)) &&
                               isTRUE(tryCatch(reformulas::anySpecial(shield_formula(f), covstruct_kinds),
                                               error = function(e) FALSE)), TRUE)
  if (!aux) formula <- drop_us(covstruct_arguments(formula))
  # A two-part model with structures in any part: each read as one-part
  # structured formulas are (fit-two-part-covstruct.R).
  # REML of a gaussian model with a dispersion formula of fixed effects (no
  # zero part, no hurdle): the restricted likelihood on the structured
  # two-part route, where every term is a structure (reml-dispersion.R).
  reml_aux <- aux && REML && is.null(cf) && is_empty_part(ziformula, "ziformula") &&
    gaussian_id && !(inherits(dispformula, "formula") && length(find_bars(dispformula)))
  structured_aux <- aux && (any(written) || reml_aux)
  if (structured_aux) {
    formula <- drop_us(covstruct_arguments(formula))
    if (inherits(ziformula, "formula"))
      ziformula <- drop_us(covstruct_arguments(ziformula, "ziformula"))
    if (inherits(dispformula, "formula"))
      dispformula <- drop_us(covstruct_arguments(dispformula, "dispformula"))
  }
  has_zi <- !is_empty_part(ziformula, "ziformula")
  zi_bars <- if (has_zi) find_bars(ziformula)
  has_disp <- !is_trivial_disp(dispformula)
  disp_bars <- if (has_disp) find_bars(dispformula)
  bars <- find_bars(formula)
  gnames <- unique(bar_group_names(formula))
  # every part's random-effect terms on one grouping factor
  one_factor <- length(union(union(gnames, group_names_of(disp_bars)),
                             group_names_of(zi_bars))) == 1L
  sparse <- structured_aux || needs_sparse_engine(formula, if (!aux) covariance)
  structured <- !aux && has_covstruct(formula)
  penalty <- penalty_prior(penalized)
  rd <- check_ranef_dist(ranef_dist)
  # Facts the refusal table and the engine choice read.
  penalized <- !is.null(penalty) && is.null(cum)
  structured_route <- !aux && is.null(cum) && (structured || penalized)
  structure(list(
    call = mc, env = env, fenv = fenv, formula = formula, ziformula = ziformula,
    dispformula = dispformula, zi_bars = zi_bars, disp_bars = disp_bars,
    zi_fixed = if (length(zi_bars)) zi_fixed_formula(ziformula) else ziformula,
    disp_fixed = if (length(disp_bars)) zi_fixed_formula(dispformula) else dispformula,
    # A dispersion part with random effects (a location-scale model): the
    # two-part sparse engine with the log dispersion as its second random
    # predictor (fit-dispersion-random.R).
    disp_random = length(disp_bars) > 0L,
    # ... beside random effects in the zero part: the three parts' effects in
    # one joint mode (engine kinds 7 and 8, glmm_sparse_zi_random_fit(rd =)).
    two_random_parts = length(disp_bars) > 0L && length(zi_bars) > 0L,
    # ... whose terms and the mean's (if any) all lie on one grouping
    # factor (a zero part with fixed effects, or random effects on that
    # factor too, may stand beside them): adaptive quadrature over each
    # cluster's effects of every part (glmm_dispre_agq_fit(), or
    # two_part_covstruct_fit() with structures).
    disp_quadrature = length(disp_bars) > 0L && one_factor,
    # Structures in a two-part model whose random-effect terms all lie on
    # one grouping factor: adaptive quadrature on the one-factor engine, with
    # the zero and dispersion parts as its auxiliary predictors or, where
    # they have random effects, as its other random predictors
    # (two_part_covstruct_fit()).
    # (the one-factor engine needs the mean's random effects beside a
    # zero part's)
    structured_aux_quadrature = structured_aux && !reml_aux && one_factor &&
      (length(gnames) > 0L || length(disp_bars) > 0L),
    family = inner, count_family = cf,
    cumulative = !is.null(cum), aux = aux, truncated = !is.null(cf), has_zi = has_zi,
    has_disp = has_disp, disp_zero = is_zero_disp(dispformula),
    kind = if (!is.null(cf)) "hurdle" else if (has_zi) "zi" else if (aux) "disp",
    written = written, structured = structured, structured_aux = structured_aux,
    reml_aux = reml_aux,
    gnames = gnames, sparse = sparse,
    zi_random_sparse = length(zi_bars) > 0L && (length(disp_bars) > 0L ||
                                           zi_random_needs_sparse(formula, zi_bars, sparse)),
    covariance = covariance, ranef_dist = rd, rd = rd$type, REML = REML, penalty = penalty,
    zi_correlated = zi_correlated, nAGQ = nAGQ,
    # (REML: the exact criterion, which nAGQ does not change)
    quadrature = !is.null(nAGQ) && !identical(as.numeric(nAGQ), 1) && !reml_aux,
    control = control, workers = !is.null(control$workers), start = start,
    # a refinement of the Laplace approximation: the control setting that asks for it
    refinement = if (isTRUE(control$importance_draws > 0L)) "glmm_control(importance_draws = )"
                 else if (identical(control$laplace_order, 2L)) "glmm_control(laplace_order = 2)",
    weights_given = weights_given, penalized = penalized, structured_route = structured_route,
    plain = !aux && is.null(cum) && !structured_route,
    gaussian_identity = identical(inner$family, "gaussian") && identical(inner$link, "identity"),
    # On workers: several terms with nAGQ > 1 go to the nested engine, split
    # by its outermost factor; otherwise one grouping factor named by a column.
    nested_workers = isTRUE(nAGQ > 1) && length(nAGQ) == 1L && is.numeric(nAGQ) &&
      length(bars) > 0L && (length(bars) > 1L || !is.name(bars[[1L]][[3L]])),
    one_column_group = length(gnames) == 1L && is.name(bars[[1L]][[3L]]),
    # Every row of the refusal table needs one of these (a plain model is
    # not looked up in it; test-model-spec.R triggers every row).
    special = aux || !is.null(cum) || zi_correlated || !is.null(penalty) || structured || REML ||
      !is.null(control$workers) || !is.null(covariance) || rd$type != "normal" ||
      isTRUE(control$importance_draws > 0L) || identical(control$laplace_order, 2L)),
    class = "glmmgee_spec")
}

# Facts the refusal table and the engine choice read beyond the spec's
# fields: these read the formula further.
# (REML with structures is fitted by the profiled criterion of the sparse
# route, whatever the number of grouping factors)
spec_structured_sparse <- function(s)
  s$structured_route && (s$REML || covstruct_needs_sparse(s$formula))
spec_known_gaussian_form <- function(s)
  s$rd == "normal" && use_known_gaussian(s$formula, s$family, s$covariance)
spec_known_laplace <- function(s)
  s$rd == "normal" && !s$REML && use_known_laplace(s$formula, s$family, s$covariance)

# One refusal: its name, when it applies and its message (expressions
# evaluated among the spec's fields, `s` the spec itself), and the stage it
# is checked at: "spec", before any data is read, or "route", once the
# engine is chosen (the few that depend on the route).
refusal <- function(id, when, message, stage = "spec")
  list(id = id, stage = stage, when = when, message = message)

structures_text <- paste0("covariance structures (", paste0(covstruct_kinds, "()", collapse = ", "), ")")
use_plain_text <- "use unstructured terms, such as (time + 0 | g), (x || g) or (1 | g)"

# What glmm() does not fit: one row per combination, checked in this order
# (the first that applies is the error). Genuine limits of the engines: each
# part works alone; these combinations of them have no engine.
glmm_refusals <- list(
  # Zero-inflation, hurdle and dispersion parts (the two-part engines).
  refusal("zi_correlated_without_zi", quote(zi_correlated && is.null(ziformula)),
          "'zi_correlated' needs a 'ziformula' with a random-effect term, such as ~ x + (1 | g)"),
  refusal("ordinal_ziformula", quote(cumulative && has_zi), quote(sprintf(
    "'ziformula': zero-inflation is not defined for ordinal responses (cumulative(\"%s\")): the response is a category, not a count with extra zeros; drop 'ziformula'",
    family$link))),
  refusal("ordinal_dispformula", quote(cumulative && has_disp), quote(sprintf(
    "'dispformula': cumulative link models (cumulative(\"%s\")) have no dispersion parameter (the latent scale is fixed); drop 'dispformula'",
    family$link))),
  refusal("two_part_known_dist", quote(aux && (!is.null(covariance) || rd != "normal")),
          "'ziformula', 'dispformula' and hurdle families cannot be combined with 'covariance' or 'ranef_dist'"),
  refusal("two_part_reml", quote(aux && REML && !reml_aux),
          "'REML = TRUE' with 'ziformula', 'dispformula' or a hurdle family needs family = gaussian(link = \"identity\"), no zero part and fixed effects only in 'dispformula' (REML is defined for linear mixed models)"),
  refusal("two_part_reml_start", quote(reml_aux && !is.null(start)),
          "'start' is not available for REML fits with a 'dispformula'"),
  refusal("two_random_parts_quadrature", quote(two_random_parts && quadrature && !disp_quadrature),
          "'nAGQ' > 1 (adaptive quadrature) with random effects in both 'ziformula' and 'dispformula' needs every part's random-effect terms on one grouping factor; otherwise the model is fitted by the Laplace approximation (nAGQ = 1)"),
  refusal("two_random_parts_correlated", quote(two_random_parts && zi_correlated),
          "'zi_correlated' = TRUE is not available with random effects in 'dispformula' too: the three parts' effects are independent"),
  refusal("dispformula_random_quadrature", quote(disp_random && quadrature && !disp_quadrature),
          "'nAGQ' > 1 (adaptive quadrature) with random effects in 'dispformula' needs every part's random-effect terms on one grouping factor; otherwise the model is fitted by the Laplace approximation (nAGQ = 1)"),
  refusal("two_part_structure_penalty", quote(structured_aux && !reml_aux && !is.null(penalty)),
          "'penalized' cannot be combined with covariance structures in a model with 'ziformula', 'dispformula' or a hurdle family"),
  refusal("two_part_workers", quote(aux && workers),
          "'control$workers': models with 'ziformula', 'dispformula' or a hurdle family are not fitted on workers"),
  refusal("zi_correlated_without_zi_re", quote(zi_correlated && !length(zi_bars)),
          "'zi_correlated' = TRUE needs a random-effect term in 'ziformula', such as ~ x + (1 | g)"),
  refusal("zi_family", quote(has_zi && !family$family %in% c("poisson", "nbinom2", "nbinom1", "binomial")),
          quote(sprintf("'ziformula': zero-inflation needs a count family (poisson, nbinom2, nbinom1, or truncated_poisson / truncated_nbinom2 / truncated_nbinom1 for hurdle models) or binomial, not %s",
                        family$family))),
  refusal("zi_binomial_weights", quote(has_zi && family$family == "binomial" && weights_given),
          "'weights': a zero-inflated binomial model takes the numbers of trials from cbind(successes, failures) and no prior weights"),
  refusal("dispformula_zero_family", quote(disp_zero && !identical(family$family, "gaussian")),
          quote(sprintf("'dispformula = ~ 0' removes the residual variance of a gaussian model; %s",
                        if (has_dispersion(family)) sprintf("the %s family's dispersion can be given by an offset alone, such as ~ 0 + offset(log_d)", family$family)
                        else sprintf("the %s family has no dispersion parameter: drop 'dispformula'", family$family)))),
  refusal("dispformula_family", quote(aux && has_disp && !has_dispersion(family)),
          quote(sprintf("'dispformula': the %s family has no dispersion parameter", family$family))),
  refusal("two_part_sparse_quadrature",
          quote(aux && (sparse || zi_random_sparse) && quadrature && !structured_aux_quadrature &&
                  !(two_random_parts && disp_quadrature)),
          quote(if (structured_aux) "'nAGQ' > 1 (adaptive quadrature) for covariance structures in a model with 'ziformula', 'dispformula' or a hurdle family needs every part's random-effect terms on one grouping factor; otherwise the model is fitted by the Laplace approximation (nAGQ = 1)"
                else if (zi_random_sparse) "'nAGQ' > 1 (adaptive quadrature) needs the zero part's random effects on the conditional part's single grouping factor; otherwise only the Laplace approximation (nAGQ = 1) is available"
                else "'nAGQ' > 1 (adaptive quadrature) needs a single grouping factor; with several random-effect terms only the Laplace approximation (nAGQ = 1) is available")),
  refusal("zi_correlated_sparse", quote(zi_correlated && zi_random_sparse),
          "'zi_correlated' = TRUE needs the zero part's random effects on the conditional part's single grouping factor (one term in each part); with other terms the two parts' effects are independent"),
  refusal("zi_correlated_laplace", quote(zi_correlated && identical(as.numeric(nAGQ), 1)),
          "'nAGQ': zi_correlated = TRUE needs adaptive quadrature (nAGQ > 1; the default is 7 for two random effects): the Laplace approximation of this model is unbounded, since a correlation that aligns both parts' effects with the direction in which the two-part likelihood is convex makes a cluster's curvature vanish and its approximate probability exceed one"),
  refusal("pen_zi_without_zi", quote(!is.null(penalty$zi) && !has_zi),
          "'penalized$pen_zi' penalizes the zero part's coefficients; it needs a 'ziformula'"),
  # Covariance structures and penalized fixed effects.
  refusal("ordinal_structure", quote(structured && cumulative),
          paste0("cumulative link models take no covariance-structure terms (",
                 paste0(covstruct_kinds, "()", collapse = ", "), ")")),
  refusal("structure_workers", quote(structured_route && workers),
          "'control$workers': fits with covariance-structure terms or 'penalized' are not fitted on workers"),
  # before the structures' refusal below, whose route 'penalized' shares:
  # the cause to name is the prior, not a structure
  refusal("penalized_covariance", quote(penalized && !is.null(covariance)),
          "'penalized' = TRUE is not available with a known covariance ('covariance'): the known-covariance engines fit no prior on the fixed effects; use penalized = FALSE"),
  refusal("structure_covariance", quote(structured_route && !is.null(covariance)),
          "'covariance' (a known covariance) cannot be combined with a covariance structure such as ar1() or cs()"),
  refusal("structure_ranef_dist", quote(structured_route && rd != "normal"),
          "'ranef_dist' other than \"normal\" cannot be combined with a covariance structure"),
  refusal("reml_family", quote(!aux && !cumulative && REML && !gaussian_identity), quote(sprintf(paste0(
    "'REML = TRUE' needs family = gaussian(link = \"identity\"), not %s(%s): REML is defined for ",
    "linear mixed models; glmm() does not offer the Laplace approximation over the fixed effects ",
    "that glmmTMB calls REML for other families"), family$family, family$link))),
  refusal("penalized_reml", quote(penalized && REML),
          "'REML = TRUE' cannot be combined with 'penalized' (REML integrates the fixed effects out; the prior is on them): use REML = FALSE"),
  # (REML is the exact criterion, which nAGQ does not change, as for
  # models without structures)
  # (with structures on nested grouping factors, the nested engine
  # integrates by quadrature: glmm_sparse_covstruct())
  refusal("structure_sparse_quadrature", quote(quadrature && !REML && spec_structured_sparse(s) &&
                                                 !is.null(penalty)),
          "'nAGQ' > 1 is not available with 'penalized' and several grouping factors (the sparse Laplace engine fits them, nAGQ = 1)"),
  # Workers (the sharded AGQ engine and the nested engine).
  refusal("workers_known_reml_dist", quote(!aux && !structured_route && workers &&
                                             (!is.null(covariance) || REML || rd != "normal")),
          "glmm_control(workers = ): distributed fitting covers normal random effects of one grouping factor without known covariances or REML"),
  refusal("workers_several_factors", quote(!aux && !structured_route && workers && length(gnames) &&
                                             !nested_workers && !one_column_group),
          quote(one_factor_workers_message(gnames))),
  # Cumulative link (ordinal) models.
  refusal("ordinal_workers", quote(cumulative && workers),
          "'control$workers': cumulative link models are not fitted on workers"),
  refusal("ordinal_reml_dist", quote(cumulative && (REML || rd != "normal")),
          "cumulative link models take neither 'REML' nor another 'ranef_dist'"),
  refusal("ordinal_covariance", quote(cumulative && !is.null(covariance)),
          "'covariance': known covariances are not available for cumulative link models"),
  refusal("ordinal_no_random_effect", quote(cumulative && !length(gnames)),
          "cumulative link mixed models need a random-effect term such as (1 | g); the formula has none"),
  refusal("ordinal_sparse_quadrature", quote(cumulative && length(gnames) > 1L && quadrature),
          "'nAGQ': cumulative link mixed models with several random-effect terms are fitted by the Laplace approximation only (nAGQ = 1)"),
  # REML, known covariances and non-normal random effects.
  refusal("reml_dist_known", quote(plain && REML && (rd != "normal" || (!is.null(covariance) &&
                                                                      !spec_known_gaussian_form(s)))),
          paste0("'REML = TRUE' cannot be combined with 'ranef_dist', nor with 'covariance' unless ",
                 "the model is gaussian (identity link) and every random-effect term is a random ",
                 "intercept (1 | g); a random slope beside a known covariance is fitted by ML only")),
  refusal("known_laplace_quadrature", quote(plain && quadrature && spec_known_laplace(s)),
          "'nAGQ' > 1 is not available with a known covariance: the Laplace approximation (nAGQ = 1) is used"),
  refusal("known_laplace_start", quote(plain && !is.null(start) && spec_known_laplace(s)),
          "'start' is not used for a model with a known covariance"),
  refusal("ranef_dist_several", quote(plain && rd != "normal" && sparse), quote(sprintf(
    "ranef_dist = \"%s\" needs a single random intercept on one grouping factor, e.g. (1 | g)", rd))),
  refusal("ranef_dist_nagq", quote(plain && rd != "normal" && !is.null(nAGQ)), quote(sprintf(
    "'nAGQ' does not apply with ranef_dist = \"%s\": %s; drop 'nAGQ'", rd,
    if (rd == "nonparametric") "its likelihood is a finite sum over the mass points, with no quadrature"
    else "its likelihood is integrated by its own adaptive rule, accurate to about 1e-12"))),
  refusal("ranef_dist_start", quote(plain && rd != "normal" && !is.null(start)),
          quote(sprintf("'start' is not available with ranef_dist = \"%s\"", rd))),
  refusal("bridge_family", quote(plain && rd == "bridge" && !(family$family == "binomial" &&
                                                            family$link == "logit")),
          quote(sprintf("'family': the bridge distribution needs binomial(link = \"logit\"), not %s(%s)%s",
                        family$family, family$link,
                        if (identical(family$link, "probit")) "; with the probit link the normal random intercept already gives marginal coefficients exactly beta / sqrt(1 + sigma^2)" else ""))),
  refusal("nonparametric_family", quote(plain && rd == "nonparametric" &&
                                          !family$family %in% c("binomial", "poisson")),
          quote(sprintf("'family': the nonparametric random intercept supports binomial and poisson families, not %s",
                        family$family))),
  # Refinements of the Laplace approximation (importance sampling, the
  # second-order approximation): several terms on the sparse Laplace engine.
  refusal("refinement_parts", quote(!is.null(refinement) && (aux || cumulative || structured_route || workers)),
          quote(sprintf("%s: refinements of the Laplace approximation are available for models with several random-effect terms and no %s",
                        refinement,
                        if (aux) "zero-inflation, hurdle or dispersion part" else if (cumulative) "cumulative link (ordinal) family"
                        else if (workers) "workers" else "covariance structure or penalty"))),
  refusal("refinement_quadrature", quote(!is.null(refinement) && quadrature),
          quote(sprintf("%s and nAGQ > 1 are two ways beyond the Laplace approximation: give one of them",
                        refinement))),
  # Checked once the engine is chosen (the known-covariance gaussian route
  # depends on the data; see choose_engine()).
  refusal("known_gaussian_quadrature", quote(route == "known_gaussian" && quadrature),
          "'nAGQ' does not apply to a gaussian model with a known covariance (its likelihood is exact)",
          stage = "route"),
  refusal("known_gaussian_start", quote(route == "known_gaussian" && !is.null(start)),
          "'start' is not used for a gaussian model with a known covariance (the variance ratio is searched over its whole range)",
          stage = "route"),
  refusal("nested_known", quote(route == "nested" && length(covariance) > 0L),
          "'nAGQ' > 1 is not available with a known covariance ('covariance'); use nAGQ = 1",
          stage = "route"),
  refusal("kfactor_sparse", quote(route == "sparse" &&
                                    any(vapply(covariance, inherits, TRUE, "glmmgee_kfactor"))),
          "a covariance given by its factor (kfactor()) is available only for gaussian models whose random-effect terms all have known covariances, and for binomial (logit) or Poisson (log) models with the one term (1 | id)",
          stage = "route"),
  refusal("second_order_size", quote(route == "sparse" && identical(control$laplace_order, 2L) &&
                                      nrows > second_order_max_rows),
          quote(sprintf("glmm_control(laplace_order = 2): the second-order terms visit every pair of observations at each evaluation (%d rows: %.2g pairs; at most %d rows); use glmm_control(importance_draws = ) instead",
                        nrows, as.numeric(nrows)^2, second_order_max_rows)), stage = "route"),
  refusal("refinement_route", quote(!is.null(refinement) && route != "sparse"), quote(
    if (route %in% c("agq", "lmm_ml", "lmm_reml", "lmm_sparse", "known_gaussian"))
      sprintf("%s: %s, so there is no Laplace error to correct", refinement,
              if (route == "agq") "with one grouping factor adaptive quadrature gives the likelihood exactly (use nAGQ > 1)"
              else "the likelihood of a gaussian identity-link model is exact")
    else sprintf("%s is available for several random-effect terms fitted by the Laplace approximation, not for this model (%s)",
                 refinement, engine_info(engine)$fits)),
    stage = "route")
)
names(glmm_refusals) <- vapply(glmm_refusals, `[[`, "", "id")

# The table checked on every glmm() call: per stage, its conditions in
# order as one byte-compiled expression (built when the package is built)
# giving the number of the first row that applies, or 0. Each condition is
# tested as isTRUE() tests it, written out (`.when`, a variable of the
# evaluation's environment): a closure call per row was three quarters of
# the check's time.
refusal_checks <- lapply(c(spec = "spec", route = "route"), function(stage) {
  rows <- which(vapply(glmm_refusals, `[[`, "", "stage") == stage)
  first <- Reduce(function(acc, k)
    call("if", bquote({
      .when <- .(glmm_refusals[[k]]$when)
      is.logical(.when) && length(.when) == 1L && !is.na(.when) && .when
    }), k, acc), rev(rows), 0L)
  compiler::compile(first)
})

# The first row of the table (at `stage`) that applies to the spec stops,
# with an error of class glmmgee_refusal naming the row.
check_refusals <- function(s, stage = "spec") {
  if (!s$special) return(invisible(s))
  e <- list2env(s, parent = environment(check_refusals))
  e$s <- s
  k <- eval(refusal_checks[[stage]], e)
  if (k == 0L) return(invisible(s))
  r <- glmm_refusals[[k]]
  stop(structure(class = c("glmmgee_refusal", "error", "condition"),
                 list(message = eval(r$message, e), call = NULL, id = r$id)))
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
  rd <- s$rd
  route <- if (s$aux) "two_part"
    else if (s$structured_route) {
      if (spec_structured_sparse(s)) "structured_sparse" else "structured_one"
    } else if (s$cumulative) { if (length(s$gnames) > 1L) "ordinal_sparse" else "ordinal_one" }
    else if (rd == "normal" && use_known_gaussian(s$formula, s$family, s$covariance, mf, s$REML,
                                                  s$start)) "known_gaussian"
    else if (spec_known_laplace(s)) "known_laplace"
    else if (rd != "normal") "ranef_dist"
    # Several terms: gaussian identity-link models by the profiled criterion,
    # which is exact: REML whatever nAGQ; ML unless quadrature was asked for
    # (nested quadrature then fits, and reports, what was asked).
    else if (s$sparse) {
      if (is.null(s$covariance) && !s$workers && (s$REML || is.null(s$start)) &&
          s$gaussian_identity && (s$REML || !s$quadrature)) "lmm_sparse"
      else if (s$quadrature) "nested" else "sparse"
    } else if (s$REML) "lmm_reml"
    else if (use_lmm_ml(s$family, s$REML, s$start, s$nAGQ, s$control)) "lmm_ml"
    else "agq"
  s$route <- route
  s$nrows <- nrow(mf)
  s$engine <- switch(route,
    two_part = if (s$quadrature && (s$disp_random || s$structured_aux_quadrature &&
                                    length(s$zi_bars))) "agq_zero_re"
               else if (s$structured_aux_quadrature && s$quadrature) "agq"
               else if (s$zi_random_sparse || s$disp_random) "laplace_sparse_zero_re"
               else if (length(s$zi_bars)) "agq_zero_re"
               else if (s$sparse) "laplace_sparse" else "agq",
    structured_sparse = if (s$REML || lmm_covstruct_wanted(s$family, s$penalty)) "lmm_sparse"
                        else if (s$quadrature) "agq_nested" else "laplace_sparse",
    structured_one = "agq", ordinal_sparse = "laplace_sparse", ordinal_one = "ordinal_agq",
    known_gaussian = "known_gaussian", known_laplace = "known_laplace",
    ranef_dist = "agq_ranef_dist", lmm_sparse = "lmm_sparse", nested = "agq_nested",
    sparse = "laplace_sparse", lmm_reml = , lmm_ml = "lmm_one_factor", agq = "agq")
  check_refusals(s, "route")
  # The registry has the last word on workers (the refusals above name the
  # combinations; this holds whatever route a new combination takes).
  eng <- engine_info(s$engine)
  if (s$workers && !isTRUE(eng$capabilities[["workers"]]))
    stop(capability_refusal("glmm_control(workers = )", eng, "workers"), call. = FALSE)
  invisible(s)
}

# The model frame of the spec: the variables of every part.
spec_frame <- function(s, contrasts) {
  f <- s$formula
  if (s$aux) {
    ff <- if (s$structured_aux) covstruct_frame_formula(f) else reformulas::subbars(f)
    for (g in list(if (s$has_zi) s$zi_fixed, if (s$has_disp) s$disp_fixed,
                   if (length(s$zi_bars)) reformulas::subbars(zi_bars_formula(s$zi_bars)),
                   if (s$disp_random) reformulas::subbars(zi_bars_formula(s$disp_bars))))
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
  fit <- switch(s$route,
    two_part = glmm_zi(s, mf),
    structured_sparse = glmm_sparse_covstruct(f, mf, s$family, s$control, mc, s$fenv, s$penalty,
                                              s$REML, s$start, s$nAGQ),
    ordinal_one = , ordinal_sparse = glmm_ordinal(f, mf, s$family, s$nAGQ, s$control, s$start,
                                                  s$covariance, mc, s$fenv, s$penalty),
    known_gaussian = , known_laplace = glmm_known(s, mf),
    lmm_sparse = , nested = , sparse = glmm_several(s, mf),
    glmm_one_factor(s, mf))
  # the known covariances as fitted, for the profiles and refits
  # (fit_known_covariance())
  if (length(s$covariance)) fit$covariance <- s$covariance
  check_fit_loglik(fit)
}

# A search that ends where the log-likelihood is not a number (offsets of
# +/- 1e6, each row's probability 0 or 1 at any parameters) gave a fit that
# printed logLik NaN with only the optimizer's warnings: said, and recorded.
check_fit_loglik <- function(fit) {
  ll <- .subset2(fit, "loglik")
  if (is.numeric(ll) && length(ll) == 1L && !is.finite(ll)) {
    msg <- paste("the log-likelihood at the estimates is not finite: the fit is not usable",
                 "(extreme offsets or covariates, or a model the data cannot identify?)")
    fit$optinfo$warnings <- c(.subset2(fit, "optinfo")$warnings, msg)
    warning(msg, call. = FALSE)
  }
  fit
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
  check_dots(..., .method = "print.glmmgee_spec")
  cat("glmm() model specification\n  family:    ", if (x$truncated) paste0("truncated_", x$count_family)
      else paste0(x$family$family, "(", x$family$link, ")"), "\n", sep = "")
  for (p in list(list("conditional", x$formula), if (x$has_zi) list("zero", x$ziformula),
                 if (x$has_disp) list("dispersion", x$dispformula))) {
    if (is.null(p)) next
    cat(sprintf("  %-12s %s\n", paste0(p[[1L]], ":"), paste(deparse(p[[2L]], 500L), collapse = " ")))
    bars <- if (p[[1L]] == "conditional" && x$structured) covstruct_split(p[[2L]])
            else list(bars = find_bars(p[[2L]]), kinds = rep("us", length(find_bars(p[[2L]]))))
    for (k in seq_along(bars$bars)) {
      g <- paste(deparse(bars$bars[[k]][[3L]]), collapse = "")
      cat(sprintf("    random effects %s | %s: %s\n", paste(deparse(bars$bars[[k]][[2L]]), collapse = ""),
                  g, if (!is.null(x$covariance[[g]])) "known covariance" else bars$kinds[k]))
    }
  }
  cat("  random-effect distribution: ", x$rd, "\n  criterion: ", if (x$REML) "REML" else "ML",
      if (!is.null(x$penalty)) ", penalized", "\n  nAGQ: ",
      if (is.null(x$nAGQ)) "default" else format(x$nAGQ), if (x$workers) "; on workers", "\n",
      sep = "")
  if (!is.null(x$engine)) cat("  engine: ", x$engine, " (route ", x$route, ")\n", sep = "")
  if (!is.null(x$data$frame)) cat("  data: ", nrow(x$data$frame), " rows in the model frame\n", sep = "")
  invisible(x)
}
