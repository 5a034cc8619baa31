# Profiles of fits whose random-effect columns are in odd units.
#
# profile_engine() runs on the user's Z. With a random slope on x * 1e-6,
# x * 1e6 or x * 1e-6 - 5 the searches at each profile point then work on
# entries of Lambda many orders of magnitude apart (x * 1e-6 - 5: the
# intercept at x = 5e6 has a standard deviation of 2e6 and a correlation
# of 1 - 1e-13 with the slope), and they stopped short: the slope's
# standard deviation had the interval [0.445, 0.453] for [0.281, 0.655]
# (one-factor LMM), the correlation [-0.82, 0.81] for [-1, 1] (x * 1e-6,
# Laplace), and every other parameter's interval moved with them.
#
# So, as the fits do (lmm-standard-z.R, glmm_reparam()), a block whose
# columns lie far from zero or are far from unit scale is searched on its
# centred and scaled columns: with Z = Z* T (b = Ti b*, Ti = T^-1), the
# engine runs on Z G for a basis G of the block and on theta with that
# block's Lambda replaced by the lower triangular factor of G^-1 D G^-T
# (an LQ factorization of G^-1 Lambda, which loses no digits: Lambda =
# G L W'). The targets are functions of the user's D = Ti D* Ti', and each
# is made a plain target on that scale by the choice of G = Ti C' with C
# orthogonal (so Z G = Z* C' is as well conditioned as Z*):
#   - the standard deviation of effect k is |a_k| times that of the
#     block's first effect when C's first row is a_k / |a_k| (a_k: row k
#     of Ti);
#   - the correlation of effect k with the block's first effect j: with C's
#     first two rows u1 = a_j / |a_j| and u2, a_k's part orthogonal to u1
#     (a_k = alpha u1 + beta u2), b_j = |a_j| b1 and b_k = alpha b1 +
#     beta b2, so the correlation is that of the first two rows of
#     (l11, 0; alpha l11 + beta l21, beta l22) (cor_shear_map()).
# Fixed effects, sigma and the effects of other blocks run on G = Ti.
# Blocks are mapped only where the fits map them (centres_far() at
# lmm_z_centre_sd, or a column scale outside [1e-2, 1e2]): profiles of
# well-scaled fits are unchanged.

# The far blocks of a fit's random effects: list(blocks, q) with each
# block's rows of Lambda, its T and Ti, or NULL when there are none (or the
# route is not one this covers: two-part, nested, structured terms).
# `every`: a one-factor fit's every block on its standardized basis, as
# adaptive quadrature's (fit_basis_engine()).
profile_z_blocks <- function(fit, every = FALSE) {
  # Zero-inflated, hurdle and dispersion-formula fits: the conditional
  # part's blocks, as below (profile_engine() builds
  # their engines on Z G); with random
  # effects in the zero part (one factor, Laplace), each part's blocks,
  # Lambda's rows over both parts (a block joining the two parts,
  # zi_correlated = TRUE, is left on the user's Z). Nested adaptive
  # quadrature has no correlated block (slopes at the innermost level,
  # uncorrelated: a scaling only), and a non-normal random-effect
  # distribution has a random intercept only.
  zr <- fit$aux$zi$re %||% fit$aux$disp$re
  if (!is.null(zr) && isTRUE(zr$sparse) ||
      inherits(fit, "glmmgee_glmm_nested") ||
      !is.null(fit$ranef_dist) && !identical(fit$ranef_dist, "normal")) return(NULL)
  if (!is.null(zr) && !isTRUE(fit$nAGQ == 1)) return(zi_random_aghq_z_blocks(fit))
  sparse <- inherits(fit, "glmmgee_glmm_sparse")
  if (sparse) {
    tms <- fit$reterms
    if (any(vapply(tms, function(tm) !is.null(tm$struct) && !identical(tm$struct, "us"), TRUE)))
      return(NULL)
    sizes <- vapply(tms, function(tm) length(tm$cnames), 1L)
    known <- vapply(tms, function(tm) isTRUE(tm$known_cov), TRUE)
  } else {
    sizes <- fit$cov_blocks %||% ncol(fit$Z)
    known <- rep(FALSE, length(sizes))
  }
  # Adaptive quadrature with several effects per group is not invariant to
  # the basis of the random effects (its product rule follows the
  # conditional modes' factor): the fit maximized it on the centred and
  # scaled Z*, so every non-trivial block is profiled there, and the
  # targets' own bases are a reparameterization of that engine's theta
  # (rotated_eval()), not another Z.
  aghq <- !sparse && isTRUE(fit$nAGQ > 1) && ncol(fit$Z) > 1L
  std <- aghq || every && !sparse
  re <- profile_re_structure(fit)
  Zr <- as.matrix(re$Z)
  pat <- re$pattern
  if (!is.null(zr)) {
    q1 <- ncol(Zr)
    Zr <- cbind(Zr, as.matrix(zr$Z))
    sizes <- pattern_blocks(pat, re$q)
    ends <- cumsum(sizes)
    known <- ends - sizes < q1 & ends > q1
  }
  blocks <- list()
  rows_of <- index_blocks(sizes)
  for (b in seq_along(sizes)) {
    s <- sizes[[b]]
    rows <- rows_of[[b]]
    at <- which(pat$row %in% rows)
    if (known[b] || length(at) != s * (s + 1L) / 2L) next
    # (centred over all rows, as glmm_reparam() centres the fit's Z*: with
    # t:x, centring within t's nonzero rows gave another basis)
    tz <- design_transform(Zr[, rows, drop = FALSE], within = !std)
    Tm <- tz$T
    far <- !tz$identity && (std || centres_far(Tm, lmm_z_centre_sd) ||
                              any(diag(Tm) < 1e-2 | diag(Tm) > 1e2))
    # A well-scaled block whose estimate lies on a face of Lambda (a
    # correlation at +/-1: a row after the first with its diagonal entry
    # at 0): its own standard deviations and correlations are searched on
    # a basis of their own too (on the user's Z, T = I; `face`), the other
    # targets as before. The user's Z's map of a standard deviation fixes
    # the row's direction by the ratio of its entries to the diagonal one
    # (target_map()), which such a row does not have: its search started
    # at correlation 0 and stopped short (zero part (x | a) at a
    # correlation of 1: the upper limit of sd_zi.x|a 0.5638 for 0.6405).
    face <- !far && !std && s > 1L &&
      block_on_face(fit$theta[re$lambda_index[at]], bl_at(pat, at, rows))
    if (!far && !face) next
    if (face) Tm <- diag(1, s)
    blocks[[length(blocks) + 1L]] <- z_block(pat, rows, b, Tm, re$lambda_index, face)
  }
  if (!length(blocks)) return(NULL)
  list(blocks = blocks, q = re$q, aghq = aghq)
}

