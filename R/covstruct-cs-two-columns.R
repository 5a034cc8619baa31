# cs() with two columns and a column far from zero (cs(x | g) with
# x = z * 1e-6 - 5). A 2 x 2 cs() is unstructured: its parameters (two
# standard deviations and a correlation in (-1, 1), covstruct.R) cover every
# positive definite 2 x 2 matrix. Any invertible map of the term's columns,
# Z -> Z T^-1, sends D to T D T', again positive definite, so again a 2 x 2
# cs(): centring the columns keeps the family and the model (unlike a cs()
# of three or more columns, whose common correlation is not kept). On the
# user's design REML and ML stopped 21 log-likelihood units below the
# optimum, Poisson 5.4 below. Such a term is searched as an unstructured
# term, which the several-term route centres and maps back exactly
# (covstruct_uncentre_z()), and its unstructured parameters (Lambda's
# entries l11, l21, l22) are then carried to cs()'s (log sd1, log sd2,
# logit-scale rho) with the exact Jacobian.

# The two-column cs() terms whose columns the unstructured map would centre
# (lmm_z_centring(), the criterion of every LMM route): their indices.
# `one`: the one-factor route's terms (covstruct_terms(): re$Z holds the
# terms' columns side by side). glmm_covstruct() sends such a fit to the
# sparse route where that is the same likelihood (gaussian identity, exact;
# Laplace, nAGQ = 1, invariant to the map); adaptive quadrature with
# nAGQ > 1 is not invariant to a shift of the columns (its grid follows the
# Cholesky factor of the modes' curvature), so there the term is centred on
# that route (cs_pair_centring_one(), below).
cs_pair_far_terms <- function(re, keep, one = FALSE) {
  off <- c(0L, cumsum(re$block_sizes))
  out <- integer()
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    if (!identical(tm$kind, "cs") || tm$q != 2L || isTRUE(tm$known_cov)) next
    z <- if (one) re$Z[, off[k] + 1:2, drop = FALSE] else term_raw_columns(re$Z, tm)
    if (!is.null(lmm_z_centring(z, keep, 2L))) out <- c(out, k)
  }
  out
}

# `re` with the terms `idx` searched as unstructured terms.
cs_pair_as_us <- function(re, idx) {
  for (k in idx) {
    re$terms[[k]]$kind <- "us"
    re$terms[[k]]$struct <- covstruct("us", 2L)
  }
  re
}

# cs()'s parameters of the 2 x 2 Lambda entries l = (l11, l21, l22) and
# their Jacobian d cs / d l. D11 = l11^2, D12 = l11 l21,
# D22 = l21^2 + l22^2 = n^2, rho = s l21 / n (s the sign of l11), and
# rho = -1 + 2 plogis(t) gives t = 2 atanh(rho) = 2 asinh(s l21 / |l22|):
# exact where rho is within rounding of -1 or 1, as a column far from zero
# makes it (1 + rho of 1e-13), where log((1 + rho) / (1 - rho)) loses its
# digits.
cs_pair_from_lambda <- function(l) {
  l11 <- l[1L]; l21 <- l[2L]; l22 <- l[3L]
  sg <- if (l11 < 0) -1 else 1
  n2 <- l21^2 + l22^2
  n <- sqrt(n2)
  par <- c(log(abs(l11)), 0.5 * log(n2), 2 * asinh(sg * l21 / abs(l22)))
  J <- rbind(c(1 / l11, 0, 0),
             c(0, l21 / n2, l22 / n2),
             c(0, 2 * sg / n, -2 * sg * l21 / (l22 * n)))
  list(par = par, J = J)
}

