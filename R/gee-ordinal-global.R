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
# expectation zero), as geepack's ordgee does.

ordinal_global_structures <- c("global.exchangeable", "global.unstructured")

# Plackett's P(A and B) for odds ratio psi and margins m1, m2, in the form
# 2 psi m1 m2 / (a + S) that has no cancellation at psi = 1.
plackett_p11 <- function(psi, m1, m2) {
  a <- 1 + (m1 + m2) * (psi - 1)
  S <- sqrt(pmax(a * a - 4 * psi * (psi - 1) * m1 * m2, 0))
  2 * psi * m1 * m2 / (a + S)
}

# Derivatives of p11 by implicit differentiation of
# g = p (1 - m1 - m2 + p) - psi (m1 - p)(m2 - p) = 0.
plackett_derivs <- function(p, psi, m1, m2) {
  gp <- 1 - m1 - m2 + 2 * p + psi * (m1 + m2 - 2 * p)
  list(dlogpsi = psi * (m1 - p) * (m2 - p) / gp,
       dm1 = (p + psi * (m2 - p)) / gp,
       dm2 = (p + psi * (m1 - p)) / gp)
}

# The cell probabilities of the J x J table of a pair from its c x c matrix
# of cumulative joint probabilities and the two margins.
cumulative_to_cells <- function(P11, m1, m2) {
  C <- rbind(cbind(P11, m1), c(m2, 1))
  C <- rbind(0, cbind(0, C))
  J <- nrow(C) - 1L
  C[-1L, -1L] - C[-(J + 1L), -1L] - C[-1L, -(J + 1L)] + C[-(J + 1L), -(J + 1L)]
}

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
  pairs <- do.call(rbind, lapply(which(sizes > 1L), function(i) {
    r <- starts[i] + seq_len(sizes[i])
    cb <- utils::combn(r, 2L)
    cbind(i, cb[1L, ], cb[2L, ])
  }))
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
  pair_of_cluster <- split(seq_len(nrow(pairs)), factor(pairs[, 1L], levels = seq_len(K)))
  Rmat <- outer(seq_len(J), seq_len(c1), "<=") * 1  # indicator values per category

  # Everything the iterations and the sandwich need at (psi, alpha).
  terms <- function(par, alpha, keep = FALSE) {
    theta <- par[seq_len(c1)]; beta <- par[c1 + seq_len(p)]
    eta <- if (p) drop(Xs %*% beta) + os else os
    lin <- outer(-eta, theta, "+")
    mu <- family$linkinv(lin); f <- family$dens(lin)
    res <- Z - mu
    A <- matrix(0, np, np); U1 <- numeric(np)
    Fm <- matrix(0, q, q); U2 <- numeric(q); Dm <- matrix(0, q, np)
    U1i <- if (keep) matrix(0, K, np) else NULL
    U2i <- if (keep) matrix(0, K, q) else NULL
    psi <- exp(alpha)
    # D1 rows of observation j: f_jk (e_k, -x_j).
    Drows <- function(j) {
      d <- matrix(0, c1, np)
      d[cbind(seq_len(c1), seq_len(c1))] <- f[j, ]
      if (p) d[, c1 + seq_len(p)] <- -outer(f[j, ], Xs[j, ])
      d
    }
    for (i in seq_len(K)) {
      rows <- starts[i] + seq_len(sizes[i])
      ni <- length(rows)
      D1 <- do.call(rbind, lapply(rows, Drows))
      V1 <- matrix(0, ni * c1, ni * c1)
      for (a in seq_len(ni)) {
        ia <- (a - 1L) * c1 + seq_len(c1)
        m <- mu[rows[a], ]
        V1[ia, ia] <- m[outer(seq_len(c1), seq_len(c1), pmin)] - tcrossprod(m)
      }
      pr <- pair_of_cluster[[i]]
      for (k in pr) {
        a <- pairs[k, 2L] - starts[i]; b <- pairs[k, 3L] - starts[i]
        ja <- rows[a]; jb <- rows[b]
        m1 <- mu[ja, ]; m2 <- mu[jb, ]
        ps <- psi[group[k]]
        P11 <- plackett_p11(ps, outer(m1, rep(1, c1)), outer(rep(1, c1), m2))
        ia <- (a - 1L) * c1 + seq_len(c1); ib <- (b - 1L) * c1 + seq_len(c1)
        V1[ia, ib] <- P11 - tcrossprod(m1, m2)
        V1[ib, ia] <- t(V1[ia, ib])
        # The association equations of the pair: cell (k, m) of the c x c
        # products, ordered with the first response's cut point fastest.
        M1 <- outer(m1, rep(1, c1)); M2 <- outer(rep(1, c1), m2)
        pd <- plackett_derivs(P11, ps, M1, M2)
        cells <- cumulative_to_cells(P11, m1, m2)
        W <- kronecker(sweep(Rmat, 2L, m2), sweep(Rmat, 2L, m1))  # J^2 x c^2: row (v, u)
        pc <- as.vector(cells)                                      # cell (u, v) at row (v - 1) J + u
        sig <- as.vector(P11 - tcrossprod(m1, m2))
        V2 <- crossprod(W * sqrt(pmax(pc, 0))) - tcrossprod(sig)
        s <- as.vector(outer(res[ja, ], res[jb, ]))
        D2 <- matrix(0, c1 * c1, q)
        D2[, group[k]] <- as.vector(pd$dlogpsi)
        V2iD2 <- tryCatch(solve(V2, D2), error = function(e) NULL)
        if (is.null(V2iD2)) next
        u2 <- crossprod(V2iD2, s - sig)
        Fm <- Fm + crossprod(V2iD2, D2)
        U2 <- U2 + u2
        if (keep) U2i[i, ] <- U2i[i, ] + u2
        # d(s - sigma)/d psi_mean: through mu_t and mu_s.
        D1a <- D1[ia, , drop = FALSE]; D1b <- D1[ib, , drop = FALSE]
        dA <- -outer(rep(1, c1), res[jb, ]) - (pd$dm1 - M2)   # coefficient on D1a rows
        dB <- -outer(res[ja, ], rep(1, c1)) - (pd$dm2 - M1)   # coefficient on D1b rows
        dU <- as.vector(dA) * D1a[rep(seq_len(c1), c1), , drop = FALSE] +
          as.vector(dB) * D1b[rep(seq_len(c1), each = c1), , drop = FALSE]
        Dm <- Dm - crossprod(V2iD2, dU)
      }
      V1iD1 <- tryCatch(solve(V1, D1), error = function(e) NULL)
      if (is.null(V1iD1)) stop("ordinal GEE: a cluster's working covariance is singular", call. = FALSE)
      u1 <- crossprod(V1iD1, as.vector(t(res[rows, , drop = FALSE])))
      A <- A + crossprod(V1iD1, D1)
      U1 <- U1 + u1
      if (keep) U1i[i, ] <- u1
    }
    list(A = A, U1 = drop(U1), F = Fm, U2 = drop(U2), D = Dm, U1i = U1i, U2i = U2i)
  }

  start <- ordinal_gee_fit(X, y, J, id$index, family, rep(1, length(y)), off)
  par <- start$psi
  alpha <- rep(0, q)
  converged <- FALSE
  crit <- NA_real_
  it <- 0L
  problem <- ""
  for (it in seq_len(control$maxit)) {
    tr <- terms(par, alpha)
    db <- tryCatch(solve(tr$A, tr$U1), error = function(e) NULL)
    da <- if (is.null(db)) NULL else tryCatch(solve(tr$F, tr$U2 - tr$D %*% db), error = function(e) NULL)
    if (is.null(da) || any(!is.finite(c(db, da)))) {
      problem <- "a Fisher scoring step could not be computed (singular information)"
      break
    }
    # Halve steps that would disorder the thresholds.
    h <- 1
    while (h > 1e-4 && any(diff(par[seq_len(c1)] + h * db[seq_len(c1)]) <= 0)) h <- h / 2
    par <- par + h * db
    alpha <- alpha + h * drop(da)
    crit <- max(abs(c(db, da)) / pmax(1, abs(c(par, alpha))))
    if (crit < control$epsilon) {
      converged <- TRUE
      break
    }
  }
  tr <- terms(par, alpha, keep = TRUE)
  # Sandwich of the stacked estimating function with the block-triangular
  # derivative [[A, 0], [D, F]].
  Ainv <- tryCatch(solve(tr$A), error = function(e) NULL)
  Finv <- tryCatch(solve(tr$F), error = function(e) NULL)
  warnings <- character()
  if (nzchar(problem)) warnings <- paste0("ordinal GEE: ", problem)
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
