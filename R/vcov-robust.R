# vcov(type = "CR0" ... "CR3") of glmm() fits: the cluster-robust covariance
# of the fixed effects, by the engine that fitted the model. The exact
# linear mixed models are in vcov-robust-lmm.R.

# The covariance of the fixed effects of `fit` of cluster-robust `type`
# (one of robust_cr_types), clustered by `cluster` (see
# resolve_vcov_cluster()).
# With `df`, the matrix carries each coefficient's Satterthwaite degrees of
# freedom as attribute "df" (robust_df()).
robust_vcov <- function(fit, type, cluster = NULL, df = FALSE) {
  require_capability(fit, "robust_vcov", method = sprintf("vcov(type = \"%s\")", type))
  if (robust_is_lmm(fit)) lmm_cluster_vcov(fit, type, cluster, df)
  else score_cluster_vcov(fit, type, cluster, df)
}

# f of a symmetric matrix from its eigen decomposition `e`: V f(values) V'.
eigen_apply <- function(e, f) e$vectors %*% (f(e$values) * t(e$vectors))

# The quantile of a Wald interval or test: the normal one, or with
# Satterthwaite degrees of freedom `df` (a cluster-robust covariance's) t's.
wald_quantile <- function(p, df = NULL) {
  if (is.null(df)) stats::qnorm(p) else stats::qt(p, df)
}

# The two-sided p-value of a Wald statistic: normal, or t on `df`.
wald_p_value <- function(stat, df = NULL) {
  if (is.null(df)) 2 * stats::pnorm(-abs(stat)) else 2 * stats::pt(-abs(stat), df)
}

# sandwich::estfun() of a glmm() fit: one row per observation, each
# cluster's score (lmm_cluster_estfun(), score_cluster_estfun()) on the
# cluster's first row of positive weight, zeros elsewhere, so that the
# sandwich package's clustering by any factor that nests the grouping adds
# up whole clusters.
robust_estfun <- function(fit) {
  require_capability(fit, "robust_vcov", "estfun()")
  cl <- resolve_vcov_cluster(fit, NULL)
  ef <- if (robust_is_lmm(fit))
    lmm_cluster_estfun(fit, NULL) else score_cluster_estfun(fit, NULL)
  w <- fit$prior.weights
  rows <- if (is.null(w)) seq_along(cl$code) else which(w > 0)
  first <- rows[match(seq_along(cl$levels), cl$code[rows])]
  out <- matrix(0, length(cl$code), ncol(ef), dimnames = list(NULL, colnames(ef)))
  out[first, ] <- ef
  out
}

# sandwich::bread() of a glmm() fit: n times the covariance of the fixed
# effects that the cluster-robust types use as bread (for linear mixed
# models the GLS one, lmm_cluster_estfun()'s attribute).
robust_bread <- function(fit) {
  require_capability(fit, "robust_vcov", "bread()")
  B <- if (robust_is_lmm(fit))
    attr(lmm_cluster_estfun(fit, NULL), "bread") else plain_matrix(fit$vcov)
  length(resolve_vcov_cluster(fit, NULL)$code) * B
}

# Whether `vcov` asks for the model-based covariance (NULL or "model"), in
# which case a `cluster` is an error: it is for the cluster-robust types.
model_vcov_asked <- function(vcov, cluster, method) {
  if (!is.null(vcov) && !identical(vcov, "model")) return(FALSE)
  if (!is.null(cluster))
    stop(sprintf("%s: 'cluster' is for the cluster-robust covariances (vcov = \"CR0\" ... \"CR3\")",
                 method), call. = FALSE)
  TRUE
}

# What the printed results say of a cluster-robust covariance of `type`
# with the clusters `cl` (resolve_vcov_cluster()).
robust_label <- function(type, cl) {
  sprintf("cluster-robust %s, clusters: %s (%d)", type, cl$name, length(cl$levels))
}

# A robust_label() with what its Satterthwaite degrees of freedom serve
# (`what`: "tests" or "intervals").
satterthwaite_label <- function(label, what) {
  paste0(label, "; t ", what, " with Satterthwaite degrees of freedom")
}