# Maps a fit whose terms `idx` were searched unstructured (after its
# centring and scaling were mapped back) to cs() parameters on `re` (the
# user's terms); a term on the boundary by cs_pair_back_boundary().
cs_pair_back <- function(fit, idx, re) {
  p <- length(fit$beta)
  k0 <- structure_blocks(re$terms)
  th_s <- attr(fit$structures, "theta")
  V_s <- attr(fit$structures, "cov_theta")
  for (k in idx) {
    is <- p + k0[[k]]
    r <- cs_pair_to_cs(fit, is, th_s[is], p, th_s, V_s)
    if (is.null(r)) return(NULL)
    fit <- r$fit
    th_s <- r$th_s
    V_s <- r$V_s
  }
  fit <- covstruct_restate(fit, re, k0, p, th_s, V_s)
  fit$optinfo$cs2_unstructured <- vapply(re$terms[idx], `[[`, "", "label")
  fit
}

# One centred term's Lambda entries `l` (its parameters at `is`, after the p
# fixed effects) carried to cs()'s parameters: on the boundary by
# cs_pair_back_boundary(), else by cs_pair_from_lambda() and its Jacobian times the
# factors `J0` of d l / d the parameters searched (none when they are l);
# th_s and V_s, the structures' parameters and covariance, updated. NULL
# where the map fails.
cs_pair_to_cs <- function(fit, is, l, p, th_s, V_s, J0 = list()) {
  if (any(fit$on_boundary[is]) || abs(l[1L]) < 1e-8 || abs(l[3L]) < 1e-8 * sqrt(sum(l[2:3]^2))) {
    fit <- cs_pair_back_boundary(fit, is, l, p)
    th_s[is] <- attr(fit, "cs_pair_par")
    attr(fit, "cs_pair_par") <- NULL
    if (!is.null(V_s)) V_s[is, ] <- V_s[, is] <- NA_real_
    return(list(fit = fit, th_s = th_s, V_s = V_s))
  }
  mp <- cs_pair_from_lambda(l)
  if (!all(is.finite(mp$par))) return(NULL)
  J <- mp$J
  for (A in J0) J <- J %*% A
  th_s[is] <- mp$par
  if (!is.null(V_s)) V_s <- jacobian_rows(V_s, is, J)
  fit <- remap_curvature(fit, is, solve(J))
  list(fit = cs_pair_reml_theta(fit, is, mp$par, p), th_s = th_s, V_s = V_s)
}

# REML's record of the search's relative parameters: cs()'s at `is`, the
# log standard deviations less log(sigma).
cs_pair_reml_theta <- function(fit, is, par, p) {
  if (!is.null(fit$optinfo$reml$theta))
    fit$optinfo$reml$theta[is - p] <- par - c(log(fit$sigma), log(fit$sigma), 0)
  fit
}

# A term that ended on the boundary (a zero standard deviation or
# |rho| = 1; on the centred columns, then mapped back): Lambda's entries l
# give a positive semidefinite D = L L' of rank 1, the same matrix in any
# basis, so the fit (its log-likelihood, fixed effects, modes) is kept and
# only cs()'s parameters, where the map is not smooth, are read off D. Before,
# such a fit was discarded and cs() refitted on the columns as given, which
# stopped up to 0.42 below the optimum. A zero standard deviation is
# reported as 1e-10 of the other (rho then 0), |rho| = 1 as 1 - 1e-12 (D's
# entries to 1e-12); those parameters are on the boundary, and the term's
# parameters have no curvature or standard errors (NA), as for other
# singular fits. The centred fit's singular-fit warning stays.
cs_pair_back_boundary <- function(fit, is, l, p) {
  D <- c(l[1L]^2, l[1L] * l[2L], l[2L]^2 + l[3L]^2)
  s <- sqrt(D[c(1L, 3L)])
  zero <- s <= 1e-8 * max(s)
  r <- if (any(zero)) 0 else max(-1 + 1e-12, min(1 - 1e-12, D[2L] / prod(s)))
  s[zero] <- 1e-10 * max(s)
  par <- c(log(s), log((1 + r) / (1 - r)))
  ob <- c(zero, !any(zero) && 1 - abs(r) < covstruct_rho_tol)
  if (!any(ob)) ob[3L] <- TRUE
  fit$on_boundary[is] <- ob
  fit$singular <- TRUE
  if (!is.null(fit$hessian)) fit$hessian[is, ] <- fit$hessian[, is] <- NA_real_
  if (!is.null(fit$gradient)) fit$gradient[is] <- 0
  fit <- cs_pair_reml_theta(fit, is, par, p)
  attr(fit, "cs_pair_par") <- par
  fit
}

