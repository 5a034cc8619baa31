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
  # A dispersion part with an offset and no coefficient is a known
  # dispersion per row (~ 0 + offset(log(d))); a zero part so would be a
  # known zero probability: refused rather than dropped with the part.
  if (empty && !is.null(attr(tt, "offset")) && arg == "dispformula") return(FALSE)
  if (empty && !is.null(attr(tt, "offset")))
    stop(sprintf("'%s': an offset() term needs an intercept or another term beside it (a part with no coefficient, such as ~ 0 + offset(o), is not available)",
                 arg), call. = FALSE)
  empty
}

#' A dispersion known rather than estimated
#'
#' A dispersion formula of an offset alone, `dispformula = ~ 0 +
#' offset(log_d)`, gives each row its dispersion on the log scale
#' (\eqn{\log\sigma} for gaussian, \eqn{\log\theta} for `nbinom2()`,
#' the log shape for Gamma, \eqn{\log\phi} for the others): nothing of
#' it is estimated, as glmmTMB does by mapping its dispersion parameters.
#' Known residual standard deviations of a gaussian model, or a negative
#' binomial's \eqn{\theta} held at a value from elsewhere, are given so.
#'
#' `dispformula = ~ 0` removes a gaussian model's residual variance, as in
#' glmmTMB: the random effects carry all the variation, as in a
#' phylogenetic generalized least squares fit, `y ~ x + propto(0 + sp |
#' dummy, K)` with one observation per species (glmmTMB's own test of
#' `propto()`, on ade4's lizards, gives `nlme::gls()`'s estimates with the
#' correlation `K` held fixed). The residual standard deviation is held at
#' \eqn{10^{-4}} of the response's (glmmTMB holds it at \eqn{1.2 \times
#' 10^{-4}} in the units of y), so that the fit does not depend on y's
#' units; `sigma()` reports it. The model is then the one without residual
#' to about \eqn{10^{-8}} of y's variance relative to the smallest
#' variance of the random effects' covariance: a nearly singular `K`
#' (species a hair apart) moves the estimates most, by about
#' \eqn{2 \times 10^{-6}} relative on the lizards. The random effects
#' must span every observation (their design times their covariance's
#' factor of full row rank: a known covariance of full rank over the rows,
#' a term with one observation per level, a structure over one row per
#' time point; not a reduced-rank `rr()` term or a known matrix of
#' lower rank); otherwise `~ 0` is refused. Other families
#' refuse `~ 0`: their dispersion is given by an offset.
#'
#' [print()] and [summary()] name the formula; [sigma()] gives the
#' dispersion where it is the same in every row used.
#' @examples
#' set.seed(1)
#' d <- data.frame(g = rep(1:30, each = 5), x = rnorm(150))
#' d$y <- 1 + d$x + rnorm(30)[d$g] + rnorm(150, sd = 0.5)
#' # the residual standard deviation known to be 0.5
#' d$log_sd <- log(0.5)
#' fit <- glmm(y ~ x + (1 | g), data = d, dispformula = ~ 0 + offset(log_sd))
#' fit
#' sigma(fit)
#' # a negative binomial's theta held at 2
#' d$n <- rnbinom(150, mu = exp(1 + 0.3 * d$x), size = 2)
#' d$log_theta <- log(2)
#' glmm(n ~ x + (1 | g), data = d, family = nbinom2(), dispformula = ~ 0 + offset(log_theta))
#' @name glmm-known-dispersion
NULL

# A dispersion formula that asks for nothing beyond one dispersion. `~ 0`
# is not that: it removes the gaussian residual variance (is_zero_disp()).
is_trivial_disp <- function(f) {
  if (is_zero_disp(f)) return(FALSE)
  if (is_empty_part(f, "dispformula")) return(TRUE)
  tt <- stats::terms(f)
  !length(attr(tt, "term.labels")) && is.null(attr(tt, "offset"))
}

# `dispformula = ~ 0`: no residual variance, as in glmmTMB (a phylogenetic
# GLS, propto() with dispformula = ~ 0), the gaussian standard deviation
# held at a small value (zero_disp_log_sd()). Read as ~ 1, it had given a
# residual variance where none was asked for.
is_zero_disp <- function(f) {
  if (!inherits(f, "formula") || length(f) != 2L) return(FALSE)
  tt <- stats::terms(f)
  !length(attr(tt, "term.labels")) && attr(tt, "intercept") == 0L && is.null(attr(tt, "offset"))
}

