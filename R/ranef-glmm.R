# Predicted random effects (empirical Bayes) of a fitted GLMM.

#' Predicted random effects of a GLMM
#'
#' Empirical-Bayes predictions of each cluster's random effects \eqn{b_i},
#' given the data and the estimated parameters.
#'
#' `type = "mode"` (the default, as lme4) gives the posterior modes; their
#' conditional variances are the inverse curvature of the log posterior at
#' the mode (the Laplace approximation to the posterior covariance).
#' `type = "mean"` gives the posterior means and covariances computed by
#' adaptive Gauss-Hermite quadrature with `nAGQ` points per random effect;
#' by default the fit's own `nAGQ`, or [default_nAGQ()] for a Laplace fit
#' (the parameters stay at their estimates; only the posterior moments are
#' recomputed). For gaussian models mode and mean coincide. Both shrink
#' towards zero, the more so the less information a cluster carries.
#'
#' @param object A fitted model from [glmm()].
#' @param type `"mode"` or `"mean"`.
#' @param condVar Attach the conditional (posterior) covariances as the
#'   attribute `"postVar"`, a q x q x M array.
#' @param nAGQ For `type = "mean"` and `newdata`: quadrature points per
#'   random effect (an error with `type = "mode"`).
#' @param x A `ranef.glmmgee_glmm` object.
#' @param row.names,optional Ignored.
#' @param level For `as.data.frame()`: if given (e.g. 0.95), add columns
#'   `lower` and `upper`, the prediction intervals `condval` \eqn{\pm z}
#'   `condsd` (normal approximation to the posterior of each random effect).
#' @param ... `newdata`: observations of new clusters, whose random effects
#'   are then predicted from them by [ranef_new()]; otherwise ignored.
#' @return A list of class `ranef.glmmgee_glmm` with one data frame named by the
#'   grouping factor: one row per cluster (named by its level), one column
#'   per random-effect term. `as.data.frame()` gives the long form with
#'   columns `grpvar`, `term`, `grp`, `condval` and `condsd` (and `lower`,
#'   `upper` when `level` is given). [plot_ranef()] draws them ranked.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial, nAGQ = 1)
#'   re <- ranef(fit)
#'   head(re$herd)
#'   head(as.data.frame(re, level = 0.95))
#'   head(ranef(fit, type = "mean")$herd)
#' }
#' @export
ranef.glmmgee_glmm <- function(object, type = c("mode", "mean"), condVar = TRUE, nAGQ = NULL,
                       ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm", .allow = "newdata")
  if (!is.null(list(...)$newdata)) return(ranef_new(object, list(...)$newdata, nAGQ = nAGQ))
  type <- match.arg(type)
  if (type == "mode") {
    # the posterior modes use no quadrature: nAGQ with them is an error (it
    # was ignored)
    refuse_unused(c(nAGQ = !missing(nAGQ)), "ranef(type = \"mode\")",
                  "the posterior means (type = \"mean\") and ranef(newdata = )")
    B <- object$ranef$mode
    V <- object$ranef$mode_var
  } else {
    if (is.null(nAGQ))
      nAGQ <- if (object$nAGQ > 1L) object$nAGQ else default_nAGQ(length(object$cnames), object$family)
    nAGQ <- check_nAGQ(nAGQ, length(object$cnames))
    if (nAGQ == object$nAGQ) {
      B <- object$ranef$mean
      V <- object$ranef$var
    } else {
      pm <- posterior_moments(object, nAGQ)
      B <- pm$mean
      V <- pm$var
    }
  }
  ranef_table(object, B, V, condVar, type)
}

# The ranef() object of a one-factor fit from the modes or means B
# (clusters x q) and their covariances V (q x q x clusters): the clusters
# with observations, V as attribute "postVar" when condVar.
ranef_table <- function(object, B, V, condVar, type) {
  df <- as.data.frame(B, check.names = FALSE)
  rownames(df) <- object$group_levels
  keep <- active_clusters(object$group, object$prior.weights, length(object$group_levels))
  df <- df[keep, , drop = FALSE]
  if (isTRUE(condVar)) attr(df, "postVar") <- V[, , keep, drop = FALSE]
  structure(stats::setNames(list(df), object$group_name), type = type,
            class = "ranef.glmmgee_glmm")
}

