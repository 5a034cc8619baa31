# Predictions of cumulative link mixed models: the new data's designs, the
# category probabilities, conditional or marginal over the random effects, and
# their standard errors.

# The fixed-effect design of newdata (without the intercept) and its
# offset: the offset() terms' and the fit's `offset =` argument's, both
# evaluated in newdata.
ordinal_newdata <- function(object, newdata) {
  if (is.null(newdata)) return(list(X = object$X, offset = object$offset %||% rep(0, nrow(object$X)),
                                    group = object$group))
  nd <- ordinal_newdata_fixed(object, newdata)
  g <- NULL
  if (length(object$group_name) == 1L && object$group_name %in% names(newdata)) {  # GEE: none
    g <- match(as.character(newdata[[object$group_name]]), object$group_levels)
  }
  list(X = nd$X, offset = nd$offset, group = g)
}

ordinal_newdata_fixed <- function(object, newdata) {
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  tt <- stats::delete.response(object$terms)
  env <- environment(tt) %||% parent.frame()
  check_newdata_vars(tt, newdata, "fixed effects", env)
  check_newdata_xlevels(object$xlevels, newdata, "fixed effects", env)
  mf <- stats::model.frame(tt, newdata, xlev = object$xlevels, na.action = stats::na.pass)
  X <- stats::model.matrix(tt, mf, contrasts.arg = object$contrasts)
  list(X = X[, colnames(object$X), drop = FALSE],
       offset = (stats::model.offset(mf) %||% rep(0, nrow(X))) +
         newdata_offset(object$call$offset, newdata, env, nrow(X)))
}

# The random-effect design (n x q; a column of ones for a random intercept)
# and the clusters' modes (M x q).
ordinal_re_Z <- function(object, newdata = NULL) {
  if (!is.null(object$re_cov)) return(ordinal_re_design(object, newdata))
  matrix(1, if (is.null(newdata)) length(object$y) else nrow(newdata), 1L)
}

ordinal_re_modes <- function(object) as.matrix(object$ranef$mode)

# One grouping factor, or several terms (ordinal_sparse_eta(),
# methods-ordinal-sparse.R).
#' @export
predict.glmmgee_glmm_ordinal <- function(object, newdata = NULL,
                                         type = c("prob", "prob_marginal", "class", "linear",
                                                  "response", "link"),
                                         re.form = NULL, nAGQ = 30L, se.fit = FALSE,
                                         allow.new.levels = FALSE, ...) {
  if (!is.null(newdata)) require_capability(object, "predict_newdata", "predict(newdata = )")
  check_dots(..., .method = "predict.glmmgee_glmm_ordinal")
  type <- ordinal_predict_type(type)
  check_flag(se.fit, "se.fit")
  if (se.fit && type == "class") ordinal_refuse_class_se()
  if (type == "prob_marginal") nAGQ <- check_marginal_nodes(nAGQ)
  else if (!missing(nAGQ))
    stop("'nAGQ' (the nodes of the population average) is used by type = \"prob_marginal\" only",
         call. = FALSE)
  if (!is.null(object$reterms)) {
    eta <- ordinal_sparse_eta(object, newdata, if (type == "prob_marginal") NA else re.form,
                              allow.new.levels)
    X <- if (is.null(newdata)) object$X else ordinal_newdata_fixed(object, newdata)$X
    Z <- NULL
    sd <- object$sigma_re
  } else {
    nd <- ordinal_newdata(object, newdata)
    X <- nd$X
    eta <- drop(X %*% object$coefficients) + nd$offset
    slopes <- !is.null(object$re_cov)
    # ~ 0 as NA; a formula with the model's term as NULL (selected_bars()
    # refuses a term the model does not have)
    if (inherits(re.form, "formula")) re.form <- if (length(selected_bars(object, re.form))) NULL else NA
    Z <- if (type == "prob_marginal" || is.null(re.form)) ordinal_re_Z(object, newdata)
    if (type != "prob_marginal" && is.null(re.form)) {
      if (is.null(nd$group))
        stop(sprintf("'newdata' needs the grouping variable '%s' for re.form = NULL",
                     object$group_name), call. = FALSE)
      # A cluster not in the fit is an error unless allow.new.levels, as for
      # the other glmm fits (it was given b = 0 without a word).
      if (!is.null(newdata))
        nd$group <- match_levels(newdata[[object$group_name]], object$group_levels,
                                 object$group_name, allow.new.levels)
      B <- ordinal_re_modes(object)[nd$group, , drop = FALSE]
      B[is.na(B)] <- 0  # new clusters: a typical one
      eta <- eta + unname(rowSums(Z * B))  # (B's rows are named by cluster)
    } else if (!is.null(re.form) && !(length(re.form) == 1L && is.na(re.form)))
      stop(sprintf("'re.form' must be NULL (the fitted clusters' modes), NA or ~ 0 (%s 0)",
                   if (slopes) "random effects" else "random intercept"), call. = FALSE)
    # Population-averaged: b ~ N(0, sigma^2), or z'b ~ N(0, z' Sigma z) row by row.
    sd <- if (type == "prob_marginal") {
      if (slopes) sqrt(pmax(rowSums((Z %*% object$re_cov) * Z), 0)) else object$sigma_re
    }
  }
  fit <- ordinal_predict_eta(object, eta, type, sd, nAGQ)
  # On the fit's own rows, rows dropped by na.action = na.exclude come back
  # as NA, as for the other fits (predict() had the fitted rows only).
  pad <- function(v) if (is.null(newdata)) stats::napredict(object$na.action, v) else v
  if (!se.fit) return(pad(fit))
  # With re.form = NULL (or a selection of terms), eta holds the modes,
  # taken as known.
  list(fit = pad(fit),
       se.fit = pad(if (type == "prob_marginal") ordinal_marginal_se(object, X, eta, Z, nAGQ)
                    else ordinal_predict_se(object, X, eta, type)))
}