# A zero-inflated or hurdle fit with random effects in both parts by
# adaptive quadrature (independent or correlated parts): the fit ran on
# both parts' Z* = Z Tz^-1 when a slope lies far from zero
# (zi_random_z_reparam(), each part's columns centred by its own intercept), and
# the quadrature is not invariant to that basis, so the profile runs there
# too, every block with Tz != I rotated to each target's basis
# (rotated_eval()); with x * 1e-6 - 5 or x + 1e6 profile() stopped with
# "the model could not be rebuilt from the fit". Fits on the user's Z
# (no far slope) are profiled there, as before (NULL).
zi_random_aghq_z_blocks <- function(fit) {
  zr <- fit$aux$zi$re
  Zc <- as.matrix(fit$Z %||% matrix(1, length(fit$y), 1L))
  Zr <- cbind(Zc, as.matrix(zr$Z))
  qc <- ncol(Zc)
  q <- ncol(Zr)
  pat <- zr$pattern_full
  sizes <- pattern_blocks(pat, q)
  # glmm_zi_random_fit()'s z_blocks: each part's covariance blocks (a
  # correlated fit has one block over both parts, centred part by part)
  zblocks <- if (isTRUE(zr$correlated)) c(fit$cov_blocks %||% qc, q - qc) else sizes
  tz <- design_transform(Zr, blocks = zblocks)
  if (q < 2L || tz$identity || !centres_far(tz$T)) return(NULL)
  blocks <- basis_blocks(pat, sizes, tz$T, length(fit$coefficients) + seq_along(pat$row))$blocks
  keep <- vapply(blocks, function(bl) sum(abs(bl$T - diag(1, length(bl$rows)))) >
                   1e-12 * length(bl$rows), TRUE)
  list(blocks = blocks[keep], q = q, aghq = TRUE)
}

# One block of Lambda's rows `rows` (term b) with its T, for the far blocks
# above: its T^-1, its entries' (row, column) within the block and their
# positions in theta (`lam`: Lambda's entries' positions).
z_block <- function(pat, rows, b, Tm, lam, face = FALSE) {
  at <- which(pat$row %in% rows)
  list(rows = rows, term = b, T = Tm, Ti = backsolve(Tm, diag(1, length(rows))), face = face,
       at = bl_at(pat, at, rows), pos = lam[at])
}

