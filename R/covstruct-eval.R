# What both engines share when random-effect terms carry covariance
# structures (covstruct.R) or the fixed effects a penalty (penalty.R): the
# map from the structures' parameters to the entries of the relative
# covariance factor Lambda with its exact Jacobian, the objective (engine
# log-likelihood plus log prior) with its gradient in the search's
# parameters, and the estimates, standard errors and reports at the optimum.
# The one-factor fitter (covstruct_fit(), AGHQ or Laplace) and the several-
# term fitter (sparse_covstruct_fit(), sparse Laplace) differ only in the
# engine behind `engine_eval(theta, grad)`.
#
# Search parameters: c(beta*, structure parameters term by term, tail),
# beta* = Tx beta on the centred and scaled fixed-effects design; engine
# parameters: c(beta*, Lambda's lower-triangle entries term by term
# (column-major within a term), tail). The tail is `disp` parameters the
# structures leave alone: none, the log dispersion (disp = TRUE), or a
# two-part fit's zero and dispersion coefficients (fit-two-part-covstruct.R).

# The structures' parameters of `terms`, term by term: their positions
# (from at + 1) in a list.
structure_blocks <- function(terms, at = 0L) {
  index_blocks(vapply(terms, function(t) t$struct$npar, 1L), at)
}

# Lambda's entries at `par` (terms[[k]]'s parameters at par[k_re[[k]]]) and
# their Jacobian in the structure parameters (entries x structure
# parameters): the identity for an unstructured term, whose parameters are
# the entries, chol_jacobian() for the others. With `memo` (an environment),
# a term whose parameters are those of the last call reuses its entries and
# Jacobian: the differences for a Hessian move one parameter at a time, and
# chol_jacobian() was 5% of a Poisson ar1() + (1 | site) fit. With
# jacobian = FALSE (an evaluation without the gradient: the trial steps of
# a search with value_first) the structured terms' Jacobian is not computed
# and J is left at 0; for one spatial field of 100 sites it is three
# 100 x 100 products per parameter.
structure_lambda <- function(terms, k_re, par, memo = NULL, jacobian = TRUE) {
  nl <- vapply(terms, function(t) t$q * (t$q + 1L) / 2L, 1)
  np <- vapply(terms, function(t) t$struct$npar, 1L)
  lam <- numeric(sum(nl))
  J <- matrix(0, sum(nl), sum(np))
  off_l <- 0L
  off_p <- 0L
  for (k in seq_along(terms)) {
    t <- terms[[k]]
    pk <- par[k_re[[k]]]
    il <- off_l + seq_len(nl[k])
    ip <- off_p + seq_len(np[k])
    if (!is.null(t$struct$factor_entries)) {
      # A fixed factor times a scale (propto(), equalto()): its entries and
      # Jacobian directly, for a matrix that may be only semi-definite.
      lj <- t$struct$factor_entries(pk)
      lam[il] <- lj$lambda
      J[il, ip] <- lj$J
    } else if (isTRUE(t$struct$direct)) {
      # us() and rr(): the parameters are entries (rr() leaves the last
      # columns at 0).
      li <- il[t$struct$lambda_index]
      lam[li] <- pk
      J[li, ip] <- diag(1, length(pk))
    } else {
      hit <- !is.null(memo) && identical(memo$par[[k]], pk) &&
        (!jacobian || !is.null(memo$cj[[k]]$J))
      if (!hit) {
        D <- t$struct$D(pk)
        cj <- if (jacobian) chol_jacobian(D, t$struct$dD(pk), t$struct$scale_par)
              else list(L = t(chol(D)))
        cj$lam <- cj$L[lower.tri(cj$L, diag = TRUE)]
        if (!is.null(memo)) {
          memo$par[[k]] <- pk
          memo$cj[[k]] <- cj
        }
      } else {
        cj <- memo$cj[[k]]
      }
      lam[il] <- cj$lam
      if (jacobian) J[il, ip] <- cj$J
    }
    off_l <- off_l + nl[k]
    off_p <- off_p + np[k]
  }
  list(lambda = lam, J = J)
}

# The engine's parameters at the search's `par`.
structure_engine_theta <- function(par, lm, p, disp)
  c(par[seq_len(p)], lm$lambda, tail_of(par, disp))

