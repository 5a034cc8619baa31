# Gaussian models with several known-covariance random intercepts whose
# covariances are all sparse (Matrix objects: pedigree or family blocks,
# compactly supported spatial covariances, identities):
#   V = s2e V*,  V* = I + sum_j lambda_j A_j,  A_j = Z_j K_j Z_j',
# kept sparse end to end. V* (n x n, sparse) is factored by CHOLMOD's
# sparse Cholesky (through Matrix) at each value of the variance ratios,
# the fill-reducing ordering and symbolic analysis done once; beta and s2e
# are profiled out as on the dense route (fit-known-gaussian-multi.R),
# whose result this returns in the same shape. The likelihood is exact
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
  factor_at <- function(lam, s0) tryCatch(Matrix::update(L0, Vat(lam, s0)), error = function(e) NULL,
                                          warning = function(w) NULL)
  solve_a <- function(L, r) drop(as.matrix(Matrix::solve(L, r, system = "A")))
  # determinant() of a CHMfactor gives half the log determinant
  half_logdet <- function(L) as.numeric(Matrix::determinant(L, sqrt = TRUE)$modulus)
  XY <- cbind(X, y)
  quad <- function(lam, s0) {
    L <- factor_at(lam, s0)
    if (is.null(L)) return(NULL)
    S <- as.matrix(Matrix::solve(L, XY, system = "A"))
    XtVX <- crossprod(X, S[, seq_len(p), drop = FALSE])
    list(XtVX = (XtVX + t(XtVX)) / 2, Xy = drop(crossprod(X, S[, p + 1L])),
         yy = sum(y * S[, p + 1L]), logdet = 2 * half_logdet(L), fac = L)
  }
  ml <- function(sd, s2e, r) {
    L <- factor_at(sd^2, s2e)
    if (is.null(L)) return(NA_real_)
    -half_logdet(L) - 0.5 * sum(r * solve_a(L, r))
  }
  blup <- function(a, lambda) lapply(seq_len(J), function(j)
    lambda[j] * drop(as.matrix(parts[[j]]$K %*% Matrix::crossprod(parts[[j]]$Z, a))))
  own <- function(best, lambda, opt)
    list(kdiag = lapply(parts, function(pt) as.numeric(Matrix::diag(pt$K))),
         sparse = list(V = V1, L0 = L0, nnz_factor = nnzL),
         # V / s2 at the estimates (sparse, V's pattern) and s2, for assoc_scan()
         known_v = list(V = known_v_values(Vat(lambda, opt$s0)), scale = best$s2e))
  list(scl = scl, quad = quad, ml = ml, blup = blup, own = own, solve = solve_a,
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
