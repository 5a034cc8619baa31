# The fit of a GLMM whose random-effect terms on one grouping factor have
# covariance structures (covstruct.R): the one-factor engine (AGHQ or
# Laplace) evaluates the likelihood at Lambda = chol(D(par)), and its exact
# gradient in Lambda's entries is carried to the structure's parameters by
# the exact Jacobian of the Cholesky factor (chol_jacobian()).
#
# Parameters: c(beta*, structure parameters term by term, log dispersion).
# The fixed effects are searched on the centred and scaled design
# (design_transform(), beta* = Tx beta), so the search does not depend on
# the covariates' units; Z is used as given, since a structure (diagonal,
# AR(1), ...) is not preserved by recentring its columns.
covstruct_fit <- function(X, y, re, group, family, weights, offset, nAGQ, control,
                          penalty = NULL) {
  n <- length(y)
  p <- ncol(X)
  cl <- cluster_index(group, "group")
  M <- length(cl$levels)
  q <- ncol(re$Z)
  check_support(y, family)
  if (is.null(nAGQ)) nAGQ <- default_nAGQ(q, family)
  nAGQ <- check_nAGQ(nAGQ, q)
  check_full_rank(X)
  disp <- has_dispersion(family)
  tx <- design_transform(X)
  Tx <- tx$T
  eng <- cpp_agq_new(tx$M, re$Z, as.numeric(y), as.numeric(weights), as.numeric(offset),
                     cl$index, M, re$lam_row - 1L, re$lam_col - 1L, family$family_code,
                     family$link_code, nAGQ, control$nthreads)
  on.exit(cpp_agq_free(eng), add = TRUE)
  cpp_agq_check_nagq(eng, nAGQ)
  pat <- list(row = re$lam_row, col = re$lam_col)
  st <- start_values(tx$M, y, weights, offset, family, q, pat, NULL, eng)
  npar <- vapply(re$terms, function(t) t$struct$npar, 1L)
  at_re <- p + seq_len(sum(npar))
  k_re <- split(at_re, rep(seq_along(npar), npar))
  sd0 <- max(st[p + which(pat$row == pat$col)][1L], 0.1)
  start <- c(st[seq_len(p)], unlist(lapply(re$terms, function(t) t$struct$start(sd0))),
             if (disp) st[[length(st)]])
  P <- length(start)

  # Engine parameters and the Jacobian of Lambda's entries in the structure's.
  lambda_map <- function(par) {
    lam <- numeric(length(pat$row))
    J <- matrix(0, length(pat$row), sum(npar))
    off_l <- 0L
    off_p <- 0L
    for (k in seq_along(re$terms)) {
      t <- re$terms[[k]]
      nl <- t$q * (t$q + 1L) / 2L
      pk <- par[k_re[[k]]]
      il <- off_l + seq_len(nl)
      ip <- off_p + seq_len(t$struct$npar)
      if (t$kind == "us") {
        lam[il] <- pk
        J[il, ip] <- diag(1, nl)
      } else {
        cj <- chol_jacobian(t$struct$D(pk), t$struct$dD(pk))
        lam[il] <- cj$L[lower.tri(cj$L, diag = TRUE)]
        J[il, ip] <- cj$J
      }
      off_l <- off_l + nl
      off_p <- off_p + t$struct$npar
    }
    list(lambda = lam, J = J)
  }
  engine_theta <- function(par, lm = lambda_map(par))
    c(par[seq_len(p)], lm$lambda, if (disp) par[[P]])
  evalf <- function(par, grad = TRUE) {
    lm <- tryCatch(lambda_map(par), error = function(e) NULL)
    if (is.null(lm)) return(list(loglik = -Inf, gradient = rep(NA_real_, P)))
    r <- cpp_agq_eval(eng, engine_theta(par, lm), grad)
    if (grad) {
      g <- r$gradient
      nl <- length(lm$lambda)
      r$gradient <- c(g[seq_len(p)], drop(crossprod(lm$J, g[p + seq_len(nl)])),
                      if (disp) g[[length(g)]])
    }
    # The prior acts on beta = Tx^-1 beta*, so its gradient in beta* is
    # Tx^-T times its gradient in beta.
    r$penalty <- 0
    if (!is.null(penalty)) {
      pv <- penalty_value(penalty, backsolve(Tx, par[seq_len(p)]))
      r$penalty <- pv$value
      r$loglik <- r$loglik + pv$value
      if (grad) r$gradient[seq_len(p)] <- r$gradient[seq_len(p)] + forwardsolve(t(Tx), pv$gradient)
    }
    r
  }
  search <- function(par) covstruct_search(evalf, par, control)
  run <- search(start)
  bc <- covstruct_verify(search, run, re$terms, k_re)
  run <- bc$best
  par <- run$par
  final <- run$at %||% evalf(par)
  lm <- lambda_map(par)

  # The user's parameterization: beta = Tx^-1 beta*.
  A <- diag(1, P)
  A[seq_len(p), seq_len(p)] <- Tx
  theta <- par
  theta[seq_len(p)] <- backsolve(Tx, par[seq_len(p)])
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)),
              unlist(lapply(re$terms, function(t)
                sprintf("%s: %s", t$label, t$struct$names(t$cnames)))),
              if (disp) sprintf("log(%s)", dispersion_name(family)))
  on_boundary <- rep(FALSE, P)
  on_boundary[bc$record$boundary_index] <- TRUE
  # The search's last Hessian was taken at par over all parameters; with
  # none on a boundary it is the one the standard errors need.
  H <- if (control$hessian) {
    if (!is.null(run$hessian) && !any(on_boundary)) run$hessian
    else covstruct_hessian(evalf, par, final$gradient, on_boundary)
  }
  # Boundary rows and columns are NA; kept out of the products (NA * 0 is NA).
  hess <- if (!is.null(H)) na_product(H, A, on_boundary)
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  cov_theta <- invert_information(hess, on_boundary, pnames)
  grad <- drop(crossprod(A, final$gradient))
  names(theta) <- names(grad) <- pnames
  nstep <- newton_decrement(grad, hess, on_boundary)
  gfree <- final$gradient[!on_boundary]
  gmax_star <- if (length(gfree)) max(abs(gfree)) else 0
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- lm$lambda
  summ <- cpp_agq_summaries(eng, engine_theta(par, lm))
  singular <- any(on_boundary)
  warn <- fit_warnings(run$opt, nstep, gmax_star, singular, hess, cov_theta, control,
                       boundary_check = bc$record)
  structures <- covstruct_report(re$terms, k_re, par, cov_theta)
  pen <- if (!is.null(penalty))
    list(prior = penalty, value = final$penalty, loglik = final$loglik - final$penalty,
         objective = final$loglik)
  # Methods that carry uncertainty from the parameters to D (Wald
  # intervals for standard deviations, marginal coefficients, ...) read the
  # parameters as (beta, Lambda's entries, log dispersion): the structure's
  # covariance is pushed forward to them by the same exact Jacobian (a
  # covariance of rank the number of structure parameters).
  B <- matrix(0, p + length(lm$lambda) + disp, P)
  B[seq_len(p), seq_len(p)] <- diag(1, p)
  B[p + seq_along(lm$lambda), at_re] <- lm$J
  if (disp) B[nrow(B), P] <- 1
  cnames <- c(pnames[seq_len(p)], sprintf("lambda[%d,%d]", pat$row, pat$col),
              if (disp) pnames[P])
  theta_chol <- stats::setNames(c(theta[seq_len(p)], lm$lambda, if (disp) theta[[P]]), cnames)
  cov_chol <- na_product(cov_theta, t(B), on_boundary)
  dimnames(cov_chol) <- list(cnames, cnames)
  attr(cov_chol, "ok") <- attr(cov_theta, "ok")
  attr(cov_chol, "cond") <- attr(cov_theta, "cond")
  attr(structures, "theta") <- theta
  attr(structures, "cov_theta") <- cov_theta
  list(beta = theta[seq_len(p)], lambda = lm$lambda, Lambda = Lam,
       sigma = sigma_of(family, if (disp) par[[P]]), theta = theta_chol,
       loglik = final$loglik - final$penalty, penalty = pen,
       gradient = grad, hessian = hess, cov_theta = cov_chol, npar = P,
       modes = summ, nAGQ = nAGQ, family = fitted_family(family, if (disp) par[[P]]),
       group = cl, q = q, pattern = pat, cov_blocks = re$block_sizes, p = p,
       dispersion = disp, family_par = family_parameter(family, theta, cov_theta),
       singular = singular, on_boundary = on_boundary, structures = structures,
       optinfo = list(optimizer = paste0(if (!is.null(run$stages$nlminb)) "Newton-BFGS, then nlminb"
                                         else "Newton-BFGS",
                                         ", then Newton steps with recomputed Hessians"),
                      method = if (nAGQ == 1L) "Laplace" else "AGHQ", nAGQ = nAGQ,
                      stages = run$stages,
                      iterations = sum(vapply(run$stages, function(s) as.integer(s$iterations), 1L)),
                      evaluations = sum(vapply(run$stages, function(s) as.integer(s$evaluations), 1L)),
                      convergence = run$opt$convergence, message = run$opt$message,
                      max_grad = max(abs(grad[!on_boundary]), 0), scaled_grad = nstep,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      newton_failures = summ$newton_failures, warnings = warn,
                      boundary_check = bc$record, reparameterized = !tx$identity,
                      nthreads = control$nthreads))
}

