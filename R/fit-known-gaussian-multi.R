# Gaussian models with several known-covariance random intercepts
# (e.g. a lineage and a spatial covariance over the same cells):
#   V = s2e (I + sum_j lambda_j G_j),  G_j = Z_j K_j Z_j',
# the exact likelihood by a Cholesky factorization of V per evaluation
# (dense, O(n^3 / 3); or sparse when every K is sparse, below), beta and
# s2e profiled out, maximized over the
# variance ratios lambda_j >= 0 by nlminb. No single rotation diagonalizes
# two matrices, so this is the route for J > 1 terms; one term goes to the
# spectral rotation (fit-known-gaussian.R).

known_gaussian_multi_fit <- function(X, y, terms, reml) {
  n <- length(y)
  p <- ncol(X)
  J <- length(terms)
  known_multi_check(X, y, reml)
  sys <- if (known_terms_sparse(terms)) known_multi_sparse_system(X, y, terms)
         else known_multi_dense_system(X, y, terms)
  # The profiled (RE)ML at the ratios lam (V* = s0 I + sum lam_j A_j):
  # sys$quad() gives X'V*^-1 X, X'V*^-1 y, y'V*^-1 y, log det V* and the
  # factor, or NULL where V* is not positive definite.
  prof <- function(lam, s0 = 1, keep = FALSE, restricted = reml) {
    q <- sys$quad(lam, s0)
    if (is.null(q)) return(NULL)
    beta <- solve(q$XtVX, q$Xy)
    df <- if (restricted) n - p else n
    s2e <- max(q$yy - sum(q$Xy * beta), 1e-300) / df
    ll <- -0.5 * (q$logdet + df * (1 + log(2 * pi * s2e)))
    if (restricted) ll <- ll - sum(log(diag(chol(q$XtVX))))
    list(loglik = ll, beta = beta, s2e = s2e, XtVX = q$XtVX, fac = if (keep) q$fac)
  }
  opt <- known_multi_optimum(prof, sys$scl, J)
  lambda <- opt$lambda
  # V = s2 (s0 I + sum lambda_j A_j): s2 is prof()'s profiled scale
  best <- prof(lambda, opt$s0, keep = TRUE)
  # the other criterion at the same ratios (logLik(REML = ) of the other kind)
  other <- prof(lambda, opt$s0, restricted = !reml)$loglik
  est <- known_multi_estimates(best, opt, lambda, X, y)
  b <- sys$blup(sys$solve(best$fac, est$r), lambda)
  # Covariance of (sd_1, ..., sd_J, log residual sd): the ML log-likelihood
  # with V = s2e I + sum sd_j^2 A_j, beta held at its estimate.
  ll <- function(th) sys$ml(th[seq_len(J)], exp(2 * th[J + 1L]), est$r)
  fit <- known_multi_result(
    est, best, opt, b,
    known_multi_hessian_cov(ll, c(sqrt(est$s2g), 0.5 * log(est$s2e)),
                            c(!opt$singular, is.finite(0.5 * log(est$s2e)))),
    sys$own(best, lambda, opt),
    do.call(known_multi_optinfo, c(list(opt, reml, sprintf("%s, %d known covariances", sys$what, J)),
                                   sys$optinfo)))
  if (reml) fit$loglik_ml <- other else fit$loglik_reml <- other
  # Var(b_j | y) of each term's levels at the estimates (beta held, as
  # lme4's condVar): s2g_j (K_j - lambda_j K_j Z_j' V*^-1 Z_j K_j), V = s2 V*
  # (known_gaussian_condvar() for one term).
  fit$condvar <- lapply(seq_len(J), function(j) {
    nl <- length(terms[[j]]$levels)
    q <- numeric(nl)
    if (lambda[j] > 0) for (cols in column_chunks(nl, n)) {
      W <- sys$zk(j, cols)
      q[cols] <- colSums(W * as.matrix(sys$solve(best$fac, W)))
    }
    pmax(est$s2g[j] * (fit$kdiag[[j]] - lambda[j] * q), 0)
  })
  fit
}

