# Gaussian identity-link fits that do not depend on the response's units.
#
# The maximum of the likelihood is equivariant in the units of y: with y
# multiplied by c, beta, Lambda and sigma are multiplied by c and the
# log-likelihood falls by (number of observations) * log(c). The search is
# not: its stopping rules, step sizes, differences for the Hessian and
# boundary checks carry absolute sizes, so with y in units 1e6 times too
# small or large it stopped 10 log-likelihood units short of the optimum of
# (Days | Subject) on sleepstudy, or warned of a singular fit that was not.
# So the gaussian identity-link fit is run on y / s and offset / s, with s
# the residual standard deviation of the least-squares fit without random
# effects (itself equivariant: y * c gives s * c, and the same y / s up to
# rounding), and its estimates are mapped back exactly.

# The scale s of the response: 1 for other families, and whenever it cannot
# be computed (the fitter's own checks then give the error).
# With `rank = TRUE`, `attr(s, "full_rank")` is TRUE when the least-squares
# fit was on X itself (every weight 1) and found it of full column rank: the
# same pivoted QR (LINPACK's dqrdc2, tolerance 1e-7) as qr(X)'s, whose rank
# check_full_rank() would compute again.
response_scale <- function(X, y, weights, offset, family, rank = FALSE) {
  if (!(family$family == "gaussian" && family$link == "identity")) return(1)
  n <- length(y)
  ok <- is.numeric(y) && n > 0L && is.matrix(X) && nrow(X) == n && all_finite(X) &&
    all_finite(y) && (is.null(weights) || (length(weights) == n && all_finite(weights) &&
                                           min(weights) >= 0)) &&
    (is.null(offset) || (length(offset) == n && all_finite(offset)))
  if (!ok) return(1)
  w <- if (is.null(weights)) rep(1, n) else weights
  yo <- if (is.null(offset)) y else y - offset
  pos <- w > 0
  npos <- sum(pos)
  if (npos <= ncol(X)) return(1)
  # stats::lm.wfit()'s fit without its checks and outputs (and without the
  # copies of X, y and w when every weight is positive): the same QR
  # (.lm.fit(), the routine lm.wfit() calls) of X sqrt(w) and y sqrt(w), the
  # residuals divided by sqrt(w) again, so s is bitwise lm.wfit()'s.
  if (npos < n) {
    X <- X[pos, , drop = FALSE]
    yo <- yo[pos]
    w <- w[pos]
  }
  unit <- is.null(weights) || all(w == 1)
  wts <- if (unit) 1 else sqrt(w)
  fit <- tryCatch(if (unit) stats::.lm.fit(X, yo) else stats::.lm.fit(X * wts, yo * wts),
                  error = function(e) NULL)
  if (is.null(fit)) return(1)
  res <- if (unit) fit$residuals else fit$residuals / wts
  s <- sqrt(sum(w * res^2) / (npos - fit$rank))
  # Rounded like the design's centres (reparam-glmm.R); any positive s gives
  # an exact map.
  s <- signif(s, 10)
  if (!is.finite(s) || s <= 0) return(1)
  if (rank) attr(s, "full_rank") <- unit && npos == n && fit$rank == ncol(X)
  # A response far from zero beside its residuals (y + 1e9): the fitters'
  # sums of squares cancel, their digits lost with the square of the ratio
  # (one-factor ML ended 139 log-likelihood units low, REML and cs() reported
  # logLik +5.7e4 and +2.5e8). The fit is then run on y - X b0, b0 the
  # least-squares coefficients, and beta mapped back by + b0: the likelihood
  # depends on y - X beta only, so the optimum is the same (response_shift()).
  ratio <- sqrt(sum(w * yo^2) / sum(w * res^2))
  if (fit$rank == ncol(X) && is.finite(ratio) && ratio > 10) {
    b0 <- numeric(ncol(X))
    b0[fit$pivot] <- fit$coefficients
    attr(s, "shift") <- b0
  }
  s
}

# The least-squares coefficients b0 that response_scale() found worth
# subtracting from the response (attribute "shift"), or NULL.
response_shift <- function(s) attr(s, "shift", exact = TRUE)

# The response the fitters are given: (y - X b0) / s, or y / s without a
# shift.
shifted_response <- function(y, X, s) {
  b0 <- response_shift(s)
  if (is.null(b0)) return(y / as.vector(s))
  (y - drop(as.matrix(X) %*% b0)) / as.vector(s)
}

