# Covariance structures with a matrix given in the term, as glmmTMB writes
# them: propto(0 + f | g, K) (D = s^2 K: a known correlation or
# relationship matrix times one estimated variance) and equalto(0 + f | g,
# V) (D = V exactly, no parameter: known sampling covariances, as a
# one-stage meta-analysis needs). The matrix is evaluated in the formula's
# environment; its rows are matched to the term's columns by name (the
# levels of f) when it has row names, otherwise taken in order.

covstruct_matrix_kinds <- c("propto", "equalto")

# The term's matrix, checked: square, symmetric, positive semi-definite, one
# row per column of the term; with its lower-triangular factor L (list(K,
# L)). `arg` the expression as written, `cn` the term's
# column names, `lhs` its one-sided formula.
term_known_matrix <- function(kind, label, arg, env, cn, lhs) {
  K <- tryCatch(eval(arg, env %||% globalenv()), error = function(e)
    stop(sprintf("%s: the matrix '%s' could not be evaluated: %s", label,
                 paste(deparse(arg), collapse = ""), conditionMessage(e)), call. = FALSE))
  if (inherits(K, "Matrix")) K <- as.matrix(K)
  q <- length(cn)
  if (!is.matrix(K) || !is.numeric(K) || nrow(K) != ncol(K) || anyNA(K) || !all(is.finite(K)))
    stop(sprintf("%s: the matrix must be a finite numeric square matrix", label), call. = FALSE)
  if (!is.null(rownames(K))) {
    vars <- all.vars(lhs)
    lev <- if (length(vars) == 1L && all(startsWith(cn, vars))) substring(cn, nchar(vars) + 1L) else cn
    at <- match(lev, rownames(K))
    if (anyNA(at))
      stop(sprintf("%s: the matrix has no row named %s (its rows are named after the levels of the term)",
                   label, sQuote(lev[is.na(at)][1L], FALSE)), call. = FALSE)
    K <- K[at, at, drop = FALSE]
  } else if (nrow(K) != q) {
    stop(sprintf("%s: the matrix has %d rows and no row names, the term %d columns", label, nrow(K), q),
         call. = FALSE)
  }
  if (max(abs(K - t(K))) > 1e-8 * max(abs(K)))
    stop(sprintf("%s: the matrix is not symmetric", label), call. = FALSE)
  K <- unname((K + t(K)) / 2)
  L <- semidefinite_cholesky(K)
  if (is.null(L))
    stop_not_semidefinite(sprintf("%s: the matrix", label))
  list(K = K, L = L)
}

# The lower-triangular L with L L' = K for a positive semi-definite K (a
# kinship with clones, a lineage with sister cells of one clade): the
# Cholesky recursion, a column whose pivot is zero (within 1e-10 of K's
# largest variance) left at zero, which is exact when the rest of that
# column is zero too, as semi-definiteness makes it. NULL when K is not
# semi-definite (a negative pivot, or L L' not K to 1e-8).
semidefinite_cholesky <- function(K) {
  q <- nrow(K)
  L <- matrix(0, q, q)
  tol <- 1e-10 * max(diag(K))
  for (j in seq_len(q)) {
    prev <- seq_len(j - 1L)
    d <- K[j, j] - sum(L[j, prev]^2)
    if (d < -tol) return(NULL)
    if (d <= tol) next
    L[j, j] <- sqrt(d)
    if (j < q) {
      rest <- (j + 1L):q
      L[rest, j] <- (K[rest, j] - L[rest, prev, drop = FALSE] %*% L[j, prev]) / L[j, j]
    }
  }
  if (max(abs(tcrossprod(L) - K)) > 1e-8 * max(abs(K))) return(NULL)
  L
}

# `km`: term_known_matrix()'s list(K, L). Lambda = s L, its entries and
# their Jacobian in log(s) given directly (factor_entries()): chol() of a singular
# K would fail.
cs_propto <- function(q, km) {
  K <- km$K
  lt <- lower.tri(K, diag = TRUE)
  l <- km$L[lt]
  list(kind = "propto", npar = 1L, names = function(cn) "log(scale)",
       D = function(par) exp(2 * par[1L]) * K,
       dD = function(par) list(2 * exp(2 * par[1L]) * K),
       factor_entries = function(par) list(lambda = exp(par[1L]) * l, J = matrix(exp(par[1L]) * l)),
       start = function(sd) log(mean(sd) / sqrt(mean(diag(K)))),
       sd = function(par) exp(par[1L]) * sqrt(diag(K)), rho = function(par) NULL,
       extra = function(par) c(scale = exp(2 * par[1L])),
       sd_par = 1L, rho_par = integer(), hom = TRUE, ordered = FALSE,
       at_limit = function(par) logical())
}

# Whether any of `terms` has a covariance fixed in the response's units.
has_fixed_covariance <- function(terms)
  any(vapply(terms, function(t) identical(t$kind, "equalto"), TRUE))

# `terms` with every covariance fixed in y's units (equalto()) expressed in
# those of y / s: V / s^2, its factor L / s (only the terms `which`, those
# of the mean; a dispersion part's act on log sigma). A fit on y / s whose
# estimates are mapped back by s then returns V itself, and the terms in
# the units of y again are fixed_covariance_in_units(terms, 1 / s).
fixed_covariance_in_units <- function(terms, s, which = seq_along(terms)) {
  for (k in which)
    if (identical(terms[[k]]$kind, "equalto")) terms[[k]]$struct <- terms[[k]]$struct$in_units(s)
  terms
}

# `km`: term_known_matrix()'s list(K, L); in_units(s) the same structure
# in units of y / s.
cs_equalto <- function(q, km) {
  V <- km$K
  l <- km$L[lower.tri(V, diag = TRUE)]
  list(kind = "equalto", npar = 0L, names = function(cn) character(),
       in_units = function(s) cs_equalto(q, list(K = km$K / s^2, L = km$L / s)),
       D = function(par) V, dD = function(par) list(),
       factor_entries = function(par) list(lambda = l, J = matrix(0, length(l), 0L)),
       start = function(sd) numeric(), sd = function(par) sqrt(diag(V)), rho = function(par) NULL,
       sd_par = integer(), rho_par = integer(), hom = FALSE, ordered = FALSE,
       at_limit = function(par) logical())
}
