# Association scan against a fitted null model: each variant's fixed effect
# tested without refitting the variance components. Gaussian null models
# with one known covariance (fit by spectral rotation): exact score tests
# in the rotated coordinates, as GEMMA and gaston's association.test
# (method = "lmm", test = "score") compute them.

#' Association scan of many variants against a fitted null model
#'
#' Tests the fixed effect of each column of `G` added to the null model
#' `fit`, with the variance components held at their null estimates (a score
#' test). For a gaussian model with one known covariance, fitted by
#' [glmm()] with `covariance = list(id = K)` or `kfactor(L)`, the test is
#' exact in the rotated coordinates of the fit: for a variant `x`, with
#' \eqn{P = V^{-1} - V^{-1}X(X'V^{-1}X)^{-1}X'V^{-1}} at the null estimates,
#' the estimate is \eqn{x'Py / x'Px}, its standard error
#' \eqn{(x'Px)^{-1/2}}, and the score statistic \eqn{(x'Py)^2 / x'Px}
#' is referred to a chi-square with one degree of freedom. Rotating a block
#' of `b` variants costs \eqn{O(n^2 b)} for a dense `K` (the Householder
#' reflectors of its tridiagonal reduction), a sparse solve per variant for
#' a sparse `K` (the null model's sparse Cholesky factor), or
#' \eqn{O((n + r \cdot levels) b)} for a factor; memory is bounded by the
#' block size. For a gaussian null model with several terms (e.g.
#' `(1 | cell) + (1 | space)` with two known covariances, or a known
#' covariance beside a plain `(1 | batch)`), the same exact statistics are
#' computed with \eqn{V^{-1}} applied through the Cholesky factor of the
#' null model's \eqn{V}: sparse (one CHOLMOD factorization, then a sparse
#' solve per block) when every `K` is sparse, dense otherwise;
#' \eqn{V^{-1}} is never formed.
#'
#' @param fit A null model from [glmm()]: gaussian with one or several
#'   known-covariance terms (plain random intercepts `(1 | g)` beside them
#'   allowed), or binomial (logit) / Poisson (log) with the one term
#'   `(1 | id)`.
#' @param G The variants: a numeric matrix with one row per observation of
#'   the fit (in the fit's order, after rows with missing values were
#'   dropped) and one column per variant, or a function taking a vector of
#'   column indices and returning those columns as such a matrix.
#' @param m The number of variants when `G` is a function.
#' @param block_size Variants rotated at a time.
#' @param progress Show a progress bar.
#' @param exact_p Binomial and Poisson null models: variants whose
#'   approximate p-value (variance ratio) is below `exact_p` get the exact
#'   variance; 1 makes every variance exact.
#' @return A data frame, one row per variant: `variant` (column name or
#'   index), `estimate`, `se`, `statistic` (chi-square, 1 df), `p_value`;
#'   for binomial and Poisson null models also `exact` (whether the score
#'   variance is the exact one).
#'
#' For a binomial (logit) or Poisson (log) null model with one known
#' covariance, the test is the score test of GMMAT (Chen et al. 2016) and
#' SAIGE (Zhou et al. 2018): with the null model's working covariance
#' \eqn{V = W^{-1} + s^2 ZKZ'} (W the working weights at the fitted modes)
#' and \eqn{P} as above, the score of a variant `x` is
#' \eqn{U = x'P	ilde y} (\eqn{	ilde y} the working response) and its
#' variance \eqn{x'Px}; `estimate` is the one-step \eqn{U / x'Px}. The exact
#' variance costs \eqn{O(levels \cdot r)} per variant through the factor
#' of K (Woodbury: \eqn{V^{-1} = W - s^2 W F M^{-1} F' W}, \eqn{F = ZL},
#' \eqn{M} the null model's penalized Hessian). For the bulk of variants it
#' is approximated as SAIGE does, by \eqn{\hat r \, 	ilde x' W 	ilde x}
#' (\eqn{	ilde x} the residual of x on X in the W metric, O(n) per
#' variant), the ratio \eqn{\hat r} estimated from the exact variances of up
#' to 30 variants; variants whose approximate p-value is below `exact_p` are
#' recomputed exactly.
#' @references Chen, H. et al. (2016). Control for population structure
#'   and relatedness for binary traits in genetic association studies via
#'   logistic mixed models. *American Journal of Human Genetics* 98,
#'   653-666.
#'
#'   Zhou, W. et al. (2018). Efficiently controlling for case-control
#'   imbalance and sample relatedness in large-scale genetic association
#'   studies. *Nature Genetics* 50, 1335-1341.
#' @examples
#' set.seed(1)
#' n <- 300; m <- 60
#' Gk <- matrix(rbinom(n * m, 2, 0.3), n, m)
#' L <- scale(Gk) / sqrt(m)
#' rownames(L) <- paste0("id", 1:n)
#' d <- data.frame(id = rownames(L), x = rnorm(n))
#' d$y <- 1 + 0.5 * d$x + drop(L %*% rnorm(m)) + rnorm(n)
#' null <- glmm(y ~ x + (1 | id), data = d, covariance = list(id = kfactor(L)))
#' snps <- matrix(rbinom(n * 200, 2, 0.2), n, 200)
#' res <- assoc_scan(null, snps, progress = FALSE)
#' head(res)
#' @export
assoc_scan <- function(fit, G, m = NULL, block_size = 1000L, progress = interactive(),
                       exact_p = 0.05) {
  if (!inherits(fit, "glmmgee_glmm_known") ||
      (is.null(fit$rotation) && is.null(fit$known_factor) && is.null(fit$known_v)))
    stop("'fit' must be a glmm() fit with known-covariance terms: a gaussian model whose ",
         "random-effect terms are all random intercepts (1 | g) with at least one known ",
         "covariance, or a binomial (logit) or Poisson (log) model with the one term (1 | id) ",
         "(an ML fit whose plain (1 | g) has large levels is fitted by the sparse Laplace ",
         "engine, which the scan does not take: fit it with REML = TRUE)", call. = FALSE)
  n <- fit$nobs
  if (is.function(G)) {
    if (!is.numeric(m) || length(m) != 1L || m < 1)
      stop("'m' (the number of variants) is needed when 'G' is a function", call. = FALSE)
    getG <- G
    vnames <- NULL
  } else {
    if (!is.matrix(G) || !is.numeric(G))
      stop("'G' must be a numeric matrix (observations x variants) or a function returning columns",
           call. = FALSE)
    if (nrow(G) != n)
      stop(sprintf("'G' must have one row per observation of the fit (%d); it has %d", n, nrow(G)),
           call. = FALSE)
    m <- ncol(G)
    vnames <- colnames(G)
    getG <- function(j) G[, j, drop = FALSE]
  }
  if (!is.numeric(block_size) || length(block_size) != 1L || block_size < 1)
    stop("'block_size' must be a positive integer", call. = FALSE)
  if (!is.null(fit$known_factor))
    return(assoc_scan_laplace(fit, getG, m, vnames, block_size, progress, exact_p))
  if (!is.null(fit$known_v))
    return(assoc_scan_multi(fit, getG, m, vnames, block_size, progress))
  rt <- fit$rotation
  X <- scan_design(fit)
  y <- fit$y - (fit$offset %||% 0)
  # W = (lambda D + I)^{-1} in the rotated coordinates (D diagonal or
  # tridiagonal); null pieces X'V*^{-1}X and X'V*^{-1}y with V* = lambda G + I.
  W <- function(B) rotated_solve(rt, rt$lambda, B)
  X1 <- rt$X1_star %||% rt$X1
  Wy1 <- W(rt$y1)
  XVX <- crossprod(X1, W(X1)) + crossprod(X) - crossprod(X1)
  XVy <- drop(crossprod(X1, Wy1)) + drop(crossprod(X, y)) - drop(crossprod(X1, rt$y1))
  XVX_inv <- solve(XVX)
  beta0 <- drop(XVX_inv %*% XVy)
  scan_blocks(getG, n, m, vnames, block_size, progress, rt$s2e, beta0, XVX_inv,
              function(Gb) {
                G1 <- rotate_columns(rt, Gb)
                WG1 <- W(G1)
                list(xVy = drop(crossprod(WG1, rt$y1)) + drop(crossprod(Gb, y)) -
                       drop(crossprod(G1, rt$y1)),
                     xVX = crossprod(WG1, X1) + crossprod(Gb, X) - crossprod(G1, X1),
                     xVx = colSums(WG1 * G1) + colSums(Gb^2) - colSums(G1^2))
              })
}

