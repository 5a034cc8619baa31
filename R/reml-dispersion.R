# REML for gaussian identity-link models with a dispersion formula (fixed
# effects and offsets only: `dispformula = ~ arm`, or `~ 0` with equalto()
# terms for a meta-analysis with known sampling variances), fitted by the
# structured two-part route (two_part_covstruct_fit()).
#
# With y ~ N(X beta, V), V = Z Lambda Lambda' Z' + diag(sigma_i^2 / w_i),
# the restricted log-likelihood (Patterson and Thompson 1971; Harville 1977)
# is the maximum over beta of the log-likelihood plus a term free of beta,
#   l_R = max_beta l(beta, theta, delta) - log det(X' V^-1 X) / 2 + p log(2 pi) / 2,
# the convention of lme4 and glmmTMB. For gaussian rows the sparse Laplace
# engine's l is exact, so the search maximizes l plus that term over
# (beta, theta, delta) jointly; at its maximum beta is the GLS estimate.
#
# The term from the engine's quantities: A = Z Lambda, W = diag(w_i /
# sigma_i^2), H = I + A' W A, M = H^-1 A' W X and E = X - A M. Then
# X' V^-1 X = C = E' W E + M' M (Woodbury; both terms positive
# semi-definite, so C keeps its digits when sigma is held near zero, as
# with dispformula = ~ 0), R = V^-1 X = W E, and the derivatives
#   d/d Lambda_ab: (M C^-1)_b. (Z' R)_a.   (dC = -R' dA M - M' dA' R)
#   d/d delta_j:   sum_i W_i xd_ij E_i C^-1 E_i'   (log sigma_i = xd_i' delta + offset)

# The term as an addition to the engine's evaluation: `engine_eval(theta,
# grad)` takes the engine's parameters (beta on the design `Xs`, Lambda's
# entries at re's pattern, the dispersion coefficients on `Xds`), and the
# result adds the term to its log-likelihood and gradient. `Tx`: the fixed
# design's map (Xs = X Tx^-1), so that the term is the user's X's; `offd`
# the log standard deviations' offset.
reml_engine_eval <- function(engine_eval, re, Xs, Xds, weights, offd, Tx) {
  term <- reml_term(re, Xs, Xds, weights, offd)
  p <- ncol(Xs)
  const <- p * log(2 * pi) / 2 - sum(log(abs(diag(as.matrix(Tx)))))
  function(theta, grad) {
    r <- engine_eval(theta, grad)
    if (!is.finite(r$loglik)) return(r)
    t <- term(theta, grad)
    r$loglik <- r$loglik + t$value + const
    if (grad) r$gradient <- r$gradient + t$gradient
    r
  }
}

# -log det(C) / 2 and its gradient in the engine's parameters (zero in
# beta's).
reml_term <- function(re, Xs, Xds, weights, offd) {
  gls <- gls_products(re, Xds, weights, offd)
  p <- ncol(Xs)
  nth <- re$ntheta
  Z <- gls$Z
  function(theta, grad) {
    g <- gls$at(theta, Xs)
    cc <- tryCatch(chol(g$C), error = function(e) NULL)
    if (is.null(cc)) return(list(value = -Inf, gradient = rep(NA_real_, length(theta))))
    out <- list(value = -sum(log(diag(cc))))
    if (!grad) return(out)
    Ci <- chol2inv(cc)
    E <- g$E
    W <- g$W
    g_pos <- rowSums((g$M %*% Ci)[re$lam_col, , drop = FALSE] *
                       as.matrix(Matrix::crossprod(Z, W * E))[re$lam_row, , drop = FALSE])
    g_lam <- numeric(nth)
    sums <- rowsum(g_pos, re$lam_k)
    g_lam[as.integer(rownames(sums))] <- sums
    g_d <- if (ncol(Xds)) drop(crossprod(Xds, W * rowSums((E %*% Ci) * E))) else numeric()
    out$gradient <- c(numeric(p), g_lam, g_d)
    out
  }
}

