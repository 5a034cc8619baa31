# The per-cluster scores behind cluster-robust covariances
# (vcov-robust-scores.R) for the engines that do not return them cluster by
# cluster: several random-effect terms (the sparse Laplace engines; nested
# adaptive quadrature), known covariances, structured covariances, the
# bridge and nonparametric random-intercept distributions and cumulative
# link (ordinal) models.
#
# Several terms: the fit's log-likelihood split by user cluster. When each
# cluster's random effects are its own (every random effect, and every one
# it is correlated with, lies within one cluster), the joint posterior mode
# and its Hessian are block diagonal by cluster, so the Laplace
# approximation (and the nested quadrature, whose outermost units lie
# within clusters) of the whole data is exactly the sum of the clusters'
# own approximations. The sparse engine splits its gradient by cluster in
# one evaluation; the two-part sparse engine and nested quadrature are
# built on each cluster's rows. Crossed random effects link clusters, and
# are refused by name.

# Which cluster owns each random effect (column of the random-effects
# design `Zt`, a TsparseMatrix, with the covariance factor's entries
# `lam_row`, `lam_col`, 1-based): from the rows that load on it and the
# effects it is correlated with. `code`: each row's cluster (rows of weight
# zero NA). A random effect seen in two clusters is an error; one no row
# loads on is NA.
random_effect_owner <- function(Zt, lam_row, lam_col, code, levels) {
  keep <- !is.na(code[Zt@i + 1L]) & Zt@x != 0
  col <- Zt@j[keep] + 1L
  cls <- code[Zt@i[keep] + 1L]
  owner <- rep(NA_integer_, ncol(Zt))
  pairs <- cbind(col, cls)[!duplicated(col * (length(levels) + 1) + cls), , drop = FALSE]
  clash <- function(j, a, b)
    stop(sprintf(paste0("vcov(): the clusters '%s' and '%s' share random effects (column %d of ",
                        "the random-effects design): a cluster-robust covariance needs clusters ",
                        "whose random effects are their own, e.g. 'cluster =' a factor that nests ",
                        "every grouping and every block of a known covariance (families for a ",
                        "pedigree's kinship); crossed random effects, or a known covariance ",
                        "with no such blocks, link all clusters"),
                 levels[a], levels[b], j), call. = FALSE)
  d <- which(duplicated(pairs[, 1L]))
  if (length(d)) {
    j <- pairs[d[1L], 1L]
    both <- pairs[pairs[, 1L] == j, 2L]
    clash(j, both[1L], both[2L])
  }
  owner[pairs[, 1L]] <- pairs[, 2L]
  # Effects correlated with an owned one belong to its cluster.
  repeat {
    a <- owner[lam_row]
    b <- owner[lam_col]
    bad <- which(!is.na(a) & !is.na(b) & a != b)
    if (length(bad)) clash(lam_row[bad[1L]], a[bad[1L]], b[bad[1L]])
    fill_r <- which(is.na(a) & !is.na(b))
    fill_c <- which(!is.na(a) & is.na(b))
    if (!length(fill_r) && !length(fill_c)) break
    owner[lam_row[fill_r]] <- b[fill_r]
    owner[lam_col[fill_c]] <- a[fill_c]
  }
  owner
}

# The sparse Laplace engine `eng` split by cluster: a function of (code,
# G, levels) giving list(scores), a function of theta whose rows are the G
# clusters' gradients of their Laplace log-likelihoods. When each
# cluster's random effects are its own (random_effect_owner() checks it),
# H is block diagonal by cluster and the engine's gradient splits into the
# clusters' parts in one evaluation (cpp_sparse_cluster_gradient()).
# `Z`, `re`: the engine's random-effects design and terms
# (sparse_re_terms()), `w` its prior weights.
sparse_cluster_split <- function(eng, Z, re, w) {
  function(code, G, levels) {
    code[w <= 0] <- NA_integer_
    owner <- random_effect_owner(methods::as(Z, "TsparseMatrix"), re$lam_row, re$lam_col,
                                 code, levels)
    list(scores = function(th) cpp_sparse_cluster_gradient(eng, th, code, owner, G))
  }
}

