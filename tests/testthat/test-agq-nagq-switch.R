# The one-factor engines' nAGQ switch is written once (NagqSwitch,
# src/engines/agq/agq.h) and the nAGQ >= 1 check lives in engine_nagq(): the switch
# still changes the rule (a switched engine evaluates as one made with that
# nAGQ), and every entry point still refuses nAGQ < 1 as an R error.

test_that("set_nagq() gives the engine the rule of a fresh engine; nAGQ < 1 is an R error", {
  set.seed(35)
  M <- 30
  g <- rep(seq_len(M), each = 5)
  x <- rnorm(5 * M)
  y <- rpois(5 * M, exp(0.2 + 0.4 * x + rnorm(M, 0, 0.8)[g]))
  X <- cbind(1, x)
  Z <- matrix(1, 5 * M, 1)
  fam <- glmmgee:::resolve_family(poisson())
  new_engine <- function(K) {
    glmmgee:::cpp_agq_new(X, Z, as.numeric(y), rep(1, 5 * M), rep(0, 5 * M), g, M, 0L, 0L,
                          fam$family_code, fam$link_code, K, 1L)
  }
  theta <- c(0.2, 0.4, 0.7)
  e1 <- new_engine(1L)
  e7 <- new_engine(7L)
  lap <- glmmgee:::cpp_agq_eval(e1, theta, TRUE)
  glmmgee:::cpp_agq_set_nagq(e1, 7L)
  switched <- glmmgee:::cpp_agq_eval(e1, theta, TRUE)
  fresh <- glmmgee:::cpp_agq_eval(e7, theta, TRUE)
  expect_false(isTRUE(all.equal(switched$loglik, lap$loglik, tolerance = 1e-10)))
  expect_equal(switched$loglik, fresh$loglik, tolerance = 1e-12)
  expect_equal(switched$gradient, fresh$gradient, tolerance = 1e-9)
  for (f in list(glmmgee:::cpp_agq_set_nagq, glmmgee:::cpp_agq_check_nagq))
    expect_error(f(e1, 0L), "nAGQ must be at least 1")
  glmmgee:::cpp_agq_free(e1)
  glmmgee:::cpp_agq_free(e7)
})