# The warning where a far-off two-column cs() is fitted on the user's
# design (its centred fit ended on the boundary).
cs_pair_far_warning <- function(re, idx) {
  sprintf(paste0("%s: a column is far from zero relative to its spread, and this cs() term was ",
                 "fitted on the columns as given, where the search can stop below the optimum; ",
                 "a two-column cs() is the unstructured term %s, which is fitted on its centred ",
                 "columns, or centre the covariate"),
          vapply(re$terms[idx], `[[`, "", "label"),
          vapply(re$terms[idx], function(t) sub("^cs", "", t$label), ""))
}

# Several grouping factors, gaussian: a structured term that takes up the
# whole residual variance (cs(0 + time | id) with one observation per id
# and time, beside (1 | site)) sends sigma to its zero limit, where the
# likelihood has a finite limit and no curvature in log(sigma) (the
# Hessian's null direction). The log-likelihood was right, but every
# standard error NA, the fixed effects' too (the one-factor route floors
# sigma: covstruct_fit()). Leaving that direction out of this route's
# Hessian was not enough: its curvature there is computed relative to sigma
# (the profiled criterion), and at sigma near 0 its variance-parameter
# entries were 6% off the one-factor route's and glmmTMB's. The fixed
# effects' covariance does not need them: at the estimates it is
# (X' V^-1 X)^-1, V = sigma^2 I + Z G Z' (the generalized least squares
# covariance every LMM reports, lme4's vcov()), which only the identified
# marginal covariance V enters. The variance parameters keep NA standard
# errors. Recorded in $optinfo$residual_unidentified, with a warning.
# NULL when not applicable (or n above 5000, V being dense).
covstruct_sigma_null <- function(obj, X, re, weights) {
  if (!anyNA(obj$vcov) || nrow(X) > 5000L) return(NULL)
  cu <- sigma_curvature(obj$hessian, weights)
  if (is.null(cu) || !(cu$ls <= 1e-6 * cu$max)) return(NULL)
  V <- covstruct_dense_V(re, lapply(obj$structures, `[[`, "parameters"), obj$sigma)
  R <- if (!is.null(V)) tryCatch(chol(V), error = function(e) NULL)
  if (is.null(R)) return(NULL)
  # On the centred and scaled columns (X = X* T), mapped back: in the
  # user's units (x + 1e8) X' V^-1 X is singular to rounding and chol()
  # failed, so the same fit as on x was reported with "the Hessian ... not
  # negative definite" instead of as sigma at its zero limit.
  tx <- design_transform(X)
  W <- backsolve(R, tx$M, transpose = TRUE)
  Vb <- tryCatch(chol2inv(chol(crossprod(W))), error = function(e) NULL)
  if (is.null(Vb)) return(NULL)
  if (!tx$identity) {
    Ti <- backsolve(tx$T, diag(1, ncol(X)))
    Vb <- Ti %*% Vb %*% t(Ti)
    Vb <- (Vb + t(Vb)) / 2
  }
  dimnames(Vb) <- dimnames(obj$vcov)
  Vb
}

# The marginal covariance V = Z G Z' + sigma^2 I (dense) of the terms
# `re$terms` at their structures' parameters `pars` (a list, term by term);
# NULL where a D is not finite.
covstruct_dense_V <- function(re, pars, sigma) {
  Q <- ncol(re$Z)
  ii <- jj <- integer()
  xx <- numeric()
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    q <- length(tm$cnames)
    D <- tm$struct$D(unname(pars[[k]]))
    if (!all(is.finite(D))) return(NULL)
    nl <- length(tm$columns) %/% q
    for (l in seq_len(nl)) {
      cc <- tm$columns[(l - 1L) * q + seq_len(q)]
      ii <- c(ii, rep(cc, q))
      jj <- c(jj, rep(cc, each = q))
      xx <- c(xx, as.vector(D))
    }
  }
  G <- Matrix::sparseMatrix(i = ii, j = jj, x = xx, dims = c(Q, Q))
  as.matrix(re$Z %*% G %*% Matrix::t(re$Z)) + diag(sigma^2, nrow(re$Z))
}

