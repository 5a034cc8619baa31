# Structured linear mixed models at sigma's zero limit (a structure that
# takes up the residual variance, such as cs(0 + time | id) with one
# observation per id and time): where the search stops short of the limit,
# runs past where the profiled criterion keeps its digits, or leaves
# another term's SD just short of its zero boundary. Called by
# lmm_covstruct_search() (fit-lmm-sparse-covstruct.R) after its search.

# A search heading for sigma's zero limit (a structure taking up the
# residual variance: cs(0 + time | id) with one observation per id and
# time) crawls along the ray on which every relative standard deviation
# grows by the same factor t, the likelihood approaching its limit like
# 1 / t^2, and stops short: on 12 of 40 simulated cs(0 + time | id) +
# (1 | site) data sets REML ended at sigma 1.7e-3 to 1.1e-2 of y's SD with
# "doubtful convergence", 6e-7 to 1.2e-5 below the dense computation's
# supremum at sigma = 0. From such an end (sigma below 5e-2 of y's SD but
# not yet below the 1e-3 that marks the limit), the criterion is evaluated
# along that ray (log standard deviations + log t, unstructured entries
# times t, correlations held) for t = 10^(1/2), 10, ... while it rises,
# then searched again from the best point (after a search that reported
# convergence). Neither goes below sigma = 1e-4 of y's SD (`sdy`): the
# profiled criterion's relative error grows like eps / sigma^2 there, and
# at 2e-6 a search from the ray "gained" 5e-4 over the dense supremum. `s0`
# is sigma at the search's end. Kept only where higher; `record` says what
# was tried.
#
# A search that ends already below 1e-3 of y's SD is at the limit but may
# still be short of it: there the criterion approaches its supremum like
# -c sigma^2, and the search, whose gradient in log(sigma) is -2 c sigma^2,
# stops anywhere between sigma 1e-5 and 1e-4 of y's SD (cs_data(3) beside
# (1 | site), as rounding in the data's last digits decided). From such an
# end the ray is followed down to 1e-5 of y's SD only (`deep`), in steps of
# 10^(1/4), where the criterion still agrees with the dense computation to
# 1e-8 (test-reml-sigma-limit.R); the point is kept without a new search.
lmm_covstruct_ray <- function(run, evalf, search, sigma_at, roles, sdy, s0) {
  rec <- list(tried = FALSE)
  # Only after a search that reported convergence: one stopped by its
  # iteration limit (glmm_control(iter.max)) keeps its end and its warning.
  if (!isTRUE(run$opt$convergence == 0) || !is.finite(s0) || !is.finite(sdy) || sdy <= 0 ||
      s0 >= 5e-2 * sdy)
    return(list(run = run, record = rec))
  deep <- s0 < 1e-3 * sdy
  floor_s <- if (deep) 1e-5 * sdy else 1e-4 * sdy
  if (deep && s0 <= 10^(1 / 4) * floor_s) return(list(run = run, record = rec))
  along <- function(ph, t) lmm_covstruct_along(ph, t, roles)
  best <- run$par
  best_ll <- run$loglik
  best_at <- NULL
  for (j in 1:(if (deep) 8L else 6L)) {
    ph <- along(run$par, 10^(j / if (deep) 4 else 2))
    s <- sigma_at(ph)
    if (!is.finite(s) || s < floor_s) break
    at <- tryCatch(evalf(ph), error = function(e) NULL)
    if (is.null(at) || !is.finite(at$loglik) || at$loglik <= best_ll) break
    best <- ph
    best_ll <- at$loglik
    best_at <- at
  }
  rec <- list(tried = TRUE, sigma_from = s0, loglik_from = run$loglik, loglik_ray = best_ll)
  if (identical(best, run$par)) return(list(run = run, record = rec))
  res <- if (!deep) tryCatch(search(best), error = function(e) NULL)
  if (!is.null(res) && is.finite(res$loglik) && res$loglik >= best_ll &&
      isTRUE(sigma_at(res$par) >= floor_s)) {
    rec$loglik_search <- res$loglik
    return(list(run = res, record = rec))
  }
  # The search from there did not rise (or went below the floor): the
  # ray's point, with the first search's record (the fit's convergence test
  # is made afterwards, at this point).
  list(run = lmm_run_moved(run, best, best_at), record = rec)
}

# The point `ph` moved along the ray toward sigma's zero limit by the factor
# t (every relative standard deviation times t: log SDs + log t,
# unstructured entries times t, correlations held); t < 1 moves back.
lmm_covstruct_along <- function(ph, t, roles)
  ifelse(roles == "sd", ph + log(t), ifelse(roles == "entry", ph * t, ph))

