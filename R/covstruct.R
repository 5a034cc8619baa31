# Structured covariance matrices of one random-effect term, as glmmTMB
# writes them: us(x | g) (unstructured, the default), diag(x | g)
# (independent effects, one standard deviation each), homdiag(x | g)
# (independent, one common standard deviation), ar1(0 + f | g) (one
# standard deviation, correlation rho^|j - k| between the j-th and k-th
# columns, e.g. the levels of a time factor) and cs(0 + f | g) (compound
# symmetry: one standard deviation per column and one common correlation;
# glmmTMB 1.1's "heterogeneous compound symmetry"), homcs() (one common
# standard deviation), hetar1() (ar1()'s correlation, one standard deviation
# per column), toep() (Toeplitz: a correlation per lag, one standard
# deviation per column) and homtoep() (Toeplitz, one common standard
# deviation).
#
# Each structure works on an unconstrained scale: log standard deviations;
# ar1's rho = t / sqrt(1 + t^2) and cs's rho = -a + (1 + a) plogis(t),
# a = 1 / (q - 1), the range over which a compound-symmetric matrix of size
# q is positive definite; a Toeplitz correlation through its partial
# autocorrelations, each t / sqrt(1 + t^2) (toeplitz_pacf()). A structure
# is a list: npar, names(cn), D(par) and dD(par) (the list of derivatives
# of D in each parameter, exact), start(sd), sd(par) and rho(par)
# (standard deviations and correlations as users read them), the indices
# sd_par and rho_par of those parameters, hom (one standard deviation for
# all columns), ordered (the columns are times in order) and at_limit(par)
# (which correlation parameters sit at a limit of positive definiteness);
# the structures over coordinates (covstruct-coordinates.R) also extra(par),
# their range and smoothness.

covstruct_kinds <- c("us", "diag", "homdiag", "ar1", "cs", "homcs", "hetar1", "toep", "homtoep",
                     "ou", "exp", "gau", "mat", "propto", "equalto", "rr")
# The structures other than the unstructured default, which the frame
# formula replaces (has_covstruct(), covstruct_frame_formula()).
covstruct_special_kinds <- setdiff(covstruct_kinds, "us")
# The structures that read their columns in order as equally spaced times.
covstruct_ordered_kinds <- c("ar1", "hetar1", "toep", "homtoep")

covstruct <- function(kind, q, data = NULL) {
  # The structures' functions read q and data when first called: a
  # caller's loop variables must be taken now.
  force(q)
  force(data)
  # `data`: the coordinates of the columns, or the known matrix.
  if (kind %in% covstruct_coordinate_kinds) return(cs_coordinates(kind, q, data))  # covstruct-coordinates.R
  if (kind == "propto") return(cs_propto(q, data))  # covstruct-known.R
  if (kind == "equalto") return(cs_equalto(q, data))
  if (kind == "rr") return(cs_rr(q, data))  # `data`: the rank
  switch(kind,
         us = cs_us(q), diag = cs_diag(q), homdiag = cs_homdiag(q),
         ar1 = cs_ar1(q), cs = cs_cs(q), homcs = cs_homcs(q),
         hetar1 = cs_hetar1(q), toep = cs_toep(q, hom = FALSE), homtoep = cs_toep(q, hom = TRUE),
         stop(sprintf("unknown covariance structure '%s'", kind), call. = FALSE))
}

cs_us <- function(q) {
  pat <- block_pattern(q)
  list(kind = "us", npar = length(pat$row),
       names = function(cn) sprintf("lambda[%s,%s]", cn[pat$row], cn[pat$col]),
       D = function(par) { L <- matrix(0, q, q); L[cbind(pat$row, pat$col)] <- par; tcrossprod(L) },
       dD = function(par) {
         L <- matrix(0, q, q); L[cbind(pat$row, pat$col)] <- par
         lapply(seq_along(par), function(k) {
           E <- matrix(0, q, q); E[pat$row[k], pat$col[k]] <- 1
           E %*% t(L) + L %*% t(E)
         })
       },
       start = function(sd) { L <- diag(sd, q); L[cbind(pat$row, pat$col)] },
       sd = function(par) sqrt(diag(cs_us(q)$D(par))), rho = function(par) NULL,
       # The signs of Lambda's columns are not identified: only |diagonal|.
       sd_par = which(pat$row == pat$col), rho_par = integer(), hom = FALSE, ordered = FALSE,
       at_limit = function(par) logical(),
       # The parameters are Lambda's lower-triangle entries themselves.
       direct = TRUE, lambda_index = seq_along(pat$row))
}

