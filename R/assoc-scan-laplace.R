# Score scans against binomial (logit) and Poisson (log) null models with
# one known covariance (fit-known-laplace.R): GMMAT's score statistic with
# exact variances through the factor of K, and SAIGE's variance-ratio
# approximation for the bulk (assoc_scan() documents both).

# The null model's working covariance V = W^{-1} + s^2 F F' (F = Z L) as a
# function applying V^{-1} to the columns of an n x b matrix (Woodbury,
# O(levels r b)), with W, the working response and P y~.
known_laplace_null <- function(fit) {
  kf <- fit$known_factor
  L <- kf$L
  s <- kf$s
  index <- kf$index
  nl <- nrow(L)
  fam <- known_laplace_family(fit$family)
  eta <- fit$linear.predictors
  dv <- fam$d(eta, fit$y, fit$prior.weights)
  w <- dv$w
  U <- if (s > 0) cpp_known_laplace_factor(L, level_sums(w, index, nl), s^2, 1L)$U
  Vinv <- function(B) {
    B <- as.matrix(B)
    WB <- w * B
    if (s == 0) return(WB)
    ZtWB <- matrix(0, nl, ncol(B))
    sm <- rowsum(WB, index)
    ZtWB[as.integer(rownames(sm)), ] <- sm
    A <- backsolve(U, backsolve(U, crossprod(L, ZtWB), transpose = TRUE))
    WB - s^2 * w * (L %*% A)[index, , drop = FALSE]
  }
  X <- scan_design(fit)
  VX <- Vinv(X)
  XVX_inv <- solve(crossprod(X, VX))
  ytil <- eta - (fit$offset %||% 0) + dv$r / w
  Py <- drop(Vinv(ytil)) - drop(VX %*% (XVX_inv %*% crossprod(VX, ytil)))
  # the W-metric projection off X for the approximate variances
  XWX_inv <- solve(crossprod(X, w * X))
  list(Vinv = Vinv, VX = VX, XVX_inv = XVX_inv, Py = Py, w = w, X = X, XWX_inv = XWX_inv)
}

# Exact x'Px for the columns of Gb.
scan_exact_var <- function(nm, Gb) {
  VG <- nm$Vinv(Gb)
  XVG <- crossprod(nm$VX, Gb)
  colSums(Gb * VG) - colSums(XVG * (nm$XVX_inv %*% XVG))
}

# x~'W x~ for the columns of Gb (x~ = x - X (X'WX)^{-1} X'W x).
scan_approx_var <- function(nm, Gb) {
  XWG <- crossprod(nm$X, nm$w * Gb)
  colSums(nm$w * Gb^2) - colSums(XWG * (nm$XWX_inv %*% XWG))
}

assoc_scan_laplace <- function(fit, getG, m, vnames, block_size, progress, exact_p) {
  if (!is.numeric(exact_p) || length(exact_p) != 1L || is.na(exact_p) || exact_p < 0 || exact_p > 1)
    stop("'exact_p' must be a single number in [0, 1]", call. = FALSE)
  n <- length(fit$y)
  nm <- known_laplace_null(fit)
  ratio <- NA_real_
  if (exact_p < 1) {
    # SAIGE's variance ratio from up to 30 variants spread over the scan
    # (fixed, so that the result does not depend on the random seed)
    js <- unique(round(seq(1, m, length.out = min(30L, m))))
    Gs <- getG(js)
    ve <- scan_exact_var(nm, Gs)
    va <- scan_approx_var(nm, Gs)
    ok <- is.finite(ve / va) & va > 1e-8 * pmax(colSums(Gs^2), 1e-300)
    if (!any(ok)) exact_p <- 1 else ratio <- mean(ve[ok] / va[ok])
  }
  res <- scan_each_block(getG, n, m, block_size, progress, function(Gb, j) {
    score <- drop(crossprod(Gb, nm$Py))
    exact <- rep(exact_p >= 1, length(j))
    v <- if (exact_p >= 1) scan_exact_var(nm, Gb) else ratio * scan_approx_var(nm, Gb)
    if (exact_p < 1) {
      pa <- stats::pchisq(score^2 / v, 1, lower.tail = FALSE)
      redo <- which(!is.finite(pa) | pa < exact_p)
      if (length(redo)) {
        v[redo] <- scan_exact_var(nm, Gb[, redo, drop = FALSE])
        exact[redo] <- TRUE
      }
    }
    # a variant in the span of the fixed effects (e.g. monomorphic) has no test
    v[v <= 1e-10 * pmax(colSums(nm$w * Gb^2), 1e-300)] <- NA_real_
    stat <- score^2 / v
    data.frame(variant = if (is.null(vnames)) j else vnames[j],
               estimate = score / v, se = 1 / sqrt(v), statistic = stat,
               p_value = stats::pchisq(stat, 1, lower.tail = FALSE), exact = exact)
  })
  attr(res, "variance_ratio") <- ratio
  res
}