# The dense system: a factor of each K (validated: symmetric, positive
# semidefinite) and G_j = F_j F_j' over the observations; a plain term
# (K = I, known_term()) needs no factor: G_j is the indicator of sharing a
# level. V* is factored by a dense Cholesky per evaluation.
known_multi_dense_system <- function(X, y, terms) {
  n <- length(y)
  J <- length(terms)
  check_memory(8 * n^2 * (J + 3), sprintf("%d known covariances over %d observations (dense %d x %d matrices)",
                                          J, n, n, n))
  Ls <- lapply(terms, function(tm)
    if (isTRUE(tm$plain)) NULL
    else if (is.null(tm$kf)) as.matrix(covariance_factor(tm$K, tm$g)) else tm$kf$L)
  Gs <- lapply(seq_len(J), function(j) {
    ix <- terms[[j]]$index
    if (is.null(Ls[[j]])) outer(ix, ix, "==") + 0
    else tcrossprod(Ls[[j]][ix, , drop = FALSE])
  })
  quad <- function(lam, s0) {
    V <- diag(s0, n)
    for (j in seq_len(J)) if (lam[j] > 0) V <- V + lam[j] * Gs[[j]]
    R <- tryCatch(chol(V), error = function(e) NULL)
    if (is.null(R)) return(NULL)
    Xt <- backsolve(R, X, transpose = TRUE)
    yt <- backsolve(R, y, transpose = TRUE)
    list(XtVX = crossprod(Xt), Xy = drop(crossprod(Xt, yt)), yy = sum(yt^2),
         logdet = 2 * sum(log(diag(R))), fac = R)
  }
  ml <- function(sd, s2e, r) {
    V <- diag(s2e, n)
    for (j in seq_len(J)) V <- V + sd[j]^2 * Gs[[j]]
    R <- tryCatch(chol(V), error = function(e) NULL)
    if (is.null(R)) return(NA_real_)
    -sum(log(diag(R))) - 0.5 * sum(backsolve(R, r, transpose = TRUE)^2)
  }
  blup <- function(a, lambda) lapply(seq_len(J), function(j)
    known_level_blup(a, terms[[j]]$index, length(terms[[j]]$levels), lambda[j], Ls[[j]]))
  # the Cholesky factor of V / s2 at the estimates and s2, for assoc_scan()
  own <- function(best, lambda, opt)
    list(known_v = list(R = best$fac, scale = best$s2e),
         kdiag = lapply(seq_len(J), function(j)
           if (is.null(Ls[[j]])) rep(1, length(terms[[j]]$levels)) else rowSums(Ls[[j]]^2)))
  # columns `cols` of Z_j K_j (n x length(cols))
  zk <- function(j, cols) {
    ix <- terms[[j]]$index
    if (is.null(Ls[[j]])) outer(ix, cols, "==") + 0
    else tcrossprod(Ls[[j]][ix, , drop = FALSE], Ls[[j]][cols, , drop = FALSE])
  }
  list(scl = vapply(Gs, function(G) 1 / mean(diag(G)), 0), quad = quad, ml = ml, blup = blup,
       own = own, zk = zk, what = "dense Cholesky",
       solve = function(R, r) backsolve(R, backsolve(R, r, transpose = TRUE)))
}

# lambda K Z' a for a term over nl levels (observations' levels `index`),
# K = L L' (L NULL: the identity).
known_level_blup <- function(a, index, nl, lambda, L = NULL, K = NULL) {
  za <- numeric(nl)
  s <- rowsum(a, index)
  za[as.integer(rownames(s))] <- s
  lambda * if (!is.null(K)) drop(as.matrix(K %*% za))
           else if (is.null(L)) za else drop(L %*% crossprod(L, za))
}

# What the dense and the sparse multi-term routes (fit-known-gaussian-multi-
# sparse.R) share: the design's checks, ...
known_multi_check <- function(X, y, reml) {
  check_full_rank(X)
  if (reml && length(y) <= ncol(X))
    stop("REML needs more observations than fixed effects", call. = FALSE)
}

# ... the search over the ratios scaled by scl (known_multi_search()) on
# the profiled log-likelihood prof(lambda, s0) (NULL where V is not
# positive definite), with the ratios found (lambda) and the count of
# evaluations added to its record, ...
known_multi_optimum <- function(prof, scl, J) {
  nev <- 0L
  obj <- function(t, s0 = 1) {
    nev <<- nev + 1L
    r <- prof(t * scl, s0)
    if (is.null(r) || !is.finite(r$loglik)) Inf else -r$loglik
  }
  opt <- known_multi_search(obj, J)
  opt$lambda <- opt$t * scl
  opt$evaluations <- nev
  opt
}

# ... the estimates at the variance ratios lambda found by
# known_multi_search() (opt), with prof()'s `best` there: beta, its
# covariance, the variances s2e and s2g and the residuals r = y - X beta, ...
known_multi_estimates <- function(best, opt, lambda, X, y) {
  beta <- stats::setNames(drop(best$beta), colnames(X))
  vc <- best$s2e * chol2inv(chol(best$XtVX))
  dimnames(vc) <- list(names(beta), names(beta))
  list(beta = beta, vcov = vc, r = y - drop(X %*% beta), s2g = lambda * best$s2e,
       s2e = opt$s0 * best$s2e)
}