# The log standard deviation at which `dispformula = ~ 0` holds a gaussian
# model's residual: 1e-4 of the response's standard deviation (over the
# rows of positive weight), so that the fit does not depend on the units
# of y, and the model is the limit without residual to about 1e-8 wherever
# the random effects' covariance is not singular. (glmmTMB holds it at
# 1.2e-4 in the units of y.)
zero_disp_log_sd <- function(y, weights) {
  s <- stats::sd(y[weights > 0])
  if (!is.finite(s) || s == 0) s <- max(abs(y), 1)
  log(1e-4 * s)
}

# The two-part route of glmm(): the designs of the three parts from the
# model frame `mf` of the spec `s` (model-spec.R, which refused what the
# engines do not fit), the fit by the engine choose_engine() named, and the
# object (zi_object()).
glmm_zi <- function(s, mf) {
  formula <- s$formula
  fenv <- s$fenv
  inner <- s$family
  sparse <- s$sparse || s$zi_random_sparse || s$disp_random
  rt <- if (s$structured_aux)
    two_part_structure_terms(formula, s$ziformula, mf, fenv, if (s$disp_random) s$dispformula)
  re <- if (!is.null(rt)) rt$rc else if (sparse) sparse_re_terms(formula, mf, NULL, empty = TRUE)
        else re_terms(formula, mf, fenv)
  fx <- fixed_design(re$plain %||% formula, mf, fenv, drop_rownames = !sparse)
  X <- fx$X
  zd <- if (s$has_zi) part_design(s$zi_fixed, "ziformula", mf, fenv)
  dd <- if (s$has_disp) part_design(s$disp_fixed, "dispformula", mf, fenv)
  # The conditional part's infinite values are named as on every route
  # (check_frame_finite()); the zero and dispersion parts' offsets were
  # checked above, naming their argument.
  check_frame_finite(mf)
  off_c <- part_offset(fx$mt, mf, "formula", with_argument = TRUE) %||% rep(0, nrow(mf))
  rc <- checked_response(mf, X, inner, formula, offset = off_c, label = family_label(s))
  y <- rc$resp$y
  if (s$disp_zero) {
    dd$zero_log_sd <- zero_disp_log_sd(y, rc$resp$weights)
    dd$offset <- rep(dd$zero_log_sd, length(y))
  }
  if (s$has_disp && !s$disp_zero)
    check_disp_levels(y, rc$resp$weights, X, re, dd$X, mf, s$dispformula, inner, reml = s$reml_aux)
  if (s$truncated && !s$has_zi && any(y[rc$resp$weights > 0] == 0))
    stop(sprintf("'family': truncated_%s without a 'ziformula' is zero-truncated, but the response has zeros; give a ziformula for a hurdle model",
                 s$count_family), call. = FALSE)
  # (the hurdle's zero part would put the probability of a zero at 0, its
  # coefficients at -Inf)
  if (s$truncated && s$has_zi && !any(y[rc$resp$weights > 0] == 0))
    stop(sprintf("'ziformula': the response has no zeros, so the hurdle's zero part has nothing to estimate; drop 'ziformula' for the zero-truncated truncated_%s model",
                 s$count_family), call. = FALSE)
  d <- list(X = X, y = y, mt = fx$mt, re = re, zd = zd, dd = dd, weights = rc$resp$weights,
            offset = rc$offset, offd = dd$offset,
            offz = if (s$truncated && !s$has_zi) rep(-Inf, length(y)) else zd$offset,
            zre = if (s$engine == "agq_zero_re" && !s$disp_random && !s$structured_aux)
                    zi_random_terms(s$zi_bars, mf, fenv, re, find_bars(formula)),
            rz = if (!is.null(rt)) rt$rz
                 else if (s$zi_random_sparse) sparse_re_terms(zi_bars_formula(s$zi_bars), mf, NULL)
                 else if (s$disp_random) sparse_re_terms(zi_bars_formula(s$disp_bars), mf, NULL),
            # (random effects in the zero and the dispersion parts both: rz the
            # zero part's, rd the dispersion's)
            rd = if (!is.null(rt)) rt$rd
                 else if (s$two_random_parts) sparse_re_terms(zi_bars_formula(s$disp_bars), mf, NULL),
            rt = rt)
  if (s$disp_zero) check_zero_residual(two_part_re_terms(d, formula), d$weights)
  zi_object(s, mf, d, zi_fit(s, d))
}

