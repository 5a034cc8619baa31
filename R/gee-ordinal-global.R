# Global odds ratios for the ordinal GEE (Heagerty and Zeger 1996): the
# association between the cut-point indicators Z_tk = I(Y_t <= k) and
# Z_sm = I(Y_s <= m) of two responses of a cluster is their odds ratio
# psi = exp(alpha_g), one log odds ratio per group g of pairs:
#   "global.exchangeable"  one alpha for all pairs of times and cut points
#   "global.unstructured"  one alpha per pair of times
# (geepack::ordgee's corstr = "exchangeable" / "unstructured"). The joint
# probability P(Z_tk = 1, Z_sm = 1) follows from the margins and psi by
# Plackett's formula; with one psi for all cut points of a pair the joint
# distribution of (Y_t, Y_s) is the Plackett copula's, a proper table.
# Two sets of estimating equations, solved together:
#   U1 = sum_i D1_i' V1_i^{-1} (z_i - mu_i)          (thresholds, beta)
#   U2 = sum_i sum_{t<s} D2' V2^{-1} (r_t (x) r_s - sigma_ts)   (alpha)
# with r = z - mu, sigma_ts = E[r_t (x) r_s] = vec(P11 - mu_t mu_s'), D2 =
# d sigma / d alpha and V2 the variance of the products r_t (x) r_s under
# the pair's bivariate distribution (exact: the products take one value per
# cell of the J x J table). The sandwich treats the pair (U1, U2) as one
# estimating function whose derivative is block triangular (dU1/dalpha has
# expectation zero), as geepack's ordgee does. Plackett's p11 and its
# derivatives (by implicit differentiation of p (1 - m1 - m2 + p) =
# psi (m1 - p)(m2 - p)) are in src/ordinal-gee-global.cpp.

ordinal_global_structures <- c("global.exchangeable", "global.unstructured")

