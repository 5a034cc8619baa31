# The design map of the GLMM routes: the non-constant columns of X and Z are
# centred and scaled before the search (reparam-glmm.R explains why and maps
# the parameters back), M = M* T. design_transform() builds one design's map;
# the centrings below choose what a column is centred by: a constant column
# of its block, a column it is spanned by, the rows of one level, or a ratio
# to an earlier column.

# The transformation of one design: returns the transformed matrix, the
# q x q (or p x p) matrix T with M = M* T, and per-column scales. `blocks`
# gives the sizes of the column blocks within which centring may use a
# constant column (for X: one block).
# `mom` (distributed fits, glmm-shards.R): the column means, standard
# deviations and root mean squares of a design held elsewhere, and the sums
# spanned_centring() (`span`) and within_centring() (`within`) need; then M
# is not used and not returned.
# `within`: centre columns far from zero within one level's rows (X only).
# `scale_only`: the scales alone (`M` and `T` not returned).
# `copy = FALSE`: no transformed copy (`M` NULL) where no column's mean lies
# beyond 10 standard deviations from zero and no centred column reaches far
# beyond its scale (centred_far()): there X beta in the user's coding loses
# nothing to cancellation, and the caller applies T to the parameters
# instead (xmap_engine()). Otherwise the copy, as with `copy = TRUE`.
design_transform <- function(M, blocks = NULL, mom = NULL, scale_only = FALSE, within = TRUE,
                             copy = TRUE) {
  k <- if (is.null(mom)) ncol(M) else length(mom$mean)
  if (is.null(blocks)) blocks <- k
  Tm <- diag(1, k)
  sc <- rep(1, k)
  if (k == 0L || (if (is.null(mom)) nrow(M) else mom$n) < 2L)
    return(list(M = M, T = Tm, scale = sc, identity = TRUE))
  # colMeans(M), sqrt(mean((M[, j] - mean_j)^2)), sqrt(mean(M[, j]^2)),
  # the 0/1 counts and max(abs(M[, j])), bitwise R's, in one C++ pass
  # without copies of the columns (col_moments()).
  cm <- if (is.null(mom)) col_moments(M, all = FALSE)
  mn <- mom$mean %||% cm$mean
  sdv <- mom$sd %||% cm$sd_mean
  # Any centre and scale give an exact reparameterization; rounded to 10
  # digits they are the same whether summed here or over shards on workers
  # (the last bits of a sum depend on its order), so a distributed fit runs
  # on bitwise the same design as the in-memory one.
  mn <- signif(mn, 10)
  sdv <- signif(sdv, 10)
  const <- sdv <= 1e-12 * pmax(abs(mn), 1e-300)
  off <- 0L
  for (s in blocks) {
    idx <- off + seq_len(s)
    off <- off + s
    ic <- idx[const[idx] & mn[idx] != 0][1L]
    for (j in idx[!const[idx]]) {
      if (!is.na(ic)) {
        Tm[ic, j] <- mn[j] / mn[ic]
        Tm[j, j] <- sdv[j]
      } else {
        # No constant column in the block: scale only, by the root mean square.
        Tm[j, j] <- signif(if (is.null(mom)) column_rms(M, j, cm) else mom$rms[j], 10)
      }
      if (!is.finite(Tm[j, j]) || Tm[j, j] <= 0) Tm[j, j] <- 1
    }
    if (is.na(ic) && !scale_only && any(!const[idx] & abs(mn[idx]) > lmm_z_centre_sd * sdv[idx]))
      Tm <- spanned_centring(Tm, idx, const, mn, sdv,
                             if (is.null(mom)) span_moments(M, idx, mn, const, cm$n01) else mom$span)
    if (within && !scale_only) {
      wi <- if (is.null(mom)) within_moments(M, idx, const, cm$n01) else mom$within
      if (!is.null(wi)) Tm <- within_centring(Tm, idx, const, wi)
      if (is.null(mom)) Tm <- ratio_centring(M, Tm, idx, const)
    }
  }
  sc <- diag(Tm)
  # all.equal(Tm, I, tolerance = 1e-12) by hand (its mean relative
  # difference, sum |Tm - I| / k here): all.equal() costs more than the
  # rest of this function on a small design.
  identity <- sum(abs(Tm - diag(1, k))) <= 1e-12 * k
  if (identity) return(list(M = M, T = diag(1, k), scale = rep(1, k), identity = TRUE))
  if (scale_only) return(list(scale = sc, identity = FALSE))
  if (!is.null(mom)) return(list(M = NULL, T = Tm, scale = sc, identity = FALSE))
  if (!copy && all(const | abs(mn) <= lmm_z_centre_sd * sdv) && !any(centred_far(M, Tm, cm$amax)))
    return(list(M = NULL, T = Tm, scale = sc, identity = FALSE))
  # M* = M T^{-1}; T is unit upper triangular up to its diagonal.
  # dimnames set while Ms is held once (set after a function has returned
  # it, R would copy the n x k matrix).
  Ms <- M %*% backsolve(Tm, diag(1, k))
  dimnames(Ms) <- dimnames(M)
  Ms <- exact_centred_columns(M, Ms, Tm, cm$amax)
  list(M = Ms, T = Tm, scale = sc, identity = FALSE)
}