# One part's design: its model matrix, terms (with the model frame's
# predvars, so that predict(newdata =) rebuilds ns(), poly() or scale()
# columns with the fitting data's basis; the part's offset() terms are in
# these terms too), levels, contrasts and offset. Each part's offset comes
# from its own offset() terms (the frame holds all three parts' variables,
# so model.offset() would add them up); the 'offset' argument belongs to
# the conditional part only, as in glmmTMB (part_offset()).
part_design <- function(f, arg, mf, fenv) {
  tt <- stats::terms(f)
  environment(tt) <- fenv
  M <- stats::model.matrix(tt, mf, contrasts.arg = frame_contrasts(mf, tt))
  rownames(M) <- NULL
  list(X = M, terms = with_predvars(stats::delete.response(tt), mf),
       xlevels = stats::.getXlevels(tt, mf),
       contrasts = attr(M, "contrasts"), offset = part_offset(tt, mf, arg))
}

# The fit by the two-part engines, with the family and sigma of the count
# part set as the object expects.
zi_fit <- function(s, d) {
  inner <- s$family
  kind <- s$kind
  nAGQ <- s$nAGQ
  re <- d$re
  # (structures: by quadrature on the one-factor engines, or by Laplace)
  sq <- if (s$engine %in% c("agq", "agq_zero_re")) nAGQ else 1L
  fit <- if (s$structured_aux && s$two_random_parts) two_part_covstruct_fit(
      d$X, d$y, d$rt, inner, paste0(kind, "_both_re"), d$zd$X, d$dd$X, d$weights, d$offset,
      d$offz, d$offd, s$control, sq, start = s$start)
  else if (s$structured_aux && s$disp_random && kind != "disp") two_part_covstruct_fit(
      d$X, d$y, d$rt, inner, paste0(kind, "_disp_re"), d$zd$X, d$dd$X, d$weights, d$offset,
      d$offz, d$offd, s$control, sq, start = s$start)
  else if (s$structured_aux && s$disp_random) two_part_covstruct_fit(
      d$X, d$y, d$rt, inner, "disp_re", d$dd$X, NULL, d$weights, d$offset, d$offd, NULL,
      s$control, sq, start = s$start)
  else if (s$structured_aux) two_part_covstruct_fit(
      d$X, d$y, d$rt, inner, kind, d$zd$X, d$dd$X, d$weights, d$offset, d$offz, d$offd, s$control,
      sq, reml = s$reml_aux, start = s$start)
  else if (s$two_random_parts && s$engine == "agq_zero_re") glmm_dispre_agq_fit(
      d$X, d$y, re, d$rd, inner, d$dd$X, d$weights, d$offset, s$control, d$offd, s$start,
      nAGQ, s$penalty, Xz = d$zd$X, offz = d$offz, zkind = kind, rzero = d$rz)
  else if (s$two_random_parts) glmm_sparse_zi_random_fit(
      d$X, d$y, re, d$rz, inner, kind, d$zd$X, d$dd$X, d$weights, d$offset, s$control, s$start,
      s$penalty, offz = d$offz, offd = d$offd, rd = d$rd)
  else if (s$disp_random && s$engine == "agq_zero_re") glmm_dispre_agq_fit(
      d$X, d$y, re, d$rz, inner, d$dd$X, d$weights, d$offset, s$control, d$offd, s$start,
      nAGQ, s$penalty, Xz = d$zd$X, offz = d$offz, zkind = kind)
  else if (s$disp_random) glmm_sparse_dispre_fit(
      d$X, d$y, re, d$rz, inner, d$dd$X, d$weights, d$offset, s$control, offd = d$offd,
      start = s$start, Xz = d$zd$X, offz = d$offz, zkind = kind, penalty = s$penalty)
  else switch(s$engine,
    laplace_sparse_zero_re = glmm_sparse_zi_random_fit(
      d$X, d$y, re, d$rz, inner, kind, d$zd$X, d$dd$X, d$weights, d$offset, s$control, s$start,
      s$penalty, offz = d$offz, offd = d$offd),
    # glmmTMB's model (independent parts) by Laplace as glmmTMB; the
    # correlated one (GLMMadaptive's) needs quadrature (glmm_zi_random_fit()).
    agq_zero_re = {
      if (is.null(nAGQ))
        nAGQ <- if (s$zi_correlated) max(3L, default_nAGQ(ncol(re$Z) + ncol(d$zre$Z), inner)) else 1L
      glmm_zi_random_fit(d$X, d$y, re$Z, d$zre$Z, re$group, inner, kind, Xz = d$zd$X, Xd = d$dd$X,
                    weights = d$weights, offset = d$offset, offz = d$offz, offd = d$offd,
                    nAGQ = nAGQ, cov_blocks_c = re$block_sizes,
                    cov_blocks_z = d$zre$block_sizes, correlated = s$zi_correlated,
                    control = s$control, start = s$start, penalty = s$penalty)
    },
    laplace_sparse = glmm_sparse_zi_fit(d$X, d$y, re, inner, kind, d$zd$X, d$dd$X, d$weights,
                                        d$offset, d$offz, s$control, s$start, s$penalty,
                                        offd = d$offd),
    agq = glmm_zi_fit(d$X, d$y, re$Z, re$group, inner, kind, Xz = d$zd$X, Xd = d$dd$X,
                      weights = d$weights, offset = d$offset, offz = d$offz, offd = d$offd,
                      nAGQ = nAGQ %||% default_nAGQ(ncol(re$Z), inner),
                      cov_blocks = re$block_sizes, control = s$control, start = s$start,
                      penalty = s$penalty))
  fit$family <- inner
  fit$sigma <- 1
  fit$dispersion <- has_dispersion(inner)
  if (fit$dispersion && !s$has_disp) {
    phi <- fit$disp[[1L]]
    fit$sigma <- sigma_of(inner, phi)
    fit$family <- fitted_family(inner, phi)
  }
  fit
}

