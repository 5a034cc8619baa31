# The sparse engine's PIRLS start after a step (the modes predicted from the
# last evaluation's factor, laplace-predict.cpp) and the selected inverse's
# recorded plan (polled-llt.h) change how the modes and H^{-1} are reached,
# not what they are: an evaluation must not depend on the ones before it.

sim_two_factor <- function(seed, n = 600) {
  set.seed(seed)
  d <- data.frame(x = rnorm(n), g = factor(sample(1:60, n, TRUE)),
                  h = factor(sample(1:8, n, TRUE)))
  d$yp <- rpois(n, exp(0.3 + 0.3 * d$x + rnorm(60, 0, 0.7)[d$g] + rnorm(8, 0, 0.5)[d$h]))
  d$yb <- rbinom(n, 1, plogis(0.3 * d$x + rnorm(60)[d$g]))
  d$yg <- 0.3 * d$x + rnorm(60)[d$g] + rnorm(n)
  d
}

test_that("an evaluation does not depend on the evaluations before it", {
  d <- sim_two_factor(7)
  cases <- list(list(poisson, yp ~ x + (x | g) + (1 | h)),
                list(binomial, yb ~ x + (1 | g) + (1 | h)),
                list(gaussian, yg ~ x + (1 | g) + (1 | h)))
  for (cs in cases) {
    fresh <- sparse_engine_for(cs[[2]], d, cs[[1]])
    used <- sparse_engine_for(cs[[2]], d, cs[[1]])
    np <- ncol(fresh$X) + fresh$re$ntheta + identical(cs[[1]], gaussian)
    th <- c(0.2, 0.3, 0.5 + 0.1 * seq_len(np))[seq_len(np)]
    # a history of near and far points (long steps, a step back, a restart)
    for (s in c(0.8, -0.6, 0.05, 0.3))
      glmmgee:::cpp_sparse_eval(used$eng, th + s * cos(seq_len(np)), TRUE)
    a <- glmmgee:::cpp_sparse_eval(fresh$eng, th, TRUE)
    b <- glmmgee:::cpp_sparse_eval(used$eng, th, TRUE)
    lab <- deparse(cs[[2]])
    expect_equal(b$loglik, a$loglik, tolerance = 1e-12, label = lab)
    expect_equal(b$gradient, a$gradient, tolerance = 1e-7, label = lab)
    ma <- glmmgee:::cpp_sparse_modes(fresh$eng, th)
    mb <- glmmgee:::cpp_sparse_modes(used$eng, th)
    expect_equal(mb$u, ma$u, tolerance = 1e-8, label = lab)
    expect_equal(mb$inv_x, ma$inv_x, tolerance = 1e-10, label = lab)
  }
})

test_that("after a short step PIRLS starts from the predicted modes", {
  # A poisson model with a random slope. The prediction is first order, so
  # it starts Newton about one iteration nearer the new mode than the old
  # modes would (from them: 3 iterations after a step of 0.005 in every
  # parameter, 5 after 0.1); PIRLS's stopping rule needs two iterations
  # however close the start.
  d <- sim_two_factor(11)
  e <- sparse_engine_for(yp ~ x + (x | g) + (1 | h), d, poisson)
  th <- c(0.2, 0.3, rep(0.6, e$re$ntheta))
  ev <- function(t) glmmgee:::cpp_sparse_eval(e$eng, t, FALSE)
  for (cs in list(c(0.005, 2), c(0.1, 4))) {
    ev(th)
    nxt <- ev(th + cs[1])
    fresh <- sparse_engine_for(yp ~ x + (x | g) + (1 | h), d, poisson)
    ref <- glmmgee:::cpp_sparse_eval(fresh$eng, th + cs[1], FALSE)
    expect_equal(nxt$loglik, ref$loglik, tolerance = 1e-12)
    expect_lte(nxt$pirls_iterations, cs[2])
  }
})

test_that("a gradient completed from a value-only evaluation is the full evaluation's, to the bit", {
  # cpp_sparse_eval(reuse = TRUE) after a value-only evaluation at theta
  # (a line search's accepted trial) must give what a full evaluation in
  # its place would: two engines with the same history, one evaluating
  # with the gradient, the other without it and then completing it.
  d <- sim_two_factor(9)
  cases <- list(list(poisson, yp ~ x + (x | g) + (1 | h)),
                list(gaussian, yg ~ x + (1 | g) + (1 | h)))
  for (cs in cases) {
    full <- sparse_engine_for(cs[[2]], d, cs[[1]])
    split <- sparse_engine_for(cs[[2]], d, cs[[1]])
    np <- ncol(full$X) + full$re$ntheta + identical(cs[[1]], gaussian)
    th <- c(0.2, 0.3, 0.5 + 0.1 * seq_len(np))[seq_len(np)]
    lab <- deparse(cs[[2]])
    for (s in c(0.8, -0.6, 0.05, 0.3)) {
      at <- th + s * cos(seq_len(np))
      a <- glmmgee:::cpp_sparse_eval(full$eng, at, TRUE)
      v <- glmmgee:::cpp_sparse_eval(split$eng, at, FALSE)
      b <- glmmgee:::cpp_sparse_eval(split$eng, at, TRUE, reuse = TRUE)
      expect_identical(v$loglik, a$loglik, label = lab)
      expect_identical(b$loglik, a$loglik, label = lab)
      expect_identical(b$gradient, a$gradient, label = lab)
    }
    # reuse at another point, or after a gradient was already taken, is a
    # full evaluation
    far <- th + 0.2
    a <- glmmgee:::cpp_sparse_eval(full$eng, far, TRUE)
    b <- glmmgee:::cpp_sparse_eval(split$eng, far, TRUE, reuse = TRUE)
    expect_identical(b$gradient, a$gradient, label = lab)
    a2 <- glmmgee:::cpp_sparse_eval(full$eng, far, TRUE)
    b2 <- glmmgee:::cpp_sparse_eval(split$eng, far, TRUE, reuse = TRUE)
    expect_identical(b2$gradient, a2$gradient, label = lab)
    expect_true(all(is.finite(b$gradient)) && any(b$gradient != 0), label = lab)
  }
})
