# Matrix-level fitter for a zero-inflated or hurdle GLMM with random
# effects in both parts and one grouping factor (src/agq-zire.h): Laplace
# (nAGQ = 1) or adaptive Gauss-Hermite quadrature over the q = qc + qz
# random effects of a cluster jointly.
#   theta = (beta [p], Lambda's free entries [nl], gamma [pz], delta [pd]),
# the order of glmm_zi_fit(), so the fitted object is read the same way.
# Lambda is lower triangular over (count part's effects, zero part's
# effects); `correlated = FALSE` keeps it block-diagonal over the two parts
# (glmmTMB's model: separate terms), TRUE makes it full (GLMMadaptive's
# model: one unstructured covariance over both parts).
glmm_zire_fit <- function(X, y, Zc, Zz, group, family, kind, Xz, Xd = NULL,
                          weights = NULL, offset = NULL, offz = NULL,
                          nAGQ = 1L, cov_blocks_c = ncol(Zc), cov_blocks_z = ncol(Zz),
                          correlated = FALSE, control = glmm_control()) {
  n <- nrow(X)
  storage.mode(X) <- "double"; storage.mode(Zc) <- "double"; storage.mode(Zz) <- "double"
  if (is.null(weights)) weights <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  if (is.null(offz)) offz <- rep(0, n)
  disp <- has_dispersion(family)
  if (disp && is.null(Xd)) Xd <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (!disp) Xd <- NULL
  for (M in list(Xz, Xd)) if (!is.null(M) && !all_finite(M))
    stop("the zero-inflation or dispersion model matrix contains NA, NaN or infinite values",
         call. = FALSE)
  cl <- cluster_index(group, "group")
  qc <- ncol(Zc); qz <- ncol(Zz); q <- qc + qz
  blocks <- if (correlated) q else c(cov_blocks_c, cov_blocks_z)
  pat <- block_pattern(blocks)
  nAGQ <- check_nAGQ(nAGQ, q)
  check_full_rank(X)
  if (ncol(Xz)) check_full_rank(Xz)
  if (!is.null(Xd)) check_full_rank(Xd)
  p <- ncol(X); pz <- ncol(Xz); pd <- if (is.null(Xd)) 0L else ncol(Xd)
  nl <- length(pat$row)
  nb <- p + nl
  # The search runs on centred and scaled fixed-effect designs of all three
  # parts (reparam-zi.R); Lambda is left as it is (the random-effect
  # designs of the two parts are not mixed).
  rp <- aux_reparam(zire_base_reparam(X, nl), nb, Xz, Xd)
  XdS <- if (pd) rp$Xd else matrix(0, n, 0L)
  storage.mode(XdS) <- "double"
  Xzs <- rp$Xz
  storage.mode(Xzs) <- "double"
  eng <- cpp_zire_new(rp$X, Zc, Zz, Xzs, XdS, as.numeric(y), as.numeric(weights),
                      cbind(as.numeric(offset), as.numeric(offz), 0),
                      cl$index, length(cl$levels), pat$row - 1L, pat$col - 1L,
                      family$family_code, family$link_code,
                      if (kind == "hurdle") 2L else 1L, 1L, control$nthreads)
  P <- p + nl + pz + pd
  cpp_zire_set_nagq(eng, nAGQ)
  cpp_zire_set_nagq(eng, 1L)
  st <- zi_start_values(NULL, rp$X, y, weights, offset, family, kind, Xzs, offz, pd, pat)
  lower <- c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), rep(-Inf, pz + pd))
  at_lam <- p + seq_len(nl)
  is_diag <- pat$row == pat$col
  bound_at <- function(tol, typical = rep(1, P)) function(th) {
    b <- rep(FALSE, P)
    b[at_lam] <- is_diag & abs(th[at_lam]) < tol * typical[at_lam]
    b
  }
  bound <- bound_at(optimizer_boundary_tol(control))
  lam_names <- sprintf("lambda[%d,%d]", pat$row, pat$col)
  pnames <- c(colnames(X) %||% paste0("X", seq_len(p)), lam_names,
              if (pz) paste0("zi~", colnames(Xz) %||% seq_len(pz)),
              if (pd) paste0("disp~", colnames(Xd) %||% seq_len(pd)))
  # No Laplace stage before quadrature: the two-part likelihood is not
  # concave in (eta, logit pi), and in clusters of zeros the Laplace
  # approximation can exceed the probability one (a positive cluster
  # log-likelihood) and lead the search away from the quadrature optimum.
  search <- function(th, two_stage = TRUE) {
    ctl <- control
    ctl$laplace_start <- FALSE
    r <- zi_optimize(eng, th, lower, nAGQ, bound, ctl)
    r$loglik <- agq_eval(eng, r$theta, FALSE)$loglik
    r
  }
  run <- search(st)
  vb <- verify_boundary(function(th) search(th, two_stage = FALSE), run, bound,
                        function(th, b, size, corr)
                          restart_lambda(th, b, size, corr, pat$row, pat$col, at_lam),
                        pnames, diag = at_lam[is_diag])
  run <- vb$best
  cpp_zire_set_nagq(eng, nAGQ)
  fin <- finish_glmm_fit(eng, run$theta, run$opt, c(run$stages, run$restart_stages), NULL,
                         bound, lower, control, rep(1, P))
  theta_s <- fin$theta
  final <- fin$final
  run$opt <- fin$opt
  run$stages <- fin$stages
  theta <- rp$from_star(theta_s)
  on_boundary <- bound_at(control$singular_tol, rp$typical)(theta)
  J <- rp$jacobian(theta, !on_boundary)
  final$gradient <- drop(crossprod(J, final$gradient))
  hess <- to_user_hessian(fin$hess, J, bound(theta_s), on_boundary)
  if (!is.null(hess)) dimnames(hess) <- list(pnames, pnames)
  summ <- cpp_zire_summaries(eng, theta_s)
  names(theta) <- pnames
  grad <- stats::setNames(final$gradient, pnames)
  if (!is.null(hess) && any(on_boundary)) {
    hess[on_boundary, ] <- NA_real_
    hess[, on_boundary] <- NA_real_
  }
  cov_theta <- invert_information(hess, on_boundary, pnames)
  gmax <- if (any(!on_boundary)) max(abs(grad[!on_boundary])) else 0
  nstep <- newton_decrement(grad, hess, on_boundary)
  modes_failed <- if (summ$newton_failures > 0L)
    sprintf("the posterior mode search failed in %d cluster(s)", summ$newton_failures)
  warn <- fit_warnings(run$opt, nstep, gmax, any(on_boundary), hess, cov_theta,
                       control, after_singular = modes_failed, boundary_check = vb$record)
  Lam <- matrix(0, q, q)
  Lam[cbind(pat$row, pat$col)] <- theta[at_lam]
  stages <- run$stages
  list(beta = theta[seq_len(p)], lambda = theta[at_lam], Lambda = Lam,
       zi = if (pz) theta[p + nl + seq_len(pz)], disp = if (pd) theta[p + nl + pz + seq_len(pd)],
       theta = theta, loglik = final$loglik, gradient = grad, hessian = hess,
       cov_theta = cov_theta, modes = summ, nAGQ = nAGQ, group = cl, q = q,
       pattern = pat, cov_blocks = blocks, p = p, kind = kind, qc = qc, qz = qz,
       correlated = correlated,
       singular = any(on_boundary), on_boundary = on_boundary,
       optinfo = list(optimizer = if (any(grepl("nlminb", names(stages)))) "Newton-BFGS, then nlminb"
                                  else "Newton-BFGS",
                      method = if (nAGQ == 1L) "Laplace" else "AGHQ", nAGQ = nAGQ,
                      stages = stages,
                      iterations = sum(vapply(stages, function(s) as.integer(s$iterations), 1L)),
                      evaluations = sum(vapply(stages, function(s) as.integer(s$evaluations), 1L)),
                      convergence = run$opt$convergence, message = run$opt$message,
                      max_grad = gmax, scaled_grad = nstep,
                      hessian_cond = attr(cov_theta, "cond") %||% NA_real_,
                      newton_failures = summ$newton_failures, warnings = warn,
                      boundary_check = vb$record, zero_inflation_vanishes = FALSE,
                      reparameterized = !rp$identity, nthreads = control$nthreads))
}

# The (beta, Lambda) block of the reparameterization: X centred and scaled
# (beta* = T beta), Lambda's entries unchanged.
zire_base_reparam <- function(X, nl) {
  tx <- design_transform(X)
  p <- ncol(X)
  Ti <- backsolve(tx$T, diag(1, p))
  ib <- seq_len(p)
  map <- function(theta, T) { theta[ib] <- drop(T %*% theta[ib]); theta }
  list(identity = tx$identity, X = tx$M,
       to_star = function(theta) map(theta, tx$T),
       from_star = function(theta) map(theta, Ti),
       jacobian = function(theta, free = rep(TRUE, length(theta))) {
         J <- diag(1, length(theta))
         J[ib, ib] <- tx$T
         J[, !free] <- 0
         J
       },
       typical = c(1 / tx$scale, rep(1, nl)))
}