# Reduced rank (glmmTMB's rr(x | g, d)): D = L L' with L the first d columns
# of a lower-triangular q x q factor (a q x d loading matrix, lower
# trapezoidal), q d - d (d - 1) / 2 parameters; the other columns are 0.
# Like us(), its parameters are Lambda's entries (direct).
cs_rr <- function(q, d) {
  pat <- block_pattern(q)
  idx <- which(pat$col <= d)
  L_of <- function(par) { L <- matrix(0, q, q); L[cbind(pat$row[idx], pat$col[idx])] <- par; L }
  list(kind = "rr", npar = length(idx), rank = d,
       names = function(cn) sprintf("lambda[%s,%s]", cn[pat$row[idx]], cn[pat$col[idx]]),
       D = function(par) tcrossprod(L_of(par)),
       dD = function(par) {
         L <- L_of(par)
         lapply(seq_along(idx), function(k) {
           E <- matrix(0, q, q); E[pat$row[idx[k]], pat$col[idx[k]]] <- 1
           E %*% t(L) + L %*% t(E)
         })
       },
       start = function(sd) { L <- diag(rep(sd, length.out = q), q); L[cbind(pat$row[idx], pat$col[idx])] },
       sd = function(par) sqrt(diag(tcrossprod(L_of(par)))), rho = function(par) NULL,
       extra = function(par) c(rank = d),
       sd_par = which(pat$row[idx] == pat$col[idx]), rho_par = integer(), hom = FALSE, ordered = FALSE,
       at_limit = function(par) logical(), direct = TRUE, lambda_index = idx)
}

cs_diag <- function(q) {
  list(kind = "diag", npar = q,
       names = function(cn) sprintf("log(sd(%s))", cn),
       D = function(par) diag(exp(2 * par), q),
       dD = function(par) lapply(seq_len(q), function(k) {
         E <- matrix(0, q, q); E[k, k] <- 2 * exp(2 * par[k]); E
       }),
       start = function(sd) log(rep(sd, length.out = q)),
       sd = function(par) exp(par), rho = function(par) NULL,
       sd_par = seq_len(q), rho_par = integer(), hom = FALSE, ordered = FALSE,
       at_limit = function(par) logical())
}

cs_homdiag <- function(q) {
  list(kind = "homdiag", npar = 1L,
       names = function(cn) "log(sd)",
       D = function(par) diag(exp(2 * par), q),
       dD = function(par) list(diag(2 * exp(2 * par), q)),
       start = function(sd) log(sd[1L]),
       sd = function(par) rep(exp(par), q), rho = function(par) NULL,
       sd_par = 1L, rho_par = integer(), hom = TRUE, ordered = FALSE,
       at_limit = function(par) logical())
}

# A correlation in (-1, 1) from t on the real line, t / sqrt(1 + t^2)
# (ar1(), hetar1(), toep()'s partial autocorrelations); where t^2
# overflows (|t| > 1e154) its limit, sign(t): t = 1e300 gave rho = 0.
bounded_correlation <- function(t) ifelse(is.finite(t^2), t / sqrt(1 + t^2), sign(t))

cs_ar1 <- function(q) {
  lag <- abs(outer(seq_len(q), seq_len(q), "-"))
  rho_of <- bounded_correlation
  list(kind = "ar1", npar = 2L,
       names = function(cn) c("log(sd)", "rho (t / sqrt(1 + t^2))"),
       D = function(par) exp(2 * par[1L]) * rho_of(par[2L])^lag,
       dD = function(par) {
         s2 <- exp(2 * par[1L]); r <- rho_of(par[2L])
         dr <- (1 + par[2L]^2)^(-1.5)
         d2 <- s2 * ifelse(lag == 0, 0, lag * r^pmax(lag - 1, 0)) * dr
         list(2 * s2 * r^lag, d2)
       },
       start = function(sd) c(log(mean(sd)), 0),
       sd = function(par) rep(exp(par[1L]), q), rho = function(par) rho_of(par[2L]),
       sd_par = 1L, rho_par = 2L, hom = TRUE, ordered = TRUE,
       at_limit = function(par) correlation_at_limit(rho_of(par[2L]), -1))
}

