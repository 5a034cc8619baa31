# glmm() with a zero-inflation formula, a hurdle (two-part) family or a
# dispersion formula: builds the three designs and fits them with
# glmm_zi_fit() (fit-glmm-zi.R). Names and parameterizations follow
# glmmTMB: `ziformula` (logit of the structural-zero probability, or of
# the zero probability in a hurdle model), `dispformula` (log of sigma for
# gaussian, of theta for nbinom2, of the shape for Gamma), and the
# truncated_poisson() / truncated_nbinom2() / truncated_nbinom1() families
# for hurdle models.

#' Zero-truncated count families for hurdle models
#'
#' Family objects that mark a count model as zero-truncated. With a
#' `ziformula` in [glmm()] they give the hurdle (two-part) model of
#' glmmTMB's families of the same names (Mullahy 1986): zeros occur with
#' probability \eqn{\pi} (logit-linear in the `ziformula` covariates), and
#' the positive counts follow the zero-truncated Poisson, NB2 or NB1
#' distribution with mean parameter \eqn{\mu} (log-linear in the fixed and
#' random effects):
#' \eqn{P(y = 0) = \pi}, \eqn{P(y) = (1-\pi) f(y;\mu) / (1 - f(0;\mu))} for
#' \eqn{y > 0}. Without a `ziformula` the model is zero-truncated (no zeros
#' allowed in the response).
#'
#' The dispersion is that of the untruncated family, as in glmmTMB: theta
#' of [nbinom2()] (variance \eqn{\mu + \mu^2/\theta}) or phi of
#' [nbinom1()] (variance \eqn{\mu(1 + \phi)}, zero probability
#' \eqn{(1 + \phi)^{-\mu/\phi}}), its log modelled by `dispformula`.
#' `predict(type = "conditional")` is the mean of the zero-truncated part,
#' \eqn{\mu / (1 - f(0;\mu))}; `type = "response"` multiplies it by
#' \eqn{1 - \pi}.
#'
#' Counts with mostly 1s can drive the truncated negative binomial to its
#' log-series limit, where the positive counts follow a logarithmic
#' distribution and the count part's parameters are not identified
#' separately: for truncated_nbinom2 \eqn{\mu} and \eqn{\theta} run to 0
#' together, for truncated_nbinom1 \eqn{\mu} runs to 0 at a finite
#' \eqn{\phi}. The fit then warns and records
#' `$optinfo$logseries_limit`. Equidispersed positive counts drive the
#' dispersion to its Poisson limit instead (\eqn{\theta \to \infty},
#' \eqn{\phi \to 0}), and the fit is the truncated_poisson one; with a
#' `dispformula`, possibly in some rows only (one level of a factor): the
#' fit names the `dispformula` coefficients that diverge, records
#' `$optinfo$dispersion_limit`, and gives them no standard errors, while the
#' other parameters keep theirs with the divergent directions held fixed.
#'
#' @param link The link of the count part; only `"log"`.
#' @return An object of class `"family"` with `family` set to
#'   `"truncated_poisson"`, `"truncated_nbinom2"` or `"truncated_nbinom1"`.
#' @references Mullahy, J. (1986). Specification and testing of some
#'   modified count data models. *Journal of Econometrics* 33, 341-365.
#' @examples
#' if (requireNamespace("glmmTMB", quietly = TRUE)) {
#'   data(Salamanders, package = "glmmTMB")
#'   fit <- glmm(count ~ mined + (1 | site), data = Salamanders,
#'               ziformula = ~ mined, family = truncated_poisson, nAGQ = 1)
#'   print(fit)
#'   # NB1 counts (variance mu (1 + phi)) in the positive part: phi is
#'   # sigma(); the mean of the positive counts and of all counts by row.
#'   fit1 <- glmm(count ~ spp + mined + (1 | site), data = Salamanders,
#'                ziformula = ~ mined, family = truncated_nbinom1, nAGQ = 1)
#'   print(sigma(fit1))
#'   head(cbind(positive = predict(fit1, type = "conditional"),
#'              mean = predict(fit1, type = "response")))
#' }
#' @export
truncated_poisson <- function(link = "log") truncated_family("poisson", link)

