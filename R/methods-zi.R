# Methods for models with a zero-inflation, hurdle or dispersion part
# (class glmmgee_glmm_zi, from glmm(ziformula =, dispformula =) or a
# truncated_ family). The conditional (count) part carries the random
# effect; the zero and dispersion parts have fixed effects only, so they
# are the same for every cluster.

#' Zero-inflated, hurdle and dispersion-formula GLMMs
#'
#' [glmm()] with `ziformula`, `dispformula` or a [truncated_poisson()] /
#' [truncated_nbinom2()] / [truncated_nbinom1()] family fits, with one grouping factor by the
#' Laplace approximation or adaptive Gauss-Hermite quadrature, with several
#' random-effect terms by the sparse Laplace engine (exact analytic gradient
#' in both):
#' * zero-inflated counts (Lambert 1992): \eqn{P(y=0) = \pi + (1-\pi)f(0;\mu)},
#'   \eqn{P(y) = (1-\pi)f(y;\mu)} for \eqn{y>0}, with \eqn{f} Poisson, NB2 or NB1,
#'   \eqn{\log\mu = x'\beta + z'b} (conditional on the random effect) and
#'   \eqn{\mathrm{logit}\,\pi = x_z'\gamma} (the same in every cluster);
#' * zero-inflated binomial (`family = binomial`, any link, response
#'   `cbind(successes, failures)` or a proportion with `weights` as trials):
#'   \eqn{P(y=0) = \pi + (1-\pi)(1-p)^n}, \eqn{p} conditional on the random
#'   effect, as glmmTMB's; prior weights other than the trials are refused;
#'   `predict(type = "response")` and `simulate()` give proportions of the
#'   trials;
#' * hurdle models (`truncated_` families with a `ziformula`):
#'   \eqn{P(y=0) = \pi}, positive counts zero-truncated;
#' * a dispersion formula: \eqn{\log\phi = x_d'\delta} per observation, for
#'   \eqn{\phi} = gaussian \eqn{\sigma}, NB2 \eqn{\theta}, NB1 \eqn{\phi}, Gamma shape.
#'
#' `offset()` terms in `ziformula` or `dispformula` are added to that part's
#' predictor (\eqn{\mathrm{logit}\,\pi = x_z'\gamma + o_z},
#' \eqn{\log\phi = x_d'\delta + o_d}), as in glmmTMB; the `offset`
#' argument of [glmm()] is the conditional part's only. `predict(newdata =)`
#' evaluates each part's offset terms on the new data, and `simulate()`,
#' `residuals()`, [standardize()], [marginal_coefs()], profiles and refits
#' use them.
#'
#' These are glmmTMB's parameterizations, so coefficients compare directly
#' (except gaussian: glmmTMB 1.1.5 models \eqn{\log\sigma^2}, twice our
#' coefficients of \eqn{\log\sigma}).
#' GLMMadaptive's `zi.poisson()` etc. use the same logit zero part.
#'
#' `predict(type = )`: `"link"` (\eqn{\log\mu}), `"conditional"`
#' (the mean of the count part: \eqn{\mu}, or for a hurdle model the
#' zero-truncated mean \eqn{\mu/(1-f(0;\mu))}, as glmmTMB), `"zprob"` (\eqn{\pi}),
#' `"zlink"` (logit \eqn{\pi}), `"disp"` (\eqn{\phi}: gaussian
#' \eqn{\sigma}, NB2 \eqn{\theta}, Gamma shape; glmmTMB gives
#' \eqn{1/\sqrt{shape}} for Gamma), `"response"` (the
#' mean of y: \eqn{(1-\pi)\mu} zero-inflated,
#' \eqn{(1-\pi)\mu/(1-f(0;\mu))} hurdle), each with `re.form` as in
#' [predict.glmmgee_glmm()], applied to every part: `NULL` keeps the random
#' effects of all parts, `NA` (or `~ 0`) none, and a formula keeps in each
#' part exactly the terms it names that belong to that part, a zero or
#' dispersion term named as written in `ziformula` or `dispformula` (with
#' `ziformula = ~ x + (1 | spp)`, `re.form = ~ (1 | site)` drops the zero
#' part's `(1 | spp)`; `~ (1 | spp)` keeps it, and a `(1 | spp)` of
#' `dispformula` too). A term in no part is an error. `fitted()` and `residuals()` use the mean of y;
#' `simulate()` draws from the whole model (new random effects by default).
#' [standardize()] and [marginal_coefs()] work on the scale of the mean of
#' y (including the zero part), integrated over the random effect
#' (`re = "marginal"`) or at b = 0; the variable set by `standardize()` must
#' be in the conditional formula (it is then set in the zero and dispersion
#' designs too). With random effects in the zero part the mean is
#' integrated over both parts' effects: on the conditional part's factor
#' jointly (their correlation included); on other or several terms (the
#' two-part sparse engine, glmmTMB's model of independent terms and parts)
#' exactly as a product of two one-dimensional integrals, since the count
#' part's \eqn{z'b} and the zero part's \eqn{z_z'b_z} are independent normals
#' whose variances sum over the terms that touch the observation.
#' Standard errors by the delta method over all parameters. With several
#' random-effect terms the sparse Laplace engine fits them (Laplace only).
#'
#' The optimum is found as for every [glmm()] fit (see its section "The
#' optimum"): the search runs on centred and scaled copies of all three
#' designs, so nothing depends on the units, origin or coding of the
#' covariates; a variance at zero is accepted only after restarts from the
#' interior (`$optinfo$boundary_check`). When the zero-inflation
#' probability runs to zero (the data need no structural zeros) the fit
#' warns that the zero-inflation intercept runs to -Inf and sets
#' `$optinfo$zero_inflation_vanishes`; refit without `ziformula`.
#'
#' @name glmm-zero-inflation
#' @param object A model fitted with `ziformula`, `dispformula` or a
#'   hurdle family.
#' @param newdata,re.form,allow.new.levels,na.action As in
#'   [predict.glmmgee_glmm()].
#' @param type The scale of the prediction, see Details.
#' @param se.fit Also the delta-method standard errors of the prediction
#'   over the fixed-effect parameters of all parts (the random effects at
#'   their modes, as [predict.glmmgee_glmm()]).
#' @param nsim,seed Number of simulated responses and the seed.
#' @param ... Not used: an argument given here is an error.
#' @return `predict()`: a numeric vector (with `se.fit = TRUE` a list of
#'   `fit` and `se.fit`); `simulate()`: a data frame with
#'   one column per simulation.
#' @references Lambert, D. (1992). Zero-inflated Poisson regression, with an
#'   application to defects in manufacturing. *Technometrics* 34, 1-14.
#'
#'   Brooks, M. E. et al. (2017). glmmTMB balances speed and flexibility
#'   among packages for zero-inflated generalized linear mixed modeling.
#'   *The R Journal* 9, 378-400.
#' @examples
#' if (requireNamespace("glmmTMB", quietly = TRUE)) {
#'   data(Salamanders, package = "glmmTMB")
#'   fit <- glmm(count ~ mined + (1 | site), data = Salamanders,
#'               ziformula = ~ mined, family = poisson, nAGQ = 1)
#'   summary(fit)
#'   nd <- data.frame(mined = c("yes", "no"), site = "R-1")
#'   predict(fit, nd, type = "zprob")
#'   predict(fit, nd, type = "response", re.form = NA)
#'   head(simulate(fit, nsim = 2, seed = 1))
#' }
NULL

