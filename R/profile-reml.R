# Profiles of REML fits (profile.glmmgee_glmm(), criterion = ).
#
# lme4's profile() of a REML fit refits the model by ML and profiles the
# likelihood (lme4:::devfun2 calls refitML()), so its profile intervals of a
# REML fit are those of the ML fit. criterion = "ML" does the same, and so
# matches confint(lmer fit); criterion = "REML" profiles the restricted
# likelihood itself for the covariance parameters (standard deviations,
# correlations, sigma). The restricted likelihood
# does not depend on the fixed effects, so they have no restricted profile.

reml_profile_criterion <- function(criterion) {
  if (is.null(criterion)) return("ML")
  if (!is.character(criterion) || length(criterion) != 1L || !criterion %in% c("ML", "REML"))
    stop("'criterion' must be \"ML\" (lme4's profile of a REML fit: the ML refit) or \"REML\" (the restricted likelihood)",
         call. = FALSE)
  criterion
}

# The ML refit of a REML fit, for criterion = "ML" and for anova()
# (methods-reml.R). update() needs the fit's data; a fit made inside a
# function, whose data were local to it, has lost them, so then the model
# frame stored in the fit stands in for the data (when it holds every
# variable of the formula), as lme4's refitML() works from its stored frame.
# The formula is the stored one: the call may name it by a variable (f in
# lapply(forms, function(f) glmm(f, ...))) that now holds something else.
reml_ml_refit <- function(fitted, quiet = TRUE) {
  on_frame <- function(why) {
    alt <- refit_on_frame(fitted, REML = FALSE)
    if (is.null(alt))
      stop(sprintf("the REML fit could not be refitted by maximum likelihood with update(fit, REML = FALSE): %s; refit it with REML = FALSE where its data are visible",
                   why), call. = FALSE)
    alt
  }
  refit <- function() {
    out <- tryCatch(stats::update(fitted, formula. = fitted$formula, REML = FALSE),
                    error = function(e) on_frame(conditionMessage(e)))
    # Data of the same name found elsewhere (a global 'd' beside the
    # function's local one) would give another model's likelihood.
    if (!same_response(out, fitted))
      out <- on_frame("its data name other rows elsewhere")
    out
  }
  if (quiet) suppressWarnings(refit()) else refit()
}

same_response <- function(a, b) {
  ya <- a$y
  yb <- b$y
  length(ya) == length(yb) && isTRUE(all.equal(unname(ya), unname(yb), tolerance = 0)) &&
    isTRUE(all.equal(unname(a$prior.weights), unname(b$prior.weights), tolerance = 0))
}

# The fit's call evaluated on its stored model frame (rows already chosen by
# subset and na.action, weights and offset taken from the frame), with the
# stored formula; NULL when the frame lacks a variable of the formula (a
# transformation such as log(y) or offset(v) keeps only the result).
refit_on_frame <- function(fit, ...) {
  mf <- fit$model
  call <- fit$call
  fo <- fit$formula
  if (!is.data.frame(mf) || is.null(call) || !inherits(fo, "formula") ||
      !all(all.vars(fo) %in% names(mf)))
    return(NULL)
  call <- frame_call(fit, fo)
  call$data <- frame_data(mf)
  extra <- list(...)
  for (a in names(extra)) call[[a]] <- extra[[a]]
  out <- eval(call, environment(fo))
  out$call <- fit$call
  for (a in names(extra)) out$call[[a]] <- extra[[a]]
  out
}

# The fit's call for a refit on the rows of its model frame: glmm() with
# the formula `fo`, no subset or na.action, the frame's weights and offset,
# the fit's known covariance (call_with_fit_covariance()).
frame_call <- function(fit, fo = fit$formula) {
  call <- call_with_fit_covariance(fit$call, fit)
  call[[1L]] <- glmm
  call$formula <- fo
  call$subset <- NULL
  call$na.action <- NULL
  call$weights <- fit$model[["(weights)"]]
  call$offset <- fit$model[["(offset)"]]
  call
}

# A model frame as data: its variables without the weights, the offset and
# the frame's attributes.
frame_data <- function(mf) {
  d <- mf[, setdiff(names(mf), c("(weights)", "(offset)")), drop = FALSE]
  attr(d, "terms") <- NULL
  attr(d, "na.action") <- NULL
  d
}