cs_cs <- function(q) {
  a <- 1 / (q - 1)
  rho_of <- function(t) -a + (1 + a) * stats::plogis(t)
  off <- 1 - diag(q)
  list(kind = "cs", npar = q + 1L,
       names = function(cn) c(sprintf("log(sd(%s))", cn), "rho (logit scale)"),
       D = function(par) {
         s <- exp(par[seq_len(q)])
         outer(s, s) * (diag(q) + off * rho_of(par[q + 1L]))
       },
       dD = function(par) {
         s <- exp(par[seq_len(q)]); R <- diag(q) + off * rho_of(par[q + 1L])
         D <- outer(s, s) * R
         c(lapply(seq_len(q), function(k) {
           E <- matrix(0, q, q); E[k, ] <- D[k, ]; E[, k] <- E[, k] + D[, k]; E
         }), list(outer(s, s) * off * (1 + a) * stats::dlogis(par[q + 1L])))
       },
       start = function(sd) c(log(rep(sd, length.out = q)), stats::qlogis(a / (1 + a))),
       sd = function(par) exp(par[seq_len(q)]), rho = function(par) rho_of(par[q + 1L]),
       sd_par = seq_len(q), rho_par = q + 1L, hom = FALSE, ordered = FALSE,
       at_limit = function(par) correlation_at_limit(rho_of(par[q + 1L]), -a))
}

# Homogeneous compound symmetry (glmmTMB's homcs(), lme4's cs(hom = TRUE)):
# one standard deviation and one correlation, rho on cs()'s scale.
cs_homcs <- function(q) {
  a <- 1 / (q - 1)
  rho_of <- function(t) -a + (1 + a) * stats::plogis(t)
  off <- 1 - diag(q)
  list(kind = "homcs", npar = 2L,
       names = function(cn) c("log(sd)", "rho (logit scale)"),
       D = function(par) exp(2 * par[1L]) * (diag(q) + off * rho_of(par[2L])),
       dD = function(par) {
         s2 <- exp(2 * par[1L])
         list(2 * s2 * (diag(q) + off * rho_of(par[2L])),
              s2 * off * (1 + a) * stats::dlogis(par[2L]))
       },
       start = function(sd) c(log(mean(sd)), stats::qlogis(a / (1 + a))),
       sd = function(par) rep(exp(par[1L]), q), rho = function(par) rho_of(par[2L]),
       sd_par = 1L, rho_par = 2L, hom = TRUE, ordered = FALSE,
       at_limit = function(par) correlation_at_limit(rho_of(par[2L]), -a))
}

# Whether a correlation is within covstruct_rho_tol of 1 or of its lower
# limit `lo` (covstruct-verify.R).
correlation_at_limit <- function(r, lo) 1 - r < covstruct_rho_tol | r - lo < covstruct_rho_tol

# Heterogeneous AR(1) (glmmTMB's hetar1()): one standard deviation per
# column, correlation rho^|j - k| on ar1()'s scale.
cs_hetar1 <- function(q) {
  lag <- abs(outer(seq_len(q), seq_len(q), "-"))
  rho_of <- bounded_correlation
  list(kind = "hetar1", npar = q + 1L,
       names = function(cn) c(sprintf("log(sd(%s))", cn), "rho (t / sqrt(1 + t^2))"),
       D = function(par) {
         s <- exp(par[seq_len(q)])
         outer(s, s) * rho_of(par[q + 1L])^lag
       },
       dD = function(par) {
         s <- exp(par[seq_len(q)]); r <- rho_of(par[q + 1L])
         D <- outer(s, s) * r^lag
         dr <- (1 + par[q + 1L]^2)^(-1.5)
         c(lapply(seq_len(q), function(k) {
           E <- matrix(0, q, q); E[k, ] <- D[k, ]; E[, k] <- E[, k] + D[, k]; E
         }), list(outer(s, s) * ifelse(lag == 0, 0, lag * r^pmax(lag - 1, 0)) * dr))
       },
       start = function(sd) c(log(rep(sd, length.out = q)), 0),
       sd = function(par) exp(par[seq_len(q)]), rho = function(par) rho_of(par[q + 1L]),
       sd_par = seq_len(q), rho_par = q + 1L, hom = FALSE, ordered = TRUE,
       at_limit = function(par) correlation_at_limit(rho_of(par[q + 1L]), -1))
}