# The far blocks of zb (NULL when there are none): the targets outside a
# face block are profiled on these alone, as before.
far_z_blocks <- function(zb) {
  if (is.null(zb)) return(NULL)
  keep <- !vapply(zb$blocks, function(bl) isTRUE(bl$face), TRUE)
  if (!any(keep)) return(NULL)
  zb$blocks <- zb$blocks[keep]
  zb
}

# Whether target tg moves a face block of zb (its sd or cor).
in_face_block <- function(zb, tg) {
  ib <- target_block(zb, tg)
  ib > 0L && isTRUE(zb$blocks[[ib]]$face)
}

# The block of zb whose standard deviation or correlation target tg is (0
# for none, or for another kind of target).
target_block <- function(zb, tg) {
  if (is.null(zb) || !tg$kind %in% c("sd", "cor")) return(0L)
  c(which(vapply(zb$blocks, function(bl) tg$pos[length(tg$pos)] %in% bl$pos, TRUE)), 0L)[1L]
}

# The (row, column) within a block of Lambda's entries `at` of the pattern.
bl_at <- function(pat, at, rows) cbind(pat$row[at] - rows[1L] + 1L, pat$col[at] - rows[1L] + 1L)

# Whether a block's Lambda (entries `l` at `at`) has a row after the first
# with its diagonal entry at 0 but not the whole row (a correlation at
# +/-1): relative to the row's length, below 1e-6.
block_on_face <- function(l, at) {
  s <- max(at)
  L <- matrix(0, s, s)
  L[at] <- l
  any(vapply(seq_len(s)[-1L], function(r) {
    nr <- sqrt(sum(L[r, ]^2))
    nr > 0 && abs(L[r, r]) <= 1e-6 * nr
  }, TRUE))
}

# The sizes of the diagonal blocks of a lower triangular pattern over q
# rows: a block ends at row i when no entry of a later row lies in a
# column up to i.
pattern_blocks <- function(pat, q) {
  ends <- vapply(seq_len(q), function(i) !any(pat$row > i & pat$col <= i), TRUE)
  diff(c(0L, which(ends)))
}

# theta with each block's Lambda replaced by the lower triangular factor
# of Ginv D Ginv' (`ginv`: one matrix per block of zb).
basis_theta <- function(th, zb, ginv) {
  for (i in seq_along(zb$blocks)) {
    bl <- zb$blocks[[i]]
    s <- length(bl$rows)
    L <- matrix(0, s, s)
    L[bl$at] <- th[bl$pos]
    th[bl$pos] <- lq_blocks(ginv[[i]] %*% L, s)$L[bl$at]
  }
  th
}

# The orthogonal C whose first rows are the orthonormal `u` (columns).
orth_rows <- function(u) {
  s <- nrow(u)
  Q <- qr.Q(qr(cbind(u, diag(1, s)), tol = 0))[, seq_len(s), drop = FALSE]
  for (j in seq_len(ncol(u))) if (sum(Q[, j] * u[, j]) < 0) Q[, j] <- -Q[, j]
  t(Q)
}

# The engine, map and free function of one target on a fit with far
# blocks zb: `base` is the engine on G = Ti (shared by the targets that
# need no block of their own); returns list(eval, map, free).
profile_basis_setup <- function(fit, zb, tg, base, Tx) {
  g <- lapply(zb$blocks, `[[`, "Ti")
  gi <- lapply(zb$blocks, `[[`, "T")
  # (gi is the target's own basis below when it has one)
  to_eng <- function(th) theta_star(basis_theta(th, zb, gi), Tx)
  ib <- target_block(zb, tg)
  if (!ib) {
    cv <- tg$cov
    if (!is.null(cv)) {
      # A variance estimated at zero has no covariance with the
      # coefficient (NA): no lean for it, the others' kept. Without any
      # lean a coefficient on a far-off column is held alone, every
      # linear predictor moves with it, and on a Poisson fit (zero-
      # inflated, (x2 | a) + (1 | h) with h's variance at 0) exp(eta)
      # overflowed at the first step above the estimate: no upper limit.
      cv[-tg$pos][!is.finite(cv[-tg$pos])] <- 0
      cv <- theta_star(cv, Tx)
      for (bl in zb$blocks) cv[bl$pos] <- 0
    }
    return(list(eval = base$eval, free = function() NULL,
                map = star_target_map(target_map(tg, base$lower), tg, Tx, base$lower,
                                      to_star = to_eng, cov_star = cv)))
  }
  bl <- zb$blocks[[ib]]
  k <- bl$at[match(tg$pos[length(tg$pos)], bl$pos), 1L]
  Ti <- bl$Ti
  pos_of <- function(r, c) bl$pos[bl$at[, 1L] == r & bl$at[, 2L] == c]
  if (tg$kind == "sd") {
    a <- Ti[k, ]
    nk <- sqrt(sum(a^2))
    C <- orth_rows(cbind(a / nk))
  } else {
    aj <- Ti[1L, ]
    ak <- Ti[k, ]
    u1 <- aj / sqrt(sum(aj^2))
    alpha <- sum(ak * u1)
    w <- ak - alpha * u1
    beta <- sqrt(sum(w^2))
    C <- orth_rows(cbind(u1, w / beta))
  }
  g[[ib]] <- Ti %*% t(C)
  gi[[ib]] <- C %*% bl$T
  eng <- if (zb$aghq) rotated_eval(base, bl, C) else basis_engine(fit, zb, g)
  map <- if (tg$kind == "sd") {
    m0 <- target_map(replace(tg, "pos", list(pos_of(1L, 1L))), eng$lower)
    list(free = m0$free, theta = function(x, z) m0$theta(x / nk, z),
         grad = function(g, x, z) m0$grad(g, x / nk, z), lower = m0$lower)
  } else {
    cor_shear_map(pos_of(1L, 1L), c(pos_of(2L, 1L), pos_of(2L, 2L)), alpha, beta, eng$lower)
  }
  list(eval = eng$eval, map = with_free(map, to_eng), free = eng$free)
}