# The three predictors of `object` at newdata (NULL: the data of the fit).
zi_predictors <- function(object, newdata, re.form, allow.new.levels) {
  # The count part's predictor by the method of the fit's engine class
  # (the classes after glmmgee_glmm_zi).
  base <- class(object)[-seq_len(match("glmmgee_glmm_zi", class(object)))]
  # On the fit's own data, the rows fitted only: the zero and dispersion
  # parts have no padding for na.exclude's rows, which the callers add.
  if (is.null(newdata)) object$na.action <- NULL
  keep <- zi_re_selection(object, re.form)
  eta <- stats::predict(structure(object, class = base), newdata,
                        type = "link", re.form = keep$cond,
                        allow.new.levels = allow.new.levels)
  aux <- object$aux
  part <- function(pt, default, label) {
    if (is.null(pt) || is.null(pt$X) && is.null(pt$terms)) return(default)
    if (is.null(newdata)) return(aux_fixed_link(pt))
    check_newdata_vars(pt$terms, newdata, label, environment(pt$terms) %||% parent.frame())
    check_newdata_xlevels(pt$xlevels, newdata, label, environment(pt$terms) %||% parent.frame())
    mfp <- stats::model.frame(pt$terms, newdata, na.action = stats::na.pass, xlev = pt$xlevels)
    Xp <- stats::model.matrix(pt$terms, mfp, contrasts.arg = pt$contrasts)
    fixed_part_link(Xp, pt$coef) + (newdata_part_offset(pt, mfp) %||% 0)
  }
  n <- length(eta)
  zl <- part(aux$zi, rep(if (aux$kind == "hurdle") -Inf else -Inf, n), "ziformula")
  if (length(keep$zi))
    zl <- zl + if (isTRUE(aux$zi$re$sparse)) sparse_part_re_link(object, aux$zi$re, newdata,
                                                                  allow.new.levels, keep = keep$zi)
               else zi_random_zlink_re(object, newdata, allow.new.levels)
  dl <- if (!is.null(aux$disp)) part(aux$disp, rep(aux$disp$coef[[1L]], n), "dispformula")
  if (length(keep$disp))
    dl <- dl + sparse_part_re_link(object, aux$disp$re, newdata, allow.new.levels,
                                   "dispersion formula", keep = keep$disp)
  list(eta = unname(eta), zlink = unname(zl), dlink = unname(dl), names = names(eta))
}