# The global odds ratio GEE. `y` codes 1..J, `tm` the times from
# ordinal_times(); returns the estimates, variances and the association.
ordinal_global_fit <- function(X, y, J, id, tm, family, off, corstr, control) {
  K <- length(id$levels)
  Tn <- length(tm$labels)
  c1 <- J - 1L
  p <- ncol(X)
  np <- c1 + p
  ord <- order(id$index, tm$index)
  cl <- id$index[ord]; tt <- tm$index[ord]
  Xs <- X[ord, , drop = FALSE]; ys <- y[ord]; os <- off[ord]
  Z <- outer(ys, seq_len(c1), "<=") * 1          # n x c cut-point indicators
  sizes <- tabulate(cl, K)
  starts <- cumsum(c(0L, sizes))
  # The pairs (t < s in time order) of every cluster and their group.
  # (one combn() per distinct cluster size, shifted to each cluster's rows)
  pairs <- do.call(rbind, lapply(setdiff(sort(unique(sizes)), 0:1), function(m) {
    cl_m <- which(sizes == m)
    cb <- utils::combn(m, 2L)
    cbind(rep(cl_m, each = ncol(cb)), starts[rep(cl_m, each = ncol(cb))] + cb[1L, ],
          starts[rep(cl_m, each = ncol(cb))] + cb[2L, ])
  }))
  if (!is.null(pairs)) pairs <- pairs[order(pairs[, 1L], pairs[, 2L], pairs[, 3L]), , drop = FALSE]
  if (is.null(pairs))
    stop(sprintf("corstr = \"%s\" needs repeated responses, but every cluster has one observation",
                 corstr), call. = FALSE)
  if (corstr == "global.exchangeable") {
    group <- rep(1L, nrow(pairs))
    gnames <- "log global OR"
  } else {
    key <- (tt[pairs[, 2L]] - 1L) * Tn + tt[pairs[, 3L]]
    used <- sort(unique(key))
    group <- match(key, used)
    gnames <- paste0("log global OR (", tm$labels[(used - 1L) %/% Tn + 1L], "-",
                     tm$labels[(used - 1L) %% Tn + 1L], ")")
  }
  q <- length(gnames)
  # The per-cluster sums (src/ordinal-gee-global.cpp) at (thresholds, beta)
  # and alpha.
  terms <- function(par, alpha, keep = FALSE) {
    eta <- if (p) drop(Xs %*% par[c1 + seq_len(p)]) + os else os
    lin <- outer(-eta, par[seq_len(c1)], "+")
    mu <- family$linkinv(lin)
    cpp_ordinal_gee_global(mu, family$dens(lin), Z - mu, Xs, as.integer(starts),
                           as.integer(pairs[, 2L] - 1L), as.integer(pairs[, 3L] - 1L),
                           as.integer(pairs[, 1L] - 1L), as.integer(group - 1L), as.double(alpha), keep)
  }

  # Start: the marginal thresholds, no covariate effects, no association;
  # the first steps are then Fisher scoring on the independence equations.
  cp <- cumsum(tabulate(y, J))[seq_len(c1)] / length(y)
  par <- c(cummax(family$linkfun(pmin(pmax(cp, 1e-4), 1 - 1e-4)) + seq_len(c1) * 1e-3), rep(0, p))
  alpha <- rep(0, q)
  converged <- FALSE
  crit <- NA_real_
  it <- 0L
  problem <- ""
  for (it in seq_len(control$maxit)) {
    tr <- terms(par, alpha)
    if (!tr$ok) {                                 # cannot happen at the start (alpha = 0)
      problem <- sprintf("the working covariance of cluster %d is not positive definite", tr$bad_cluster)
      break
    }
    db <- tryCatch(solve(tr$A, tr$U1), error = function(e) NULL)
    da <- if (is.null(db)) NULL else tryCatch(solve(tr$F, tr$U2 - tr$D %*% db), error = function(e) NULL)
    if (is.null(da) || any(!is.finite(c(db, da)))) {
      problem <- "a Fisher scoring step could not be computed (singular information)"
      break
    }
    crit <- max(abs(c(db, da)) / pmax(1, abs(c(par, alpha))))
    # Halve the step until the thresholds stay ordered and every cluster's
    # working covariance stays positive definite (the margins and odds
    # ratios must be compatible); a step that achieves neither is not taken.
    h <- 1
    repeat {
      par_new <- par + h * db
      alpha_new <- alpha + h * drop(da)
      if (all(diff(par_new[seq_len(c1)]) > 0) && terms(par_new, alpha_new)$ok) break
      h <- h / 2
      if (h < 1e-4) break
    }
    if (h < 1e-4) {
      problem <- sprintf(paste0("no step of the Fisher scoring kept the thresholds ordered and the working ",
                                "covariance positive definite (corstr = \"%s\"): the estimates are those of ",
                                "iteration %d; try %s"), corstr, it,
                         if (corstr == "global.unstructured") "corstr = \"global.exchangeable\" or \"independence\""
                         else "corstr = \"independence\"")
      break
    }
    par <- par_new
    alpha <- alpha_new
    if (crit < control$epsilon) {
      converged <- TRUE
      break
    }
  }
  tr <- terms(par, alpha, keep = TRUE)
  if (tr$singular_pairs > 0L)
    problem <- c(problem, sprintf("%d pairs of responses have a singular variance of their products and were left out of the association equations",
                                  tr$singular_pairs))
  # Sandwich of the stacked estimating function with the block-triangular
  # derivative [[A, 0], [D, F]].
  Ainv <- tryCatch(solve(tr$A), error = function(e) NULL)
  Finv <- tryCatch(solve(tr$F), error = function(e) NULL)
  warnings <- character()
  problem <- problem[nzchar(problem)]
  if (length(problem)) warnings <- paste0("ordinal GEE: ", problem)
  if (!converged)
    warnings <- c(warnings, sprintf(paste0("the ordinal GEE (global odds ratios) did not converge in %d iterations ",
                                           "(last relative step %.2g)"), it, crit))
  if (is.null(Ainv) || is.null(Finv)) {
    warnings <- c(warnings, "the information matrix is singular: no standard errors")
    Ainv <- matrix(NA_real_, np, np); Finv <- matrix(NA_real_, q, q)
  }
  inf_b <- tr$U1i %*% Ainv                                  # rows: clusters
  inf_a <- (tr$U2i - inf_b %*% t(tr$D)) %*% Finv
  list(psi = par, naive = Ainv, robust = crossprod(inf_b),
       alpha = stats::setNames(alpha, gnames),
       alpha_vcov = structure(crossprod(inf_a), dimnames = list(gnames, gnames)),
       alpha_naive = structure(Finv, dimnames = list(gnames, gnames)),
       converged = converged, iterations = it, warnings = warnings)
}
