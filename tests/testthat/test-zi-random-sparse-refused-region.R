# The two-part sparse engine's first search from the default start is
# abandoned next to the refused region (H's smallest eigenvalue at the
# joint mode below `near`, zi_random_first_search()), and the restarts and a
# first search run in full after them begin from the engine's whole state
# before it (cpp_sparse_two_part_state(): warm start and eigenvalue iteration start).

test_that("the refusal guard trips below `near` as at a refused point, and evaluates nothing more", {
  n <- 0L
  ev <- function(th) {
    n <<- n + 1L
    list(loglik = -sum(th^2), gradient = -2 * th, hmin = th[1])
  }
  g <- glmmgee:::refusal_guard(ev, function() 0, near = 0.05)
  expect_equal(g$evalf(c(0.5, 1))$loglik, -1.25)
  expect_false(g$tripped())
  expect_error(g$evalf(c(0.04, 1)), "next to the refused region")
  expect_true(g$tripped())
  expect_error(g$evalf(c(0.5, 1)), "refused point")
  expect_identical(n, 2L)
  g$arm()
  expect_false(g$tripped())
  expect_equal(g$evalf(c(0.5, 1))$loglik, -1.25)
  # Without `near` the eigenvalue does not matter.
  g0 <- glmmgee:::refusal_guard(ev, function() 0)
  expect_equal(g0$evalf(c(1e-9, 0))$loglik, -1e-18)
  expect_false(g0$tripped())
})

test_that("a first search tripped next to the refused region gives way to the restarts from the state before it", {
  state <- "s0"
  calls <- list()
  search <- function(th, ev) {
    calls[[length(calls) + 1L]] <<- list(th = th, state = state)
    state <<- paste0("after", length(calls))
    ev(th)
    list(run = list(theta = th, loglik = -sum(th), opt = list(convergence = 0L), warm = state))
  }
  # The first search's point is next to the refused region, the restarts'
  # (count SD 0.1) are not.
  evalf <- function(th) list(loglik = -sum(th), hmin = if (th[2] == 0.5) 0.01 else 1)
  re <- list(ntheta = 2L, lower = c(0, 0))
  sr <- glmmgee:::zi_random_first_search(search, evalf, function() 0, c(5, 0.5, 0.5), TRUE, "s0",
                                    function(w) state <<- w, re, 1L, 1L, near = 0.05)
  expect_length(calls, 2L)
  # The restart began from the state before the first search, not after it.
  expect_identical(calls[[2L]]$state, "s0")
  expect_identical(sr$run$theta, c(5, 0.1, 3))
  expect_identical(sr$refused_restarts$adopted, 3)
  # Without `near` the first search is kept.
  calls <- list()
  state <- "s0"
  sr0 <- glmmgee:::zi_random_first_search(search, evalf, function() 0, c(5, 0.5, 0.5), TRUE, "s0",
                                     function(w) state <<- w, re, 1L, 1L)
  expect_length(calls, 1L)
  expect_null(sr0$refused_restarts)
  expect_identical(sr0$run$theta, c(5, 0.5, 0.5))
})

test_that("the engine's state is kept and put back whole, and a wrong state is refused", {
  skip_if_not_installed("glmmTMB")
  data("Salamanders", package = "glmmTMB", envir = environment())
  ns <- asNamespace("glmmgee")
  # The engine of a fit, caught where the fitter asks it for the modes.
  suppressMessages(trace("cpp_sparse_two_part_modes", where = ns, print = FALSE,
                         tracer = quote(assign(".refused_region_engine", ptr, envir = globalenv()))))
  on.exit({
    suppressMessages(untrace("cpp_sparse_two_part_modes", where = ns))
    if (exists(".refused_region_engine", envir = globalenv())) rm(".refused_region_engine", envir = globalenv())
  })
  suppressWarnings(glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
                        family = nbinom2, ziformula = ~ (1 | site)))
  e <- get(".refused_region_engine", envir = globalenv())
  expect_s3_class(e, "glmmgee_sparse_two_part_engine")
  st <- glmmgee:::cpp_sparse_two_part_state(e)
  expect_named(st, c("u", "evec"))
  expect_equal(length(st$evec), length(st$u))
  # Evaluating elsewhere changes the state; put back, the same point
  # evaluates bit for bit as from it before.
  theta <- c(0.06, 0.73, 0.25, 0.64, 1.99, -1.26, 0.37)
  a <- glmmgee:::cpp_sparse_two_part_grad(e, theta)
  glmmgee:::cpp_sparse_two_part_grad(e, theta * 1.3)
  expect_false(identical(glmmgee:::cpp_sparse_two_part_state(e)$u, st$u))
  glmmgee:::cpp_sparse_two_part_set_state(e, st)
  b <- glmmgee:::cpp_sparse_two_part_grad(e, theta)
  expect_identical(a, b)
  expect_error(glmmgee:::cpp_sparse_two_part_set_state(e, list(u = st$u)), "'u' and 'evec'")
  expect_error(glmmgee:::cpp_sparse_two_part_set_state(e, list(u = st$u, evec = c(1, 2, 3))),
               "number of random effects")
  expect_error(glmmgee:::cpp_sparse_two_part_set_state(e, list(u = st$u[-1], evec = st$evec)),
               "number of random effects")
})

test_that("the hard Salamanders ZINB: glmmTMB's optimum with the first search stopped before its first refused point", {
  skip_if_not_installed("glmmTMB")
  data("Salamanders", package = "glmmTMB", envir = environment())
  fit <- glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders, family = nbinom2,
              ziformula = ~ (1 | site))
  v <- fit$optinfo$laplace_validity
  # No point refused at all (main's build refused one: the first search ran
  # to it); a restart gave the optimum.
  expect_equal(v$refused, 0)
  expect_identical(v$restarts$adopted, 3)
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ (1 | site),
                        data = Salamanders, family = glmmTMB::nbinom2)
  expect_equal(as.numeric(logLik(fit)), as.numeric(logLik(m)), tolerance = 1e-6 / 837)
})

test_that("when no restart converges, the fit is the first search's as it runs without restarts", {
  skip_if_not_installed("glmmTMB")
  data("Salamanders", package = "glmmTMB", envir = environment())
  ns <- asNamespace("glmmgee")
  f <- function() suppressWarnings(glmm(count ~ mined + (1 | site) + (1 | spp), data = Salamanders,
                                        family = nbinom2, ziformula = ~ (1 | spp)))
  a <- f()
  expect_true(all(is.na(a$optinfo$laplace_validity$restarts$loglik)))
  # The same fit with the first search run at once in full (as with the
  # user's start: `default` FALSE; the restarts then run after it, and none
  # converges either). Main's build began that search where the last
  # restart had left the engine: logLik 6e-9 apart.
  suppressMessages(trace("zi_random_first_search", where = ns, print = FALSE, tracer = quote(default <- FALSE)))
  b <- tryCatch(f(), finally = suppressMessages(untrace("zi_random_first_search", where = ns)))
  expect_true(all(is.na(b$optinfo$laplace_validity$restarts$loglik)))
  expect_identical(a$theta, b$theta)
  expect_identical(as.numeric(logLik(a)), as.numeric(logLik(b)))
  expect_identical(vcov(a), vcov(b))
})