# A start's fixed effects on that response.
shift_start_beta <- function(beta, s) {
  b0 <- response_shift(s)
  if (is.null(b0) || length(beta) != length(b0)) beta / as.vector(s)
  else (beta - b0) / as.vector(s)
}

# A start vector laid out as a two-part fit's theta (fixed effects, then
# `k` covariance entries on the scale of b, then coefficients of log
# dispersion or of other parts) in the units of y / s, for a fit whose
# dispersion offset is less log(s): the first two blocks mapped, the rest
# as they are. Anything else is returned as given (the fitter checks it).
scale_two_part_start <- function(start, p, k, s) {
  if (!is.numeric(start) || length(start) <= p + k) return(start)
  start[seq_len(p)] <- shift_start_beta(start[seq_len(p)], s)
  start[p + seq_len(k)] <- start[p + seq_len(k)] / as.vector(s)
  start
}

# The response, offset and dispersion offset a two-part fitter searches
# on: with `scale` (a gaussian identity-link dispersion model without a
# zero part or a penalty, which are not equivariant in y), y / s
# (response_scale(), less the shift X b0 where one is worth it), the
# offset / s and the log-dispersion offset `offd` less log(s), so that the
# dispersion coefficients are the user's as they stand. `scaled` says
# whether the fit is to be mapped back (unscale_fit(),
# unscale_two_part_modes()); a covariance fixed in y's units (equalto())
# is then fitted in those of y / s (fixed_covariance_in_units()).
# `log_scale`: log(s) either way, y's units.
two_part_units <- function(X, y, weights, offset, offd, family, scale) {
  s <- if (scale) response_scale(as.matrix(X), y, weights, offset, family) else 1
  log_scale <- log(as.vector(s))
  scaled <- as.vector(s) != 1 || !is.null(response_shift(s))
  if (scaled) {
    y <- shifted_response(y, X, s)
    if (!is.null(offset)) offset <- offset / as.vector(s)
    offd <- (offd %||% rep(0, length(y))) - log(as.vector(s))
  }
  list(s = s, scaled = scaled, y = y, offset = offset, offd = offd, log_scale = log_scale)
}

# The modes of a two-part fit on y / s in the units of y: the linear
# predictor, the mean's random effects (the first `Qc` of b) and their
# terms' Lambda, D and conditional covariances times s (the fixed effects'
# shift X b0 back on the predictor); the dispersion's predictor (the
# field `disp_link`) plus log(s), a random dispersion's effects unchanged
# (they act on log sigma); with `index` (the clusters' codes, by adaptive
# quadrature) each cluster's log-likelihood less log(s) per observation
# of positive weight.
unscale_two_part_modes <- function(md, s, X, weights, index = NULL, Qc = length(md$modes$b),
                                   disp_link = "zlink") {
  b0 <- response_shift(s)
  k <- as.vector(s)
  md$modes$eta <- md$modes$eta * k + if (!is.null(b0)) drop(as.matrix(X) %*% b0) else 0
  if (!is.null(md$modes$b)) md$modes$b[seq_len(Qc)] <- md$modes$b[seq_len(Qc)] * k
  if (!is.null(md$modes[[disp_link]])) md$modes[[disp_link]] <- md$modes[[disp_link]] + log(k)
  md$terms <- unscale_term_summaries(md$terms, k)
  if (!is.null(index) && !is.null(md$cluster_loglik))
    md$cluster_loglik <- md$cluster_loglik -
      log(k) * tabulate(index[weights > 0], length(md$cluster_loglik))
  md
}

# A start in the user's units (glmm_fit()'s list) in those of y / s.
scale_start <- function(start, s) {
  if (!is.list(start)) return(start)
  for (nm in c("lambda", "sigma"))
    if (is.numeric(start[[nm]])) start[[nm]] <- start[[nm]] / as.vector(s)
  if (is.numeric(start$beta)) start$beta <- shift_start_beta(start$beta, s)
  start
}

