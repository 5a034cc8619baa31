# Diagonal random slopes far from zero on the several-term LMM route.
#
# `(x || g)` is `(1 | g) + (0 + x | g)`: two scalar terms on one factor
# with Var(b0 + b1 x) = s0^2 + s1^2 x^2. Where x is far from zero
# (x * 1e-6 - 5) the two columns are nearly collinear, and on the search's
# unit-scaled parameters (lmm_sparse_scales()) the criterion depends on the
# pair almost only through theta0^2 + theta1^2, the variance of the level's
# common shift: its optimum lies on a curved ridge, a circle, along which
# the criterion moves by 1e-5 while it rises by ~100 per unit off it.
# Centring x (lmm_sparse_centring()) does not apply: a shift does not leave
# a diagonal covariance diagonal. nlminb on (theta0, theta1) crawls along
# the circle: on mk(13, 20, 6, reps = 3, sx = 0.8) of the shared models,
# y ~ xsmall + (xsmall || a) + (1 | b), REML stopped at its iteration
# limit (1000) with a Hessian that is not positive definite, 6.3e-6 short
# of the optimum at the ridge's end (s0 = 0); ML in "singular convergence"
# with a Newton step of 0.013, as far short. So such pairs' end is searched
# again in polar coordinates, theta0 = r cos(phi), theta1 = r sin(phi),
# r >= 0 and 0 <= phi <= pi/2: r the ridge's well-determined radius, phi
# the position along it, the box exactly the pair's bounds (each SD >= 0).
# The map is smooth and the criterion the same at each theta; the end is
# kept only where it is lower, and judged on theta as before. Fits without
# such pairs run as before, to the bit.

# Pairs of scalar (one column per level, unstructured, not known) terms on
# the same grouping factor whose columns (over the rows of positive weight)
# have a cosine beyond that of a column whose mean
# is 10 of its standard deviations from zero beside a constant one
# (lmm_z_centre_sd, the centring's bound). A two-column matrix of the pairs'
# covariance-parameter indices, or NULL (no pair: the search as before).
lmm_ridge_pairs <- function(re, keep) {
  sc <- vapply(re$terms, function(tm) length(tm$cnames) == 1L && !isTRUE(tm$known_cov) &&
                 identical(tm$kind %||% "us", "us") && length(tm$par) == 1L, TRUE)
  if (sum(sc) < 2L) return(NULL)
  grp <- vapply(re$terms, function(tm) paste(tm$group, collapse = "\r"), "")
  dup <- unique(grp[sc][duplicated(grp[sc])])
  if (!length(dup)) return(NULL)
  bound <- lmm_z_centre_sd / sqrt(1 + lmm_z_centre_sd^2)
  out <- NULL
  for (g in dup) {
    ks <- which(sc & grp == g)
    ks <- ks[vapply(ks, function(k) identical(re$terms[[k]]$index, re$terms[[ks[1L]]]$index), TRUE)]
    if (length(ks) < 2L) next
    cols <- vapply(ks, function(k) {
      v <- term_raw_columns(re$Z, re$terms[[k]])[, 1L]
      v[keep]
    }, numeric(sum(keep)))
    nrm <- sqrt(colSums(cols^2))
    if (any(!is.finite(nrm) | nrm == 0)) next
    cs <- abs(crossprod(cols) / tcrossprod(nrm))
    diag(cs) <- 0
    # Disjoint pairs, the most collinear first.
    used <- logical(length(ks))
    repeat {
      cs[used, ] <- 0
      cs[, used] <- 0
      m <- which(cs == max(cs), arr.ind = TRUE)[1L, ]
      if (!(cs[m[1L], m[2L]] > bound)) break
      ij <- sort(m)
      out <- rbind(out, c(re$terms[[ks[ij[1L]]]]$par, re$terms[[ks[ij[2L]]]]$par))
      used[ij] <- TRUE
    }
  }
  out
}

# The polar map of the `pairs`' parameters (the others unchanged) for a
# search on k parameters with bounds `lower`: theta(psi), psi(theta), the
# gradient in psi from theta's, and psi's bounds.
lmm_ridge_polar <- function(pairs, lower) {
  i <- pairs[, 1L]
  j <- pairs[, 2L]
  upper <- rep(Inf, length(lower))
  upper[j] <- pi / 2
  list(theta = function(p) {
         th <- p
         th[i] <- p[i] * cos(p[j])
         th[j] <- p[i] * sin(p[j])
         th
       },
       psi = function(th) {
         p <- th
         p[i] <- sqrt(th[i]^2 + th[j]^2)
         p[j] <- atan2(th[j], th[i])
         p
       },
       grad = function(p, g) {
         out <- g
         out[i] <- g[i] * cos(p[j]) + g[j] * sin(p[j])
         out[j] <- p[i] * (g[j] * cos(p[j]) - g[i] * sin(p[j]))
         out
       },
       lower = replace(lower, c(i, j), 0), upper = upper)
}

# From the end `th` of the search on theta, nlminb on the polar parameters of
# the `pairs` away from 0 (r > 0: at r = 0 the angle has no effect and the
# map no curvature), with the exact gradient `gr` and, as its Hessian,
# central differences of it: along the ridge the criterion moves by ~1e-5
# over the whole range of phi, and nlminb's secant model of the curvature,
# learnt across the ridge, reported "relative convergence" halfway along.
# nlminb's answer with its par on theta, or NULL when no pair is away from 0.
lmm_ridge_search <- function(f, gr, lower, th, pairs, control) {
  pairs <- pairs[th[pairs[, 1L]]^2 + th[pairs[, 2L]]^2 > 0, , drop = FALSE]
  if (!nrow(pairs)) return(NULL)
  pm <- lmm_ridge_polar(pairs, lower)
  fp <- function(p) f(pm$theta(p))
  gp <- function(p) pm$grad(p, gr(pm$theta(p)))
  hp <- function(p) fd_hessian(gp, p, "central", step = 1e-4)
  r <- stats::nlminb(pm$psi(th), fp, gp, hp, lower = pm$lower, upper = pm$upper,
                     control = list(eval.max = control$eval.max, iter.max = control$iter.max,
                                    rel.tol = 1e-12))
  r$par <- pm$theta(r$par)
  r
}
