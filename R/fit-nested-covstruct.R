# Covariance structures on nested grouping factors by multilevel adaptive
# quadrature: `(1 | school) + ar1(0 + t | school:class)` with nAGQ > 1.
# sparse_covstruct_fit() finds the Laplace optimum; the search then goes on
# from there on the nested engine (src/engines/agq/agq-nested.h), whose
# innermost level integrates Lambda u with Lambda = chol(D(par)) of the
# term's structure (its q effects on a product grid of nAGQ^q nodes) and
# whose outer levels are random intercepts. The engine takes the sparse
# engine's parameters (beta*, Lambda's entries, log dispersion) through
# nested_map(), so structure_evalf() carries its gradient to the structures'
# parameters as it does the sparse engine's.
#
# The engine's gradient holds the adaptive nodes fixed (optimize-nested.R):
# it differs from the value's by the rule's error term, small but not below
# the search's tolerance. The structured search runs on the engine's
# gradient plus that term as measured (by central differences of the value)
# at the previous round's end, until the value's own gradient confirms the
# end; the estimates' Hessian is the differences of that corrected gradient.

# The nested engine of the terms `re` on the design X: list(eval(theta,
# grad), ns, map, eng), theta in the sparse engine's order, evaluated by
# the nested fits' own objectives (fit-nested.R). Stops, with
# nested_structure()'s message, where the terms are not nested random
# intercepts with the structure (or slopes) at the innermost level only;
# slopes far from zero are refused by the front end, on the user's columns
# (glmm_sparse_covstruct()).
nested_structure_engine <- function(X, y, weights, offset, re, family, nAGQ, control) {
  ns <- nested_structure(re)
  Zr <- nested_leaf_design(re, ns)
  p <- ncol(X)
  disp <- has_dispersion(family)
  map <- nested_map(re, ns, p, p + re$ntheta + disp, disp)
  args <- list(X, as.numeric(y), as.numeric(weights), as.numeric(offset), ns$units,
               family$family_code, family$link_code, control$nthreads)
  eng <- do.call(cpp_nested_new, c(args, if (!is.null(Zr)) list(Zr)))
  value <- nested_objective(eng, map, nAGQ)
  with_gradient <- nested_gradient_objective(eng, map, nAGQ)
  eval <- function(theta, grad = TRUE)
    if (grad) with_gradient(theta) else list(loglik = value(theta))
  list(eval = eval, ns = ns, map = map, eng = eng)
}

# The quadrature stage of sparse_covstruct_fit(): from the Laplace search's
# result `lap` (its par, on the search's parameters, and its stages) to
# the quadrature optimum, with the boundary verified as the Laplace stage
# verifies its own. Returns list(run, bc, evalf): `run` as
# covstruct_search() gives it (par, loglik, at with the value's gradient by
# central differences, hessian, opt, stages, and the engine passes),
# `evalf` the structured objective whose gradient the estimates' Hessian
# takes differences of.
nested_covstruct_quadrature <- function(ne, lap, terms, k_re, p, disp, Tx, control, disp_at,
                                        unit) {
  evq <- structure_evalf(function(theta, grad) ne$eval(theta, grad), terms, k_re, p, disp, Tx,
                         NULL)
  P <- length(lap$par)
  passes <- 0L
  f <- function(th) { passes <<- passes + 1L; evq(th, grad = FALSE)$loglik }
  # The engine's gradient plus a constant `corr`: the rule-error term
  # measured at the last round's end, where the sum is the value's gradient.
  corrected <- function(corr) function(th, grad = TRUE) {
    passes <<- passes + 1L
    r <- evq(th, grad)
    if (grad) r$gradient <- r$gradient + corr
    r
  }
  none <- rep(-Inf, P)
  # (steps relative to the parameters, which the search has centred and
  # scaled; not to standard errors, which are huge for a standard
  # deviation near zero on the log scale)
  fd_grad <- function(par) nested_fd_gradient(f, par, 1e-5 * pmax(abs(par), 1), none)
  # The value with its central-difference gradient (2P + 1 passes): the
  # last resort where the corrected gradient does not lead to the maximum.
  by_value <- function(th, grad = TRUE) {
    r <- list(loglik = f(th), penalty = 0)
    if (grad) r$gradient <- fd_grad(th)
    r
  }
  # Rounds of the structured search (covstruct_search(): quasi-Newton,
  # then Newton steps with recomputed Hessians) on the corrected gradient,
  # until the value's own gradient at the end gives a Newton step below
  # 1e-4 (a tenth of the tolerance of the convergence warning); after three
  # rounds without, one on the value's gradient itself (at K = 3 with three
  # effects per unit and one binary row per effect, the rule-error term
  # moved too fast for the correction and four rounds ended at a Newton
  # step of 0.08, with a Hessian not negative definite).
  search <- function(par) {
    corr <- numeric(P)
    stages <- list()
    for (round in seq_len(4L)) {
      fallback <- round == 4L
      evr <- if (fallback) by_value else corrected(corr)
      r <- covstruct_search(evr, par, control)
      par <- r$par
      g <- if (fallback) r$at$gradient else fd_grad(par)
      st <- c(r$stages, if (!fallback)
        list(gradient = list(iterations = 0L, evaluations = 2L * P, convergence = 0L,
                             message = "the value's gradient by central differences")))
      names(st) <- paste0(names(st), if (fallback) "_by_value" else if (round > 1L) round)
      stages <- c(stages, st)
      if (!fallback) corr <- corr + g - r$at$gradient
      # (a standard deviation at zero, or a correlation at its limit, is
      # verified by restarts instead: covstruct_verify())
      at_bound <- seq_len(P) %in% covstruct_boundary_index(par, terms, k_re, disp_at, unit)
      nd <- if (all(at_bound)) 0 else newton_decrement(g, r$hessian, at_bound)
      if (is.finite(nd) && nd < 1e-4) break
    }
    done <- is.finite(nd) && nd < 1e-4
    opt <- if (done) list(convergence = 0L, message = paste0(
      "the value's central-difference gradient confirms the search's end (", r$opt$message, ")"))
      else list(convergence = 1L, message = sprintf(
        "the value's central-difference gradient still asks a Newton step of %.2g", nd))
    list(par = par, loglik = r$loglik, at = list(loglik = r$at$loglik, gradient = g, penalty = 0),
         hessian = r$hessian, opt = opt, stages = stages,
         evalf = if (fallback) by_value else corrected(corr))
  }
  # A standard deviation the Laplace fit took to (near) zero may be
  # positive under quadrature, and on the log scale the search would not
  # leave it (its gradient there is about sd^2): it starts at 0.1 (y's
  # scale), from which it may return (a diag(1 + x | a:b) fit stayed at
  # sd 1e-4, 0.002 below the unstructured term's optimum at sd 0.14).
  low <- covstruct_boundary(lap$par, terms, k_re, 1e-2 * unit)
  par0 <- if (length(low)) covstruct_restart_point(lap$par, terms, k_re, low, 0.1 * unit)
          else lap$par
  run <- search(par0)
  bc <- covstruct_verify(search, run, terms, k_re, disp_at, unit)
  run <- bc$best
  run$stages <- c(list(laplace = lap$stages), run$stages)
  run$passes <- passes
  list(run = run, bc = bc, evalf = run$evalf)
}
