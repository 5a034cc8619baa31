# The clusters' curvature kept with a fit: each cluster's score and its own
# information at the optimum, taken from the evaluations that give the fit
# its Hessian, so that cluster-robust covariances (vcov-robust-scores.R)
# cost no further evaluation of the engine.
#
# The fit's Hessian is the forward differences of the exact gradient from
# the optimum, one evaluation per free parameter (finish_search()). The
# one-factor engines return each cluster's gradient from the same pass
# (their rows sum to the gradient), as the sparse Laplace engine does for
# the clusters that nest all its terms, so the same differences of the rows
# are the clusters' informations, which sum to the fit's. The nested
# quadrature engine's gradient holds the adaptive nodes fixed
# (optimize-nested.R): its fits keep the informations (their Hessian is
# made of the same differences) but not the scores, which vcov() takes by
# differences of the value. A cumulative link random intercept's Hessian
# is exact, summed over clusters in one pass of its engine (fit-ordinal.R):
# its fits keep the clusters' terms of it, in theta's own coordinates, and
# vcov() takes the scores from one evaluation. A structured fit on one
# grouping factor (covstruct_fit()) keeps them from its search's last
# Hessian, whose evaluations return the clusters' scores in the
# structures' parameters (structure_curvature()). They are kept in the
# coordinates the search ran in (theta* of the standardized design) with
# the Jacobian d theta* / d theta and the theta (`at`) they belong to, and
# carried to the coordinates of the sandwich by it (a cluster's Hessian
# follows a linear map exactly).
#
# A fit keeps them when they take at most `curvature_max_doubles` numbers
# (clusters x free parameters^2; 2,000 clusters and 7 parameters take
# about 100,000); beyond that, vcov() takes the informations by differences
# of a rebuilt engine's scores as before.

curvature_max_doubles <- 2^20

# An evaluator like engine_ev(eng) that also returns each cluster's score
# ($scores, clusters x parameters), or NULL for an engine whose clusters do
# not all live in this process (workers) or that adds a term belonging to
# no cluster (a penalty).
scores_ev <- function(eng) {
  if (inherits(eng, c("glmmgee_penalized_engine", "glmmgee_shard_engine"))) return(NULL)
  function(th) agq_eval_scores(eng, th)
}

# The sparse Laplace engine's evaluator with scores: the fit's clusters
# `cls` (sparse_fit_clusters()) each receive their part of the gradient.
sparse_scores_ev <- function(eng, cls) {
  if (is.null(cls)) return(NULL)
  function(th) {
    r <- cpp_sparse_eval_split(eng, th, cls$obs, cls$re, cls$G)
    progress_tick(r$loglik, r)
  }
}

# The clusters a fit of several terms keeps its curvature by: the levels of
# the grouping that nests every term (the default cluster of vcov()), when
# each owns its random effects (random_effect_owner(), on the engine's
# random-effects design `Z` and the terms `re`); NULL where none does
# (crossed terms, a known covariance linking clusters). list(obs (each row's
# cluster, NA at weight 0), re (each random effect's), G, code (each row's)).
sparse_fit_clusters <- function(re, Z, weights) {
  groupings <- lapply(re$terms, function(tm) list(index = tm$index, levels = tm$levels))
  if (any(vapply(groupings, function(g) is.null(g$index), TRUE))) return(NULL)
  k <- nesting_grouping(groupings)
  if (is.na(k)) return(NULL)
  g <- groupings[[k]]
  obs <- g$index
  if (!is.null(weights)) obs[weights <= 0] <- NA_integer_
  owner <- tryCatch(random_effect_owner(methods::as(Z, "TsparseMatrix"), re$lam_row, re$lam_col,
                                        obs, g$levels), error = function(e) NULL)
  if (is.null(owner)) return(NULL)
  list(obs = obs, re = owner, G = length(g$levels), code = g$index)
}

# finish_search()'s Hessian (forward differences of the gradient from the
# optimum, as fd_hessian() takes them, coordinates on their bound `b`
# held) from an evaluator with scores, and each cluster's information from
# the same evaluations: list(at (the evaluation at theta), hess, curvature
# (list(theta, free, informations (free x free x clusters), scores), or
# NULL beyond curvature_max_doubles)).
# `at`, if given, is that evaluation already made (with its scores).
clusters_hessian <- function(cluster_ev, theta, b, typical, at = NULL) {
  at <- at %||% cluster_ev(theta)
  S0 <- at$scores
  idx <- which(!b)
  keep <- is.matrix(S0) && as.double(nrow(S0)) * length(idx)^2 <= curvature_max_doubles
  info <- if (keep) array(0, c(length(idx), length(idx), nrow(S0)))
  last <- NULL
  grad <- function(th) {
    last <<- cluster_ev(th)
    last$gradient
  }
  # (a step to a point the model does not reach, such as a structure's
  # parameter past its range, returns no scores: nothing is kept)
  each <- if (keep) function(j, h) {
    if (!identical(dim(last$scores), dim(S0))) keep <<- FALSE
    else info[, match(j, idx), ] <<- -t(last$scores[, idx, drop = FALSE] -
                                          S0[, idx, drop = FALSE]) / h
  }
  hess <- fd_hessian(grad, theta, g0 = at$gradient, floor = 0.1 * typical, on_boundary = b,
                     each = each)
  at$scores <- NULL
  list(at = at, hess = hess, curvature = if (keep)
    list(theta = theta, free = idx, informations = (info + aperm(info, c(2L, 1L, 3L))) / 2,
         scores = S0))
}