# B' V^-1 B for the engine's parameters `theta` and a matrix B of n rows,
# in the stable form above: at(theta, B) returns C = B' V^-1 B with W, M
# and E = B - A M.
gls_products <- function(re, Xds, weights, offd) {
  Z <- methods::as(re$Z, "CsparseMatrix")
  Q <- ncol(Z)
  nth <- re$ntheta
  pd <- ncol(Xds)
  chf <- NULL
  at <- function(theta, B) {
    p <- length(theta) - nth - pd
    L <- Matrix::sparseMatrix(i = re$lam_row, j = re$lam_col, x = theta[p + re$lam_k],
                              dims = c(Q, Q))
    A <- Z %*% L
    ls <- offd + if (pd) drop(Xds %*% theta[p + nth + seq_len(pd)]) else 0
    W <- weights * exp(-2 * ls)
    WA <- Matrix::Diagonal(x = W) %*% A
    H <- Matrix::forceSymmetric(Matrix::crossprod(A, WA) + Matrix::Diagonal(Q))
    # (H's pattern is fixed: analysed once, factorized at each point)
    chf <<- if (is.null(chf)) Matrix::Cholesky(H, LDL = FALSE, super = FALSE)
            else Matrix::update(chf, H)
    M <- as.matrix(Matrix::solve(chf, Matrix::crossprod(WA, B), system = "A"))
    E <- B - as.matrix(A %*% M)
    list(C = crossprod(E, W * E) + crossprod(M), W = W, M = M, E = E)
  }
  list(Z = Z, at = at)
}

# The ML log-likelihood of a REML fit at its estimates `theta` (the
# engine's parameters; `ml_eval` the engine's evaluation without the REML
# term), as lme4's and nlme's logLik(REML = FALSE): where the model has a
# free common scale (a dispersion formula with an intercept, no equalto()
# term), the scale re-profiled, all variances times q / n with q the
# residuals' r' V^-1 r at the estimates; otherwise at the estimates as they
# are. y, offset, Xs, Xds, offd: as the engine has them.
reml_ml_loglik <- function(ml_eval, theta, re, Xs, Xds, y, weights, offset, offd) {
  ll <- ml_eval(theta, FALSE)$loglik
  free_scale <- !has_fixed_covariance(re$terms) && spans_constant(Xds)
  if (!free_scale) return(ll)
  p <- ncol(Xs)
  r <- y - offset - drop(Xs %*% theta[seq_len(p)])
  q <- drop(gls_products(re, Xds, weights, offd)$at(theta, cbind(r))$C)
  n <- sum(weights > 0)
  ll - n / 2 * log(q / n) - n / 2 + q / 2
}

# The information of a REML fit searched over (beta, the rest) jointly
# (reml_engine_eval()), in the convention of the package's other REML fits
# and of lme4 and nlme: the fixed effects' block X' V^-1 X (`C`, exact, on
# the search's design), the covariance and dispersion parameters' that of
# the restricted likelihood itself (beta profiled out, which for a
# gaussian model is integrating it out: the Schur complement), and no
# cross terms. `H` the Hessian over the search's parameters, beta's first
# `p`; rows of parameters on a boundary are NA.
reml_information <- function(H, p, C) {
  if (is.null(H)) return(H)
  b <- seq_len(p)
  H[b, b] <- -C
  o <- setdiff(which(!is.na(diag(H))), b)
  if (length(o)) {
    H[o, o] <- H[o, o] - H[o, b, drop = FALSE] %*% solve(H[b, b], H[b, o, drop = FALSE])
    H[b, o] <- 0
    H[o, b] <- 0
  }
  H
}

# X' V^-1 X on the search's design at the search's parameters `par` of a
# structured fit (terms `re$terms` at `k_re`, `ntail` coefficients after
# them): the fixed effects' information of reml_information().
reml_beta_information <- function(re, k_re, Xs, Xds, weights, offd, ntail) {
  gls <- gls_products(re, Xds, weights, offd)
  function(par) {
    lm <- structure_lambda(re$terms, k_re, par, jacobian = FALSE)
    gls$at(structure_engine_theta(par, lm, ncol(Xs), ntail), Xs)$C
  }
}

# Whether the columns of M span the constant vector (to rounding).
spans_constant <- function(M) {
  ncol(M) > 0L && max(abs(stats::lm.fit(M, rep(1, nrow(M)))$residuals)) < 1e-8
}