# The two-part sparse engine (random effects in the conditional and the
# zero-inflation parts, several terms) split by cluster, as
# sparse_cluster_split(): `Zc`, `Zz` the parts' random-effects designs,
# `re` both parts' terms (zi_random_combined_re()), `ax` profile_aux_inputs().
sparse_two_part_cluster_split <- function(X, Zc, Zz, y, w, ax, re, fam) {
  function(code, G, levels) {
    Qc <- ncol(Zc)
    # (three random parts: the zero part's Qz columns of Zz, then the
    # dispersion part's)
    Qz <- if (isTRUE(re$three)) re$Qz else ncol(Zz)
    M <- methods::as(methods::as(Zc, "CsparseMatrix"), "generalMatrix")
    engines <- lapply(sparse_cluster_pieces(cbind(Zc, Zz), re, code, w, G, levels), function(k) {
      if (is.null(k)) return(NULL)
      r <- k$rows
      # the cluster's own columns in the combined order, conditional ones
      # first; a part without any gets one column of zero loading
      qc <- sum(k$cols <= Qc)
      qz <- sum(k$cols > Qc & k$cols <= Qc + Qz)
      qd <- length(k$cols) - qc - qz
      t <- k$triplets
      zc <- t$j <= qc
      zd <- t$j > qc + qz
      wz <- max(qz, 1L)
      to_engine <- function(l) ifelse(l < qc, l, ifelse(l < qc + qz, max(qc, 1L) + l - qc,
                                                         max(qc, 1L) + wz + l - qc - qz))
      jz <- ifelse(zd, wz + t$j - qc - qz, t$j - qc)
      cpp_sparse_two_part_new(X[r, , drop = FALSE], ax$Xz0[r, , drop = FALSE], ax$Xd0[r, , drop = FALSE],
                     csc_from_triplets(t$i[zc], t$j[zc], t$x[zc], length(r), max(qc, 1L), M,
                                       sorted = TRUE),
                     csc_from_triplets(t$i[!zc], jz[!zc], t$x[!zc], length(r),
                                       wz + if (isTRUE(re$three)) max(qd, 1L) else 0L, M,
                                       sorted = TRUE),
                     y[r], w[r], ax$off3[r, , drop = FALSE], to_engine(k$lam_row),
                     to_engine(k$lam_col), k$lam_k, re$ntheta, fam$family_code,
                     fam$link_code, ax$kind, if (isTRUE(re$three)) wz else -1L)
    })
    list(scores = function(th) split_gradients(engines, th, function(e, t)
      cpp_sparse_two_part_grad(e, t)$gradient))
  }
}

# Each cluster's gradient (rows) from its engine, by `grad(engine, theta)`;
# clusters without an engine (no rows of positive weight) score zero.
split_gradients <- function(engines, th, grad) {
  S <- matrix(0, length(engines), length(th))
  for (k in seq_along(engines)) if (!is.null(engines[[k]])) S[k, ] <- grad(engines[[k]], th)
  S
}

