# Structured covariance matrices of one random-effect term, as glmmTMB
# writes them: us(x | g) (unstructured, the default), diag(x | g)
# (independent effects, one standard deviation each), homdiag(x | g)
# (independent, one common standard deviation), ar1(0 + f | g) (one
# standard deviation, correlation rho^|j - k| between the j-th and k-th
# columns, e.g. the levels of a time factor) and cs(0 + f | g) (compound
# symmetry: one standard deviation per column and one common correlation;
# glmmTMB 1.1's "heterogeneous compound symmetry").
#
# Each structure works on an unconstrained scale: log standard deviations;
# ar1's rho = t / sqrt(1 + t^2) and cs's rho = -a + (1 + a) plogis(t),
# a = 1 / (q - 1), the range over which a compound-symmetric matrix of size
# q is positive definite. A structure is a list: npar(q), names(cn),
# D(par, q) and dD(par, q) (the list of derivatives of D in each parameter,
# exact), start(sd, q) and report(par, q) (standard deviations and
# correlation parameter as users read them).

covstruct_kinds <- c("us", "diag", "homdiag", "ar1", "cs", "homcs")
# The structures other than the unstructured default, which the frame
# formula replaces (has_covstruct(), covstruct_frame_formula()).
covstruct_special_kinds <- setdiff(covstruct_kinds, "us")

covstruct <- function(kind, q) {
  # The structures' functions read q when first called: a caller's loop
  # variable must be taken now.
  force(q)
  switch(kind,
         us = cs_us(q), diag = cs_diag(q), homdiag = cs_homdiag(q),
         ar1 = cs_ar1(q), cs = cs_cs(q), homcs = cs_homcs(q),
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
       sd_par = which(pat$row == pat$col), rho_par = integer())
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
       sd_par = seq_len(q), rho_par = integer())
}

cs_homdiag <- function(q) {
  list(kind = "homdiag", npar = 1L,
       names = function(cn) "log(sd)",
       D = function(par) diag(exp(2 * par), q),
       dD = function(par) list(diag(2 * exp(2 * par), q)),
       start = function(sd) log(sd[1L]),
       sd = function(par) rep(exp(par), q), rho = function(par) NULL,
       sd_par = 1L, rho_par = integer())
}

cs_ar1 <- function(q) {
  lag <- abs(outer(seq_len(q), seq_len(q), "-"))
  rho_of <- function(t) t / sqrt(1 + t^2)
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
       sd_par = 1L, rho_par = 2L)
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
       sd_par = seq_len(q), rho_par = q + 1L)
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
       sd_par = 1L, rho_par = 2L)
}

# Lambda = chol(D) (lower) and the derivatives of its lower-triangle
# entries in each parameter: for D = L L', dL = L Phi(L^-1 dD L^-T), Phi
# keeping the lower triangle with the diagonal halved (Murray 2016,
# "Differentiation of the Cholesky decomposition", arXiv:1602.07527, eq. 9).
# Returns L and J (entries of the lower triangle x parameters).
chol_jacobian <- function(D, dD) {
  q <- nrow(D)
  L <- t(chol(D))
  Li <- forwardsolve(L, diag(q))
  lt <- lower.tri(D, diag = TRUE)
  J <- vapply(dD, function(dk) {
    A <- Li %*% dk %*% t(Li)
    A[upper.tri(A)] <- 0
    diag(A) <- diag(A) / 2
    (L %*% A)[lt]
  }, numeric(sum(lt)))
  list(L = L, J = matrix(J, sum(lt)))
}
