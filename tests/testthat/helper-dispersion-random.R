# Data and an independent reference for the tests of dispersion formulas
# with random effects (test-dispersion-random.R).

# Simulated location-scale data: m clusters of size k, a covariate x, an
# arm z; the mean's linear predictor b0 + b1 x + u_g and the log dispersion
# d0 + d1 z + v_g, u and v independent normal with SDs su and sv. `family`:
# "gaussian" (log sigma), "nbinom2" (log theta), "Gamma" (log shape) or
# "beta" (logit mean, log precision).
location_scale_data <- function(m = 60, k = 12, family = "gaussian", b = c(1, 0.5),
                                d = c(-0.3, 0.4), su = 0.7, sv = 0.5, seed = 1) {
  set.seed(seed)
  g <- rep(seq_len(m), each = k)
  x <- stats::rnorm(m * k)
  z <- stats::rbinom(m * k, 1, 0.5)
  eta <- b[1] + b[2] * x + stats::rnorm(m, sd = su)[g]
  ld <- d[1] + d[2] * z + stats::rnorm(m, sd = sv)[g]
  y <- switch(family,
    gaussian = stats::rnorm(m * k, eta, exp(ld)),
    nbinom2 = stats::rnbinom(m * k, size = exp(ld), mu = exp(eta)),
    Gamma = stats::rgamma(m * k, shape = exp(ld), rate = exp(ld) / exp(eta)),
    beta = stats::rbeta(m * k, stats::plogis(eta) * exp(ld), stats::plogis(-eta) * exp(ld)))
  data.frame(y = y, x = x, z = z, g = factor(g))
}

# The two SDs and the fixed parts of both linear predictors from par =
# (b, log su, d, log sv) on designs X and Xd.
location_scale_predictors <- function(par, X, Xd) {
  p <- ncol(X)
  pd <- ncol(Xd)
  list(su = exp(par[p + 1]), sv = exp(par[p + pd + 2]),
       eta0 = drop(X %*% par[seq_len(p)]), ld0 = drop(Xd %*% par[p + 1 + seq_len(pd)]))
}

# The Laplace approximation of a random-intercept location-scale model
# written out independently of the package: per cluster, the joint mode of
# (u, v) by optim() and Newton steps on the log joint density, and
# log p(y) ~ l(mode) + log(2 pi) - log det(-H) / 2. `par` = (b, log su, d,
# log sv) with b the mean's and d the dispersion's coefficients on designs
# X and Xd; `logdens(y, eta, ld)` the rows' log densities. `rowderivs(y,
# eta, ld)`: the rows' first and second derivatives in (eta, ld) as a list
# (e, l, ee, el, ll), written out by hand; without it, numDeriv's (whose
# noise puts the result within about 1e-5). `mean_re = FALSE`: the mean
# has no random intercept; `par` = (b, d, log sv), and the integral is
# over v alone.
reference_location_scale_laplace <- function(par, y, X, Xd, g, logdens, rowderivs = NULL,
                                             mean_re = TRUE) {
  if (!mean_re) {
    par <- c(par[seq_len(ncol(X))], 0, par[-seq_len(ncol(X))])
    rowderivs <- NULL
  }
  lp <- location_scale_predictors(par, X, Xd)
  su <- lp$su
  sv <- lp$sv
  eta0 <- lp$eta0
  ld0 <- lp$ld0
  total <- 0
  if (!mean_re) {
    for (lev in split(seq_along(y), g)) {
      h <- function(v) sum(logdens(y[lev], eta0[lev], ld0[lev] + v)) +
        stats::dnorm(v, 0, sv, log = TRUE)
      v <- stats::optimize(h, c(-10, 10) * sv, maximum = TRUE, tol = 1e-12)$maximum
      for (it in 1:3) v <- v - numDeriv::grad(h, v) / numDeriv::hessian(h, v)[1]
      total <- total + h(v) + 0.5 * log(2 * pi) - 0.5 * log(-numDeriv::hessian(h, v)[1])
    }
    return(total)
  }
  for (lev in split(seq_along(y), g)) {
    h <- function(w) sum(logdens(y[lev], eta0[lev] + w[1], ld0[lev] + w[2])) +
      stats::dnorm(w[1], 0, su, log = TRUE) + stats::dnorm(w[2], 0, sv, log = TRUE)
    grad <- function(w) {
      if (is.null(rowderivs)) return(numDeriv::grad(h, w))
      r <- rowderivs(y[lev], eta0[lev] + w[1], ld0[lev] + w[2])
      c(sum(r$e) - w[1] / su^2, sum(r$l) - w[2] / sv^2)
    }
    hess <- function(w) {
      if (is.null(rowderivs)) return(numDeriv::hessian(h, w))
      r <- rowderivs(y[lev], eta0[lev] + w[1], ld0[lev] + w[2])
      matrix(c(sum(r$ee) - 1 / su^2, sum(r$el), sum(r$el), sum(r$ll) - 1 / sv^2), 2)
    }
    w <- stats::optim(c(0, 0), function(w) -h(w), function(w) -grad(w), method = "BFGS",
                      control = list(reltol = 1e-14, maxit = 500))$par
    for (it in 1:4) w <- w - solve(hess(w), grad(w))
    total <- total + h(w) + log(2 * pi) - 0.5 * determinant(-hess(w))$modulus[[1]]
  }
  total
}

