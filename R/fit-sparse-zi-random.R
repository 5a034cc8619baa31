# Two-part GLMMs (zero-inflated or hurdle) with random-effect terms in both
# parts, any number of them (crossed, nested, slopes; the same or other
# grouping factors): the two-part sparse Laplace engine (src/engines/laplace/laplace-zero-re.h).
# The zero part's effects are independent of the count part's (glmmTMB's
# model for `ziformula = ~ x + (1 | g)`). Parameters in the order of
# glmm_sparse_zi_fit():
#   theta = (beta, covariance parameters of the count part's terms, then of
#            the zero part's terms, zero coefficients, dispersion coefficients).
# The engine gives the Laplace approximation and its exact gradient
# (implicit differentiation of both parts' joint mode, laplace-zero-re.cpp);
# the search and its finish (Hessian by differences of that gradient,
# Newton steps) are the sparse engine's (optimize_sparse(),
# verify_boundary(), finish_search()) on centred and
# scaled designs (reparam-zi.R).

# list(loglik, gradient, hmin): the engine's Laplace log-likelihood and its
# exact gradient (NA where the joint mode was not found), and H's smallest
# eigenvalue at the joint mode (refusal_guard()'s `near`).
sparse_two_part_evaluator <- function(eng) {
  function(th) {
    r <- cpp_sparse_two_part_grad(eng, th)
    g <- r$gradient
    if (!all(is.finite(g))) g <- rep(NA_real_, length(th))
    list(loglik = r$loglik, gradient = g, hmin = r$hmin)
  }
}

# The two-part sparse engine on the centred and scaled designs
# (sparse_reparam(), aux_reparam()), both parts' terms in one structure
# (zi_random_combined_re()); a family with a dispersion and no dispersion formula
# gets a constant dispersion. With kind "disp_re" the second part is the
# dispersion's (Xz its fixed design, offz its offset), with no fixed
# dispersion predictor beside it. With kind "zi_disp_re" or
# "hurdle_disp_re" it is the dispersion's too (Xd, offd), and the zero part
# (Xz, offz, fixed effects only; Xz NULL for a zero-truncated model) is the
# engine's third predictor, its coefficients before the dispersion's as in
# every two-part fit (engine kinds 5 and 6). With kind "zi_both_re" or
# "hurdle_both_re" the zero part (rz) and the dispersion part (`rd`) both
# have random effects: the engine's second and third random predictors
# (kinds 7 and 8). Returns the engine
# `eng` with the structure `re`, the map `rp`, the dispersion design `Xd`,
# the scaled zero and dispersion designs `Xzs`, `XdS` and their widths
# `pz`, `pd`.
zi_random_sparse_engine <- function(X, y, rc, rz, family, kind, Xz, Xd, weights, offset, offz, offd,
                               rd = NULL) {
  n <- length(y)
  p <- ncol(X)
  swap <- kind %in% c("zi_disp_re", "hurdle_disp_re")
  dre <- swap || kind == "disp_re"
  if (swap && is.null(Xz)) Xz <- matrix(0, n, 0L)
  re <- zi_random_combined_re(rc, rz, if (dre) "disp~" else "zi~", rd)
  nth <- re$ntheta
  disp <- has_dispersion(family) && kind != "disp_re"
  if (disp && is.null(Xd)) Xd <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (!disp) Xd <- NULL
  pz <- ncol(Xz)
  pd <- if (is.null(Xd)) 0L else ncol(Xd)
  # (kind disp_re: the dispersion's design is in the zero part's slot)
  if (kind == "disp_re") check_aux_rank(NULL, Xz) else check_aux_rank(Xz, Xd)
  nb <- p + nth
  rp <- aux_reparam(sparse_reparam(X, re, p, FALSE), nb, Xz, Xd, X)
  Qc <- re$Qc
  Zs <- rp$Z
  cols_z <- Qc + seq_len(ncol(Zs) - Qc)
  XdS <- if (pd) rp$Xd else matrix(0, n, 0L)
  storage.mode(XdS) <- "double"
  Xzs <- rp$Xz
  storage.mode(Xzs) <- "double"
  sp <- function(M) methods::as(methods::as(M, "CsparseMatrix"), "generalMatrix")
  # (kinds 5 and 6: the dispersion's design and offset in the engine's
  # second, random predictor, the zero part's in its third)
  eng <- cpp_sparse_two_part_new(rp$X, if (swap) XdS else Xzs, if (swap) Xzs else XdS,
                        sp(Zs[, seq_len(Qc), drop = FALSE]),
                        sp(Zs[, cols_z, drop = FALSE]), as.numeric(y), as.numeric(weights),
                        cbind(as.numeric(offset), as.numeric(if (swap) offd else offz),
                              as.numeric(if (swap) offz else offd)),
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, nth,
                        family$family_code, family$link_code, aux_kind_code(kind, family),
                        re$Qz)
  list(eng = eng, re = re, rp = rp, Xd = Xd, Xzs = Xzs, XdS = XdS, pz = pz, pd = pd)
}