# ... the result, with the predictions b, the covariance of the variance
# parameters cov_var and the route's own fields (`own`, after cov_var), ...
known_multi_result <- function(est, best, opt, b, cov_var, own, optinfo) {
  c(list(beta = est$beta, vcov = est$vcov, s2e = est$s2e, s2g = est$s2g,
         lambda = est$s2g / est$s2e, loglik = best$loglik, b = b, singular = opt$singular,
         residual_zero = opt$residual_zero, cov_var = cov_var),
    own, list(optinfo = optinfo))
}

# ... and the search's record (`what`: the factorization; `...`: the
# route's own entries, before the warnings).
known_multi_optinfo <- function(opt, reml, what, ...) {
  new_optinfo(optimizer = "nlminb", method = sprintf("%s (%s)", if (reml) "REML" else "ML", what),
              nAGQ = 1L, evaluations = opt$evaluations, iterations = opt$iterations,
              convergence = opt$convergence, message = opt$message, max_grad = opt$gmax,
              warnings = opt$warn, ..., residual_zero = isTRUE(opt$residual_zero))
}

# Minimizes obj(t, s0) over the scaled variance ratios t >= 0 by nlminb
# from equal shares, with V* = s0 I + sum t_j A_j (s0 = 1 inside); components
# that end near zero are set to zero when that is no worse (a singular fit).
# nlminb's own code is no verdict on a flat profile ("singular convergence"
# is common at the optimum): the scaled gradient decides, and a warning says
# when it is not small.
#
# The residual variance's boundary s2e = 0 is t -> infinity here, which no
# finite t reaches. It is a legitimate optimum when V* without its identity
# part, sum t_j A_j, is positive definite (e.g. one observation per level
# and K positive definite), so when the search ends with the residual's
# share of V* below 0.2, the face s0 = 0 is searched as well: the profiled
# likelihood does not depend on the scale of (s0, t), so there the largest
# t_j is held at 1 and the others are free (J = 1: one evaluation). The face
# wins only when it is higher; `residual_zero` records it.
known_multi_search <- function(obj, J) {
  opt <- stats::nlminb(rep(1 / (J + 1), J), obj, lower = 0,
                       control = list(rel.tol = 1e-10, eval.max = 400L, iter.max = 200L))
  t_hat <- opt$par
  s0 <- 1
  face <- if (1 / (1 + sum(t_hat)) < 0.2) known_multi_face(obj, t_hat, opt$objective)
  if (!is.null(face)) {
    opt <- face$opt
    t_hat <- face$t
    s0 <- 0
  }
  singular <- t_hat < 1e-6
  if (any(singular)) {
    t0 <- replace(t_hat, singular, 0)
    if (obj(t0, s0) <= opt$objective + 1e-9) t_hat <- t0 else singular[] <- FALSE
  }
  gmax <- 0
  for (j in which(!singular)) {
    h <- 1e-5 * max(t_hat[j], 1e-3)
    e <- replace(numeric(J), j, h)
    if (s0 == 0 && j == face$ref) next
    gmax <- max(gmax, abs(obj(t_hat + e, s0) - obj(pmax(t_hat - e, 0), s0)) / (2 * h) *
                  max(t_hat[j], 1e-3))
  }
  warn <- if (gmax > 1e-3)
    sprintf("the optimizer stopped where the profiled log-likelihood still changes (scaled gradient %.2g): %s",
            gmax, opt$message)
  list(t = t_hat, s0 = s0, residual_zero = s0 == 0, singular = singular, gmax = gmax,
       warn = as.character(warn), iterations = opt$iterations,
       convergence = opt$convergence, message = opt$message)
}

# The best point of the face s0 = 0 (no residual variance), or NULL when V*
# is singular there or the face is no higher than the interior optimum
# `best` (minus log-likelihood).
known_multi_face <- function(obj, t_hat, best) {
  J <- length(t_hat)
  ref <- which.max(t_hat)
  full <- function(u) {
    t <- numeric(J)
    t[ref] <- 1
    t[-ref] <- u
    t
  }
  if (J == 1L) {
    val <- obj(1, 0)
    opt <- list(par = numeric(), objective = val, iterations = 0L, convergence = 0L,
                message = "residual variance at its boundary (zero)")
  } else {
    u0 <- t_hat[-ref] / t_hat[ref]
    if (!is.finite(obj(full(u0), 0))) return(NULL)
    opt <- stats::nlminb(u0, function(u) obj(full(u), 0), lower = 0,
                         control = list(rel.tol = 1e-10, eval.max = 400L, iter.max = 200L))
  }
  if (!is.finite(opt$objective) || opt$objective >= best) return(NULL)
  list(opt = opt, t = full(opt$par), ref = ref)
}

