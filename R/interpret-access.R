# Small accessors that the interpretation layer (odds ratios, marginal
# coefficients, standardization, plots) uses to read a fitted glmm or gee.
# Everything that depends on how a fit stores its random-effect structure
# goes through re_structure(), so a change of layout (several grouping
# factors) touches one place.

is_glmm <- function(fit) inherits(fit, "glmmgee_glmm")
is_gee <- function(fit) inherits(fit, "glmmgee_gee")

check_fit <- function(fit, what, arg = "fit") {
  if (!is_glmm(fit) && !is_gee(fit))
    stop(sprintf("'%s' must be a fit from glmm() or gee(), not an object of class \"%s\" (%s)",
                 arg, class(fit)[1L], what), call. = FALSE)
  invisible(fit)
}

# The random-effect structure of a glmm as the interpretation layer sees it:
# for each observation the random-effect covariates z_i (n x q, the matrix
# Z below) and a block-diagonal lower-triangular Lambda (q x q) whose free
# entries sit at theta[lambda_index], so that z_i'b is normal with variance
# |Lambda' z_i|^2. For one grouping factor these are the fit's own Z and
# Lambda. For several terms (glmm_sparse) Lambda stacks each term's
# relative factor and z_i stacks the term's covariates of the level the
# observation belongs to; the terms' effects are independent, so
# Var(z_i'b) = sum_t z_it' D_t z_it, the same formula. A known covariance
# sigma^2 K enters as a 1 x 1 block sigma with z_i = sqrt(K_ll) for the
# observation's level l: Var(b_l) = sigma^2 K_ll.
re_structure <- function(fit, caller) {
  refuse_ordinal(fit, paste0(caller, "()"))
  if (!is_glmm(fit))
    stop(sprintf("'fit': %s() needs a fit from glmm(), not an object of class \"%s\"",
                 caller, class(fit)[1L]), call. = FALSE)
  p <- length(fit$coefficients)
  if (inherits(fit, "glmmgee_glmm_zire_sparse")) {
    # The zero part's terms (two-part sparse engine) as a second structure,
    # their Lambda entries after the count part's in theta.
    re <- re_structure_sparse(fit, p)
    rz <- re_structure_sparse(zi_random_sparse_shadow(fit), p + length(re$lambda_index))
    re$zre <- rz[c("q", "cnames", "pattern", "lambda_index", "Z")]
    re$dre <- hurdle_dispersion_re(fit, re)
    return(re)
  }
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    re <- re_structure_sparse(fit, p)
    re$dre <- hurdle_dispersion_re(fit, re)
    return(re)
  }
  Lam <- fit$Lambda
  pat <- fit$pattern
  list(q = ncol(Lam), cnames = fit$cnames, Lambda = Lam, pattern = pat, p = p,
       lambda_index = p + seq_along(pat$row), ntheta = length(fit$theta),
       group = fit$group, group_name = fit$group_name, ngroups = length(fit$group_levels),
       Z = fit$Z, cov_blocks = fit$cov_blocks, sparse = FALSE, dist = fit$ranef_dist,
       aux = fit$aux)
}

# The dispersion formula's random-effect terms of a location-scale fit
# (class glmmgee_glmm_dispre) as a second structure beside `re` (the mean's,
# re_structure()), their Lambda entries after the mean's in theta; NULL for
# other fits. Not part of re_structure(): what reads that structure (the
# marginal means, variance shares, standardization) concerns the mean.
dispersion_re_structure <- function(fit, re) {
  if (!inherits(fit, "glmmgee_glmm_dispre")) return(NULL)
  # (after the zero part's, when it has random effects too: re$zre)
  rd <- re_structure_sparse(zi_random_sparse_shadow(fit, "disp"), re$p %||% length(fit$coefficients) +
                              length(re$lambda_index) + length(re$zre$lambda_index))
  rd[c("q", "cnames", "pattern", "lambda_index", "Z")]
}

# The dispersion formula's random-effect terms of a hurdle model
# (dispersion_re_structure()), which its mean of y depends on (the
# zero-truncated count part's mean depends on the dispersion); NULL for
# other fits, whose mean does not.
hurdle_dispersion_re <- function(fit, re) {
  a <- .subset2(fit, "aux")
  if (!identical(a$kind, "hurdle")) return(NULL)
  dispersion_re_structure(fit, re)
}

