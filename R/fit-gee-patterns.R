# GEE solved over the patterns of wave positions: clusters observed at the
# same positions share their working correlation, so the whitening by its
# Cholesky factor is one matrix product per pattern for all of them (no loop
# over clusters or observations). Serves the working correlations whose
# moment estimators carry the degrees-of-freedom corrections of Liang and
# Zeger (1986) and the gee package (scale over N - p, each correlation
# moment over its number of pairs - p): the m-dependent and AR-M structures,
# and every weighted GEE for dropout (gee-dropout.R), whose estimating
# equations weight the residuals (Robins, Rotnitzky and Zhao, 1995).

# Working correlations of this engine (user name -> glmtoolbox's name).
gee_pattern_corstrs <- c(stat_M_dep = "Stationary-M-dependent",
                         non_stat_M_dep = "Non-Stationary-M-dependent",
                         `AR-M` = "AR-M-dependent")

# Inputs (rows in any order):
#   X, y, offset, id (codes 1..K), pos (positions 1..T), pw (prior weights,
#   in the variance: phi V(mu) / pw), rw (residual weights: the estimating
#   function of cluster i is D_i' V_i^-1 diag(rw_i) (y_i - mu_i); 0 for a
#   row whose response is missing, which then enters V_i and the
#   information only), obs (rows whose residuals enter the moments).
# Returns the coefficients, correlation, scale, H, the per-cluster
# estimating functions U (K x p) and the fitted values.
gee_pattern_solve <- function(X, y, offset, id, pos, pw, rw, obs, family, corstr, Mv = 1L,
                              Rfixed = NULL, start, epsilon = 1e-8, maxit = 50L) {
  n <- nrow(X); p <- ncol(X); K <- max(id); T <- max(pos)
  ord <- order(id, pos)
  key <- vapply(split(pos[ord], id[ord]), paste, "", collapse = ",")
  pats <- split(seq_len(K), factor(key, levels = unique(key)))
  # rows[[g]]: a K_g x m matrix of row numbers, by cluster and position.
  first <- match(seq_len(K), id[ord])
  groups <- lapply(pats, function(cl) {
    P <- as.integer(strsplit(key[cl[1L]], ",", fixed = TRUE)[[1L]])
    m <- length(P)
    rows <- matrix(ord[outer(first[cl], seq_len(m) - 1L, "+")], length(cl), m)
    list(cl = cl, P = P, rows = rows)
  })
  yz <- ifelse(obs, y, 0)
  Nobs <- sum(obs)
  ri <- cbind(id[obs], pos[obs])
  # pair products and counts by position: T x T cross-products of sparse
  # K x T matrices (memory by the observations, not K x T)
  Cobs <- gee_pair_counts(ri[, 1L], ri[, 2L], K, T)
  moments <- function(mu, V) {
    r <- (yz - mu) * sqrt(pw / V)
    Rm <- Matrix::sparseMatrix(i = ri[, 1L], j = ri[, 2L], x = r[obs], dims = c(K, T))
    list(S = as.matrix(Matrix::crossprod(Rm)), C = Cobs)
  }
  state <- function(beta) {
    eta <- drop(X %*% beta) + offset
    mu <- family$linkinv(eta)
    V <- family$variance(mu)
    me <- family$mu.eta(eta)
    if (any(!is.finite(mu[obs])) || any(!(V[obs] > 0)))
      stop("gee fit failed: the fitted means left the family's range (a probability of 0 or 1, ",
           "or a mean of 0)", call. = FALSE)
    list(eta = eta, mu = mu, V = V, me = me)
  }
  cross <- function(st, Rw) {
    s <- sqrt(pw / st$V)
    Dt <- X * (s * st$me)
    et <- (yz - st$mu) * s * rw
    H <- matrix(0, p, p)
    U <- matrix(0, K, p)
    nonpd <- 0L
    for (g in groups) {
      m <- length(g$P); Kg <- length(g$cl)
      Rp <- Rw[g$P, g$P, drop = FALSE]
      L <- tryCatch(chol(Rp), error = function(e) NULL)
      if (is.null(L)) {
        nonpd <- nonpd + Kg
        Li <- tryCatch(solve(Rp), error = function(e) NULL)
        if (is.null(Li)) stop("gee fit failed: the working correlation is singular for the ",
                              "clusters observed at positions ", paste(g$P, collapse = ","),
                              call. = FALSE)
        # Not positive definite: D' R^-1 D with the plain inverse.
        E <- matrix(et[g$rows], Kg, m)
        Dp <- array(Dt[g$rows, , drop = FALSE], c(Kg, m, p))
        ER <- E %*% Li
        for (a in seq_len(m)) {
          Da <- matrix(Dp[, a, ], Kg, p)
          U[g$cl, ] <- U[g$cl, ] + Da * ER[, a]
          for (b in seq_len(m)) H <- H + Li[a, b] * crossprod(Da, matrix(Dp[, b, ], Kg, p))
        }
        next
      }
      Linv <- backsolve(L, diag(m))
      Ez <- matrix(et[g$rows], Kg, m) %*% Linv
      Dp <- array(Dt[g$rows, , drop = FALSE], c(Kg, m, p))
      # whiten every coefficient's K_g x m slice by the same factor
      Dz <- aperm(array(matrix(aperm(Dp, c(1L, 3L, 2L)), Kg * p, m) %*% Linv, c(Kg, p, m)),
                  c(1L, 3L, 2L))
      Ug <- matrix(0, Kg, p)
      for (a in seq_len(m)) {
        Da <- matrix(Dz[, a, ], Kg, p)
        Ug <- Ug + Da * Ez[, a]
        H <- H + crossprod(Da)
      }
      U[g$cl, ] <- Ug
    }
    list(H = H, U = U, nonpd = nonpd)
  }
  assoc <- function(st) {
    mo <- moments(st$mu, st$V)
    phi <- sum(diag(mo$S)) / (Nobs - p)
    Rw <- gee_pattern_R(corstr, mo$S, mo$C, phi, p, T, Mv, Rfixed)
    list(phi = phi, R = Rw$R, alpha = Rw$alpha)
  }
  beta <- start
  iter <- 0L; delta <- Inf; converged <- FALSE
  repeat {
    st <- state(beta)
    as <- assoc(st)
    cr <- cross(st, as$R)
    step <- tryCatch(solve(cr$H, colSums(cr$U)), error = function(e) NULL)
    if (is.null(step) || any(!is.finite(step)))
      stop("gee fit failed: the information matrix is singular", call. = FALSE)
    beta_new <- beta + step
    iter <- iter + 1L
    delta <- max(abs(step) / pmax(abs(beta), 1e-8))
    beta <- beta_new
    if (delta < epsilon) { converged <- TRUE; break }
    if (iter >= maxit) break
  }
  st <- state(beta)
  as <- assoc(st)
  cr <- cross(st, as$R)
  list(beta = beta, alpha = as$alpha, R = as$R, phi = as$phi, H = cr$H, U = cr$U,
       nonpd = cr$nonpd, iter = iter, converged = converged, delta = delta,
       eta = st$eta, mu = st$mu, T = T)
}