# Inverse of minus the central-difference Hessian of ll at th over the
# free components (NA rows and columns for the others).
known_multi_hessian_cov <- function(ll, th, free) {
  known_neg_inverse(fd_hessian(ll, th, "values", step = 1e-4, on_boundary = !free), free)
}

# Inverse of -H over the free components (NA rows and columns for the
# others, and all NA unless it is finite with a positive diagonal).
known_neg_inverse <- function(H, free = rep(TRUE, ncol(H))) {
  out <- matrix(NA_real_, length(free), length(free))
  inv <- tryCatch(solve(-H[free, free, drop = FALSE]), error = function(e) NULL)
  if (!is.null(inv) && all(is.finite(inv)) && all(diag(inv) > 0)) out[free, free] <- inv
  out
}

# Gaussian models with several known-covariance random intercepts whose
# covariances are all sparse (Matrix objects: pedigree or family blocks,
# compactly supported spatial covariances, identities):
#   V = s2e V*,  V* = I + sum_j lambda_j A_j,  A_j = Z_j K_j Z_j',
# kept sparse end to end. V* (n x n, sparse) is factored by CHOLMOD's
# sparse Cholesky (through Matrix) at each value of the variance ratios,
# the fill-reducing ordering and symbolic analysis done once; beta and s2e
# are profiled out by known_gaussian_multi_fit(). The likelihood is exact
# (ML or REML), and K_j is never factored, so a singular K_j is fine: V* is
# positive definite whatever the lambda_j >= 0. Memory: the A_j, V* and
# the factor, whose sizes are computed from the patterns (the factor's by
# a symbolic count, cpp_chol_factor_nnz()) and checked before each is
# formed.

# Nonzeros of Z K Z' (both triangles) from the counts of observations per
# level: entry (a, b) of K becomes an m_a x m_b block.
known_sparse_nnz <- function(Kc, index) {
  m <- tabulate(index, nrow(Kc))
  Kg <- methods::as(as_dgc(Kc), "TsparseMatrix")
  sum(as.numeric(m[Kg@i + 1L]) * m[Kg@j + 1L])
}

# The sparse K of a term, checked (numeric, symmetric, its observed part
# not zero) and returned as a symmetric CsparseMatrix, and A = Z K Z'.
known_sparse_term <- function(K, index, g, n) {
  Kc <- as_dgc(K)
  sc <- max(abs(Matrix::diag(Kc)), 1e-300)
  if (max(abs(Kc - Matrix::t(Kc))) > 1e-8 * sc)
    stop(sprintf("'covariance$%s' is not symmetric", g), call. = FALSE)
  Kc <- Matrix::forceSymmetric(Kc, "L")
  Z <- Matrix::sparseMatrix(i = seq_len(n), j = index, x = 1, dims = c(n, nrow(Kc)))
  A <- Matrix::forceSymmetric(methods::as(Z %*% Kc %*% Matrix::t(Z), "CsparseMatrix"), "L")
  if (max(Matrix::diag(A)) <= 0)
    stop(sprintf("'covariance$%s' is zero over the observed levels", g), call. = FALSE)
  list(K = Kc, Z = Z, A = A)
}

# Does every term have a sparse K (not a factor)? Then the sparse route.
known_terms_sparse <- function(terms) {
  all(vapply(terms, function(tm) is.null(tm$kf) && inherits(tm$K, "sparseMatrix"), TRUE))
}

