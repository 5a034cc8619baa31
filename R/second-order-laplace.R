# The second-order Laplace approximation of the marginal log-likelihood of
# several-term models (glmm(control = glmm_control(laplace_order = 2))),
# run by the sparse Laplace route (glmm_sparse_fit_units()) after its
# Laplace fit, like importance sampling (importance-sampling.R).
#
# The Laplace approximation keeps the first term of the expansion of the
# integral over the random effects about their conditional modes; the next
# terms (Shun and McCullagh 1995; Raudenbush, Yang and Yosef 2000) add
#   (1/8) sum_i d4_i h_ii^2 + (1/8) sum_ij d3_i d3_j h_ii h_ij h_jj
#     + (1/12) sum_ij d3_i d3_j h_ij^3,
# with d3, d4 the third and fourth derivatives of each observation's
# log-likelihood in its linear predictor at the modes, and h = A H^-1 A'
# (A = Z Lambda, H = I + A'WA) the conditional covariance of the linear
# predictors (cpp_second_order_terms()). The last two sums run over all
# pairs of observations: n^2 work per evaluation, and H^-1 is dense.
#
# Shun, Z. and McCullagh, P. (1995). Laplace approximation of high
# dimensional integrals. JRSS B 57, 749-760.
# Raudenbush, S. W., Yang, M.-L. and Yosef, M. (2000). Maximum likelihood
# for generalized linear models with nested random effects via high-order,
# multivariate Laplace approximation. JCGS 9, 141-157.

# The second-order log-likelihood on a sparse Laplace engine `eng` (designs
# X, Z, the Lambda map of `re`; its Laplace state by laplace_state(),
# importance-sampling.R), a function of the engine's parameters:
# list(loglik, laplace).
second_order_value <- function(eng, X, Z, y, w, off, re, family, nthreads) {
  nq <- ncol(Z)
  pos <- w > 0
  state <- laplace_state(eng, ncol(X), Z, re, pos)
  yp <- as.numeric(y[pos])
  wp <- as.numeric(w[pos])
  function(th) {
    st <- state(th)
    S <- as.matrix(Matrix::solve(st$chol, Matrix::Diagonal(nq)))
    r <- cpp_second_order_terms(family$family_code, family$link_code, yp, wp, st$modes$eta[pos],
                                st$A, S, st$phi, nthreads)
    list(loglik = st$laplace + r$correction, laplace = st$laplace)
  }
}

# The evaluator for refine_laplace() (search.R): the second-order
# log-likelihood and its gradient by central differences (steps of a
# thousandth of the Laplace standard error `se`; NA steps: held, gradient
# 0). Refuses a dense H^-1 that would not fit in memory (glmm()'s refusal
# table refuses, before the fit, more rows than second_order_max_rows).
second_order_evaluator <- function(eng, rp, re, y, weights, offset, family, se, control) {
  nq <- ncol(rp$Z)
  check_memory(16 * as.numeric(nq)^2,
               sprintf("the second-order Laplace approximation's dense inverse Hessian of %d random effects", nq))
  value <- second_order_value(eng, rp$X, as_dgc(rp$Z), y, weights, offset, re, family,
                              control$nthreads)
  h <- 1e-3 * se
  function(th) {
    v <- value(th)
    free <- which(is.finite(h))
    g <- numeric(length(th))
    g[free] <- fd_gradient(function(t) value(replace(th, free, t))$loglik, th[free], h[free])
    list(loglik = v$loglik, gradient = g)
  }
}

# The most rows the second-order approximation takes: its pairs of
# observations are n^2 work per evaluation (30,000 rows: about 2 s on one
# thread, a few minutes for a fit).
second_order_max_rows <- 30000L