# Numbers of clusters observed at both positions of each pair (T x T).
gee_pair_counts <- function(id, pos, K, T) {
  as.matrix(Matrix::crossprod(Matrix::sparseMatrix(i = id, j = pos, x = 1, dims = c(K, T))))
}

# Each moment estimate divides by its number of pairs minus p: refused by
# name where a parameter the fit needs has no more pairs than coefficients.
# `need`: the pairs of positions that occur together in some cluster.
check_pattern_moments <- function(corstr, C, need, p, T, Mv) {
  band <- abs(row(C) - col(C))
  lagsum <- function(M, l) sum(M[band == l & upper.tri(M)])
  bad <- switch(corstr,
    exchangeable = if (sum(C[band > 0]) / 2 - p <= 0) "the pairs of observations within clusters",
    stat_M_dep = , `AR-M` = {
      l <- Filter(function(l) lagsum(C, l) - p <= 0, seq_len(Mv))
      if (length(l)) sprintf("lag %d", l[1L])
    },
    unstructured = , non_stat_M_dep = {
      lim <- if (corstr == "unstructured") T else Mv
      ij <- which(upper.tri(C) & need & band <= lim & C - p <= 0, arr.ind = TRUE)
      if (nrow(ij)) sprintf("the wave positions %d and %d", ij[1L, 1L], ij[1L, 2L])
    },
    NULL)
  if (!is.null(bad))
    stop(sprintf(paste0("corstr = \"%s\": the correlation of %s is estimated from no more pairs of ",
                        "observed responses than there are coefficients (%d), since its moment ",
                        "estimate divides by the number of pairs minus %d; use a structure with ",
                        "fewer parameters"), corstr, bad, p, p), call. = FALSE)
  invisible()
}

