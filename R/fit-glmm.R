# Matrix-level GLMM fitter: the engine without formulas.

#' Fit a GLMM with one grouping factor from matrices
#'
#' The matrix-level fitter behind [glmm()]: maximizes the marginal
#' log-likelihood, with the random effects integrated out by the Laplace
#' approximation (`nAGQ = 1`) or adaptive Gauss-Hermite quadrature
#' (`nAGQ > 1`), by [stats::nlminb()] with the engine's exact analytic
#' gradient.
#'
#' The random effects of cluster \eqn{i} are \eqn{b_i = \Lambda u_i} with
#' \eqn{u_i \sim N(0, I)}, so their covariance is \eqn{D = \Lambda\Lambda'};
#' \eqn{\Lambda} is lower triangular, block-diagonal by `cov_blocks`, with its
#' diagonal bounded below by zero (a variance of exactly zero is a "singular
#' fit").
#'
#' @param X Fixed-effects model matrix (n x p).
#' @param y Response on the mean scale (a proportion for binomial).
#' @param Z Random-effects covariates (n x q): the columns that vary by cluster.
#' @param group Cluster membership: a factor, or anything [factor()] accepts.
#'   Rows need not be sorted by cluster.
#' @param family A family object, function or name: gaussian (identity),
#'   binomial (logit, probit, cloglog) or poisson (log).
#' @param weights Prior weights; for binomial, the number of trials.
#' @param offset Offset added to the linear predictor.
#' @param nAGQ Number of quadrature points per random effect; 1 is Laplace.
#'   `NULL` chooses [default_nAGQ()].
#' @param cov_blocks Sizes of the diagonal blocks of the covariance: `ncol(Z)`
#'   (one unstructured block) or `rep(1, ncol(Z))` (diagonal).
#' @param control [glmm_control()] settings.
#' @param start Optional starting values, a list with `beta`, `lambda`
#'   (the free entries of \eqn{\Lambda} column by column) and, for gaussian,
#'   `sigma`.
#' @return A list with the estimates, their covariance, the log-likelihood and
#'   a record of the optimization (`optinfo`); [glmm()] turns it into a fitted
#'   model object.
#' @examples
#' data(cbpp, package = "lme4")
#' X <- model.matrix(~ period, cbpp)
#' f <- glmm_fit(X, cbpp$incidence / cbpp$size, matrix(1, nrow(cbpp)),
#'               cbpp$herd, binomial, weights = cbpp$size, nAGQ = 9)
#' f$beta
#' f$loglik
#' @export
glmm_fit <- function(X, y, Z, group, family = gaussian(), weights = NULL,
                     offset = NULL, nAGQ = NULL, cov_blocks = ncol(Z),
                     control = glmm_control(), start = NULL) {
  family <- resolve_family(family)
  if (!inherits(control, "glmm_control"))
    stop("'control' must come from glmm_control()", call. = FALSE)
  X <- as.matrix(X); Z <- as.matrix(Z)
  n <- nrow(X)
  storage.mode(X) <- "double"; storage.mode(Z) <- "double"
  if (nrow(Z) != n) stop("'Z' must have as many rows as 'X'", call. = FALSE)
  if (length(y) != n) stop("'y' must have one value per row of 'X'", call. = FALSE)
  if (length(group) != n) stop("'group' must have one value per row of 'X'", call. = FALSE)
  if (any(!is.finite(X))) stop("'X' contains NA, NaN or infinite values", call. = FALSE)
  if (any(!is.finite(Z))) stop("'Z' contains NA, NaN or infinite values", call. = FALSE)
  if (is.null(weights)) weights <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  if (length(weights) != n || length(offset) != n)
    stop("'weights' and 'offset' must have one value per row of 'X'", call. = FALSE)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  if (M < 2L) stop("'group' has only one level; a random effect needs at least two groups",
                   call. = FALSE)
  q <- ncol(Z)
  if (q < 1L) stop("'Z' needs at least one column", call. = FALSE)
  if (sum(cov_blocks) != q || any(cov_blocks < 1))
    stop("'cov_blocks' must be positive block sizes adding up to ncol(Z)", call. = FALSE)
  pat <- block_pattern(cov_blocks)
  if (is.null(nAGQ)) nAGQ <- default_nAGQ(q, family)
  nAGQ <- check_nAGQ(nAGQ, q)
  if (qr(X)$rank < ncol(X))
    stop("the fixed-effects model matrix is rank deficient (aliased or collinear columns: ",
         paste(aliased_columns(X), collapse = ", "), ")", call. = FALSE)
  p <- ncol(X)
  disp <- has_dispersion(family)

  st <- start_values(X, y, weights, offset, family, q, pat, start)
  lower <- c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), if (disp) -Inf)
  eng <- cpp_agq_new(X, Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                     cl$index, M, pat$row - 1L, pat$col - 1L, family$family_code,
                     family$link_code, if (control$laplace_start) 1L else nAGQ,
                     control$nthreads)
  stages <- list()
  theta <- st
  if (control$laplace_start && nAGQ > 1L) {
    stages$laplace <- optimize_engine(eng, theta, lower, control)
    theta <- stages$laplace$par
    eng <- cpp_agq_new(X, Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                       cl$index, M, pat$row - 1L, pat$col - 1L, family$family_code,
                       family$link_code, nAGQ, control$nthreads)
  }
  opt <- optimize_engine(eng, theta, lower, control)
  stages$final <- opt
  theta <- opt$par

  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)),
              sprintf("lambda[%d,%d]", pat$row, pat$col), if (disp) "log(sigma)")
  boundary_at <- function(th) {
    lam <- th[p + seq_along(pat$row)]
    sig <- if (disp) exp(th[[length(th)]]) else 1
    c(rep(FALSE, p), pat$row == pat$col & abs(lam) < control$singular_tol * sig,
      if (disp) FALSE)
  }
  on_boundary <- boundary_at(theta)
  hess <- NULL
  polished <- 0L
  if (control$hessian) {
    hess <- numeric_hessian(eng, theta, on_boundary)
    if (opt$convergence == 0L) {
      pol <- newton_polish(eng, theta, hess, on_boundary, lower)
      theta <- pol$theta
      polished <- pol$steps
      on_boundary <- boundary_at(theta)
    }
  }
  final <- cpp_agq_eval(eng, theta, TRUE)
  summ <- cpp_agq_summaries(eng, theta)

  names(theta) <- pnames
  beta <- theta[seq_len(p)]
  lam <- theta[p + seq_along(pat$row)]
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- lam
  sigma <- if (disp) exp(theta[[length(theta)]]) else 1
  singular <- any(on_boundary)
  grad <- final$gradient
  names(grad) <- pnames
  gmax <- if (any(!on_boundary)) max(abs(grad[!on_boundary])) else 0

  cov_theta <- invert_information(hess, on_boundary, pnames)

  warn <- character()
  if (opt$convergence != 0L)
    warn <- c(warn, sprintf("the optimizer did not converge: %s", opt$message))
  if (gmax > control$grad_tol)
    warn <- c(warn, sprintf("doubtful convergence: largest absolute gradient %.2g (tolerance %.2g)",
                            gmax, control$grad_tol))
  if (singular)
    warn <- c(warn, "singular fit: a random-effect variance is estimated at zero (or a correlation at +/-1)")
  if (summ$newton_failures > 0L)
    warn <- c(warn, sprintf("the posterior mode search failed in %d cluster(s)",
                            summ$newton_failures))
  if (!is.null(hess) && is.null(attr(cov_theta, "ok")))
    warn <- c(warn, "the Hessian of the log-likelihood is not negative definite; standard errors are unavailable")

  list(beta = beta, lambda = lam, Lambda = Lam, sigma = sigma, theta = theta,
       loglik = final$loglik, gradient = grad, hessian = hess, cov_theta = cov_theta,
       modes = summ, nAGQ = nAGQ, family = family, group = cl, q = q,
       pattern = pat, cov_blocks = cov_blocks, p = p, dispersion = disp,
       singular = singular, on_boundary = on_boundary,
       optinfo = list(optimizer = "nlminb", method = if (nAGQ == 1L) "Laplace" else "AGHQ",
                      nAGQ = nAGQ, stages = lapply(stages, function(s) s[c("iterations", "evaluations", "convergence", "message", "objective")]),
                      iterations = sum(vapply(stages, `[[`, 1L, "iterations")),
                      evaluations = sum(vapply(stages, function(s) s$evaluations[["function"]], 1)),
                      convergence = opt$convergence, message = opt$message,
                      newton_steps = polished,
                      max_grad = gmax, hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      newton_failures = summ$newton_failures, warnings = warn,
                      nthreads = control$nthreads))
}