# Posterior means and covariances of b_i at the fitted parameters under an
# nAGQ-point rule: a fresh engine on the stored data, used and dropped here,
# so the fitted object itself never holds a pointer.
posterior_moments <- function(object, nAGQ) {
  # The engine rebuilt here carries no zero-inflation or dispersion formula.
  if (!is.null(object$aux))
    stop("'nAGQ': posterior summaries at another number of quadrature points are not ",
         "available for zero-inflated, hurdle or dispersion-formula fits", call. = FALSE)
  fam <- object$family
  pat <- object$pattern
  eng <- cpp_agq_new(object$X, object$Z, as.numeric(object$y), as.numeric(object$prior.weights),
                     as.numeric(object$offset), object$group, length(object$group_levels),
                     pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                     nAGQ, 1L)
  on.exit(cpp_agq_free(eng), add = TRUE)
  s <- cpp_agq_summaries(eng, unname(object$theta))
  Lam <- object$Lambda
  q <- ncol(Lam)
  M <- length(object$group_levels)
  lev <- object$group_levels
  B <- s$post_mean %*% t(Lam)
  dimnames(B) <- list(lev, object$cnames)
  # Lambda V_i Lambda' for all clusters at once (V_i column-major in row i),
  # as new_glmm() does for the stored moments.
  W <- sandwich_rows(s$post_var, Lam)
  V <- array(t(W), c(q, q, M), dimnames = list(object$cnames, object$cnames, lev))
  list(mean = B, var = V)
}

#' @rdname ranef.glmmgee_glmm
#' @export
print.ranef.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "print.ranef.glmmgee_glmm", .allow = print_dots)
  for (g in names(x)) {
    cat("$", g, "\n", sep = "")
    d <- x[[g]]
    attr(d, "postVar") <- NULL
    print(d, ...)
    cat("\n")
  }
  cat(sprintf("(posterior %ss)\n", attr(x, "type")))
  invisible(x)
}

#' @rdname ranef.glmmgee_glmm
#' @export
as.data.frame.ranef.glmmgee_glmm <- function(x, row.names = NULL, optional = FALSE, level = NULL,
                                    ...) {
  if (!is.null(level)) check_level(level)
  out <- lapply(names(x), function(g) {
    d <- x[[g]]
    V <- attr(d, "postVar")
    q <- ncol(d)
    M <- nrow(d)
    sd <- if (is.null(V)) matrix(NA_real_, M, q)
          else t(matrix(apply(V, 3L, function(v) sqrt(diag(as.matrix(v)))), q, M))
    data.frame(grpvar = g, term = factor(rep(names(d), each = M), levels = names(d)),
               grp = factor(rep(rownames(d), q), levels = rownames(d)),
               condval = unlist(d, use.names = FALSE), condsd = as.vector(sd),
               stringsAsFactors = FALSE)
  })
  out <- do.call(rbind, out)
  if (!is.null(level)) {
    z <- stats::qnorm(1 - (1 - level) / 2)
    out$lower <- out$condval - z * out$condsd
    out$upper <- out$condval + z * out$condsd
  }
  out
}

# Per-cluster covariances carried through a linear map: V holds one
# column-major q x q matrix V_m per row (M rows); returns the M x r^2 matrix
# whose rows are vec(A V_m A') for the r x q matrix A. For small q this is
# V (A %x% A)', one product; the Kronecker product has q^2 r^2 entries,
# 8.6 GB at q = 181 (one random effect per observation in ar1(row + 0 | g)),
# so above a few thousand entries the products are taken block by block:
# L = A [V_1 ... V_M] (r x qM), then A applied to the blocks' transposes,
# O((q + r)^2 M) memory.
sandwich_rows <- function(V, A) {
  A <- unname(as.matrix(A))
  r <- nrow(A)
  q <- ncol(A)
  M <- nrow(V)
  if (ncol(V) != q * q) stop("internal: sandwich_rows() needs q^2 columns", call. = FALSE)
  if (as.numeric(q) * q * r * r <= 4096) {
    ie <- rep(seq_len(r), each = r)
    it <- rep(seq_len(r), times = r)
    je <- rep(seq_len(q), each = q)
    jt <- rep(seq_len(q), times = q)
    # (A %x% A)[(i-1)r+k, (j-1)q+l] = A[i,j] A[k,l]
    K <- A[ie, je, drop = FALSE] * A[it, jt, drop = FALSE]
    return(V %*% t(K))
  }
  if (!M) return(matrix(0, 0L, r * r))
  AV <- A %*% matrix(t(V), q, q * M)              # blocks A V_m, r x q each
  AVt <- aperm(array(AV, c(r, q, M)), c(2L, 1L, 3L))  # blocks V_m' A', q x r
  R <- A %*% matrix(AVt, q, r * M)                # blocks A V_m' A' = (A V_m A')'
  R <- aperm(array(R, c(r, r, M)), c(2L, 1L, 3L))
  t(matrix(R, r * r, M))
}