# The autocorrelations r_1..r_m of a stationary series from its partial
# autocorrelations phi_k = t_k / sqrt(1 + t_k^2) by the Durbin-Levinson
# recursion, with their exact Jacobian dr / dt (m x m, carried along the
# recursion). Every phi in (-1, 1)^m gives a positive definite Toeplitz
# correlation matrix, and every such matrix comes from one phi
# (Barndorff-Nielsen and Schou 1973, J. Multivariate Anal. 3:408-419), so
# the search is unconstrained.
toeplitz_pacf <- function(t) {
  m <- length(t)
  phi <- bounded_correlation(t)
  dphi <- (1 + t^2)^(-1.5)
  r <- numeric(m)
  dr <- matrix(0, m, m)
  if (!m) return(list(r = r, dr = dr, phi = phi))
  e <- diag(m)
  r[1L] <- phi[1L]
  dr[1L, ] <- dphi[1L] * e[1L, ]
  a <- phi[1L]
  da <- matrix(dr[1L, ], 1L)
  v <- 1 - phi[1L]^2
  dv <- -2 * phi[1L] * dphi[1L] * e[1L, ]
  for (k in seq_len(m)[-1L]) {
    j <- seq_len(k - 1L)
    r[k] <- sum(a * r[k - j]) + phi[k] * v
    dr[k, ] <- colSums(da * r[k - j]) + colSums(a * dr[k - j, , drop = FALSE]) +
      dphi[k] * v * e[k, ] + phi[k] * dv
    a_new <- c(a - phi[k] * rev(a), phi[k])
    da_new <- rbind(da - outer(rev(a), dphi[k] * e[k, ]) - phi[k] * da[rev(j), , drop = FALSE],
                    dphi[k] * e[k, ])
    dv <- dv * (1 - phi[k]^2) - 2 * v * phi[k] * dphi[k] * e[k, ]
    v <- v * (1 - phi[k]^2)
    a <- a_new
    da <- da_new
  }
  list(r = r, dr = dr, phi = phi)
}

# Toeplitz (glmmTMB's toep(), heterogeneous, and homtoep()): a correlation
# per lag, r_|j - k|, searched through the partial autocorrelations
# (toeplitz_pacf()); one standard deviation per column, or one for all
# (hom).
cs_toep <- function(q, hom) {
  lag <- abs(outer(seq_len(q), seq_len(q), "-"))
  ns <- if (hom) 1L else q
  it <- ns + seq_len(q - 1L)
  corr <- function(tp) {
    R <- diag(q)
    R[lag > 0] <- tp$r[lag[lag > 0]]
    R
  }
  sds <- function(par) rep(exp(par[seq_len(ns)]), length.out = q)
  list(kind = if (hom) "homtoep" else "toep", npar = ns + q - 1L,
       names = function(cn) c(if (hom) "log(sd)" else sprintf("log(sd(%s))", cn),
                              sprintf("pacf[%d] (t / sqrt(1 + t^2))", seq_len(q - 1L))),
       D = function(par) { s <- sds(par); outer(s, s) * corr(toeplitz_pacf(par[it])) },
       dD = function(par) {
         s <- sds(par)
         tp <- toeplitz_pacf(par[it])
         D <- outer(s, s) * corr(tp)
         dsd <- if (hom) list(2 * D) else lapply(seq_len(q), function(k) {
           E <- matrix(0, q, q); E[k, ] <- D[k, ]; E[, k] <- E[, k] + D[, k]; E
         })
         c(dsd, lapply(seq_len(q - 1L), function(l) {
           E <- matrix(0, q, q)
           E[lag > 0] <- tp$dr[lag[lag > 0], l]
           outer(s, s) * E
         }))
       },
       start = function(sd) c(if (hom) log(mean(sd)) else log(rep(sd, length.out = q)),
                              rep(0, q - 1L)),
       sd = sds, rho = function(par) toeplitz_pacf(par[it])$r,
       sd_par = seq_len(ns), rho_par = it, hom = hom, ordered = TRUE,
       at_limit = function(par) 1 - abs(toeplitz_pacf(par[it])$phi) < covstruct_rho_tol)
}

# Lambda = chol(D) (lower) and the derivatives of its lower-triangle
# entries in each parameter: for D = L L', dL = L Phi(L^-1 dD L^-T), Phi
# keeping the lower triangle with the diagonal halved (Murray 2016,
# "Differentiation of the Cholesky decomposition", arXiv:1602.07527, eq. 9).
# Returns L and J (entries of the lower triangle x parameters). A parameter
# in `scale` scales D (the log standard deviation of a structure with one:
# dD = 2 D), so its column is dL = L, without the q^3 products: for one
# spatial field of 100 sites they were a third of an exp() fit's time.
chol_jacobian <- function(D, dD, scale = integer()) {
  q <- nrow(D)
  L <- t(chol(D))
  lt <- lower.tri(D, diag = TRUE)
  Li <- if (!all(seq_along(dD) %in% scale)) forwardsolve(L, diag(q))
  J <- vapply(seq_along(dD), function(k) {
    if (k %in% scale) return(L[lt])
    A <- Li %*% dD[[k]] %*% t(Li)
    A[upper.tri(A)] <- 0
    diag(A) <- diag(A) / 2
    (L %*% A)[lt]
  }, numeric(sum(lt)))
  list(L = L, J = matrix(J, sum(lt)))
}