glmm_sparse_zi_random_fit <- function(X, y, rc, rz, family, kind, Xz, Xd, weights, offset, control,
                                 start = NULL, penalty = NULL, offz = NULL, offd = NULL,
                                 rd = NULL) {
  n <- length(y)
  offz <- offz %||% rep(0, n)
  offd <- offd %||% rep(0, n)
  p <- ncol(X)
  check_full_rank(X)
  se <- zi_random_sparse_engine(X, y, rc, rz, family, if (is.null(rd)) kind else paste0(kind, "_both_re"),
                           Xz, Xd, weights, offset, offz, offd, rd)
  re <- se$re
  pz <- se$pz
  pd <- se$pd
  rp <- se$rp
  eng <- se$eng
  Xd <- se$Xd
  Xzs <- se$Xzs
  XdS <- se$XdS
  nth <- re$ntheta
  nb <- p + nth
  Qc <- re$Qc
  P <- nb + pz + pd
  Xs <- rp$X
  beta <- if (binomial_response(family)) zi_binomial_start(Xs, y, weights, offset, family)
          else count_start(Xs, y, weights, offset)
  aux <- zi_aux_start(Xs, y, beta, weights, offset, family, kind, if (pz) Xzs, offz, pd, XdS,
                      offd)
  gam <- aux[seq_len(pz)]  # the zero part's start, also for a vanished part below
  theta <- c(beta, ifelse(re$lower == 0, 0.5, 0), aux)
  evalf <- penalized_evalf(sparse_two_part_evaluator(eng),
                           aux_penalty(penalty, p, pz, nb + seq_len(pz), rp$Tx, rp$Tz))
  # A start the engine refuses (zi_random_degenerate()) is no fault of the data.
  refused <- function() cpp_sparse_two_part_degenerate(eng)$refused
  loglik_at <- function(th) {
    ll <- evalf(th)$loglik
    if (!is.finite(ll) && refused() > 0) breakdown_at_start()
    ll
  }
  breakdown_at_start <- function()
    stop(paste("the Laplace approximation breaks down at the starting values: the joint mode of",
               "both parts' random effects is nearly degenerate there (the count and zero parts'",
               "effects can carry the same zeros); give other starting values (start =), e.g.",
               "smaller standard deviations of the count part's terms, or drop a zero-part",
               "random-effect term"), call. = FALSE)
  if (!is.null(start)) theta <- zi_search_start(start, P, rp$to_star, loglik_at)
  else loglik_at(theta)
  # Each kept search carries the inner search's warm start at its end
  # (SparseTwoPart::warm()), put back before the finish: restarts evaluate
  # elsewhere, and where the joint objective has several modes the Laplace
  # value at the same parameters depends on it.
  # Each search's start curvature: the coefficients' block from one pass
  # at the modes (cpp_sparse_two_part_fixed_curvature()), Lambda's columns by
  # differences (start_curvature_fixed()); not with a penalty (its prior's
  # curvature would be missing from the block).
  fixed <- c(seq_len(p), nb + seq_len(pz + pd))
  fixed_curv <- if (is.null(penalty)) function(th) {
    H <- cpp_sparse_two_part_fixed_curvature(eng, th)
    if (is.null(H)) NULL else list(idx = fixed, H = H)
  }
  search <- function(th, ev, curv = TRUE) {
    r <- sparse_zi_search(ev, th, re, p, pz, pd, P, X, Xz, Xd, control,
                          fixed_curv = if (curv) fixed_curv)
    r$run$warm <- cpp_sparse_two_part_warm(eng)
    r
  }
  restart_search <- function(th, ev) search(th, ev, curv = FALSE)
  # The first search is abandoned next to the refused region (smallest
  # eigenvalue of H below 50 times the engine's bound; zi_random_first_search()).
  sr <- zi_random_first_search(search, evalf, refused, theta, is.null(start), cpp_sparse_two_part_state(eng),
                          function(w) cpp_sparse_two_part_set_state(eng, w), re, p, rc$ntheta,
                          restart_search, near = 50 * cpp_sparse_two_part_degenerate(eng)$bound)
  # A second search where the first may have stopped at a lower optimum
  # (zi_random_second_start()), keeping the higher log-likelihood: from the first
  # one's end with the zero part's standard deviations wide (3 on the search
  # scale), so that its effects can take over zeros the count part carried;
  # a vanished zero part's coefficients (far below zero, where the
  # log-likelihood is flat in them) go back to their start.
  gam_s <- sr$run$theta[nb + seq_len(pz)]
  vanishing <- !is.null(zi_vanishing_message(kind, Xzs, gam_s, offz))
  # Not after the restarts (zi_random_first_search()): the first search refused points.
  if (is.null(start) && is.null(sr$refused_restarts) &&
      zi_random_second_start(rc, rz, kind, vanishing, gam_s, sr$refused)) {
    th_wide <- sr$run$theta
    if (vanishing) th_wide[nb + seq_len(pz)] <- gam
    th_wide[p + which(seq_len(nth) > rc$ntheta & re$lower == 0)] <- 3
    # It starts next to the first search's end: from that search's
    # quasi-Newton matrix rather than a new curvature by differences (P + 1
    # evaluations).
    sr_wide <- tryCatch(sparse_zi_search(evalf, th_wide, re, p, pz, pd, P, X, Xz, Xd, control,
                                         H0 = sr$run$curvature, fixed_curv = fixed_curv),
                        error = function(e) NULL)
    if (!is.null(sr_wide) && isTRUE(sr_wide$run$loglik > sr$run$loglik + 1e-6)) {
      sr <- sr_wide
      sr$refused <- refused()
      sr$run$warm <- cpp_sparse_two_part_warm(eng)
    }
  }
  # A second search that refused points on its way to a higher end is
  # followed by the restarts as a first one is (zi_random_first_search()).
  if (is.null(start) && is.null(sr$refused_restarts) && sr$refused > 0)
    sr <- zi_random_refused_restarts(sr, restart_search, evalf, refused, theta, re, p, rc$ntheta)
  fs <- zi_random_finish(sr, eng, evalf, re, p, P, control, refused, fixed_curv)
  sr <- fs$sr
  fin <- fs$fin
  refused_kept <- fs$refused_kept
  theta_s <- fin$theta
  m <- fs$m
  # The zero part's random effects at their modes enter the vanishing
  # zero-inflation check as an offset: a fixed intercept far below zero
  # with wide zero-part effects is no sign that the data need no
  # structural zeros.
  zre <- if (pz) m$a - drop(Xzs %*% theta_s[nb + seq_len(pz)]) else rep(0, n)
  tl <- sparse_zi_tail(fin, rp, sr, control, kind, Xzs, zre, nb, pz,
                       "Laplace (sparse, both parts)",
                       aux_dispersion_limit(family, Xd, offd, nb + pz + seq_len(pd), P,
                                            rp$Xd, rp$Td, limit_zero_rows(y, kind)))
  tl$optinfo$gradient <- "exact"
  theta <- tl$theta
  deg <- two_part_joint_checks(m, eng, refused_kept, tl$optinfo$warnings, FALSE, !is.null(rd),
                               start_ok = TRUE,
                               quadrature_ok = !is.null(rd) && on_one_factor(rc, rz, rd))
  warn <- c(tl$optinfo$warnings, deg$warning)
  tms <- zi_random_term_summaries(rp, re, m, theta_s, theta, p, rc$ntheta)
  tl$optinfo$warnings <- warn
  tl$optinfo$laplace_validity <- deg$record
  tl$optinfo$zero_variance_check <- sr$zero_variance
  tl$optinfo$laplace_validity$restarts <- sr$refused_restarts
  tl$optinfo <- zi_note_logseries(tl$optinfo, kind, family, X, offset, Xd, offd, theta,
                                  nb + pz + seq_len(pd))
  list(beta = theta[seq_len(p)], theta = theta,
       loglik = fin$final$loglik - (fin$final$penalty %||% 0),
       penalty = aux_penalty_record(penalty, fin$final),
       zi = if (pz) theta[nb + seq_len(pz)], disp = if (pd) theta[nb + pz + seq_len(pd)],
       lambda = theta[p + seq_len(nth)], p = p,
       gradient = tl$gradient, hessian = tl$hessian, cov_theta = tl$cov_theta, family = family,
       modes = list(eta = m$eta, zlink = m$a, dlink = if (!is.null(rd)) m$phi, u = m$u, b = m$b),
       terms = tms$terms, zterms = tms$second, dterms = tms$third, singular = any(tl$on_boundary), on_boundary = tl$on_boundary,
       optinfo = tl$optinfo, engine = "laplace_sparse_zero_re")
}