# The random-effect terms of each part kept by `re.form`: `cond` the
# re.form for the conditional part's own predict method, `zi` and `disp`
# indices of the zero and dispersion parts' terms. NULL keeps every term
# of every part, NA (or ~ 0) none; a formula keeps in each part exactly the
# terms it names that belong to that part (a term is named as written in
# its part's formula, `(1 | g)`), so one term common to two parts is kept
# in both, and a term of no part is an error. (A formula used to select
# among the conditional terms only and keep every zero and dispersion
# term, which it could not name.)
zi_re_selection <- function(object, re.form) {
  aux <- object$aux
  zr <- aux$zi$re
  dr <- aux$disp$re
  n_terms <- function(r) {
    if (is.null(r)) 0L else if (isTRUE(r$sparse)) length(r$terms) else length(r$re_formula)
  }
  all_of <- list(cond = re.form, zi = seq_len(n_terms(zr)), disp = seq_len(n_terms(dr)))
  if (is.null(re.form) || !inherits(re.form, "formula") && !is_no_re(re.form)) return(all_of)
  if (is_no_re(re.form)) return(list(cond = re.form, zi = integer(), disp = integer()))
  key <- function(b) paste(deparse(b, width.cutoff = 500L), collapse = "")
  part_keys <- function(r) {
    if (is.null(r)) return(character())
    if (isTRUE(r$sparse))
      return(vapply(r$terms, function(tm) key(call("|", tm$lhs, tm$group_expr)), ""))
    vapply(r$re_formula, function(lhs) key(call("|", lhs, str2lang(object$group_name))), "")
  }
  cond_bars <- find_bars(object$formula)
  keys <- list(cond = vapply(cond_bars, key, ""), zi = part_keys(zr), disp = part_keys(dr))
  want <- vapply(find_bars(re.form), key, "")
  none <- want[!want %in% unlist(keys)]
  if (length(none))
    stop(sprintf("'re.form' term(s) in no part of the model (conditional, ziformula, dispformula): %s",
                 paste(none, collapse = ", ")), call. = FALSE)
  sel <- lapply(keys, function(k) which(k %in% want))
  # The zero part's effects on the conditional part's grouping factor
  # (fitted jointly with it) form one block: all or none of its terms.
  if (!is.null(zr) && !isTRUE(zr$sparse) && length(sel$zi) %in% seq_len(n_terms(zr) - 1L))
    stop(sprintf(paste0("'re.form' keeps some but not all of the zero part's random-effect terms ",
                        "on '%s' (%s), which this fit holds as one block: name all of them or none"),
                 object$group_name, paste(keys$zi, collapse = ", ")), call. = FALSE)
  cond <- if (length(sel$cond)) {
    stats::as.formula(paste("~", paste0("(", keys$cond[sel$cond], ")", collapse = " + ")),
                      env = environment(re.form))
  } else NA
  list(cond = cond, zi = sel$zi, disp = sel$disp)
}