`%||%` <- function(a, b) if (is.null(a)) b else a

block_pattern <- function(sizes) {
  rows <- cols <- integer()
  off <- 0L
  for (s in sizes) {
    for (cc in seq_len(s)) for (rr in cc:s) {
      rows <- c(rows, off + rr); cols <- c(cols, off + cc)
    }
    off <- off + s
  }
  list(row = rows, col = cols)
}

#' Default number of quadrature points
#'
#' The number of adaptive Gauss-Hermite points per random effect that
#' [glmm()] uses when `nAGQ` is not given: accurate where it is cheap. The
#' product grid has `nAGQ^q` points per cluster, so the number shrinks as the
#' dimension grows: 11 for one random effect, 7 for two, 5 for three, 3 for
#' four, and the Laplace approximation beyond. Gaussian models are exact with
#' the Laplace approximation and use 1.
#' @param q Number of random effects per cluster.
#' @param family A family object.
#' @return An integer.
#' @examples
#' default_nAGQ(1, binomial())
#' default_nAGQ(2, poisson())
#' @export
default_nAGQ <- function(q, family) {
  family <- resolve_family(family)
  if (family$family == "gaussian") return(1L)
  c(11L, 7L, 5L, 3L)[q] %||% 1L
}

check_nAGQ <- function(nAGQ, q) {
  if (!is.numeric(nAGQ) || length(nAGQ) != 1L || is.na(nAGQ) || nAGQ < 1 ||
      nAGQ != round(nAGQ))
    stop("'nAGQ' must be a whole number >= 1 (1 is the Laplace approximation)", call. = FALSE)
  nAGQ <- as.integer(nAGQ)
  if (nAGQ^q > 1e5)
    stop(sprintf("'nAGQ' = %d with %d random effects means %g quadrature points per cluster; use a smaller nAGQ",
                 nAGQ, q, nAGQ^q), call. = FALSE)
  nAGQ
}

