# Boundaries of structured covariances and what the fit reports of them.
#
# On the structures' unconstrained scales a boundary lies at infinity: a
# standard deviation at zero is log(sd) -> -Inf, an AR(1) or compound
# symmetry correlation at its limit is t -> +/-Inf. A search that drifts
# there is accepted only after restarts from interior points (the drifting
# standard deviations at 0.3 and 1, the correlations at 0) return no higher
# log-likelihood (verify_boundary(), as for unstructured terms).

covstruct_sd_tol <- 1e-4
covstruct_rho_tol <- 1e-4

# Which parameters are on a boundary (indices into par); with `sd_tol`
# another threshold for the standard deviations.
covstruct_boundary <- function(par, terms, k_re, sd_tol = covstruct_sd_tol) {
  out <- integer()
  for (k in seq_along(terms)) {
    s <- terms[[k]]$struct
    idx <- k_re[[k]]
    pk <- par[idx]
    # An unstructured term's standard deviations are |Lambda's diagonal|.
    sdv <- if (isTRUE(s$direct)) abs(pk[s$sd_par]) else exp(pk[s$sd_par])
    out <- c(out, idx[s$sd_par[sdv < sd_tol]])
    if (length(s$rho_par)) out <- c(out, idx[s$rho_par[s$at_limit(pk)]])
  }
  out
}

# The positions (in par) of the structures' standard deviation parameters.
structure_sd_positions <- function(terms, k_re)
  unlist(lapply(seq_along(terms), function(k) k_re[[k]][terms[[k]]$struct$sd_par]))

# The indices of the parameters on a boundary: the structures' (covstruct_boundary())
# and the log dispersion at its limit (`disp_at`, covstruct_disp_index()).
# `unit`: the scale the standard deviations' threshold is relative to.
covstruct_boundary_index <- function(par, terms, k_re, disp_at = NULL, unit = 1)
  which(seq_along(par) %in%
          c(covstruct_boundary(par, terms, k_re, covstruct_sd_tol * unit),
            if (length(disp_at) && covstruct_disp_at_limit(par, disp_at)) as.vector(disp_at)))

# The interior point a restart begins from: the parameters `at` at
# standard deviation `size` or their start. A term whose standard
# deviations are all at `at` has its correlation parameters restarted too:
# at zero variance they are not identified, and where the search left them
# the term may stay at zero (an ar1() dispersion term whose SD went to
# zero with rho at -0.998 returned there from SDs 1 and 0.3, 0.17 below the
# optimum at rho near 1, the nested random intercept).
# With `flip`, a correlation parameter that is itself at a limit begins on
# the other side of its start instead (2 units beyond it on its
# unconstrained scale: rho about 0.76 of the way to the other limit), so
# that both limits are tried: a binary cs() fit whose search and restarts
# from rho = 0 all went to rho = -0.2 ended 0.45 below the optimum near
# rho = 1 and called the lower limit verified.
covstruct_restart_point <- function(par, terms, k_re, at, size, flip = FALSE) {
  for (k in seq_along(terms)) {
    s <- terms[[k]]$struct
    idx <- k_re[[k]]
    hit <- match(at, idx)
    hit <- hit[!is.na(hit)]
    if (!length(hit)) next
    if (isTRUE(s$direct)) {
      par[idx] <- s$start(size)
      next
    }
    flipped <- if (flip) intersect(hit, s$rho_par) else integer()
    if (length(s$sd_par) && all(s$sd_par %in% hit)) hit <- union(hit, s$rho_par)
    for (j in hit) {
      if (j %in% s$sd_par) par[idx[j]] <- log(size)
      if (j %in% s$rho_par) {
        base <- s$start(size)[j]
        par[idx[j]] <- if (j %in% flipped) base - 2 * sign(par[idx[j]] - base) else base
      }
    }
  }
  par
}

# The nbinom1 dispersion phi has a boundary too: phi -> 0 is the Poisson
# limit (log(phi) -> -Inf), where the likelihood flattens in log(phi), so
# the Newton step there measures nothing and a converged fit to
# Poisson-like data read as "doubtful convergence". `disp_at` is the index
# of log(phi) in par (NULL for the other families); at the boundary it is
# treated as a standard deviation at zero: left out of the convergence
# measure and verified by restarts from phi = 1 and 0.3.
# The nbinom2 theta and the betabinomial phi have theirs at the other end:
# theta -> Inf is the Poisson limit, phi -> Inf the binomial one (log of
# the dispersion beyond log(1e6), as dispersion_limit() for unstructured
# terms); those are verified and reported the same way (restarts from
# dispersion 1 and 0.3). The index carries the family and the side.
covstruct_disp_tol <- 1e-6

# A gaussian residual standard deviation has its boundary at 0, where a
# structure absorbs the residual variance; the one-factor route holds its
# objective at `floor` (sigma_floor_evalf()) and passes it here, and a fit
# at the floor is on that boundary.
covstruct_disp_index <- function(family, disp, P, floor = NULL) {
  if (!disp) return(NULL)
  upper <- family$family %in% c("nbinom2", "betabinomial")
  gauss <- !is.null(floor) && identical(family$family, "gaussian") &&
    identical(family$link, "identity")
  if (!upper && !gauss && !identical(family$family, "nbinom1")) return(NULL)
  structure(P, upper = upper, family = family$family, floor = if (gauss) floor)
}

