# Structured random-effect terms (diag(), cs(), homcs(), ar1(), hetar1(),
# toep(), homtoep(), homdiag()) in units far from 1 on the several-term routes (sparse Laplace and the profiled
# LMM criterion).
#
# Those searches start at a standard deviation of 1 (relative to sigma on
# the profiled route), and their restarts and boundary tests are in the
# same units. With sleepstudy's Days in diag(Days * 50 | Subject) + (1 | h)
# (or Days * 1e-6) REML stopped 21 below the optimum with the slope's
# variance at its boundary; Poisson and ML fits with Days * 1e3 ended 5.2
# and 21 below. A structure is closed under some rescalings of its columns
# and not others: diag() and cs() keep their form under any per-column
# scale (each column has its own standard deviation; cs()'s correlation is
# unchanged), homdiag() and ar1() only under one scale common to all
# columns. None is closed under centring a column (the unstructured term's
# map, lmm-standard-z.R), except cs() of two columns, which is unstructured;
# recentring would change the model. So such a term is fitted on its columns
# divided by their root mean square (per column, or one for all for
# homdiag()/ar1()), and mapped back exactly: the log standard deviations
# shift by the log scales, which leaves their covariance, Hessian and
# gradient unchanged; Lambda's rows are divided by the scales, the modes b
# likewise, the spherical modes and their conditional covariance unchanged.

# A term's columns are rescaled when a root mean square lies outside
# [1e-2, 1e2] (on the user's Z, Days * 20, root mean square 107, and
# Days * 1e-4, 5e-4, were fitted correctly; Days * 50, 267, and Days * 1e-5
# were not). Inside that range nothing changes (the fit runs on the user's
# Z, bitwise as before).
covstruct_scale_range <- c(1e-2, 1e2)

# NULL when no structured term needs rescaling, else `re` with its Z
# rescaled and, per rescaled term, its index and column scales. `one`: the
# one-factor structured route (covstruct_fit(): re$Z holds the terms'
# columns side by side, Lambda is block diagonal over them, the modes are
# spherical and so unchanged; with sleepstudy's diag(Days * 50 | Subject)
# alone, ML ended 21 below the optimum); else the several-term routes'
# terms, each with its `columns` of re$Z, one per level and column.
covstruct_z_scaling <- function(re, keep, one = FALSE, plain = FALSE) {
  Z <- re$Z
  off <- c(0L, cumsum(re$block_sizes))
  div <- rep(1, ncol(Z))
  sc <- list()
  for (k in seq_along(re$terms)) {
    tm <- re$terms[[k]]
    # equalto()'s covariance is fixed in the columns' units: never rescaled.
    # An unstructured term of one column (a random slope without its
    # intercept, which no centring map reaches) only on the several-term
    # routes with `plain`: beside ar1(0 + time | a:b), (0 + x2 | a:b) with x2
    # in 1e-4 units stayed at its start, 14 log-likelihood units short.
    us_one <- plain && !one && tm$kind == "us" && tm$q == 1L && !isTRUE(tm$known_cov)
    if (!us_one && (tm$kind %in% c("us", "rr", "equalto") || isTRUE(tm$known_cov))) next
    q <- tm$q
    cols <- if (one) off[k] + seq_len(q) else tm$columns
    nl <- length(cols) %/% q
    rms <- if (one) sqrt(colMeans(Z[keep, cols, drop = FALSE]^2)) else term_column_rms(Z, tm, keep)
    if (isTRUE(tm$struct$hom)) rms <- rep(sqrt(mean(rms^2)), q)
    if (!all(is.finite(rms) & rms > 0)) next
    if (all(rms >= covstruct_scale_range[1L] & rms <= covstruct_scale_range[2L])) next
    sc[[length(sc) + 1L]] <- list(term = k, z = rms)
    div[cols] <- rep(rms, nl)
  }
  if (!length(sc)) return(NULL)
  if (one) {
    re$Z <- sweep(Z, 2L, div, `/`)
    return(list(re = re, terms = sc, div = div))
  }
  Zs <- Z %*% Matrix::Diagonal(x = 1 / div)
  if (!methods::is(Zs, "dgCMatrix"))
    Zs <- methods::as(methods::as(Zs, "CsparseMatrix"), "generalMatrix")
  re$Z <- Zs
  list(re = re, terms = sc, div = div)
}

# The root mean square of each of a several-term route's term `tm`'s
# columns over the rows `keep` (its columns of Z, one per level and column);
# with `indicators` 1 for a column of zeros and ones (an intercept, a
# factor's level, a position).
term_column_rms <- function(Z, tm, keep, indicators = FALSE) {
  q <- tm$q %||% length(tm$cnames)
  cols <- tm$columns
  nl <- length(cols) %/% q
  vapply(seq_len(q), function(j) {
    zj <- Matrix::rowSums(Z[keep, cols[j + (seq_len(nl) - 1L) * q], drop = FALSE])
    if (indicators && all(zj == 0 | zj == 1)) 1 else sqrt(mean(zj^2))
  }, 1)
}