# A fit on y / s in the units of y: the parameters theta * mult + add (by
# default beta and Lambda's entries times s, log sigma plus log s; `mult`
# and `add` for other layouts), beta, Lambda and sigma times s, the
# log-likelihoods (total and per cluster) less log(s) per observation of
# positive weight, the gradient and Hessian by the Jacobian of the map
# (diagonal, `mult`), and the covariance of the estimates recomputed from
# that Hessian. The standardized random effects u = Lambda^{-1} b and the
# warnings (judged on the scale-free fit) are the same; the boundary
# check's log-likelihoods are mapped, its messages are not.
unscale_fit <- function(fit, s, weights, index, mult = NULL, add = NULL,
                        eta_mult = as.vector(s), sigma_mult = as.vector(s), jac_w = NULL) {
  b0 <- response_shift(s)
  s <- as.vector(s)
  if (s == 1 && is.null(b0)) return(fit)
  P <- length(fit$theta)
  ls <- log(s)
  if (is.null(mult)) {
    map <- response_map(P, s)
    mult <- map$mult
    add <- map$add
  }
  # The shift of the response (response_shift()) on the fixed effects.
  if (!is.null(b0)) add[seq_along(b0)] <- add[seq_along(b0)] + b0
  # Each observation's density in y is its density in y / s divided by s
  # (raised to its prior weight where the weight multiplies the
  # log-likelihood, `jac_w`): log(s) off per observation of positive weight.
  pos <- if (is.null(weights)) rep(TRUE, length(index)) else weights > 0
  jw <- if (is.null(jac_w)) as.numeric(pos) else jac_w
  fit$theta <- fit$theta * mult + add
  fit$beta <- fit$beta * eta_mult + (b0 %||% 0)
  fit$lambda <- fit$lambda * eta_mult
  fit$Lambda <- fit$Lambda * eta_mult
  if (!is.null(fit$sigma)) fit$sigma <- fit$sigma * sigma_mult
  fit$loglik <- fit$loglik - sum(jw) * ls
  fit$optinfo$boundary_check <- shift_boundary_record(fit$optinfo$boundary_check, sum(jw) * ls)
  if (!is.null(fit$modes$loglik))
    fit$modes$loglik <- fit$modes$loglik - ls *
      (if (is.null(jac_w)) tabulate(index[pos], length(fit$modes$loglik))
       else vapply(split(jw, factor(index, seq_along(fit$modes$loglik))), sum, 1))
  fit$gradient <- fit$gradient / mult
  fit$hessian <- unscale_hessian(fit$hessian, mult)
  pnames <- names(fit$theta)
  fit$cov_theta <- unscale_covariance(fit$cov_theta, mult, fit$hessian, fit$on_boundary, pnames)
  fit <- remap_grad_record(fit)
  fit$optinfo$hessian_cond <- attr(fit$cov_theta, "cond") %||% NA_real_
  fit$optinfo$response_scale <- s
  fit
}

# A boundary check's record (verify_boundary()) with its log-likelihoods
# less `shift`: a fit on y / s reports them in the units of y.
shift_boundary_record <- function(rec, shift) {
  if (is.list(rec) && is.numeric(rec$loglik_boundary)) {
    rec$loglik_boundary <- rec$loglik_boundary - shift
    rec$loglik_restarts <- rec$loglik_restarts - shift
  }
  rec
}

# The default map of the parameters (beta and Lambda's entries, then log
# sigma) from y / s to the units of y: theta * mult + add.
response_map <- function(P, s) {
  list(mult = c(rep(s, P - 1L), 1), add = c(rep(0, P - 1L), log(s)))
}

# The same map for the structured fits (covstruct-eval.R): the search's
# parameters `par` and the user's `theta` (beta, each term's structure
# parameters, log dispersion) with the gradient and Hessian in theta. An
# unstructured term's parameters are Lambda's entries (times s); the other
# structures' standard deviations are on the log scale (plus log s) and
# their correlation parameters do not change.
unscale_structure <- function(par, theta, grad, hess, terms, k_re, p, disp, s) {
  m <- structure_unit_map(length(par), terms, k_re, p, disp, s)
  mult <- m$mult
  list(par = par * mult + m$add, theta = theta * mult + m$add, grad = grad / mult,
       hess = unscale_hessian(hess, mult), mult = mult)
}

# That map's factors and shifts over P parameters: theta * mult + add.
structure_unit_map <- function(P, terms, k_re, p, disp, s) {
  mult <- rep(1, P)
  add <- rep(0, P)
  mult[seq_len(p)] <- s
  for (k in seq_along(terms)) {
    st <- terms[[k]]$struct
    idx <- k_re[[k]]
    if (isTRUE(st$direct)) mult[idx] <- s
    else add[idx[st$sd_par]] <- log(s)
  }
  if (disp) add[[P]] <- log(s)
  list(mult = mult, add = add)
}