# The end of a two-part sparse fit's search (glmm_sparse_zi_random_fit(),
# glmm_sparse_dispre_fit()): verify_zero_variance()'s restarts
# (zi_random_zero_variance()), the kept search's warm start put back, the finish
# (Hessian, Newton steps) and the joint modes at the estimates. Returns the
# search `sr`, the finish `fin`, the points refused on the way to the kept
# optimum (`refused_kept`, not those of abandoned restarts) and the modes `m`.
zi_random_finish <- function(sr, eng, evalf, re, p, P, control, refused, fixed_curv) {
  sr <- zi_random_zero_variance(sr, evalf, re, p, control, refused, function() cpp_sparse_two_part_warm(eng),
                           fixed_curv)
  cpp_sparse_two_part_set_warm(eng, sr$run$warm)
  before_finish <- refused()
  fin <- finish_search(cached_ev(evalf), sr$run$theta, sr$run$opt,
                       c(sr$run$stages, sr$run$restart_stages), sr$star_boundary, sr$lower,
                       control, rep(1, P), tol = 1e-12, reevaluate = TRUE)
  m <- cpp_sparse_two_part_modes(eng, fin$theta)
  # At the edge of the region where the approximation breaks down (which
  # the fit then says, zi_random_degenerate()), the guard may refuse the
  # estimates themselves: the modes and the value there are then taken
  # without it, so that the fit keeps its log-likelihood, modes and
  # predictions (they were -Inf and NA, and the zero part was said to
  # vanish for want of its modes).
  if (isTRUE(m$failed)) {
    m0 <- cpp_sparse_two_part_modes(eng, fin$theta, FALSE)
    if (!isTRUE(m0$failed) && is.finite(m0$loglik)) {
      m <- m0
      if (!is.finite(fin$final$loglik)) fin$final$loglik <- m0$loglik + (fin$final$penalty %||% 0)
    }
  }
  list(sr = sr, fin = fin, refused_kept = sr$refused + refused() - before_finish, m = m)
}

