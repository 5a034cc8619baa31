# glmm() with covariance-structure terms (ar1(), hetar1(), cs(), homcs(),
# toep(), homtoep(), diag(), homdiag())
# or penalized fixed effects and several grouping factors: the formula
# front end of the sparse Laplace engine for them (fitter in
# fit-sparse-covstruct.R). One grouping factor stays with the one-factor
# engine (covstruct-fit.R).

# The random-effect terms of a formula with structures, in formula order,
# each with its structure kind: `/` and `||` in unstructured terms expanded
# as reformulas::findbars() does; `plain` is the formula with every term
# written as an unstructured one (the sparse engine's term layout).
covstruct_split <- function(formula) {
  sp <- reformulas::splitForm(shield_formula(formula), specials = covstruct_kinds)
  sp$fixedFormula <- unshield_formula(sp$fixedFormula)
  sp$reTrmFormulas <- lapply(sp$reTrmFormulas, unshield_exp)
  bars <- list()
  kinds <- character()
  args <- list()
  for (k in seq_along(sp$reTrmFormulas)) {
    bk <- sp$reTrmFormulas[[k]]
    ex <- find_bars(call("(", bk))
    kind <- sp$reTrmClasses[k]
    if (kind != "us" && length(ex) != 1L)
      stop(sprintf(paste0("%s(%s): a covariance structure applies to one term on one grouping ",
                          "factor; write nested or '||' terms out one by one"),
                   kind, paste(deparse(bk), collapse = "")), call. = FALSE)
    bars <- c(bars, ex)
    kinds <- c(kinds, rep(kind, length(ex)))
    args <- c(args, rep(list(as.list(sp$reTrmAddArgs[[k]])[-1L]), length(ex)))
  }
  fixed <- sp$fixedFormula
  rhs <- Reduce(function(a, b) call("+", a, call("(", b)), bars, fixed[[length(fixed)]])
  plain <- formula
  plain[[3L]] <- rhs
  list(bars = bars, kinds = kinds, args = args, plain = plain)
}

# Whether a formula with structures (or a penalized one) has more than one
# grouping factor, or nested terms: then the sparse engine fits it.
covstruct_needs_sparse <- function(formula) {
  needs_sparse_engine(covstruct_split(formula)$plain, NULL)
}

# The sparse engine's terms (sparse_re_terms()), each with its structure
# (covstruct()) and a label naming it as the formula does; `env` is where
# a structure's matrix (propto(), equalto()) is found. `empty`: as for
# sparse_re_terms().
sparse_covstruct_terms <- function(formula, mf, env = environment(formula), empty = FALSE) {
  cs <- covstruct_split(formula)
  # A grouping factor of one level is one spatial field or one pedigree when
  # every term on it has a distance structure or a given matrix.
  gn <- vapply(cs$bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
  ok_kind <- cs$kinds %in% c(covstruct_coordinate_kinds, covstruct_matrix_kinds)
  one <- which(vapply(gn, function(g) all(ok_kind[gn == g]), TRUE))
  # (a two-part model may have all its random effects in a second part)
  re <- sparse_re_terms(cs$plain, mf, NULL, one_level = one, empty = empty)
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    q <- length(tm$cnames)
    label <- structure_label(cs$kinds[k], cs$bars[[k]], cs$args[[k]])
    lhs <- stats::as.formula(call("~", cs$bars[[k]][[2L]]))
    check_structure_columns(cs$kinds[k], label, q, lhs, mf)
    sdata <- structure_data(cs$kinds[k], label, cs$args[[k]], env, tm$cnames, lhs, mf)
    re$terms[[k]] <- c(tm, list(kind = cs$kinds[k], label = label, q = q,
                                struct = covstruct(cs$kinds[k], q, sdata)))
  }
  re$plain <- cs$plain
  re
}

