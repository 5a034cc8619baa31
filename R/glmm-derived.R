# Fields of a glmm object that are not stored but rebuilt when asked for.
#
# At a million observations each length-n vector is 8 MB and X several
# times that, so new_glmm() stores only what cannot be recomputed cheaply
# (model frame, response, cluster codes, estimates, predicted random
# effects). `fit$X`, `fit$fitted.values` and the others below still work:
# `$` finds them missing from the list and computes them from the stored
# pieces, so every method and the interpretation functions see the same
# values as before, and the object stays plain data (saveRDS() keeps it
# whole). Objects that do store a field (the sparse engine's, objects from
# older versions) return the stored value.

glmm_derived_fields <- c("X", "Z", "eta_fixed", "linear.predictors", "fitted.values",
                         "prior.weights", "offset", "xlevels")

#' @export
`$.glmmgee_glmm` <- function(x, name) {
  v <- .subset2(x, name, exact = FALSE)
  # A record of an earlier version, read on today's schema (fit-object.R).
  if (identical(name, "optinfo") && !is.null(v) && !"converged" %in% names(v))
    return(upgrade_optinfo(v))
  if (!is.null(v) || is.null(.subset2(x, "model"))) return(v)
  # Partial names as `$` allows them on lists (fit$fitted).
  k <- pmatch(name, glmm_derived_fields)
  if (is.na(k)) return(v)
  glmm_derived(x, glmm_derived_fields[[k]])
}

glmm_derived <- function(x, name) {
  n <- .subset2(x, "n")
  switch(name,
    # Same call as glmm() made, with the contrasts it used.
    X = stats::model.matrix(.subset2(x, "terms"), .subset2(x, "model"),
                            contrasts.arg = .subset2(x, "contrasts")),
    # Z is left out only for a lone random intercept.
    Z = matrix(1, n, 1L),
    prior.weights = rep(1, n),
    # The factor levels of the fixed-effects variables, for new data: only
    # predict() and the interpretation functions read them (about 0.1 ms of
    # a 2 ms fit, spent on every fit).
    xlevels = stats::.getXlevels(.subset2(x, "terms"), .subset2(x, "model")),
    offset = rep(0, n),
    # c() and names<- keep model.matrix's lazy row names lazy; drop()
    # would expand them into a million strings at a million rows.
    eta_fixed = {
      X <- x$X
      eta <- c(X %*% .subset2(x, "coefficients")) + x$offset
      names(eta) <- rownames(X)
      eta
    },
    linear.predictors = {
      eta <- x$eta_fixed
      B <- .subset2(x, "ranef")$mode
      g <- .subset2(x, "group")
      Z <- .subset2(x, "Z")
      if (is.null(Z)) eta + unname(B[, 1L])[g] else eta + rowSums(Z * B[g, , drop = FALSE])
    },
    fitted.values = .subset2(x, "family")$linkinv(x$linear.predictors))
}