# The covariance of the estimates under the same diagonal map: scaled, not
# inverted again from the mapped Hessian (the fitters invert on their
# standardized scale, star_covariance(), which a second inversion on the
# user's scale would undo).
unscale_covariance <- function(V, mult, hess, on_boundary, pnames) {
  if (is.null(V) || is.null(attr(V, "ok")))
    return(invert_information(hess, on_boundary, pnames))
  out <- V * outer(mult, mult)
  attr(out, "ok") <- TRUE
  # The standardized covariance (star_covariance()): the same map on T's rows.
  if (!is.null(st <- attr(V, "star"))) {
    st$T <- st$T * mult[st$index]
    attr(out, "star") <- st
  }
  free <- which(!on_boundary)
  info <- if (is.null(hess)) NA else -hess[free, free, drop = FALSE]
  attr(out, "cond") <- if (anyNA(info)) NA_real_ else raw_condition(info)
  out
}

# A Hessian in parameters theta * mult + add (a diagonal Jacobian), with its
# names; NULL stays NULL.
unscale_hessian <- function(hess, mult) {
  if (is.null(hess)) return(NULL)
  h <- hess / outer(mult, mult)
  dimnames(h) <- dimnames(hess)
  h
}

# Runs `fitter(X, y, re, family, weights, offset, control, start)` of the
# several-term engines (sparse Laplace, nested quadrature) on y / s for a
# gaussian identity-link model, `start` (beta, covariance parameters, log
# sigma) mapped to those units, and returns the fit in the units of y.
# Their covariance parameters are on the scale of b, so the default map of
# unscale_fit() (times s; log sigma plus log s) applies.
# With `shift = TRUE` a response far from zero is also fitted as y - X b0
# (response_shift()); the sparse Laplace route does not need it.
with_response_scale <- function(fitter, X, y, re, family, weights, offset, control, start,
                                shift = FALSE) {
  gs <- gamma_response_scale(y, weights, family)
  if (!is.null(gs)) {
    fit <- fitter(X, y / gs$s, re, family, weights,
                  if (!is.null(offset)) offset / gs$eta_mult, control, gamma_scale_start(start, gs))
    return(unscale_terms_fit(fit, gs$s, weights, length(y), X, gamma = gs))
  }
  s <- response_scale(as.matrix(X), y, weights, offset, family)
  if (!shift) attr(s, "shift") <- NULL
  b0 <- response_shift(s)
  if (s == 1 && is.null(b0)) return(fitter(X, y, re, family, weights, offset, control, start))
  if (is.numeric(start) && length(start)) {
    p <- ncol(X)
    start <- c(shift_start_beta(start[seq_len(p)], s),
               start[-c(seq_len(p), length(start))] / as.vector(s),
               start[[length(start)]] - log(as.vector(s)))
  }
  fit <- fitter(X, shifted_response(y, X, s), re, family, weights,
                if (!is.null(offset)) offset / as.vector(s), control, start)
  unscale_terms_fit(fit, s, weights, length(y), X)
}