covstruct_disp_at_limit <- function(par, disp_at) {
  ld <- par[[disp_at]]
  if (!is.null(attr(disp_at, "floor"))) ld < attr(disp_at, "floor") + 1e-6
  else if (isTRUE(attr(disp_at, "upper"))) ld > -log(covstruct_disp_tol)
  else exp(ld) < covstruct_disp_tol
}

# The boundary verified: restarts from standard deviations of `unit` and
# 0.3 `unit` (y's scale in the engine's units).
covstruct_verify <- function(search, best, terms, k_re, disp_at = NULL, unit = 1) {
  P <- length(best$par)
  on_bound <- function(par) seq_len(P) %in% covstruct_boundary_index(par, terms, k_re, disp_at, unit)
  restart <- function(par, b, size, flip) {
    th <- covstruct_restart_point(par, terms, k_re, which(b), size * unit, flip == 1)
    if (length(disp_at) && b[[disp_at]]) th[[disp_at]] <- log(size * unit)
    th
  }
  as_theta <- function(r) { if (!is.null(r)) r$theta <- r$par; r }
  # Restarts with the standard deviations at 1 and 0.3, the correlations
  # at their start, and, where a correlation is at a limit, from the other
  # side of its start (the same point as the first where none is: not run
  # again); one round.
  vb <- verify_boundary(function(th) as_theta(search(th)), as_theta(best), on_bound, restart,
                        paste0("par", seq_len(P)), diag = integer(),
                        starts = list(c(1, 0), c(0.3, 0), c(1, 1)), rounds = 1L)
  b1 <- which(on_bound(vb$best$par))
  rec <- c(vb$record, list(boundary_index = b1, disp_index = as.vector(disp_at),
                           dispersion_at_zero = length(disp_at) > 0L && disp_at %in% b1,
                           dispersion_family = attr(disp_at, "family")))
  list(best = vb$best, record = rec)
}

# Per term: the structure, its standard deviations and correlation
# parameter as users read them (with the estimate on the optimizer's scale
# and its standard error there).
covstruct_report <- function(terms, k_re, par, cov_theta) {
  lapply(seq_along(terms), function(k) {
    s <- terms[[k]]$struct
    idx <- k_re[[k]]
    pk <- par[idx]
    se <- if (!is.null(cov_theta)) sqrt(pmax(cov_diag(cov_theta)[idx], 0)) else rep(NA_real_, length(idx))
    list(kind = s$kind, label = terms[[k]]$label, columns = terms[[k]]$cnames,
         sd = stats::setNames(s$sd(pk), terms[[k]]$cnames), rho = s$rho(pk),
         extra = if (!is.null(s$extra)) s$extra(pk),
         parameters = stats::setNames(pk, s$names(terms[[k]]$cnames)),
         se = stats::setNames(se, s$names(terms[[k]]$cnames)))
  })
}

# The block print() and summary() of a fit with $structures add
# (glmm_blocks()): the structures' lines (none when all are unstructured), then the
# penalty's (print_penalty()).
print_covstructs <- function(structures, digits, penalty) {
  if (all(vapply(structures, function(s) s$kind == "us", TRUE))) return(print_penalty(penalty, digits))
  cat("Covariance structures (random effects):\n")
  for (s in structures) {
    what <- switch(s$kind, us = "unstructured", diag = "diagonal, heterogeneous variances",
                   homdiag = "diagonal, one common variance",
                   ar1 = "AR(1): one variance, correlation rho^|j - k|",
                   cs = "compound symmetry: one correlation, heterogeneous variances",
                   homcs = "compound symmetry: one correlation, one common variance",
                   hetar1 = "AR(1): correlation rho^|j - k|, heterogeneous variances",
                   toep = "Toeplitz: one correlation per lag, heterogeneous variances",
                   homtoep = "Toeplitz: one correlation per lag, one common variance",
                   ou = "Ornstein-Uhlenbeck: correlation exp(-theta |t - s|)",
                   exp = "exponential: correlation exp(-d / range)",
                   gau = "Gaussian: correlation exp(-(d / range)^2)",
                   mat = "Matern: correlation of smoothness kappa at d / range",
                   rr = "reduced rank: D = L L' with q x d loadings L",
                   propto = "a given matrix times an estimated scale",
                   equalto = "the given matrix, no parameter")
    hom <- s$kind %in% c("homdiag", "ar1", "homcs", "homtoep", covstruct_coordinate_kinds)
    if (s$kind %in% covstruct_matrix_kinds) {
      cat(sprintf("  %s: %s%s\n", s$label, what,
                  paste(sprintf("; %s %s", names(s$extra), format(s$extra, digits = digits)), collapse = "")))
      next
    }
    sds <- if (hom) format(s$sd[1L], digits = digits)
           else paste(format(s$sd, digits = digits), collapse = ", ")
    cat(sprintf("  %s: %s; Std.Dev. %s%s%s\n", s$label, what, sds,
                if (!is.null(s$rho))
                  sprintf("; %s %s", if (length(s$rho) > 1L) "rho by lag" else "rho",
                          paste(format(s$rho, digits = digits), collapse = ", ")) else "",
                paste(sprintf("; %s %s", names(s$extra), format(s$extra, digits = digits)), collapse = "")))
  }
  print_penalty(penalty, digits)
}