# The fitted two-part object: the conditional part's object of its engine
# with the zero and dispersion parts in $aux.
zi_object <- function(s, mf, d, fit) {
  X <- d$X
  y <- d$y
  zd <- d$zd
  inner <- s$family
  sparse <- s$sparse || s$zi_random_sparse || s$disp_random
  obj <- if (sparse) {
    new_glmm_sparse(fit, X = X, y = y, weights = d$weights, offset = d$offset, re = d$re,
                    mf = mf, mt = d$mt, call = s$call, formula = s$formula)
  } else if (!is.null(d$zre)) {
    zi_random_object(fit, X = X, y = y, weights = d$weights, offset = d$offset, re = d$re,
                zre = d$zre, mf = mf, mt = d$mt, call = s$call, formula = s$formula)
  } else {
    new_glmm(fit, X = X, Z = d$re$Z, y = y, weights = d$weights, offset = d$offset,
             re = d$re, mf = mf, mt = d$mt, call = s$call, formula = s$formula)
  }
  obj$vcov <- fit$cov_theta[seq_len(fit$p), seq_len(fit$p), drop = FALSE]
  obj$aux <- list(kind = s$kind, truncated = s$truncated, family_name = family_label(s),
                  zi = if (s$has_zi) c(zd, list(formula = s$zi_fixed, coef = fit$zi)),
                  disp = if (fit$dispersion) c(d$dd %||% list(X = NULL),
                                               list(formula = s$dispformula %||% ~1,
                                                    coef = fit$disp)),
                  zi_index = if (s$has_zi) fit$p + length(fit$lambda) + seq_along(fit$zi),
                  sparse = sparse,
                  disp_index = if (fit$dispersion)
                    fit$p + length(fit$lambda) + length(fit$zi) + seq_along(fit$disp))
  if (!is.null(d$zre)) obj$aux$zi$re <- obj$zi_random
  if (s$zi_random_sparse) obj$aux$zi$re <- zi_random_sparse_part(fit, d$rz)
  if (s$disp_random) obj$aux$disp$re <- if (!is.null(d$rd)) zi_random_sparse_part(fit, d$rd, fit$dterms)
                                         else zi_random_sparse_part(fit, d$rz)
  if (length(s$zi_bars)) obj$aux$zi$formula <- s$ziformula
  obj$zi_random <- NULL
  obj$penalty <- fit$penalty
  if (s$reml_aux) {
    obj$REML <- TRUE
    obj$loglik_ml <- fit$loglik_ml
  }
  # (a location-scale fit by quadrature in the several-term layout)
  if (!is.null(fit$nAGQ) && sparse) {
    obj$nAGQ <- fit$nAGQ
    obj$cluster_loglik <- fit$cluster_loglik
  }
  if (s$structured_aux) obj <- covstruct_object(obj, fit)
  class(obj) <- c(if (s$disp_random) "glmmgee_glmm_dispre",
                  if (s$zi_random_sparse) "glmmgee_glmm_zire_sparse",
                  if (!is.null(d$zre)) "glmmgee_glmm_zire", "glmmgee_glmm_zi", class(obj))
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
  sep <- penalized_separation(separation_record(X, y, d$weights, inner, "glmm"), s$penalty)
  # Separation in the zero part (zero_part_separation(), separation.R).
  if (s$has_zi) {
    obj$aux$zi$separation <- zero_part_separation(zd$X, y, d$weights, s$kind, s$penalty)
    zsep <- obj$aux$zi$separation$message
  }
  # Two terms of a part with the same design (check_confounded_terms(),
  # re-terms-sparse.R), as on the several-term routes without a zero part.
  conf <- c(if (sparse) check_confounded_terms(d$re),
            if (s$zi_random_sparse) sub("^the random-effect terms", "the zero part's random-effect terms",
                                   check_confounded_terms(d$rz)),
            if (s$disp_random) sub("^the random-effect terms",
                                   "the dispersion part's random-effect terms",
                                   check_confounded_terms(d$rd %||% d$rz)))
  # A gaussian residual with a free scale in each dispersion group beside a
  # term with one observation per level and column: the split between them
  # arbitrary, as in one-part fits (residual_unidentified()).
  unid <- if (s$kind == "disp" && !s$disp_random && s$gaussian_identity && !s$disp_zero &&
              disp_saturated(disp_fixed_design(d), d$offd, d$weights))
    residual_unidentified(two_part_re_terms(d, s$formula), inner, d$weights, obj$structures)
  if (!is.null(unid)) obj <- identified_fixed_vcov(mark_residual_unidentified(obj, unid))
  finish_glmm(obj, sep, c(if (s$has_zi) zsep, conf, unid))
}

