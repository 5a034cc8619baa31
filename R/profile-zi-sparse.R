# Profiles of zero-inflated, hurdle and dispersion-formula fits with several
# random-effect terms: the fit's sparse engine rebuilt from the stored
# designs, its theta the vector the fit reports but with the conditional
# part's beta on profile_design()'s scale, for profile_engine()'s interface. With random
# effects in the zero part, the two-part sparse engine (src/engines/laplace/laplace-zero-re.h,
# the one glmm_sparse_zire_fit() searches with); otherwise the sparse
# Laplace engine with the auxiliary predictors (glmm_sparse_zi_fit()'s).
# Only the engines' evaluations are called, never their searches: each
# profile point is a fit with one parameter held, by profile_point().
zi_sparse_profile_engine <- function(fit, zbasis = NULL) {
  a <- fit$aux
  fam <- fit$family
  n <- length(fit$y)
  p <- length(fit$coefficients)
  X <- fit$X
  storage.mode(X) <- "double"
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  off <- as.numeric(fit$offset %||% rep(0, n))
  disp <- !is.null(a$disp_index)
  Xd <- if (disp) a$disp$X %||% matrix(1, n, 1L) else matrix(0, n, 0L)
  storage.mode(Xd) <- "double"
  Xz <- a$zi$X %||% matrix(0, n, 0L)
  storage.mode(Xz) <- "double"
  ad <- profile_aux_design(fit, X, Xz, if (disp) Xd)
  X <- ad$X
  Xz <- ad$Xz
  if (disp) Xd <- ad$Xd
  rc <- sparse_re_terms(fit$formula, fit$model, NULL)
  kind <- aux_kind_code(a$kind, fam)
  # The three parts' offsets (the zero and dispersion parts' offset() terms).
  aoff3 <- cbind(off, a$zi$offset %||% 0, if (disp) a$disp$offset %||% 0 else 0)
  if (isTRUE(a$zi$re$sparse)) {
    rz <- sparse_re_terms(zi_bars_formula(find_bars(a$zi$formula)), fit$model, NULL)
    re <- zire_combined_re(rc, rz)
    sp <- function(M) methods::as(methods::as(M, "CsparseMatrix"), "generalMatrix")
    eng <- cpp_spzire_new(X, Xz, Xd, sp(rc$Z), sp(rz$Z), y, w, aoff3,
                          re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                          fam$family_code, fam$link_code, kind)
    ev <- spzire_evaluator(eng)
    attr(ev, "edge") <- spzire_profile_edge(eng)
  } else {
    re <- rc
    if (!is.null(zbasis)) re$Z <- basis_z_sparse(re, zbasis)
    eng <- cpp_sparse_new(X, re$Z, y, w, off, re$lam_row - 1L, re$lam_col - 1L,
                          re$lam_k - 1L, re$ntheta, fam$family_code, fam$link_code)
    pz <- ncol(Xz)
    XA <- cbind(Xz, Xd)
    storage.mode(XA) <- "double"
    # A zero-truncated fit without a ziformula has zero probability 0
    # (offset -Inf on the logit scale), as glmm_zi() fits it.
    offz <- if (a$kind == "hurdle" && !pz) rep(-Inf, n)
            else if (a$kind != "disp") a$zi$offset %||% rep(0, n)
    aoff <- cbind(offz, if (disp) a$disp$offset %||% rep(0, n)) %||% matrix(0, n, 0L)
    storage.mode(aoff) <- "double"
    pred <- c(rep(0L, pz), rep(if (a$kind == "disp") 0L else 1L, ncol(Xd)))
    cpp_sparse_set_aux(eng, kind, XA, pred, aoff)
    ev <- function(th) cpp_sparse_eval(eng, th, TRUE)
  }
  P <- length(fit$theta)
  lower <- c(rep(-Inf, p), re$lower, rep(-Inf, P - p - re$ntheta))
  check_rebuilt_engine(ev, fit, Tx = ad$Tx, zbasis = zbasis)
  list(eval = ev, lower = lower, free = function() NULL, Tx = ad$Tx)
}

# The rebuilt engine must give the fit's log-likelihood at its estimate
# (else the profile would be of another model). With `zbasis` the engine
# runs on Z G: its Lambda is the factor of G^-1 D G^-T (basis_theta()).
check_rebuilt_engine <- function(ev, fit, free = function() NULL, Tx = NULL, zbasis = NULL) {
  th <- unname(fit$theta)
  if (!is.null(zbasis))
    th <- basis_theta(th, zbasis$zb, lapply(zbasis$zb$blocks, function(bl)
      solve(zbasis$G[bl$rows, bl$rows, drop = FALSE])))
  ll <- ev(theta_star(th, Tx))$loglik
  if (!is.finite(ll) || abs(ll - fit$loglik) > 1e-6 * max(1, abs(fit$loglik))) {
    free()
    stop("profile(): the model could not be rebuilt from the fit (its log-likelihood differs); use confint(method = \"Wald\")",
         call. = FALSE)
  }
  invisible(ll)
}

# profile_point()'s check of the two-part sparse engine: a constrained
# search that ran into points the engine refused (the joint mode's negative
# Hessian H nearly singular: the Laplace approximation does not hold there)
# and then did not converge or stopped next to them (H's smallest
# eigenvalue below 10 times the bound) ended at the edge of the valid
# region, zire_degenerate()'s rule for the fit. There the approximate
# log-likelihood rises only through -log det(H) / 2 (on Salamanders ZINB
# `mined + (1 | site) + (1 | spp)`, zi `~ (1 | site)`, the profile of the
# dispersion coefficient reached 4.7 above the fit's optimum, glmmTMB's),
# so such a point is no profile value. `edge(NULL, .)` arms the check.
spzire_profile_edge <- function(eng) {
  deg <- function() cpp_spzire_degenerate(eng)
  bound <- deg()$bound
  before <- deg()$refused
  function(theta, converged) {
    if (is.null(theta)) {
      before <<- deg()$refused
      return(FALSE)
    }
    if (deg()$refused == before) return(FALSE)
    if (!converged) return(TRUE)
    m <- cpp_spzire_modes(eng, theta)
    isTRUE(m$failed) || !is.finite(m$hmin) || m$hmin < 10 * bound
  }
}
