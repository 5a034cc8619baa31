# `start` for fits with covariance structures: a vector laid out as a fit's
# $theta_structure (fixed effects, each term's structure parameters, then
# the log dispersion or a two-part fit's zero and dispersion coefficients),
# in the user's units, on every structured route.

covstruct_start_data <- function(seed = 3, n_id = 80, nt = 4) {
  set.seed(seed)
  d <- data.frame(id = factor(rep(seq_len(n_id), each = nt)), time = factor(rep(seq_len(nt), n_id)),
                  site = factor(rep(sample(1:10, n_id, TRUE), each = nt)))
  d$x <- rnorm(nrow(d))
  # AR(1) effects over the times, rho 0.6, and a site intercept
  R <- 0.8 * 0.6^abs(outer(seq_len(nt), seq_len(nt), "-"))
  U <- t(chol(R) %*% matrix(rnorm(nt * n_id), nt))
  ui <- U[cbind(as.integer(d$id), as.integer(d$time))]
  s <- rnorm(10, 0, 0.8)
  d$count <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + ui + s[d$site]))
  d$zic <- d$count * rbinom(nrow(d), 1, 0.7)
  d$cont <- 1 + 0.5 * d$x + ui + s[d$site] + rnorm(nrow(d))
  d
}

# The fit from its own estimates ends there, in fewer evaluations than from
# the default start (a start mapped wrongly to the search's scale would not
# begin at the optimum); from other values it reaches the same optimum.
expect_start_reaches_fit <- function(call, env = parent.frame(), moved = TRUE) {
  f <- eval(call, env)
  cl <- call
  cl$start <- f$theta_structure
  g <- eval(cl, env)
  lab <- deparse1(call)
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(f)), tolerance = 1e-8, label = lab)
  expect_equal(g$theta_structure, f$theta_structure, tolerance = 1e-5, label = lab)
  expect_lt(g$optinfo$evaluations, f$optinfo$evaluations, label = lab)
  if (moved) {
    cl$start <- f$theta_structure * 0.8 + 0.05
    h <- eval(cl, env)
    expect_equal(as.numeric(logLik(h)), as.numeric(logLik(f)), tolerance = 1e-7, label = lab)
    # (the engine's parameters: Lambda's entries, which stay put where a
    # correlation sits at its limit and its parameter is flat)
    expect_equal(h$theta, f$theta, tolerance = 1e-4, label = lab)
  }
  invisible(f)
}

test_that("one grouping factor, Laplace and quadrature: a start is taken in the user's units", {
  d <- covstruct_start_data()
  expect_start_reaches_fit(quote(glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson,
                                      nAGQ = 1)))
  expect_start_reaches_fit(quote(glmm(count ~ x + cs(0 + time | id), data = d, family = poisson,
                                      nAGQ = 2)))
  # columns rescaled for the search (covstruct_z_scaling()): the start's
  # log standard deviations shift with them
  expect_start_reaches_fit(quote(glmm(count ~ x + diag(I(x * 1e-4) | id), data = d,
                                      family = poisson)))
  # y in units 1e-5 and far from zero (fitted as (y - X b0) / s): the start
  # is the user's; from a start moved by a fifth in those units the search
  # is not asked to succeed
  expect_start_reaches_fit(quote(glmm(I(cont * 1e-5 + 3) ~ x + ar1(0 + time | site), data = d)),
                           moved = FALSE)
})

test_that("several grouping factors: the sparse Laplace route and the profiled ML and REML criteria", {
  d <- covstruct_start_data()
  expect_start_reaches_fit(quote(glmm(count ~ x + ar1(0 + time | id) + (1 | site), data = d,
                                      family = poisson)))
  # (gaussian: the AR(1) over the sites' times, several rows per site and
  # time, beside each id's intercept)
  expect_start_reaches_fit(quote(glmm(cont ~ x + (1 | id) + ar1(0 + time | site), data = d)))
  expect_start_reaches_fit(quote(glmm(cont ~ x + (1 | id) + ar1(0 + time | site), data = d,
                                      REML = TRUE)))
  # penalized fixed effects beside a structure (the sparse Laplace route)
  expect_start_reaches_fit(quote(glmm(count ~ x + ar1(0 + time | id) + (1 | site), data = d,
                                      family = poisson, penalized = TRUE)), moved = FALSE)
})

