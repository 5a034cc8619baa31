# Predictions from a fitted GLMM, for the fitted data or new data.

#' Predictions from a fitted GLMM
#'
#' Linear predictor or mean, with or without the predicted random effects.
#'
#' With `re.form = NULL` the predictions are conditional on each cluster's
#' predicted random effects (posterior modes, as [ranef()]); clusters not
#' seen in the fit (and missing cluster labels) get random effects of zero,
#' i.e. the population-level prediction for a typical cluster (b = 0), when
#' `allow.new.levels = TRUE`. With `re.form = NA` (or `~ 0`) all random
#' effects are set to zero: \eqn{X\hat\beta + \mathrm{offset}}. A formula
#' naming some of the model's random-effect terms, e.g. `~ (1 | g)`, keeps
#' those only. Note that for non-identity links `type = "response"` with zero
#' random effects is the mean of a typical cluster, not the
#' population-averaged mean.
#'
#' `newdata` is coded like the data of the fit (same factor levels and
#' contrasts; a level of a fixed-effect factor not seen in the fit is an
#' error). Offsets are taken from `offset()` terms of the formula and from the
#' `offset` argument of the original call, both evaluated in `newdata`. Rows
#' with missing values give `NA` under the default `na.action = na.pass`; with
#' [na.omit()] they are dropped, with [na.exclude()] padded back as `NA`.
#'
#' @param object A fitted model from [glmm()].
#' @param newdata Optional data frame; by default the data of the fit.
#' @param type `"link"` (linear predictor) or `"response"` (mean).
#' @param re.form Which random effects to include: `NULL` all, `NA` or
#'   `~ 0` none, or a formula with some of the model's random-effect terms.
#' @param allow.new.levels If `FALSE`, cluster labels in `newdata` that were
#'   not in the fit are an error.
#' @param na.action Function for missing values in `newdata`.
#' @param se.fit Also return standard errors. They come from the
#'   uncertainty of the fixed effects only, by the delta method with
#'   [vcov()]: \eqn{\sqrt{x'Vx}} on the link scale, times
#'   \eqn{|d\mu/d\eta|} at the prediction for `type = "response"`. The
#'   predicted random effects are treated as known, so with `re.form = NA`
#'   they are the standard errors of the typical-cluster prediction
#'   (glmmTMB's `predict(re.form = NA, se.fit = TRUE)`); they do not include
#'   the prediction error of a cluster's random effect.
#' @param ... Ignored.
#' @return A numeric vector, named by the rows of `newdata` (or of the data
#'   of the fit); with `se.fit = TRUE` a list with components `fit` and
#'   `se.fit`.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   head(predict(fit, type = "response"))
#'   nd <- data.frame(period = factor(1:4), herd = "new")
#'   predict(fit, nd, type = "response")            # a new herd: b = 0
#'   predict(fit, nd, re.form = NA, type = "response")
#'   predict(fit, nd, re.form = NA, type = "response", se.fit = TRUE)
#' }
#' @export
predict.glmmgee_glmm <- function(object, newdata = NULL, type = c("link", "response"),
                         re.form = NULL, allow.new.levels = TRUE, na.action = stats::na.pass,
                         se.fit = FALSE, ...) {
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  bars <- selected_bars(object, re.form)
  cols <- bar_columns(object)[bars]
  cols <- unlist(cols, use.names = FALSE)
  if (is.null(newdata)) {
    eta <- object$eta_fixed
    if (length(cols)) {
      B <- object$ranef$mode
      eta <- eta + rowSums(object$Z[, cols, drop = FALSE] *
                             B[object$group, cols, drop = FALSE])
    }
    names(eta) <- names(object$fitted.values)
    return(prediction(object, eta, if (se.fit) object$X, type, object$na.action))
  }
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  env <- environment(object$formula) %||% parent.frame()
  nd <- newdata_rows(object, newdata, bars, na.action, env)
  eta <- newdata_fixed(object, nd$data, env)
  X <- attr(eta, "X")
  attr(eta, "X") <- NULL
  if (length(cols)) eta <- eta + newdata_random(object, nd$data, bars, allow.new.levels, env)
  names(eta) <- rownames(nd$data)
  prediction(object, eta, if (se.fit) X, type, nd$na.action)
}

# The prediction on the requested scale, padded by na.action; with a
# fixed-effects design X, a list with the delta-method standard errors of
# the fixed-effect part (see predict.glmmgee_glmm()).
prediction <- function(object, eta, X, type, na.action) {
  pred <- if (type == "response") object$family$linkinv(eta) else eta
  if (is.null(X)) return(stats::napredict(na.action, pred))
  se <- sqrt(pmax(rowSums((X %*% vcov(object)) * X), 0))
  if (type == "response") se <- se * abs(object$family$mu.eta(eta))
  names(se) <- names(pred)
  list(fit = stats::napredict(na.action, pred), se.fit = stats::napredict(na.action, se))
}

