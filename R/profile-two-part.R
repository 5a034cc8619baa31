# The pieces of profile_engine() particular to zero-inflated, hurdle and
# dispersion-formula fits: each part's design on profile_design()'s scale,
# the check that the rebuilt engine is the fit's, and the two-part sparse
# engine's check of its Laplace approximation.

# The zero and dispersion parts' designs on profile_design()'s scale too
# (with z * 1e-6 - 5 in the zero part its coefficient's interval was 1e-5
# of its width): list(X, Xz, Xd) and Tx, the block-diagonal T over the
# positions in theta (attribute "pos") of the coefficients of every part
# whose design is transformed (NULL when none is).
profile_aux_design <- function(fit, X, Xz, Xd) {
  a <- fit$aux
  parts <- list(list(X = X, pos = seq_len(ncol(X))),
                list(X = Xz, pos = a$zi_index), list(X = Xd, pos = a$disp_index))
  tx <- lapply(parts, function(pt)
    if (!is.null(pt$X) && ncol(pt$X) && ncol(pt$X) == length(pt$pos))
      lmm_design_transform(pt$X))
  used <- !vapply(tx, function(t) is.null(t) || isTRUE(t$identity), TRUE)
  out <- lapply(seq_along(parts), function(k) if (used[k]) tx[[k]]$M else parts[[k]]$X)
  names(out) <- c("X", "Xz", "Xd")
  if (any(used)) {
    Tx <- as.matrix(Matrix::bdiag(lapply(tx[used], `[[`, "T")))
    attr(Tx, "pos") <- unlist(lapply(parts[used], `[[`, "pos"))
    out$Tx <- Tx
  }
  out
}

# A rebuilt engine must give the fit's log-likelihood at its estimates
# (else the profile, or the sandwich, would be of another model): `ll` is
# its value there; if it differs, the engine is freed (`free`) and the
# error names the method `caller`. The one place this test is made.
check_rebuilt_engine <- function(ll, fit, free = function() NULL, caller = "profile()") {
  if (!is.finite(ll) || abs(ll - fit$loglik) > 1e-6 * max(1, abs(fit$loglik))) {
    free()
    stop_not_rebuilt(caller)
  }
  invisible(ll)
}

# The error of a method whose engine, rebuilt from the fit, does not give
# the fit's log-likelihood at its estimates.
stop_not_rebuilt <- function(caller) {
  stop(sprintf("%s: the model could not be rebuilt from the fit (its log-likelihood differs); %s",
               caller, switch(caller, "profile()" = "use confint(method = \"Wald\")",
                              "vcov()" = "no cluster-robust covariance",
                              "its value cannot be checked")), call. = FALSE)
}

# The two-part sparse engine's state at the fit's estimates (its inner
# search's warm start and eigenvector, cpp_sparse_two_part_state()), taken when
# this is called, and a function that puts it back: trace_profile() starts
# each side and each refined crossing from it. Where the joint objective
# has several modes the Laplace value depends on the warm start, so a
# trace that began where the previous one ended (at the edge of the valid
# region) found other modes: an AR(1) mean beside a random zero part gave
# zi.z the upper limit 1.454 when profiled alone, 1.517 after the
# intercept and 1.314 after every parameter before it.
sparse_two_part_profile_reset <- function(eng) {
  state <- cpp_sparse_two_part_state(eng)
  function() cpp_sparse_two_part_set_state(eng, state)
}

# profile_point()'s check of the two-part sparse engine: a constrained
# search that ran into points the engine refused (the joint mode's negative
# Hessian H nearly singular: the Laplace approximation does not hold there)
# and then did not converge or stopped next to them (H's smallest
# eigenvalue below 10 times the bound) ended at the edge of the valid
# region, zi_random_degenerate()'s rule for the fit. There the approximate
# log-likelihood rises only through -log det(H) / 2 (on Salamanders ZINB
# `mined + (1 | site) + (1 | spp)`, zi `~ (1 | site)`, the profile of the
# dispersion coefficient reached 4.7 above the fit's optimum, glmmTMB's),
# so such a point is no profile value. `edge(NULL, .)` arms the check.
sparse_two_part_profile_edge <- function(eng) {
  deg <- function() cpp_sparse_two_part_degenerate(eng)
  bound <- deg()$bound
  before <- deg()$refused
  function(theta, converged) {
    if (is.null(theta)) {
      before <<- deg()$refused
      return(FALSE)
    }
    if (deg()$refused == before) return(FALSE)
    if (!converged) return(TRUE)
    m <- cpp_sparse_two_part_modes(eng, theta)
    isTRUE(m$failed) || !is.finite(m$hmin) || m$hmin < 10 * bound
  }
}