# A block without a constant column whose columns span the constant all the
# same (0 + f + x: the indicators of f sum to 1). A column far from zero
# there (x = Days + 1e8 on sleepstudy) was only scaled: beside the
# indicators it is collinear to 1e-16, and the fit was refused as rank
# deficient (check_full_rank() judges on this design). Such columns (mean
# beyond lmm_z_centre_sd standard deviations) are centred by the constant
# the block's 0/1 columns span, 1 = sum_k a_k M[, k] (span_moments()),
# in any number and order (0 + x1 + f + x2, 0 + x1 + x2 + f), keeping T
# upper triangular (every fit maps back with backsolve()):
# - a column after the last spanning indicator K is centred by it and
#   scaled by its standard deviation, M = M* T with
#   T[, j] = mean_j sum_k a_k T[, k] + sd_j e_j;
# - the far columns before K, j1 < j2 < ... (span(M*[, 1..j]) must be
#   span(M[, 1..j])): the first stays as scaled (nearly constant, it plays
#   the intercept's part), each later one is centred against it,
#   M[, ji] - mean_ji / mean_j1 M[, j1], and made orthogonal to the ones
#   before it (Gram-Schmidt in the centred cross-products); the last
#   centred direction, M[, j1] centred by the indicators and orthogonal to
#   those, takes K's place (spanned_centring_before()).
# Everything comes from the block's means, spreads, 0/1 flags and cross-
# products, so a design known by its moments (`mom`, glmm_shards()) gets
# the same T (its entries rounded to 10 digits, as the centres). Columns
# near zero (within that bound) keep their scaling, so that other fits run
# on the same design as before.
spanned_centring <- function(Tm, idx, const, mn, sdv, info) {
  far <- idx[!const[idx] & abs(mn[idx]) > lmm_z_centre_sd * sdv[idx]]
  if (!length(far) || is.null(info)) return(Tm)
  sp <- span_coefficients(info, idx)
  if (is.null(sp)) return(Tm)
  far <- setdiff(far, sp$ind)
  if (!length(far)) return(Tm)
  K <- max(sp$ind)
  before <- far[far < K]
  if (length(before)) {
    Tb <- spanned_centring_before(Tm, before, K, sp, mn, info$cov)
    if (is.null(Tb)) return(Tm)
    Tm <- Tb
  }
  for (j in far[far > K]) {
    tj <- signif(mn[j] * drop(Tm[, sp$ind, drop = FALSE] %*% sp$a), 10)
    tj[j] <- if (is.finite(sdv[j]) && sdv[j] > 0) sdv[j] else 1
    Tm[, j] <- tj
  }
  Tm
}

# M* = M T^-1 by the product subtracts each centre after multiplying by
# T^-1's entries (mean / sd, 3.5e11 for x = Days + 1e12): the centred
# column carries that times the rounding unit, 4e-5 there, and the fit
# moved with it (x + 1e12 ended 4e-5 below the fit on x, slopes 5e-6 off,
# 3e-7 in fitted values at x + 1e8 beside a factor). Where a column's
# largest entry exceeds 1e4 times its scaled spread, M*[, j] is formed by
# substitution, (M[, j] - sum_k<j M*[, k] T[k, j]) / T[j, j], whose
# subtraction of the centre is exact to the data's rounding. Other columns
# keep the product (fits on well-scaled designs unchanged).
exact_centred_columns <- function(M, Ms, Tm, amax = NULL) {
  for (j in which(centred_far(M, Tm, amax))) {
    B <- which(Tm[seq_len(j - 1L), j] != 0)
    Ms[, j] <- (M[, j] - drop(Ms[, B, drop = FALSE] %*% Tm[B, j])) / Tm[j, j]
  }
  Ms
}

