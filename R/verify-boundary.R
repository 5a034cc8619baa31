# A boundary optimum (a variance at zero, a correlation at +/-1) is
# accepted only once it is verified. The Laplace and quadrature
# log-likelihoods are even in each diagonal entry of Lambda, so their
# derivative there is zero on the boundary whether or not the likelihood
# rises away from it: a gradient method that reaches the bound stays there,
# and no first-order test can tell. So the search is restarted from interior
# points (the standard deviation at a few sizes on the optimizer's
# well-conditioned scale, its correlations at 0) and the highest optimum
# is kept; the result is recorded for $optinfo$boundary_check.
#
# search(theta) runs the optimizer from theta and returns a list with theta,
# loglik, opt and stages; restart_point(theta, on_boundary, size, corr)
# gives the interior point where a restart begins: each variance on the
# boundary set to size^2, its correlations with the other effects of its
# block to corr. A correlation other than 0 matters: a rank-one D can be
# reached from two sides (one variance at zero, or a correlation at +/-1),
# and from a zero correlation the search may return to the wrong one.
#
# A search that stopped without converging (an iteration limit, typically
# crawling towards a standard deviation near zero, where the curvature
# vanishes) is restarted the same way, from its diagonal entries of Lambda
# below 0.1 on the optimizer's scale (`diag` gives their indices), or all
# of them.
verify_boundary <- function(search, best, boundary, restart_point, pnames, diag,
                            starts = list(c(1, 0), c(0.3, 0), c(0.5, 0.8), c(0.5, -0.8)),
                            rounds = 2L) {
  stalled <- function(res) !identical(as.integer(res$opt$convergence), 0L)
  candidates <- function(res) {
    b <- boundary(res$theta)
    if (any(b) || !stalled(res)) return(b)
    near <- rep(FALSE, length(b))
    near[diag] <- abs(res$theta[diag]) < 0.1
    if (!any(near)) near[diag] <- TRUE
    near
  }
  b0 <- candidates(best)
  rec <- boundary_record(best$loglik, performed = any(b0),
                         parameters = pnames[b0 & boundary(best$theta)], stalled = stalled(best))
  if (!any(b0)) return(list(best = best, record = rec))
  restart_stages <- list()
  for (r in seq_len(rounds)) {
    b <- candidates(best)
    if (!any(b)) break
    improved <- FALSE
    tried <- list()
    for (st in starts) {
      th <- restart_point(best$theta, b, st[1L], st[2L])
      if (any(vapply(tried, function(t) isTRUE(all.equal(t, th, tolerance = 1e-12)), TRUE))) next
      tried[[length(tried) + 1L]] <- th
      res <- tryCatch(search(th), error = function(e) NULL)
      rec$restarts <- rec$restarts + 1L
      if (is.null(res) || !is.finite(res$loglik)) {
        rec$loglik_restarts <- c(rec$loglik_restarts, NA_real_)
        next
      }
      rec$loglik_restarts <- c(rec$loglik_restarts, res$loglik)
      restart_stages[[sprintf("restart%d", length(restart_stages) + 1L)]] <- list(
        iterations = sum(vapply(res$stages, function(s) as.integer(s$iterations %||% 0L), 1L)),
        evaluations = sum(vapply(res$stages, function(s) as.integer(s$evaluations %||% 0L), 1L)),
        convergence = as.integer(res$opt$convergence),
        message = sprintf("restart from the interior: log-likelihood %.6f", res$loglik))
      # (a first search that ended where the log-likelihood is NaN is no
      # optimum: any finite restart replaces it)
      if (!is.finite(best$loglik) || res$loglik > best$loglik + 1e-6) {
        best <- res
        improved <- TRUE
      }
    }
    if (!improved) break
    rec$moved_off <- TRUE
  }
  b1 <- boundary(best$theta)
  ok <- rec$loglik_restarts[!is.na(rec$loglik_restarts)]
  rec$verified <- !any(b1) || (length(ok) > 0L && all(ok <= best$loglik + 1e-6))
  rec$message <- if (!any(b1) && rec$moved_off) {
    "restarts from the interior found a higher interior optimum than the first search (stopped on a boundary or before converging)"
  } else if (!any(b1)) {
    sprintf("the first search stopped before converging; %d restart(s) from the interior found no higher log-likelihood",
            rec$restarts)
  } else if (rec$verified) {
    sprintf("verified: %d restart(s) from interior points returned no higher log-likelihood",
            rec$restarts)
  } else {
    "not verified: restarts from interior points failed"
  }
  rec$parameters_final <- pnames[b1]
  best$restart_stages <- restart_stages
  list(best = best, record = rec)
}

# The restart point for one covariance block pattern: Lambda's free entries
# at positions `at` of theta (rows `row`, columns `col`, lower triangle,
# block diagonal), boundary variances set to size^2 and their correlations
# within the block to corr (kept inside the positive definite cone).
restart_lambda <- function(theta, on_boundary, size, corr, row, col, at) {
  q <- max(row)
  L <- matrix(0, q, q)
  L[cbind(row, col)] <- theta[at]
  D <- tcrossprod(L)
  allowed <- matrix(FALSE, q, q)
  allowed[cbind(row, col)] <- TRUE
  allowed <- allowed | t(allowed)
  # Effects in the same block: connected through the pattern.
  blk <- seq_len(q)
  for (k in seq_len(q)) for (j in seq_len(q)) if (allowed[k, j]) blk[blk == blk[j]] <- blk[k]
  zero <- unique(row[row == col & on_boundary[at]])
  for (k in zero) {
    D[k, ] <- D[, k] <- 0
    D[k, k] <- size^2
  }
  for (k in zero) {
    others <- setdiff(which(blk == blk[k]), k)
    for (j in others) {
      sj <- sqrt(max(D[j, j], size^2))
      D[j, j] <- sj^2
      D[k, j] <- D[j, k] <- corr * size * sj / sqrt(length(others) * length(zero))
    }
  }
  th <- theta
  Ln <- chol_psd(D + diag(1e-10, q))
  th[at] <- Ln[cbind(row, col)]
  th
}

# The boundary check's record ($optinfo$boundary_check) before any restart:
# as a fit with no parameter on a boundary reports it.
boundary_record <- function(loglik, performed = FALSE, parameters = character(), stalled = FALSE) {
  list(performed = performed, parameters = parameters, stalled = stalled, restarts = 0L,
       loglik_boundary = loglik, loglik_restarts = numeric(), moved_off = FALSE,
       verified = TRUE, message = "no parameter on a boundary")
}
