# The several-term LMM's Newton search and its standard errors' central
# differences run in C++ (src/engines/lmm/lmm-sparse-newton.cpp) with the arithmetic of
# the R loops they replace. Each is checked here against that R loop, kept
# as the reference: the same points, hence results equal to the bit.

# The R search of lmm_sparse_newton() before the loop moved to C++ (the
# criterion and exact gradient from lmm_sparse_objective()).
sparse_newton_r <- function(obj, lower, start, floor, control, maxit = 30L) {
  k <- length(start)
  bnd <- is.finite(lower)
  th <- start
  fv <- obj$fn(th)
  g <- obj$gr(th)
  ncall <- 1L
  budget <- min(control$eval.max, 10L * control$iter.max)
  if (!is.finite(fv) || !all(is.finite(g))) return(NULL)
  for (it in seq_len(min(maxit, control$iter.max))) {
    if (ncall + k + 8L > budget) return(NULL)
    if (any(bnd & th < lower + floor)) return(NULL)
    h <- 1e-6 * pmax(abs(th), floor)
    H <- vapply(seq_len(k), function(j) (obj$gr(replace(th, j, th[j] + h[j])) - g) / h[j],
                numeric(k))
    ncall <- ncall + k
    H <- (matrix(H, k) + t(matrix(H, k))) / 2
    R <- if (all(is.finite(H))) tryCatch(chol(H), error = function(e) NULL)
    if (is.null(R)) return(NULL)
    d <- -backsolve(R, forwardsolve(t(R), g))
    slope <- sum(g * d)
    small <- max(abs(d)) < 1e-7
    a <- 1
    repeat {
      tn <- th + a * d
      if (any(bnd & tn < lower)) {
        a <- a / 2
        if (a < 1e-3) return(NULL)
        next
      }
      fn <- obj$fn(tn)
      ncall <- ncall + 1L
      if (is.finite(fn) && fn <= fv + 1e-4 * a * slope) break
      if (small) {
        tn <- NULL
        break
      }
      a <- a / 2
      if (a < 1e-3) return(NULL)
    }
    if (!is.null(tn)) {
      gn <- obj$gr(tn)
      if (!all(is.finite(gn))) return(NULL)
      th <- tn; fv <- fn; g <- gn
    }
    if (small)
      return(list(theta = th, objective = fv, iterations = it, evaluations = ncall,
                  nstep = max(abs(d)), gmax = max(abs(g))))
  }
  NULL
}

sparse_newton_setup <- function(formula, data, w = NULL, off = NULL) {
  mf <- model.frame(reformulas::subbars(formula), data)
  X <- model.matrix(reformulas::nobars(formula), mf)
  re <- glmmgee:::sparse_re_terms(formula, mf)
  y <- model.response(mf)
  n <- length(y)
  w <- if (is.null(w)) rep(1, n) else w
  off <- if (is.null(off)) rep(0, n) else off
  st <- glmmgee:::lmm_sparse_setup(X, y, re, w, off)
  list(st = st, re = re, X = X, y = y, w = w, off = off)
}

sparse_newton_cases <- function() {
  data(Penicillin, Pastes, sleepstudy, package = "lme4")
  set.seed(28)
  n <- 600
  d <- data.frame(a = factor(sample(25, n, TRUE)), b = factor(sample(15, n, TRUE)), x = rnorm(n))
  d$y <- 1 + 0.5 * d$x + rnorm(25)[d$a] + 0.7 * rnorm(15)[d$b] + rnorm(n)
  w <- runif(n, 0.5, 2)
  off <- rnorm(n, sd = 0.2)
  # no variance between the levels of `a`: the search heads for the bound
  s <- d
  s$y <- 1 + 0.5 * s$x + 0.7 * rnorm(15)[s$b] + rnorm(n)
  ss <- sleepstudy
  ss$h <- factor(rep(1:6, length.out = nrow(ss)))
  list(pen = list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, NULL, NULL),
       pastes = list(strength ~ 1 + (1 | batch/cask), Pastes, NULL, NULL),
       crossed_w = list(y ~ x + (1 | a) + (1 | b), d, w, off),
       singular = list(y ~ x + (1 | a) + (1 | b), s, NULL, NULL),
       slope = list(Reaction ~ Days + (Days | Subject) + (1 | h), ss, NULL, NULL))
}

