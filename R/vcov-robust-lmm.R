# Cluster-robust covariances of the fixed effects of an exact linear mixed
# model (engines lmm_one_factor and lmm_sparse, and gaussian structured fits:
# robust_is_lmm()), conditional on the fitted
# variance parameters, in generalized-least-squares form (Bell & McCaffrey
# 2002; Pustejovsky & Tipton 2018, JBES 36:672, whose estimators
# clubSandwich implements for lme4's lmerMod fits):
#
#   V_i   the model's marginal covariance of cluster i's rows,
#         sigma^2 (Z_i Lambda Lambda' Z_i' + W_i^{-1}), W the prior weights;
#   M     (sum_i X_i' V_i^{-1} X_i)^{-1}, the GLS covariance (lmer's vcov();
#         glmmgee's vcov() for REML and sparse-engine fits);
#   e_i   y_i - offset_i - X_i beta-hat;
#   CRk   M (sum_i X_i' V_i^{-1} A_i e_i e_i' A_i' V_i^{-1} X_i) M
#
# with A_i = I (CR0; CR1 multiplies by G / (G - 1)), A_i = the
# Bell-McCaffrey adjustment with the model's V as working and target
# covariance (CR2), or A_i = (I - H_ii)^{-1}, H_ii = X_i M X_i' V_i^{-1}
# (CR3, the jackknife-like form, without a G / (G - 1) factor). The
# computations run on V / sigma^2, as clubSandwich does; CR0 - CR3 do not
# depend on that scale except through the cut-off below which an
# eigenvalue counts as zero in CR2's inverse square root. Per-cluster
# blocks are dense (n_i x n_i); no n x n matrix is formed.

robust_cr_types <- c("CR0", "CR1", "CR2", "CR3")

# Whether the cluster-robust types of `fit` take this GLS form: the exact
# LMM engines' fits, and gaussian identity-link fits with structured
# covariances (exact by the profiled criterion, quadrature or the Laplace
# engine alike), so that cs(1 | g) and (1 | g), or diag(1 + x | g) and
# (1 + x || g), give the same robust covariance, and REML structured fits
# have one. Not with a dispersion formula (no V_i of this form) or a penalty.
# Gaussian distributed fits (glmm_shards()) too, as their in-memory fits.
robust_is_lmm <- function(fit) {
  if (fit_engine(fit)$name %in% c("lmm_one_factor", "lmm_sparse", "known_gaussian")) return(TRUE)
  fam <- fit$family
  inherits(fit, c("glmmgee_glmm_covstruct", "glmmgee_glmm_sharded")) && is.null(.subset2(fit, "aux")) &&
    is.null(.subset2(fit, "penalty")) && identical(fam$family, "gaussian") &&
    identical(fam$link, "identity")
}