# The parameters of a glmm() fit with the covariance that marginal_coefs()
# and standardize() carry through the delta method, from their arguments
# `vcov` and `cluster`: NULL for the model-based one (the caller keeps
# fit_parameters()); for a cluster-robust type a list like
# fit_parameters()'s (theta, vcov over all of theta in fit$theta's
# coordinates, p, star = NULL) with `df`, a function of a Jacobian
# (K x length(theta)) giving each row's Satterthwaite degrees of freedom,
# `cross`, giving their robust_cross(), `label` (robust_label()) and
# `clusters`, their number. For exact linear mixed models the sandwich is that of the
# fixed effects, the variance parameters held at their estimates (their
# rows and columns zero); for the other engines it covers all parameters.
parameter_vcov_choice <- function(fit, vcov = NULL, cluster = NULL, method) {
  types <- c("model", robust_cr_types)
  if (model_vcov_asked(vcov, cluster, method)) return(NULL)
  if (!is.character(vcov) || length(vcov) != 1L || is.na(vcov) || !vcov %in% types)
    stop(sprintf(paste0("%s: 'vcov' must be one of %s (a covariance matrix of the fixed effects ",
                        "alone is not enough: the result depends on the variance parameters too)"),
                 method, paste(dQuote(types, FALSE), collapse = ", ")), call. = FALSE)
  require_capability(fit, "robust_vcov", sprintf("%s with vcov = \"%s\"", method, vcov))
  cl <- resolve_vcov_cluster(fit, cluster)
  th <- fit$theta
  p <- length(fit$coefficients)
  if (robust_is_lmm(fit)) {
    s <- lmm_cluster_sandwich(fit, vcov, cl, df = TRUE)
    V <- matrix(0, length(th), length(th))
    V[seq_len(p), seq_len(p)] <- s$V
    beta_part <- function(J) matrix(J, ncol = length(th))[, seq_len(p), drop = FALSE]
    df <- function(J) s$df(beta_part(J))
    cross <- function(J) s$cross(beta_part(J))
  } else {
    s <- score_cluster_sandwich(fit, vcov, cl, df = TRUE)
    V <- s$V
    df <- s$df
    cross <- s$cross
  }
  list(theta = th, vcov = V, p = p, star = NULL, df = df, cross = cross,
       label = robust_label(vcov, cl),
       clusters = length(cl$levels))
}

# The G x G working-model covariances Cov(w_i(s), w_k(t)) of the cluster
# terms of combinations s and t (`parts` one per combination, `cross_fn`
# the engine's covariance of two), as a list of lists [[s]][[t]].
robust_cross <- function(parts, cross_fn) {
  lapply(parts, function(a) lapply(parts, function(b) cross_fn(a, b)))
}

# Satterthwaite degrees of freedom of each combination's robust variance
# sum_i w_i^2, matched to a scaled chi-square: with S = Cov(w), E = tr S and
# Var = 2 sum S^2, df = 2 E^2 / Var.
robust_df <- function(cross) {
  vapply(seq_along(cross), function(k) {
    S <- cross[[k]][[k]]
    sum(diag(S))^2 / sum(S^2)
  }, 0)
}

# The Hotelling T-squared test of C beta = 0 with a cluster-robust
# covariance Vr (Tipton and Pustejovsky 2015, "HTZ"): Q = b' (C Vr C')^-1 b,
# b = C beta, and F = (eta - q + 1) / (eta q) Q on (q, eta - q + 1) degrees
# of freedom, where eta matches the total variance of the standardized
# robust covariance Omega^(-1/2) C Vr C' Omega^(-1/2) (Omega its
# working-model expectation) to a Wishart's, eta = q (q + 1) / sum_st
# Var(d_st). For q = 1 this is the square of the t test with Satterthwaite
# degrees of freedom. `cross` is robust_cross() of the rows of C.
robust_htz <- function(b, Vr, cross) {
  q <- length(b)
  Om <- matrix(vapply(cross, function(r) vapply(r, function(S) sum(diag(S)), 0), numeric(q)), q)
  Om <- (Om + t(Om)) / 2
  eo <- eigen(Om, symmetric = TRUE)
  if (min(eo$values) <= 0) return(c(F = NA_real_, df1 = q, df2 = NA_real_, p = NA_real_))
  R <- eigen_apply(eo, function(l) 1 / sqrt(l))
  # the standardized combinations' covariances: R_ss' S^{s't'} R_t't
  G <- nrow(cross[[1L]][[1L]])
  Sst <- function(s, t) {
    out <- matrix(0, G, G)
    for (s2 in seq_len(q)) for (t2 in seq_len(q))
      if (R[s, s2] != 0 && R[t2, t] != 0) out <- out + R[s, s2] * R[t2, t] * cross[[s2]][[t2]]
    out
  }
  Z <- lapply(seq_len(q), function(s) lapply(seq_len(q), function(t) Sst(s, t)))
  total <- 0
  for (s in seq_len(q)) for (t in seq_len(q))
    total <- total + sum(Z[[s]][[s]] * Z[[t]][[t]]) + sum(Z[[s]][[t]] * t(Z[[s]][[t]]))
  eta <- q * (q + 1) / total
  Q <- drop(crossprod(b, solve(Vr, b)))
  df2 <- eta - q + 1
  Fs <- (eta - q + 1) / (eta * q) * Q
  c(F = Fs, df1 = q, df2 = df2,
    p = if (df2 > 0) stats::pf(Fs, q, df2, lower.tail = FALSE) else NA_real_)
}

