# The search module (R/search.R, R/finite-differences.R): one Newton/BFGS
# loop with named profiles, Newton rounds with refreshed Hessians, the
# nlminb fallback, the finite-difference Hessian and the negative-definite
# repair.

# Logistic regression on simulated data: log-likelihood, exact gradient and
# Hessian, and glm() as the reference optimum.
logistic_problem <- function(n = 400, seed = 11) {
  set.seed(seed)
  X <- cbind(1, rnorm(n), runif(n))
  y <- rbinom(n, 1, plogis(drop(X %*% c(-0.4, 1.2, 0.8))))
  ev <- function(b) {
    eta <- drop(X %*% b)
    list(loglik = sum(y * eta - log1p(exp(eta))), gradient = drop(crossprod(X, y - plogis(eta))))
  }
  hess <- function(b) { p <- plogis(drop(X %*% b)); -crossprod(X, X * (p * (1 - p))) }
  list(X = X, y = y, ev = ev, hess = hess,
       mle = unname(coef(glm(y ~ X - 1, family = binomial, control = list(epsilon = 1e-15)))))
}

test_that("newton_search() reaches a quadratic's maximum in one Newton step and glm()'s optimum under every profile", {
  top <- c(1, -2, 0.5)
  A <- matrix(c(3, 1, 0, 1, 2, 0.5, 0, 0.5, 1), 3)
  ev <- function(th) list(loglik = -0.5 * sum((th - top) * drop(A %*% (th - top))),
                          gradient = -drop(A %*% (th - top)))
  r <- glmmgee:::newton_search(ev, c(0, 0, 0), -A, rep(FALSE, 3), rep(-Inf, 3), maxit = 10,
                               tol = 1e-14)
  expect_true(r$converged)
  expect_equal(r$theta, top, tolerance = 1e-12)
  expect_identical(r$record$iterations, 1L)
  lp <- logistic_problem()
  for (prof in c("default", "agq", "agq_newton", "sparse", "structured", "known_laplace")) {
    # (a fixed Hessian converges linearly: a decrement of 1e-20 relative)
    r <- glmmgee:::newton_search(lp$ev, c(0, 0, 0), lp$hess(c(0, 0, 0)), rep(FALSE, 3),
                                 rep(-Inf, 3), maxit = 200, tol = 1e-20, profile = prof)
    expect_true(r$converged, label = prof)
    expect_equal(r$theta, lp$mle, tolerance = 1e-8, label = prof)
    expect_equal(r$at$loglik, lp$ev(r$theta)$loglik)
  }
  # BFGS from a poor (scaled identity) start matrix still converges and
  # learns the curvature: its final matrix is close to the true Hessian.
  r <- glmmgee:::newton_search(lp$ev, c(0, 0, 0), -diag(3) * 50, rep(FALSE, 3), rep(-Inf, 3),
                               maxit = 100, tol = 1e-14, profile = "sparse")
  expect_true(r$converged)
  expect_equal(r$theta, lp$mle, tolerance = 1e-6)
  expect_equal(r$hessian, lp$hess(r$theta), tolerance = 0.2)
})