# The working correlation from the summed pair products S and counts C
# (T x T) of the standardized residuals (gee package / glmtoolbox moments).
gee_pattern_R <- function(corstr, S, C, phi, p, T, Mv, Rfixed = NULL) {
  lagsum <- function(M, l) sum(M[cbind(seq_len(T - l), seq_len(T - l) + l)])
  band <- abs(outer(seq_len(T), seq_len(T), "-"))
  alpha <- numeric(0)
  R <- switch(corstr,
    independence = diag(T),
    fixed = Rfixed[seq_len(T), seq_len(T), drop = FALSE],
    exchangeable = {
      off <- row(S) != col(S)
      alpha <- c(alpha = sum(S[off]) / (sum(C[off]) - 2 * p) / phi)
      m <- matrix(alpha, T, T); diag(m) <- 1; m
    },
    unstructured = , non_stat_M_dep = {
      m <- S / (C - p) / phi
      diag(m) <- 1
      if (corstr == "non_stat_M_dep") m[band > Mv] <- 0
      keep <- upper.tri(m) & (band <= if (corstr == "unstructured") T else Mv)
      ij <- which(keep, arr.ind = TRUE)
      ij <- ij[order(ij[, 1L], ij[, 2L]), , drop = FALSE]
      alpha <- stats::setNames(m[ij], paste0("alpha.", ij[, 1L], ":", ij[, 2L]))
      m
    },
    stat_M_dep = , `AR-M` = {
      a <- vapply(seq_len(Mv), function(l) lagsum(S, l) / (lagsum(C, l) - p) / phi, 0)
      rho <- numeric(T - 1L)
      rho[seq_len(Mv)] <- a
      if (corstr == "AR-M" && T - 1L > Mv) {
        # Yule-Walker: the AR(M) coefficients from the first M
        # autocorrelations, then rho_k = sum_j phi_j rho_{k-j}.
        ph <- solve(stats::toeplitz(c(1, a)[seq_len(Mv)]), a)
        r0 <- c(1, rho)  # r0[k + 1] = rho_k
        for (k in (Mv + 1L):(T - 1L)) r0[k + 1L] <- sum(ph * r0[k - seq_len(Mv) + 1L])
        rho <- r0[-1L]
      }
      alpha <- stats::setNames(a, paste0("alpha.", seq_len(Mv)))
      stats::toeplitz(c(1, rho))
    })
  # Moment estimates outside [-1, 1] are truncated (as glmtoolbox does).
  R[] <- pmin(pmax(R, -1), 1)
  list(R = R, alpha = alpha)
}