# Maps a fit of sparse_covstruct_fit() or lmm_sparse_covstruct_fit() on
# zs$re's rescaled Z to the user's Z (`re`).
covstruct_unscale_z <- function(fit, zs, re) {
  p <- length(fit$beta)
  lam_div <- rep(1, re$ntheta)
  for (s in zs$terms) {
    tm <- re$terms[[s$term]]
    lam_div[tm$par] <- s$z[block_pattern(tm$q)$row]
  }
  mc <- covstruct_unscale_common(fit, zs, re, p, lam_div)
  fit <- mc$fit
  st <- attr(fit$cov_theta, "star")
  if (!is.null(st)) {
    st$T <- mc$m[st$index] * st$T
    attr(fit$cov_theta, "star") <- st
  }
  fit$modes$b <- fit$modes$b / zs$div
  il <- p + seq_len(re$ntheta)
  fit$terms <- sparse_term_summaries(re, unname(fit$theta[il]), fit$modes, NULL,
                                     unname(fit$theta))
  if (!is.null(fit$optinfo$reml$theta))
    fit$optinfo$reml$theta <- fit$optinfo$reml$theta - mc$shift
  fit
}

# What both routes' maps share: the structures' parameters (the log
# standard deviations shift by the log scales; their covariance, Hessian
# and gradient are those of the search), Lambda's entries after the p fixed
# effects divided by lam_div with their covariance, and the record of the
# scales. Returns the fit, the shift and the factors m on fit$theta.
covstruct_unscale_common <- function(fit, zs, re, p, lam_div) {
  k0 <- structure_blocks(re$terms)
  shift <- covstruct_sd_shift(re$terms, k0, zs$terms)
  th_s <- attr(fit$structures, "theta")
  th_s[p + seq_along(shift)] <- th_s[p + seq_along(shift)] - shift
  V_s <- attr(fit$structures, "cov_theta")
  # An unstructured term's parameters are its Lambda entries: divided by
  # the column scales, their covariance likewise, the gradient and Hessian
  # in them multiplied.
  ms <- rep(1, length(th_s))
  ms[p + seq_along(shift)] <- 1 / covstruct_us_scales(re$terms, k0, zs$terms)
  if (any(ms != 1)) {
    th_s <- th_s * ms
    if (!is.null(V_s)) V_s[] <- V_s * outer(ms, ms)
    if (length(fit$gradient) == length(ms)) fit$gradient <- fit$gradient / ms
    if (!is.null(fit$hessian) && nrow(fit$hessian) == length(ms))
      fit$hessian[] <- fit$hessian / outer(ms, ms)
  }
  fit <- covstruct_restate(fit, re, k0, p, th_s, V_s)
  il <- p + seq_along(lam_div)
  fit$theta[il] <- fit$theta[il] / lam_div
  m <- rep(1, length(fit$theta))
  m[il] <- 1 / lam_div
  V <- fit$cov_theta
  V[] <- V * outer(m, m)
  fit$cov_theta <- V
  fit$optinfo$scaled_z <- stats::setNames(lapply(zs$terms, `[[`, "z"),
                                          vapply(zs$terms, function(s) re$terms[[s$term]]$label, ""))
  list(fit = fit, shift = shift, m = m)
}

# Unstructured terms beside structured ones on the same routes: a random
# slope far from zero beside its term's intercept (x * 1e-6 - 5 in
# (x | Subject) + homdiag(1 | h)) ended with "did not converge", "doubtful
# convergence" and a Hessian that was not negative definite, and by ML 0.008
# above the optimum (the log-likelihood itself loses digits on that
# design). As on the unstructured routes (lmm_sparse_centring()), such a
# term is fitted on its centred design and mapped back exactly when its
# optimum is interior. The term's structure parameters are its Lambda
# entries, so theta_structure, its covariance, the Hessian and the
# gradient map by the same Jacobian as Lambda's entries (lambda_map()).
covstruct_uncentre_z <- function(fit, zc, re) {
  p <- length(fit$beta)
  ci <- lmm_sparse_centred_index(re, zc)
  k0 <- structure_blocks(re$terms)
  il <- p + ci$par
  is <- p + unlist(k0[vapply(zc$terms, `[[`, 1L, "term")])
  q <- sum(ci$sizes)
  Ls <- matrix(0, q, q)
  Ls[ci$index] <- fit$theta[il]
  mp <- lambda_map(Ls, ci$Ti, ci$sizes, ci$index)
  lam <- mp$L[ci$index]
  J <- mp$J
  # Lambda's entries and their covariance (and its standardized version).
  fit$theta[il] <- lam
  fit$cov_theta <- jacobian_rows(fit$cov_theta, il, J)
  st <- attr(fit$cov_theta, "star")
  if (!is.null(st)) {
    jl <- match(il, st$index)
    st$V <- jacobian_rows(st$V, jl, J)
    attr(fit$cov_theta, "star") <- st
  }
  # The structures' parameters: the same entries.
  th_s <- attr(fit$structures, "theta")
  th_s[is] <- lam
  fit <- covstruct_restate(fit, re, k0, p, th_s,
                           jacobian_rows(attr(fit$structures, "cov_theta"), is, J))
  fit <- remap_curvature(fit, is, solve(J))
  # Modes: u = W' u*, b = Tk^-1 b*, Var(u) = W' Var(u*) W.
  fit <- lmm_sparse_map_modes(fit, zc, re, ci, mp$W)
  if (!is.null(fit$optinfo$reml$theta))
    fit$optinfo$reml$theta[is - p] <- lam / fit$sigma
  fit$optinfo$centred_z <- TRUE
  fit
}