# A structured fit's clusters' curvature (covstruct_fit()) from its search's
# (covstruct_newton(): the last Hessian's differences of the clusters'
# scores in the search's parameters `par`, c(beta*, structure parameters,
# tail)), with the map `jacobian` (d par / d theta) and the fit's
# parameters `at`. Those differences are each cluster's Hessian in par.
# A cluster-robust covariance takes each cluster's information in the
# engine's parameters (Lambda's entries) carried linearly, J' A_i J
# (cluster_informations() says why: a cluster's Hessian is not invariant
# under a nonlinear change of parameters); the two differ by the cluster's
# score in the entries times the map's second derivatives,
# sum_e s_ie d2 lambda_e / d par d par', added back here from one
# evaluation of the clusters' scores in the engine's parameters
# (`scores_at(theta)`, at the optimum) and central differences of the
# map's Jacobian (no evaluation of the engine). With it the fit's
# model-based covariance in par (`cov`, kept_covariance()). NULL without
# one.
structure_curvature <- function(curv, par, terms, k_re, p, scores_at, jacobian, at, cov) {
  if (is.null(curv)) return(NULL)
  lm <- structure_lambda(terms, k_re, par)
  disp <- length(par) - p - ncol(lm$J)
  S <- scores_at(structure_engine_theta(par, lm, p, disp))
  lam <- S[, p + seq_along(lm$lambda), drop = FALSE]
  ks <- p + seq_len(ncol(lm$J))
  C <- array(0, dim(curv$informations))
  for (j in ks) {
    h <- 1e-4 * max(abs(par[[j]]), 0.1)
    d2 <- (structure_lambda(terms, k_re, replace(par, j, par[[j]] + h))$J -
             structure_lambda(terms, k_re, replace(par, j, par[[j]] - h))$J) / (2 * h)
    C[ks, j, ] <- crossprod(d2, t(lam))
  }
  curv$informations <- curv$informations + (C + aperm(C, c(2L, 1L, 3L))) / 2
  curv$theta <- NULL
  curv$cov <- kept_covariance(cov)
  c(curv, list(jacobian = jacobian, at = unname(as.numeric(at))))
}

# The clusters' curvature at the fit's final point `theta` (after
# finish_search()'s Newton polish): the scores there, evaluated again only
# where the polish moved the parameters.
curvature_at_final <- function(curv, cluster_ev, theta) {
  if (is.null(curv)) return(NULL)
  if (!identical(as.numeric(theta), as.numeric(curv$theta)))
    curv$scores <- cluster_ev(theta)$scores
  curv$theta <- NULL
  curv
}

# The curvature the fit kept (cluster-curvature.R) read for the user's
# clusters `cl` (resolve_vcov_cluster()) in the coordinates of a sandwich
# (robust_frame()'s `fr`): list(cc, D (d theta* / d (those coordinates),
# over the kept free parameters), to_user (each kept cluster's user
# cluster)); NULL where the fit kept none, its parameters are not those it
# was kept at (a fit mapped to other units or parameters after its search:
# a rescaled response, a restated structure), its free parameters are not
# the frame's, or a kept cluster spans user clusters.
kept_curvature <- function(fit, cl, fr) {
  cc <- .subset2(fit, "cluster_curvature")
  if (is.null(cc) || !identical(as.numeric(fr$th), cc$at)) return(NULL)
  D <- cc$jacobian[, fr$free, drop = FALSE]
  if (!is.null(fr$Ts)) D <- D %*% fr$Ts
  # (rows of coordinates held on a bound are dropped, as star_covariance()
  # drops them)
  if (length(cc$free) != ncol(D)) return(NULL)
  # the kept clusters (a fit of several terms names each row's; one
  # grouping factor's are fit$group), each within one user cluster
  kept <- cc$group %||% fit$group
  if (is.list(kept)) return(NULL)
  nk <- dim(cc$informations)[3L]
  if (identical(cl$code, kept) && nk == length(cl$levels)) {
    # the user's clusters are the kept ones (the default cluster)
    to_user <- seq_len(nk)
  } else {
    w <- fit$prior.weights
    rows <- if (is.null(w)) seq_along(kept) else which(w > 0)
    if (!nests(cl$code[rows], kept[rows])) return(NULL)
    to_user <- rep(1L, nk)
    to_user[kept[rows]] <- cl$code[rows]
  }
  list(cc = cc, D = D[cc$free, , drop = FALSE], to_user = to_user)
}