# Each cluster's rows and random effects for an engine built on its rows
# (sparse_two_part_cluster_split()): per cluster (NULL without rows of positive
# weight) its `rows`, the columns of `Z` it owns (`cols`,
# random_effect_owner()), its entries of Z as 1-based `triplets` i, j, x
# in the cluster's rows and columns (in compressed-column order), and the
# covariance factor's entries among its columns (0-based `lam_row`,
# `lam_col`, and `lam_k`).
sparse_cluster_pieces <- function(Z, re, code, w, G, levels) {
  code[w <= 0] <- NA_integer_
  Zt <- methods::as(Z, "TsparseMatrix")
  owner <- random_effect_owner(Zt, re$lam_row, re$lam_col, code, levels)
  rows <- split(seq_along(code), factor(code, levels = seq_len(G)))
  cols_of <- split(seq_along(owner), factor(owner, levels = seq_len(G)))
  lam_of <- split(seq_along(re$lam_row), factor(owner[re$lam_row], levels = seq_len(G)))
  # each row's and column's position within its cluster
  rloc <- integer(length(code))
  rloc[unlist(rows, use.names = FALSE)] <- sequence(lengths(rows))
  cloc <- integer(length(owner))
  cloc[unlist(cols_of, use.names = FALSE)] <- sequence(lengths(cols_of))
  # Z's entries on the cluster's own columns (explicit zeros elsewhere load
  # on nothing), ordered once by cluster, column and row: each cluster's
  # run is then in compressed-column order
  ei <- Zt@i + 1L
  ej <- Zt@j + 1L
  ce <- code[ei]
  oe <- owner[ej]
  keep <- which(!is.na(ce) & !is.na(oe) & oe == ce)
  keep <- keep[order(ce[keep], cloc[ej[keep]], rloc[ei[keep]])]
  ent <- split(keep, factor(ce[keep], levels = seq_len(G)))
  lapply(seq_len(G), function(k) {
    r <- rows[[k]]
    if (!length(r)) return(NULL)
    cols <- cols_of[[k]]
    lam <- lam_of[[k]]
    lam <- lam[owner[re$lam_col[lam]] %in% k]
    e <- ent[[k]]
    tr <- list(i = rloc[ei[e]], j = cloc[ej[e]], x = Zt@x[e])
    list(rows = r, cols = cols, triplets = tr, lam_row = cloc[re$lam_row[lam]] - 1L,
         lam_col = cloc[re$lam_col[lam]] - 1L, lam_k = re$lam_k[lam] - 1L)
  })
}

# A sparse matrix (dgCMatrix, nr x nc) from 1-based triplets, by filling
# the slots of `M`, a dgCMatrix: methods::new() validates the object, which
# took most of the time of splitting 2,000 clusters. `sorted`: the
# triplets are already in column-major order.
csc_from_triplets <- function(i, j, x, nr, nc, M, sorted = FALSE) {
  o <- if (sorted) seq_along(i) else order(j, i)
  M@i <- as.integer(i[o] - 1L)
  M@x <- as.numeric(x[o])
  M@p <- as.integer(c(0L, cumsum(tabulate(j, nc))))
  M@Dim <- as.integer(c(nr, nc))
  M
}

# The nested quadrature engine `eng` (the fit's, on all rows) split by
# cluster (clusters nest the outermost grouping, whose units' codes per row
# are `outer`, 0-based): a function of (code, G, levels) giving
# list(loglik), a function of theta (the fit's order, on the engine's scale)
# giving the G clusters' log-likelihoods, the sums of their outermost units'
# from one evaluation; cluster_score_parts() differentiates them.
nested_cluster_split <- function(eng, outer, w, map, nAGQ) {
  function(code, G, levels) {
    # (resolve_vcov_cluster() has checked that the clusters nest every
    # grouping, the outermost one included); a unit without rows of
    # positive weight adds nothing, to cluster 1
    pos <- if (length(w)) w > 0 else rep(TRUE, length(outer))
    nu <- max(outer) + 1L
    to_user <- rep(1L, nu)
    to_user[outer[pos] + 1L] <- code[pos]
    list(loglik = function(th) {
      ll <- cpp_nested_eval(eng, c(th, 0)[map], nAGQ, FALSE, TRUE)$unit_loglik
      rowsum(ll, factor(to_user, levels = seq_len(G)), reorder = TRUE)[, 1L]
    })
  }
}

