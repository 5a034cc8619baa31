# Methods for fits with several random-effect terms (class "glmmgee_glmm_sparse",
# which inherits from "glmmgee_glmm"): what differs from one grouping factor is the
# random-effect structure, kept per term in `object$reterms` (fields
# documented in fit-sparse.R). Everything else is inherited.

#' @rdname VarCorr.glmmgee_glmm
#' @export
VarCorr.glmmgee_glmm_sparse <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_sparse")
  out <- lapply(x$reterms, function(tm) varcorr_block(tm$D, tm$cnames, rep(1L, nrow(tm$D))))
  names(out) <- make.unique(x$group_name, sep = ".")
  new_varcorr(out, x, if (!missing(sigma)) sigma)
}

# Terms grouped by grouping factor (terms of `||` share one factor).
terms_by_factor <- function(object) {
  g <- object$group_name
  split(seq_along(g), factor(g, levels = unique(g)))
}

#' @rdname ranef.glmmgee_glmm
#' @export
ranef.glmmgee_glmm_sparse <- function(object, type = c("mode", "mean"), condVar = TRUE, nAGQ = NULL,
                              ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_sparse", .allow = "newdata")
  # (the posterior modes and means are the fit's own, and ranef(newdata =)
  # takes the modes: no quadrature rule to choose)
  refuse_unused(c(nAGQ = !missing(nAGQ)), "ranef() of a fit by the sparse engine",
                "fits of one grouping factor, whose posterior means it recomputes by quadrature")
  if (!is.null(list(...)$newdata)) return(ranef_new(object, list(...)$newdata))
  check_flag(condVar, "condVar")
  type <- match.arg(type)
  # (posterior means where the fit integrated by quadrature: a location-scale
  # fit on one grouping factor, glmm_dispre_agq_fit())
  mean <- type == "mean"
  if (mean && !all(vapply(object$reterms, function(tm) !is.null(tm$b_mean), TRUE)))
    stop("posterior means (type = \"mean\") need adaptive quadrature, which is available for one grouping factor; ",
         "with several random-effect terms use type = \"mode\"", call. = FALSE)
  b_of <- if (mean) "b_mean" else "b"
  v_of <- if (mean) "condvar_mean" else "condvar"
  out <- lapply(terms_by_factor(object), function(ks) {
    tms <- object$reterms[ks]
    B <- do.call(cbind, lapply(tms, `[[`, b_of))
    df <- as.data.frame(B, check.names = FALSE)
    rownames(df) <- tms[[1L]]$levels
    keep <- term_levels_shown(tms[[1L]], object$prior.weights)
    df <- df[keep, , drop = FALSE]
    if (isTRUE(condVar)) {
      q <- ncol(B)
      nl <- nrow(B)
      V <- array(0, c(q, q, nl), dimnames = list(colnames(B), colnames(B), tms[[1L]]$levels))
      off <- 0L
      for (tm in tms) {
        j <- off + seq_along(tm$cnames)
        V[j, j, ] <- tm[[v_of]]
        off <- off + length(tm$cnames)
      }
      attr(df, "postVar") <- V[, , keep, drop = FALSE]
    }
    df
  })
  structure(out, type = type, class = "ranef.glmmgee_glmm")
}

#' @rdname glmm-extractors
#' @export
coef.glmmgee_glmm_sparse <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_glmm_sparse")
  # The conditional part's random effects only: where it has none, ranef()
  # gives the zero or dispersion part's by default, which are not on the
  # scale of the mean's coefficients (and then there are no groups).
  re <- if (inherits(object, c("glmmgee_glmm_dispre", "glmmgee_glmm_zire_sparse")))
          ranef(object, condVar = FALSE, component = "cond")
        else ranef(object, condVar = FALSE)
  beta <- fixef(object)
  out <- lapply(re, function(b) {
    cf <- as.data.frame(matrix(beta, nrow(b), length(beta), byrow = TRUE,
                               dimnames = list(rownames(b), names(beta))),
                        check.names = FALSE)
    for (nm in names(b)) cf[[nm]] <- (if (nm %in% names(cf)) cf[[nm]] else 0) + b[[nm]]
    cf
  })
  structure(out, class = "coef.glmmgee_glmm")
}