# The variance parameters' covariance at that limit with log(sigma) held
# at its estimate, as the one-factor route has it (covstruct_fit() holds
# log(sigma) at its floor, a boundary, and inverts the information of the
# other parameters; glmmTMB's standard errors are on the same log standard
# deviation scale): the inverse of minus the Hessian of the log-likelihood
# (ML, or REML's restricted one) in the structures' free parameters, the
# fixed effects profiled out (their generalized least squares estimates at
# each point; the inverse of the profiled Hessian is the variance
# parameters' block of the joint inverse). The Hessian by central
# differences of that closed form, on V built densely (n <= 1000). Before,
# every variance parameter's standard error was NA. NULL when not
# available, else the covariance over `idx` (positions in
# obj$theta_structure).
covstruct_sigma_fixed_cov <- function(obj, X, re, y, offset, free) {
  n <- nrow(X)
  if (n > 1000L) return(NULL)
  th <- obj$theta_structure
  p <- ncol(X)
  k0 <- structure_blocks(re$terms, p)
  idx <- intersect(unlist(k0), which(free))
  if (!length(idx)) return(NULL)
  r0 <- as.numeric(y - offset)
  reml <- isTRUE(obj$REML)
  # The centred and scaled columns (the residuals are the same; REML's
  # log-determinant moves by a constant, log|det T|): in the user's units
  # (x + 1e8) the QR lost the digits these differences need.
  X <- design_transform(X)$M
  ll <- function(x) {
    tt <- th
    tt[idx] <- x
    V <- covstruct_dense_V(re, lapply(k0, function(k) tt[k]), obj$sigma)
    R <- if (!is.null(V)) tryCatch(chol(V), error = function(e) NULL)
    if (is.null(R)) return(NA_real_)
    W <- backsolve(R, X, transpose = TRUE)
    z <- backsolve(R, r0, transpose = TRUE)
    qw <- qr(W)
    e <- qr.resid(qw, z)
    out <- -sum(log(diag(R))) - 0.5 * sum(e^2)
    if (reml) out <- out - sum(log(abs(diag(qr.R(qw)))))
    out
  }
  x0 <- unname(th[idx])
  m <- length(idx)
  h <- 1e-3 * pmax(abs(x0), 1)
  f0 <- ll(x0)
  H <- matrix(NA_real_, m, m)
  at <- function(i, si, j, sj) {
    x <- x0
    x[i] <- x[i] + si * h[i]
    x[j] <- x[j] + sj * h[j]
    ll(x)
  }
  for (i in seq_len(m)) {
    H[i, i] <- (at(i, 1, i, 0) - 2 * f0 + at(i, -1, i, 0)) / h[i]^2
    for (j in seq_len(i - 1L))
      H[i, j] <- H[j, i] <- (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1) + at(i, -1, j, -1)) /
        (4 * h[i] * h[j])
  }
  if (!all(is.finite(H))) return(NULL)
  V <- invert_information(H, rep(FALSE, m), names(th)[idx], cond = FALSE)
  if (!isTRUE(attr(V, "ok"))) return(NULL)
  list(index = idx, V = unclass(V)[seq_len(m), seq_len(m), drop = FALSE])
}

# Puts that covariance into the object: the structures' covariance and
# standard errors, and Lambda's entries' covariance by the structures'
# exact Jacobian (as covstruct_estimates() pushes it forward).
covstruct_apply_sigma_fixed <- function(obj, sf, re) {
  idx <- sf$index
  obj$cov_structure[idx, idx] <- sf$V
  p <- length(obj$coefficients)
  k0 <- structure_blocks(re$terms)
  th <- unname(obj$theta_structure)
  se <- sqrt(pmax(diag(obj$cov_structure), 0))
  for (k in seq_along(obj$structures)) {
    kk <- p + k0[[k]]
    obj$structures[[k]]$se[] <- ifelse(kk %in% idx, se[kk], NA_real_)
  }
  lm <- structure_lambda(re$terms, lapply(k0, `+`, p), th)
  il <- p + seq_along(lm$lambda)
  ks <- p + unlist(k0)
  Vs <- obj$cov_structure[ks, ks, drop = FALSE]
  # Lambda's entries that a parameter without one (on a boundary) enters keep NA.
  obj$cov_theta[il, il] <- na_product(Vs, t(lm$J), !(ks %in% idx))
  obj$optinfo$sigma_fixed_se <- names(obj$theta_structure)[idx]
  obj
}