# The bridge random-intercept fit's engine for cluster-robust covariances
# (glmm(ranef_dist = "bridge")): each cluster's log-likelihood in
# theta = (beta, phi), which cluster_score_parts() differentiates (the
# fit's own search uses differences too).
dist_robust_engine <- function(fit) {
  dist <- fit$ranef_dist
  p <- dist$p
  cl <- if (is.list(fit$group)) fit$group else cluster_index(fit$group, "group")
  if (identical(dist$type, "nonparametric")) return(npml_robust_engine(fit, cl))
  if (!identical(dist$type, "bridge"))
    require_capability(fit, "robust_vcov")
  eng <- dist_engine(fit$X, as.numeric(fit$y), as.numeric(fit$prior.weights),
                     as.numeric(fit$offset), cl, fit$family)
  list(loglik = function(th) eng(th[seq_len(p)], 0L, th[p + 1L])$cluster_loglik,
       free = function() NULL, Tx = NULL)
}

# The nonparametric random intercept (mass points): each cluster's
# log-likelihood, an exact finite mixture, in the fit's free parameters
# phi = (beta without the intercept, mass points, alpha_2..alpha_k), the
# ones its search and information use (the reported theta, with the
# intercept the distribution's mean and alpha_1 = 0, has two more entries
# and a singular covariance); `par` carries them to theta by
# npml_theta()'s Jacobian.
npml_robust_engine <- function(fit, cl) {
  dist <- fit$ranef_dist
  p <- dist$p
  k <- dist$k
  int <- dist$intercept
  eng <- dist_engine(fit$X[, -int, drop = FALSE], as.numeric(fit$y),
                     as.numeric(fit$prior.weights), as.numeric(fit$offset), cl, fit$family)
  th <- as.numeric(fit$theta)
  phi <- c(th[seq_len(p)][-int], th[p + seq_len(k)], th[p + k + 1L + seq_len(k - 1L)])
  if (any(th[p + k + 1L] != 0) || max(abs(npml_theta(phi, p, int, k) - th) / (1 + abs(th))) > 1e-8)
    stop("vcov(): the nonparametric fit's parameters are not in their reported layout; no cluster-robust covariance",
         call. = FALSE)
  V <- invert_information(fit$hessian, rep(FALSE, length(phi)),
                          npml_free_names(colnames(fit$X), int, k))
  list(loglik = function(ph)
         eng(ph[seq_len(p - 1L)], 1L, c(ph[p - 1L + seq_len(k)], 0,
                                         ph[p - 1L + k + seq_len(k - 1L)]))$cluster_loglik,
       free = function() NULL, Tx = NULL,
       par = list(theta = phi, V = V, to_engine = identity,
                  jac = function(ph) npml_theta_jacobian(ph, p, int, k)))
}