# The null model's design as the scan uses it: the statistics depend on X
# only through its span (the projection P), so on the centred and scaled
# X* = X T^-1 where the user's X loses digits (lmm_design_transform(), the
# fit's own X*; X itself otherwise). With x * 1e-6 - 5, X'V^-1X on the
# user's X (condition 1e13) put the statistics 9% off.
scan_design <- function(fit) lmm_design_transform(fit$X)$M

# The scan's loop over blocks of variants, shared by the one-term route
# (above) and the several-term one (assoc-scan-multi.R): each block of
# getG(j) is checked, `pieces(Gb)` gives x'V*^{-1}y, x'V*^{-1}X and
# x'V*^{-1}x for its variants (V* = V / s2), and the score test's
# statistics follow from the null model's beta0 and (X'V*^{-1}X)^{-1}.
scan_blocks <- function(getG, n, m, vnames, block_size, progress, s2, beta0, XVX_inv, pieces) {
  scan_each_block(getG, n, m, block_size, progress, function(Gb, j) {
    pc <- pieces(Gb)
    xPy <- pc$xVy - drop(pc$xVX %*% beta0)
    xPx <- pc$xVx - rowSums((pc$xVX %*% XVX_inv) * pc$xVX)
    # a variant in the span of the fixed effects (e.g. monomorphic) has no test
    xPx[xPx <= 1e-10 * pmax(pc$xVx, 1e-300)] <- NA_real_
    stat <- xPy^2 / (s2 * xPx)
    data.frame(variant = if (is.null(vnames)) j else vnames[j],
               estimate = xPy / xPx, se = sqrt(s2 / xPx), statistic = stat,
               p_value = stats::pchisq(stat, 1, lower.tail = FALSE))
  })
}