# The covariance of the fixed effects that summary(), confint(),
# odds_ratios() and rate_ratios() of a glmm() fit use, from their
# arguments `vcov` and `cluster`: NULL for `vcov` NULL or "model" (the
# caller keeps the model-based covariance and its output as it was); for a
# cluster-robust type ("CR0" ... "CR3", clustered by `cluster` as in
# vcov(type = )) vcov(fit, type = , cluster = ); for a p x p matrix (e.g.
# from the sandwich package) the matrix, checked against the fixed effects'
# names and put in their order. The matrix carries the attribute "label",
# the line the printed results show. `method`: the user's call, for the
# messages.
fixef_vcov_choice <- function(fit, vcov = NULL, cluster = NULL, method) {
  types <- c("model", robust_cr_types)
  if (model_vcov_asked(vcov, cluster, method)) return(NULL)
  if (is.character(vcov)) {
    if (length(vcov) != 1L || is.na(vcov) || !vcov %in% types)
      stop(sprintf("%s: 'vcov' must be one of %s, or a covariance matrix of the fixed effects",
                   method, paste(dQuote(types, FALSE), collapse = ", ")), call. = FALSE)
    require_capability(fit, "robust_vcov", sprintf("%s with vcov = \"%s\"", method, vcov))
    cl <- resolve_vcov_cluster(fit, cluster)
    V <- robust_vcov(fit, vcov, cl, df = TRUE)
    return(structure(V, label = satterthwaite_label(robust_label(vcov, cl), "tests")))
  }
  if (!is.null(cluster))
    stop(sprintf("%s: 'cluster' is for the cluster-robust covariances (vcov = \"CR0\" ... \"CR3\"), not a 'vcov' matrix",
                 method), call. = FALSE)
  beta <- fixef(fit)
  p <- length(beta)
  if (!is.matrix(vcov) || !is.numeric(vcov))
    stop(sprintf("%s: 'vcov' must be one of %s, or a numeric %d x %d covariance matrix of the fixed effects",
                 method, paste(dQuote(types, FALSE), collapse = ", "), p, p), call. = FALSE)
  if (!identical(dim(vcov), c(p, p)))
    stop(sprintf("%s: 'vcov' is a %d x %d matrix; the fit has %d fixed effects (a %d x %d matrix is needed)",
                 method, nrow(vcov), ncol(vcov), p, p, p), call. = FALSE)
  V <- plain_matrix(vcov)
  nms <- dimnames(V)
  for (k in 1:2) if (!is.null(nms[[k]]) && !setequal(nms[[k]], names(beta)))
    stop(sprintf("%s: the %s names of 'vcov' (%s) are not the fixed effects' (%s)", method,
                 c("row", "column")[k], paste(nms[[k]], collapse = ", "),
                 paste(names(beta), collapse = ", ")), call. = FALSE)
  if (!is.null(nms[[1L]])) V <- V[names(beta), , drop = FALSE]
  if (!is.null(nms[[2L]])) V <- V[, names(beta), drop = FALSE]
  dimnames(V) <- list(names(beta), names(beta))
  if (any(!is.finite(V)) || any(diag(V) < 0) ||
      max(abs(V - t(V))) > 1e-8 * max(1, max(abs(V))))
    stop(sprintf("%s: 'vcov' must be a finite symmetric matrix with non-negative diagonal", method),
         call. = FALSE)
  structure(V, label = "user-supplied covariance matrix ('vcov')")
}