# The last `k` elements of x (k = TRUE: the last one).
tail_of <- function(x, k) x[length(x) - rev(seq_len(k)) + 1L]

# The objective: evalf(par, grad) returns the engine's list with loglik
# (plus the log prior when penalized) and the gradient in the search's
# parameters, and `penalty` (the log prior; 0 without one). A structure
# whose D is not positive definite at par (numerically) gives -Inf. An
# engine_eval with the attribute "directions" takes the Jacobian as a
# third argument and returns the gradient in the structures' parameters.
structure_evalf <- function(engine_eval, terms, k_re, p, disp, Tx, penalty) {
  P <- p + length(unlist(k_re)) + disp
  directions <- isTRUE(attr(engine_eval, "directions"))
  memo <- new.env(parent = emptyenv())
  memo$par <- memo$cj <- vector("list", length(terms))
  function(par, grad = TRUE) {
    lm <- tryCatch(structure_lambda(terms, k_re, par, memo, jacobian = grad),
                   error = function(e) NULL)
    # (a Jacobian that is not finite, as mat()'s far out in its range and
    # smoothness, where the Bessel functions' derivatives overflow, is such
    # a point too: the engine refused its directions)
    if (is.null(lm) || grad && !all(is.finite(lm$J)))
      return(list(loglik = -Inf, gradient = rep(NA_real_, P), penalty = 0))
    theta <- structure_engine_theta(par, lm, p, disp)
    # An engine taking directions contracts the gradient with J itself.
    if (grad && directions) return(penalize(engine_eval(theta, grad, lm$J), penalty,
                                            par[seq_len(p)], Tx, grad))
    r <- engine_eval(theta, grad)
    if (grad) {
      g <- r$gradient
      nl <- length(lm$lambda)
      r$gradient <- c(g[seq_len(p)], drop(crossprod(lm$J, g[p + seq_len(nl)])),
                      tail_of(g, disp))
      # (each cluster's score, where the engine gives them, likewise)
      S <- r$scores
      if (!is.null(S))
        r$scores <- cbind(S[, seq_len(p), drop = FALSE], S[, p + seq_len(nl), drop = FALSE] %*% lm$J,
                          S[, tail_of(seq_len(ncol(S)), disp), drop = FALSE])
    }
    penalize(r, penalty, par[seq_len(p)], Tx, grad)
  }
}

