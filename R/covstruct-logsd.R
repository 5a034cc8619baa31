# Single-column unstructured terms, (1 | site) beside a structured term, in
# the sparse Laplace search (sparse_covstruct_fit()). Their one parameter,
# Lambda's entry, is a signed standard deviation, and the log-likelihood is
# even in it: from the start (sd 1) a first step that overshoots crosses
# zero to the mirror point, and the BFGS secant between two mirror points
# describes a curvature the log-likelihood does not have (the poisson
# ar1() + (1 | site) benchmark spent 5 of its 29 evaluations on rejected
# trials after such a step). So the search begins with these entries as
# log(sd) (a homdiag() structure of one column: the same Lambda), where a
# standard deviation cannot change sign, and ends on Lambda's entries as
# before, from where the first part stopped, with its evaluation and its
# quasi-Newton matrix carried over by the chain rule (no new evaluation):
# where the first part is close to the optimum (Newton decrement below
# logsd_switch_tol), or as soon as such a standard deviation falls below
# logsd_switch_sd of its start. On the log scale a standard deviation
# heading for zero moves by about 1/2 a step (the log-likelihood is flat
# like sd^2 there); on Lambda's entry the Newton step goes to zero at once,
# as before. The estimates, boundary checks and reports are on Lambda's
# entries, as without this first part. Used for non-gaussian families
# (sparse_covstruct_fit() says why not for the gaussian identity link).
logsd_switch_tol <- 1e-6
logsd_switch_sd <- 0.2

# NULL without a single-column unstructured term; else function(par) of the
# search's start (on Lambda's entries) returning par, at (the evaluation
# there with the gradient on Lambda's entries), H (the quasi-Newton matrix
# on Lambda's entries) and the stages' records.
logsd_presearch <- function(engine_eval, terms, k_re, p, disp, Tx, penalty, control, sd0,
                            profile = "structured") {
  swapped <- vapply(terms, function(t) identical(t$kind, "us") && t$q == 1L, TRUE)
  if (!any(swapped)) return(NULL)
  terms[swapped] <- lapply(terms[swapped], function(t) {
    t$kind <- "homdiag"
    t$struct <- covstruct("homdiag", 1L)
    t
  })
  idx <- unlist(k_re[swapped])
  evalf <- structure_evalf(engine_eval, terms, k_re, p, disp, Tx, penalty)
  low <- log(logsd_switch_sd * sd0)
  function(par) {
    P <- length(par)
    pl <- par
    pl[idx] <- log(abs(par[idx]))
    qn <- covstruct_first_search(evalf, pl, control, logsd_switch_tol,
                                 function(th) evalf(th, grad = FALSE),
                                 stop_at = function(th) any(th[idx] < low),
                                 what = "curvature at the start (log standard deviations)",
                                 profile = profile)
    th <- qn$theta
    lam <- exp(th[idx])
    th[idx] <- lam
    # d log(sd) / d lambda: the gradient's factor and the matrix's on each side.
    d <- rep(1, P)
    d[idx] <- 1 / lam
    at <- qn$at
    g_l <- at$gradient[idx]
    at$gradient <- at$gradient * d
    # The matrix to second order, d2 log(sd) / d lambda2 = -1 / lambda^2
    # times the gradient in log(sd) on the diagonal (near a zero standard
    # deviation this term is half the curvature), unless that leaves it not
    # negative definite.
    H <- (qn$hessian %||% qn$H0) * outer(d, d)
    H2 <- H
    H2[cbind(idx, idx)] <- H2[cbind(idx, idx)] - g_l / lam^2
    if (all(is.finite(H2)) && !is.null(tryCatch(chol(-H2), error = function(e) NULL))) H <- H2
    list(par = th, at = at, H = H, stages = list(start = qn$start, newton_logsd = qn$record))
  }
}