# Both parts' term summaries (sparse_term_summaries()) on the user's scale
# at the estimates `theta` (`theta_s` on the search scale, `m` the modes):
# the first part's `terms` and the second part's (`second`), whose columns
# and parameters count from that part's first; `nc` the first part's number
# of covariance parameters.
zi_random_term_summaries <- function(rp, re, m, theta_s, theta, p, nc) {
  m$inv_i <- m$inv_i + 1L
  m$inv_j <- m$inv_j + 1L
  all <- rp$terms_to_user(sparse_term_summaries(re, theta_s[p + seq_len(re$ntheta)], m, NULL,
                                                theta_s), unname(theta))
  split_part_terms(all, re, nc)
}

# Whether the two-part sparse engine searches a second time, with wide
# zero-part standard deviations (glmm_sparse_zi_random_fit()), after the search
# from the default start ended at `gam_s` (the zero part's coefficients on
# the search scale) after refusing `refused` points (zi_random_degenerate()). Not
# where it refused any: there the Laplace value depends on which of several
# joint modes the inner search finds, the log-likelihoods of two searches
# are not comparable, and the fit warns that the approximation breaks down
# (count ~ mined + (1 | site) + (1 | spp), zi ~ (1 | site), nbinom2: the
# first search ended at a refused point, log-likelihood -Inf, so the
# second's end was kept, and the fit ended 2.5 lower than from the first's).
# Otherwise, two conditions under which the first search is known to stop at
# a lower optimum:
# - Zero inflation with a grouping factor grouping terms of both parts (a
#   hurdle model's likelihood is a product of its parts' and trades no
#   zeros between them; its second search only cost time, 2.1 s instead of
#   0.38 for Salamanders truncated_nbinom2 with these terms): the zeros of
#   a level can be carried by the count part's effect of it (a low mean) or by
#   the zero part's (a high zero-inflation probability), two basins. On
#   Salamanders, count ~ mined + (1 | site), zi ~ (1 | spp) + (1 | site),
#   nbinom2 stopped 0.049 below glmmTMB's optimum without any warning: count
#   site SD 0.47, zero site SD 1.28, zero intercept -2.20, against 0.17, 2.03
#   and -0.66 at the optimum (the count part carried the mined sites' zeros).
# - The zero-inflation probability vanishes (with zeros kept only at mined
#   Salamanders sites, zi ~ (1 | spp) + (1 | site) stopped 14.5 below
#   glmmTMB's optimum, a zero site SD of 11 there, and advised dropping the
#   zero part).
# `vanishing`: whether the zero part vanishes at `gam_s`
# (zi_vanishing_message()).
zi_random_second_start <- function(rc, rz, kind, vanishing, gam_s, refused) {
  if (refused > 0 || !all(is.finite(gam_s))) return(FALSE)
  groups <- function(r) vapply(r$terms, function(tm) tm$group, "")
  (kind == "zi" && length(intersect(groups(rc), groups(rz))) > 0L) || vanishing
}

