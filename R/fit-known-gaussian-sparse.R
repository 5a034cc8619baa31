# A sparse known covariance (a Matrix::sparseMatrix K: pedigree,
# compactly supported spatial covariance, neighbourhood structure) kept
# sparse end to end: with A = Z K Z' (sparse, n x n) the model's
# V* = lambda A + I is factored by CHOLMOD's sparse Cholesky (through
# Matrix) at each value of the variance ratio, the fill-reducing ordering
# and symbolic analysis done once. Memory is that of A and of the factor,
# linear in their nonzeros; K is never densified and no eigenvectors are
# formed. The "rotation" is the identity: known_gaussian_fit(), its
# standard errors and assoc_scan() work through rotated_system() as for
# the tridiagonal rotation.

known_gaussian_rotation_sparse <- function(index, K, X, y, g) {
  n <- length(y)
  A <- known_sparse_term(K, index, g, n)$A
  check_memory(8 * 4 * (length(A@x) + n),
               sprintf("the sparse factorization of 'covariance$%s' (%d x %d, %d nonzeros)",
                       g, n, n, length(A@x)))
  dA <- Matrix::diag(A)
  # Symbolic analysis once (AMD ordering); a K that is not positive
  # semidefinite shows as a failed factorization of A + eps I.
  L0 <- tryCatch(Matrix::Cholesky(A, perm = TRUE, LDL = FALSE, super = NA,
                                  Imult = 1e-8 * mean(dA)),
                 error = function(e) NULL, warning = function(w) NULL)
  if (is.null(L0))
    stop(sprintf("'covariance$%s' is not positive semidefinite (its sparse Cholesky factorization failed)",
                 g), call. = FALSE)
  # mean(d) of the spectral routes (the grid's centre): trace / n
  known_rotation(X, y, mean(dA), y, X, function(a) a, list(identity = TRUE), k = n,
                 sparse = list(A = A, L0 = L0))
}

# (lambda D + I)^{-1} B and log det(lambda D + I) in the coordinates of a
# rotation: D diagonal (spectral), tridiagonal, or the sparse A itself.
rotated_system <- function(rot, lambda, B) {
  B <- as.matrix(B)
  if (!is.null(rot$sparse)) {
    if (lambda == 0) return(list(ok = TRUE, solution = B, logdet = 0))
    L <- tryCatch(Matrix::update(rot$sparse$L0, lambda * rot$sparse$A, mult = 1),
                  error = function(e) NULL, warning = function(w) NULL)
    if (is.null(L)) return(list(ok = FALSE))
    # determinant() of a CHMfactor gives half the log determinant of the
    # factored matrix (that of L)
    return(list(ok = TRUE, solution = as.matrix(Matrix::solve(L, B, system = "A")),
                logdet = 2 * as.numeric(Matrix::determinant(L, sqrt = TRUE)$modulus)))
  }
  if (!is.null(rot$tri)) return(cpp_tridiag_solve(rot$tri$dT, rot$tri$eT, lambda, B))
  list(ok = TRUE, solution = B / (1 + lambda * rot$d), logdet = sum(log1p(lambda * rot$d)))
}
