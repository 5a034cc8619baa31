# Shared fixtures of the nested multilevel quadrature tests (test-glmm-nested*.R).

# Simulated nested data with known truth: A outer units, B inner units in
# each (labels repeat across outer units, so only a/b identifies them), C
# innermost units in each inner one when C > 0, m observations per unit.
nested_data <- function(seed, A = 8, B = 3, C = 0, m = 3, sds = c(1, 0.8, 0.6),
                        beta = c(-0.3, 0.8), family = "binomial") {
  set.seed(seed)
  d <- expand.grid(obs = seq_len(m), c = seq_len(max(C, 1)), b = seq_len(B), a = seq_len(A))
  d$x <- rnorm(nrow(d))
  ib <- (d$a - 1) * B + d$b
  ic <- (ib - 1) * max(C, 1) + d$c
  eta <- beta[1] + beta[2] * d$x + sds[1] * rnorm(A)[d$a] + sds[2] * rnorm(A * B)[ib] +
    if (C > 0) sds[3] * rnorm(A * B * C)[ic] else 0
  d$y <- switch(family, binomial = rbinom(nrow(d), 1, plogis(eta)),
                poisson = rpois(nrow(d), exp(eta)), nbinom2 = rnbinom(nrow(d), mu = exp(eta), size = 3),
                gaussian = eta + rnorm(nrow(d), 0, 0.5))
  d$a <- factor(d$a)
  d$b <- factor(d$b)
  d$c <- factor(d$c)
  d
}

# The log-likelihood by plain (non-adaptive) Gauss-Hermite quadrature with K
# nodes per level, computed here in R: for each unit the integral over its
# random effect, at every node, of the product of its children's integrals
# (or of its observations' densities), vectorized over the ancestors'
# shifts. `groups` lists the unit of each observation from the outermost
# level inwards, `sds` the standard deviations in the same order, `dens`
# the density of the observations given their linear predictors.
brute_nested <- function(eta0, groups, sds, dens, K) {
  r <- gh_rule_eigen(K)
  L <- length(groups)
  value <- function(l, rows, S) {
    shifts <- outer(S, sds[l] * r$z, `+`)  # length(S) x K
    if (l == L) {
      lp <- matrix(0, length(S), K)
      for (i in rows) lp <- lp + log(dens(i, eta0[i] + shifts))
      inner <- exp(lp)
    } else {
      inner <- matrix(1, length(S), K)
      for (rw in split(rows, groups[[l + 1L]][rows]))
        inner <- inner * matrix(value(l + 1L, rw, as.vector(shifts)), length(S), K)
    }
    drop(inner %*% r$w)
  }
  sum(vapply(split(seq_along(eta0), groups[[1L]]), function(rw) log(value(1L, rw, 0)), 1))
}

# Absolute agreement (log-likelihoods are compared on their own scale).
expect_close <- function(actual, expected, tol) {
  expect_lt(abs(actual - expected), tol,
            label = sprintf("|%.10g - %.10g|", actual, expected))
}

# A variance at zero is a possible optimum of small simulated data sets;
# the checks below hold there too.
quiet_singular <- function(expr) {
  withCallingHandlers(expr, warning = function(w)
    if (grepl("singular fit", conditionMessage(w))) invokeRestart("muffleWarning"))
}

# Unit codes of the observations, outermost first, for (1 | a/b[/c]).
nested_groups <- function(d, depth) {
  g <- list(d$a, interaction(d$a, d$b, drop = TRUE))
  if (depth == 3L) g[[3L]] <- interaction(d$a, d$b, d$c, drop = TRUE)
  lapply(g, as.integer)
}

# The fit's standard deviations from the outermost level inwards.
sds_outer_first <- function(fit) {
  vc <- VarCorr(fit)
  s <- vapply(vc, function(v) sqrt(v[1, 1]), 1)
  s[order(vapply(fit$reterms, function(t) length(t$levels), 1))]
}


