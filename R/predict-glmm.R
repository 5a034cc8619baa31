# Predictions from a fitted GLMM, for the fitted data or new data.

#' Predictions from a fitted GLMM
#'
#' Linear predictor or mean, with or without the predicted random effects.
#'
#' With `re.form = NULL` the predictions are conditional on each cluster's
#' predicted random effects (posterior modes, as [ranef()]); clusters not
#' seen in the fit are an error naming them, as in lme4 (a label written
#' differently, `"001"` for `1`, is a new level); with
#' `allow.new.levels = TRUE` they (and missing cluster labels) get random
#' effects of zero, i.e. the population-level prediction for a typical
#' cluster (b = 0). With `re.form = NA` (or `~ 0`) all random
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
#' **binomial(link = "log").** A prediction \eqn{\exp(\eta)} above 1 (new
#' covariate values, or random effects, that push \eqn{\eta} past 0) is
#' not a probability: the model has no distribution there. It is returned as
#' computed, not capped, with a warning naming the rows, so that an
#' extrapolation is not passed off as a certainty and a prediction keeps its
#' standard error; [predict()] of [gee()] fits, [standardize()] and
#' [marginal_coefs()] do the same. [simulate()], which must draw, caps such
#' probabilities at 1 and says so.
#'
#' @param object A fitted model from [glmm()].
#' @param newdata Optional data frame; by default the data of the fit.
#' @param type `"link"` (linear predictor) or `"response"` (mean).
#' @param re.form Which random effects to include: `NULL` all, `NA` or
#'   `~ 0` none, or a formula with some of the model's random-effect terms.
#'   For a fit with random effects in `ziformula` or `dispformula` it
#'   applies to every part: a formula keeps in each part the terms it
#'   names that belong to that part, written as in that part's formula (see
#'   [glmm-zero-inflation]).
#' @param allow.new.levels If `FALSE` (the default, as in lme4), cluster
#'   labels in `newdata` that were not in the fit are an error; if `TRUE`
#'   they get random effects of zero.
#' @param na.action Function for missing values in `newdata`.
#' @param se.fit Also return standard errors. They come from the
#'   uncertainty of the fixed effects only, by the delta method with
#'   [vcov()]: \eqn{\sqrt{x'Vx}} on the link scale, times
#'   \eqn{|d\mu/d\eta|} at the prediction for `type = "response"`. The
#'   predicted random effects are treated as known, so with `re.form = NA`
#'   they are the standard errors of the typical-cluster prediction
#'   (glmmTMB's `predict(re.form = NA, se.fit = TRUE)`); they do not include
#'   the prediction error of a cluster's random effect.
#' @param ... `new_clusters = TRUE`: predict each cluster of `newdata` from
#'   its own observations (the response must be in `newdata`), with its
#'   random effects predicted by [ranef_new()] (posterior modes, parameters
#'   fixed) instead of taken from the fit or set to zero. Rows with a
#'   missing value give `NA` (or are dropped, by `na.action`); `se.fit`,
#'   `re.form` and `allow.new.levels` are errors with it.
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
#'   predict(fit, nd, type = "response", allow.new.levels = TRUE)  # b = 0
#'   predict(fit, nd, re.form = NA, type = "response")
#'   predict(fit, nd, re.form = NA, type = "response", se.fit = TRUE)
#' }
#' @export
predict.glmmgee_glmm <- function(object, newdata = NULL, type = c("link", "response"),
                         re.form = NULL, allow.new.levels = FALSE, na.action = stats::na.pass,
                         se.fit = FALSE, ...) {
  if (!is.null(newdata)) require_capability(object, "predict_newdata", "predict(newdata = )")
  check_dots(..., .method = "predict.glmmgee_glmm", .allow = "new_clusters")
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  if (isTRUE(list(...)$new_clusters))
    return(predict_new_clusters(object, newdata, type, se.fit, re.form, allow.new.levels,
                                na.action))
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
  newdata <- na_columns_as_fit(object, newdata)
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
  warn_binlog_over(object$family, exp(eta), names(eta),
                   if (type == "response") "predicted probabilities"
                   else "predicted probabilities exp(eta) of these linear predictors")
  if (is.null(X)) return(stats::napredict(na.action, pred))
  se <- sqrt(pmax(delta_var(X, vcov(object), cov_star_of(object)), 0))
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
  model_bars <- find_bars(object$formula)
  all_bars <- seq_along(model_bars)
  if (is.null(re.form)) return(all_bars)
  if (length(re.form) == 1L && !is.language(re.form) && is.na(re.form)) return(integer())
  if (!inherits(re.form, "formula"))
    stop("'re.form' must be NULL, NA or a formula such as ~ 0 or ~ (1 | g)", call. = FALSE)
  want <- find_bars(re.form)
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
  rows_with_values(exprs, newdata, na.action, env)
}