# The prediction types; "response" (the category probabilities, the
# response's distribution) and "link" (the linear predictor) are the names
# other GLMM fits and the packages built on predict() use.
ordinal_predict_type <- function(type) {
  type <- match.arg(type, c("prob", "prob_marginal", "class", "linear", "response", "link"))
  switch(type, response = "prob", link = "linear", type)
}

ordinal_refuse_class_se <- function()
  stop(paste0("'se.fit': standard errors are available for type = \"linear\", \"prob\" and ",
              "\"prob_marginal\", not for \"class\""), call. = FALSE)

# predict()'s answer from the linear predictor eta: eta itself, category
# probabilities (given eta, or averaged over a normal random effect of
# standard deviation sd added to it), or the most probable category.
ordinal_predict_eta <- function(object, eta, type, sd, nAGQ) {
  if (type == "linear") return(eta)
  if (type == "prob_marginal")
    return(ordinal_marginal_probs(object$family, object$thresholds, eta, sd, nAGQ,
                                  object$y_levels))
  P <- category_probs(object$family, object$thresholds, eta, object$y_levels)
  if (type == "prob") return(P)
  factor(object$y_levels[max.col(P, ties.method = "first")], levels = object$y_levels,
         ordered = TRUE)
}

# Delta-method standard errors of predict()'s linear predictor x'beta
# (type "linear") or category probabilities (type "prob",
# F(theta_j - eta) - F(theta_{j-1} - eta)) at b = 0, over the thresholds
# and beta (the first columns of cov_psi, or of cov_par for several
# terms, whose predict() method hands se.fit here; the random-effect parameters do
# not enter). The gradients are analytic: d/dtheta_j F(theta_j - eta) =
# f(theta_j - eta) = -d/deta. A fit that kept its standardized covariance
# (cov_star) forms them on the standardized parameters (delta_var()), so
# they do not depend on a covariate's units. A matrix like the prediction
# for "prob", a vector for "linear".
ordinal_predict_se <- function(object, X, eta, type) {
  k1 <- length(object$thresholds)
  V <- object$cov_par %||% object$cov_psi  # several terms: cov_par
  n <- nrow(X)
  k <- k1 + ncol(X)
  # (A kept standardized covariance spans every parameter: star_gradient()
  # pads G; V's other rows may be NA at a boundary and do not enter.)
  var_of <- function(G) delta_var(G, V[seq_len(k), seq_len(k), drop = FALSE], object$cov_star)
  if (type == "linear")
    return(stats::setNames(sqrt(pmax(var_of(cbind(matrix(0, n, k1), X)), 0)), names(eta)))
  th <- object$thresholds
  f <- matrix(object$family$dens(outer(-eta, th, "+")), n, k1)  # f(theta_j - eta)
  J <- k1 + 1L
  se <- matrix(NA_real_, n, J, dimnames = list(rownames(X), object$y_levels))
  for (j in seq_len(J)) {
    Gt <- matrix(0, n, k1)
    fhi <- if (j <= k1) f[, j] else 0
    flo <- if (j > 1L) f[, j - 1L] else 0
    if (j <= k1) Gt[, j] <- fhi
    if (j > 1L) Gt[, j - 1L] <- -flo
    se[, j] <- sqrt(pmax(var_of(cbind(Gt, -(fhi - flo) * X)), 0))
  }
  se
}

