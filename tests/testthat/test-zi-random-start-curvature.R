# The engine with random effects in both parts (src/engines/agq/agq-zero-re*): its start
# curvature (cpp_two_part_fixed_curvature(), agq-zero-re-info.cpp), the Hessian in
# (beta, gamma, delta) at the modes without the log|H| terms, is the exact
# Hessian where those terms vanish (Lambda = 0, H = I in every cluster),
# checked against numerical differentiation of the exact gradient; and an
# evaluation does not depend on where the mode search starts (the modes
# moved to first order from the last gradient evaluation, or from zero in a
# new engine). Data from zi_random_sim() (helper-zi-random-data.R).

# An engine with a random intercept in each part (independent: Lambda
# diagonal) for family fam and kind (1 zero-inflated, 2 hurdle).
zi_random_curv_engine <- function(d, y, fam, kind) {
  fam <- glmmgee:::resolve_family(fam)
  n <- nrow(d)
  pd <- if (glmmgee:::has_dispersion(fam)) 1L else 0L
  glmmgee:::cpp_two_part_new(cbind(1, d$x), matrix(1, n, 1), matrix(1, n, 1), cbind(1, d$w),
                         matrix(1, n, pd), as.numeric(y), rep(1, n), matrix(0, n, 3),
                         as.integer(d$g), nlevels(factor(d$g)), c(0L, 1L), c(0L, 1L), fam$family_code,
                         fam$link_code, kind, 1L, 1L)
}

test_that("with Lambda = 0 the two-part start curvature is the exact Hessian in (beta, gamma, delta)", {
  skip_if_not_installed("numDeriv")
  d <- zi_random_sim(M = 30, ni = 6, seed = 21)
  dnb <- zi_random_sim(M = 30, ni = 6, seed = 21, nb = TRUE)
  cases <- list(list(y = d$y, fam = poisson(), kind = 1L),
                list(y = d$y, fam = poisson(), kind = 2L),
                list(y = dnb$y, fam = glmmgee::nbinom2(), kind = 1L),
                list(y = dnb$y, fam = glmmgee::nbinom2(), kind = 2L))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    eng <- zi_random_curv_engine(d, cs$y, cs$fam, cs$kind)
    set.seed(k)
    pd <- if (identical(cs$fam$family, "nbinom2")) 1L else 0L
    th <- c(0.3, 0.2, 0, 0, rnorm(2 + pd, 0, 0.3))
    fixed <- c(1:2, 4L + seq_len(2L + pd))
    H <- numDeriv::jacobian(function(t) glmmgee:::cpp_two_part_eval(eng, t, TRUE)$gradient, th)
    H <- ((H + t(H)) / 2)[fixed, fixed]
    C <- glmmgee:::cpp_two_part_fixed_curvature(eng, th)
    expect_equal(dim(C), c(length(fixed), length(fixed)))
    expect_equal(C, H, tolerance = 1e-6, label = sprintf("case %d", k))
  }
})

test_that("away from Lambda = 0 the start curvature leaves out the log|H| terms", {
  skip_if_not_installed("numDeriv")
  d <- zi_random_sim(M = 30, ni = 6, seed = 22)
  eng <- zi_random_curv_engine(d, d$y, poisson(), 1L)
  th <- c(0.4, 0.3, 0.6, 0.8, -0.5, 0.9)
  H <- numDeriv::jacobian(function(t) glmmgee:::cpp_two_part_eval(eng, t, TRUE)$gradient, th)
  C <- glmmgee:::cpp_two_part_fixed_curvature(eng, th)
  expect_true(all(eigen(C, symmetric = TRUE)$values < 0))
  expect_gt(abs(C[1, 1] - H[1, 1]), 1e-6 * abs(H[1, 1]))
  expect_error(glmmgee:::cpp_two_part_fixed_curvature(eng, th[-1]), "theta must have length 6")
})

test_that("an evaluation does not depend on the mode search's start", {
  d <- zi_random_sim(M = 30, ni = 6, seed = 23)
  th1 <- c(0.4, 0.3, 0.6, 0.8, -0.5, 0.9)
  th2 <- th1 + c(0.3, -0.2, 0.25, -0.3, 0.4, -0.3)
  for (K in c(1L, 5L)) {
    warm <- zi_random_curv_engine(d, d$y, poisson(), 1L)
    glmmgee:::cpp_two_part_set_nagq(warm, K)
    glmmgee:::cpp_two_part_eval(warm, th1, TRUE)  # modes and their derivatives at th1
    a <- glmmgee:::cpp_two_part_eval(warm, th2, TRUE)
    cold <- zi_random_curv_engine(d, d$y, poisson(), 1L)
    glmmgee:::cpp_two_part_set_nagq(cold, K)
    b <- glmmgee:::cpp_two_part_eval(cold, th2, TRUE)
    expect_equal(a$loglik, b$loglik, tolerance = 1e-12)
    expect_equal(a$gradient, b$gradient, tolerance = 1e-8)
    expect_equal(a$newton_failures, 0L)
  }
})