#' @rdname truncated_poisson
#' @export
truncated_nbinom2 <- function(link = "log") truncated_family("nbinom2", link)

#' @rdname truncated_poisson
#' @export
truncated_nbinom1 <- function(link = "log") truncated_family("nbinom1", link)

truncated_family <- function(inner, link) {
  if (!identical(link, "log"))
    stop(sprintf("'link': truncated_%s supports only the \"log\" link", inner), call. = FALSE)
  lk <- stats::make.link("log")
  structure(list(family = paste0("truncated_", inner), link = "log", linkfun = lk$linkfun,
                 linkinv = lk$linkinv, mu.eta = lk$mu.eta, valideta = lk$valideta,
                 count_family = inner),
            class = "family")
}

# A cumulative link model has no zero-inflation (its response is a
# category, not a count with extra zeros) and no dispersion parameter (its
# latent scale is fixed by the thresholds): said so, rather than the family
# table's "cumulative with link logit is not supported".
refuse_ordinal_aux <- function(family, ziformula, dispformula) {
  fam <- as_cumulative(family)
  if (is.null(fam)) return(invisible())
  if (!is_empty_part(ziformula, "ziformula"))
    stop(sprintf("'ziformula': zero-inflation is not defined for ordinal responses (cumulative(\"%s\")): the response is a category, not a count with extra zeros; drop 'ziformula'",
                 fam$link), call. = FALSE)
  stop(sprintf("'dispformula': cumulative link models (cumulative(\"%s\")) have no dispersion parameter (the latent scale is fixed); drop 'dispformula'",
               fam$link), call. = FALSE)
}

# TRUE when glmm() must route to the auxiliary-predictor fit.
wants_aux_parts <- function(ziformula, dispformula, family, env) {
  !is.null(truncated_count_family(family)) ||
    !is_empty_part(ziformula, "ziformula") || !is_trivial_disp(dispformula)
}

# Structured covariance terms have their own route, which has no zero or
# dispersion part: refused with the reason, instead of the model frame's
# "could not find function \"ar1\"". Unstructured terms, `(x || g)` (what
# diag() gives) included, are fitted there.
check_no_covstruct_aux <- function(formula, ziformula, dispformula, family) {
  parts <- list(formula = formula, ziformula = ziformula, dispformula = dispformula)
  kinds <- covstruct_kinds
  hit <- names(parts)[vapply(parts, function(f)
    inherits(f, "formula") && any(kinds %in% all.names(f)) &&
      isTRUE(tryCatch(reformulas::anySpecial(f, kinds), error = function(e) FALSE)), TRUE)]
  if (!length(hit)) return(invisible())
  use <- "use unstructured terms, such as (time + 0 | g), (x || g) or (1 | g)"
  if (hit[1] != "formula")
    stop(sprintf("'%s': covariance structures (ar1(), cs(), homcs(), diag(), homdiag(), us()) are not available there; %s",
                 hit[1], use), call. = FALSE)
  with <- c(if (!is.null(truncated_count_family(family))) "a hurdle family",
            if (!is_empty_part(ziformula, "ziformula")) "'ziformula'",
            if (!is_trivial_disp(dispformula)) "'dispformula'")
  stop(sprintf(paste0("'formula': covariance structures (ar1(), cs(), homcs(), diag(), homdiag(), us()) cannot be ",
                      "combined with %s; %s"), paste(with, collapse = " or "), use), call. = FALSE)
}

# "poisson", "nbinom2" or "nbinom1" for a zero-truncated family given by name, function
# or object (ours, or glmmTMB's of the same name); NULL otherwise.
truncated_count_family <- function(family) {
  nm <- if (is.character(family) && length(family) == 1L) family
        else if (is.function(family)) tryCatch(family()$family, error = function(e) NULL)
        else if (inherits(family, "family")) family$family
  if (is.null(nm) || !nm %in% c("truncated_poisson", "truncated_nbinom2", "truncated_nbinom1"))
    return(NULL)
  sub("^truncated_", "", nm)
}

