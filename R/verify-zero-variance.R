# An interior optimum is checked against the models nested in it by one
# random-effect term fewer. A model with a term is a superset of the model
# without it (its covariance at zero), so its maximum is at least the
# smaller model's; but a search from the default start can end at an
# interior local optimum below that boundary point, with no warning, since
# nothing is on a boundary for verify_boundary() to test. In two-part
# models this happens when the zeros are split between the parts in
# another way (Salamanders ZIP, count ~ spp + mined + (1 | site) +
# (1 | spp:mined), zi ~ spp + (1 | site): glmmTMB and our first search
# stop at -875.5457 with SD(spp:mined) 0.23, the model without that term
# reaches -875.0903, with a zero intercept of -0.08 against -0.49).
#
# So each term whose covariance is not already zero is set to zero at the
# optimum and the search restarted from there: the log-likelihood is even in
# each diagonal entry of Lambda, so the search stays on that face (the
# nested model) unless the likelihood rises off it, and it starts next to
# the other parameters' values (a few iterations). The highest optimum is
# kept. Cheap check first: the log-likelihood with the term at zero and the
# other parameters unchanged, one evaluation. A term whose removal costs
# more than `max_drop` there would have to win it all back through the other
# parameters; the restart is skipped for it (the Salamanders case above:
# 7.3 lower with SD(spp:mined) at zero, 12.2 with the count part's site
# term's, 31.1 with the zero part's). The bound is a cost rule, not a
# guarantee: a nested optimum beyond it would be missed.
#
# search(theta) as for verify_boundary(); `evalf(theta)$loglik` one
# evaluation; `terms`: a list of index vectors into theta (one per term,
# its covariance parameters) named by the term; `diag`: indices of the
# diagonal entries of Lambda (a term is already at zero when all of its are
# below `tol`). Returns the best run and the record for
# $optinfo$zero_variance_check.
verify_zero_variance <- function(search, best, evalf, terms, diag, tol = 1e-6, max_drop = 10) {
  rec <- list(performed = FALSE, terms = character(), loglik_zero = numeric(),
              restarted = character(), loglik_restarts = numeric(), loglik_start = best$loglik,
              moved_to = NA_character_, max_drop = max_drop,
              message = "no term restarted at zero covariance")
  if (!is.finite(best$loglik) || !length(terms)) return(list(best = best, record = rec))
  start <- best
  for (k in seq_along(terms)) {
    at <- terms[[k]]
    if (all(abs(start$theta[intersect(at, diag)]) < tol)) next
    th <- start$theta
    th[at] <- 0
    l0 <- tryCatch(evalf(th)$loglik, error = function(e) NA_real_)
    rec$terms <- c(rec$terms, names(terms)[k])
    rec$loglik_zero <- c(rec$loglik_zero, l0)
    if (!is.finite(l0) || start$loglik - l0 > max_drop) next
    res <- tryCatch(search(th), error = function(e) NULL)
    ll <- if (is.null(res) || !is.finite(res$loglik)) NA_real_ else res$loglik
    rec$restarted <- c(rec$restarted, names(terms)[k])
    rec$loglik_restarts <- c(rec$loglik_restarts, ll)
    if (is.finite(ll) && ll > best$loglik + 1e-6) {
      best <- res
      rec$moved_to <- names(terms)[k]
    }
  }
  rec$performed <- length(rec$terms) > 0L
  rec$message <- if (!is.na(rec$moved_to)) {
    sprintf(paste("the restart with the covariance of %s at zero found a higher optimum",
                  "(log-likelihood %.6f) than the search from the default start (%.6f)"),
            rec$moved_to, best$loglik, rec$loglik_start)
  } else if (length(rec$restarted)) {
    sprintf("%d restart(s) with one term's covariance at zero found no higher log-likelihood",
            length(rec$restarted))
  } else if (rec$performed) {
    sprintf("no restart: setting any term's covariance to zero lowered the log-likelihood by more than %g",
            max_drop)
  } else rec$message
  list(best = best, record = rec)
}