# A search can also end far below 1e-5 of y's SD (`s_end`, `sdy`), at sigma
# 1e-7 to 1e-9 as the data's last digits decide, where the profiled
# criterion has lost its digits (its relative error grows like
# eps / sigma^2): of 42 fits to cs(0 + time | id) + (1 | site) data whose y
# differed in its 13th digit or whose rows were shuffled (6 seeds), the 6
# that ended there were 6e-9 to 9e-8 below glmmTMB's value (a value that
# cannot be trusted either way: higher would be no better) and one failed
# to find the conditional modes. The end is moved back along the ray to the
# first point at or above 1e-5 of y's SD, where the criterion is within 1e-9
# of its supremum and agrees with the dense computation to 1e-8 (all 56 fits
# of 8 seeds are then -4e-10 to 1.4e-9 from glmmTMB's value); the point
# replaces the end whatever the two computed values, and `record` says so
# (`moved = FALSE` where no point of the ray could be evaluated: the end is
# kept). ML and REML alike.
lmm_covstruct_retreat <- function(run, evalf, sigma_at, roles, sdy, s_end) {
  rec <- list(tried = FALSE)
  if (!is.finite(s_end) || !is.finite(sdy) || sdy <= 0 || !lmm_sigma_lost_digits(s_end, sdy))
    return(list(run = run, record = rec))
  floor_s <- 1e-5 * sdy
  rec <- list(tried = TRUE, moved = FALSE, sigma_from = s_end, loglik_from = run$loglik)
  for (j in 1:40) {
    ph <- lmm_covstruct_along(run$par, 10^(-j / 4), roles)
    s <- sigma_at(ph)
    if (!is.finite(s) || s < floor_s) next
    at <- tryCatch(evalf(ph), error = function(e) NULL)
    if (is.null(at) || !is.finite(at$loglik)) break
    run <- lmm_run_moved(run, ph, at)
    rec$moved <- TRUE
    rec$sigma_to <- s
    rec$loglik_to <- at$loglik
    break
  }
  list(run = run, record = rec)
}

# The search's end `run` moved to `par`, evaluated there as `at` (evalf()'s
# list(loglik, gradient)), with the Hessian there when known.
lmm_run_moved <- function(run, par, at, hessian = NULL) {
  run$par <- par
  run$loglik <- at$loglik
  run$at <- at
  run$hessian <- hessian
  run
}

# Whether sigma `s` is below where the profiled criterion keeps its digits
# (1e-5 of y's SD `sdy`, less a quarter decade of slack).
lmm_sigma_lost_digits <- function(s, sdy) isTRUE(s < 1e-5 * sdy / 10^(1 / 4))

# At sigma's zero limit the search measures the other terms' standard
# deviations relative to sigma, which tends to 0, and its convergence test
# measures their steps relative to y's SD: a term whose variance belongs at
# its own zero boundary can stop a little short of it, unseen by either.
# (1 | site) beside cs(0 + time | id) stopped at an SD of 9e-5 (7e-5 of
# y's SD, but 1.1 times sigma, so not on the relative boundary test of
# covstruct_boundary()), its gradient still pointing to 0, and the REML
# criterion 2e-8 to 2e-7 below glmmTMB's fit as rounding in the data's last
# digits decided. Where sigma is below 1e-3 of y's SD (`s_end`, `sdy`),
# each standard deviation below 1e-3 of y's SD is set to its boundary (an
# unstructured term's diagonal entry to 0, a structure's log SD to
# covstruct_sd_tol / 100 relative to sigma) one at a time, the criterion's
# Newton steps polish from there, and the point is kept where it is higher.
lmm_covstruct_zero_sds <- function(run, evalf, sigma_at, terms, k0, control, s_end, sdy) {
  rec <- list(tried = FALSE)
  if (!is.finite(s_end) || !is.finite(sdy) || sdy <= 0 || s_end >= 1e-3 * sdy)
    return(list(run = run, record = rec))
  for (k in seq_along(terms)) {
    s <- terms[[k]]$struct
    for (j in k0[[k]][s$sd_par]) {
      us <- isTRUE(s$direct)
      sd_abs <- s_end * if (us) abs(run$par[j]) else exp(run$par[j])
      to <- if (us) 0 else log(covstruct_sd_tol / 100)
      if (sd_abs >= 1e-3 * sdy || (us && run$par[j] == 0) || (!us && run$par[j] <= to)) next
      ph <- run$par
      ph[j] <- to
      rec$tried <- TRUE
      pol <- tryCatch(covstruct_newton(evalf, ph, control$rel.tol / 100,
                                       maxiter = control$iter.max),
                      error = function(e) NULL)
      # (nor a point where the criterion has lost its digits: the polish's
      # Newton steps can carry sigma there, and its gain would be noise)
      if (is.null(pol) || !is.finite(pol$at$loglik) || pol$at$loglik <= run$loglik ||
          lmm_sigma_lost_digits(sigma_at(pol$par), sdy)) next
      rec$kept <- TRUE
      rec$gain <- c(rec$gain, pol$at$loglik - run$loglik)
      run <- lmm_run_moved(run, pol$par, pol$at, pol$hessian)
      if (pol$converged) run$opt <- list(convergence = 0L, message = pol$record$message)
    }
  }
  list(run = run, record = rec)
}
