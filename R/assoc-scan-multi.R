# assoc_scan() on a gaussian null model with several known-covariance terms
# (the sparse or dense Cholesky routes, fit-known-gaussian-multi*.R). The
# fit keeps V* = V / s2 at its estimates: sparse (the sparse route), factored
# once here by CHOLMOD, or the dense route's Cholesky factor R (V* = R'R).
# Each block of variants costs one solve with that factor; V*^{-1} is never
# formed. The statistics are the one-term route's (assoc-scan.R) with the
# fit's s2.

assoc_scan_multi <- function(fit, getG, m, vnames, block_size, progress) {
  kv <- fit$known_v
  n <- fit$nobs
  X <- scan_design(fit)
  y <- fit$y - (fit$offset %||% 0)
  solveV <- if (!is.null(kv$V)) {
    V <- kv$V
    # Matrix caches factorizations in the object (its `factors` slot); one
    # copied from the fit's pattern would be that of other values
    V@factors <- list()
    L <- tryCatch(Matrix::Cholesky(V, perm = TRUE, LDL = FALSE, super = NA),
                  error = function(e) NULL, warning = function(w) NULL)
    if (is.null(L))
      stop("the null model's covariance V could not be factored for the scan", call. = FALSE)
    function(B) as.matrix(Matrix::solve(L, B, system = "A"))
  } else {
    function(B) backsolve(kv$R, backsolve(kv$R, B, transpose = TRUE))
  }
  s2 <- kv$scale
  VX <- solveV(X)
  XVX <- crossprod(X, VX)
  XVX_inv <- solve((XVX + t(XVX)) / 2)
  Vy <- drop(solveV(y))
  beta0 <- drop(XVX_inv %*% crossprod(X, Vy))
  scan_blocks(getG, n, m, vnames, block_size, progress, s2, beta0, XVX_inv, function(Gb) {
    storage.mode(Gb) <- "double"
    list(xVy = drop(crossprod(Gb, Vy)), xVX = crossprod(Gb, VX), xVx = colSums(Gb * solveV(Gb)))
  })
}