# The correlation of b_k = alpha b1 + beta b2 with b1, where (b1, b2) have
# the lower triangular factor (l11, 0; l21, l22) at theta's positions p11
# and p2 = (p21, p22): held at x, with l11, the standard deviation of b_k
# over |a_k| = |(alpha, beta)| (t >= 0, on the scale of the other entries:
# b_k's own standard deviation, 4e5 with x * 1e-6, beside entries near 1
# stopped the search short) and the other parameters free.
# l21 = (t |a_k| x - alpha l11) / beta, l22 = t |a_k| sqrt(1 - x^2) / beta.
cor_shear_map <- function(p11, p2, alpha, beta, lower) {
  i11 <- p11 - sum(p2 < p11)
  nk <- sqrt(alpha^2 + beta^2)
  list(
    free = function(th) {
      r <- c(alpha * th[p11] + beta * th[p2[1L]], beta * th[p2[2L]])
      c(th[-p2], sqrt(sum(r^2)) / nk)
    },
    theta = function(x, z) {
      nz <- length(z) - 1L
      th <- numeric(nz + 2L)
      th[-p2] <- z[seq_len(nz)]
      t <- z[[nz + 1L]] * nk
      th[p2] <- c(t * x - alpha * th[p11], t * sqrt(max(1 - x^2, 0))) / beta
      th
    },
    grad = function(g, x, z) {
      gz <- g[-p2]
      gz[i11] <- gz[i11] - g[p2[1L]] * alpha / beta
      c(gz, nk * (g[p2[1L]] * x + g[p2[2L]] * sqrt(max(1 - x^2, 0))) / beta)
    },
    lower = c(lower[-p2], 0))
}

# The several-term engine's Z on the basis `zbasis$G` (block diagonal over
# Lambda's rows): each far term's columns, level by level, times its block.
basis_z_sparse <- function(re, zbasis) {
  Z <- re$Z
  for (bl in zbasis$zb$blocks) {
    tm <- re$terms[[bl$term]]
    nl <- length(tm$columns) %/% length(bl$rows)
    Gb <- zbasis$G[bl$rows, bl$rows, drop = FALSE]
    Z[, tm$columns] <- Z[, tm$columns, drop = FALSE] %*%
      Matrix::kronecker(Matrix::Diagonal(nl), Matrix::Matrix(Gb, sparse = TRUE))
  }
  methods::as(methods::as(Z, "CsparseMatrix"), "generalMatrix")
}

# The engine of the targets that need no block of their own: every far
# block on G = Ti.
profile_basis_engine <- function(fit, zb, caller = "profile()")
  basis_engine(fit, zb, lapply(zb$blocks, `[[`, "Ti"), caller)

# The engine on Z G, G block diagonal with g[[i]] on far block i's rows of
# Lambda (the identity elsewhere).
basis_engine <- function(fit, zb, g, caller = "profile()") {
  G <- diag(1, zb$q)
  for (i in seq_along(zb$blocks)) G[zb$blocks[[i]]$rows, zb$blocks[[i]]$rows] <- g[[i]]
  profile_engine(fit, zbasis = list(G = G, zb = zb), caller = caller)
}