test_that("the C++ Newton search is the R loop's, to the bit (and gives up where it gave up)", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("reformulas")
  ctl <- glmmgee::glmm_control()
  gave_up <- 0L
  for (cs in sparse_newton_cases()[c("pen", "pastes", "crossed_w", "singular")]) {
    s <- sparse_newton_setup(cs[[1]], cs[[2]], cs[[3]], cs[[4]])
    st <- s$st
    ms <- glmmgee:::lmm_sparse_moment_start(s$X, s$y, s$re, s$w, s$off, st$scale)
    expect_false(is.null(ms))
    for (reml in c(TRUE, FALSE)) {
      starts <- list(ms, ms * 1.5, ms * c(0.3, 2))
      for (start in starts) {
        obj <- glmmgee:::lmm_sparse_objective(st$eng, st$n, st$p, st$logw, reml,
                                              glmmgee:::lmm_sparse_grad_after)
        ref <- sparse_newton_r(obj, s$re$lower, start, 1e-3 * st$scale, ctl)
        # the differences' path (M's blocks too large for the exact Hessian)
        new <- glmmgee:::lmm_sparse_newton(st$eng, st$n, st$p, st$logw, reml, s$re$lower,
                                           start, 1e-3 * st$scale, ctl, hess_max_work = 0)
        expect_identical(is.null(new), is.null(ref))
        if (is.null(ref)) {
          gave_up <- gave_up + 1L
          next
        }
        expect_identical(new$theta, ref$theta)
        expect_identical(new$objective, ref$objective)
        expect_identical(new$runs[[1L]]$iterations, ref$iterations)
        expect_identical(new$runs[[1L]]$evaluations[["function"]], ref$evaluations)
        expect_identical(new$verification$nstep, ref$nstep)
        expect_identical(new$verification$gmax, ref$gmax)
        # a converged search: the exact gradient is small at its end
        expect_lt(ref$gmax, 1e-4)
      }
    }
    # a budget too small gives up, as the R loop did
    small <- glmmgee::glmm_control(eval.max = 5)
    expect_null(glmmgee:::lmm_sparse_newton(st$eng, st$n, st$p, st$logw, TRUE, s$re$lower, ms,
                                            1e-3 * st$scale, small, hess_max_work = 0))
    expect_null(sparse_newton_r(glmmgee:::lmm_sparse_objective(st$eng, st$n, st$p, st$logw, TRUE,
                                                                  glmmgee:::lmm_sparse_grad_after),
                                   s$re$lower, ms, 1e-3 * st$scale, small))
  }
  # the singular data's search heads for the bound and gives up in both
  expect_gt(gave_up, 0L)
  expect_error(glmmgee:::cpp_lmmsp_newton(st$eng, c(1, 1, 1), s$re$lower, rep(1e-3, 2), st$n,
                                          st$p, st$logw, TRUE, 30L, 300L, 0), "theta has length 3")
})

test_that("the C++ central differences of the loglik's gradient are the R ones, to the bit", {
  skip_if_not_installed("lme4")
  skip_if_not_installed("reformulas")
  for (cs in sparse_newton_cases()) {
    s <- sparse_newton_setup(cs[[1]], cs[[2]], cs[[3]], cs[[4]])
    st <- s$st
    k <- s$re$ntheta + 1L
    x0 <- c(seq(0.4, 1.3, length.out = k - 1L) * 2, log(2))
    h <- 1e-4 * pmax(abs(x0), 1e-2)
    for (reml in c(TRUE, FALSE)) for (sub in list(seq_len(k), seq_len(k)[-1L])) {
      ref <- vapply(sub, function(j) {
        e <- replace(numeric(k), j, h[j])
        (glmmgee:::lmm_sparse_loglik_grad(st, x0 + e, reml) -
           glmmgee:::lmm_sparse_loglik_grad(st, x0 - e, reml)) / (2 * h[j])
      }, numeric(k))
      new <- glmmgee:::cpp_lmmsp_loglik_hessian(st$eng, x0, h, sub, st$scale, st$n, st$p, reml)
      expect_identical(new, ref)
      # and it is the loglik's Hessian
      if (length(sub) == k && requireNamespace("numDeriv", quietly = TRUE))
        expect_equal((new + t(new)) / 2,
                     numDeriv::hessian(function(x) glmmgee:::lmm_sparse_loglik(st, x, reml), x0),
                     tolerance = 1e-5)
    }
  }
  expect_error(glmmgee:::cpp_lmmsp_loglik_hessian(st$eng, x0, h[-1L], 1L, st$scale, st$n, st$p,
                                                  TRUE), "'h' must have")
  expect_error(glmmgee:::cpp_lmmsp_loglik_hessian(st$eng, x0, h, k + 1L, st$scale, st$n, st$p,
                                                  TRUE), "'which' must lie")
})

test_that("fits by the C++ search reach lmer's optimum, REML and ML, weights and offsets", {
  skip_if_not_installed("lme4")
  for (cs in sparse_newton_cases()[c("pen", "pastes", "crossed_w")]) {
    d <- cs[[2]]
    d$.w <- if (is.null(cs[[3]])) 1 else cs[[3]]
    d$.o <- if (is.null(cs[[4]])) 0 else cs[[4]]
    for (reml in c(TRUE, FALSE)) {
      g <- glmmgee::glmm(cs[[1]], d, REML = reml, weights = .w, offset = .o)
      l <- lme4::lmer(cs[[1]], d, REML = reml, weights = .w, offset = .o)
      expect_identical(g$optinfo$optimizer, "Newton (profiled criterion, exact gradient)")
      expect_gt(as.numeric(logLik(g)) - as.numeric(logLik(l)), -1e-7)
      # lmer stops short of the optimum (Penicillin REML: our log-likelihood
      # 4.3e-9 higher), its standard error 2.7e-5 relative from ours there.
      expect_equal(unname(sqrt(diag(vcov(g)))), unname(sqrt(diag(as.matrix(vcov(l))))),
                   tolerance = 1e-4)
      expect_true(all(is.finite(sqrt(diag(g$cov_theta)))))
    }
  }
})