# na.action over the variables of `exprs` (not the expressions: poly(x, 2)
# or scale(x) evaluated on a few new rows would fail or differ from the
# fit), giving the rows kept and the na.action record.
rows_with_values <- function(exprs, newdata, na.action, env) {
  vars <- unique(unlist(lapply(exprs, all.vars)))
  vars <- vars[vars %in% names(newdata)]
  if (!length(vars)) return(list(data = newdata, na.action = NULL))
  rhs <- Reduce(function(a, b) call("+", a, b), lapply(vars, as.name))
  mf <- stats::model.frame(stats::as.formula(call("~", rhs), env = env), newdata,
                           na.action = na.action)
  nao <- attr(mf, "na.action")
  data <- if (is.null(nao)) newdata else newdata[-as.integer(nao), , drop = FALSE]
  list(data = data, na.action = nao)
}

# A column of `newdata` that is all NA is logical (data.frame(x = c(NA,
# NA))); where the fit's column of that name is numeric it is made
# NA_real_, so the rows are missing values (NA predictions) rather than a
# logical that model.matrix() turns into an "xTRUE" column the fit lacks.
na_columns_as_fit <- function(object, newdata) {
  frame <- .subset2(object, "frame_prototype") %||% .subset2(object, "model")
  if (!is.data.frame(frame)) return(newdata)
  for (v in intersect(names(newdata), names(frame))) {
    col <- newdata[[v]]
    if (is.logical(col) && is.null(dim(col)) && all(is.na(col)) && is.numeric(frame[[v]]) &&
        is.null(dim(frame[[v]])))
      newdata[[v]] <- as.numeric(col)
  }
  newdata
}

# A factor of a model part's fixed effects whose level in `newdata` was not
# in the fit: the package's error, naming the variable, the part and the
# level(s), before model.frame() says only "factor x has new levels". A
# numeric column for such a factor (its levels' codes) is an error naming
# it, where model.frame() said "contrasts apply only to factors".
# `xlevels`: the part's levels as the fit recorded them. A factor made in
# the formula (`factor(z)`) is the expression evaluated on `newdata` in
# `env` (the formula's environment), as model.frame() will evaluate it.
check_newdata_xlevels <- function(xlevels, newdata, part, env = parent.frame()) {
  for (v in names(xlevels)) {
    col <- if (v %in% names(newdata)) newdata[[v]]
    if (is.numeric(col) && !is.factor(col) && !all(is.na(col)))
      stop(sprintf(paste0("'newdata' has '%s' as numbers; the fit has it as a factor (%s) with ",
                          "levels %s%s: give its levels as a factor or as character strings"),
                   v, part, paste(sQuote(utils::head(xlevels[[v]], 10L), FALSE), collapse = ", "),
                   if (length(xlevels[[v]]) > 10L) ", ..." else ""), call. = FALSE)
    lab <- if (v %in% names(newdata)) as.character(col) else {
      ex <- tryCatch(str2lang(v), error = function(e) NULL)
      val <- if (!is.null(ex) && length(all.vars(ex)) && all(all.vars(ex) %in% names(newdata)))
        tryCatch(eval(ex, newdata, env), error = function(e) NULL)
      if (is.factor(val) || is.character(val) || is.logical(val)) as.character(val)
    }
    if (is.null(lab)) next
    unseen <- unique(lab[!is.na(lab) & !(lab %in% xlevels[[v]])])
    if (length(unseen))
      stop(sprintf("'newdata' has %d level(s) of the factor '%s' (%s) not in the fit: %s%s; the fit's levels are %s%s",
                   length(unseen), v, part,
                   paste(sQuote(utils::head(unseen, 5L), FALSE), collapse = ", "),
                   if (length(unseen) > 5L) ", ..." else "",
                   paste(sQuote(utils::head(xlevels[[v]], 10L), FALSE), collapse = ", "),
                   if (length(xlevels[[v]]) > 10L) ", ..." else ""),
           call. = FALSE)
  }
  invisible(NULL)
}