# The cumulative link random-intercept fit's engine for cluster-robust
# covariances: each cluster's log-likelihood in the fit's theta = (beta,
# sigma, thresholds) (cpp_ordinal_loglik(), clusters in the order of the
# grouping's levels, as fit$group codes them), and each cluster's exact
# score and information from one pass (`curvature`), which
# cluster_score_parts() uses in place of differences.
ordinal_robust_engine <- function(fit) {
  require_capability(fit, "robust_vcov")
  if (inherits(fit, "glmmgee_glmm_ordinal_sparse")) return(ordinal_sparse_robust_engine(fit))
  p <- length(fit$coefficients)
  if (inherits(fit, "glmmgee_glmm_ordinal_re")) {
    # random slopes: theta's covariance-factor entries (diagonal ones
    # positive, the search's log scale) back to psi = (thresholds, beta,
    # entries with log diagonal), on the fit's own evaluation: a search on
    # the standardized Z* (the quadrature's value depends on the basis)
    # is evaluated there, in Lambda*'s entries. The clusters' informations
    # are taken in the search's parameters (`par`, as fit_basis_engine()
    # for the binary model it generalizes): Lambda*, and the coefficients
    # and thresholds of the centred and scaled covariates (in the user's,
    # x + 100 moved CR2 by 1.7%).
    k1 <- length(fit$thresholds)
    on <- fit$lam_row == fit$lam_col
    nre <- length(on)
    bs <- ordinal_re_basis(fit)
    ib <- seq_len(p)
    it <- p + nre + seq_len(k1)
    X <- as.matrix(fit$X)
    ctr <- if (p) colMeans(X) else numeric()
    scl <- if (p) apply(X, 2L, stats::sd) else numeric()
    scl[!is.finite(scl) | scl == 0] <- 1
    loglik <- function(te) {
      beta <- te[ib] / scl
      re <- te[p + seq_len(nre)]
      re[on] <- log(abs(re[on]))
      ordinal_loglik_at_re(fit, c(te[it] + sum(ctr * beta), beta, re), clusters = TRUE,
                           star = !is.null(bs$zb))
    }
    bm <- if (!is.null(bs$zb)) basis_map(bs$zb)
    to_engine <- function(th) {
      te <- th
      te[ib] <- th[ib] * scl
      te[it] <- th[it] - sum(ctr * th[ib])
      if (is.null(bm)) te else bm$to_engine(te)
    }
    engine_jac <- function(th) {
      J <- diag(1, length(th))
      J[ib, ib] <- diag(scl, p)
      J[it, ib] <- matrix(-ctr, k1, p, byrow = TRUE)
      if (is.null(bm)) J else bm$jac(th) %*% J
    }
    eng <- list(loglik = loglik, free = function() NULL, Tx = NULL,
                par = list(theta = as.numeric(fit$theta), V = fit$cov_theta,
                           to_engine = to_engine, engine_jac = engine_jac))
    return(eng)
  }
  d <- ordinal_fit_data(fit)
  J <- length(fit$y_levels)
  k1 <- J - 1L
  # |sigma|: a step across zero (a standard deviation within a thousandth
  # of its standard error of zero) sees the likelihood's mirror image
  at <- function(th, ...)
    cpp_ordinal_loglik(d$y, d$X, d$offset, d$w, d$starts, J, th[p + 1L + seq_len(k1)],
                       th[seq_len(p)], log(abs(th[p + 1L])), fit$nAGQ, fit$family$link_code, ...)
  list(loglik = function(th) at(th, FALSE)$cluster_loglik,
       curvature = function(th, hessians = TRUE)
         ordinal_cluster_curvature(at(th, TRUE, NULL, TRUE, if (hessians) 3L else 0L, TRUE),
                                   th[[p + 1L]], p, k1),
       free = function() NULL, Tx = NULL)
}

# Each cluster's score and information in theta = (beta, sigma,
# thresholds) from the engine's exact ones in psi = (thresholds, beta,
# log |sigma|) (`r`: cpp_ordinal_loglik(clusters = TRUE), the informations
# with hessian = 3): reordered, and log |sigma|'s chain rule, whose second
# derivative -1 / sigma^2 adds each cluster's own score to its curvature.
ordinal_cluster_curvature <- function(r, sigma, p, k1) {
  ord <- c(k1 + seq_len(p), k1 + p + 1L, seq_len(k1))
  is <- p + 1L
  g <- r$cluster_gradient[, ord, drop = FALSE]
  g_tau <- g[, is]
  g[, is] <- g_tau / sigma
  if (is.null(r$cluster_hessian)) return(list(scores = g))
  H <- r$cluster_hessian[ord, ord, , drop = FALSE]
  H[is, , ] <- H[is, , , drop = FALSE] / sigma
  H[, is, ] <- H[, is, , drop = FALSE] / sigma
  H[is, is, ] <- H[is, is, ] - g_tau / sigma^2
  list(scores = g, informations = -H)
}