# The grouping expressions of the random-effect terms that `re.form` keeps
# in any part: predict() has no random effect for a row without a label of
# one of them.
zi_grouping_exprs <- function(object, re.form) {
  keep <- zi_re_selection(object, re.form)
  cond <- if (is.null(keep$cond)) find_bars(object$formula)
          else if (inherits(keep$cond, "formula")) find_bars(keep$cond)
  out <- lapply(cond, `[[`, 3L)
  aux <- object$aux
  for (pt in list(list(re = aux$zi$re, keep = keep$zi), list(re = aux$disp$re, keep = keep$disp))) {
    if (!length(pt$keep)) next
    out <- c(out, if (isTRUE(pt$re$sparse)) lapply(pt$re$terms[pt$keep], `[[`, "group_expr")
                  else list(str2lang(object$group_name)))
  }
  out
}

# A zero or dispersion part's offset at `mf`, the part's model frame of
# new data: its offset() terms, or dispformula = ~ 0's fixed log residual
# SD (is_zero_disp()) on every row; NULL for none.
newdata_part_offset <- function(pt, mf) {
  if (!is.null(pt$zero_log_sd)) rep(pt$zero_log_sd, nrow(mf)) else stats::model.offset(mf)
}

# The fixed part of a zero or dispersion predictor at the data of the fit:
# its design times its coefficients plus its offset() terms. A dispersion
# without a formula (one value, no design kept) on `n` rows.
aux_fixed_link <- function(pt, n = NULL)
  fixed_part_link(pt$X %||% matrix(1, n, 1L), pt$coef) + (pt$offset %||% 0)

# A part's design times its coefficients, zero on every row for a part with
# no fixed column (~ 0 + (1 | g)).
fixed_part_link <- function(X, coef)
  if (length(coef)) drop(X %*% coef) else numeric(nrow(X))

# Probability of a zero from the count part, at mean mu and dispersion phi
# (log scale, families.h's convention).
count_p0 <- function(family, mu, phi) {
  switch(family$family, poisson = exp(-mu),
         nbinom2 = { th <- exp(phi); exp(-th * log1p(mu / th)) },
         # NB1: size mu / phi, so f(0) = (1 + phi)^(-mu / phi).
         nbinom1 = { ph <- exp(phi); exp(-(mu / ph) * log1p(ph)) },
         stop("no zero probability for family ", family$family, call. = FALSE))
}

# The mean of the count part: mu, or for a hurdle model the mean of the
# zero-truncated distribution, mu / (1 - f(0; mu)) (glmmTMB's "conditional").
zi_conditional_mean <- function(object, pr) {
  mu <- object$family$linkinv(pr$eta)
  if (object$aux$kind != "hurdle") return(mu)
  mu / -expm1(log(count_p0(object$family, mu, pr$dlink)))
}

zi_response_mean <- function(object, pr) {
  if (object$aux$kind == "disp") return(object$family$linkinv(pr$eta))
  (1 - stats::plogis(pr$zlink)) * zi_conditional_mean(object, pr)
}