# The exact log-likelihood of a gaussian random-intercept location-scale
# model, par = (b, log su, d, log sv) as above: given the cluster's
# dispersion effect v, y is normal with covariance su^2 J + diag(sigma_j^2)
# (the mean's intercept integrated out in closed form, by the
# Sherman-Morrison identities); v is integrated by integrate() around its
# mode.
exact_gaussian_location_scale <- function(par, y, X, Xd, g) {
  lp <- location_scale_predictors(par, X, Xd)
  sv <- lp$sv
  total <- 0
  for (lev in split(seq_along(y), g)) {
    r <- y[lev] - lp$eta0[lev]
    ldens <- function(v) vapply(v, function(vv) {
      s2 <- exp(2 * (lp$ld0[lev] + vv))
      a <- sum(1 / s2)
      quad <- sum(r^2 / s2) - lp$su^2 * sum(r / s2)^2 / (1 + lp$su^2 * a)
      -0.5 * (length(lev) * log(2 * pi) + sum(log(s2)) + log1p(lp$su^2 * a) + quad) +
        stats::dnorm(vv, 0, sv, log = TRUE)
    }, 0)
    o <- stats::optimize(ldens, c(-8, 8) * sv, maximum = TRUE)
    I <- stats::integrate(function(v) exp(ldens(v) - o$objective), o$maximum - 10 * sv,
                          o$maximum + 10 * sv, rel.tol = 1e-12, subdivisions = 1000L)$value
    total <- total + o$objective + log(I)
  }
  total
}

# The gaussian rows' log densities, and their derivatives in (eta, log
# sigma) by hand.
gaussian_logdens <- function(y, eta, ld) stats::dnorm(y, eta, exp(ld), log = TRUE)

gaussian_rowderivs <- function(y, eta, ld) {
  r <- y - eta
  s <- exp(-2 * ld)
  list(e = r * s, l = -1 + r^2 * s, ee = -s, el = -2 * r * s, ll = -2 * r^2 * s)
}

# A random-intercept location-scale fit's parameters in the reference's
# order: (b, log su, d, log sv), without log su when the mean has no
# random intercept.
location_scale_par <- function(fit) {
  vc <- VarCorr(fit)
  unname(c(fixef(fit), if (!is.null(vc[["g"]])) log(attr(vc[["g"]], "stddev")), fit$aux$disp$coef,
           log(attr(vc[["disp~g"]], "stddev"))))
}

# Longitudinal location-scale data for covariance structures: m subjects
# `id` seen `reps` times at each of `nt` time points (factor `tf`), an arm
# per subject and a row covariate x. The mean's subject-by-time effects
# are AR(1) (SD su, correlation rho), the log dispersion has a subject
# intercept (SD sv) and AR(1) subject-by-time effects (SD sw, correlation
# 0.5). Responses yg (gaussian, log sigma = ld - 1), yn (nbinom2, log
# theta = ld), yG (Gamma log link, log shape = ld + 1), yb (beta, logit
# mean eta - 1, log precision ld + 2).
structured_location_scale_data <- function(m = 80, nt = 4, reps = 3, su = 0.5, rho = 0.6,
                                           sv = 0.4, sw = 0.3, seed = 1) {
  set.seed(seed)
  d <- expand.grid(r = seq_len(reps), time = seq_len(nt), id = factor(seq_len(m)))
  d$arm <- stats::rbinom(m, 1, 0.5)[d$id]
  d$x <- stats::rnorm(nrow(d))
  d$tf <- factor(d$time)
  ar1_draws <- function(s, r) {
    if (s == 0) return(matrix(0, m, nt))
    L <- chol(s^2 * r^abs(outer(seq_len(nt), seq_len(nt), "-")))
    matrix(stats::rnorm(m * nt), m) %*% L
  }
  u <- ar1_draws(su, rho)
  w <- ar1_draws(sw, 0.5)
  v <- stats::rnorm(m, sd = sv)
  cell <- cbind(as.integer(d$id), d$time)
  eta <- 1 + 0.3 * d$arm + u[cell]
  ld <- 0.5 + 0.3 * d$arm + v[d$id] + w[cell]
  d$yg <- stats::rnorm(nrow(d), eta, exp(ld - 1))
  d$yn <- stats::rnbinom(nrow(d), mu = exp(eta), size = exp(ld))
  d$yG <- stats::rgamma(nrow(d), shape = exp(ld + 1), rate = exp(ld + 1 - eta))
  mu <- stats::plogis(eta - 1)
  d$yb <- stats::rbeta(nrow(d), mu * exp(ld + 2), (1 - mu) * exp(ld + 2))
  d
}

