# glmm() for several random-effect terms or known covariances: the formula
# front end of the sparse Laplace engine (fitter in fit-sparse.R).

#' GLMMs with several random-effect terms or known covariances
#'
#' [glmm()] fits models whose random effects have more than one grouping
#' factor — nested `(1 | hospital/ward)` (expanded to
#' `(1 | hospital) + (1 | ward:hospital)`), interactions `(1 | a:b)`, crossed
#' `(1 | subject) + (1 | item)`, random slopes and `||` in any of them — and
#' random intercepts with a known covariance \eqn{\sigma^2 K}
#' (`covariance = list(id = K)`), by the Laplace approximation with a sparse
#' random-effects design and a sparse Cholesky factorization: the
#' fill-reducing ordering and symbolic factorization are computed once, the
#' conditional modes by penalized iteratively reweighted least squares
#' (Newton steps with step halving, warm-started from the previous modes) and
#' the gradient of the approximate log-likelihood exactly, using the entries
#' of the inverse of the penalized Hessian on the pattern of its Cholesky
#' factor (Takahashi et al. 1973). The log-likelihood is the full one, as for
#' one grouping factor; lme4's `glmer()` (Laplace) reports the same value for
#' canonical links, and `lmer(REML = FALSE)` for gaussian models, where the
#' approximation is exact.
#'
#' Adaptive quadrature (`nAGQ > 1`) is available for one grouping factor
#' and for nested random intercepts (see [glmm-nested]).
#' A known covariance applies to a term `(1 | id)`: `K` is matched to the
#' levels of `id` by its row names, may include levels without observations
#' (their random effects are predicted from the others through `K`), and
#' must be symmetric positive semidefinite; it enters as \eqn{Z L} with
#' \eqn{K = LL'} (a Cholesky factor, or from the eigen-decomposition when
#' `K` is singular), and the reported variance is \eqn{\sigma^2}. A sparse
#' `K` keeps a sparse factor: its Cholesky factor under a fill-reducing
#' ordering, or, when it is singular, one eigendecomposition per connected
#' block of its graph (a singular block of more than 2,000 levels is refused:
#' give it by [kfactor()] or make it positive definite).
#'
#' Gaussian models (identity link) whose random-effect terms are all
#' known-covariance intercepts are fitted exactly, by maximum likelihood or
#' with `REML = TRUE`: one term with a dense `K` and one observation per
#' level by one tridiagonal (Householder) reduction of `K`, then \eqn{O(n)}
#' per likelihood evaluation; with a factor given by [kfactor()] (or several
#' observations per level) by the thin decomposition of the factor; with a
#' sparse `K` (a `Matrix` class such as `dsCMatrix`) by a sparse Cholesky
#' factorization of \eqn{\lambda ZKZ' + I} per evaluation, `K` never made
#' dense. Several terms whose `K` are all sparse (an identity given as
#' `Matrix::Diagonal()` included): a sparse Cholesky factorization of
#' \eqn{I + \sum_j \lambda_j Z_j K_j Z_j'} per evaluation, its ordering and
#' the size of its factor (a symbolic count) computed once, before it is
#' allocated, no \eqn{n \times n} dense matrix anywhere and no factor of
#' `K` needed (a singular sparse `K` is fine). Several terms otherwise: a
#' dense Cholesky factorization per evaluation. There one observation per
#' level is identified unless `K` is the identity.
#'
#' Memory is checked before each large allocation, from the sizes (and for
#' a sparse factor from its symbolic count), against the free memory and the
#' option `glmmgee.memory_limit` (bytes) when set; a request that cannot fit
#' is refused at once with the size it needs.
#'
#' Otherwise a grouping factor with one level per observation is rejected
#' where its variance is not identifiable: gaussian (confounded with the
#' residual) and 0/1 binomial responses. For Poisson counts it is an observation-level
#' random effect for overdispersion.
#'
#' The fitted object has class `c("glmmgee_glmm_sparse", "glmmgee_glmm")`; [VarCorr()] has
#' one block per term, [ranef()] and [coef()] one data frame per grouping
#' factor, and [predict()] takes `re.form` with any subset of the terms.
#'
#' @section Beyond the Laplace approximation:
#' The Laplace approximation can be off for binary and low-count data with
#' few observations per level, where it shrinks the variance components
#' (crossed designs of raters and items are the common case); [loglik_check()]
#' says by how much. Two refinements fit such models again from the Laplace
#' estimates, by the same search:
#'
#' `glmm_control(importance_draws = K)`: maximum likelihood of the
#' importance-sampled log-likelihood.
#' * At each parameter value, the random effects are drawn from the Laplace
#'   approximation's Gaussian there (the conditional modes and the inverse
#'   of their Hessian), widened to a multivariate t with `importance_df`
#'   degrees of freedom, always from the same `K` standard draws (common
#'   random numbers), so that the sampled log-likelihood is a smooth
#'   function of the parameters and the proposal follows them (Skaug and
#'   Fournier 2006). Its gradient is taken by central differences with the
#'   same draws (two evaluations per parameter).
#' * The covariance of the estimates adds the Monte Carlo error to the
#'   sampling error: \eqn{I^{-1} + I^{-1} V I^{-1}}, with \eqn{I} the
#'   observed information of the sampled log-likelihood and \eqn{V} the
#'   Monte Carlo covariance of its gradient, from 10 batches of the draws.
#'   Wald tests and intervals use it; `fit$importance$mc_cov` is the Monte
#'   Carlo part, `fit$importance$loglik_se` the Monte Carlo standard error
#'   of the log-likelihood, `fit$importance$ess` the effective sample size
#'   and `fit$importance$seed` the seed of the draws.
#' * The draws cover all random effects at once, so the effective sample
#'   size falls as their number grows (about 260 of 2,000 draws for 240
#'   crossed random effects with the default `importance_df = 20`; about
#'   730 with a Gaussian proposal, `importance_df = Inf`, which suits many
#'   random effects whose conditional distributions are close to normal).
#'   The fit warns below 50. Each evaluation costs `K` passes over the data,
#'   run on `nthreads` threads.
#'
#' `glmm_control(laplace_order = 2)`: the second-order Laplace approximation
#' (Shun and McCullagh 1995; Raudenbush, Yang and Yosef 2000), the next
#' terms of the expansion about the conditional modes, from the third and
#' fourth derivatives of each observation's log-likelihood and the
#' conditional covariance of the linear predictors. Deterministic (no seed,
#' no Monte Carlo error), and cheaper than sampling for small data; but it
#' visits every pair of observations at each evaluation (models of more
#' than 30,000 rows are refused), and it removes less of the error: on the
#' nested binary designs of `bench/compare-second-order-laplace.R`, where
#' quadrature is exact, it leaves 15-40% of Laplace's error in a standard
#' deviation, overshooting, where importance sampling leaves under 6%. It
#' is an expansion in the information per random effect, and with very
#' little of it (about three binary observations per innermost level) it
#' can be worse than Laplace: its standard deviations can overshoot the
#' exact ones by more than Laplace falls short, with a log-likelihood above
#' the exact maximum. Check such a fit against importance sampling
#' ([loglik_check()]) or, for nested terms, quadrature (`nAGQ > 1`).
#'
#' Parameters on a boundary in the Laplace fit (a variance at zero) are held
#' there by both. Profile intervals and cluster-robust covariances are not
#' available for these fits (they would be the first-order approximation's).
#'
#' @references Takahashi, K., Fagan, J. and Chin, M.-S. (1973). Formation
#'   of a sparse bus impedance matrix and its application to short circuit
#'   study. *8th PICA Conference Proceedings*, 63-69.
#'
#'   Bates, D., Maechler, M., Bolker, B. and Walker, S. (2015). Fitting
#'   linear mixed-effects models using lme4. *Journal of Statistical
#'   Software* 67(1), 1-48.
#'
#'   Skaug, H. J. and Fournier, D. A. (2006). Automatic approximation of the
#'   marginal likelihood in non-Gaussian hierarchical models.
#'   *Computational Statistics & Data Analysis* 51, 699-709.
#'
#'   Shun, Z. and McCullagh, P. (1995). Laplace approximation of high
#'   dimensional integrals. *Journal of the Royal Statistical Society B*
#'   57, 749-760.
#'
#'   Raudenbush, S. W., Yang, M.-L. and Yosef, M. (2000). Maximum likelihood
#'   for generalized linear models with nested random effects via
#'   high-order, multivariate Laplace approximation. *Journal of
#'   Computational and Graphical Statistics* 9, 141-157.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   cbpp$obs <- factor(seq_len(nrow(cbpp)))
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
#'               data = cbpp, family = binomial)
#'   VarCorr(fit)
#'   head(ranef(fit)$herd)
#'
#'   # a known covariance: herds related through K (here the identity,
#'   # which gives the plain random intercept)
#'   K <- diag(15); rownames(K) <- levels(cbpp$herd)
#'   fitK <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'                data = cbpp, family = binomial, covariance = list(herd = K))
#'   logLik(fitK)
#' }
#'
#' # two sparse known covariances on the same cells (families of five and a
#' # banded one), kept sparse: gaussian by a sparse Cholesky of V
#' set.seed(1)
#' nc <- 300
#' cells <- paste0("c", seq_len(nc))
#' fam <- (seq_len(nc) - 1) %/% 5
#' Kf <- Matrix::Matrix(0.5 * outer(fam, fam, "==") + diag(0.5, nc), sparse = TRUE)
#' Kb <- Matrix::bandSparse(nc, k = 0:2, diagonals = list(rep(1, nc), rep(0.5, nc - 1),
#'                          rep(0.1, nc - 2)), symmetric = TRUE)
#' dimnames(Kf) <- dimnames(Kb) <- list(cells, cells)
#' cd <- data.frame(cell = cells, space = cells, x = rnorm(nc))
#' cd$y <- cd$x + 1.2 * rnorm(nc / 5)[fam + 1] + rnorm(nc)
#' f2 <- glmm(y ~ x + (1 | cell) + (1 | space), data = cd,
#'            covariance = list(cell = Kf, space = Kb))
#' f2$optinfo$method
#' variance_shares(f2)
#' @name glmm-several-terms
NULL