covstruct_apply_sigma_null <- function(obj, Vb) {
  p <- ncol(Vb)
  obj$vcov[] <- Vb
  if (!is.null(obj$cov_theta)) obj$cov_theta[seq_len(p), seq_len(p)] <- Vb
  if (!is.null(obj$cov_structure)) obj$cov_structure[seq_len(p), seq_len(p)] <- Vb
  covstruct_sigma_unidentified(obj)
}

# The record of a fit whose sigma is not identified: the Hessian's warning
# dropped (its null direction is log(sigma)), $optinfo$residual_unidentified.
covstruct_sigma_unidentified <- function(obj) {
  obj$optinfo$warnings <- setdiff(obj$optinfo$warnings,
                                  grep("^the Hessian of the log-likelihood is not negative definite",
                                       obj$optinfo$warnings, value = TRUE))
  obj$optinfo$residual_unidentified <- TRUE
  obj
}

# The warning's lead where sigma is at its zero limit (ML or REML). REML
# said "doubtful convergence" there (its Newton step along the flat
# log(sigma) direction), which reads as a search that stopped short: the
# fit is on a boundary of an over-parametrized model, as a singular fit
# is, and is recorded as one (covstruct_sigma_zero()). glmmTMB's fit of
# the same model ends at the same log-likelihood with sigma ~1e-4 and
# only "non-positive-definite Hessian" (REML: also a convergence warning).
covstruct_sigma_zero_lead <- function(obj, re, weights, y) {
  tl <- residual_cell_terms(re, weights)
  sdy <- stats::sd(y[weights > 0])
  paste0(sprintf("singular fit: the residual standard deviation is at its zero limit (sigma = %.2g, %.2g times y's standard deviation): ",
                 obj$sigma, obj$sigma / sdy),
         "the model is over-parametrized, the residual variance being confounded with ",
         if (length(tl)) sprintf("%s (at most one observation per level and column), which takes it up",
                                 paste(tl, collapse = ", "))
         else "a random-effect term that takes it up",
         "; the fit is on that boundary, not unconverged",
         " (log(sigma) is left out of the convergence test)", "; ")
}

# Such a fit recorded as a singular one (the known-covariance route's
# residual_zero likewise): $optinfo$residual_zero, $singular, and the
# scaled gradient with log(sigma) held; its "doubtful convergence" dropped
# only where that step is within the tolerance (a fit that has not
# converged in the other parameters keeps it). So is the optimizer's
# "false convergence" along the flat log(sigma) direction, which made
# cs(0 + times | subj) with one observation per subject and time, REML on
# one grouping factor, "not converged" beside the warning that it is on
# its boundary, not unconverged, at the restricted likelihood's maximum
# (-277.237035 against -277.237036 by a direct computation).
covstruct_sigma_zero <- function(obj, control) {
  obj$optinfo$residual_zero <- TRUE
  obj$singular <- TRUE
  held <- obj$optinfo$scaled_grad_sigma_held %||% obj$optinfo$reml$scaled_grad_sigma_held
  if (!is.null(held) && is.finite(held)) {
    obj$optinfo$scaled_grad <- held
    if (held <= control$grad_tol) {
      obj$optinfo$warnings <- grep("^doubtful convergence|^the optimizer did not converge",
                                   obj$optinfo$warnings, value = TRUE, invert = TRUE)
      if (!identical(obj$optinfo$convergence, 0L)) {
        obj$optinfo$message <- sprintf("converged with log(sigma) at its zero limit (the optimizer: %s)",
                                       obj$optinfo$message)
        obj$optinfo$convergence <- 0L
        obj$optinfo$converged <- TRUE
      }
    }
  }
  obj
}