# The search from the default start `theta0` ran into points the engine
# refuses (zi_random_degenerate()) and ended at their edge, which is no maximum
# (Salamanders ZINB count ~ mined + (1 | site) + (1 | spp), zi ~ (1 | site):
# 5.3 above glmmTMB's optimum -837.256992, where our Laplace value at
# glmmTMB's estimates equals it). There the count part's wide effects and
# the zero part's compete for the same zeros. Restarts from the default
# start with the count part's standard deviations small (0.1 on the search
# scale), so that the zero part's effects can take up the zeros first, and
# the zero part's at 3, 1 and 0.5 in turn; a restart is abandoned at its
# first refused point (it would end at the edge again, and that costs
# seconds), and the first that converges replaces the first search: the
# later ones are not run (`rec$skipped`). This is a rule found on the fits
# at hand, not a proof (the Laplace objective bounds no restart's end): of
# eleven Salamanders two-part models six ran
# restarts; in three none converged, in one only the last, in the hard
# ZINB only the first, and in one all three converged to the same optimum
# (log-likelihoods within 6e-8, the first the highest). The hard ZINB's
# two abandoned restarts after the one that converges took 128 of its 232
# evaluations, more than half of the fit. Checked again on 144 fits
# (bench/check-zi-random-restart-rule.R: Salamanders, Owls, simulated ZIP, ZINB
# and hurdle data with zero-part random effects, every restart run): 18
# ran restarts, 3 had several converge, none a later one higher.
# `search(theta, evalf)`: sparse_zi_search() from theta with that
# evaluator; `refused()`: the engine's running count of refused points;
# `nc`: the count part's number of covariance parameters. The record goes
# to $optinfo$laplace_validity$restarts. `all = TRUE` runs every restart
# and keeps the highest that converges (for checking the rule:
# bench/check-zi-random-restart-rule.R sets it by trace()).
zi_random_refused_restarts <- function(sr, search, evalf, refused, theta0, re, p, nc, all = FALSE) {
  count_sd <- p + which(seq_len(re$ntheta) <= nc & re$lower == 0)
  zero_sd <- p + which(seq_len(re$ntheta) > nc & re$lower == 0)
  rec <- list(zero_sd = c(3, 1, 0.5), count_sd = 0.1, loglik = numeric(),
              abandoned = logical(), adopted = NA_real_, skipped = numeric())
  best <- NULL
  guard <- refusal_guard(evalf, refused)
  for (z in rec$zero_sd) {
    if (!is.null(best) && !all) {
      rec$skipped <- c(rec$skipped, z)
      next
    }
    th <- theta0
    th[count_sd] <- rec$count_sd
    th[zero_sd] <- z
    guard$arm()
    r <- tryCatch(search(th, guard$evalf), error = function(e) NULL)
    ok <- !is.null(r) && is.finite(r$run$loglik) &&
      identical(as.integer(r$run$opt$convergence), 0L)
    rec$abandoned <- c(rec$abandoned, guard$tripped())
    rec$loglik <- c(rec$loglik, if (ok) r$run$loglik else NA_real_)
    if (ok && (is.null(best) || r$run$loglik > best$run$loglik)) {
      best <- r
      rec$adopted <- z
    }
  }
  if (is.null(best)) {
    sr$refused_restarts <- rec
    return(sr)
  }
  best$refused <- 0
  best$refused_restarts <- rec
  best
}