# The dispersion part's fixed design of a two-part model's data `d` (a
# column of ones where the model has no dispersion formula).
disp_fixed_design <- function(d) d$dd$X %||% matrix(1, length(d$y), 1L)

# The conditional part's random-effect terms of a two-part model's data
# `d` as residual_unidentified() reads them: the structured route's as they
# are, the others' as unstructured terms (one grouping factor: labelled by
# the terms of `formula`).
two_part_re_terms <- function(d, formula) {
  if (!is.null(d$rt)) return(d$rt$rc)
  re <- d$re
  if (is.null(re[["group", exact = TRUE]]))
    return(list(Z = re$Z, terms = unstructured_terms(re$terms)))
  one_factor_terms(re$Z, re$cnames, re$block_sizes %||% length(re$cnames), re$group,
                   re$group_name, lapply(find_bars(formula), `[[`, 2L))
}

family_label <- function(s)
  switch(s$kind, zi = paste("zero-inflated", s$family$family),
         hurdle = paste0("truncated_", s$count_family), disp = s$family$family)

# The engines' code of the auxiliary model (src/families/families-aux.h): a
# zero-inflated binomial evaluates its inner family at the number of trials
# (f_c(0) = (1 - p)^n), the count families at unit weight.
aux_kind_code <- function(kind, family) {
  if (kind == "zi" && identical(family$family, "binomial")) return(3L)
  c(disp = 0L, zi = 1L, hurdle = 2L, disp_re = 4L, zi_disp_re = 5L, hurdle_disp_re = 6L,
    zi_both_re = 7L, hurdle_both_re = 8L)[[kind]]
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
