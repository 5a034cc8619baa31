# The verification of a boundary or stalled optimum by restarts from the
# interior (verify_boundary(), R/verify-boundary.R), on a search whose
# optimum is known.

test_that("a first search that ended where the log-likelihood is NaN gives way to a finite restart", {
  # The search from an interior point lands on it; the log-likelihood peaks
  # at (0, 1). Before, the comparison with the first search's NaN stopped
  # with "missing value where TRUE/FALSE needed" (a zero-inflated
  # location-scale fit by quadrature whose first search ran far out).
  search <- function(th) list(theta = th, loglik = -sum((th - c(0, 1))^2),
                              opt = list(convergence = 0L), stages = list())
  first <- list(theta = c(0, 0), loglik = NaN, opt = list(convergence = 1L), stages = list())
  boundary <- function(th) c(FALSE, th[2] == 0)
  restart_point <- function(th, b, size, corr) replace(th, b, size)
  r <- verify_boundary(search, first, boundary, restart_point, c("beta", "sd"), diag = 2L)
  expect_identical(r$best$theta, c(0, 1))
  expect_identical(r$best$loglik, 0)
  expect_true(r$record$moved_off)
  # A finite first search is kept against lower restarts, as before.
  first$loglik <- 1
  r <- verify_boundary(search, first, boundary, restart_point, c("beta", "sd"), diag = 2L)
  expect_identical(r$best$loglik, 1)
})