re_structure_sparse <- function(fit, p) {
  # (Z is a Matrix: a fit read by readRDS() in a session that has not
  # loaded Matrix cannot index it otherwise)
  requireNamespace("Matrix", quietly = TRUE)
  tms <- fit$reterms
  rows <- cols <- idx <- integer()
  off <- 0L
  Zs <- vector("list", length(tms))
  for (k in seq_along(tms)) {
    tm <- tms[[k]]
    q <- length(tm$cnames)
    lt <- which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    rows <- c(rows, off + lt[, 1L])
    cols <- c(cols, off + lt[, 2L])
    idx <- c(idx, tm$par)
    Zk <- term_row_covariates(fit$Z, tm)
    if (isTRUE(tm$known_cov)) Zk <- Zk * sqrt(known_cov_diag(tm))[tm$index]
    Zs[[k]] <- Zk
    off <- off + q
  }
  # (no term: a two-part fit whose random effects are all in its second part)
  Z <- if (length(Zs)) do.call(cbind, Zs) else matrix(0, NROW(fit$y), 0L)
  cn <- unlist(lapply(tms, function(tm) paste(tm$group, tm$cnames, sep = ".")))
  colnames(Z) <- cn
  pat <- list(row = rows, col = cols)
  Lam <- matrix(0, off, off, dimnames = list(cn, cn))
  Lam[cbind(rows, cols)] <- fit$theta[p + idx]
  list(q = off, cnames = cn, Lambda = Lam, pattern = pat, p = p,
       lambda_index = p + idx, ntheta = length(fit$theta), Z = Z,
       group_name = fit$group_name, sparse = TRUE, aux = fit$aux,
       known_cov = any(vapply(tms, function(tm) isTRUE(tm$known_cov), TRUE)))
}

# The covariates of each observation's level in a term of a several-term
# design Z: column (level - 1) q + j of the term's block (n x q).
term_row_covariates <- function(Z, tm) {
  q <- length(tm$cnames)
  Zk <- matrix(0, length(tm$index), q)
  for (j in seq_len(q))
    Zk[, j] <- as.numeric(Z[cbind(seq_along(tm$index), tm$columns[(tm$index - 1L) * q + j])])
  Zk
}

# diag(K) over the levels of a known-covariance term (stored by the fitter;
# older fits lack it).
known_cov_diag <- function(tm) {
  if (is.null(tm$kdiag))
    stop("this fit was made by an older version without diag(K); refit it", call. = FALSE)
  tm$kdiag
}

# Lambda from a parameter vector laid out as fit$theta.
lambda_of <- function(re, theta) {
  L <- matrix(0, re$q, re$q)
  L[cbind(re$pattern$row, re$pattern$col)] <- theta[re$lambda_index]
  L
}

view_label <- function(view) {
  switch(view,
         conditional = "conditional (subject-specific: for a given cluster, random effects held fixed)",
         marginal = "marginal (population-averaged: averaged over the clusters)",
         typical = "conditional on a typical cluster (random effects set to zero)")
}

# The parameters and their covariance as the interpretation layer sees them:
# for a glmm the full theta (fixed effects, Lambda entries, log sigma) with
# NA rows (parameters on a boundary) set to zero, i.e. treated as known;
# `star` the standardized covariance for delta_cov() where the fit kept one.
fit_parameters <- function(fit) {
  glmm <- is_glmm(fit)
  V <- if (glmm) fit$cov_theta else if (is_gee(fit)) gee_vcov_quiet(fit)
  if ((glmm || length(V)) && all(is.na(V))) {
    # (glmm: a singular Hessian; gee: NA by vcov.glmmgee_gee() under separation)
    sep <- fit$separation
    why <- if (isTRUE(sep$separated))
      sprintf("the fit is separated (%s): its coefficients have no finite estimate, so %s and ",
              paste(sQuote(sep$terms, FALSE), collapse = ", "),
              if (glmm) "the Hessian is singular" else "the variance is not estimable")
    else "the Hessian is not negative definite, so "
    stop("the fit has no covariance of its parameters: ", why,
         "standard errors are unavailable (se = \"none\" gives the estimates alone)", call. = FALSE)
  }
  if (glmm) {
    V[is.na(V)] <- 0
    list(theta = fit$theta, vcov = V, p = length(fit$coefficients), star = cov_star_of(fit))
  } else {
    list(theta = fit$coefficients, vcov = V %||% stats::vcov(fit), p = length(fit$coefficients),
         star = if (is_gee(fit)) cov_star_of(fit))
  }
}

# The clusters of a fit: the independent units that a cluster bootstrap
# resamples and that the sampling variance of a standardization counts.
# For several random-effect terms: the grouping factor named by `cluster`,
# else the outermost factor of a nested design (the one every other
# grouping factor is nested in); crossed designs have no such factor.
cluster_of <- function(fit, cluster = NULL) {
  if (is_gee(fit)) return(fit$id)
  if (!inherits(fit, "glmmgee_glmm_sparse")) return(fit$group)
  k <- cluster_term(fit, cluster)
  if (is.na(k)) return(NULL)
  grouping_terms(fit)[[k]]$index
}