# A' H A for a symmetric H whose rows and columns `na` are missing (NA):
# the product over the others, NA where a missing one enters.
na_product <- function(H, A, na) {
  H0 <- H
  H0[na, ] <- 0
  H0[, na] <- 0
  out <- crossprod(A, H0 %*% A)
  hit <- colSums(abs(A[na, , drop = FALSE])) > 0
  out[hit, ] <- NA_real_
  out[, hit] <- NA_real_
  out
}

# Newton steps from the curvature at the start, updated by BFGS (the one-
# factor engine's newton_steps(), through the structure's exact Jacobian),
# nlminb (scaled by that curvature) only when they do not converge; then
# Newton steps with Hessians recomputed from the exact gradient (see
# newton-polish.R for why), whose last Hessian, at the returned par, is
# kept for the standard errors. Before, nlminb ran every search: 30-35
# evaluations where BFGS from an accurate start matrix needs about 10.
covstruct_search <- function(evalf, par, control) {
  P <- length(par)
  cur <- evalf(par)
  if (!is.finite(cur$loglik)) stop("the log-likelihood is not finite at the start", call. = FALSE)
  H0 <- covstruct_hessian(evalf, par, cur$gradient, rep(FALSE, P))
  stages <- list(start = list(iterations = 0L, evaluations = P + 1L, convergence = 0L,
                              message = "curvature at the start"))
  tol <- control$rel.tol / 100
  qn <- newton_steps(function(th) evalf(th), par, start_curvature(H0, rep(FALSE, P)) %||% H0,
                     rep(FALSE, P), maxit = min(control$iter.max, 50L), lower = rep(-Inf, P),
                     at = cur, bfgs = TRUE, tol = tol)
  stages$newton <- qn$record
  opt <- list(convergence = qn$record$convergence, message = qn$record$message)
  par <- qn$theta
  if (!qn$converged) {
    scale <- sqrt(abs(diag(H0)))
    scale[!is.finite(scale) | scale < 1e-8] <- 1
    cache <- new.env()
    ev <- function(th) {
      if (!identical(th, cache$th)) { cache$r <- evalf(th); cache$th <- th }
      cache$r
    }
    opt <- stats::nlminb(par, function(th) { v <- -ev(th)$loglik; if (is.finite(v)) v else Inf },
                         function(th) -ev(th)$gradient, scale = scale / max(scale),
                         control = list(rel.tol = control$rel.tol, iter.max = control$iter.max,
                                        eval.max = control$eval.max, trace = control$trace))
    stages$nlminb <- stage_record(opt)
    par <- opt$par
  }
  pol <- covstruct_newton(evalf, par, tol, at = if (qn$converged) qn$at)
  stages$newton_polish <- pol$record
  res <- list(par = pol$par, loglik = pol$at$loglik, stages = stages, at = pol$at,
              hessian = pol$hessian,
              opt = if (pol$converged) list(convergence = 0L, message = pol$record$message)
                    else list(convergence = opt$convergence, message = opt$message))
  res
}