# Delta-method standard errors of the population-averaged category
# probabilities (predict(type = "prob_marginal")),
#   P_j = C_j - C_{j-1},  C_j = int F(theta_j - eta - s u) phi(u) du,
# by the same Gauss-Hermite rule as the probabilities (nodes u_k, weights
# w_k): dC_j/dtheta_j = sum_k w_k f(theta_j - eta - s u_k) = -dC_j/deta and
# dC_j/ds = -sum_k w_k u_k f(theta_j - eta - s u_k), over psi = (thresholds,
# beta, log sigma) (ds/dlog sigma = s; several terms: the log of the total
# standard deviation, whose covariance cov_psi holds) or, with random
# slopes, (thresholds, beta, lambda), where s_i = sqrt(z_i' Lambda Lambda' z_i)
# and ds_i/dLambda[r, c] = z_ir (Lambda' z_i)_c / s_i (times Lambda[r, c]
# for a diagonal entry, which is on the log scale). X: the design rows;
# Z: the random-effect design (slopes only).
ordinal_marginal_se <- function(object, X, eta, Z, nAGQ) {
  k1 <- length(object$thresholds)
  p <- ncol(X)
  n <- length(eta)
  J <- k1 + 1L
  th <- object$thresholds
  rule <- cpp_gh_rule(as.integer(nAGQ))
  slopes <- !is.null(object$re_cov)
  if (slopes) {
    q <- ncol(Z)
    nl <- length(object$lam_row)
    lam <- object$psi[k1 + p + seq_len(nl)]
    L <- matrix(0, q, q)
    dg <- object$lam_row == object$lam_col
    L[cbind(object$lam_row, object$lam_col)] <- ifelse(dg, exp(lam), lam)
    LZ <- Z %*% L  # row i: (Lambda' z_i)'
    s <- sqrt(rowSums(LZ^2))
    # n x nl: ds_i / dlambda_m (0 where s_i = 0: no random effect there)
    ds <- Z[, object$lam_row, drop = FALSE] * LZ[, object$lam_col, drop = FALSE] *
      rep(ifelse(dg, L[cbind(object$lam_row, object$lam_col)], 1), each = n) / s
    ds[!is.finite(ds)] <- 0
  } else {
    s <- rep(object$sigma_re, n)
    ds <- matrix(s, n, 1L)
  }
  # n x k1 sums over the nodes
  A <- B <- matrix(0, n, k1)
  for (k in seq_along(rule$z)) {
    fk <- object$family$dens(outer(-eta - s * rule$z[k], th, "+"))
    A <- A + rule$w[k] * fk
    B <- B + rule$w[k] * rule$z[k] * fk
  }
  grad_C <- function(j) {  # n x P gradient of C_j (0 for j = 0 and J)
    G <- matrix(0, n, k1 + p + ncol(ds))
    if (j < 1L || j > k1) return(G)
    G[, j] <- A[, j]
    G[, k1 + seq_len(p)] <- -A[, j] * X
    G[, k1 + p + seq_len(ncol(ds))] <- -B[, j] * ds
    G
  }
  se <- matrix(NA_real_, n, J, dimnames = list(rownames(X), object$y_levels))
  for (j in seq_len(J))
    se[, j] <- sqrt(pmax(delta_var(grad_C(j) - grad_C(j - 1L), object$cov_psi, object$cov_star), 0))
  se
}

# The number of Gauss-Hermite nodes of predict(type = "prob_marginal"). The
# average over a normal random effect is not adaptive: at standard
# deviations 1 to 3 its largest error is 1e-4 to 3e-2 with 5 nodes, 3e-7 to
# 5e-3 with 10 and 1e-13 to 2e-5 with the default 30; one node is the
# prediction at b = 0.
check_marginal_nodes <- function(nAGQ) {
  if (!is.numeric(nAGQ) || length(nAGQ) != 1L || !is.finite(nAGQ) || nAGQ != round(nAGQ) ||
      nAGQ < 10 || nAGQ > 200)
    stop(paste0("'nAGQ' (the Gauss-Hermite nodes of the population average) must be a whole ",
                "number from 10 to 200; fewer nodes do not average over the random effect accurately"),
         call. = FALSE)
  as.integer(nAGQ)
}

# Category probabilities averaged over b ~ N(0, sigma^2) by Gauss-Hermite
# quadrature (each cumulative probability integrated separately).
ordinal_marginal_probs <- function(family, theta, eta, sigma, nAGQ = 30L, lev = NULL) {
  rule <- cpp_gh_rule(as.integer(nAGQ))
  P <- 0
  for (k in seq_along(rule$z))
    P <- P + rule$w[k] * category_probs(family, theta, eta + sigma * rule$z[k])
  if (!is.null(lev)) colnames(P) <- lev
  P
}