# The largest relative difference between the exact gradient of a fit's
# engine (profile_engine(), on its scaled design) and central differences
# of the engine's value, at the estimates moved by `shift` (away from the
# optimum, where the gradient is not zero).
engine_gradient_error <- function(fit, shift) {
  pe <- profile_engine(fit)
  th <- theta_star(as.numeric(fit$theta) + shift, pe$Tx)
  g <- pe$eval(th)$gradient
  num <- vapply(seq_along(th), function(k) {
    e <- replace(numeric(length(th)), k, 1e-5)
    (pe$eval(th + e)$loglik - pe$eval(th - e)$loglik) / 2e-5
  }, 0)
  max(abs(g - num) / pmax(1, abs(num)))
}

# The exact log-likelihood of a random-intercept location-scale model,
# written out independently of the package: per cluster, the double
# integral over the mean's effect u and the dispersion's v of the rows'
# densities, by integrate() within integrate(), centred at the joint mode
# (optim()) and spanning 14 of its conditional SDs each way. `par` and
# `logdens` as for reference_location_scale_laplace(); the clusters'
# values, named by their levels.
reference_location_scale_integral <- function(par, y, X, Xd, g, logdens) {
  lp <- location_scale_predictors(par, X, Xd)
  vapply(split(seq_along(y), g, drop = TRUE), function(lev) {
    k <- length(lev)
    # h(u, v) for a vector u at one v: the rows' log densities summed
    h <- function(u, v) colSums(matrix(logdens(rep(y[lev], length(u)),
                                               lp$eta0[lev] + rep(u, each = k),
                                               lp$ld0[lev] + v), k)) +
      stats::dnorm(u, 0, lp$su, log = TRUE) + stats::dnorm(v, 0, lp$sv, log = TRUE)
    o <- stats::optim(c(0, 0), function(b) -h(b[1], b[2]), method = "BFGS")
    H <- stats::optimHess(o$par, function(b) -h(b[1], b[2]))
    sd_u <- 1 / sqrt(H[1, 1])
    sd_v <- 1 / sqrt(H[2, 2])
    hmax <- -o$value
    inner <- function(v) vapply(v, function(vv)
      stats::integrate(function(u) exp(h(u, vv) - hmax), o$par[1] - 14 * sd_u,
                       o$par[1] + 14 * sd_u, rel.tol = 1e-10, subdivisions = 1000L)$value, 0)
    I <- stats::integrate(inner, o$par[2] - 14 * sd_v, o$par[2] + 14 * sd_v, rel.tol = 1e-9,
                          subdivisions = 1000L)$value
    hmax + log(I)
  }, 0)
}

# Zero-inflated (or hurdle) negative binomial data with a random intercept
# of g in each of the three parts: m clusters of size k, covariates x (mean,
# dispersion) and z (zero part); SDs su (mean), sz (zero part), sv (log
# theta).
three_part_data <- function(m = 40, k = 10, su = 0.4, sz = 0.8, sv = 0.5, hurdle = FALSE,
                            seed = 3) {
  set.seed(seed)
  g <- rep(seq_len(m), each = k)
  d <- data.frame(g = factor(g), x = stats::rnorm(m * k), z = stats::rnorm(m * k))
  mu <- exp(0.5 + 0.4 * d$x + stats::rnorm(m, 0, su)[g])
  pz <- stats::plogis(-1 + 0.5 * d$z + stats::rnorm(m, 0, sz)[g])
  th <- exp(0.7 + 0.3 * d$x + stats::rnorm(m, 0, sv)[g])
  d$y <- if (!hurdle) stats::rnbinom(m * k, mu = mu, size = th) * stats::rbinom(m * k, 1, 1 - pz)
    else ifelse(stats::runif(m * k) < pz, 0, stats::qnbinom(stats::runif(m * k,
                stats::dnbinom(0, mu = mu, size = th), 1), mu = mu, size = th))
  d
}