# The first search from the default start `theta0` (`search(theta, evalf)`
# as for zi_random_refused_restarts()). Where the search runs into points the
# engine refuses, it ends at their edge, which is no maximum, and the
# restarts of zi_random_refused_restarts() replace it whenever one converges; so
# with the default start (`default`) the first search is abandoned at its
# first refused point (on the hard Salamanders ZINB it spent about 800 of
# its 870 evaluations beyond that point, most of the fit's time) and the
# restarts run at once. Only when none of them converges does the first
# search run in full, from the engine's warm start before it (`warm0`, put
# back by `set_warm()`), as it would have without them, and its end is
# kept with the restarts' record. `sr$refused`: the engine's refusals up to
# the end of the kept first search (not counting abandoned searches).
#
# `near`: the first search is abandoned as soon as H's smallest eigenvalue
# at an evaluation falls below it (0: only at a refused point). A search
# heading for the refused region crawls along its edge before it meets a
# refused point: on the hard Salamanders ZINB 33 of the first search's 58
# evaluations, each with 4-24 inner Newton iterations, came after the
# smallest eigenvalue first fell below 0.05, a third of the fit's time.
# A first search that refuses no point stays far above it: the lowest
# smallest eigenvalue over the first searches of 60 such two-part fits
# (bench/check-zi-random-restart-rule.R: Salamanders, Owls, simulated ZIP, ZINB
# and hurdle with zero-part random effects) was 0.0059 on one simulated
# ZINB and at least 0.16 on the others; that one is then fitted by a
# restart, which ends at the first search's optimum. `warm0` is the
# engine's whole state before the first search (cpp_sparse_two_part_state(): the
# inner search's warm start and the eigenvalue iteration's start, on which
# the guard's refusals near the bound depend): the restarts begin from it,
# so that they do not depend on where the first search stopped, and the
# first search run in full after them is the search from the default
# start as it runs without restarts.
zi_random_first_search <- function(search, evalf, refused, theta0, default, warm0, set_warm, re, p,
                              nc, restart_search = search, near = 0) {
  # The state before any search: `warm0` is the caller's expression
  # (cpp_sparse_two_part_state(eng)), which R would otherwise evaluate at its first
  # use, after the searches (the first search run in full after the restarts
  # then began where the last restart had left the engine, not where it
  # would have begun without them).
  force(warm0)
  r0 <- refused()
  full <- function() {
    set_warm(warm0)
    before <- refused()
    sr <- search(theta0, evalf)
    sr$refused <- r0 + refused() - before
    sr
  }
  if (!default) return(full())
  guard <- refusal_guard(evalf, refused, near)
  sr <- tryCatch(search(theta0, guard$evalf), error = function(e) NULL)
  if (!guard$tripped()) {
    if (is.null(sr)) return(full())
    sr$refused <- refused()
    return(sr)
  }
  set_warm(warm0)
  rs <- zi_random_refused_restarts(list(refused = 1), restart_search, evalf, refused, theta0, re, p, nc)
  if (!is.null(rs$run)) return(rs)
  sr <- full()
  sr$refused_restarts <- rs$refused_restarts
  sr
}

