# update() for glmm and gee fits. stats' default evaluates the new call in
# the caller's frame, so a fit made inside a function (data local to it)
# cannot be updated from outside; as lme4 does, the call is evaluated where
# the model formula was made first, then in the caller's frame. The
# arguments given to update() are the caller's, as stats::update()'s: their
# variables are looked up in the caller's frame (update_env()).

#' Update and refit a glmm or gee model
#'
#' As [stats::update()]: changes the formula (`formula.`, with `.` standing
#' for the old one) or other arguments of the call and refits. The call is
#' evaluated in the environment of the model formula, where its data were
#' found when it was fitted, and otherwise in the caller's frame. The
#' arguments given to `update()` are evaluated as [stats::update()]
#' evaluates them: their variables (other than the columns of `data`) are
#' the caller's, also where a variable of the same name exists in the
#' formula's environment. A fit with a known covariance (`covariance =` of
#' [glmm()]) is refitted with the covariance it was made with (the object
#' its call names may have changed since, or be out of reach), unless
#' `update()` gives `covariance` anew.
#'
#' @param object A fit from [glmm()] or [gee()].
#' @param formula. Changes to the formula.
#' @param ... Other arguments of the call to change.
#' @param evaluate If `FALSE`, return the new call unevaluated.
#' @return The refitted model (or the call).
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   fit0 <- update(fit, . ~ . - period)
#'   anova(fit0, fit)
#' }
#' @name update.glmmgee
NULL

#' @rdname update.glmmgee
#' @export
update.glmmgee_glmm <- function(object, formula., ..., evaluate = TRUE) {
  require_capability(object, "refit", "update()")
  update_fit(object, if (!missing(formula.)) formula., match.call(expand.dots = FALSE)$...,
             evaluate, parent.frame())
}

#' @rdname update.glmmgee
#' @export
update.glmmgee_gee <- function(object, formula., ..., evaluate = TRUE) {
  update_fit(object, if (!missing(formula.)) formula., match.call(expand.dots = FALSE)$...,
             evaluate, parent.frame())
}

# `extras`: the unevaluated arguments to change, as match.call() gives them
# in the method (here they would be ..1, ..2).
update_fit <- function(object, formula., extras, evaluate, caller) {
  call <- object$call
  if (is.null(call)) stop("the fit has no call to update (a matrix-level fit?)", call. = FALSE)
  if (!is.null(formula.))
    call$formula <- stats::update(stats::formula(object), formula.)
  if (length(extras) && (is.null(names(extras)) || any(!nzchar(names(extras)))))
    stop("arguments to change in update() must be named", call. = FALSE)
  # As stats::update(): an existing argument is replaced (NULL drops it), a
  # new one appended.
  existing <- names(extras) %in% names(call)
  for (a in names(extras)[existing]) call[[a]] <- extras[[a]]
  if (any(!existing)) call <- as.call(c(as.list(call), extras[!existing]))
  # the known covariance the fit was made with, unless given anew
  if (!"covariance" %in% names(extras)) call <- call_with_fit_covariance(call, object)
  if (!isTRUE(evaluate)) return(call)
  env <- environment(stats::formula(object))
  if (is.null(env)) return(restore_call_covariance(eval(call, caller), object))
  scope <- update_env(env, caller, extras)
  if (!identical(scope, env) && inherits(call$formula, "formula") &&
      identical(environment(call$formula), env))
    environment(call$formula) <- scope
  restore_call_covariance(tryCatch(eval(call, scope), error = function(e) eval(call, caller)),
                          object)
}

# Where the new call is evaluated: the formula's environment `env` (the
# call's other arguments, and variables of the formula not in 'data', are
# found there as when the model was fitted) under a frame holding the
# caller's values of the variables named in the changed arguments `extras`
# where they differ from env's. Evaluating those arguments in env alone
# took a global `k` for update(fit, nAGQ = k) called with a local `k`; the
# arguments that model.frame() evaluates in 'data' (subset, weights, ...)
# still see its columns first. The refit's formula gets this environment,
# so updating it again sees the same values.
update_env <- function(env, caller, extras) {
  vars <- unique(unlist(lapply(extras, all.vars), use.names = FALSE))
  out <- new.env(parent = env)
  none <- new.env()  # a sentinel: not found
  for (v in vars) {
    val <- get0(v, envir = caller, inherits = TRUE, ifnotfound = none)
    if (identical(val, none) || identical(val, get0(v, envir = env, ifnotfound = none)))
      next
    assign(v, val, envir = out)
  }
  if (length(ls(out, all.names = TRUE))) out else env
}