is_empty_part <- function(f, arg) {
  if (is.null(f)) return(TRUE)
  if (!inherits(f, "formula") || length(f) != 2L)
    stop(sprintf("'%s' must be a one-sided formula such as ~ x", arg), call. = FALSE)
  tt <- stats::terms(f)
  empty <- !length(attr(tt, "term.labels")) && attr(tt, "intercept") == 0L
  # A part with an offset and no coefficient would be a known zero
  # probability or dispersion: refused rather than dropped with the part.
  if (empty && !is.null(attr(tt, "offset")))
    stop(sprintf("'%s': an offset() term needs an intercept or another term beside it (a part with no coefficient, such as ~ 0 + offset(o), is not available)",
                 arg), call. = FALSE)
  empty
}

is_trivial_disp <- function(f) {
  if (is_empty_part(f, "dispformula")) return(TRUE)
  tt <- stats::terms(f)
  !length(attr(tt, "term.labels")) && is.null(attr(tt, "offset"))
}

glmm_zi <- function(mc, formula, ziformula, dispformula, family, nAGQ, control, env,
                    zi_correlated = FALSE, start = NULL, penalty = NULL, contrasts = NULL) {
  cf <- truncated_count_family(family)
  if (!is.null(cf)) {
    family <- truncated_family(cf, "log")
    truncated <- TRUE
    inner <- resolve_family(switch(cf, poisson = stats::poisson(), nbinom2 = nbinom2(),
                                  nbinom1 = nbinom1()))
  } else {
    truncated <- FALSE
    inner <- resolve_family(family, env)
  }
  if (!inherits(formula, "formula") || length(formula) != 3L)
    stop("'formula' must be a two-sided formula such as y ~ x + (1 | g)", call. = FALSE)
  if (!inherits(control, "glmmgee_glmm_control"))
    stop("'control' must come from glmm_control()", call. = FALSE)
  has_zi <- !is_empty_part(ziformula, "ziformula")
  has_disp <- !is_trivial_disp(dispformula)
  # Random effects in the zero part (glmm-zire.R): its bar terms are set
  # aside here and the fixed part goes on as an ordinary ziformula.
  zi_bars <- if (has_zi) find_bars(ziformula)
  check_zi_correlated(zi_correlated, length(zi_bars) > 0L)
  zi_full <- ziformula
  if (length(zi_bars)) ziformula <- zi_fixed_formula(ziformula)
  for (part in list(list(ziformula, "ziformula"), list(dispformula, "dispformula"))) {
    f <- part[[1L]]
    if (is.null(f)) next
    if (length(find_bars(f)))
      stop(sprintf("'%s': random effects in the %s model are not supported (only fixed effects)",
                   part[[2L]], if (part[[2L]] == "ziformula") "zero-inflation" else "dispersion"),
           call. = FALSE)
  }
  if (has_zi && !(inner$family %in% c("poisson", "nbinom2", "nbinom1", "binomial")))
    stop(sprintf("'ziformula': zero-inflation needs a count family (poisson, nbinom2, nbinom1, or truncated_poisson / truncated_nbinom2 / truncated_nbinom1 for hurdle models) or binomial, not %s",
                 inner$family), call. = FALSE)
  if (has_zi && inner$family == "binomial" && !is.null(mc$weights))
    stop("'weights': a zero-inflated binomial model takes the numbers of trials from cbind(successes, failures) and no prior weights",
         call. = FALSE)
  if (has_disp && !has_dispersion(inner))
    stop(sprintf("'dispformula': the %s family has no dispersion parameter", inner$family),
         call. = FALSE)
  sparse <- needs_sparse_engine(formula, NULL)
  # Zero-part random effects beyond the conditional part's single grouping
  # factor: the two-part sparse Laplace engine (fit-sparse-zi-random.R).
  zire_sparse <- length(zi_bars) > 0L && zire_needs_sparse(formula, zi_bars, sparse)
  if (zire_sparse) sparse <- TRUE
  if (sparse && !is.null(nAGQ) && !identical(as.numeric(nAGQ), 1))
    stop(if (zire_sparse) "'nAGQ' > 1 (adaptive quadrature) needs the zero part's random effects on the conditional part's single grouping factor; otherwise only the Laplace approximation (nAGQ = 1) is available"
         else "'nAGQ' > 1 (adaptive quadrature) needs a single grouping factor; with several random-effect terms only the Laplace approximation (nAGQ = 1) is available",
         call. = FALSE)
  kind <- if (truncated) "hurdle" else if (has_zi) "zi" else "disp"
  if (length(zi_bars)) check_zire_model(formula, zi_bars, inner, zire_sparse, zi_correlated)

  fenv <- environment(formula) %||% env
  ff <- reformulas::subbars(formula)
  for (f in list(if (has_zi) ziformula, if (has_disp) dispformula,
                 if (length(zi_bars)) reformulas::subbars(zi_bars_formula(zi_bars))))
    if (!is.null(f)) ff[[3L]] <- call("+", ff[[3L]], f[[2L]])
  environment(ff) <- fenv
  mf <- frame_from_call(mc, ff, env, extras = c("weights", "offset"), contrasts,
                        formulas = list(formula = formula, ziformula = zi_full,
                                        dispformula = dispformula))
  re <- if (sparse) sparse_re_terms(formula, mf, NULL) else re_terms(formula, mf, fenv)
  fx <- fixed_design(formula, mf, fenv, drop_rownames = !sparse)
  X <- fx$X
  # Each part's offset from its own offset() terms (the frame holds all
  # three parts' variables, so model.offset() would add them up); the
  # 'offset' argument belongs to the conditional part only, as in glmmTMB
  # (part_offset()).
  part_design <- function(f, arg) {
    if (is.null(f)) return(NULL)
    tt <- stats::terms(f)
    environment(tt) <- fenv
    M <- stats::model.matrix(tt, mf, contrasts.arg = frame_contrasts(mf, tt))
    rownames(M) <- NULL
    # The model frame's predvars, so that predict(newdata =) rebuilds
    # ns(), poly() or scale() columns with the fitting data's basis; the
    # part's offset() terms are in these terms too, for newdata.
    list(X = M, terms = with_predvars(stats::delete.response(tt), mf),
         xlevels = stats::.getXlevels(tt, mf),
         contrasts = attr(M, "contrasts"), offset = part_offset(tt, mf, arg))
  }
  zd <- if (has_zi) part_design(ziformula, "ziformula")
  dd <- if (has_disp) part_design(dispformula, "dispformula")
  # The conditional part's infinite values are named as on every route
  # (check_frame_finite()); the zero and dispersion parts' offsets were
  # checked above, naming their argument.
  check_frame_finite(mf)
  off_c <- part_offset(fx$mt, mf, "formula", with_argument = TRUE) %||% rep(0, nrow(mf))
  rc <- checked_response(mf, X, inner, formula, offset = off_c)
  y <- rc$resp$y
  if (has_disp) check_disp_levels(y, rc$resp$weights, X, re, dd$X, mf, dispformula, inner)
  if (truncated && !has_zi && any(y[rc$resp$weights > 0] == 0))
    stop(sprintf("'family': %s without a 'ziformula' is zero-truncated, but the response has zeros; give a ziformula for a hurdle model",
                 family$family), call. = FALSE)
  offz <- if (truncated && !has_zi) rep(-Inf, length(y)) else zd$offset
  offd <- dd$offset
  zre <- if (length(zi_bars) && !zire_sparse) zire_terms(zi_bars, mf, fenv, re, find_bars(formula))
  rz <- if (zire_sparse) sparse_re_terms(zi_bars_formula(zi_bars), mf, NULL)
  fit <- if (zire_sparse) {
    glmm_sparse_zire_fit(X, y, re, rz, inner, kind, zd$X, dd$X, rc$resp$weights, rc$offset,
                         control, start, penalty, offz = offz, offd = offd)
  } else if (!is.null(zre)) {
    # glmmTMB's model (independent parts) by Laplace as glmmTMB; the
    # correlated one (GLMMadaptive's) needs quadrature (glmm_zire_fit()).
    if (is.null(nAGQ))
      nAGQ <- if (zi_correlated) max(3L, default_nAGQ(ncol(re$Z) + ncol(zre$Z), inner)) else 1L
    glmm_zire_fit(X, y, re$Z, zre$Z, re$group, inner, kind, Xz = zd$X, Xd = dd$X,
                  weights = rc$resp$weights, offset = rc$offset, offz = offz, offd = offd,
                  nAGQ = nAGQ, cov_blocks_c = re$block_sizes, cov_blocks_z = zre$block_sizes,
                  correlated = zi_correlated, control = control, start = start,
                  penalty = penalty)
  } else if (sparse) {
    glmm_sparse_zi_fit(X, y, re, inner, kind, zd$X, dd$X, rc$resp$weights, rc$offset, offz,
                       control, start, penalty, offd = offd)
  } else {
    if (is.null(nAGQ)) nAGQ <- default_nAGQ(ncol(re$Z), inner)
    glmm_zi_fit(X, y, re$Z, re$group, inner, kind, Xz = zd$X, Xd = dd$X,
                weights = rc$resp$weights, offset = rc$offset, offz = offz, offd = offd,
                nAGQ = nAGQ, cov_blocks = re$block_sizes, control = control, start = start,
                penalty = penalty)
  }
  fit$family <- inner
  fit$sigma <- 1
  fit$dispersion <- has_dispersion(inner)
  if (fit$dispersion && !has_disp) {
    phi <- fit$disp[[1L]]
    fit$sigma <- sigma_of(inner, phi)
    fit$family <- fitted_family(inner, phi)
  }
  obj <- if (sparse) {
    new_glmm_sparse(fit, X = X, y = y, weights = rc$resp$weights, offset = rc$offset, re = re,
                    mf = mf, mt = fx$mt, call = mc, formula = formula)
  } else if (!is.null(zre)) {
    zire_object(fit, X = X, y = y, weights = rc$resp$weights, offset = rc$offset, re = re,
                zre = zre, mf = mf, mt = fx$mt, call = mc, formula = formula)
  } else {
    new_glmm(fit, X = X, Z = re$Z, y = y, weights = rc$resp$weights, offset = rc$offset,
             re = re, mf = mf, mt = fx$mt, call = mc, formula = formula)
  }
  obj$vcov <- fit$cov_theta[seq_len(fit$p), seq_len(fit$p), drop = FALSE]
  obj$aux <- list(kind = kind, truncated = truncated, family_name = family_label(family, inner, kind),
                  zi = if (has_zi) c(zd, list(formula = ziformula, coef = fit$zi)),
                  disp = if (fit$dispersion) c(dd %||% list(X = NULL), list(formula = dispformula %||% ~1,
                                                                     coef = fit$disp)),
                  zi_index = if (has_zi) fit$p + length(fit$lambda) + seq_along(fit$zi),
                  sparse = sparse,
                  disp_index = if (fit$dispersion)
                    fit$p + length(fit$lambda) + length(fit$zi) + seq_along(fit$disp))
  if (!is.null(zre)) {
    obj$aux$zi$re <- obj$zire
    obj$aux$zi$formula <- zi_full
  }
  if (zire_sparse) {
    obj$aux$zi$re <- zire_sparse_part(fit, rz)
    obj$aux$zi$formula <- zi_full
  }
  obj$zire <- NULL
  obj$penalty <- fit$penalty
  class(obj) <- c(if (zire_sparse) "glmmgee_glmm_zire_sparse",
                  if (!is.null(zre)) "glmmgee_glmm_zire", "glmmgee_glmm_zi", class(obj))
  # Stored, so that code reading fit$fitted.values (augment(), the
  # performance checks) sees the mean of y, not the count part's mean.
  # X is in hand: lent to the object (with model.matrix()'s row names)
  # while predict() runs, so that the fitted values do not rebuild it from
  # the model frame (4% of a Salamanders ZIP fit).
  lend_x <- is.null(.subset2(obj, "X")) && !is.null(.subset2(obj, "model"))
  if (lend_x) {
    obj[["X"]] <- X
    rownames(obj[["X"]]) <- row.names(mf)
  }
  # Unpadded, like every fit's fitted.values (fitted() pads for na.exclude).
  na <- obj$na.action
  obj["na.action"] <- list(NULL)
  obj$fitted.values <- stats::predict(obj, type = "response")
  obj["na.action"] <- list(na)
  if (lend_x) obj[["X"]] <- NULL
  sep <- penalized_separation(separation_record(X, y, rc$resp$weights, inner, "glmm"), penalty)
  # Separation in the zero part (zero_part_separation(), separation.R).
  if (has_zi) {
    obj$aux$zi$separation <- zero_part_separation(zd$X, y, rc$resp$weights, kind, penalty)
    zsep <- obj$aux$zi$separation$message
  }
  # Two terms of a part with the same design (check_confounded_terms(),
  # re-terms-sparse.R), as on the several-term routes without a zero part.
  conf <- c(if (sparse) check_confounded_terms(re),
            if (zire_sparse) sub("^the random-effect terms", "the zero part's random-effect terms",
                                 check_confounded_terms(rz)))
  finish_glmm(obj, sep, c(if (has_zi) zsep, conf))
}

