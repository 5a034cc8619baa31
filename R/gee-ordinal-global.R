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
# psi (m1 - p)(m2 - p)) are in src/engines/gee/ordinal-gee-global.cpp.

ordinal_global_structures <- c("global.exchangeable", "global.unstructured")

# The global odds ratio GEE. `y` codes 1..J, `tm` the times from
# ordinal_times(); returns the estimates, variances and the association.
# The scoring runs in C++ (src/engines/gee/ordinal-gee-global.cpp), once per covariate
# pattern of whole clusters; `patterns = FALSE` (tests) computes every
# cluster on its own.
ordinal_global_fit <- function(X, y, J, id, tm, family, off, corstr, control, patterns = TRUE) {
  K <- length(id$levels)
  Tn <- length(tm$labels)
  c1 <- J - 1L
  p <- ncol(X)
  np <- c1 + p
  sizes <- tabulate(id$index, K)
  if (all(sizes < 2L))
    stop(sprintf("corstr = \"%s\" needs repeated responses, but every cluster has one observation",
                 corstr), call. = FALSE)
  # The log odds ratio (0-based) of the pairs of times t < s: row t, column s.
  if (corstr == "global.exchangeable") {
    group <- matrix(0L, Tn, Tn)
    gnames <- "log global OR"
  } else {
    # Pairs of times seen together in some cluster, ordered by t, then s.
    seen <- matrix(0, K, Tn)
    seen[cbind(id$index, tm$index)] <- 1
    used <- which(crossprod(seen) > 0 & upper.tri(diag(Tn)), arr.ind = TRUE)
    used <- used[order(used[, 1L], used[, 2L]), , drop = FALSE]
    group <- matrix(-1L, Tn, Tn)
    group[used] <- seq_len(nrow(used)) - 1L
    gnames <- paste0("log global OR (", tm$labels[used[, 1L]], "-", tm$labels[used[, 2L]], ")")
  }
  q <- length(gnames)
  # Start: the marginal thresholds, no covariate effects, no association;
  # the first steps are then Fisher scoring on the independence equations.
  cp <- cumsum(tabulate(y, J))[seq_len(c1)] / length(y)
  par <- c(cummax(family$linkfun(pmin(pmax(cp, 1e-4), 1 - 1e-4)) + seq_len(c1) * 1e-3), rep(0, p))
  ord <- order(id$index, tm$index)
  tr <- cpp_ordinal_gee_global(as.integer(y[ord]), X[ord, , drop = FALSE], as.double(off[ord]),
                               as.integer(c(0L, cumsum(sizes))), as.integer(tm$index[ord] - 1L), group,
                               as.integer(J), as.integer(q), as.double(par), family$link_code,
                               as.integer(control$maxit), as.double(control$epsilon), patterns)
  it <- tr$iterations
  problem <- switch(tr$status + 1L, "",
    sprintf("the working covariance of cluster %d is not positive definite", tr$bad_cluster),
    "a Fisher scoring step could not be computed (singular information)",
    # No halving of the step kept the thresholds ordered and every cluster's
    # working covariance positive definite (margins and odds ratios
    # compatible): the step was not taken.
    sprintf(paste0("no step of the Fisher scoring kept the thresholds ordered and the working ",
                   "covariance positive definite (corstr = \"%s\"): the estimates are those of ",
                   "iteration %d; try %s"), corstr, it,
            if (corstr == "global.unstructured") "corstr = \"global.exchangeable\" or \"independence\""
            else "corstr = \"independence\""))
  if (tr$singular_pairs > 0L)
    problem <- c(problem, sprintf("%d pairs of responses have a singular variance of their products and were left out of the association equations",
                                  tr$singular_pairs))
  # Sandwich of the stacked estimating function with the block-triangular
  # derivative [[A, 0], [D, F]].
  Ainv <- if (tr$ok) tryCatch(solve(tr$A), error = function(e) NULL)
  Finv <- if (tr$ok) tryCatch(solve(tr$F), error = function(e) NULL)
  warnings <- character()
  problem <- problem[nzchar(problem)]
  if (length(problem)) warnings <- paste0("ordinal GEE: ", problem)
  if (!tr$converged)
    warnings <- c(warnings, sprintf(paste0("the ordinal GEE (global odds ratios) did not converge in %d iterations ",
                                           "(last relative step %.2g)"), it, tr$crit))
  if (is.null(Ainv) || is.null(Finv)) {
    warnings <- c(warnings, "the information matrix is singular: no standard errors")
    Ainv <- matrix(NA_real_, np, np); Finv <- matrix(NA_real_, q, q)
  }
  inf_b <- tr$U1i %*% Ainv                                  # rows: clusters
  inf_a <- (tr$U2i - inf_b %*% t(tr$D)) %*% Finv
  list(psi = tr$par, naive = Ainv, robust = crossprod(inf_b),
       alpha = stats::setNames(tr$alpha, gnames),
       alpha_vcov = structure(crossprod(inf_a), dimnames = list(gnames, gnames)),
       alpha_naive = structure(Finv, dimnames = list(gnames, gnames)),
       converged = tr$converged, iterations = it, warnings = warnings, patterns = tr$patterns)
}
