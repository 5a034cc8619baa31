# The several-term LMM's back end: invert_information()'s linear
# algebra in one C++ call (cpp_info_inverse()) and the Newton search handing
# over cpp_lmmsp_final()'s list at its end. Both must give the numbers the R
# code and the extra evaluation gave, to the bit.

# invert_information() as it was written in R (eigen(), solve(),
# raw_condition()), the reference for the C++ call.
invert_information_r <- function(hess, on_boundary, pnames, cond = TRUE) {
  P <- length(pnames)
  V <- matrix(NA_real_, P, P, dimnames = list(pnames, pnames))
  idx <- which(!on_boundary)
  info <- -hess[idx, idx, drop = FALSE]
  dg <- if (anyNA(info)) NA else diag(info)
  if (anyNA(dg) || any(dg <= 0)) return(V)
  s <- 1 / sqrt(dg)
  ss <- tcrossprod(s)
  info_s <- info * ss
  ev <- tryCatch(eigen(info_s, symmetric = TRUE, only.values = TRUE)$values,
                 error = function(e) NA)
  if (anyNA(ev) || min(ev) <= 1e-14 * max(ev)) return(V)
  Vi <- tryCatch(solve(info_s), error = function(e) NULL)
  if (is.null(Vi)) return(V)
  V[idx, idx] <- Vi * ss
  attr(V, "ok") <- TRUE
  if (cond) {
    ev_raw <- eigen(info, symmetric = TRUE, only.values = TRUE)$values
    attr(V, "cond") <- if (min(ev_raw) > 0) max(ev_raw) / min(ev_raw) else Inf
  }
  V
}

test_that("cpp_info_inverse() gives eigen()'s and solve()'s numbers to the bit", {
  inv <- glmmgee:::cpp_info_inverse
  set.seed(30)
  n_ok <- n_fail <- 0
  for (it in 1:400) {
    k <- sample(1:10, 1)
    A <- crossprod(matrix(rnorm(k * (k + sample(0:3, 1))), ncol = k) *
                     exp(rnorm(k, 0, sample(c(0.1, 3, 8), 1))))
    # every fifth: a column nearly proportional to another (singular)
    if (it %% 5 == 0 && k > 1) A[, 1] <- A[1, ] <- A[, k] * (1 + 1e-15)
    A[1, 1] <- A[1, 1] + 0  # keep the diagonal positive
    pn <- paste0("p", seq_len(k))
    H <- -A
    dimnames(H) <- list(pn, pn)
    got <- glmmgee:::invert_information(H, rep(FALSE, k), pn)
    ref <- invert_information_r(H, rep(FALSE, k), pn)
    expect_identical(got, ref)
    if (isTRUE(attr(ref, "ok"))) n_ok <- n_ok + 1 else n_fail <- n_fail + 1
  }
  # both outcomes were reached
  expect_gt(n_ok, 100)
  expect_gt(n_fail, 20)
  # a boundary parameter, cond = FALSE, and NA in the Hessian
  H <- -crossprod(matrix(rnorm(20), 5))
  pn <- letters[1:4]
  dimnames(H) <- list(pn, pn)
  ob <- c(FALSE, TRUE, FALSE, FALSE)
  expect_identical(glmmgee:::invert_information(H, ob, pn, cond = FALSE),
                   invert_information_r(H, ob, pn, cond = FALSE))
  H2 <- H
  H2[1, 2] <- H2[2, 1] <- NA
  expect_identical(glmmgee:::invert_information(H2, rep(FALSE, 4), pn),
                   invert_information_r(H2, rep(FALSE, 4), pn))
  # an infinite entry: eigen() stops in R, no standard errors here either
  H3 <- H
  H3[1, 3] <- H3[3, 1] <- -Inf
  expect_false(isTRUE(attr(glmmgee:::invert_information(H3, rep(FALSE, 4), pn), "ok")))
  # sizes are checked at the boundary
  expect_error(inv(matrix(1, 2, 3), NULL), "square")
  expect_error(inv(diag(2), diag(3)), "2 x 2")
  expect_false(inv(matrix(0, 0, 0), NULL)$ok)
})