#' @rdname glmm-zero-inflation
#' @export
predict.glmmgee_glmm_zi <- function(object, newdata = NULL,
                                    type = c("response", "link", "conditional", "zprob",
                                             "zlink", "disp"),
                                    re.form = NULL, allow.new.levels = FALSE, se.fit = FALSE,
                                    na.action = stats::na.pass, ...) {
  if (!is.null(newdata)) require_capability(object, "predict_newdata", "predict(newdata = )")
  check_dots(..., .method = "predict.glmmgee_glmm_zi")
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  if (!is.null(newdata) && !is.data.frame(newdata))
    stop("'newdata' must be a data frame", call. = FALSE)
  # A row with a missing label of a kept term's grouping has no random
  # effect to predict with: na.action applies to those rows first, as in
  # predict.glmmgee_glmm() (under na.pass they are an error unless
  # allow.new.levels).
  nd0 <- newdata
  grp <- if (!is.null(newdata)) {
    rows_with_values(zi_grouping_exprs(object, re.form), newdata, na.action,
                     environment(object$formula) %||% parent.frame())
  }
  if (!is.null(grp)) newdata <- grp$data
  pr <- zi_predictors(object, newdata, re.form, allow.new.levels)
  out <- zi_prediction(object, pr, type)
  names(out) <- pr$names
  # Then newdata's rows whose prediction is missing (a missing value in a
  # variable of some part) under na.action, as predict.glmmgee_glmm():
  # na.omit drops them, na.exclude and na.pass keep them as NA. The rows are
  # those of a missing prediction only, so se.fit does not change them (its
  # standard errors are missing where the prediction is).
  se <- if (se.fit) stats::setNames(zi_prediction_se(object, newdata, pr, type), pr$names)
  nao <- if (!is.null(newdata)) {
    attr(match.fun(na.action)(data.frame(fit = unname(out))), "na.action")
  }
  if (length(grp$na.action)) {
    # one record of both steps over the rows of the caller's newdata
    kept <- setdiff(seq_len(nrow(nd0)), grp$na.action)
    widen <- function(v) {
      w <- stats::setNames(rep(NA_real_, nrow(nd0)), rownames(nd0))
      w[kept] <- v
      w
    }
    out <- widen(out)
    if (se.fit) se <- widen(se)
    nao <- sort(c(as.integer(grp$na.action), kept[as.integer(nao)]))
    nao <- structure(stats::setNames(nao, rownames(nd0)[nao]), class = class(grp$na.action))
  }
  pad <- function(v) {
    if (is.null(newdata)) return(stats::napredict(object$na.action, v))
    if (is.null(nao)) v else stats::napredict(nao, v[-nao])
  }
  if (!se.fit) return(pad(out))
  list(fit = pad(out), se.fit = pad(se))
}

zi_prediction <- function(object, pr, type) {
  switch(type,
    link = pr$eta,
    conditional = zi_conditional_mean(object, pr),
    zprob = stats::plogis(pr$zlink),
    zlink = pr$zlink,
    disp = {
      if (is.null(pr$dlink)) stop("type = \"disp\": this family has no dispersion", call. = FALSE)
      dispersion_natural(object$family, pr$dlink)
    },
    response = zi_response_mean(object, pr))
}

# predict(se.fit = TRUE) of a two-part fit: the delta method over the
# fixed-effect parameters of the three parts (at the random effects'
# modes, as predict.glmmgee_glmm()). The prediction depends on them through
# the row's three linear predictors only, so its gradient is
# d_eta X, d_zlink Xz, d_dlink Xd, the scalars by central differences in
# each predictor; delta_var() uses the fit's standardized covariance
# where it kept one (each part's block a row scaling of its design, so the
# map adds no cancellation).
zi_prediction_se <- function(object, newdata, pr, type) {
  a <- object$aux
  if (is.null(newdata)) {
    X <- object$X
    Xz <- a$zi$X
    Xd <- a$disp$X
  } else {
    tt <- stats::delete.response(object$terms)
    mf <- stats::model.frame(tt, newdata, na.action = stats::na.pass, xlev = object$xlevels)
    X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
    aux <- zi_aux_designs(object, newdata)
    Xz <- aux$zi
    Xd <- aux$disp
  }
  n <- length(pr$eta)
  if (!is.null(a$disp_index) && is.null(Xd)) Xd <- matrix(1, n, 1L)
  # The derivative in one predictor, at 0 where that predictor is missing:
  # a prediction that does not depend on it (the zero probability on the
  # count part's) has derivative exactly 0 whatever its value.
  slope <- function(part) {
    v <- pr[[part]]
    v[is.na(v)] <- 0
    h <- 1e-5 * pmax(1, abs(v))
    up <- dn <- pr
    up[[part]] <- v + h
    dn[[part]] <- v - h
    (zi_prediction(object, up, type) - zi_prediction(object, dn, type)) / (2 * h)
  }
  # slope times design, with the rows where the slope is 0 left at 0: there
  # the part's design does not enter, and a missing covariate of that part
  # (NA * 0) must not make the standard error missing.
  grad <- function(part, Xp) {
    s <- slope(part)
    Gp <- s * Xp
    Gp[!is.na(s) & s == 0, ] <- 0
    Gp
  }
  par <- fit_parameters(object)
  G <- matrix(0, n, length(par$theta))
  G[, seq_len(ncol(X))] <- grad("eta", X)
  if (!is.null(a$zi_index) && !is.null(Xz)) G[, a$zi_index] <- grad("zlink", Xz)
  if (!is.null(a$disp_index)) G[, a$disp_index] <- grad("dlink", Xd)
  se <- sqrt(pmax(delta_var(G, par$vcov, par$star), 0))
  # (missing where the prediction itself is)
  se[is.na(zi_prediction(object, pr, type))] <- NA_real_
  se
}