test_that("two-part fits: structures in the conditional, zero and dispersion parts", {
  d <- covstruct_start_data()
  expect_start_reaches_fit(quote(glmm(zic ~ x + ar1(0 + time | id), ziformula = ~ x, data = d,
                                      family = poisson)))
  expect_start_reaches_fit(quote(glmm(zic ~ x + (1 | id), ziformula = ~ x + ar1(0 + time | id),
                                      data = d, family = poisson)))
  expect_start_reaches_fit(quote(glmm(zic ~ x + homdiag(0 + time | id), ziformula = ~ x + (1 | id),
                                      data = d, family = poisson, nAGQ = 2)))
  expect_start_reaches_fit(quote(glmm(cont ~ x + ar1(0 + time | site), dispformula = ~ x, data = d)))
})

test_that("a start of the wrong length, or where the likelihood is not finite, is refused", {
  d <- covstruct_start_data()
  expect_error(glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson, start = c(1, 2)),
               "'start' must be 4 finite numbers laid out as a fit's \\$theta_structure: \\(Intercept\\), x, ar1\\(0 \\+ time \\| id\\): log\\(sd\\)")
  expect_error(glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson,
                    start = c(1, NA, 0, 0)), "'start' must be 4 finite numbers")
  expect_error(glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson,
                    start = c(1, 2, 800, 0)),
               "'start': the log-likelihood is not finite at the given starting values")
  expect_error(glmm(cont ~ x + (1 | id) + ar1(0 + time | site), data = d, REML = TRUE,
                    start = 1:3), "'start' must be 6 finite numbers")
  expect_error(glmm(zic ~ x + ar1(0 + time | id), ziformula = ~ x, data = d, family = poisson,
                    start = 1:3), "'start' must be 6 finite numbers.*zi~x")
})

test_that("update() refits a structured fit from its estimates", {
  d <- covstruct_start_data()
  f <- glmm(count ~ x + ar1(0 + time | id) + (1 | site), data = d, family = poisson)
  g <- update(f, start = f$theta_structure)
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(f)), tolerance = 1e-8)
  expect_equal(fixef(g), fixef(f), tolerance = 1e-6)
})

test_that("a named start is taken by name; starts a structure cannot take say why", {
  d <- covstruct_start_data()
  f <- glmm(count ~ x + ar1(0 + time | id), data = d, family = poisson)
  ts <- f$theta_structure
  # the names of the layout in another order: by name, not by position
  g <- update(f, start = ts[c(3, 4, 1, 2)])
  expect_equal(as.numeric(logLik(g)), as.numeric(logLik(f)), tolerance = 1e-8)
  expect_lt(g$optinfo$evaluations, f$optinfo$evaluations)
  # mat()'s smoothness beyond its limit is named, not "smaller standard deviations"
  pd <- panel_data(5, 30, 4L, 6L, 0.4)
  e <- pd$d
  e$tt <- numFactor(c(0, 1, 2.5, 4)[e$t])
  e$y <- rpois(nrow(e), exp(0.3 + 0.4 * e$x + pd$u[cbind(e$t, as.integer(e$g))]))
  expect_error(glmm(y ~ x + mat(0 + tt | g), data = e, family = poisson, nAGQ = 1,
                    start = c(0.3, 0.4, 0, 0, log(5000))),
               "'start': mat\\(\\): the smoothness is beyond 1e3")
  # a two-column cs() far from zero by quadrature is fitted on centred
  # columns, whose parameters are not cs()'s
  d$xb <- d$x + 1e4
  expect_error(glmm(count ~ x + cs(1 + xb | id), data = d, family = poisson, nAGQ = 3,
                    start = c(0, 0, 0, 0, 0)),
               "'start' is not available for cs\\(1 \\+ xb \\| id\\).*centred columns")
  # by Laplace it is searched as the unstructured term and mapped back:
  # its $theta_structure carries cs()'s names, which a start can use
  f1 <- glmm(count ~ x + cs(1 + xb | id), data = d, family = poisson, nAGQ = 1)
  expect_identical(names(f1$theta_structure)[3:5],
                   paste0("cs(1 + xb | id): ", c("log(sd((Intercept)))", "log(sd(xb))",
                                                 "rho (logit scale)")))
  expect_equal(exp(f1$theta_structure[[4L]]), sqrt(VarCorr(f1)$id[2L, 2L]), tolerance = 1e-8)
})