# The clusters of vcov(type = "CR*"): an integer code per observation of the
# fit (its n rows, 1..G), the level names and the cluster's name, of class
# glmmgee_vcov_cluster. `cluster`: NULL (the grouping factor that nests
# every random-effect term), a one-sided formula evaluated in the fit's
# data, a vector with one value per observation, or such a result (callers
# that label their results resolve once and pass it on).
resolve_vcov_cluster <- function(fit, cluster = NULL) {
  if (inherits(cluster, "glmmgee_vcov_cluster")) return(cluster)
  if (inherits(fit, "glmmgee_glmm_sharded")) return(sharded_vcov_cluster(fit, cluster))
  groupings <- vcov_re_groupings(fit)
  n <- .subset2(fit, "n") %||% NROW(fit$y)
  name <- "cluster"
  default <- is.null(cluster)
  k <- NA
  if (default) {
    k <- nesting_grouping(groupings)
    if (is.na(k))
      stop(sprintf(paste0("vcov(): no grouping factor nests all random-effect terms (%s); ",
                          "give 'cluster =' (e.g. a factor that contains every level of each grouping)"),
                   paste(vapply(groupings, `[[`, "", "name"), collapse = ", ")), call. = FALSE)
    g <- groupings[[k]]
    cluster <- structure(g$index, levels = as.character(g$levels), class = "factor")
    name <- g$name
  }
  if (inherits(cluster, "formula")) {
    if (length(cluster) != 2L)
      stop("'cluster' must be a one-sided formula (e.g. ~ clinic) or a vector", call. = FALSE)
    name <- paste(deparse(cluster[[2L]]), collapse = " ")
    cluster <- vcov_cluster_from_formula(fit, cluster)
  }
  if (is.list(cluster) && !is.data.frame(cluster)) cluster <- unlist(cluster)
  if (is.data.frame(cluster)) {
    if (ncol(cluster) != 1L)
      stop("'cluster' must be one variable (a vector or a one-sided formula)", call. = FALSE)
    cluster <- cluster[[1L]]
  }
  if (!is.atomic(cluster) || is.null(cluster))
    stop("'cluster' must be a one-sided formula (e.g. ~ clinic) or a vector with one value per observation",
         call. = FALSE)
  w <- fit$prior.weights
  pos <- if (is.null(w)) rep(TRUE, n) else w > 0
  if (length(cluster) != n) {
    if (sum(pos) < n && length(cluster) == sum(pos)) {
      # one value per observation of positive weight: the others are
      # placed in the first cluster (they add nothing to any sum)
      full <- rep(cluster[1L], n)
      full[pos] <- cluster
      cluster <- full
    } else {
      stop(sprintf("'cluster' has %d values; it needs one per observation of the fit (%d)",
                   length(cluster), n), call. = FALSE)
    }
  }
  if (anyNA(cluster[pos]))
    stop("'cluster' has missing values", call. = FALSE)
  # the default is a grouping's own integer codes: no refactoring, and it
  # nests itself
  f <- if (default) cluster else factor(cluster)
  code <- as.integer(f)
  for (g in groupings[setdiff(seq_along(groupings), k)])
    if (!nests(code[pos], g$index[pos])) {
      spread <- vapply(split(code[pos], factor(g$index[pos], levels = seq_along(g$levels))),
                       function(x) length(unique(x)) > 1L, TRUE)
      stop(sprintf(paste0("'cluster' does not nest the random-effect grouping '%s': its level '%s' ",
                          "falls in more than one cluster (each level of every grouping must lie ",
                          "within one cluster)"), g$name, g$levels[which(spread)[1L]]),
           call. = FALSE)
    }
  present <- tabulate(code[pos], nlevels(f)) > 0L
  used <- which(present)
  if (length(used) < 2L)
    stop(sprintf("%s has fewer than 2 clusters; cluster-robust covariances need at least 2",
                 if (default) sprintf("the grouping '%s' (the default 'cluster')", name) else "'cluster'"),
         call. = FALSE)
  if (!all(present)) {
    code <- match(code, used)
    # rows of zero weight whose cluster has no other row: code 1 (they add
    # nothing to any sum)
    code[is.na(code)] <- 1L
  }
  structure(list(code = code, levels = levels(f)[used], name = name),
            class = "glmmgee_vcov_cluster")
}

# The position of the first of `groupings` (lists with `index`, each row's
# code) that nests all of them: the default cluster of a cluster-robust
# covariance; NA where none does (crossed terms).
nesting_grouping <- function(groupings) {
  if (length(groupings) == 1L) return(1L)
  Position(function(g) all(vapply(groupings, function(h) nests(g$index, h$index), TRUE)),
           groupings)
}

# Whether each level of `inner` lies within one level of `outer`.
nests <- function(outer, inner) {
  # positive integer codes as they are, others by hashing (factor() sorts
  # the values as strings); each inner code's outer one from any of its
  # rows must be that of all of them
  codes <- function(x)
    if (is.integer(x) && !is.factor(x) && !anyNA(x) && min(x, 1L) >= 1L) x else match(x, unique(x))
  outer <- codes(outer)
  inner <- codes(inner)
  owner <- integer(max(inner, 0L))
  owner[inner] <- outer
  all(outer == owner[inner])
}

# The random-effect groupings of a fit: per term its name, integer index per
# observation and level names.
vcov_re_groupings <- function(fit) {
  if (!is.null(.subset2(fit, "reterms")))
    return(lapply(grouping_terms(fit), function(tm)
      list(name = tm$group, index = tm$index, levels = tm$levels)))
  list(list(name = paste(fit$group_name, collapse = ":"), index = fit$group,
            levels = fit$group_levels))
}

vcov_cluster_from_formula <- function(fit, cluster) {
  vars <- all.vars(cluster)
  mf <- fit$model
  env <- environment(cluster) %||% parent.frame()
  data <- if (all(vars %in% names(mf))) mf else
    tryCatch(fit_data(fit), error = function(e)
      stop(sprintf("'cluster': the data of the fit cannot be recovered to evaluate %s (%s)",
                   deparse(cluster), conditionMessage(e)), call. = FALSE))
  out <- tryCatch(eval(cluster[[2L]], data, env), error = function(e)
    stop(sprintf("'cluster': %s cannot be evaluated in the fit's data (%s)",
                 deparse(cluster), conditionMessage(e)), call. = FALSE))
  out
}