# Newton steps, the Hessian recomputed each round and shifted to be
# negative definite where it is not (shift_to_negative_definite()),
# step halving when the log-likelihood does not rise.
covstruct_newton <- function(evalf, par, tol, rounds = 20L, at = NULL) {
  cur <- at %||% evalf(par)
  P <- length(par)
  rec <- list(iterations = 0L, evaluations = if (is.null(at)) 1L else 0L, convergence = 1L,
              message = "")
  converged <- FALSE
  Hkeep <- NULL
  for (r in seq_len(rounds)) {
    Hkeep <- covstruct_hessian(evalf, par, cur$gradient, rep(FALSE, P))
    rec$evaluations <- rec$evaluations + P
    H <- shift_to_negative_definite(Hkeep, rep(FALSE, P))
    if (is.null(H)) break
    step <- tryCatch(-solve(H, cur$gradient), error = function(e) NULL)
    if (is.null(step)) break
    dec <- sum(step * cur$gradient)
    if (!is.finite(dec)) break
    if (dec < tol * max(1, abs(cur$loglik))) { converged <- TRUE; break }
    Hkeep <- NULL
    t <- 1
    repeat {
      nxt <- evalf(par + t * step)
      rec$evaluations <- rec$evaluations + 1L
      if (is.finite(nxt$loglik) && nxt$loglik >= cur$loglik) break
      t <- t / 2
      if (t < 1e-6) break
    }
    if (t < 1e-6) break
    par <- par + t * step
    cur <- nxt
    rec$iterations <- r
  }
  rec$convergence <- if (converged) 0L else 1L
  rec$message <- if (converged) "Newton decrement below tolerance"
                 else "Newton steps did not reach the tolerance"
  # The Hessian at the returned par (NULL when a step moved it since).
  list(par = par, at = cur, converged = converged, record = rec, hessian = Hkeep)
}