# Variables of a model part's terms that `newdata` lacks (and the formula's
# environment does not hold): the package's error naming them, instead of
# model.frame()'s "object 'x' not found".
check_newdata_vars <- function(tt, newdata, part, env = parent.frame()) {
  vars <- all.vars(stats::delete.response(tt))
  miss <- vars[!vars %in% names(newdata)]
  miss <- miss[!vapply(miss, is_data_object, TRUE, env = env)]
  if (length(miss))
    stop(sprintf("'newdata' lacks the variable%s %s of the %s",
                 if (length(miss) > 1L) "s" else "",
                 paste(sQuote(miss, FALSE), collapse = ", "), part), call. = FALSE)
  invisible(NULL)
}

# A variable the formula's environment holds as data: not a function such
# as base's t() or c(), which a column missing from 'newdata' would
# otherwise find ("non-numeric argument to mathematical function").
is_data_object <- function(v, env) {
  exists(v, envir = env) && !is.function(get(v, envir = env))
}

newdata_fixed <- function(object, data, env) {
  tt <- stats::delete.response(object$terms)
  check_newdata_vars(tt, data, "fixed effects of the conditional part", environment(tt) %||% env)
  check_newdata_xlevels(object$xlevels, data, "fixed effects of the conditional part",
                        environment(tt) %||% env)
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = object$xlevels)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  beta <- fixef(object)
  if (!identical(colnames(X), names(beta)))
    stop("'newdata' does not give the fixed-effects columns of the fit (",
         paste(setdiff(names(beta), colnames(X)), collapse = ", "), ")", call. = FALSE)
  eta <- drop(X %*% beta)
  off <- stats::model.offset(mf)
  if (!is.null(off)) eta <- eta + off
  eta <- eta + newdata_offset(object$call$offset, data, env, length(eta))
  attr(eta, "X") <- X
  eta
}

newdata_random <- function(object, data, bars, allow.new.levels, env) {
  g <- factor(eval_grouping(str2lang(object$group_name), data, env))
  idx <- match_levels(g, object$group_levels, object$group_name, allow.new.levels)
  cols <- bar_columns(object)
  B <- object$ranef$mode
  contrib <- numeric(nrow(data))
  # A distributed fit keeps only an empty frame with the levels (its rows
  # stayed on the workers).
  frame <- .subset2(object, "frame_prototype") %||% object$model
  for (k in bars) {
    Zk <- newdata_re_term_design(object$re_formula[[k]], object$group_name, frame, data, env)
    if (!identical(colnames(Zk), object$cnames[cols[[k]]]))
      stop("'newdata' does not give the random-effects columns of the fit (",
           paste(object$cnames[cols[[k]]], collapse = ", "), ")", call. = FALSE)
    Bk <- B[idx, cols[[k]], drop = FALSE]
    Bk[is.na(idx), ] <- 0
    contrib <- contrib + rowSums(Zk * Bk)
  }
  contrib
}

# The design of a random-effect term's left-hand side `lhs` (`1 + x` of
# `(1 + x | g)`) on new data, coded as in the fit: by the term's own terms
# with the predvars of the fit's model frame `frame` (scale(x), poly(x)
# keep the fit's centring and scaling), the factors' levels of the fit, and
# a row of NAs where a variable is missing. `group`: the grouping's name,
# for the message of a level not in the fit.
newdata_re_term_design <- function(lhs, group, frame, data, env) {
  tt <- re_lhs_terms(lhs, frame, env)
  xlev <- stats::.getXlevels(tt, frame)
  check_newdata_xlevels(xlev, data, sprintf("random-effect term (%s | %s)",
                                            paste(deparse(lhs), collapse = ""), group), env)
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = xlev)
  stats::model.matrix(tt, mf)
}