# gee_fit()'s route for the structures above and for residual weights
# (`ipw`, one per row; 0 for a row whose response is missing): checks, the
# solve, and a "glmmgee_gee" object with the sandwich and model-based
# variances (the other estimators need the C++ engine's per-cluster
# quantities and are refused). The per-cluster estimating functions are
# kept in $pattern for the variance of weighted fits (gee-dropout.R).
gee_pattern_fit <- function(X, y, cl, pos, w, off, family, corstr, Mv, R, std.err, scale.fix,
                            scale.value, start, control, ipw = NULL) {
  if (corstr %in% c("ar1", "mdep"))
    stop(sprintf(paste0("'corstr' = \"%s\" is not available with dropout weights: its moment estimator is ",
                        "geepack's; use %s, the same structure with the moments of glmtoolbox and the gee package"),
                 corstr, if (corstr == "ar1") "\"AR-M\" with Mv = 1" else "\"stat_M_dep\""),
         call. = FALSE)
  if (!std.err %in% c("san.se", "model"))
    stop(sprintf(paste0("'std.err' = \"%s\" is not available with corstr = \"%s\"%s: ",
                        "use \"san.se\" or \"model\""), std.err, corstr,
                 if (!is.null(ipw)) " and inverse-probability weights" else ""), call. = FALSE)
  if (!is.null(control$workers))
    stop(sprintf("gee_control(workers =): corstr = \"%s\"%s is fitted on one machine only",
                 corstr, if (!is.null(ipw)) " with dropout weights" else ""), call. = FALSE)
  if (identical(family$family, "nbinom2"))
    stop(sprintf("'family': nbinom2() is not available with corstr = \"%s\"%s; use poisson() or nbinom1()",
                 corstr, if (!is.null(ipw)) " or dropout weights" else ""), call. = FALSE)
  # the quasi-likelihood variance functions of nbinom1, beta, betabinomial
  if (family$family %in% c("nbinom1", "beta", "betabinomial"))
    family$variance <- gee_phi_family(family, 2, FALSE)$variance
  n <- nrow(X); p <- ncol(X)
  rw <- if (is.null(ipw)) rep(1, n) else as.numeric(ipw)
  if (length(rw) != n || anyNA(rw) || any(!is.finite(rw)) || any(rw < 0))
    stop("'ipw' must be non-negative finite numbers, one per observation", call. = FALSE)
  keep <- w > 0
  # the object keeps every row's position, as the engine's fits do
  wave <- pos
  id <- cl$index[keep]
  # clusters renumbered 1..K over the rows kept
  idf <- match(id, sort(unique(id)))
  if (is.null(pos)) {
    pos <- integer(sum(keep))
    o <- order(idf)
    pos[o] <- sequence(tabulate(idf))
  } else pos <- pos[keep]
  if (anyDuplicated(as.numeric(idf) * (max(pos) + 1) + pos))
    stop("'waves' has a duplicated value within a cluster of 'id': each wave may occur once per cluster",
         call. = FALSE)
  T <- max(pos)
  if (T > 1000L)
    stop(sprintf("corstr = \"%s\" with %d wave positions: at most 1000 are supported", corstr, T),
         call. = FALSE)
  if (corstr == "fixed") R <- check_fixed_R(R, T)
  Xk <- X[keep, , drop = FALSE]
  yk <- y[keep]; wk <- w[keep]; ok <- off[keep]; rk <- rw[keep]
  obs <- rk > 0
  if (sum(obs) <= p)
    stop(sprintf("there are %d observations with a response for %d coefficients", sum(obs), p),
         call. = FALSE)
  if (is.null(start)) {
    # the independence fit of the observed rows, as glm.fit() gives it
    g <- suppressWarnings(stats::glm.fit(Xk[obs, , drop = FALSE], yk[obs], weights = wk[obs] * rk[obs],
                                         offset = ok[obs], family = gee_start_family(family)))
    start <- g$coefficients
    if (anyNA(start) || any(!is.finite(start)))
      stop("gee fit failed: no starting values from the independence fit; give 'start'", call. = FALSE)
  }
  if (!corstr %in% c("independence", "fixed"))
    check_pattern_moments(corstr, gee_pair_counts(idf[obs], pos[obs], max(idf), T),
                          gee_pair_counts(idf, pos, max(idf), T) > 0, ncol(X), T, Mv)
  sol <- gee_pattern_solve(Xk, yk, ok, idf, pos, wk, rk, obs, family, corstr, Mv, R, start,
                           control$epsilon, control$maxit)
  K <- max(idf)
  Hi <- solve(sol$H)
  Hi <- (Hi + t(Hi)) / 2
  robust <- Hi %*% crossprod(sol$U) %*% Hi
  phi <- if (scale.fix) scale.value else sol$phi
  vc <- list(san.se = (robust + t(robust)) / 2, model = phi * Hi)
  warns <- character(0)
  if (sol$nonpd > 0L)
    warns <- c(warns, sprintf("the estimated working correlation is not positive definite for %d of the %d clusters (the estimating equations are still solved; consider a simpler 'corstr')",
                              sol$nonpd, K))
  if (!sol$converged)
    warns <- c(warns, sprintf("gee did not converge in %d iterations (last relative change %.3g > epsilon = %.3g)",
                              sol$iter, sol$delta, control$epsilon))
  beta <- stats::setNames(sol$beta, colnames(X))
  lab <- sort(unique(pos))
  Rw <- sol$R
  dimnames(Rw) <- list(seq_len(T), seq_len(T))
  eta <- drop(X %*% beta) + off
  gee_object(beta, sol$alpha, phi, scale.fix, family, corstr, std.err, vc, warns, cl,
             as.integer(tabulate(idf[obs], K)), K, sum(obs), T,
             list(y = y, weights = w, offset = off, wave = wave),
             c(sol[c("iter", "converged", "delta")], score = NA_real_, halved = 0L), control,
             Mv = if (corstr %in% c("mdep", names(gee_pattern_corstrs))) Mv,
             R = if (corstr == "fixed") R, working.correlation = Rw[lab, lab, drop = FALSE],
             linear.predictors = eta, fitted.values = family$linkinv(eta),
             pattern = list(U = sol$U, H = sol$H, Hinv = Hi, phi_moment = sol$phi, keep = which(keep),
                            cluster = sort(unique(id)), ipw = if (!is.null(ipw)) rw),
             engine = list(data = list(X = X)))
}

# The independence start of the pattern engine: the family itself, except
# those glm.fit() does not know (quasi-likelihood versions of ours).
gee_start_family <- function(family) {
  switch(family$family,
         binomial = , beta = , betabinomial = stats::quasibinomial(link = family$link),
         poisson = stats::quasipoisson(link = family$link),
         gaussian = stats::gaussian(link = family$link),
         Gamma = stats::Gamma(link = family$link),
         stats::quasi(link = family$link, variance = "mu"))
}

# Methods that re-run the C++ engine on a fit's stored inputs cannot serve
# fits of this engine: said by name.
stop_if_pattern_fit <- function(fit, what) {
  if (is.null(fit$pattern)) return(invisible())
  stop(sprintf("%s is not available for a gee fit with %s", what,
               if (!is.null(fit$dropout)) "dropout weights"
               else sprintf("corstr = \"%s\"", fit$corstr)), call. = FALSE)
}