aliased_columns <- function(X) {
  qx <- qr(X)
  colnames(X)[qx$pivot[-seq_len(qx$rank)]] %||% as.character(qx$pivot[-seq_len(qx$rank)])
}

# Starting values: a GLM without random effects for beta; a unit standard
# deviation on the link scale for the random effects (lme4's choice), scaled
# to the residual spread for gaussian models.
start_values <- function(X, y, weights, offset, family, q, pat, start) {
  p <- ncol(X)
  disp <- has_dispersion(family)
  if (!is.null(start)) {
    if (!is.list(start) || is.null(start$beta) || is.null(start$lambda) ||
        length(start$beta) != p || length(start$lambda) != length(pat$row) ||
        (disp && is.null(start$sigma)))
      stop("'start' must be a list with 'beta' (length ", p, "), 'lambda' (length ",
           length(pat$row), ")", if (disp) " and 'sigma'", call. = FALSE)
    return(c(start$beta, start$lambda, if (disp) log(start$sigma)))
  }
  fit <- suppressWarnings(stats::glm.fit(X, y, weights = weights, offset = offset,
                                         family = family,
                                         control = stats::glm.control(maxit = 25)))
  beta <- fit$coefficients
  beta[!is.finite(beta)] <- 0
  scale <- 1
  if (disp) {
    r <- (y - fit$fitted.values) * sqrt(weights)
    scale <- sqrt(max(sum(r^2) / max(length(y) - p, 1), 1e-8))
    scale <- scale / sqrt(2)
  }
  lam <- ifelse(pat$row == pat$col, scale, 0)
  c(beta, lam, if (disp) log(scale))
}