test_that("the profile's options are honoured: bound steps, line search, acceptance, first step", {
  # A maximum beyond the bound 0 of the first parameter: each step that
  # would cross it goes `shrink` of the way.
  ev <- function(th) list(loglik = -sum((th - c(-1, 2))^2), gradient = -2 * (th - c(-1, 2)))
  H <- -2 * diag(2)
  tried <- list()
  evt <- function(th) { tried[[length(tried) + 1L]] <<- th; ev(th) }
  r <- glmmgee:::newton_search(evt, c(1, 0), H, c(FALSE, FALSE), c(0, -Inf), maxit = 1,
                               tol = 1e-12, profile = "sparse")
  expect_equal(r$theta[1], 0.5)  # half way to the bound
  tried <- list()
  r <- glmmgee:::newton_search(evt, c(1, 0), H, c(FALSE, FALSE), c(0, -Inf), maxit = 1,
                               tol = 1e-12, profile = "agq")
  expect_equal(r$theta[1], 0.01)  # 0.99 of the way
  # "agq": a second bound step in a row hands over (one step taken);
  # "sparse": up to five in a row, so more steps are taken.
  ra <- glmmgee:::newton_search(ev, c(1, 0), H, c(FALSE, FALSE), c(0, -Inf), maxit = 20,
                                tol = 1e-12, profile = "agq")
  rs <- glmmgee:::newton_search(ev, c(1, 0), H, c(FALSE, FALSE), c(0, -Inf), maxit = 20,
                                tol = 1e-12, profile = "sparse")
  expect_false(ra$converged)
  expect_identical(ra$record$iterations, 1L)
  expect_identical(rs$record$iterations, 5L)
  expect_true(all(rs$theta[1] > 0))
  # The line search: a step too long by a factor of 8 along a quadratic is
  # halved until the value no longer falls (at 0.25) without interpolation,
  # and with it lands at the parabola's maximum at once.
  evq <- function(th) { tried[[length(tried) + 1L]] <<- th; list(loglik = -th^2, gradient = -2 * th) }
  tried <- list()
  glmmgee:::newton_search(evq, 1, matrix(-0.25), FALSE, -Inf, maxit = 1, tol = 1e-12,
                          profile = "agq_newton")
  expect_equal(unlist(tried), c(1, 1 - 8, 1 - 4, 1 - 2))
  tried <- list()
  glmmgee:::newton_search(evq, 1, matrix(-0.25), FALSE, -Inf, maxit = 1, tol = 1e-12,
                          profile = "default")
  expect_equal(tail(unlist(tried), 1), 1 - 8 * 0.125)
  # max_first caps the first step only.
  r <- glmmgee:::newton_search(evq, 10, matrix(-2), FALSE, -Inf, maxit = 1, tol = 1e-12,
                               profile = "default", max_first = 2)
  expect_equal(r$theta, 8)
  # accept: a trial that lowers the value by a relative 1e-11 is taken by
  # "agq" (1e-10), refused by "refresh" (0).
  flat <- function(th) list(loglik = -1 - 1e-11 * (th != 0), gradient = 1)
  expect_identical(glmmgee:::newton_search(flat, 0, matrix(-1), FALSE, -Inf, maxit = 1,
                                           tol = 1e-14, profile = "agq")$record$iterations, 1L)
  expect_identical(glmmgee:::newton_search(flat, 0, matrix(-1), FALSE, -Inf, maxit = 1,
                                           tol = 1e-14, profile = "refresh")$record$iterations, 0L)
  # Unknown profiles and options are refused by name.
  expect_error(glmmgee:::search_profile("fast"), "unknown search profile 'fast'")
  expect_error(glmmgee:::search_profile("agq", shrnk = 0.5), "unknown search option\\(s\\): shrnk")
  expect_identical(glmmgee:::search_profile("agq", shrink = 0.5)$shrink, 0.5)
})

test_that("below the value's rounding noise, \"refresh\" takes a Newton step the exact gradient confirms", {
  # A quadratic maximum at `top` (log-likelihood about -10), the gradient
  # exact, the value at the start rounded up by 1e-8: from 2e-5 off, the
  # Newton step's gain (about 1e-9) is below that noise, and every trial
  # along the step is lower than the start.
  top <- c(0.3, -0.2)
  A <- matrix(c(2, 0.5, 0.5, 1), 2)
  start <- top + c(2e-5, -1e-5)
  ev_with <- function(value, grad) function(th) {
    d <- th - top
    list(loglik = value(d) + 1e-8 * isTRUE(all(th == start)), gradient = grad(d))
  }
  quad <- function(d) -10 - 0.5 * sum(d * drop(A %*% d))
  ev <- ev_with(quad, function(d) -drop(A %*% d))
  expect_lt(ev(top)$loglik, ev(start)$loglik)
  r <- glmmgee:::newton_search(ev, start, -A, c(FALSE, FALSE), rep(-Inf, 2), maxit = 1,
                               tol = 1e-14, profile = "refresh")
  expect_identical(r$record$iterations, 1L)
  expect_true(r$gradient_verified)
  expect_equal(r$theta, top, tolerance = 1e-12)
  # without the option, the step is refused and the search stays 2e-5 off
  off <- glmmgee:::search_profile("refresh", gradient_accept = FALSE)
  r0 <- glmmgee:::newton_search(ev, start, -A, c(FALSE, FALSE), rep(-Inf, 2), maxit = 1,
                                tol = 1e-14, profile = off)
  expect_identical(r0$record$iterations, 0L)
  # a gradient that does not fall along the step does not confirm it
  bad <- ev_with(quad, function(d) -drop(A %*% (start - top)))
  rb <- glmmgee:::newton_search(bad, start, -A, c(FALSE, FALSE), rep(-Inf, 2), maxit = 1,
                                tol = 1e-14, profile = "refresh")
  expect_identical(rb$record$iterations, 0L)
  # nor is a step whose predicted gain is above the noise (1e-7 of
  # |loglik|): from 0.01 off, a value that does not rise refuses it
  far <- top + c(0.01, 0)
  start <- far
  flat <- ev_with(function(d) -10, function(d) -drop(A %*% d))
  rf <- glmmgee:::newton_search(flat, far, -A, c(FALSE, FALSE), rep(-Inf, 2), maxit = 1,
                                tol = 1e-14, profile = "refresh")
  expect_identical(rf$record$iterations, 0L)
  # Newton rounds go on after a confirmed step, and converge
  start <- top + c(2e-5, -1e-5)
  nr <- glmmgee:::newton_refresh(ev, start, function(th, b, cur) -A, function(th) c(FALSE, FALSE),
                                 rep(-Inf, 2), tol = 1e-14, rounds = 5L, steps = 1L,
                                 profile = "refresh")
  expect_true(nr$converged)
  expect_equal(nr$theta, top, tolerance = 1e-12)
})