# unscale_fit() for the fits of the several-term engines, which also carry
# the dispersion, the linear predictor and per-term summaries (Lambda, D,
# the modes b and their conditional covariances), and for nested quadrature
# the Laplace fit it started from. `mult`, `add`: the map of theta where it
# is not the default (a dispersion formula's coefficients, fitted with its
# offset less log(s), stay as they are).
unscale_terms_fit <- function(fit, s, weights, n, X = NULL, gamma = NULL, mult = NULL,
                              add = NULL) {
  # Gamma (gamma_response_scale()): the linear predictor and the random
  # effects times eta_mult, the shape unchanged, the log-likelihood less
  # sum(w) log(s).
  jw <- if (!is.null(gamma)) { if (is.null(weights)) rep(1, n) else weights }
  k <- if (!is.null(gamma)) gamma$eta_mult else as.vector(s)
  fit <- if (is.null(gamma)) unscale_fit(fit, s, weights, rep(1L, n), mult, add)
         else {
           gm <- gamma_response_map(length(fit$theta), gamma)
           unscale_fit(fit, s, weights, rep(1L, n), gm$mult, gm$add, eta_mult = k,
                       sigma_mult = 1, jac_w = jw)
         }
  b0 <- response_shift(s)
  s <- as.vector(s)
  npos <- if (!is.null(jw)) sum(jw) else if (is.null(weights)) n else sum(weights > 0)
  if (!is.null(fit$dispersion) && is.null(gamma)) fit$dispersion <- fit$dispersion * s
  if (!is.null(fit$modes$eta)) {
    fit$modes$eta <- fit$modes$eta * k
    if (!is.null(b0)) fit$modes$eta <- fit$modes$eta + drop(as.matrix(X) %*% b0)
  }
  if (!is.null(fit$modes$b)) fit$modes$b <- fit$modes$b * k
  fit$terms <- unscale_term_summaries(fit$terms, k)
  lap <- fit$optinfo$laplace
  if (!is.null(lap)) {
    map <- if (!is.null(mult)) list(mult = mult, add = add)
           else if (is.null(gamma)) response_map(length(lap$theta), s)
           else gamma_response_map(length(lap$theta), gamma)
    if (!is.null(b0)) map$add[seq_along(b0)] <- map$add[seq_along(b0)] + b0
    fit$optinfo$laplace <- list(loglik = lap$loglik - npos * log(s),
                                theta = lap$theta * map$mult + map$add)
  }
  fit
}

# Gamma models with the identity or inverse link, in any units of y. With
# y multiplied by c the optimum is the same model: the identity link's
# beta and Lambda times c, the inverse link's divided by c, the shape
# unchanged, the log-likelihood less sum(w) log(c) (the prior weights
# multiply each observation's log-likelihood). The search is not
# equivariant (its tolerances, steps and difference widths are absolute):
# with y in units 1000 times larger the inverse link's coefficients were
# 1000 times smaller and the search ended in "false convergence" at
# another point. So the fit is run on y / s, s the weighted geometric mean
# of y (equivariant: y * c gives s * c), and mapped back exactly. The log
# link needs nothing (the units only shift the intercept).
# Returns NULL when nothing is to be done, else list(s, eta_mult) with
# eta_mult the factor from the linear predictor on y / s to the one on y.
gamma_response_scale <- function(y, weights, family) {
  if (!identical(family$family, "Gamma") || !family$link %in% c("identity", "inverse"))
    return(NULL)
  w <- if (is.null(weights)) rep(1, length(y)) else weights
  ok <- w > 0 & is.finite(y) & y > 0
  if (!any(ok)) return(NULL)
  s <- exp(sum(w[ok] * log(y[ok])) / sum(w[ok]))
  # A power of two: y / s and the back-map are then exact in floating point.
  s <- 2^round(log2(s))
  if (!is.finite(s) || s <= 0 || s == 1) return(NULL)
  list(s = s, eta_mult = if (family$link == "inverse") 1 / s else s)
}

# The parameter map (theta * mult + add) of a Gamma fit on y / s: beta and
# the covariance parameters times eta_mult (on the scale of b, as Lambda's
# entries are), the log shape unchanged.
gamma_response_map <- function(P, gs) {
  list(mult = c(rep(gs$eta_mult, P - 1L), 1), add = rep(0, P))
}

# A start vector (beta, covariance parameters, log shape) in the user's
# units, in those of y / s; a glmm_fit() start list likewise.
gamma_scale_start <- function(start, gs) {
  k <- gs$eta_mult
  if (is.numeric(start) && length(start)) {
    P <- length(start)
    return(c(start[-P] / k, start[[P]]))
  }
  if (!is.list(start)) return(start)
  for (nm in c("beta", "lambda"))
    if (is.numeric(start[[nm]])) start[[nm]] <- start[[nm]] / k
  start
}

# Term summaries (sparse_term_summaries()'s or agq_term_summaries()'s
# layout) of a fit on y / s in the units of y: Lambda and the modes times
# `k`, D and the conditional covariances times k^2.
unscale_term_summaries <- function(terms, k) {
  lapply(terms, function(tm) {
    for (f in c("Lambda", "b", "b_mean")) if (!is.null(tm[[f]])) tm[[f]] <- tm[[f]] * k
    for (f in c("D", "condvar", "condvar_mean")) if (!is.null(tm[[f]])) tm[[f]] <- tm[[f]] * k^2
    tm
  })
}