# The pieces of an exact LMM by cluster: per cluster the rows (of positive
# weight), X_i, e_i and V_i / sigma^2; `scale` is sigma^2.
lmm_cluster_pieces <- function(fit, cluster) {
  if (!robust_is_lmm(fit))
    stop(sprintf("internal: lmm_cluster_vcov() serves exact LMM fits, not the %s engine",
                 fit_engine(fit)$name), call. = FALSE)
  cl <- resolve_vcov_cluster(fit, cluster)
  V0 <- fit$vcov
  X <- fit$X
  X <- X[, colnames(V0) %||% seq_len(ncol(X)), drop = FALSE]
  beta <- fixef(fit)[colnames(X)]
  w <- fit$prior.weights
  off <- fit$offset
  n <- nrow(X)
  if (is.null(w)) w <- rep(1, n)
  if (is.null(off)) off <- rep(0, n)
  e <- fit$y - off - c(X %*% beta)
  s2 <- sigma(fit)^2
  if (!is.finite(s2) || s2 <= 0) s2 <- 1
  re <- lmm_re_designs(fit)
  pos <- w > 0
  rows <- split(seq_len(n)[pos], factor(cl$code[pos], levels = seq_along(cl$levels)))
  keep <- lengths(rows) > 0L
  rows <- rows[keep]
  # a known covariance must not link clusters (each column of Z* loaded by
  # the rows of one cluster: random_effect_owner() names two that share one)
  code <- replace(cl$code, !pos, NA_integer_)
  for (t in re) if (isTRUE(t$known))
    random_effect_owner(methods::as(t$Z, "TsparseMatrix"), integer(), integer(), code, cl$levels)
  blocks <- lapply(rows, function(r) {
    V <- diag(1 / w[r], length(r))
    for (t in re) {
      Zr <- t$Z[r, , drop = FALSE]
      V <- V + if (isTRUE(t$known)) as.matrix(Matrix::tcrossprod(Zr)) * (t$D[1L, 1L] / s2)
               else (Zr %*% (t$D / s2) %*% t(Zr)) * outer(t$index[r], t$index[r], `==`)
    }
    list(X = X[r, , drop = FALSE], e = e[r], V = V)
  })
  names(blocks) <- cl$levels[keep]
  blocks <- lapply(blocks, function(b) lmm_block(b$X, b$e, b$V))
  g <- lmm_gls_sums(blocks)
  M <- lmm_gls_check(g$xvx, g$xve, beta, V0)
  list(blocks = blocks, M = M, scale = s2, names = colnames(X), cluster = cl)
}

# A cluster's block: its rows' X, residuals e and V / sigma^2, with the
# Cholesky factor R of V and V^-1 X.
lmm_block <- function(X, e, V) {
  R <- chol(V)
  list(X = X, e = e, V = V, R = R, ViX = backsolve(R, backsolve(R, X, transpose = TRUE)))
}

# The blocks' sums X' V^-1 X and X' V^-1 e.
lmm_gls_sums <- function(blocks) {
  # (a shard may hold no cluster with data: zero)
  list(xvx = Reduce(`+`, lapply(blocks, function(b) crossprod(b$X, b$ViX)), 0),
       xve = Reduce(`+`, lapply(blocks, function(b) c(crossprod(b$ViX, b$e))), 0))
}

# M = (X' V^-1 X)^-1 from the sums `xvx`, `xve`, checked: the GLS estimate
# at these V_i must be the fit's `beta` (the GLS step from it, M xve, zero
# beside its model-based covariance V0); otherwise the pieces read from the
# object do not describe the fitted model: the message names the fixed
# effect that moves most and by how much.
lmm_gls_check <- function(xvx, xve, beta, V0) {
  M <- chol2inv(chol(xvx))
  delta <- c(M %*% xve)
  se <- sqrt(pmax(diag(V0), 0))
  bad <- abs(delta) > 1e-6 * (abs(beta) + se) + 1e-10
  if (any(bad)) {
    rel <- abs(delta) / pmax(se, 1e-300)
    j <- which.max(ifelse(bad, rel, -Inf))
    nm <- names(beta)[j] %||% sprintf("coefficient %d", j)
    stop(sprintf(paste0("vcov(): the marginal covariance rebuilt from the fit does not reproduce its ",
                        "fixed effects: its GLS estimate of '%s' is %.4g, the fit's %.4g (%.3g standard ",
                        "errors apart), so the random-effect variances, known covariance or data read ",
                        "from the fit are not those it was fitted with; cluster-robust covariances are ",
                        "not available for this fit"),
                 nm, beta[[j]] + delta[[j]], beta[[j]], rel[[j]]), call. = FALSE)
  }
  M
}