# A cumulative link fit with several random-effect terms (the sparse
# Laplace engine with the cumulative model as its auxiliary part, theta =
# (beta, each term's standard deviation, thresholds), as
# ordinal_sparse_engine() builds it), split by cluster.
ordinal_sparse_robust_engine <- function(fit) {
  n <- length(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  re <- c(fit$re_pattern, list(Z = fit$Z))
  eng <- ordinal_sparse_engine(fit$X, fit$y, w, fit$offset %||% rep(0, n), re,
                               length(fit$y_levels), fit$family$link_code)
  list(split = sparse_cluster_split(eng, fit$Z, re, w), free = function() NULL, Tx = NULL)
}

# A structured-covariance fit (ar1(), cs(), ...): the AGQ engine's
# per-cluster scores (one grouping factor), or those of the sparse Laplace
# engine split by cluster (several terms), in Lambda's entries (the fit's theta,
# whose covariance is singular when the structure has fewer parameters than
# entries), carried to the structures' parameters phi = (beta, each
# structure's parameters, dispersion) by the chain rule through
# structure_lambda()'s Jacobian. `par`: phi-hat, its covariance, the map
# phi -> theta and its Jacobian (theta x phi), for cluster_score_parts().
covstruct_robust_engine <- function(fit) {
  pm <- covstruct_parameter_map(fit)
  if (is.null(pm))
    stop("vcov(): the structured fit's parameters do not reproduce its covariance entries; no cluster-robust covariance",
         call. = FALSE)
  re <- pm$re
  map <- pm$map
  phi <- pm$phi
  sparse <- inherits(fit, "glmmgee_glmm_sparse")
  if (inherits(fit, c("glmmgee_glmm_zire_sparse", "glmmgee_glmm_dispre"))) {
    eng <- covstruct_two_part_engine(fit, re)
  } else if (sparse) {
    eng <- covstruct_sparse_engine(fit, re)
  } else {
    # one grouping factor: on the basis of the fit's quadrature (a centred
    # two-column cs()), the engine's theta a map of the fit's
    one <- structured_one_factor_engine(fit, pm, "vcov()")
    eng <- one$base
    if (!is.null(one$to_engine)) {
      check_rebuilt_engine(eng$eval(theta_star(one$to_engine(map(phi)$theta), eng$Tx))$loglik,
                           fit, eng$free, "vcov()")
      eng$par <- list(theta = phi, V = fit$cov_structure,
                      to_engine = function(ph) one$to_engine(map(ph)$theta),
                      jac = function(ph) map(ph)$J,
                      engine_jac = function(ph) {
                        m <- map(ph)
                        one$jac(m$theta) %*% m$J
                      })
      return(eng)
    }
  }
  eng$par <- list(theta = phi, V = fit$cov_structure, to_engine = function(ph) map(ph)$theta,
                  jac = function(ph) map(ph)$J)
  eng
}

# The sparse Laplace engine of a structured fit with several terms, split
# by cluster (sparse_cluster_split()) on the terms of the fit's formula
# (`re`, sparse_covstruct_terms()), in the engine's parameters.
covstruct_sparse_engine <- function(fit, re) {
  se <- covstruct_sparse_new(fit, re)
  # (by quadrature: the one-factor engine's clusters, the levels of the
  # terms' factor)
  split <- if (!is.null(se$nested))
             nested_cluster_split(se$nested$eng, se$nested$ns$units[[1L]], se$w, se$nested$map,
                                  as.integer(fit$nAGQ))
           else if (!se$agq) sparse_cluster_split(se$eng, re$Z, re, se$w)
           else one_factor_score_split(re$terms[[1L]]$index, length(re$terms[[1L]]$levels), se$w,
                                       function(th) cpp_agq_scores(se$eng, th))
  list(split = split, Tx = se$Tx, free = function() NULL)
}

# The split of a one-factor engine's clusters' scores into the user's
# clusters, which nest them (robust_score_engine()'s `split`): `index` each
# row's engine cluster (of `M`), `w` the prior weights (a row of weight 0
# may carry a stand-in code), `scores(th)` the engine clusters' scores
# (M x P) at th.
one_factor_score_split <- function(index, M, w, scores) function(code, G, levels) {
  rows <- which(w > 0)
  to_user <- rep(1L, M)
  to_user[index[rows]] <- code[rows]
  list(scores = function(th) {
    S <- matrix(0, G, length(th))
    S[sort(unique(to_user)), ] <- rowsum(scores(th), to_user, reorder = TRUE)
    S
  })
}

# The same for a structured two-part fit with random effects in both parts
# (`re` both parts' terms, zi_random_combined_re()): the two-part sparse engine
# built on each cluster's rows (sparse_two_part_cluster_split()).
covstruct_two_part_engine <- function(fit, re) {
  ax <- profile_aux_inputs(fit)
  n <- length(fit$y)
  # (by quadrature: the one-factor two-part engine's clusters)
  if (isTRUE(fit$nAGQ > 1L))
    return(list(split = structured_zi_random_agq_rebuild(fit, re, ax)$split, Tx = ax$Tx,
                free = function() NULL))
  z <- zi_random_split_z(re)
  list(split = sparse_two_part_cluster_split(ax$X, z$Zc, z$Zz, as.numeric(fit$y),
                                    as.numeric(fit$prior.weights %||% rep(1, n)), ax, re,
                                    fit$family),
       Tx = ax$Tx, free = function() NULL)
}

# The sparse Laplace engine of a structured fit with several terms on the
# terms `re` (sparse_covstruct_terms()), on the engine's X* (with `Tx`):
# list(eng, w (the prior weights), Tx). Shared by the cluster-robust
# covariance and the profile (covstruct_profile_engine()).
covstruct_sparse_new <- function(fit, re) {
  ax <- profile_aux_inputs(fit)
  n <- length(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  fam <- fit$family
  # A two-part fit by quadrature (its terms on one grouping factor): the
  # one-factor engine at the fit's rule (two_part_structure_agq()).
  if (!is.null(fit$aux) && isTRUE(fit$nAGQ > 1L))
    return(list(eng = structure_agq_new(ax$X, fit$y, w, fit$offset %||% rep(0, n), re, fam,
                                        fit$nAGQ, 1L, ax$kind, ax),
                w = w, Tx = ax$Tx, agq = TRUE))
  # Nested grouping factors by quadrature: the nested engine at the fit's
  # rule (fit-nested-covstruct.R).
  if (isTRUE(fit$nAGQ > 1L))
    return(list(nested = nested_structure_engine(ax$X, fit$y, w, fit$offset %||% rep(0, n), re,
                                                 fam, as.integer(fit$nAGQ),
                                                 list(nthreads = fit$optinfo$nthreads %||% 1L)),
                w = w, Tx = ax$Tx, agq = FALSE))
  eng <- cpp_sparse_new(ax$X, re$Z, as.numeric(fit$y), w, as.numeric(fit$offset %||% rep(0, n)),
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                        fam$family_code, fam$link_code)
  if (!is.null(fit$aux)) cpp_sparse_set_aux(eng, ax$kind, ax$XA, ax$pred, ax$aoff)
  list(eng = eng, w = w, Tx = ax$Tx, agq = FALSE)
}

# The engine of cluster-robust covariances for `fit`: the fit's own engine
# (profile_engine(), on the basis of the fit's quadrature: fit_basis_engine())
# with per-cluster scores or a split by cluster, or one of the engines above.
robust_score_engine <- function(fit) {
  if (inherits(fit, "glmmgee_glmm_sharded")) return(sharded_robust_engine(fit))
  if (inherits(fit, "glmmgee_glmm_dist")) return(dist_robust_engine(fit))
  if (is_cumulative(fit$family)) return(ordinal_robust_engine(fit))
  if (inherits(fit, "glmmgee_glmm_covstruct")) return(covstruct_robust_engine(fit))
  eng <- fit_basis_engine(fit, "vcov()")
  if (!is.null(eng$to_engine))
    eng$par <- list(theta = as.numeric(fit$theta), V = fit$cov_theta, to_engine = eng$to_engine,
                    engine_jac = eng$jac)
  eng
}