# The several-term routes of choose_engine() (model-spec.R): the sparse
# Laplace engine ("sparse"), linear mixed models by the profiled (RE)ML
# criterion ("lmm_sparse", fit-lmm-sparse.R) and nested quadrature
# ("nested", glmm-nested.R). One design, one set of checks, one object.
glmm_several <- function(s, mf) {
  formula <- s$formula
  route <- s$route
  nAGQ <- if (route == "nested") check_nAGQ(s$nAGQ, 1L)
  cov <- if (route == "sparse") s$covariance
  re <- sparse_re_terms(formula, mf, cov)
  if (route == "nested") nested_quadrature_check(re, nAGQ, s$control)
  # a known K that is not c I separates a one-observation-per-level effect
  # from the residual: only the others are checked
  kn <- names(cov)[!vapply(cov, is_scaled_identity, TRUE)]
  d <- several_term_checks(formula, mf, s$fenv, s$family, re,
                           flist = if (route == "sparse") re$flist[setdiff(names(re$flist), kn)]
                                   else re$flist)
  resp <- d$resp
  fit <- switch(route,
    sparse = glmm_sparse_fit(d$X, resp$y, re, s$family, resp$weights, d$offset, s$control, s$start),
    lmm_sparse = lmm_sparse_fit(d$X, resp$y, re, resp$weights, d$offset, s$REML, s$control,
                                s$start),
    nested = glmm_nested_fit(d$X, resp$y, re, s$family, resp$weights, d$offset, nAGQ, s$control,
                             s$start))
  obj <- new_glmm_sparse(fit, X = d$X, y = resp$y, weights = resp$weights, offset = d$offset,
                         re = re, mf = mf, mt = d$mt, call = s$call, formula = formula)
  obj$importance <- fit$importance
  obj$second_order <- fit$second_order
  if (s$REML) {
    obj$REML <- TRUE
    obj$loglik_ml <- fit$loglik_ml
  }
  if (route == "nested") {
    obj$nAGQ <- nAGQ
    obj$distributed <- fit$distributed
    class(obj) <- c("glmmgee_glmm_nested", class(obj))
  }
  finish_glmm(obj, d$sep, d$extra_warn)
}