# What the sandwich of `type` needs of each cluster block
# (lmm_cluster_pieces()), given M: u_i = X_i' V_i^-1 A_i e_i (a p x G
# matrix); with `df`, also what its degrees of freedom need: with
# Q_i = A_i' V_i^-1 X_i M the p x p x G arrays Y_i = X_i' Q_i and
# W_i = Q_i' V_i Q_i (lmm_w_parts()). `names` label the clusters in the
# messages.
lmm_block_sums <- function(blocks, M, type, names, df) {
  p <- ncol(M)
  G <- length(blocks)
  u <- matrix(0, p, G)
  Y <- W <- if (df) array(0, c(p, p, G))
  for (i in seq_len(G)) {
    b <- blocks[[i]]
    A <- lmm_cluster_adjustment(b, M, type, names[i])
    u[, i] <- crossprod(b$ViX, A %*% b$e)
    if (df) {
      Q <- crossprod(A, b$ViX %*% M)
      Y[, , i] <- crossprod(b$X, Q)
      W[, , i] <- crossprod(Q, b$V %*% Q)
    }
  }
  list(u = u, Y = Y, W = W)
}

# Per random-effect term: its covariates Z_t (n x q), the grouping index and
# the covariance D_t of its random effects.
lmm_re_designs <- function(fit) {
  tms <- .subset2(fit, "reterms")
  if (is.null(tms)) {
    D <- .subset2(fit, "D") %||% tcrossprod(fit$Lambda)
    Z <- fit$Z
    if (!is.matrix(Z)) Z <- as.matrix(Z)
    return(list(list(Z = Z, index = fit$group, D = D)))
  }
  Zall <- fit$Z
  n <- nrow(Zall)
  # a term with a known covariance K: Z_t K Z_t' = Z* Z*' with Z* = Z_t L,
  # K = L L' (sparse_re_terms()'s design), times the term's variance D
  known <- if (any(vapply(tms, function(tm) isTRUE(tm$known_cov), TRUE)))
    sparse_re_terms(fit$formula, fit$model, fit_known_covariance(fit, "vcov()"))
  lapply(seq_along(tms), function(k) {
    tm <- tms[[k]]
    if (isTRUE(tm$known_cov))
      return(list(Z = known$Z[, known$terms[[k]]$columns, drop = FALSE], known = TRUE,
                  D = as.matrix(tm$D), name = tm$group))
    q <- length(tm$cnames)
    # the term's columns run level by level, the q covariates of a level side by side
    Z <- vapply(seq_len(q), function(j)
      as.numeric(Zall[cbind(seq_len(n), tm$columns[(tm$index - 1L) * q + j])]), numeric(n))
    list(Z = matrix(Z, n, q), index = tm$index, D = as.matrix(tm$D))
  })
}

# Symmetric (pseudo-)inverse square root: eigenvalues at or below 1e-12
# (relative to the largest, at least 1) count as zero.
inv_sqrt_psd <- function(S) {
  ev <- eigen(S, symmetric = TRUE)
  tol <- 1e-12 * max(1, ev$values[1L])
  eigen_apply(ev, function(l) ifelse(l > tol, 1 / sqrt(pmax(l, tol)), 0))
}

# The adjustment A_i of cluster block `b` (lmm_cluster_pieces()) for `type`.
lmm_cluster_adjustment <- function(b, M, type, name) {
  switch(type,
    CR0 = , CR1 = diag(nrow(b$X)),
    # Bell & McCaffrey: A_i = R' (R (V_i - X_i M X_i') R')^{-1/2} R with
    # V_i = R'R (any square root R gives the same A_i).
    CR2 = {
      S <- b$V - b$X %*% M %*% t(b$X)
      t(b$R) %*% inv_sqrt_psd(b$R %*% S %*% t(b$R)) %*% b$R
    },
    # A_i = (I - H_ii)^{-1}, H_ii = X_i M X_i' V_i^{-1}
    CR3 = {
      IH <- diag(nrow(b$X)) - b$X %*% M %*% t(b$ViX)
      tryCatch(solve(IH), error = function(err)
        stop(sprintf(paste0("vcov(type = \"CR3\"): I - H is singular for cluster '%s' ",
                            "(its rows alone determine a combination of the fixed effects)"), name),
             call. = FALSE))
    })
}