# The sparse system of known_gaussian_multi_fit(): V* factored on its
# pattern by CHOLMOD at each value of the ratios.
known_multi_sparse_system <- function(X, y, terms) {
  n <- length(y)
  p <- ncol(X)
  J <- length(terms)
  what <- sprintf("%d sparse known covariances over %d observations", J, n)
  # Stored values (8 bytes) and row indices (4) of each A_j and of V* in
  # its two forms (one triangle; both, for the symbolic count), counted
  # before any is formed.
  nnzA <- vapply(terms, function(tm)
    known_sparse_nnz(tm$K, tm$index), 0)
  nnzV <- min(sum(nnzA) + n, as.numeric(n)^2)
  check_memory(12 * (sum(nnzA) / 2 + 1.5 * nnzV) + 8 * n * (p + 4),
               sprintf("%s (%.3g nonzeros in Z K Z')", what, sum(nnzA)))
  parts <- lapply(terms, function(tm) known_sparse_term(tm$K, tm$index, tm$g, n))
  As <- lapply(parts, `[[`, "A")
  scl <- vapply(As, function(A) 1 / mean(Matrix::diag(A)), 0)
  V1 <- Matrix::Diagonal(n)
  for (j in seq_len(J)) V1 <- V1 + scl[j] * As[[j]]
  V1 <- Matrix::forceSymmetric(methods::as(V1, "CsparseMatrix"), "L")
  # The factor's size from the pattern (AMD ordering, elimination tree),
  # checked before CHOLMOD allocates it; a supernodal factor stores some
  # explicit zeros besides, hence the margin.
  nnzL <- cpp_chol_factor_nnz(as_dgc(V1))
  check_memory(1.5 * 12 * nnzL + 12 * 1.5 * nnzV + 8 * n * (p + 4),
               sprintf("the sparse Cholesky factor for %s (%.3g nonzeros)", what, nnzL))
  L0 <- Matrix::Cholesky(V1, perm = TRUE, LDL = FALSE, super = NA)
  # Each A_j on the pattern of V* (zeros where it has none), so that V*(lambda)
  # is a weighted sum of the stored values, as CHOLMOD's update wants.
  Vp <- V1
  Ax <- lapply(As, pattern_values, V = V1)
  Ix <- pattern_values(Matrix::sparseMatrix(i = seq_len(n), j = seq_len(n), x = 1), V1)
  Vat <- function(lam, s0 = 1) {
    Vp@x <- s0 * Ix
    for (j in seq_len(J)) Vp@x <- Vp@x + lam[j] * Ax[[j]]
    Vp
  }
  solve_a <- function(L, r) drop(as.matrix(Matrix::solve(L, r, system = "A")))
  XY <- cbind(X, y)
  quad <- function(lam, s0) {
    L <- chm_update(L0, Vat(lam, s0))
    if (is.null(L)) return(NULL)
    S <- as.matrix(Matrix::solve(L, XY, system = "A"))
    XtVX <- crossprod(X, S[, seq_len(p), drop = FALSE])
    list(XtVX = (XtVX + t(XtVX)) / 2, Xy = drop(crossprod(X, S[, p + 1L])),
         yy = sum(y * S[, p + 1L]), logdet = 2 * chm_half_logdet(L), fac = L)
  }
  ml <- function(sd, s2e, r) {
    L <- chm_update(L0, Vat(sd^2, s2e))
    if (is.null(L)) return(NA_real_)
    -chm_half_logdet(L) - 0.5 * sum(r * solve_a(L, r))
  }
  blup <- function(a, lambda) lapply(seq_len(J), function(j)
    lambda[j] * drop(as.matrix(parts[[j]]$K %*% Matrix::crossprod(parts[[j]]$Z, a))))
  own <- function(best, lambda, opt)
    list(kdiag = lapply(parts, function(pt) as.numeric(Matrix::diag(pt$K))),
         sparse = list(V = V1, L0 = L0, nnz_factor = nnzL),
         # V / s2 at the estimates (sparse, V's pattern) and s2, for assoc_scan()
         known_v = list(V = known_v_values(Vat(lambda, opt$s0)), scale = best$s2e))
  zk <- function(j, cols)
    as.matrix(parts[[j]]$Z %*% parts[[j]]$K[, cols, drop = FALSE])
  list(scl = scl, quad = quad, ml = ml, blup = blup, own = own, zk = zk, solve = solve_a,
       what = "sparse Cholesky", optinfo = list(nnz_factor = nnzL))
}

# The stored values of a symmetric sparse A (lower triangle) at the
# positions of V's pattern (lower triangle, a superset), zero elsewhere.
pattern_values <- function(A, V) {
  A <- as_dgc(Matrix::tril(as_dgc(A)))
  key <- function(M) as.numeric(rep.int(seq_len(ncol(M)) - 1L, diff(M@p))) * nrow(M) + M@i
  pos <- match(key(A), key(V))
  if (anyNA(pos)) stop("internal: a term's pattern is not in that of V", call. = FALSE)
  x <- numeric(length(V@x))
  x[pos] <- A@x
  x
}

# Any sparse Matrix as a general compressed-column double matrix (dgCMatrix:
# both triangles stored, a unit diagonal made explicit), the form the C++
# helpers map.
as_dgc <- function(A) {
  methods::as(methods::as(methods::as(A, "CsparseMatrix"), "generalMatrix"), "dMatrix")
}

# A sparse V without the factorizations Matrix caches in its `factors`
# slot (those of V's pattern at other values, copied along with it).
known_v_values <- function(V) {
  V@factors <- list()
  V
}