check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1L || is.na(x))
    stop(sprintf("'%s' must be TRUE or FALSE", arg), call. = FALSE)
  invisible(x)
}

# Indices of the model's random-effect terms kept by re.form.
selected_bars <- function(object, re.form) {
  model_bars <- reformulas::findbars(object$formula)
  all_bars <- seq_along(model_bars)
  if (is.null(re.form)) return(all_bars)
  if (length(re.form) == 1L && !is.language(re.form) && is.na(re.form)) return(integer())
  if (!inherits(re.form, "formula"))
    stop("'re.form' must be NULL, NA or a formula such as ~ 0 or ~ (1 | g)", call. = FALSE)
  want <- reformulas::findbars(re.form)
  if (!length(want)) return(integer())
  key <- function(b) paste(deparse(b, width.cutoff = 500L), collapse = "")
  idx <- match(vapply(want, key, ""), vapply(model_bars, key, ""))
  if (anyNA(idx))
    stop(sprintf("'re.form' term(s) not in the model: %s",
                 paste(vapply(want[is.na(idx)], key, ""), collapse = ", ")), call. = FALSE)
  sort(unique(idx))
}

# Columns of Z (and of the random effects) belonging to each term.
bar_columns <- function(object) {
  ends <- cumsum(object$cov_blocks)
  lapply(seq_along(ends), function(k) (ends[k] - object$cov_blocks[k] + 1L):ends[k])
}

# Applies na.action to the rows of newdata over every variable the
# prediction uses, so all parts of the design see the same rows.
newdata_rows <- function(object, newdata, bars, na.action, env) {
  exprs <- list(stats::formula(stats::delete.response(object$terms))[[2L]])
  if (length(bars))
    exprs <- c(exprs, object$re_formula[bars], list(str2lang(object$group_name)))
  if (!is.null(object$call$offset)) exprs <- c(exprs, list(object$call$offset))
  rhs <- Reduce(function(a, b) call("+", a, b), exprs)
  f <- stats::as.formula(call("~", rhs), env = env)
  mf <- stats::model.frame(f, newdata, na.action = na.action)
  nao <- attr(mf, "na.action")
  data <- if (is.null(nao)) newdata else newdata[-as.integer(nao), , drop = FALSE]
  list(data = data, na.action = nao)
}

newdata_fixed <- function(object, data, env) {
  tt <- stats::delete.response(object$terms)
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = object$xlevels)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  beta <- fixef(object)
  if (!identical(colnames(X), names(beta)))
    stop("'newdata' does not give the fixed-effects columns of the fit (",
         paste(setdiff(names(beta), colnames(X)), collapse = ", "), ")", call. = FALSE)
  eta <- drop(X %*% beta)
  off <- stats::model.offset(mf)
  if (!is.null(off)) eta <- eta + off
  if (!is.null(object$call$offset))
    eta <- eta + eval(object$call$offset, data, env)
  attr(eta, "X") <- X
  eta
}

newdata_random <- function(object, data, bars, allow.new.levels, env) {
  g <- eval(substitute(factor(G), list(G = str2lang(object$group_name))), data, env)
  idx <- match(as.character(g), object$group_levels)
  new <- is.na(idx) & !is.na(g)
  if (any(new) && !allow.new.levels)
    stop(sprintf("'newdata' has level(s) of '%s' not in the fit (%s); use allow.new.levels = TRUE to predict them with random effects of zero",
                 object$group_name, paste(unique(as.character(g[new]))[seq_len(min(5L, sum(new)))],
                                          collapse = ", ")), call. = FALSE)
  cols <- bar_columns(object)
  B <- object$ranef$mode
  contrib <- numeric(nrow(data))
  for (k in bars) {
    lhs <- stats::as.formula(call("~", object$re_formula[[k]]), env = env)
    tt <- stats::terms(lhs)
    xlev <- stats::.getXlevels(tt, object$model)
    mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = xlev)
    Zk <- stats::model.matrix(tt, mf)
    if (!identical(colnames(Zk), object$cnames[cols[[k]]]))
      stop("'newdata' does not give the random-effects columns of the fit (",
           paste(object$cnames[cols[[k]]], collapse = ", "), ")", call. = FALSE)
    Bk <- B[idx, cols[[k]], drop = FALSE]
    Bk[is.na(idx), ] <- 0
    contrib <- contrib + rowSums(Zk * Bk)
  }
  contrib
}