test_that("the Newton search hands over the final pieces of its end point", {
  data(Penicillin, Pastes, package = "lme4")
  ns <- asNamespace("glmmgee")
  # Pastes REML: the last step (below 1e-7) is taken, so the engine's
  # factor is the end point's and the list comes with the result;
  # With the exact Hessian the search ends at the point whose Newton step
  # is below 1e-7, that step not taken, so the engine's factor
  # is always the end point's and the list always comes with the result
  # (before, a last step that rounding kept from lowering the criterion, on
  # Penicillin REML and Pastes ML, left it to the fit).
  cases <- list(list(strength ~ 1 + (1 | batch/cask), Pastes, strength ~ batch + cask,
                     c(TRUE, TRUE)),
                list(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin,
                     diameter ~ plate + sample, c(TRUE, TRUE)))
  for (cs in cases) for (reml in c(TRUE, FALSE)) {
    fit <- glmm(cs[[1]], cs[[2]], REML = reml)
    re <- ns$sparse_re_terms(cs[[1]], model.frame(cs[[3]], cs[[2]]), NULL)
    w <- rep(1, nrow(cs[[2]]))
    st <- ns$lmm_sparse_setup(fit$X, fit$y, re, w, 0 * w)
    ms <- ns$lmm_sparse_moment_start(fit$X, fit$y, re, w, 0 * w, st$scale, reml = reml)
    r <- ns$cpp_lmmsp_newton(st$eng, ms, re$lower, 1e-3 * st$scale, st$n, st$p, st$logw,
                             reml, 30L, 300L, ns$lmm_sparse_hess_max_work)
    expect_true(r$ok)
    expect_identical(!is.null(r$final), cs[[4]][[if (reml) 1L else 2L]])
    # the same list as a fresh evaluation at the end point
    if (!is.null(r$final)) expect_identical(r$final, ns$cpp_lmmsp_final(st$eng, r$theta))
    # and the fit's estimates come from that point
    k <- length(fit$theta)
    expect_equal(unname(fit$theta[2:3] / exp(fit$theta[[k]])),
                 r$theta / st$scale, tolerance = 1e-12)
    expect_equal(as.numeric(logLik(fit)), -r$objective / 2, tolerance = 1e-12)
  }
})

test_that("several-term LMM fits agree with lmer where the new paths run", {
  skip_if_not_installed("lme4")
  data(Penicillin, Pastes, package = "lme4")
  for (reml in c(TRUE, FALSE)) {
    f1 <- glmm(strength ~ 1 + (1 | batch/cask), Pastes, REML = reml)
    l1 <- lme4::lmer(strength ~ 1 + (1 | batch/cask), Pastes, REML = reml)
    expect_equal(as.numeric(logLik(f1)), as.numeric(logLik(l1)), tolerance = 1e-7)
    expect_equal(unname(sqrt(diag(vcov(f1)))), unname(sqrt(diag(as.matrix(vcov(l1))))),
                 tolerance = 1e-5)
    # standard errors of the covariance parameters exist and are finite
    expect_true(all(is.finite(diag(f1$cov_theta))))
    expect_true(is.finite(f1$optinfo$hessian_cond))
  }
})

test_that("cpp_la_solve() gives solve()'s numbers to the bit and fails where it stops", {
  las <- glmmgee:::cpp_la_solve
  set.seed(31)
  n_fail <- 0
  for (it in 1:300) {
    k <- sample(1:8, 1)
    A <- matrix(rnorm(k * k), k) * exp(rnorm(k, 0, sample(c(0.1, 4), 1)))
    if (it %% 6 == 0 && k > 1) A[, 1] <- A[, k] * 3  # exactly or numerically singular
    b <- if (it %% 2 == 0) rnorm(k) else matrix(rnorm(2 * k), k)
    ref <- tryCatch(solve(A, b), error = function(e) NULL)
    got <- las(A, b)
    expect_identical(got$ok, !is.null(ref))
    if (!is.null(ref)) expect_identical(got$x, ref) else n_fail <- n_fail + 1
    ref_i <- tryCatch(solve(A), error = function(e) NULL)
    got_i <- las(A, NULL)
    expect_identical(got_i$ok, !is.null(ref_i))
    if (!is.null(ref_i)) expect_identical(got_i$x, ref_i)
  }
  expect_gt(n_fail, 10)
  expect_error(las(matrix(1, 2, 3), NULL), "square")
  expect_error(las(diag(3), 1:4 + 0), "multiple of 3")
  expect_error(las(matrix(0, 0, 0), NULL), "square")
})