family_label <- function(family, inner, kind) {
  f <- if (inherits(family, "family")) family$family else inner$family
  switch(kind, zi = paste("zero-inflated", inner$family), hurdle = if (grepl("^truncated_", f))
    f else paste("hurdle", inner$family), disp = inner$family)
}

# The engines' code of the auxiliary model (src/families-aux.h): a
# zero-inflated binomial evaluates its inner family at the number of trials
# (f_c(0) = (1 - p)^n), the count families at unit weight.
aux_kind_code <- function(kind, family) {
  if (kind == "zi" && identical(family$family, "binomial")) return(3L)
  c(disp = 0L, zi = 1L, hurdle = 2L)[[kind]]
}

# The conditional part's start for a zero-inflated binomial: the binomial
# GLM of the rows with a success (the structural zeros have none); it
# overstates the success probability by the zero-inflation only.
zi_binomial_start <- function(X, y, weights, offset, family) {
  pos <- y > 0 & weights > 0
  if (sum(pos) <= ncol(X)) pos <- weights > 0
  b <- start_glm(X[pos, , drop = FALSE], y[pos], weights[pos], offset[pos], family)$coefficients
  b <- unname(b)
  b[!is.finite(b) | abs(b) > 10] <- 0
  b
}

# The offset of one part of the model: the sum of the offset() terms of its
# terms object `tt`, read from the model frame `mf` (which holds the
# variables of all parts), in model.offset()'s order; with_argument adds
# the 'offset' argument's column first, as model.offset() does. NULL when
# there is none. Each term is checked here, so that an error names the
# argument whose offset is at fault.
part_offset <- function(tt, mf, arg, with_argument = FALSE) {
  off <- if (with_argument) mf[["(offset)"]]
  if (!is.null(off)) off <- checked_offset(off, "the 'offset' argument", "offset", nrow(mf))
  io <- attr(tt, "offset")
  if (!length(io)) return(off)
  key <- function(v) vapply(as.list(v)[-1L], function(e) paste(deparse(e, 500L), collapse = ""), "")
  vars <- key(attr(tt, "variables"))
  at <- match(vars[io], key(attr(attr(mf, "terms"), "variables")))
  for (k in seq_along(io)) {
    if (is.na(at[k]))
      stop(sprintf("'%s': the offset term %s is not in the model frame", arg, vars[io[k]]),
           call. = FALSE)
    v <- checked_offset(mf[[at[k]]], vars[io[k]], arg, nrow(mf))
    off <- if (is.null(off)) v else off + v
  }
  off
}

checked_offset <- function(v, what, arg, n) {
  if (!is.numeric(v) || is.matrix(v) && ncol(v) != 1L)
    stop(sprintf("'%s': %s must be a numeric vector, not %s", arg, what,
                 if (is.matrix(v)) sprintf("a matrix of %d columns", ncol(v))
                 else paste0("of class \"", class(v)[1L], "\"")), call. = FALSE)
  v <- as.numeric(v)
  if (length(v) != n)
    stop(sprintf("'%s': %s has %d values for %d observations", arg, what, length(v), n),
         call. = FALSE)
  if (!all(is.finite(v)))
    stop(sprintf("'%s': %s contains NA, NaN or infinite values", arg, what), call. = FALSE)
  v
}