# The restricted log-likelihood with sigma free, and its exact gradient, at
# (lambda, log sigma) on the design whose sufficient statistics are `suff`
# (Z scaled by `sz`): the pieces come from cpp_lmm_eval (lmm-onefactor.cpp).
lmm_reml_loglik <- function(suff, pat, par, sz, p) {
  nl <- length(par)
  ls <- par[[nl]]
  s <- sz[pat$row] * exp(-ls)
  th <- par[-nl] * s
  r <- cpp_lmm_eval(suff, th, pat$row - 1L, pat$col - 1L, TRUE, TRUE)
  if (!is.finite(r$deviance)) return(list(loglik = -Inf, gradient = rep(NA_real_, nl)))
  nmp <- suff$n - p
  e2 <- exp(-2 * ls)
  gth <- -0.5 * (r$grad_ldA + r$grad_ldC + r$grad_pwrss * e2)
  list(loglik = -0.5 * (r$ldA + r$ldC + nmp * (log(2 * pi) + 2 * ls) + r$pwrss * e2 - suff$logw),
       gradient = c(gth * s, -nmp + r$pwrss * e2 - sum(gth * th)))
}

# The profile engine (profile-engine.R's interface) of the restricted
# likelihood of a one-factor REML fit: a function of the whole theta whose
# fixed-effect entries do not matter.
reml_profile_engine <- function(fit) {
  if (inherits(fit, "glmmgee_glmm_sparse")) return(reml_sparse_profile_engine(fit))
  p <- length(fit$coefficients)
  n <- length(fit$y)
  pat <- fit$pattern
  w <- fit$prior.weights %||% rep(1, n)
  off <- fit$offset %||% rep(0, n)
  Z <- fit$Z %||% matrix(1, n, 1L)
  keep <- w > 0
  xd <- profile_design(fit)
  suff <- cpp_lmm_suff(xd$X[keep, , drop = FALSE], as.matrix(Z)[keep, , drop = FALSE],
                       (fit$y - off)[keep], w[keep], fit$group[keep], length(fit$group_levels))
  sz <- rep(1, ncol(Z))
  shift <- reml_design_shift(xd$Tx)
  list(eval = function(th) {
         r <- lmm_reml_loglik(suff, pat, th[-seq_len(p)], sz, p)
         list(loglik = r$loglik - shift, gradient = c(rep(0, p), r$gradient))
       },
       lower = c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), -Inf),
       free = function() NULL)
}

# The restricted likelihood on profile_design()'s X* = X T^-1 exceeds the
# user's X's by log|det T| (-log det X*'V^-1 X* / 2 = -log det X'V^-1 X / 2
# + log|det T|); the covariance parameters are the same on both. On the
# user's X the restricted profile with x * 1e-6 - 5 lost digits (the
# standard deviation's upper limit 0.930 for 1.085).
reml_design_shift <- function(Tx) {
  if (is.null(Tx)) return(0)
  as.numeric(determinant(Tx, logarithm = TRUE)$modulus)
}

# Which targets a restricted profile can trace: not the fixed effects.
# Those the user named (`arg`: "which" or confint()'s "parm") are an error,
# not dropped; otherwise confint() reports the covariance parameters only.
reml_profile_targets <- function(targets, arg = NULL) {
  fixed <- reml_fixed_targets(targets)
  if (all(fixed))
    stop("profile(criterion = \"REML\"): the restricted likelihood does not depend on the fixed effects; select a covariance parameter in 'which', or use criterion = \"ML\" (as lme4)",
         call. = FALSE)
  if (any(fixed) && !is.null(arg))
    stop(sprintf("'%s': %s %s no restricted profile (the restricted likelihood does not depend on the fixed effects); leave %s out, or use criterion = \"ML\" (as lme4)",
                 arg, paste(sQuote(names(targets)[fixed], FALSE), collapse = ", "),
                 if (sum(fixed) > 1L) "have" else "has", if (sum(fixed) > 1L) "them" else "it"),
         call. = FALSE)
  targets[!fixed]
}

reml_fixed_targets <- function(targets)
  vapply(targets, function(tg) tg$kind == "coef" && !tg$log, TRUE)

# The same for several terms: the restricted log-likelihood from the
# penalized least squares criterion (fit-lmm-sparse.R), its gradient by
# central differences (each evaluation is one sparse factorization).
reml_sparse_profile_engine <- function(fit) {
  p <- length(fit$coefficients)
  re <- sparse_re_terms(fit$formula, fit$model, NULL)
  xd <- profile_design(fit)
  st <- lmm_sparse_setup(xd$X, fit$y, re, fit$prior.weights, fit$offset)
  shift <- reml_design_shift(xd$Tx)
  ll <- function(par) lmm_sparse_loglik(st, par, TRUE) - shift
  list(eval = function(th) {
         par <- th[-seq_len(p)]
         l0 <- ll(par)
         g <- fd_gradient(ll, par, 1e-5 * pmax(abs(par), 1e-2))
         list(loglik = l0, gradient = c(rep(0, p), g))
       },
       lower = c(rep(-Inf, p), re$lower, -Inf),
       free = function() NULL)
}
