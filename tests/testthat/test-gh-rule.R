# Gauss-Hermite rules for the standard normal weight: exactness on
# polynomials, symmetry, and agreement with an independent Golub-Welsch
# computation written here in R.

double_factorial_odd <- function(m) if (m <= 0) 1 else prod(seq(2 * m - 1, 1, by = -2))

# The independent rule is gh_rule_eigen() in helper-glmm-fits.R: R's eigen()
# (LAPACK), not the engine's Eigen solver.

test_that("weights are positive, sum to one, and the rule is symmetric", {
  for (K in 1:30) {
    r <- glmmgee:::cpp_gh_rule(K)
    expect_length(r$z, K)
    expect_length(r$w, K)
    expect_true(all(r$w > 0), info = paste("K =", K))
    expect_equal(sum(r$w), 1, tolerance = 1e-14, info = paste("K =", K))
    expect_false(is.unsorted(r$z, strictly = TRUE), info = paste("K =", K))
    expect_identical(r$z, -rev(r$z), info = paste("K =", K))
    # Weights are symmetric in log space; the exp() back to the weight scale
    # may differ by an ulp between vectorized and scalar evaluation.
    expect_equal(r$w, rev(r$w), tolerance = 4 * .Machine$double.eps,
                 info = paste("K =", K))
    if (K %% 2 == 1) expect_identical(r$z[(K + 1) / 2], 0)
  }
})

test_that("K points integrate polynomials of degree <= 2K - 1 exactly", {
  for (K in 1:30) {
    r <- glmmgee:::cpp_gh_rule(K)
    for (j in 0:(2 * K - 1)) {
      approx <- sum(r$w * r$z^j)
      if (j %% 2 == 0) {
        # E Z^(2m) = (2m - 1)!!
        expect_equal(approx, double_factorial_odd(j / 2), tolerance = 1e-12,
                     info = sprintf("K = %d, degree %d", K, j))
      } else {
        # Odd moments vanish; compare with the size of the terms summed.
        scale <- sum(r$w * abs(r$z)^j)
        expect_lte(abs(approx), 1e-14 * max(scale, 1),
                   label = sprintf("odd moment, K = %d, degree %d", K, j))
      }
    }
    # ... and not degree 2K: the rule is exactly of degree 2K - 1.
    if (K <= 10)
      expect_gt(abs(sum(r$w * r$z^(2 * K)) / double_factorial_odd(K) - 1), 1e-6)
  }
})

test_that("nodes and weights agree with an independent Golub-Welsch computation", {
  for (K in 1:30) {
    r <- glmmgee:::cpp_gh_rule(K)
    ref <- gh_rule_eigen(K)
    expect_equal(r$z, ref$z, tolerance = 1e-13, info = paste("K =", K))
    # Relative agreement for every weight, including the tiny tail weights.
    expect_lt(max(abs(r$w / ref$w - 1)), 1e-11, label = paste("weights, K =", K))
  }
})

test_that("invalid K is rejected", {
  expect_error(glmmgee:::cpp_gh_rule(0), "K must be")
  expect_error(glmmgee:::cpp_gh_rule(201), "K must be")
})