test_that("a curvature that cannot start the steps hands over to the fallback, which finds the optimum", {
  lp <- logistic_problem()
  H <- lp$hess(c(0, 0, 0))
  bad <- -H  # positive definite: no ascent direction
  r <- glmmgee:::newton_search(lp$ev, c(0, 0, 0), bad, rep(FALSE, 3), rep(-Inf, 3), maxit = 50,
                               tol = 1e-12)
  expect_false(r$converged)
  expect_identical(r$record$message, "Hessian not negative definite")
  expect_false(glmmgee:::newton_search(lp$ev, c(0, 0, 0), NULL, rep(FALSE, 3), rep(-Inf, 3),
                                       maxit = 50, tol = 1e-12)$converged)
  opt <- glmmgee:::nlminb_fallback(lp$ev, c(0, 0, 0), -Inf, H,
                                   list(rel.tol = 1e-10, iter.max = 200, eval.max = 400, trace = 0))
  expect_identical(opt$convergence, 0L)
  expect_equal(opt$par, lp$mle, tolerance = 1e-6)
  # Newton rounds with a Hessian refreshed at each point, from a saddle's
  # curvature (shifted), converge where the fixed matrix could not.
  nr <- glmmgee:::newton_refresh(lp$ev, c(0, 0, 0),
                                 function(th, b, cur) if (all(th == 0)) bad else lp$hess(th),
                                 function(th) rep(FALSE, 3), rep(-Inf, 3), tol = 1e-14)
  expect_true(nr$converged)
  expect_equal(nr$theta, lp$mle, tolerance = 1e-8)
  expect_match(nr$record$message, "converged")
  # One step a round: the last Hessian, taken at the optimum, is returned.
  nr1 <- glmmgee:::newton_refresh(lp$ev, c(0, 0, 0), function(th, b, cur) lp$hess(th),
                                  function(th) rep(FALSE, 3), rep(-Inf, 3), tol = 1e-14,
                                  rounds = 20L, steps = 1L, profile = "refresh")
  expect_true(nr1$converged)
  expect_equal(nr1$hessian, lp$hess(nr1$theta))
  # The iteration limit is honoured and said.
  nl <- glmmgee:::newton_refresh(lp$ev, c(0, 0, 0), function(th, b, cur) lp$hess(th),
                                 function(th) rep(FALSE, 3), rep(-Inf, 3), tol = 1e-14,
                                 steps = 1L, maxiter = 1)
  expect_false(nl$converged)
  expect_match(nl$record$message, "iteration limit")
})

test_that("a search stopped by the iteration limit is recorded in $optinfo$warnings", {
  skip_if_not_installed("lme4")
  data(cbpp, package = "lme4", envir = environment())
  cbpp$obs <- factor(seq_len(nrow(cbpp)))
  form <- cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)
  f <- suppressWarnings(glmm(form, data = cbpp, family = binomial,
                             control = glmm_control(iter.max = 1)))
  expect_true(any(grepl("did not converge", f$optinfo$warnings)))
  expect_false(identical(f$optinfo$convergence, 0L))
  ok <- glmm(form, data = cbpp, family = binomial)
  expect_identical(ok$optinfo$convergence, 0L)
  expect_length(ok$optinfo$warnings, 0L)
})