# The cluster-robust covariance of the fixed effects of an exact LMM, with
# attribute "df": each coefficient's Satterthwaite degrees of freedom
# (robust_df()).
lmm_cluster_vcov <- function(fit, type, cluster = NULL, df = FALSE) {
  s <- lmm_cluster_sandwich(fit, type, cluster, df)
  V <- s$V
  if (df) attr(V, "df") <- stats::setNames(s$df(diag(ncol(V))), colnames(V))
  V
}

# The covariance of lmm_cluster_vcov() and, with `df`, a function giving
# the Satterthwaite degrees of freedom of the linear combinations C beta
# (C a K x p matrix).
lmm_cluster_sandwich <- function(fit, type, cluster = NULL, df = FALSE) {
  type <- match.arg(type, robust_cr_types)
  s <- lmm_cluster_sums(fit, cluster, type, df)
  M <- s$M
  G <- ncol(s$u)
  V <- M %*% tcrossprod(s$u) %*% M
  if (type == "CR1") V <- V * G / (G - 1)
  V <- (V + t(V)) / 2
  dimnames(V) <- list(s$names, s$names)
  if (!df) return(list(V = V))
  cross <- function(C) {
    C <- matrix(C, ncol = ncol(M))
    parts <- lapply(seq_len(nrow(C)), function(k) lmm_w_parts(s, C[k, ]))
    robust_cross(parts, function(a, b) lmm_w_cross(s, a, b))
  }
  list(V = V, cross = cross, df = function(C) robust_df(cross(C)))
}

# The clusters' sums of lmm_block_sums() for `type` (with `df`, those of
# the degrees of freedom too), with M, the scale sigma^2, the coefficients'
# names and the clusters' labels: from the fit's rows, or for a
# distributed fit from its shards (lmm_sharded_sums()).
lmm_cluster_sums <- function(fit, cluster, type, df) {
  if (inherits(fit, "glmmgee_glmm_sharded")) return(lmm_sharded_sums(fit, type, df))
  pc <- lmm_cluster_pieces(fit, cluster)
  c(lmm_block_sums(pc$blocks, pc$M, type, names(pc$blocks), df),
    list(M = pc$M, scale = pc$scale, names = pc$names, levels = names(pc$blocks)))
}

# The working-model covariances behind the Satterthwaite degrees of freedom
# (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018, the tests of
# clubSandwich's coef_test() and Wald_test()): the robust variance of a
# combination c' beta is sum_i w_i^2 with w_i = c' M X_i' V_i^-1 A_i e_i.
# Writing q_i = A_i' V_i^-1 X_i M c = Q_i c and u_i = X_i' q_i = Y_i c,
# under the working model Var(y) = V (e = (I - H) y, W = V^-1) two
# combinations' terms have
# Cov(w_i(c), w_k(d)) = [i = k] q_i(c)' V_i q_i(d) - u_i(c)' M u_k(d),
# whose first term is c' W_i d (lmm_block_sums()).
lmm_w_parts <- function(s, c) {
  p <- ncol(s$M)
  G <- dim(s$Y)[3L]
  U <- matrix(matrix(aperm(s$Y, c(1L, 3L, 2L)), p * G, p) %*% c, p, G)
  list(c = c, U = U)
}

lmm_w_cross <- function(s, a, b) {
  p <- ncol(s$M)
  G <- dim(s$W)[3L]
  Wb <- matrix(matrix(aperm(s$W, c(1L, 3L, 2L)), p * G, p) %*% b$c, p, G)
  d <- colSums(a$c * Wb)
  Om <- -crossprod(a$U, s$M %*% b$U)
  diag(Om) <- diag(Om) + d
  Om
}

# Per-cluster scores X_i' V_i^{-1} e_i of the fixed effects (G x p), with
# sigma^2 in V, and as attribute "bread" the GLS covariance
# (X' V^{-1} X)^{-1}: bread %*% crossprod(S) %*% bread is CR0. The bread is
# vcov(fit) for REML fits and for the sparse engine; for ML fits of the
# one-factor engine vcov(fit) is the inverse observed information with the
# variance parameters, which differs from it slightly.
lmm_cluster_estfun <- function(fit, cluster = NULL) {
  s <- lmm_cluster_sums(fit, cluster, "CR0", df = FALSE)
  S <- matrix(t(s$u) / s$scale, ncol(s$u), dimnames = list(s$levels, s$names))
  structure(S, bread = matrix(s$M * s$scale, ncol(S), dimnames = list(s$names, s$names)))
}