# The log-likelihood of (1 | outer) + (Z | outer:inner) by plain product
# Gauss-Hermite quadrature, computed here in R: K nodes for the outer
# intercept and K^q for the inner unit's q effects b = Lambda u, u ~ N(0, I)
# (Lambda lower triangular: the covariance's Cholesky factor, as lme4's
# theta fills it, already multiplied by the residual scale where there is
# one). At every outer node, the product of the inner units' integrals.
# `Z` is the n x q design of the inner term, `dens(i, eta)` the density of
# observation i at the matrix of linear predictors `eta`.
brute_nested_slope <- function(eta0, outer, inner, Z, s_outer, Lambda, dens, K) {
  r <- gh_rule_eigen(K)
  q <- ncol(Z)
  grid <- as.matrix(expand.grid(rep(list(r$z), q)))
  wgrid <- Reduce(`*`, expand.grid(rep(list(r$w), q)))
  B <- grid %*% t(Lambda)  # K^q x q: the inner effects at the grid's nodes
  one_outer <- function(rows) {
    shift <- s_outer * r$z
    lint <- numeric(K)  # log of the product of the inner integrals, per outer node
    for (rw in split(rows, inner[rows])) {
      lp <- matrix(0, K, nrow(B))
      for (i in rw) lp <- lp + log(dens(i, outer(eta0[i] + shift, drop(B %*% Z[i, ]), `+`)))
      m <- max(lp)
      lint <- lint + m + log(drop(exp(lp - m) %*% wgrid))
    }
    m <- max(lint)
    m + log(sum(r$w * exp(lint - m)))
  }
  sum(vapply(split(seq_along(eta0), outer), one_outer, 1))
}

# The log-likelihood of a Poisson log-link model with random intercepts of
# `outer` units and, in each `inner` unit, effects b ~ N(0, D) on the
# occasions `time` (1..q): the outer integral by the trapezoid rule on a
# fine grid of the standardized effect (exact to rounding for this smooth
# integrand), each inner unit's integral by adaptive Gauss-Hermite
# quadrature with K nodes per dimension on b, centred at the exact
# conditional mode given the outer effect (Newton steps) and scaled by the
# Cholesky factor of its inverse curvature. Written here on b's scale with
# D, independently of the engine's u scale, Lambda and structure map.
adaptive_nested_poisson <- function(y, eta0, outer, inner, time, s_outer, D, K, vstep = 0.1,
                                    vmax = 7) {
  r <- gh_rule_eigen(K)
  q <- nrow(D)
  Z <- as.matrix(expand.grid(rep(list(r$z), q)))
  lw <- log(Reduce(`*`, expand.grid(rep(list(r$w), q)))) + rowSums(Z^2) / 2 + q / 2 * log(2 * pi)
  Di <- solve(D)
  ldD <- as.numeric(determinant(D)$modulus)
  inner_unit <- function(rows, c) {
    tt <- time[rows]
    yy <- y[rows]
    e0 <- eta0[rows] + c
    Tm <- outer(tt, seq_len(q), `==`) * 1
    h <- function(B) {
      E <- sweep(B[, tt, drop = FALSE], 2, e0, `+`)
      drop(E %*% yy) - rowSums(exp(E)) - 0.5 * rowSums((B %*% Di) * B) - q / 2 * log(2 * pi) -
        ldD / 2 - sum(lgamma(yy + 1))
    }
    curvature <- function(b) -diag(drop(crossprod(Tm, exp(e0 + b[tt]))), q) - Di
    b <- rep(0, q)
    for (it in 1:100) {
      g <- drop(crossprod(Tm, yy - exp(e0 + b[tt]))) - drop(Di %*% b)
      st <- solve(-curvature(b), g)
      if (max(abs(st)) > 1) st <- st / max(abs(st))
      b <- b + st
      if (max(abs(st)) < 1e-10) break
    }
    C <- t(chol(solve(-curvature(b))))
    v <- h(sweep(Z %*% t(C), 2, b, `+`)) + lw
    m <- max(v)
    m + log(sum(exp(v - m))) + sum(log(diag(C)))
  }
  vs <- seq(-vmax, vmax, by = vstep)
  total <- 0
  for (rows in split(seq_along(eta0), outer)) {
    lv <- vapply(vs, function(v) dnorm(v, log = TRUE) +
                   sum(vapply(split(rows, inner[rows]), function(rw) inner_unit(rw, s_outer * v), 1)),
                 1)
    m <- max(lv)
    total <- total + m + log(sum(exp(lv - m)) * vstep)
  }
  total
}