#' @rdname glmm-extractors
#' @export
model.matrix.glmmgee_glmm_sparse <- function(object, type = c("fixed", "random"), ...) {
  check_dots(..., .method = "model.matrix.glmmgee_glmm_sparse")
  type <- match.arg(type)
  if (type == "fixed") return(object$X)
  Z <- object$Z
  colnames(Z) <- unlist(lapply(object$reterms, function(tm)
    rep(tm$levels, each = length(tm$cnames))), use.names = FALSE)
  Z
}

#' @rdname predict.glmmgee_glmm
#' @export
predict.glmmgee_glmm_sparse <- function(object, newdata = NULL, type = c("link", "response"),
                                re.form = NULL, allow.new.levels = FALSE,
                                na.action = stats::na.pass, se.fit = FALSE, ...) {
  if (!is.null(newdata)) require_capability(object, "predict_newdata", "predict(newdata = )")
  check_dots(..., .method = "predict.glmmgee_glmm_sparse", .allow = "new_clusters")
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  if (isTRUE(list(...)$new_clusters))
    return(predict_new_clusters(object, newdata, type, se.fit, re.form, allow.new.levels,
                                na.action))
  bars <- selected_bars(object, re.form)
  if (is.null(newdata)) {
    eta <- object$eta_fixed
    cols <- unlist(lapply(object$reterms[bars], `[[`, "columns"), use.names = FALSE)
    if (length(cols))
      eta <- eta + as.numeric(object$Z[, cols, drop = FALSE] %*% object$b[cols])
    names(eta) <- names(object$fitted.values)
    return(prediction(object, eta, if (se.fit) object$X, type, object$na.action))
  }
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  env <- environment(object$formula) %||% parent.frame()
  exprs <- list(stats::formula(stats::delete.response(object$terms))[[2L]])
  for (tm in object$reterms[bars]) exprs <- c(exprs, list(tm$lhs, tm$group_expr))
  if (!is.null(object$call$offset)) exprs <- c(exprs, list(object$call$offset))
  nd <- rows_with_values(exprs, newdata, na.action, env)
  nao <- nd$na.action
  data <- nd$data
  eta <- newdata_fixed(object, data, env)
  X <- attr(eta, "X")
  attr(eta, "X") <- NULL
  for (tm in object$reterms[bars]) {
    g <- factor(eval_grouping(tm$group_expr, data, env))
    idx <- match_levels(g, tm$levels, tm$group, allow.new.levels)
    tt <- re_lhs_terms(tm$lhs, object$model, env)
    xlev <- stats::.getXlevels(tt, object$model)
    check_newdata_xlevels(xlev, data, sprintf("random-effect term (%s | %s)",
                                              paste(deparse(tm$lhs), collapse = ""), tm$group), env)
    Zk <- stats::model.matrix(tt, stats::model.frame(tt, data, na.action = stats::na.pass,
                                                     xlev = xlev))
    if (!identical(colnames(Zk), tm$cnames))
      stop("'newdata' does not give the random-effects columns of the fit (",
           paste(tm$cnames, collapse = ", "), ")", call. = FALSE)
    Bk <- tm$b[idx, , drop = FALSE]
    Bk[is.na(idx), ] <- 0
    eta <- eta + rowSums(Zk * Bk)
  }
  names(eta) <- rownames(data)
  prediction(object, eta, if (se.fit) X, type, nao)
}

# The levels of a term shown by ranef(): those with an observation of
# positive weight; for a known covariance every level of K, since the
# covariance predicts the random effects of levels without data (relatives
# without records) from those with (ngroups counts only the levels with
# data, n_levels_shown()).
term_levels_shown <- function(term, weights) {
  if (isTRUE(term$known_cov)) return(rep(TRUE, length(term$levels)))
  active_clusters(term$index, weights, length(term$levels))
}

# The term's count in ngroups: its levels with an observation of positive
# weight, also for a known covariance (K may cover relatives without
# records, which ranef() shows but the data do not have, as lme4's ngrps
# counts the levels in the data). Where every weight is positive, the
# number of distinct codes in one C++ pass (cpp_n_distinct_codes(), as
# n_distinct_codes()) in place of tabulate() over the levels; the same
# integer. -1 from it (codes it does not take) leaves the count to
# active_clusters().
n_levels_shown <- function(term, weights) {
  if (is.null(weights) || isTRUE(min(weights) > 0)) {
    k <- cpp_n_distinct_codes(term$index, length(term$levels))
    if (k >= 0L) return(k)
  }
  sum(active_clusters(term$index, weights, length(term$levels)))
}
