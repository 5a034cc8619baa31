# Small accessors that the interpretation layer (odds ratios, marginal
# coefficients, standardization, plots) uses to read a fitted glmm or gee.
# Everything that depends on how a fit stores its random-effect structure
# goes through re_structure(), so a change of layout (several grouping
# factors) touches one place.

is_glmm <- function(fit) inherits(fit, "glmm")
is_gee <- function(fit) inherits(fit, "glmmgee_gee")

check_fit <- function(fit, what, arg = "fit") {
  if (!is_glmm(fit) && !is_gee(fit))
    stop(sprintf("'%s' must be a fit from glmm() or gee(), not an object of class \"%s\" (%s)",
                 arg, class(fit)[1L], what), call. = FALSE)
  invisible(fit)
}

# The random-effect structure of a glmm: one grouping factor with q
# correlated (block-diagonal) effects b_i = Lambda u_i, u_i ~ N(0, I), and
# the position of Lambda's free entries in theta. Structures this layer
# cannot handle yet (several grouping factors) are a clear error.
re_structure <- function(fit, caller) {
  if (!is_glmm(fit))
    stop(sprintf("%s() needs a fit from glmm()", caller), call. = FALSE)
  Lam <- fit$Lambda
  if (length(fit$group_name) != 1L || !is.matrix(Lam) || is.null(fit$pattern))
    stop(sprintf("%s() supports random effects on one grouping factor only; this fit has %s",
                 caller, paste(fit$group_name, collapse = ", ")), call. = FALSE)
  p <- length(fit$coefficients)
  pat <- fit$pattern
  list(q = ncol(Lam), cnames = fit$cnames, Lambda = Lam, pattern = pat, p = p,
       lambda_index = p + seq_along(pat$row), ntheta = length(fit$theta),
       group = fit$group, group_name = fit$group_name, ngroups = fit$ngroups,
       Z = fit$Z, cov_blocks = fit$cov_blocks)
}

# Lambda from a parameter vector laid out as fit$theta.
lambda_of <- function(re, theta) {
  L <- matrix(0, re$q, re$q)
  L[cbind(re$pattern$row, re$pattern$col)] <- theta[re$lambda_index]
  L
}

# Which view a fit's coefficients answer.
fit_view <- function(fit) if (is_glmm(fit)) "conditional" else "marginal"

view_label <- function(view) {
  switch(view,
         conditional = "conditional (subject-specific: for a given cluster, random effects held fixed)",
         marginal = "marginal (population-averaged: averaged over the clusters)",
         typical = "conditional on a typical cluster (random effects set to zero)")
}

# The parameters and their covariance as the interpretation layer sees them:
# for a glmm the full theta (fixed effects, Lambda entries, log sigma) with
# NA rows (parameters on a boundary) set to zero, i.e. treated as known.
fit_parameters <- function(fit) {
  if (is_glmm(fit)) {
    V <- fit$cov_theta
    if (all(is.na(V)))
      stop("the fit has no covariance of its parameters (Hessian not negative definite); standard errors are unavailable",
           call. = FALSE)
    V[is.na(V)] <- 0
    list(theta = fit$theta, vcov = V, p = length(fit$coefficients))
  } else {
    list(theta = fit$coefficients, vcov = stats::vcov(fit), p = length(fit$coefficients))
  }
}

cluster_of <- function(fit) if (is_glmm(fit)) fit$group else fit$id

# The data the model was fitted to: the rows of the model frame, with the
# original variables (so transformations such as I(x > 2) or log(x) can be
# evaluated again). Checked against the stored model matrix.
fit_data <- function(fit) {
  env <- environment(fit$formula) %||% parent.frame()
  data <- NULL
  if (!is.null(fit$call$data))
    data <- tryCatch(eval(fit$call$data, env), error = function(e) NULL)
  if (is.null(data)) data <- fit$model
  data <- as.data.frame(data)
  rows <- rownames(fit$model)
  if (!all(rows %in% rownames(data)))
    stop("the data of the fit cannot be recovered (it changed since fitting?); give 'newdata'",
         call. = FALSE)
  data <- data[rows, , drop = FALSE]
  X <- design_at(fit, data)$X
  X0 <- if (is_glmm(fit)) fit$X else fit$engine$data$X
  if (!isTRUE(all.equal(unname(X), unname(X0), check.attributes = FALSE)))
    stop("the data of the fit cannot be recovered (it changed since fitting?); give 'newdata'",
         call. = FALSE)
  data
}

# Model matrices of a fit evaluated on new data: X, the offset and, for a
# glmm, the random-effect covariates Z (columns as fit$cnames).
design_at <- function(fit, data) {
  env <- environment(fit$formula) %||% parent.frame()
  tt <- stats::delete.response(fit$terms)
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = fit$xlevels)
  X <- stats::model.matrix(tt, mf, contrasts.arg = fit$contrasts)
  off <- stats::model.offset(mf)
  if (is.null(off)) off <- rep(0, nrow(X))
  if (!is.null(fit$call$offset)) off <- off + eval(fit$call$offset, data, env)
  Z <- NULL
  if (is_glmm(fit)) {
    Zs <- lapply(fit$re_formula, function(rhs) {
      tz <- stats::terms(stats::as.formula(call("~", rhs), env = env))
      mz <- stats::model.frame(tz, data, na.action = stats::na.pass,
                               xlev = stats::.getXlevels(tz, fit$model))
      stats::model.matrix(tz, mz)
    })
    Z <- do.call(cbind, Zs)
    if (!identical(colnames(Z), fit$cnames))
      stop("the random-effects columns cannot be rebuilt from the data", call. = FALSE)
  }
  if (anyNA(X) || anyNA(off) || (!is.null(Z) && anyNA(Z)))
    stop("'newdata' has missing values in variables of the model", call. = FALSE)
  list(X = X, offset = off, Z = Z)
}

# Variables of the fixed-effects part of the model (what a user may set).
model_variables <- function(fit) {
  all.vars(stats::delete.response(fit$terms))
}