# The loop over blocks of block_size variants that every scan makes
# (scan_blocks(), assoc_scan_laplace()): getG(j) checked to be a complete
# n x length(j) matrix, test(Gb, j) the block's rows of the result, a
# progress bar when asked for, and the blocks' rows bound together.
scan_each_block <- function(getG, n, m, block_size, progress, test) {
  out <- vector("list", ceiling(m / block_size))
  bar <- if (isTRUE(progress)) utils::txtProgressBar(min = 0, max = m, style = 3)
  for (bi in seq_along(out)) {
    j <- ((bi - 1L) * block_size + 1L):min(bi * block_size, m)
    Gb <- getG(j)
    if (!is.matrix(Gb) || nrow(Gb) != n || ncol(Gb) != length(j) || anyNA(Gb))
      stop(sprintf("the variants of block %d are not a complete %d x %d numeric matrix", bi, n,
                   length(j)), call. = FALSE)
    out[[bi]] <- test(Gb, j)
    if (!is.null(bar)) utils::setTxtProgressBar(bar, max(j))
  }
  if (!is.null(bar)) close(bar)
  res <- do.call(rbind, out)
  rownames(res) <- NULL
  res
}

# U'Gb for a block of variants: Q'Gb through the reflectors of the
# tridiagonal reduction (dense K), Gb itself (sparse K, not rotated), or
# U = F V S^{-1} with F = Z L (factor route), applied as S^{-1} V' L' (Z' Gb).
rotate_columns <- function(rt, Gb) {
  b <- rt$basis
  if (isTRUE(b$identity)) return(Gb)
  if (!is.null(b$packed)) {
    storage.mode(Gb) <- "double"
    return(cpp_householder_apply(b$packed, b$h, Gb, TRUE))
  }
  ZtG <- matrix(0, nrow(b$L), ncol(Gb))
  s <- rowsum(Gb, rt$index)
  ZtG[as.integer(rownames(s)), ] <- s
  crossprod(b$V, crossprod(b$L, ZtG)) / b$s
}