# verify_zero_variance()'s restarts of each term at zero covariance after
# the search `sr` (sparse_zi_search()'s) ended in the interior, not where
# the engine refused points (`sr$refused`, zi_random_second_start()'s reason: the
# log-likelihoods of two searches are not comparable there); `refused()`:
# the engine's running count of refused points. A restart that
# ends higher replaces the run; its zero covariance is then a verified
# boundary optimum (the search from the interior ended lower), recorded so
# in the boundary check. `warm()`: the engine's warm start, kept with each
# restart's run; `fixed_curv`: glmm_sparse_zi_random_fit()'s, or NULL.
zi_random_zero_variance <- function(sr, evalf, re, p, control, refused, warm, fixed_curv = NULL) {
  if (sr$refused > 0) return(sr)
  terms <- lapply(re$terms, function(tm) p + tm$par)
  names(terms) <- vapply(seq_along(re$terms), function(k) {
    tm <- re$terms[[k]]
    part <- c("", re$prefix %||% "zi~", "disp~")[[term_parts(re)[[k]]]]
    sprintf("%s(%s | %s)", part, deparse1(tm$lhs), deparse1(tm$group_expr))
  }, "")
  # A restart is abandoned at its first refused point (it would end at the
  # edge of the region where the approximation breaks down). It starts at
  # the optimum with one term's covariance at zero, from the curvature
  # there with the coefficients' block from one pass at the modes
  # (`fixed_curv`, optimize_sparse(); its evaluation at that point is the
  # screen's, just made): on the Salamanders ZIP with (1 | spp:mined) 11
  # evaluations instead of 20 from the search's quasi-Newton matrix, which
  # describes the other optimum. Without `fixed_curv` (a penalized fit),
  # from that matrix (where the search's Newton/BFGS steps converged)
  # rather than a new curvature by differences (P + 1 evaluations a term).
  guard <- refusal_guard(evalf, refused)
  H0 <- if (is.null(fixed_curv)) sr$run$curvature
  search <- function(th) {
    guard$arm()
    r <- optimize_sparse(guard$evalf, th, sr$lower, control, sr$star_boundary, H0, fixed_curv)
    r$loglik <- r$at$loglik
    r$warm <- warm()
    r
  }
  zv <- verify_zero_variance(search, sr$run, evalf, terms, p + which(re$lower == 0),
                             tol = optimizer_boundary_tol(control))
  sr$zero_variance <- zv$record
  if (is.na(zv$record$moved_to)) return(sr)
  sr$run <- zv$best
  b <- sr$star_boundary(sr$run$theta)
  sr$verified$record <- utils::modifyList(sr$verified$record, list(
    performed = TRUE, verified = TRUE, moved_off = FALSE, loglik_boundary = zv$best$loglik,
    parameters_final = sr$pnames[b], message = zv$record$message))
  sr
}