# fit$structures restated from the structures' parameters th_s (after
# the p fixed effects, blocks k0 per term) and their covariance V_s.
covstruct_restate <- function(fit, re, k0, p, th_s, V_s) {
  # (named after `re`'s terms: a two-column cs() searched as the unstructured
  # term kept that term's names, lambda[...], on cs()'s parameters)
  ks <- p + unlist(k0)
  sn <- structure_par_names(re$terms)
  if (!is.null(names(th_s))) names(th_s)[ks] <- sn
  if (!is.null(dimnames(V_s))) rownames(V_s)[ks] <- colnames(V_s)[ks] <- sn
  fit$structures <- covstruct_report(re$terms, lapply(k0, `+`, p), unname(th_s), V_s)
  attr(fit$structures, "theta") <- th_s
  attr(fit$structures, "cov_theta") <- V_s
  fit
}

# V with rows and columns `idx` mapped by J (J V J' there).
jacobian_rows <- function(V, idx, J) {
  W <- V
  W[idx, ] <- J %*% W[idx, , drop = FALSE]
  W[, idx] <- W[, idx, drop = FALSE] %*% t(J)
  W[idx, idx] <- (W[idx, idx] + t(W[idx, idx])) / 2
  V[] <- W
  V
}

# Maps a covstruct_fit() on zs$re's rescaled Z to the user's Z (`re`).
covstruct_unscale_one <- function(fit, zs, re) {
  lam_div <- zs$div[fit$pattern$row]
  fit <- covstruct_unscale_common(fit, zs, re, fit$p, lam_div)$fit
  fit$lambda <- fit$lambda / lam_div
  fit$Lambda <- fit$Lambda / zs$div
  fit
}

# A `start` in the user's units (a fit's theta_structure: p fixed
# effects, then the structures' parameters of `terms`) in those of the
# rescaled columns of zs (covstruct_z_scaling(); NULL: none rescaled).
covstruct_scaled_start <- function(start, zs, terms, p) {
  if (is.null(start) || is.null(zs) || length(start) < p) return(start)
  shift <- covstruct_sd_shift(terms, structure_blocks(terms), zs$terms)
  idx <- p + seq_along(shift)
  if (max(idx) > length(start)) return(start)  # (the length is checked by the fit)
  start[idx] <- start[idx] + shift
  # (an unstructured term's Lambda entries, times its column scales)
  start[idx] <- start[idx] * covstruct_us_scales(terms, structure_blocks(terms), zs$terms)
  start
}

# The column scale of each rescaled unstructured term's Lambda entries (the
# scale of its row), 1 for every other structure parameter: the factor from
# the user's entries to those on the rescaled columns.
covstruct_us_scales <- function(terms, k0, scaled) {
  m <- rep(1, length(unlist(k0)))
  for (s in scaled) {
    tm <- terms[[s$term]]
    if (tm$kind == "us") m[k0[[s$term]]] <- s$z[block_pattern(tm$q)$row]
  }
  m
}

# The log scales by which each rescaled term's log standard deviations
# shift (per column, or one for homdiag()/ar1()), over the structures'
# parameters.
covstruct_sd_shift <- function(terms, k0, scaled) {
  shift <- numeric(length(unlist(k0)))
  for (s in scaled) {
    tm <- terms[[s$term]]
    st <- tm$struct
    if (isTRUE(st$direct)) next  # (Lambda's entries: scaled, covstruct_unscale_common())
    shift[k0[[s$term]][st$sd_par]] <- log(if (length(st$sd_par) == tm$q) s$z else s$z[1L])
  }
  shift
}