# The Laplace approximation (`nodes` = 1) or adaptive Gauss-Hermite
# quadrature (`nodes` points per effect) of a model with a random intercept
# of g in the mean, the zero part and the log dispersion, written out
# independently of the package: per cluster, the joint mode of the three
# effects (optim(), twice) and the Hessian there (optimHess()), whose
# Cholesky factor R scales a product grid of probabilists' Gauss-Hermite
# points z (gh_rule_eigen()) centred at the mode: the cluster's integral is
# (2 pi)^(3/2) / |R| * sum_k W_k exp(h(mode + R^-1 z_k) + |z_k|^2 / 2).
# par = (b, log su, gamma, log sz, d, log sv) on designs X, Xz, Xd;
# `logdens(y, eta, zl, ld)` the rows' log densities.
reference_three_part_loglik <- function(par, y, X, Xz, Xd, g, logdens, nodes = 1L) {
  p <- ncol(X)
  pz <- ncol(Xz)
  pd <- ncol(Xd)
  b <- par[seq_len(p)]
  s <- exp(par[c(p + 1, p + pz + 2, p + pz + pd + 3)])
  gm <- par[p + 1 + seq_len(pz)]
  dl <- par[p + pz + 2 + seq_len(pd)]
  eta0 <- drop(X %*% b)
  z0 <- drop(Xz %*% gm)
  d0 <- drop(Xd %*% dl)
  r <- gh_rule_eigen(nodes)
  Z <- as.matrix(expand.grid(r$z, r$z, r$z))
  lW <- log(Reduce(`*`, expand.grid(r$w, r$w, r$w))) + rowSums(Z^2) / 2
  total <- 0
  for (lev in split(seq_along(y), g)) {
    h <- function(w) sum(logdens(y[lev], eta0[lev] + w[1], z0[lev] + w[2], d0[lev] + w[3])) +
      sum(stats::dnorm(w, 0, s, log = TRUE))
    o <- stats::optim(c(0, 0, 0), function(w) -h(w), method = "BFGS",
                      control = list(reltol = 1e-14, maxit = 1000))
    o <- stats::optim(o$par, function(w) -h(w), method = "BFGS",
                      control = list(reltol = 1e-15, maxit = 1000))
    R <- chol(stats::optimHess(o$par, function(w) -h(w)))
    W <- sweep(t(backsolve(R, t(Z))), 2, o$par, `+`)
    lk <- lW + apply(W, 1, h)
    total <- total + max(lk) + log(sum(exp(lk - max(lk)))) + 1.5 * log(2 * pi) -
      sum(log(diag(R)))
  }
  total
}

# The rows' log densities of a zero-inflated (or hurdle) negative binomial
# at (eta, logit of the zero probability, log theta).
three_part_logdens <- function(hurdle = FALSE) function(y, eta, zl, ld) {
  f <- stats::dnbinom(y, size = exp(ld), mu = exp(eta), log = TRUE)
  f0 <- stats::dnbinom(0, size = exp(ld), mu = exp(eta), log = TRUE)
  pz <- stats::plogis(zl)
  if (hurdle) ifelse(y == 0, log(pz), log1p(-pz) + f - log(-expm1(f0)))
  else ifelse(y == 0, log(pz + (1 - pz) * exp(f0)), log1p(-pz) + f)
}

# That the three-part fit `fit` to three_part_data() `d` (zero inflation)
# has reference_three_part_loglik()'s value at `nodes` points within `tol`,
# and is a maximum of that reference: no step of 1e-3 along any parameter
# raises it (the reference's own noise is about 2e-8).
expect_reference_maximum <- function(fit, d, nodes = 1L, tol) {
  X <- cbind(1, d$x)
  Xz <- cbind(1, d$z)
  par <- three_part_par(fit)
  ll <- function(par) reference_three_part_loglik(par, d$y, X, Xz, X, d$g, three_part_logdens(),
                                                  nodes)
  ref <- ll(par)
  expect_lt(abs(as.numeric(logLik(fit)) - ref), tol)
  for (k in seq_along(par)) for (h in c(-1e-3, 1e-3))
    expect_lt(ll(replace(par, k, par[k] + h)), ref + 1e-7)
}

# A three-part fit's parameters in the reference's order.
three_part_par <- function(fit) {
  vc <- VarCorr(fit)
  sd_of <- function(nm) log(attr(vc[[nm]], "stddev"))
  unname(c(fixef(fit), sd_of("g"), fit$aux$zi$coef, sd_of("zi~g"), fit$aux$disp$coef,
           sd_of("disp~g")))
}