# The user clusters' informations from kept_curvature()'s `kc`: the kept
# clusters' summed, a k x k x G array in the kept coordinates, with the map
# D into the sandwich's (each cluster's information there is D' H_i D,
# which score_cluster_sandwich() folds into its whitening): list(hessians,
# hessian_map), or NULL where a user cluster holds no kept one.
kept_informations <- function(kc, G) {
  H <- sum_informations(kc$cc$informations, kc$to_user, G)
  if (is.null(H)) return(NULL)
  list(hessians = H, hessian_map = kc$D)
}

# Clusters' informations (a k x k x Gk array) summed into the G user
# clusters `to_user` names for each; NULL where a user cluster holds none.
sum_informations <- function(H, to_user, G) {
  if (length(to_user) == G && all(to_user == seq_len(G))) return(H)
  k <- dim(H)[1L]
  Iu <- rowsum(t(matrix(H, k * k)), to_user, reorder = TRUE)
  if (nrow(Iu) != G) return(NULL)
  array(t(Iu), c(k, k, G))
}

# The coordinates of the sandwich a fit's kept curvature enters
# (robust_frame()): fit$theta, or a structured fit's parameters on the
# structures' scales (theta_structure, with the exact Jacobian of the map
# to fit$theta's entries: covstruct_robust_engine()'s frame), NULL where
# its map cannot be rebuilt.
kept_frame <- function(fit) {
  cc <- .subset2(fit, "cluster_curvature")
  if (!inherits(fit, "glmmgee_glmm_covstruct")) {
    th <- as.numeric(fit$theta)
    return(robust_frame(fit, th, fit$cov_theta, NULL, star_ok = TRUE,
                        star = kept_star(cc, length(th))))
  }
  pm <- covstruct_parameter_map(fit)
  if (is.null(pm)) return(NULL)
  # (with the covariance kept in the search's parameters, the sandwich is
  # formed there: a slope of x + 2010 in diag(1 + x | g) made the
  # structure's covariance singular to rounding in the user's units)
  robust_frame(fit, pm$phi, fit$cov_structure, pm$map(pm$phi)$J, star_ok = TRUE,
               star = kept_star(cc, length(pm$phi)))
}

# A fit's model-based covariance `V` in the coordinates of its kept
# curvature (invert_information()'s, in the search's parameters) as the
# curvature keeps it (`cov`, read by kept_star()): a plain matrix, NULL
# where the information could not be inverted.
kept_covariance <- function(V) if (isTRUE(attr(V, "ok"))) matrix(as.numeric(V), nrow(V))

# The model-based covariance a fit kept with its curvature in the
# coordinates the curvature was kept in (`cov`: a cumulative link fit of
# several terms, whose standardized covariance is not of its theta; a
# structured fit), as robust_frame()'s `star`: theta = jacobian^-1
# theta*, all P parameters free. NULL where there is none.
kept_star <- function(cc, P) {
  V <- cc$cov
  if (is.null(V) || anyNA(V) || nrow(V) != P || !identical(dim(cc$jacobian), c(P, P)))
    return(NULL)
  Ti <- tryCatch(solve(cc$jacobian), error = function(e) NULL)
  if (is.null(Ti)) return(NULL)
  list(T = Ti, V = V, index = seq_len(P), P = P)
}

# cluster_score_parts() from the curvature the fit kept, for the user's
# clusters `cl`, or NULL where it kept none that applies or kept no scores
# (a nested quadrature fit, whose engine's scores are not the value's).
# The sandwich is formed in the coordinates the model-based covariance
# gives (robust_frame()).
curvature_score_parts <- function(fit, cl, hessians) {
  cc <- .subset2(fit, "cluster_curvature")
  if (is.null(cc$scores)) return(NULL)
  fr <- kept_frame(fit)
  if (is.null(fr)) return(NULL)
  th <- fr$th
  kc <- kept_curvature(fit, cl, fr)
  if (is.null(kc)) return(NULL)
  fr$A <- frame_information(fr)
  G <- length(cl$levels)
  S <- rowsum(cc$scores[, cc$free, drop = FALSE] %*% kc$D, kc$to_user, reorder = TRUE)
  if (!is.null(fr$Ts)) check_scores_vanish(S, fr$A, fr$se)
  out <- list(S = S, A = fr$A, free = fr$free, G = G, levels = cl$levels, npar = length(th),
              jac = fr$jac)
  rownames(out$S) <- cl$levels
  if (!hessians) return(out)
  ki <- kept_informations(kc, G)
  if (is.null(ki)) return(NULL)
  c(out, ki)
}