# The estimates at the search's optimum `par` (evaluation `final`, search
# record `run`, boundary check `bc`): parameters in the user's units on the
# structures' scale (theta) with their Hessian, covariance and gradient;
# the same pushed forward to the engine's parameterization (beta, Lambda's
# entries, log dispersion: theta_chol, cov_chol), which the methods shared
# with unstructured fits read, Lambda's entries named `lam_names`; the
# structure and penalty reports. A tail of several parameters (a two-part
# fit's zero and dispersion coefficients) has its names `tail_names` and
# is searched as Ttail times them (their designs centred and scaled).
# Fitted on y / s (`s`, response_scale()), the estimates are mapped to the
# units of y.
covstruct_estimates <- function(evalf, run, bc, final, terms, k_re, Tx, xnames, family,
                                disp, control, penalty, lam_names, s = 1, Ttail = NULL,
                                tail_names = NULL, tail_scaled = TRUE,
                                scaled_terms = seq_along(terms), reml = NULL) {
  par <- run$par
  p <- nrow(Tx)
  P <- length(par)
  lm <- structure_lambda(terms, k_re, par)
  # The user's parameterization: beta = Tx^-1 beta* (and the tail's).
  A <- diag(1, P)
  A[seq_len(p), seq_len(p)] <- Tx
  theta <- par
  theta[seq_len(p)] <- backsolve(Tx, par[seq_len(p)])
  if (!is.null(Ttail)) {
    it <- tail_of(seq_len(P), disp)
    A[it, it] <- Ttail
    theta[it] <- backsolve(Ttail, par[it])
  }
  pnames <- structure_layout(xnames, p, terms, tail_names %||% dispersion_tail(family, disp))
  on_boundary <- rep(FALSE, P)
  on_boundary[bc$record$boundary_index] <- TRUE
  # The search's last Hessian was taken at par over all parameters; with
  # none on a boundary it is the one the standard errors need.
  H <- if (control$hessian) {
    if (!is.null(run$hessian) && !any(on_boundary)) run$hessian
    else fd_hessian(gradient_of(evalf), par, g0 = final$gradient, floor = 0.1,
                    on_boundary = on_boundary)
  }
  # (REML: `reml` gives X' V^-1 X at par, reml_beta_information())
  if (!is.null(reml)) H <- reml_information(H, p, reml(par))
  # Boundary rows and columns are NA; kept out of the products (NA * 0 is NA).
  hess <- if (!is.null(H)) na_product(H, A, on_boundary)
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  # The covariance and the remaining Newton step on the search's centred
  # and scaled parameters, then mapped (star_covariance() says why).
  cov_search <- if (!is.null(H) && !is.null(hess))
    invert_information(na_at_boundary(H, on_boundary), on_boundary, pnames)
  cov_theta <- structure_covariance(cov_search, Tx, on_boundary, pnames, hess, Ttail)
  nstep <- newton_decrement(final$gradient, H, on_boundary)
  grad <- drop(crossprod(A, final$gradient))
  names(theta) <- names(grad) <- pnames
  gfree <- final$gradient[!on_boundary]
  # Fitted on y / s (response-scale.R): the estimates in the units of y;
  # the convergence measures above stay those of the scale-free search.
  # Fitted on y - X b0 (response_shift()): b0 back on the fixed effects.
  b0 <- response_shift(s)
  s <- as.vector(s)
  if (s != 1 || !is.null(b0)) {
    # (`tail_scaled` FALSE: a dispersion formula fitted with its offset
    # less log(s), whose coefficients are the user's as they stand)
    # (`scaled_terms`: the terms in the units of y, not a random
    # dispersion's, whose effects act on log sigma)
    un <- unscale_structure(par, theta, grad, hess, terms[scaled_terms], k_re[scaled_terms], p,
                            tail_scaled && disp, s)
    if (!is.null(b0)) un$theta[seq_len(p)] <- un$theta[seq_len(p)] + b0
    par <- un$par
    theta <- un$theta
    grad <- un$grad
    hess <- un$hess
    cov_theta <- unscale_covariance(cov_theta, un$mult, hess, on_boundary, pnames)
    terms <- fixed_covariance_in_units(terms, 1 / s, scaled_terms)
    lm <- structure_lambda(terms, k_re, par)
  }
  structures <- covstruct_report(terms, k_re, par, cov_theta)
  pen <- if (!is.null(penalty))
    list(prior = penalty, value = final$penalty, loglik = final$loglik - final$penalty,
         objective = final$loglik)
  # Methods that carry uncertainty from the parameters to D (Wald
  # intervals for standard deviations, marginal coefficients, ...) read the
  # parameters as (beta, Lambda's entries, log dispersion): the structure's
  # covariance is pushed forward to them by the same exact Jacobian (a
  # covariance of rank the number of structure parameters).
  B <- structure_push_jacobian(p, lm$J, disp)
  cnames <- c(pnames[seq_len(p)], lam_names, tail_of(pnames, disp))
  theta_chol <- stats::setNames(c(theta[seq_len(p)], lm$lambda, tail_of(theta, disp)), cnames)
  cov_chol <- pushed_covariance(cov_theta, B, on_boundary, cnames)
  list(theta = theta, pnames = pnames, on_boundary = on_boundary, hess = hess,
       cov_theta = cov_theta, grad = grad, nstep = nstep,
       gmax_star = if (length(gfree)) max(abs(gfree)) else 0,
       singular = length(setdiff(bc$record$boundary_index, bc$record$disp_index)) > 0L,
       structures = structures, penalty = pen, lm = lm,
       theta_chol = theta_chol, cov_chol = cov_chol, jacobian = A, cov_search = cov_search)
}

