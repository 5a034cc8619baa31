# zi_random_first_search() (fit-sparse-zi-random.R): the two-part sparse engine's
# first search from the default start is abandoned at its first refused
# point in favour of zi_random_refused_restarts(); when no restart converges, the
# first search runs in full from the warm start it had, so the fit is the
# one it was without the early stop. Checked with a stand-in engine: a
# counter of refused points that a search raises at chosen start values.

first_search_env <- function(refuse_at, converge) {
  e <- new.env()
  e$refused <- 0
  e$warm <- "w0"
  e$calls <- list()
  # A search from th: refuses a point when th[1] is in `refuse_at`, through
  # the evaluator it is given (which a guard may turn into an error);
  # converges when th[1] is in `converge`.
  e$search <- function(th, ev) {
    e$calls[[length(e$calls) + 1L]] <- list(th = th, warm = e$warm)
    e$warm <- paste0("after", th[1])
    if (th[1] %in% refuse_at) {
      e$refused <- e$refused + 2
      ev(th)
    }
    list(run = list(theta = th, loglik = -th[1], opt = list(convergence = if (th[1] %in% converge) 0L else 1L),
                    warm = e$warm))
  }
  e$evalf <- function(th) list(loglik = -th[1])
  e$count <- function() e$refused
  e$set_warm <- function(w) e$warm <- w
  e
}

re_one_each <- list(ntheta = 2L, lower = c(0, 0))

test_that("a first search that refuses no point is kept as it ran", {
  e <- first_search_env(refuse_at = numeric(), converge = 5)
  sr <- glmmgee:::zi_random_first_search(e$search, e$evalf, e$count, c(5, 0.5, 0.5), TRUE, "w0",
                                    e$set_warm, re_one_each, 1L, 1L)
  expect_length(e$calls, 1L)
  expect_identical(sr$refused, 0)
  expect_null(sr$refused_restarts)
  expect_identical(sr$run$theta, c(5, 0.5, 0.5))
})

test_that("a refused first search gives way to the first restart that converges", {
  # The restarts keep the default start's th[1] and change the standard
  # deviations (th[2], th[3]); only the first call refuses, and the widest
  # zero part (3), tried first, converges: the other two are not run.
  e <- first_search_env(refuse_at = 5, converge = 5)
  n <- 0L
  search <- function(th, ev) {
    n <<- n + 1L
    if (n > 1L) return(list(run = list(theta = th, loglik = sum(th),
                                       opt = list(convergence = 0L), warm = "r")))
    e$search(th, ev)
  }
  sr <- glmmgee:::zi_random_first_search(search, e$evalf, e$count, c(5, 0.5, 0.5), TRUE, "w0",
                                    e$set_warm, re_one_each, 1L, 1L)
  # The first search and one restart, the first search not run again.
  expect_identical(n, 2L)
  expect_identical(sr$refused, 0)
  expect_identical(sr$refused_restarts$adopted, 3)
  expect_identical(sr$refused_restarts$skipped, c(1, 0.5))
  expect_identical(sr$refused_restarts$abandoned, FALSE)
  expect_identical(sr$run$theta, c(5, 0.1, 3))
})

test_that("restarts run in turn until one converges", {
  # The restart from zero-part SD 3 refuses a point (abandoned), the one
  # from 1 converges: 0.5 is not tried.
  e <- first_search_env(refuse_at = numeric(), converge = numeric())
  starts <- list()
  search <- function(th, ev) {
    starts[[length(starts) + 1L]] <<- th
    if (length(starts) == 1L || th[3] == 3) {
      e$refused <- e$refused + 1
      ev(th)
    }
    list(run = list(theta = th, loglik = -sum(th), opt = list(convergence = 0L), warm = "r"))
  }
  sr <- glmmgee:::zi_random_first_search(search, e$evalf, e$count, c(5, 0.5, 0.5), TRUE, "w0",
                                    e$set_warm, re_one_each, 1L, 1L)
  expect_identical(vapply(starts, function(th) th[3], 0), c(0.5, 3, 1))
  expect_identical(sr$refused_restarts$abandoned, c(TRUE, FALSE))
  expect_identical(sr$refused_restarts$loglik, c(NA, -6.1))
  expect_identical(sr$refused_restarts$adopted, 1)
  expect_identical(sr$refused_restarts$skipped, 0.5)
  expect_identical(sr$run$theta, c(5, 0.1, 1))
})

test_that("when no restart converges the first search runs in full from its warm start", {
  e <- first_search_env(refuse_at = 5, converge = numeric())
  sr <- glmmgee:::zi_random_first_search(e$search, e$evalf, e$count, c(5, 0.5, 0.5), TRUE, "w0",
                                    e$set_warm, re_one_each, 1L, 1L)
  # Guarded first search, three restarts (abandoned), the full first search.
  expect_length(e$calls, 5L)
  last <- e$calls[[5L]]
  expect_identical(last$th, c(5, 0.5, 0.5))
  expect_identical(last$warm, "w0")
  # Its refusals only, as without the early stop; the restarts' record kept.
  expect_identical(sr$refused, 2)
  expect_identical(sr$refused_restarts$abandoned, rep(TRUE, 3))
  expect_true(is.na(sr$refused_restarts$adopted))
})

test_that("with the user's start the first search runs in full and alone", {
  e <- first_search_env(refuse_at = 5, converge = numeric())
  sr <- glmmgee:::zi_random_first_search(e$search, e$evalf, e$count, c(5, 0.5, 0.5), FALSE, "w0",
                                    e$set_warm, re_one_each, 1L, 1L)
  expect_length(e$calls, 1L)
  expect_identical(sr$refused, 2)
  expect_null(sr$refused_restarts)
})