# sigma for gaussian, theta for nbinom2, the shape for Gamma.
dispersion_natural <- function(family, phi) exp(phi)

#' @export
fitted.glmmgee_glmm_zi <- function(object, ...) {
  check_dots(..., .method = "fitted.glmmgee_glmm_zi")
  stats::predict(object, type = "response")
}

#' @export
residuals.glmmgee_glmm_zi <- function(object, type = c("response", "pearson"), ...) {
  check_dots(..., .method = "residuals.glmmgee_glmm_zi")
  type <- match.arg(type)
  pr <- zi_predictors(object, NULL, NULL, FALSE)
  m <- zi_response_mean(object, pr)
  r <- object$y - m
  if (type == "pearson") r <- r / sqrt(zi_response_variance(object, pr, m))
  stats::naresid(object$na.action, stats::setNames(r, pr$names))
}

# Var y of the two-part models (for Pearson residuals): from E y^2.
zi_response_variance <- function(object, pr, m) {
  mu <- object$family$linkinv(pr$eta)
  pz <- stats::plogis(pr$zlink)
  # binomial: y is a proportion of the prior weight's trials.
  # phi = exp(dlink) per row: the family object's own variance() knows no
  # phi when it varies by row (dispformula).
  vc <- switch(object$family$family, poisson = mu, nbinom2 = mu + mu^2 / exp(pr$dlink),
               nbinom1 = mu * (1 + exp(pr$dlink)),
               binomial = mu * (1 - mu) / object$prior.weights,
               beta = mu * (1 - mu) / (1 + exp(pr$dlink)),
               # y is the proportion of n = prior weight trials.
               betabinomial = {
                 n <- object$prior.weights
                 mu * (1 - mu) * (exp(pr$dlink) + n) / ((exp(pr$dlink) + 1) * n)
               },
               object$family$variance(mu))
  ey2c <- vc + mu^2
  ey2 <- switch(object$aux$kind, zi = (1 - pz) * ey2c,
                hurdle = (1 - pz) * ey2c / (1 - count_p0(object$family, mu, pr$dlink)),
                ey2c)
  if (object$aux$kind == "disp") return(switch(object$family$family,
    gaussian = exp(2 * pr$dlink), Gamma = mu^2 / exp(pr$dlink), vc))
  ey2 - m^2
}