# The columns of M that T centres and whose entries reach beyond 1e4 times
# their scale: there M T^{-1} loses digits to cancellation.
centred_far <- function(M, Tm, amax = NULL) {
  k <- ncol(Tm)
  if (k < 2L) return(rep(FALSE, k))
  vapply(seq_len(k), function(j) {
    any(Tm[-j, j] != 0) && (amax[j] %||% max(abs(M[, j]))) > 1e4 * Tm[j, j]
  }, TRUE)
}

# The spanning coefficients a of the constant over the block's 0/1 columns,
# from their cross-products (counts) and sums: the normal equations
# G a = s, accepted when the residual sum of squares n - a's is within
# rounding of 0 (1e-12 n; a row outside the span leaves at least 1).
# Coefficients at rounding level (another factor's indicators beside the
# spanning ones: 0 + x + f + g) are zeros; a is rounded to 10 digits, so
# that moments summed in any order give the same map.
span_coefficients <- function(info, idx) {
  i01 <- idx[info$is01[idx]]
  if (!length(i01)) return(NULL)
  G <- info$xx[i01, i01, drop = FALSE]
  s <- info$sum[i01]
  a <- tryCatch(qr.solve(G, s, tol = 1e-10), error = function(e) NULL)
  if (is.null(a) || !all(is.finite(a))) return(NULL)
  rss <- info$n - 2 * sum(a * s) + drop(crossprod(a, G %*% a))
  if (!is.finite(rss) || abs(rss) > 1e-12 * info$n) return(NULL)
  a <- signif(a, 10)
  a[abs(a) <= 1e-8 * max(abs(a))] <- 0
  if (all(a == 0)) return(NULL)
  list(ind = i01[a != 0], a = a[a != 0])
}

# The far columns `before` the last spanning indicator K (see
# spanned_centring()): the columns of T^-1 for before[-1] and K built as
# combinations of M's columns (centred, orthogonal in the centred cross-
# products `C`), T's columns for them by back substitution. NULL when a
# combination has no spread left (the covariates are collinear given the
# constant: the rank check then names them).
spanned_centring_before <- function(Tm, before, K, sp, mn, C) {
  k <- ncol(Tm)
  e <- function(j) replace(numeric(k), j, 1)
  cv <- function(u, v) sum(u[before] * (C[before, before, drop = FALSE] %*% v[before]))
  j1 <- before[1L]
  V <- list()
  for (j in before[-1L]) {
    u <- e(j) - mn[j] / mn[j1] * e(j1)
    for (v in V) u <- u - cv(u, v) * v
    s2 <- cv(u, u)
    if (!is.finite(s2) || s2 <= 1e-20 * C[j, j]) return(NULL)
    V[[length(V) + 1L]] <- u / sqrt(s2)
  }
  # c_j1: M[, j1] less its mean along the indicators.
  w <- e(j1)
  w[sp$ind] <- w[sp$ind] - mn[j1] * sp$a
  for (v in V) w <- w - cv(w, v) * v
  s2 <- cv(w, w)
  aK <- sp$a[sp$ind == K]
  if (!is.finite(s2) || s2 <= 1e-20 * C[j1, j1] || aK == 0) return(NULL)
  w <- -sign(mn[j1] * aK) * w / sqrt(s2)
  Ti <- diag(1 / diag(Tm), k)
  mod <- c(before[-1L], K)
  Ti[, mod] <- do.call(cbind, c(V, list(w)))
  if (any(Ti[lower.tri(Ti)] != 0) || any(diag(Ti) <= 0)) return(NULL)
  Tn <- backsolve(Ti, diag(1, k))
  if (!all(is.finite(Tn))) return(NULL)
  Tm[, mod] <- signif(Tn[, mod], 10)
  Tm
}