# Forward differences of the exact gradient (symmetrized); parameters on a
# boundary (a standard deviation driven to zero, a correlation to +/-1,
# where the structure's scale runs off to infinity) are left out (NA).
covstruct_hessian <- function(evalf, par, g0, on_boundary) {
  P <- length(par)
  H <- matrix(NA_real_, P, P)
  idx <- which(!on_boundary)
  for (j in idx) {
    h <- 1e-5 * max(abs(par[j]), 0.1)
    tp <- par
    tp[j] <- tp[j] + h
    H[, j] <- (evalf(tp)$gradient - g0) / h
  }
  H[idx, idx] <- (H[idx, idx] + t(H[idx, idx])) / 2
  H
}

# The formula front end of glmm() for structured covariances and for
# penalized fixed effects (penalty.R): the same checks and object as the
# unstructured one-factor route, with the structures' estimates in
# $structures and the prior in $penalty (class glmmgee_glmm_covstruct).
glmm_covstruct <- function(formula, mf, family, nAGQ, control, start, covariance, ranef_dist,
                           REML, mc, fenv, penalty = NULL) {
  if (!is.null(covariance))
    stop("'covariance' (a known covariance) cannot be combined with a covariance structure such as ar1() or cs()",
         call. = FALSE)
  if (!identical(ranef_dist, "normal"))
    stop("'ranef_dist' other than \"normal\" cannot be combined with a covariance structure", call. = FALSE)
  if (isTRUE(REML))
    stop("'REML = TRUE' is not available with covariance structures", call. = FALSE)
  if (!is.null(start))
    stop("'start' is not available with covariance structures (the structure's parameters start at their defaults)",
         call. = FALSE)
  re <- covstruct_terms(formula, mf, fenv)
  fx <- fixed_design(formula, mf, fenv, drop_rownames = TRUE)
  X <- fx$X
  ck <- one_factor_checks(mf, X, family, formula, re)
  resp <- ck$resp
  extra_warn <- ck$extra_warn
  sep <- ck$sep
  fit <- covstruct_fit(X, resp$y, re, re$group, family, resp$weights, ck$offset, nAGQ, control,
                       penalty = penalty)
  if (!is.null(penalty) && isTRUE(sep$separated))
    sep$message <- paste0(sub(", so the maximum likelihood estimate.*$", "", sep$message),
                          ": the maximum likelihood estimate does not exist; the fit is penalized ",
                          "(penalized = TRUE), so these coefficients are finite but set largely ",
                          "by the prior (posterior mode), not by the data")
  obj <- new_glmm(fit, X = X, Z = re$Z, y = resp$y, weights = resp$weights,
                  offset = ck$offset, re = re, mf = mf, mt = fx$mt, call = mc,
                  formula = formula)
  obj$structures <- fit$structures
  obj$penalty <- fit$penalty
  # Parameters counted on the structure's scale (theta holds Lambda's entries).
  obj$df <- fit$npar
  obj$theta_structure <- attr(fit$structures, "theta")
  obj$cov_structure <- attr(fit$structures, "cov_theta")
  attributes(obj$structures) <- NULL
  class(obj) <- c("glmmgee_glmm_covstruct", class(obj))
  finish_glmm(obj, sep, extra_warn)
}