# The value of the fit's `offset =` argument on new data. Evaluated in
# `data` first; an expression that finds its values elsewhere (a vector in
# the workspace) has one value per row of the original data, and adding it
# would recycle it silently, so anything but one value per new row is an
# error.
newdata_offset <- function(expr, data, env, n) {
  if (is.null(expr)) return(0)
  vars <- all.vars(expr)
  miss <- vars[!vars %in% names(data)]
  miss <- miss[!vapply(miss, is_data_object, TRUE, env = env)]
  if (length(miss))
    stop(sprintf("'newdata' lacks the variable%s %s of the fit's 'offset = %s'",
                 if (length(miss) > 1L) "s" else "", paste(sQuote(miss, FALSE), collapse = ", "),
                 paste(deparse(expr, 500L), collapse = "")), call. = FALSE)
  off <- eval(expr, data, env)
  if (!is.numeric(off) || length(off) != n)
    stop(sprintf(paste0("the fit's 'offset = %s' gives %d value(s) on 'newdata', which has %d row(s); ",
                        "put the offset in a column of 'newdata' (and of the data of the fit) ",
                        "or use an offset() term in the formula"),
                 paste(deparse(expr, 500L), collapse = ""), length(off), n), call. = FALSE)
  off
}

# Positions of the cluster labels `g` of new data among the fit's `levels`
# (NA for new and missing labels). New labels are an error unless
# `allow`, as in lme4; the error names them and points out labels that
# match a fitted level only as numbers ("001" versus 1), the usual way a
# whole column silently falls back to b = 0. A missing label is an error
# too unless `allow` (lme4's rule): otherwise a row whose cluster was not
# recorded would pass for a typical cluster's prediction. `part` names the
# model part of the grouping ("zero part") where there is more than one.
match_levels <- function(g, levels, name, allow, part = NULL) {
  if (!is.logical(allow) || length(allow) != 1L || is.na(allow))
    stop("'allow.new.levels' must be TRUE or FALSE", call. = FALSE)
  lab <- as.character(g)
  idx <- match(lab, levels)
  if (allow || !anyNA(idx)) return(idx)
  what <- if (is.null(part)) sQuote(name, FALSE) else sprintf("%s (%s)", sQuote(name, FALSE), part)
  if (anyNA(lab))
    stop(sprintf(paste0("'newdata' has %d missing value(s) of the grouping variable %s (row%s %s); ",
                        "use allow.new.levels = TRUE to predict them with random effects of zero"),
                 sum(is.na(lab)), what, if (sum(is.na(lab)) > 1L) "s" else "",
                 paste(utils::head(which(is.na(lab)), 5L), collapse = ", ")), call. = FALSE)
  unseen <- unique(lab[is.na(idx)])
  stop(sprintf(paste0("'newdata' has %d level(s) of %s not in the fit: %s%s. ",
                      "Use allow.new.levels = TRUE to predict them with random effects of zero%s"),
               length(unseen), what,
               paste(sQuote(utils::head(unseen, 5L), FALSE), collapse = ", "),
               if (length(unseen) > 5L) ", ..." else "",
               number_match_hint(unseen, levels)), call. = FALSE)
}

# The part of a "not in the fit" error pointing out new labels that equal
# a fitted level only as numbers ("001" versus 1); "" when none do.
number_match_hint <- function(unseen, levels) {
  num <- function(x) suppressWarnings(as.numeric(x))
  as_num <- num(unseen) %in% stats::na.omit(num(levels)) & !is.na(num(unseen))
  if (!any(as_num)) return("")
  sprintf(" (%s equal a fitted level only as numbers, e.g. %s versus %s: write the labels as in the fit)",
          if (sum(as_num) == 1L) "one" else sum(as_num),
          sQuote(unseen[as_num][1L], FALSE),
          sQuote(levels[match(num(unseen[as_num][1L]), num(levels))], FALSE))
}