# The evaluator `evalf` for a restart that is abandoned at its first point
# the engine refuses (`refused()`: the engine's running count): `evalf`
# stops with an error once the count has grown since the last `arm()`, and
# from then on without evaluating; with `near` > 0 also at the first
# evaluation whose H has its smallest eigenvalue (`$hmin`) below `near`
# (next to the refused region). `tripped()` says whether it has.
refusal_guard <- function(evalf, refused, near = 0) {
  before <- refused()
  hit <- FALSE
  list(arm = function() {
         before <<- refused()
         hit <<- FALSE
       },
       tripped = function() hit || refused() > before,
       evalf = function(t) {
         # Once tripped, no further evaluation: a search that catches the
         # error (verify_boundary()'s restarts) must not go on evaluating.
         if (hit || refused() > before) stop("refused point", call. = FALSE)
         r <- evalf(t)
         if (refused() > before) stop("refused point", call. = FALSE)
         if (isTRUE(r$hmin < near)) {
           hit <<- TRUE
           stop("next to the refused region", call. = FALSE)
         }
         r
       })
}

# The engine refuses points where H, the negative Hessian of the joint
# mode's objective, has a smallest eigenvalue below its bound (the Laplace
# approximation does not hold there; laplace-zero-re.cpp, mode()). A search that
# ran into such points and then stopped short of a verified optimum (any
# convergence warning), or stopped next to them, ended at the edge of the
# valid region: the log-likelihood still rises towards the degenerate points
# only because -log det(H) / 2 does, so the estimates are no maximum and the
# fit must say so. `eng_deg`: cpp_sparse_two_part_degenerate() (every refusal, the
# record's); `refused_kept`: those on the way to the kept optimum (restarts
# abandoned at a refused point do not count); `hmin`: H's smallest
# eigenvalue at the estimates; `warn`: the fit's other warnings;
# `start_ok`: whether the fit takes `start` (structured fits do not, and
# are told to simplify a structure instead); `part`: the part whose random
# effects make the objective non-concave ("zero", "dispersion", or "both"
# where both have random effects); `quadrature_ok`: whether the model may be
# refitted by adaptive quadrature, which the advice then names (a
# dispersion with random effects, alone or beside the zero part's, on the
# mean's grouping factor: glmm_dispre_agq_fit()). Returns
# the warning (or NULL) and the record for $optinfo$laplace_validity.
zi_random_degenerate <- function(eng_deg, refused_kept, hmin, warn, start_ok = TRUE, part = "zero",
                            quadrature_ok = FALSE) {
  refused <- eng_deg$refused
  bound <- eng_deg$bound
  edge <- refused_kept > 0 && (length(warn) > 0 || !is.finite(hmin) || hmin < 10 * bound)
  record <- list(refused = refused, refused_kept = refused_kept, bound = bound, hmin = hmin,
                 breaks_down = edge)
  why <- switch(part,
    dispersion = "the likelihood is not concave in the mean's and the dispersion's random effects jointly",
    both = "the likelihood is not concave in the zero part's and the dispersion's random effects",
    "the two-part likelihood is not concave in the zero part's random effects")
  advice <- if (part == "dispersion")
    "Drop a random-effect term of 'dispformula', or give it another grouping factor"
  else if (part == "both")
    "Drop a random-effect term of 'ziformula' or 'dispformula', or give it another grouping factor"
  else paste("Drop a zero-part random-effect term, fit a zero-inflated Poisson or another grouping",
             "factor for the zero part, or",
             if (start_ok) "give starting values near a valid optimum (start =)"
             else "a simpler structure for a zero-part term")
  if (quadrature_ok)
    advice <- sub("^Drop", paste("Refit with nAGQ > 1 (adaptive quadrature: every part's random",
                                 "effects lie on one grouping factor), drop"), advice)
  msg <- if (edge)
    sprintf(paste("the Laplace approximation breaks down for this model: the search reached parameters",
                  "where the joint mode of the random effects is nearly degenerate (smallest eigenvalue",
                  "of its negative Hessian below %g; %s) and stopped at the edge of them (smallest",
                  "eigenvalue %.2g here, %d points refused); the estimates are not a maximum and the",
                  "log-likelihood is not to be trusted (it rises towards those points only through the",
                  "approximation). %s"),
            bound, why, hmin, as.integer(refused_kept), advice)
  list(warning = msg, record = record)
}