# nlminb on the negative log-likelihood, objective and gradient from one
# engine call (cached, since nlminb asks for them separately).
optimize_engine <- function(eng, theta, lower, control) {
  last <- NULL; last_theta <- NULL
  evalf <- function(th) {
    if (is.null(last_theta) || !identical(th, last_theta)) {
      last <<- cpp_agq_eval(eng, th, TRUE)
      last_theta <<- th
    }
    last
  }
  obj <- function(th) {
    v <- -evalf(th)$loglik
    if (is.finite(v)) v else Inf
  }
  gr <- function(th) -evalf(th)$gradient
  opt <- stats::nlminb(theta, obj, gr, lower = lower,
                       control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                      eval.max = control$eval.max, trace = control$trace))
  opt
}

# Hessian of the log-likelihood by central differences of the analytic
# gradient, symmetrized. Parameters on a boundary are left out.
numeric_hessian <- function(eng, theta, on_boundary) {
  P <- length(theta)
  H <- matrix(NA_real_, P, P)
  idx <- which(!on_boundary)
  for (j in idx) {
    h <- 1e-4 * max(abs(theta[j]), 0.1)
    tp <- theta; tp[j] <- tp[j] + h
    tm <- theta; tm[j] <- tm[j] - h
    H[, j] <- (cpp_agq_eval(eng, tp, TRUE)$gradient - cpp_agq_eval(eng, tm, TRUE)$gradient) / (2 * h)
  }
  H[idx, idx] <- (H[idx, idx] + t(H[idx, idx])) / 2
  H
}

# nlminb stops on relative function convergence once the predicted gain is
# below rel.tol * |loglik|; for a large log-likelihood that leaves the
# estimates ~1e-5 from the optimum and a gradient that trips grad_tol. A few
# Newton steps over the interior parameters, with the Hessian computed for
# the standard errors anyway, finish the job; a step is kept only if it stays
# feasible and does not lower the log-likelihood. (The Hessian is not
# recomputed: the steps are far too small to change the standard errors.)
newton_polish <- function(eng, theta, hess, on_boundary, lower, max_steps = 3L) {
  idx <- which(!on_boundary)
  out <- list(theta = theta, steps = 0L)
  if (!length(idx)) return(out)
  ch <- tryCatch(chol(-hess[idx, idx, drop = FALSE]), error = function(e) NULL)
  if (is.null(ch)) return(out)
  cur <- cpp_agq_eval(eng, theta, TRUE)
  for (s in seq_len(max_steps)) {
    step <- backsolve(ch, forwardsolve(t(ch), cur$gradient[idx]))
    if (!all(is.finite(step)) ||
        max(abs(step)) <= 1e-10 * (1 + max(abs(theta[idx])))) break
    cand <- theta
    cand[idx] <- cand[idx] + step
    if (any(cand < lower)) break
    nxt <- cpp_agq_eval(eng, cand, TRUE)
    if (!is.finite(nxt$loglik) || nxt$loglik < cur$loglik) break
    theta <- cand
    cur <- nxt
    out <- list(theta = theta, steps = s)
  }
  out
}

# Covariance of the parameter estimates: inverse of the observed information
# over the parameters not on a boundary (those get NA).
invert_information <- function(hess, on_boundary, pnames) {
  P <- length(pnames)
  V <- matrix(NA_real_, P, P, dimnames = list(pnames, pnames))
  if (is.null(hess)) return(V)
  idx <- which(!on_boundary)
  info <- -hess[idx, idx, drop = FALSE]
  ev <- tryCatch(eigen(info, symmetric = TRUE, only.values = TRUE)$values,
                 error = function(e) NA)
  if (anyNA(ev) || min(ev) <= 0) return(V)
  V[idx, idx] <- solve(info)
  attr(V, "ok") <- TRUE
  attr(V, "cond") <- max(ev) / min(ev)
  V
}