# REML's criterion at that limit (the same model, REML = TRUE): the fixed
# effects keep their covariance, but the variance parameters had none
# (the Hessian with log(sigma) was not negative definite). Recognized by
# sigma below 1e-3 of the response's standard deviation with a curvature in
# log(sigma) below 1e-4 of the largest (2e-6 on cs_data(3) beside
# (1 | site), where the others are 18 to 224); then covstruct_sigma_fixed_cov()
# (glmmTMB's REML standard errors to 1e-6 there). The curvature is the
# criterion's second difference in log(sigma) where the fit recorded one
# (lmm_sparse_covstruct_fit(): the differenced Hessian's entry is noise
# once sigma is far below 1e-3), else the Hessian's.
covstruct_sigma_limit_reml <- function(obj, y, weights) {
  if (nrow(obj$X %||% matrix(0, 0, 0)) > 1000L) return(FALSE)
  cu <- sigma_curvature(obj$hessian, weights, obj$optinfo$reml$curv_log_sigma)
  !is.null(cu) && isTRUE(cu$ls <= 1e-4 * cu$max) && isTRUE(obj$sigma < 1e-3 * stats::sd(y))
}

# The Hessian H's curvature in log(sigma) (|diagonal|; `cv` in its place
# where finite) and the largest of the others': NULL without a finite one,
# or with weights other than 1.
sigma_curvature <- function(H, weights, cv = NULL) {
  if (is.null(H) || !is.null(weights) && any(weights != 1)) return(NULL)
  ls <- match("log(sigma)", colnames(H))
  if (is.na(ls) || !is.finite(H[ls, ls])) return(NULL)
  dg <- abs(diag(H))
  if (is.numeric(cv) && length(cv) == 1L && is.finite(cv)) dg[ls] <- abs(cv)
  list(ls = dg[ls], max = max(dg[-ls], na.rm = TRUE))
}

covstruct_sigma_null_se_reml <- paste0(
  "the restricted log-likelihood has no curvature in log(sigma); the variance parameters' standard ",
  "errors are computed with log(sigma) held at its estimate (a boundary, as the one-factor route holds it)")

# The end of that message: what the variance parameters' standard errors are.
covstruct_sigma_null_se <- function(sf) {
  paste0("the log-likelihood has no curvature in log(sigma); the fixed effects' standard errors are ",
         "those of generalized least squares at the estimates, ",
         if (is.null(sf)) "the variance parameters have none"
         else paste0("the variance parameters' are computed with log(sigma) held at its estimate ",
                     "(a boundary, as the one-factor route holds it)"))
}

# The one-factor route with adaptive quadrature (nAGQ > 1), where the fit
# cannot go to the sparse route: a far-off two-column cs() (cs(x2 | a),
# x2 = x + 1e3 or x * 1e-3 + 50, Poisson, nAGQ = 7) ended at
# log-likelihood -627.414 against -617.133 on x2 - mean(x2), with only a
# warning. As on the unstructured route (glmm_reparam()), the term is
# integrated on its centred and scaled columns Z* = Z T^-1 (T of
# lmm_z_centring()) and mapped back: it is again a two-column cs(), whose
# parameters are fitted there, carried to Lambda* = chol(D*), to the
# user's Lambda = T^-1 Lambda* W (an LQ factor, lambda_map()) and to cs()'s
# parameters (cs_pair_from_lambda()), each step with its exact Jacobian. The
# quadrature then runs on the standardized effects u = W' u* of the
# centred columns, as the unstructured route's does: a shift of the
# columns changes adaptive quadrature's product grid (not its Laplace
# value), a rescaling does not, so the log-likelihood is that of the same
# model on the covariate centred, in any units.
# NULL when no term needs it, else `re` with those terms' columns centred
# and, per term, its index, columns and maps.
cs_pair_centring_one <- function(re, idx) {
  off <- c(0L, cumsum(re$block_sizes))
  cen <- list()
  for (k in idx) {
    cols <- off[k] + 1:2
    # Centred over every row, as glmm_reparam() centres the unstructured
    # term (rows of weight 0 included), so that both integrate on the same
    # columns: centred over the rows of positive weight, nAGQ = 3 differed
    # from the unstructured fit by 2e-4 with five rows of weight 0.
    Tk <- lmm_z_centring(re$Z[, cols, drop = FALSE], rep(TRUE, nrow(re$Z)), 2L)
    if (is.null(Tk)) next
    Ti <- backsolve(Tk, diag(1, 2L))
    re$Z[, cols] <- re$Z[, cols, drop = FALSE] %*% Ti
    cen[[length(cen) + 1L]] <- list(term = k, cols = cols, T = Tk, Ti = Ti)
  }
  if (!length(cen)) return(NULL)
  list(re = re, terms = cen)
}

