# Derivatives by finite differences: the one Hessian every fit uses where
# it differentiates an exact gradient once more (or, lacking a gradient,
# its value twice), and the central-difference gradient of a value.

# The Hessian of a function at `x` by differences, symmetrized.
# - "forward": the Jacobian of the gradient `f` from g0 = f(x) (given, or
#   evaluated first), one evaluation per free coordinate, error O(h);
# - "central": the Jacobian of the gradient `f` by (f(x + h) - f(x - h)) / 2h,
#   two evaluations per free coordinate, error O(h^2);
# - "values": `f` is the value itself; four evaluations per pair of free
#   coordinates (upper triangle, mirrored).
# Steps h_j = step * max(|x_j|, floor_j): relative to the parameter, never
# below `step * floor` (a parameter's typical size where it is near zero).
# Coordinates on their bound (`on_boundary`) are held fixed: their columns
# (and, for "values", rows) are NA; the rows of the others are kept.
# `each(j, h_j)`, if given, is called after the forward step in coordinate j
# (so a caller can keep more of that evaluation than f returns).
fd_hessian <- function(f, x, method = c("forward", "central", "values"), g0 = NULL,
                       step = 1e-5, floor = 1e-2, on_boundary = rep(FALSE, length(x)),
                       each = NULL) {
  method <- match.arg(method)
  k <- length(x)
  H <- matrix(NA_real_, k, k)
  idx <- which(!on_boundary)
  h <- step * pmax(abs(x), floor)
  if (method == "values") {
    for (i in idx) for (j in idx) {
      if (j < i) { H[i, j] <- H[j, i]; next }
      ei <- replace(numeric(k), i, h[i])
      ej <- replace(numeric(k), j, h[j])
      H[i, j] <- (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) /
        (4 * h[i] * h[j])
    }
    return(H)
  }
  if (method == "forward" && is.null(g0)) g0 <- f(x)
  for (j in idx) {
    gp <- f(replace(x, j, x[j] + h[j]))
    if (!is.null(each)) each(j, h[j])
    H[, j] <- if (method == "forward") (gp - g0) / h[j]
              else (gp - f(replace(x, j, x[j] - h[j]))) / (2 * h[j])
  }
  H[idx, idx] <- (H[idx, idx] + t(H[idx, idx])) / 2
  H
}

# The gradient (as a function of the parameters) of an evaluator `ev`
# returning list(loglik, gradient), for fd_hessian().
gradient_of <- function(ev) function(th) ev(th)$gradient

# Central-difference gradient of the value `f`, steps `h` per parameter.
fd_gradient <- function(f, th, h) {
  vapply(seq_along(th), function(j) {
    e <- replace(numeric(length(th)), j, h[j])
    (f(th + e) - f(th - e)) / (2 * h[j])
  }, 1)
}

# Central-difference Jacobian of a vector-valued `f` (e.g. the clusters'
# log-likelihoods), steps `h` per parameter: one row per element of f.
fd_jacobian <- function(f, th, h) {
  cols <- lapply(seq_along(th), function(j) {
    e <- replace(numeric(length(th)), j, h[j])
    (f(th + e) - f(th - e)) / (2 * h[j])
  })
  matrix(unlist(cols), ncol = length(th))
}