test_that("fd_hessian() matches the analytic Hessian by forward, central and value differences", {
  lp <- logistic_problem()
  b <- c(-0.3, 1, 0.7)
  Ha <- lp$hess(b)
  gr <- function(th) lp$ev(th)$gradient
  Hf <- glmmgee:::fd_hessian(gr, b)
  Hc <- glmmgee:::fd_hessian(gr, b, "central", floor = 1)
  Hv <- glmmgee:::fd_hessian(function(th) lp$ev(th)$loglik, b, "values", step = 1e-4)
  expect_equal(Hf, Ha, tolerance = 1e-4)
  expect_equal(Hc, Ha, tolerance = 1e-8)
  expect_equal(Hv, Ha, tolerance = 1e-5)
  expect_true(isSymmetric(Hf) && isSymmetric(Hc) && isSymmetric(Hv))
  # central differences are the more accurate ones
  expect_lt(max(abs(Hc - Ha)), max(abs(Hf - Ha)))
  # g0 given: one evaluation per coordinate
  n <- 0L
  grc <- function(th) { n <<- n + 1L; gr(th) }
  glmmgee:::fd_hessian(grc, b, g0 = gr(b))
  expect_identical(n, 3L)
  # A coordinate on its bound: its column NA, its row kept, not evaluated.
  n <- 0L
  Hb <- glmmgee:::fd_hessian(grc, b, g0 = gr(b), on_boundary = c(FALSE, FALSE, TRUE))
  expect_identical(n, 2L)
  expect_true(all(is.na(Hb[, 3])))
  expect_equal(Hb[1:2, 1:2], Ha[1:2, 1:2], tolerance = 1e-4)
  expect_equal(Hb[3, 1:2], Ha[3, 1:2], tolerance = 1e-4)
  # the step is relative to the parameter, floored: a parameter of 1e6
  # gets the same relative accuracy
  q <- function(th) c(-2 * th[1] / 1e12, -2 * th[2])
  expect_equal(glmmgee:::fd_hessian(q, c(1e6, 0)), diag(c(-2e-12, -2)), tolerance = 1e-6)
})

test_that("negative_definite() mirrors or shifts an indefinite curvature and leaves a negative definite one alone", {
  H <- -crossprod(matrix(c(2, 1, 0, 1, 3, 1, 0, 1, 1), 3))
  expect_identical(glmmgee:::negative_definite(H, rep(FALSE, 3)), H)
  R <- qr.Q(qr(matrix(c(1, 2, 0, -1, 1, 3, 2, 0, 1), 3)))
  Hi <- R %*% diag(c(-5, -2, 3)) %*% t(R)
  Hm <- glmmgee:::negative_definite(Hi, rep(FALSE, 3))
  expect_equal(sort(eigen(Hm, symmetric = TRUE)$values), c(-5, -3, -2), tolerance = 1e-10)
  # eigenvectors kept: the mirrored matrix commutes with the original
  expect_equal(Hm %*% Hi, Hi %*% Hm, tolerance = 1e-10)
  # floored at a fraction of the largest curvature
  H0 <- R %*% diag(c(-5, -2, 1e-9)) %*% t(R)
  e0 <- eigen(glmmgee:::negative_definite(H0, rep(FALSE, 3), floor = 1e-3), symmetric = TRUE)$values
  expect_equal(max(e0), -5e-3, tolerance = 1e-8)
  # accept: a curvature whose least eigenvalue is small is kept or repaired
  Hs <- R %*% diag(c(-5, -2, -1e-4)) %*% t(R)
  expect_identical(glmmgee:::negative_definite(Hs, rep(FALSE, 3)), Hs)
  expect_false(identical(glmmgee:::negative_definite(Hs, rep(FALSE, 3), accept = 1e-3), Hs))
  # the Levenberg-Marquardt shift: negative definite, eigenvectors kept
  S <- glmmgee:::negative_definite(Hi, rep(FALSE, 3), how = "shift")
  expect_equal(sort(eigen(S, symmetric = TRUE)$values), c(-5, -2, 3) - 3 - 5e-3,
               tolerance = 1e-10)
  # parameters on their bound are left out; the default takes them from NA
  Hb <- Hi
  Hb[3, ] <- Hb[, 3] <- NA
  for (how in c("mirror", "shift")) {
    Hbm <- glmmgee:::negative_definite(Hb, c(FALSE, FALSE, TRUE), how = how)
    expect_true(all(eigen(Hbm[1:2, 1:2], symmetric = TRUE)$values < 0))
    expect_true(is.na(Hbm[3, 3]))
    expect_identical(glmmgee:::negative_definite(Hb, how = how), Hbm)
    # missing values among the free parameters: nothing to repair
    expect_null(glmmgee:::negative_definite(Hb, rep(FALSE, 3), how = how))
  }
  expect_null(glmmgee:::negative_definite(matrix(0, 2, 2), c(FALSE, FALSE)))
})