# A column that is zero outside the rows of one level of a factor (x:f's
# column x * f_k) and far from zero within them (x = Days * 1e-6 - 5 or
# Days + 1e8): centred by its mean m over those rows and scaled by its
# spread s there. The rows' indicator must be a combination of earlier 0/1
# and constant columns, 1{M[, j] != 0} = sum_k c_k M[, k] (f_k itself, or
# the intercept less the other levels' columns in f + f:x), so
# M[, j] = m sum_k c_k M[, k] + s M*[, j] and T[, j] = m sum_k c_k T[, k] +
# s e_j, T triangular. Over all rows such a column is not far (its spread is
# the indicator's times m), so neither the intercept nor spanned_centring()
# centred it, and it stayed collinear with the indicator to 1e-7 or 1e-16:
# f + f:x2 ended 5.8 below the optimum without standard errors, f * x1 was
# refused as rank deficient. From sums (within_sums()), which the shards
# return too. X only (`within = FALSE` for random-effect designs, whose far
# slopes have maps of their own).
within_centring <- function(Tm, idx, const, wi) {
  basis_ok <- const | wi$is01
  for (j in idx[!const[idx] & !wi$is01[idx] & wi$nz[idx] < wi$n & wi$nz[idx] >= 2]) {
    B <- idx[idx < j & basis_ok[idx]]
    if (!length(B)) next
    G <- wi$xx[B, B, drop = FALSE]
    r <- wi$xnz[B, j]
    cf <- tryCatch(qr.solve(G, r, tol = 1e-10), error = function(e) NULL)
    if (is.null(cf) || !all(is.finite(cf))) next
    rss <- wi$nz[j] - 2 * sum(cf * r) + drop(crossprod(cf, G %*% cf))
    if (!is.finite(rss) || abs(rss) > 1e-12 * wi$n) next
    cf <- signif(cf, 10)
    m <- wi$sum[j] / wi$nz[j]
    sd <- sqrt(max(wi$ss[j] / wi$nz[j] - (m - wi$ctr[j])^2, 0))
    m <- signif(m, 10)
    sd <- signif(sd, 10)
    if (!is.finite(m) || !is.finite(sd) || !(sd > 0) || abs(m) <= lmm_z_centre_sd * sd) next
    tj <- signif(m * drop(Tm[, B, drop = FALSE] %*% cf), 10)
    tj[j] <- sd
    Tm[, j] <- tj
  }
  Tm
}

# A column that is an earlier column times a covariate far from zero,
# M[, j] = x M[, k] with x = m + d and |m| beyond lmm_z_centre_sd times
# d's spread: x:f under contr.sum, contr.helmert or contr.poly (x c_k(f),
# c_k the factor's k-th contrast column, not 0/1 and not zero outside one
# level), f1:f2:x so coded, or x:z. Such a column is collinear with M[, k]
# to |m| / sd(d) and neither the intercept nor within_centring() centred
# it: f * x1 (x1 = Days + 1e8) with contr.sum was refused as rank
# deficient, binomial f * x2 (x2 = Days * 1e-6 - 5) ended without standard
# errors. Centred along M[, k] by least squares, M[, j] = m M[, k] +
# s M*[, j] (s the residual's root mean square), so T[, j] = m T[, k] +
# s e_j stays upper triangular. In memory only (a design known by its
# moments keeps its T); columns that within_centring() or
# spanned_centring() moved, or whose residual is zero (a true aliasing the
# rank check reports), are left.
ratio_centring <- function(M, Tm, idx, const) {
  if (is.null(M) || nrow(M) < 2L) return(Tm)
  cand <- idx[!const[idx]]
  if (length(cand) < 2L) return(Tm)
  # Columns only centred by the intercept (or not at all).
  plain <- vapply(cand, function(j) {
    o <- Tm[, j]
    o[j] <- 0
    ic <- which(o != 0)
    !length(ic) || (length(ic) == 1L && const[ic])
  }, TRUE)
  # Cosines of the raw columns: a pair x M[, k], M[, k] has |cos| within
  # about (sd(d) / m)^2 of 1; a cheap screen before the ratios.
  # (of the whole design, subset after: M[, cand] would copy the columns)
  cs <- crossprod(M)[cand, cand, drop = FALSE]
  nr <- sqrt(diag(cs))
  cs <- abs(cs) / outer(nr, nr)
  changed <- FALSE
  for (a in seq_along(cand)[-1L]) {
    j <- cand[a]
    if (!plain[a]) next
    for (b in which(cs[seq_len(a - 1L), a] > 1 - 1 / lmm_z_centre_sd^2)) {
      k <- cand[b]
      mk <- M[, k]
      mj <- M[, j]
      # M[, k] itself far from zero (x4 = 2 x2 + 5 beside x2 = Days * 1e-6
      # - 5): not a contrast or covariate times a far one; left to the
      # other centrings and the rank check (a true collinearity is refused).
      if (abs(mean(mk)) > lmm_z_centre_sd * stats::sd(mk)) next
      z <- mk == 0
      if (all(z) || any(mj[z] != 0) || sum(!z) < 2L) next
      r <- mj[!z] / mk[!z]
      mr <- mean(r)
      sr <- sqrt(mean((r - mr)^2))
      if (!is.finite(mr) || !is.finite(sr) || !(sr > 0) || abs(mr) <= lmm_z_centre_sd * sr) next
      m <- signif(sum(mj * mk) / sum(mk * mk), 10)
      s <- signif(sqrt(mean((mj - m * mk)^2)), 10)
      if (!is.finite(m) || !is.finite(s) || !(s > 0)) next
      tj <- signif(m * Tm[, k], 10)
      tj[j] <- s
      Tm[, j] <- tj
      break
    }
  }
  Tm
}