# A user's `start`, laid out as a structured fit's theta_structure (beta,
# each term's structure parameters, the tail: log dispersion, or a two-part
# fit's zero and dispersion coefficients), mapped to the search's
# parameters: the inverse of covstruct_estimates()'s map with the same
# arguments (the response's scale and shift, then beta* = Tx beta and the
# tail's Ttail). `pnames`: the layout, for the message.
structure_search_start <- function(start, pnames, terms, k_re, Tx, s = 1, Ttail = NULL,
                                   disp = 0L, tail_scaled = TRUE,
                                   scaled_terms = seq_along(terms)) {
  P <- length(pnames)
  if (!is.numeric(start) || length(start) != P || !all(is.finite(start)))
    stop(sprintf("'start' must be %d finite numbers laid out as a fit's $theta_structure: %s",
                 P, paste(pnames, collapse = ", ")), call. = FALSE)
  # (named as the layout in another order, e.g. a fit's $theta_structure
  # rearranged: taken by name, not by position)
  nm <- names(start)
  if (!is.null(nm) && !anyDuplicated(nm) && setequal(nm, pnames)) start <- start[pnames]
  theta <- unname(as.numeric(start))
  p <- nrow(Tx)
  b0 <- response_shift(s)
  s <- as.vector(s)
  if (s != 1 || !is.null(b0)) {
    if (!is.null(b0)) theta[seq_len(p)] <- theta[seq_len(p)] - b0
    m <- structure_unit_map(P, terms[scaled_terms], k_re[scaled_terms], p, tail_scaled && disp, s)
    theta <- (theta - m$add) / m$mult
  }
  theta[seq_len(p)] <- drop(Tx %*% theta[seq_len(p)])
  if (!is.null(Ttail)) {
    it <- tail_of(seq_len(P), disp)
    theta[it] <- drop(Ttail %*% theta[it])
  }
  theta
}

# The search's start `par` (from structure_search_start()) must have a
# finite log-likelihood; where a structure (`terms`, blocks `k_re`) refuses
# its parameters there with a message of its own ("mat(): ..."), that
# message says why.
check_structure_start <- function(evalf, par, terms = NULL, k_re = NULL) {
  force(par)  # (its own errors first: the evaluation catches errors in its argument)
  if (is.finite(evalf(par)$loglik)) return(par)
  why <- if (!is.null(terms))
    tryCatch({ structure_lambda(terms, k_re, par); NULL }, error = conditionMessage)
  if (!is.null(why) && grepl("^[a-z0-9]+\\(\\): ", why)) stop("'start': ", why, call. = FALSE)
  stop(paste0("'start': the log-likelihood is not finite at the given starting values; give ",
              "other values (such as smaller standard deviations) or leave 'start' out"),
       call. = FALSE)
}

# The names of a structured fit's parameters, its theta_structure: the p
# fixed effects (`xnames`), each term's structure parameters, then `tail`
# (the log dispersion, dispersion_tail(); or a two-part fit's zero and
# dispersion coefficients).
structure_layout <- function(xnames, p, terms, tail = NULL)
  c(xnames %||% paste0("X", seq_len(p)), structure_par_names(terms), tail)

# The structures' parameters' names, "label: parameter", term by term.
structure_par_names <- function(terms)
  unlist(lapply(terms, function(t) sprintf("%s: %s", t$label, t$struct$names(t$cnames))))

# The Jacobian B of the engine's parameters (beta, Lambda's entries, the
# `disp` tail parameters) in the search's (beta, structure parameters,
# tail), from J, Lambda's entries' Jacobian in the structures'.
structure_push_jacobian <- function(p, J, disp) {
  B <- matrix(0, p + nrow(J) + disp, p + ncol(J) + disp)
  B[seq_len(p), seq_len(p)] <- diag(1, p)
  B[p + seq_len(nrow(J)), p + seq_len(ncol(J))] <- J
  B[cbind(tail_of(seq_len(nrow(B)), disp), tail_of(seq_len(ncol(B)), disp))] <- 1
  B
}