# The base engine (block `bl` on Z* = Z Ti) as a function of theta with
# that block's Lambda on the basis C' (Lambda* = the lower triangular
# factor of C' Lambda Lambda' C), its gradient by the Jacobian of that map
# (cpp_lq_rotate(), as lq_blocks() and lq_jacobian() but in one call: in R
# the map at each evaluation cost as much as the adaptive quadrature
# itself; where Lambda is singular, at a standard deviation held at 0, the
# gradient in the block is left 0 and the search moves on the others).
rotated_eval <- function(base, bl, C) {
  Ct <- t(C)
  at <- bl$at
  storage.mode(at) <- "integer"
  pos <- bl$pos
  list(eval = function(th) {
         m <- cpp_lq_rotate(Ct, th[pos], at, TRUE)
         ths <- th
         ths[pos] <- m$lambda
         r <- base$eval(ths)
         if (is.null(r$gradient)) return(r)
         g <- r$gradient
         g[pos] <- if (is.null(m$J)) 0 else drop(crossprod(m$J, g[pos]))
         r$gradient <- g
         r
       },
       lower = base$lower, free = function() NULL)
}

# The fit's engine on the basis of the random effects its search ran on,
# for the methods that evaluate the fit's own approximation at its
# estimates (cluster-robust covariances, loglik_check()). Adaptive
# quadrature with several effects per group is not invariant to that basis,
# and the fit maximized it on the centred and scaled Z* (glmm_reparam()):
# on the user's Z the engine is another approximation (one factor,
# (1 + x | g) with x centred at 3, nAGQ = 3: a log-likelihood 0.09 below
# the fit's at its estimates and cluster scores summing to 0.43, not 0).
# The Laplace value does not depend on the basis, but the clusters'
# informations (CR2, CR3) are taken in the engine's parameters, which on
# the user's Z change with the centring of a slope (CR2 by 0.6%): so every
# one-factor fit runs on Z* here. Where the basis differs, `to_engine` maps
# the fit's theta to that engine's and `jac` is its Jacobian; elsewhere
# both are NULL (the engine on the user's Z is the fit's).
fit_basis_engine <- function(fit, caller) {
  zb <- profile_z_blocks(fit, every = TRUE)
  if (is.null(zb)) return(profile_engine(fit, caller = caller))
  pe <- c(profile_basis_engine(fit, zb, caller), basis_map(zb))
  check_rebuilt_engine(pe$eval(theta_star(pe$to_engine(unname(fit$theta)), pe$Tx))$loglik,
                       fit, pe$free, caller)
  pe
}

# The blocks of a basis given by one T over the covariance blocks of sizes
# `sizes` (T block diagonal over them), for basis_theta(): Lambda's
# pattern `pat`, its entries at positions `lam` of theta.
basis_blocks <- function(pat, sizes, T, lam) {
  rows_of <- index_blocks(sizes)
  list(blocks = lapply(seq_along(sizes), function(b) {
    r <- rows_of[[b]]
    z_block(pat, r, b, T[r, r, drop = FALSE], lam)
  }), q = nrow(T), aghq = TRUE)
}

# The map of a fit's theta to that of an engine on the basis `zb`
# (basis_theta()), and its Jacobian: list(to_engine, jac).
basis_map <- function(zb) {
  Ts <- lapply(zb$blocks, `[[`, "T")
  list(to_engine = function(th) basis_theta(th, zb, Ts),
       jac = function(th) basis_theta_jacobian(th, zb))
}

# d theta* / d theta of basis_theta(theta, zb, T) (each far block's Lambda
# replaced by the factor of T D T'; the identity elsewhere): exactly, by
# lq_jacobian() of the inverse map, where the block's factor is
# nonsingular; by central differences on a block with a zero variance.
basis_theta_jacobian <- function(th, zb) {
  J <- diag(1, length(th))
  for (bl in zb$blocks) {
    s <- length(bl$rows)
    L <- matrix(0, s, s)
    L[bl$at] <- th[bl$pos]
    Ls <- lq_blocks(bl$T %*% L, s)$L
    Jb <- if (min(abs(diag(Ls))) > 1e-10 * max(abs(Ls))) {
      lu <- lq_blocks(bl$Ti %*% Ls, s)
      tryCatch(solve(lq_jacobian(Ls, lu$L, lu$W, bl$at)), error = function(e) NULL)
    }
    if (is.null(Jb)) {
      one <- function(l) {
        L[bl$at] <- l
        lq_blocks(bl$T %*% L, s)$L[bl$at]
      }
      Jb <- map_jacobian(one, th[bl$pos], rep(1e-2 * max(abs(L)), length(bl$pos)),
                         rep(TRUE, length(bl$pos)))
    }
    J[bl$pos, bl$pos] <- Jb
  }
  J
}