# The random-effect terms of a several-term fit whose grouping factors make
# its clusters: the conditional part's, then those of a zero or dispersion
# formula fitted by the two-part sparse engine (which may group by other
# factors, or hold all of the model's random effects).
grouping_terms <- function(fit) {
  c(.subset2(fit, "reterms"), unlist(lapply(random_aux_parts(fit), `[[`, "terms"),
                                      recursive = FALSE))
}

# Index in grouping_terms() of the term whose grouping factor defines the
# clusters (NA: the design is crossed and `cluster` was not given).
cluster_term <- function(fit, cluster = NULL) {
  tms <- grouping_terms(fit)
  g <- vapply(tms, `[[`, "", "group")
  if (!is.null(cluster)) {
    if (!is.character(cluster) || length(cluster) != 1L || !(cluster %in% g))
      stop(sprintf("'cluster' must name one grouping factor of the model (%s)",
                   paste(unique(g), collapse = ", ")), call. = FALSE)
    return(match(cluster, g))
  }
  idx <- lapply(tms, `[[`, "index")
  nested_in <- function(a, b) all(lengths(lapply(split(b, a), unique)) <= 1L)
  for (k in seq_along(idx))
    if (all(vapply(idx, function(a) nested_in(a, idx[[k]]), TRUE))) return(k)
  NA_integer_
}

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
  # (the fixed effects' design only: it identifies the rows; a cumulative
  # link fit's has no intercept column, its thresholds are the intercepts)
  X <- fixed_design_at(fit, data)$X
  X0 <- if (is_glmm(fit)) fit$X else fit$engine$data$X
  if (!is.null(colnames(X0)) && all(colnames(X0) %in% colnames(X)))
    X <- X[, colnames(X0), drop = FALSE]
  if (!isTRUE(all.equal(unname(X), unname(X0), check.attributes = FALSE)))
    stop("the data of the fit cannot be recovered (it changed since fitting?); give 'newdata'",
         call. = FALSE)
  data
}

# Model matrices of a fit evaluated on new data: X, the offset and, for a
# glmm, the random-effect covariates Z (columns as fit$cnames).
design_at <- function(fit, data) {
  env <- environment(fit$formula) %||% parent.frame()
  fx <- fixed_design_at(fit, data)
  X <- fx$X
  off <- fx$offset
  Z <- NULL
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    Z <- sparse_design_z(fit, data, env)
  } else if (is_glmm(fit)) {
    Zs <- lapply(fit$re_formula, function(rhs) {
      tz <- re_lhs_terms(rhs, fit$model, env)
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
  list(X = X, offset = off, Z = Z,
       aux = if (inherits(fit, "glmmgee_glmm_zi")) zi_aux_designs(fit, data))
}

# design_at()'s fixed-effect design X and offset alone.
fixed_design_at <- function(fit, data) {
  env <- environment(fit$formula) %||% parent.frame()
  tt <- stats::delete.response(fit$terms)
  check_newdata_xlevels(fit$xlevels, data, "fixed effects", environment(tt) %||% env)
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = fit$xlevels)
  X <- stats::model.matrix(tt, mf, contrasts.arg = fit$contrasts)
  off <- stats::model.offset(mf)
  if (is.null(off)) off <- rep(0, nrow(X))
  list(X = X, offset = off + newdata_offset(fit$call$offset, data, env, nrow(X)))
}

# Variables of the fixed-effects part of the model (what a user may set).
model_variables <- function(fit) {
  all.vars(stats::delete.response(fit$terms))
}

# The per-observation random-effect covariates of a several-term fit on new
# data, laid out as re_structure_sparse()'s Z: each term's left-hand side
# evaluated in `data`, and for a known covariance sqrt(K_ll) of the row's
# level l (which must be a row of K).
sparse_design_z <- function(fit, data, env) {
  Zs <- lapply(fit$reterms, function(tm) {
    tz <- re_lhs_terms(tm$lhs, fit$model, env)
    mz <- stats::model.frame(tz, data, na.action = stats::na.pass,
                             xlev = stats::.getXlevels(tz, fit$model))
    Zk <- stats::model.matrix(tz, mz)
    if (!identical(colnames(Zk), tm$cnames))
      stop("the random-effects columns cannot be rebuilt from the data", call. = FALSE)
    if (isTRUE(tm$known_cov)) {
      g <- factor(eval_grouping(tm$group_expr, data, env))
      l <- match(as.character(g), tm$levels)
      if (anyNA(l))
        stop(sprintf("'newdata' has levels of '%s' that are not rows of its known covariance matrix",
                     tm$group), call. = FALSE)
      Zk <- Zk * sqrt(known_cov_diag(tm))[l]
    }
    Zk
  })
  Z <- if (length(Zs)) do.call(cbind, Zs) else matrix(0, nrow(data), 0L)
  colnames(Z) <- unlist(lapply(fit$reterms, function(tm) paste(tm$group, tm$cnames, sep = ".")))
  Z
}