# The covariance of the estimates from their covariance Vs in the search's
# parameters (the search's Hessian inverted, invert_information(); over
# beta* = Tx beta and the structures' parameters, and a tail searched as
# Ttail times its parameters): mapped by Tx^-1 (and Ttail^-1), NA rows and
# columns (parameters on a boundary, not beta) kept.
structure_covariance <- function(Vs, Tx, on_boundary, pnames, hess, Ttail = NULL) {
  P <- length(pnames)
  if (is.null(Vs))
    return(matrix(NA_real_, P, P, dimnames = list(pnames, pnames)))
  if (is.null(attr(Vs, "ok"))) return(Vs)
  p <- nrow(Tx)
  B <- diag(1, P)
  B[seq_len(p), seq_len(p)] <- backsolve(Tx, diag(1, p))
  if (!is.null(Ttail)) {
    it <- tail_of(seq_len(P), nrow(Ttail))
    B[it, it] <- backsolve(Ttail, diag(1, nrow(Ttail)))
  }
  na <- is.na(Vs)
  V <- B %*% replace(Vs, na, 0) %*% t(B)
  V[na] <- NA_real_
  V <- (V + t(V)) / 2
  dimnames(V) <- list(pnames, pnames)
  attr(V, "ok") <- TRUE
  free <- which(!on_boundary)
  info <- -hess[free, free, drop = FALSE]
  attr(V, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
  V
}

# The covariance of the engine's parameters (beta, Lambda's entries, log
# dispersion) pushed forward from the structures' by their Jacobian B
# (N x P): B V B', NA where a parameter on a boundary enters. It has rank P
# and N^2 entries: with one random effect per observation (q = 181,
# N = 16,475) that is 2.2 GB, and its products several times that. Beyond
# `max_dense` entries it is kept as its factors (lowrank_cov()), whose
# `[` gives any block. Its attributes "ok" and "cond" are those of `from`.
pushed_covariance <- function(cov_theta, B, on_boundary, cnames, max_dense = 4e6,
                              from = cov_theta) {
  N <- nrow(B)
  out <- if (as.numeric(N) * N <= max_dense) {
    na_product(cov_theta, t(B), on_boundary)
  } else pushed_lowrank(cov_theta, B, on_boundary, cnames)
  if (is.matrix(out)) dimnames(out) <- list(cnames, cnames)
  attr(out, "ok") <- attr(from, "ok")
  attr(out, "cond") <- attr(from, "cond")
  out
}

pushed_lowrank <- function(cov_theta, B, on_boundary, cnames) {
  V <- cov_theta
  V[on_boundary, ] <- 0
  V[, on_boundary] <- 0
  V[is.na(V)] <- 0
  na_rows <- rowSums(abs(B[, on_boundary, drop = FALSE])) > 0
  if (anyNA(cov_theta[!on_boundary, !on_boundary])) na_rows[] <- TRUE
  lowrank_cov(B, unname(V), na_rows, cnames)
}

# A covariance matrix B V B' kept as its factors: dim(), dimnames() and `[`
# (a block, computed on demand) as for the matrix, with rows `na_rows` NA;
# as.matrix() forms it (its size checked first).
lowrank_cov <- function(B, V, na_rows, names) {
  structure(list(B = unname(B), V = V, na_rows = na_rows, names = names),
            class = "glmmgee_lowrank_cov")
}

# The variances (diagonal) of a covariance matrix or of a lowrank_cov,
# without forming the latter.
cov_diag <- function(V) {
  if (!inherits(V, "glmmgee_lowrank_cov")) return(diag(V))
  B <- .subset2(V, "B")
  d <- rowSums((B %*% .subset2(V, "V")) * B)
  d[.subset2(V, "na_rows")] <- NA_real_
  stats::setNames(d, .subset2(V, "names"))
}

#' @export
dim.glmmgee_lowrank_cov <- function(x) rep(nrow(.subset2(x, "B")), 2L)

#' @export
dimnames.glmmgee_lowrank_cov <- function(x) rep(list(.subset2(x, "names")), 2L)

#' @export
`[.glmmgee_lowrank_cov` <- function(x, i, j, drop = TRUE) {
  B <- .subset2(x, "B")
  nm <- .subset2(x, "names")
  N <- nrow(B)
  at <- function(k) {
    if (missing(k)) return(seq_len(N))
    if (is.character(k)) return(match(k, nm))
    seq_len(N)[k]
  }
  ii <- if (missing(i)) seq_len(N) else at(i)
  jj <- if (missing(j)) seq_len(N) else at(j)
  if (anyNA(ii) || anyNA(jj)) stop("subscript out of bounds", call. = FALSE)
  check_memory(8 * as.numeric(length(ii)) * length(jj),
               sprintf("a %d x %d block of the parameters' covariance", length(ii), length(jj)))
  out <- B[ii, , drop = FALSE] %*% .subset2(x, "V") %*% t(B[jj, , drop = FALSE])
  nr <- .subset2(x, "na_rows")
  out[nr[ii], ] <- NA_real_
  out[, nr[jj]] <- NA_real_
  dimnames(out) <- list(nm[ii], nm[jj])
  if (drop) out <- out[, , drop = TRUE]
  out
}

#' @export
as.matrix.glmmgee_lowrank_cov <- function(x, ...) {
  check_dots(..., .method = "as.matrix.glmmgee_lowrank_cov")
  x[, , drop = FALSE]
}

#' @export
print.glmmgee_lowrank_cov <- function(x, ...) {
  check_dots(..., .method = "print.glmmgee_lowrank_cov", .allow = print_dots)
  cat(sprintf("Covariance of %d parameters (rank %d), kept as B V B'; index it for a block\n",
              nrow(.subset2(x, "B")), ncol(.subset2(x, "B"))))
  invisible(x)
}

# $optinfo of a structured search (covstruct_fit(), sparse_covstruct_fit()):
# the search's record `run`, estimates `est`, boundary check `bc`, the
# warnings `warn`; route-specific fields in `...`.
covstruct_optinfo <- function(run, est, bc, warn, method, nAGQ, reparameterized, grad_basis, ...) {
  new_optinfo(optimizer = paste0(if (!is.null(run$stages$nlminb)) "Newton-BFGS, then nlminb"
                                 else "Newton-BFGS", ", then Newton steps with recomputed Hessians"),
              method = method, nAGQ = nAGQ, stages = run$stages,
              convergence = run$opt$convergence, message = run$opt$message,
              max_grad = est$gmax_star, max_grad_user = max(abs(est$grad[!est$on_boundary]), 0),
              grad_basis = grad_basis, scaled_grad = est$nstep,
              hessian_cond = attr(est$cov_theta, "cond") %||% NA_real_, warnings = warn,
              boundary_check = bc$record, reparameterized = reparameterized,
              dispersion_limit = isTRUE(bc$record$dispersion_at_zero), ...)
}

# A structured fit's map from its parameters on the structures' scales
# (phi: beta, each structure's parameters, log dispersion; the fit's
# theta_structure) to the engine's (theta: beta, Lambda's entries, log
# dispersion) with its Jacobian, on the terms rebuilt from the fit's formula
# and model frame: list(re, phi, map), map(phi) = list(theta, J). NULL when
# the rebuilt map does not reproduce the fit's theta (1e-6).
covstruct_parameter_map <- function(fit) {
  p <- length(fit$coefficients)
  sparse <- inherits(fit, "glmmgee_glmm_sparse")
  env <- environment(fit$formula) %||% globalenv()
  re <- if (sparse && !is.null(fit$aux))
    two_part_structure_terms(fit$formula, fit$aux$zi$formula, fit$model, env,
                             if (inherits(fit, "glmmgee_glmm_dispre")) fit$aux$disp$formula)$re
  else if (sparse) sparse_covstruct_terms(fit$formula, fit$model)
  else covstruct_terms(fit$formula, fit$model, env)
  k_re <- structure_blocks(re$terms, p)
  disp <- structure_tail_count(fit)
  phi <- unname(as.numeric(fit$theta_structure))
  P <- length(phi)
  map <- function(ph) {
    lm <- structure_lambda(re$terms, k_re, ph)
    J <- matrix(0, p + length(lm$lambda) + disp, P)
    J[cbind(seq_len(p), seq_len(p))] <- 1
    J[p + seq_along(lm$lambda), p + seq_len(ncol(lm$J))] <- lm$J
    J[cbind(tail_of(seq_len(nrow(J)), disp), tail_of(seq_len(P), disp))] <- 1
    list(theta = c(ph[seq_len(p)], lm$lambda, tail_of(ph, disp)), J = J)
  }
  th <- as.numeric(fit$theta)
  at <- map(phi)
  if (length(at$theta) != length(th) || max(abs(at$theta - th) / (1 + abs(th))) > 1e-6) return(NULL)
  list(re = re, phi = phi, map = map)
}