glmm_sparse_covstruct <- function(formula, mf, family, control, mc, fenv, penalty,
                                  REML = FALSE, start = NULL, nAGQ = NULL) {
  re <- sparse_covstruct_terms(formula, mf, fenv)
  d <- several_term_checks(formula, mf, fenv, family, re, fixed = re$plain)
  X <- d$X
  if (!is.null(penalty)) check_prior_length(penalty, ncol(X), "penalized")
  resp <- d$resp
  off <- d$offset
  extra_warn <- d$extra_warn
  sep <- penalized_separation(d$sep, penalty)
  # Gaussian identity link: the exact profiled criterion (ML or REML).
  # A covariance fixed in y's units (equalto()) cannot be written relative
  # to sigma, as the profiled criterion needs: such fits go to the two-part
  # route (glmm_spec(), reml-dispersion.R), penalized ones (not equivariant
  # in y) to the Laplace route here (exact for the gaussian family).
  fixed_cov <- has_fixed_covariance(re$terms)
  profiled <- !fixed_cov && (REML || lmm_covstruct_wanted(family, penalty))
  # nAGQ > 1 (adaptive quadrature on nested grouping factors,
  # fit-nested-covstruct.R); not on the profiled criterion (REML), which
  # is exact.
  nAGQ <- if (!profiled && !is.null(nAGQ) && nAGQ > 1) check_nAGQ(nAGQ, 1L) else 1L
  if (nAGQ > 1L) {
    # (on the user's columns, before any rescaling, so that a refusal
    # names what the user gave)
    ns <- nested_quadrature_check(re, nAGQ, control)
    nested_refuse_far_slope(re, ns, nested_leaf_design(re, ns))
  }
  # The Laplace route's search is not invariant to the response's units:
  # with y in micro-units (y * 1e6) it stopped 1.4 below the optimum with
  # only a convergence warning. The profiled criterion in parameters
  # relative to sigma does not depend on the units; where the Laplace route
  # ended with any warning (not converged, or a Hessian that is not
  # negative definite: with y * 1e6 and ar1() + (1 | g) it stopped 8.9
  # below the optimum with only the latter), that one is fitted too and the
  # higher log-likelihood kept.
  # (`start`, in the user's units, mapped to rescaled columns by `zs`)
  fit_on <- function(re_x, zs = NULL) {
    st <- covstruct_scaled_start(start, zs, re_x$terms, ncol(X))
    fit <- if (profiled) lmm_sparse_covstruct_fit(X, resp$y, re_x, resp$weights, off, REML, control,
                                                  start = st)
           else sparse_covstruct_fit(X, resp$y, re_x, family, resp$weights, off, control, penalty,
                                     start = st, nAGQ = nAGQ)
    if (!profiled && !fixed_cov && identical(family$family, "gaussian") &&
        identical(family$link, "identity") && is.null(penalty) && length(fit$optinfo$warnings) > 0L) {
      alt <- tryCatch(lmm_sparse_covstruct_fit(X, resp$y, re_x, resp$weights, off, FALSE, control,
                                               start = st),
                      error = function(e) NULL)
      if (!is.null(alt) && is.finite(alt$loglik) && alt$loglik > fit$loglik) fit <- alt
    }
    fit
  }
  # A structured term in units far from 1 is fitted on its columns
  # rescaled, an unstructured term with a random slope far from zero on its
  # centred design, and both are mapped back (covstruct-scale-z.R).
  # A two-column cs() with a column far from zero is searched as the
  # unstructured term it is, so that it is centred too (covstruct-cs-two-columns.R).
  # A `start` is in the user's terms' parameters: with one, neither map
  # (the fit on the user's design is what either falls back to).
  # (Quadrature integrates on the user's columns: its value changes
  # under a centring of them, so neither centring map applies; the nested
  # engine refuses slopes far from zero, nested_refuse_far_slope(). A
  # rescaling of columns leaves Z Lambda, and the value, as they are.)
  re_user <- re
  cs_pair <- if (nAGQ == 1L) cs_pair_far_terms(re, resp$weights > 0) else integer()
  if (length(cs_pair) && !is.null(start)) {
    extra_warn <- c(extra_warn, cs_pair_far_warning(re, cs_pair))
    cs_pair <- integer()
  }
  if (length(cs_pair)) re <- cs_pair_as_us(re, cs_pair)
  zs <- covstruct_z_scaling(re, resp$weights > 0, plain = !profiled)
  re_fit <- zs$re %||% re
  zc <- if (is.null(start) && nAGQ == 1L) lmm_sparse_centring(re_fit, resp$weights > 0)
  fit <- NULL
  if (!is.null(zc)) {
    fit <- fit_on(zc$re)
    # Mapped only when interior in the centred terms (the boundary's faces
    # move under the map); otherwise the fit on the user's design.
    # A two-column cs() term (searched unstructured) is mapped on the
    # boundary too: its D is then of rank 1 in either basis, which
    # cs_pair_back_boundary() reads off (covstruct-cs-two-columns.R).
    ct <- vapply(zc$terms, `[[`, 1L, "term")
    is <- ncol(X) + unlist(structure_blocks(re$terms)[setdiff(ct, cs_pair)])
    fit <- if (fit$optinfo$convergence == 0L && !any(fit$on_boundary[is]))
      tryCatch(covstruct_uncentre_z(fit, zc, re_fit), error = function(e) NULL)
  }
  fit <- fit %||% fit_on(re_fit, zs)
  if (!is.null(zs)) fit <- covstruct_unscale_z(fit, zs, re)
  if (length(cs_pair)) {
    # Mapped to cs()'s parameters when interior; otherwise cs() on the
    # user's design, with a warning that it may have stopped short.
    fit <- cs_pair_back(fit, cs_pair, re_user)
    re <- re_user
    if (is.null(fit)) {
      zs <- covstruct_z_scaling(re, resp$weights > 0, plain = !profiled)
      fit <- fit_on(zs$re %||% re)
      if (!is.null(zs)) fit <- covstruct_unscale_z(fit, zs, re)
      extra_warn <- c(extra_warn, cs_pair_far_warning(re, cs_pair))
    }
  }
  obj <- new_glmm_sparse(fit, X = X, y = resp$y, weights = resp$weights, offset = off,
                         re = re, mf = mf, mt = d$mt, call = mc, formula = re$plain)
  # The call and formula as the user wrote them; the terms' layout (for
  # predict(re.form =) and ranef()) from the unstructured form.
  obj$formula <- formula
  if (REML) {
    obj$REML <- TRUE
    obj$loglik_ml <- fit$loglik_ml
  }
  if (nAGQ > 1L) obj$nAGQ <- nAGQ
  obj <- covstruct_object(obj, fit)
  unid <- residual_unidentified(re, family, resp$weights, obj$structures)
  if (!is.null(unid)) obj <- mark_residual_unidentified(obj, unid)
  if (is.null(unid) && !fixed_cov && identical(family$family, "gaussian") &&
      identical(family$link, "identity")) {
    # ML or REML with no curvature in log(sigma) (covstruct_sigma_null()),
    # or REML's criterion at that limit, which keeps its fixed effects'
    # covariance (sigma^2 (X' V^-1 X)^-1 at the estimates) and had none for
    # the variance parameters.
    sn <- covstruct_sigma_null(obj, X, re, resp$weights)
    if (!is.null(sn) || REML && covstruct_sigma_limit_reml(obj, resp$y, resp$weights)) {
      if (!is.null(sn)) obj <- covstruct_apply_sigma_null(obj, sn)
      # The variance parameters' covariance with log(sigma) held at its
      # estimate and the boundary ones left out (covstruct_sigma_fixed_cov()),
      # NULL where it fails.
      free <- !fit$on_boundary
      free[length(free)] <- FALSE
      sf <- tryCatch(covstruct_sigma_fixed_cov(obj, X, re, resp$y, off, free), error = function(e) NULL)
      if (!is.null(sf)) obj <- covstruct_apply_sigma_fixed(obj, sf, re)
      if (is.null(sn) && !is.null(sf)) obj <- covstruct_sigma_unidentified(obj)
      if (!is.null(sn) || !is.null(sf)) {
        obj <- covstruct_sigma_zero(obj, control)
        extra_warn <- c(extra_warn, paste0(covstruct_sigma_zero_lead(obj, re, resp$weights, resp$y),
                                           if (!is.null(sn)) covstruct_sigma_null_se(sf)
                                           else covstruct_sigma_null_se_reml))
      }
    }
  }
  finish_glmm(obj, sep, c(extra_warn, unid))
}