#' @rdname glmm-zero-inflation
#' @export
simulate.glmmgee_glmm_zi <- function(object, nsim = 1, seed = NULL, re.form = NA, ...) {
  check_dots(..., .method = "simulate.glmmgee_glmm_zi", .allow = c("newdata", "use.u", "na.action"))
  if ("use.u" %in% ...names()) re.form <- use_u_re_form(list(...)$use.u, !missing(re.form))
  check_nsim(nsim)
  simulate_refuse_newdata(object, list(...))
  rs <- simulate_seed(seed)
  if (!is.null(rs$old)) on.exit(assign(".Random.seed", rs$old, envir = globalenv()))
  rng <- rs$rng
  pr <- zi_predictors(object, NULL, NULL, FALSE)
  new_re <- simulate_new_re(re.form)
  draw_eta <- if (new_re) random_effect_sampler(object) else function() pr$eta
  # Random effects in the zero part too: both parts' drawn jointly.
  draw <- if (new_re && (isTRUE(object$aux$zi$re$sparse) || !is.null(object$aux$disp$re)))
            zi_random_sparse_sampler(object)
          else if (new_re && !is.null(object$aux$zi$re)) zi_random_sampler(object)
          else function() list(eta = draw_eta(), zlink = pr$zlink)
  fam <- object$family$family
  kind <- object$aux$kind
  n <- length(pr$eta)
  pz <- stats::plogis(pr$zlink)
  ph <- pr$dlink
  trials <- object$prior.weights
  # binomial trials must be whole numbers (rbinom() drew NA for 2.5 and
  # rounded 0.4 to no trials)
  if (fam %in% c("binomial", "betabinomial") && !is.null(trials)) check_whole_trials(trials)
  sims <- lapply(seq_len(nsim), function(k) {
    dr <- draw()
    mu <- object$family$linkinv(dr$eta)
    pz <- stats::plogis(dr$zlink)
    # New random effects of a dispersion formula (zi_random_sparse_sampler()).
    if (!is.null(dr$dlink)) ph <- dr$dlink
    # phi = exp(ph) per row: sigma (gaussian), shape (Gamma), theta
    # (nbinom2), phi (nbinom1, beta precision, beta-binomial). The mean is
    # mu, also for gaussian(link = "log").
    if (kind == "disp") {
      # (a prior weight divides a gaussian row's variance and multiplies a
      # Gamma row's shape, as in the fits without a dispersion formula,
      # draw_response(); they had been left out)
      w <- trials %||% rep(1, n)
      return(switch(fam, gaussian = stats::rnorm(n, mu, exp(ph) / sqrt(w)),
                    nbinom2 = stats::rnbinom(n, size = exp(ph), mu = mu),
                    nbinom1 = stats::rnbinom(n, size = mu / exp(ph), mu = mu),
                    Gamma = stats::rgamma(n, shape = exp(ph) * w, rate = exp(ph) * w / mu),
                    beta = stats::rbeta(n, mu * exp(ph), (1 - mu) * exp(ph)),
                    betabinomial = {
                      p <- stats::rbeta(n, mu * exp(ph), (1 - mu) * exp(ph))
                      stats::rbinom(n, round(trials), p) / pmax(round(trials), 1)
                    },
                    simulate_unsupported(fam, "a dispersion formula")))
    }
    zero <- stats::runif(n) < pz
    y <- if (kind == "zi") {
      switch(fam, poisson = stats::rpois(n, mu), nbinom2 = stats::rnbinom(n, size = exp(ph), mu = mu),
             nbinom1 = stats::rnbinom(n, size = mu / exp(ph), mu = mu),
             binomial = stats::rbinom(n, trials, mu) / pmax(trials, 1),
             simulate_unsupported(fam, "zero inflation"))
    } else {
      # Zero-truncated draws by inversion above the zero's probability.
      u <- stats::runif(n, count_p0(object$family, mu, ph), 1)
      pmax(1, switch(fam, poisson = stats::qpois(u, mu),
                     nbinom2 = stats::qnbinom(u, size = exp(ph), mu = mu),
                     nbinom1 = stats::qnbinom(u, size = mu / exp(ph), mu = mu),
                     simulate_unsupported(fam, "a hurdle")))
    }
    ifelse(zero, 0, y)
  })
  names(sims) <- paste0("sim_", seq_len(nsim))
  structure(sims, class = "data.frame",
            row.names = rownames(object$model) %||% as.character(seq_len(n)), seed = rng)
}

# A family simulate() has no draw for in a two-part or dispersion model: an
# error, not a column of NULLs.
simulate_unsupported <- function(fam, part) {
  stop(sprintf("simulate() has no draws for the %s family with %s", fam, part), call. = FALSE)
}

#' @export
sigma.glmmgee_glmm_zi <- function(object, ...) {
  check_dots(..., .method = "sigma.glmmgee_glmm_zi")
  d <- object$aux$disp
  if (is.null(d)) return(1)
  # One value where the dispersion formula gives every used row the same
  # log dispersion (an intercept, an offset alone, dispformula = ~ 0's
  # fixed residual); with covariates, a varying offset or random effects in
  # the dispersion formula, none. (An intercept with an offset had given 1.)
  eta <- if (is.null(d$re)) {
    e <- unname(aux_fixed_link(d, length(object$y)))
    e[used_rows(object) %||% seq_along(e)]
  }
  if (is.null(eta) || diff(range(eta)) > 1e-12 * max(1, abs(eta)))
    stop("sigma(): the dispersion varies by observation (dispformula); use predict(type = \"disp\")",
         call. = FALSE)
  sigma_of(object$family, eta[[1L]])
}