# Maps a covstruct_fit() on cen$re's centred columns to the user's `re`;
# a centred term on the boundary (a zero standard deviation or |rho| = 1,
# where the map is not smooth) by cs_pair_back_boundary(). NULL when the map
# fails.
cs_pair_uncentre_one <- function(fit, cen, re) {
  p <- fit$p
  k0 <- structure_blocks(re$terms)
  k_re <- lapply(k0, `+`, p)
  nl <- vapply(re$terms, function(t) t$q * (t$q + 1L) / 2L, 1)
  l0 <- index_blocks(nl)
  th_s <- attr(fit$structures, "theta")
  V_s <- attr(fit$structures, "cov_theta")
  lt <- cbind(c(1L, 2L, 2L), c(1L, 1L, 2L))
  q <- ncol(re$Z)
  Wf <- diag(1, q)
  lm_s <- structure_lambda(re$terms, k_re, th_s)
  for (ce in cen$terms) {
    is <- k_re[[ce$term]]
    Ls <- matrix(0, 2L, 2L)
    Ls[lt] <- lm_s$lambda[l0[[ce$term]]]
    mp <- lambda_map(Ls, ce$Ti, 2L, lt)
    # d cs / d cs*: through Lambda's entries and Lambda*'s (on the
    # boundary, D of rank 1, read off as on the sparse route).
    r <- cs_pair_to_cs(fit, is, mp$L[lt], p, th_s, V_s,
                   J0 = list(mp$J, lm_s$J[l0[[ce$term]], k0[[ce$term]], drop = FALSE]))
    if (is.null(r)) return(NULL)
    fit <- r$fit
    th_s <- r$th_s
    V_s <- r$V_s
    Wf[ce$cols, ce$cols] <- mp$W
  }
  # Lambda's entries, their covariance (the structures' pushed forward by
  # the exact Jacobian, as covstruct_estimates() does), the modes.
  lm <- structure_lambda(re$terms, k_re, th_s)
  fit$lambda <- lm$lambda
  Lam <- matrix(0, q, q)
  Lam[cbind(fit$pattern$row, fit$pattern$col)] <- lm$lambda
  fit$Lambda <- Lam
  il <- p + seq_along(lm$lambda)
  fit$theta[il] <- lm$lambda
  if (!is.null(V_s)) {
    B <- structure_push_jacobian(p, lm$J, fit$dispersion)
    # A term mapped back on the boundary has NA rows in V_s for all its
    # parameters, not only those on_boundary marks: dropped as such, so
    # that only what depends on them is NA (they reached every entry,
    # the fixed effects' standard errors too)
    fit$cov_theta <- pushed_covariance(V_s, B, fit$on_boundary | is.na(diag(V_s)),
                                       rownames(fit$cov_theta), max_dense = Inf, from = fit$cov_theta)
  }
  fit <- covstruct_restate(fit, re, k0, p, th_s, V_s)
  fit$modes <- rotate_summaries(fit$modes, t(Wf))
  fit$optinfo$cs2_centred <- vapply(re$terms[vapply(cen$terms, `[[`, 1L, "term")], `[[`, "", "label")
  fit
}