# within_centring()'s sums over the rows of M (per shard in
# on_worker_moments(), summed by the lead): the 0/1 flags, cross-products,
# column sums, rows not zero per column (`nz`), the sums of each column
# over the rows where another is not zero (`xnz`, [k, j]), and the sums of
# squares about `ctr` over a column's rows not zero (`ss`; `ctr` =
# sum(x^2) / sum(x), within rounding of a far column's mean there).
within_sums <- function(M, ctr) {
  NZ <- M != 0
  list(n = nrow(M), is01 = colSums(NZ & M != 1) == 0, xx = crossprod(M), sum = colSums(M),
       nz = colSums(NZ), xnz = crossprod(M, NZ * 1), ss = colSums(sweep(M, 2L, ctr)^2 * NZ), ctr = ctr)
}

# The centre within_sums() takes: sum(x^2) / sum(x) (0 where that is 0).
within_ctr <- function(x2sum, xsum) ifelse(xsum != 0, x2sum / xsum, 0)

# within_sums() of a design in memory, or NULL where no column can need
# within_centring() (none both non-0/1 with a zero and after a 0/1 column).
within_moments <- function(M, idx, const, n01 = NULL) {
  if (is.null(M) || nrow(M) < 2L) return(NULL)
  nc <- idx[!const[idx]]
  if (length(nc) < 2L) return(NULL)
  is01 <- column_is01(M, nc, n01)
  if (!any(is01)) return(NULL)
  cand <- nc[!is01 & nc > min(nc[is01])]
  # Only a column with zeros and far from zero over its other rows can
  # need it (a cheap look before the cross-products).
  far_nz <- function(j) {
    v <- M[M[, j] != 0, j]
    if (length(v) < 2L || length(v) == nrow(M)) return(FALSE)
    m <- mean(v)
    abs(m) > lmm_z_centre_sd * sqrt(mean((v - m)^2))
  }
  if (!length(cand) || !any(vapply(cand, far_nz, TRUE))) return(NULL)
  within_sums(M, within_ctr(colSums(M^2), colSums(M)))
}

# What spanned_centring() needs of a block's columns `idx` held in memory:
# the same sums the shards return (on_worker_moments()): 0/1 flags, the
# cross-products of the 0/1 columns, the column sums, and the cross-
# products about the column means, over the block's n rows.
span_moments <- function(M, idx, mn, const, n01 = NULL) {
  n <- nrow(M)
  is01 <- logical(ncol(M))
  is01[idx] <- !const[idx] & column_is01(M, idx, n01)
  xx <- matrix(0, ncol(M), ncol(M))
  i01 <- which(is01)
  if (length(i01)) xx[i01, i01] <- crossprod(M[, i01, drop = FALSE])
  C <- matrix(0, ncol(M), ncol(M))
  far <- idx[!const[idx] & !is01[idx]]
  if (length(far)) {
    Mc <- sweep(M[, far, drop = FALSE], 2L, colMeans(M[, far, drop = FALSE]))
    C[far, far] <- crossprod(Mc) / n
  }
  sm <- numeric(ncol(M))
  sm[i01] <- colSums(M[, i01, drop = FALSE])
  list(n = n, is01 = is01, xx = xx, sum = sm, cov = C)
}

# Whether each column j of M (in `cols`) holds only 0s and 1s; from the
# counts `n01` of col_moments() when given.
column_is01 <- function(M, cols, n01 = NULL) {
  if (!is.null(n01)) return(n01[cols] == nrow(M))
  vapply(cols, function(j) all(M[, j] == 0 | M[, j] == 1), TRUE)
}

# sqrt(mean(M[, j]^2)), from col_moments() where it computed it.
column_rms <- function(M, j, cm) {
  r <- cm$rms[j]
  if (is.na(r)) sqrt(mean(M[, j]^2)) else r
}
