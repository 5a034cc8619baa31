# The start curvature of the two-part and dispersion-formula fits
# (cpp_agq_fixed_curvature(), src/engines/agq/agq-info.cpp): the Hessian in the fixed,
# zero and dispersion coefficients at the modes without the log|H| terms.
# Where those terms vanish it is the exact Hessian of the engine's
# log-likelihood, checked against numerical differentiation of the exact
# gradient: with Lambda = 0 (H = I for every cluster) for every block, and
# for the gaussian family with the identity link (H free of the fixed
# effects) for the fixed effects' rows at any Lambda.

curv_sim <- function(M = 30, ni = 5, seed = 11) {
  set.seed(seed)
  g <- rep(seq_len(M), each = ni)
  x <- rnorm(M * ni)
  w <- rbinom(M * ni, 1, 0.5)
  b <- rnorm(M, 0, 0.6)[g]
  mu <- exp(0.4 + 0.3 * x + b)
  pz <- plogis(-0.7 + w)
  data.frame(g = g, x = x, w = w,
             yp = ifelse(runif(M * ni) < pz, 0, rpois(M * ni, mu)),
             ynb = ifelse(runif(M * ni) < pz, 0, rnbinom(M * ni, size = 2, mu = mu)),
             yg = 1 + 0.5 * x + b + rnorm(M * ni, sd = exp(-0.2 + 0.5 * w)),
             ygam = rgamma(M * ni, shape = 2, rate = 2 / mu))
}

curv_engine <- function(d, y, family, kind, XA, pred, na) {
  fam <- glmmgee:::resolve_family(family)
  n <- nrow(d)
  X <- cbind(1, d$x)
  Z <- cbind(1, d$x)
  eng <- glmmgee:::cpp_agq_new(X, Z, as.numeric(y), rep(1, n), rep(0, n), as.integer(d$g),
                               max(d$g), c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code,
                               fam$link_code, 1L, 1L)
  glmmgee:::cpp_agq_set_aux(eng, kind, XA, pred, matrix(0, n, na))
  eng
}

agq_num_hessian <- function(eng, th)
  num_hessian(function(t) glmmgee:::cpp_agq_eval(eng, t, TRUE)$gradient, th)

test_that("with Lambda = 0 the start curvature is the exact Hessian of every two-part and dispersion model", {
  skip_if_not_installed("numDeriv")
  d <- curv_sim()
  Xw <- cbind(1, d$w)
  cases <- list(
    list(y = d$yp, fam = poisson(), kind = 1L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ynb, fam = glmmgee::nbinom2(), kind = 1L, XA = cbind(Xw, Xw), pred = c(0L, 0L, 1L, 1L), na = 2L),
    list(y = d$yp, fam = poisson(), kind = 2L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ynb, fam = glmmgee::nbinom2(), kind = 2L, XA = cbind(Xw, Xw), pred = c(0L, 0L, 1L, 1L), na = 2L),
    list(y = d$yg, fam = gaussian(), kind = 0L, XA = Xw, pred = c(0L, 0L), na = 1L),
    list(y = d$ygam, fam = Gamma(link = "log"), kind = 0L, XA = Xw, pred = c(0L, 0L), na = 1L))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    eng <- curv_engine(d, cs$y, cs$fam, cs$kind, cs$XA, cs$pred, cs$na)
    set.seed(k)
    th <- c(0.3, 0.2, 0, 0, 0, rnorm(ncol(cs$XA), 0, 0.3))
    fixed <- c(1:2, 5 + seq_len(ncol(cs$XA)))
    H <- agq_num_hessian(eng, th)[fixed, fixed]
    C <- glmmgee:::cpp_agq_fixed_curvature(eng, th)
    expect_equal(dim(C), c(length(fixed), length(fixed)))
    expect_equal(C, H, tolerance = 1e-6, label = sprintf("case %d", k))
    glmmgee:::cpp_agq_free(eng)
  }
})

test_that("for the gaussian family the fixed effects' rows of the start curvature are exact at any Lambda", {
  skip_if_not_installed("numDeriv")
  d <- curv_sim(seed = 12)
  eng <- curv_engine(d, d$yg, gaussian(), 0L, cbind(1, d$w), c(0L, 0L), 1L)
  th <- c(0.9, 0.4, 0.6, 0.1, 0.3, -0.2, 0.5)
  H <- agq_num_hessian(eng, th)[c(1:2, 6:7), c(1:2, 6:7)]
  C <- glmmgee:::cpp_agq_fixed_curvature(eng, th)
  expect_equal(C[1:2, ], H[1:2, ], tolerance = 1e-6)
  # The dispersion block differs by the log|H| terms the start matrix leaves out.
  expect_gt(abs(C[4, 4] - H[4, 4]), 1e-6 * abs(H[4, 4]))
  glmmgee:::cpp_agq_free(eng)
})

test_that("the start curvature needs an engine with auxiliary predictors", {
  d <- curv_sim()
  n <- nrow(d)
  eng <- glmmgee:::cpp_agq_new(cbind(1, d$x), matrix(1, n, 1), as.numeric(d$yp), rep(1, n),
                               rep(0, n), as.integer(d$g), max(d$g), 0L, 0L,
                               glmmgee:::resolve_family(poisson())$family_code,
                               glmmgee:::resolve_family(poisson())$link_code, 1L, 1L)
  expect_error(glmmgee:::cpp_agq_fixed_curvature(eng, c(0, 0, 0.5)), "auxiliary predictors")
  expect_error(glmmgee:::cpp_agq_fixed_curvature(eng, c(0, 0)), "theta must have length 3")
  glmmgee:::cpp_agq_free(eng)
})
