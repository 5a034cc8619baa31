# glmm() for a model whose random-effect terms are known-covariance random
# intercepts: the formula front end of the gaussian exact routes (one term:
# the spectral rotation, fit-known-gaussian.R; several: the dense or sparse
# Cholesky routes, fit-known-gaussian-multi.R) and of the dense-factor
# Laplace engine for a binomial (logit) or Poisson (log) model with one
# such term (fit-known-laplace.R), the one constructor of their fits, and
# the print method that states ML or REML.

# Does the known-covariance gaussian engine fit this model? Gaussian with the
# identity link, every random-effect term a random intercept (1 | g), no two
# terms on the same g, and at least one g given a covariance. A plain term
# (1 | g) beside them is a known-covariance term with K = I over g's levels
# (known_term()), so the likelihood stays exact instead of going to the
# sparse Laplace engine.
#
# The routes work with the n x n marginal covariance: a plain term whose
# levels are large (Z Z' with many nonzeros: blocks of m_l^2 per level)
# makes V and its factor dense where the sparse Laplace engine, exact for
# the gaussian family, works with the random effects. Such ML fits keep
# that engine (one run at n = 2,000 cells in 20 batches: 14.4 s CPU on the
# marginal route, 12.1 s on the Laplace engine; lme4 on Z F 0.2 s, so
# both are slow there); REML, which only these routes give, takes the
# exact route whatever the size.
#
# An ML fit with a plain term beside the known ones and `start` or non-unit
# weights, which these routes do not take, keeps the sparse Laplace engine,
# which takes both (as before plain terms came to these routes).
use_known_gaussian <- function(formula, family, covariance, mf = NULL, REML = FALSE,
                               start = NULL) {
  if (!length(covariance) || family$family != "gaussian" || family$link != "identity" ||
      !is.list(covariance) || is.null(names(covariance)) || !all(nzchar(names(covariance))))
    return(FALSE)
  bars <- find_bars(formula)
  gs <- bar_group_names(formula)
  ok <- length(bars) >= 1L && all(vapply(bars, function(b) identical(b[[2L]], 1), TRUE)) &&
    !anyDuplicated(gs) && all(names(covariance) %in% gs)
  if (!ok || REML || is.null(mf)) return(ok)
  plain <- which(!gs %in% names(covariance))
  if (length(plain)) {
    w <- mf[["(weights)"]]
    if (!is.null(start) || (!is.null(w) && any(w != 1))) return(FALSE)
  }
  nnz <- sum(vapply(plain, function(k) {
    m <- tabulate(plain_known_term(bars[[k]], gs[k], mf)$index)
    sum(as.numeric(m)^2)
  }, 0))
  nnz <= 20 * nrow(mf)
}

# Does the known-covariance Laplace engine fit this model?
use_known_laplace <- function(formula, family, covariance) {
  if (!length(covariance) || is.null(known_laplace_family(family))) return(FALSE)
  bars <- find_bars(formula)
  if (length(bars) != 1L || !identical(bars[[1L]][[2L]], 1)) return(FALSE)
  cv <- covariance[[bar_group_names(formula)]]
  length(covariance) == 1L && !is.null(cv) &&
    (inherits(cv, "glmmgee_kfactor") || (is.matrix(cv) && is.numeric(cv)) ||
       (inherits(cv, "Matrix") && !inherits(cv, "sparseMatrix")))
}

# The front end of both engines: the terms, the design, the route's own
# checks, the fit on a centred and scaled X where the user's loses digits
# (lmm_design_transform(), as the other linear mixed model routes: with
# x * 1e-6 - 5 the gaussian profiles, which form X'V^-1X as X'X less its
# rotated part, gave a slope 4% off and a log-likelihood 0.6 below the
# optimum, silently, and the glm start of the Laplace engine had a singular
# X'WX), and (beta, variance parameters) back to the user's X by the linear
# mixed models' map, which keeps the standardized covariance for the delta
# methods.
glmm_known <- function(s, mf) {
  formula <- s$formula
  family <- s$family
  gauss <- family$family == "gaussian"
  terms <- lapply(find_bars(formula), known_term, covariance = s$covariance, mf = mf)
  d <- design_and_response(formula, mf, s$fenv, family)
  resp <- d$resp
  if (gauss) {
    known_gaussian_checks(terms, resp)
    y <- resp$y - d$offset
    tx <- lmm_design_transform(d$X)
    fit <- if (length(terms) == 1L) {
      tm <- terms[[1L]]
      known_gaussian_fit(tx$M, y, tm$index, tm$K, tm$kf, tm$g, s$REML)
    } else {
      known_gaussian_multi_fit(tx$M, y, terms, s$REML)
    }
    fit$theta <- c(fit$beta, sqrt(fit$s2g), 0.5 * log(fit$s2e))
    p <- length(fit$beta)
    fit$cov_theta <- matrix(0, length(fit$theta), length(fit$theta))
    fit$cov_theta[seq_len(p), seq_len(p)] <- fit$vcov
    fit$cov_theta[-seq_len(p), -seq_len(p)] <- fit$cov_var
  } else {
    tm <- terms[[1L]]
    if (family$family == "poisson" && any(resp$weights != 1))
      stop("'weights' are not available for a Poisson model with a known covariance", call. = FALSE)
    if (any(resp$weights <= 0))
      stop("'weights' must be positive for a model with a known covariance", call. = FALSE)
    L <- known_laplace_factor(tm, ncol(d$X))
    extra_warn <- check_obs_level_effects(list(mf[[tm$g]]), family, resp$weights)
    sep <- separation_record(d$X, resp$y, resp$weights, family, "glmm")
    tx <- lmm_design_transform(d$X)
    fit <- known_laplace_fit(tx$M, resp$y, resp$weights, d$offset, tm$index, L, family, s$control,
                             tm$g)
    fit$theta <- c(fit$beta, fit$s)
    fit$L <- L
  }
  fit <- lmm_standard_x(fit, tx, FALSE)
  if (gauss) fit <- known_gaussian_standard_x(fit, tx, s$REML)
  obj <- new_glmm_known(fit, d$X, resp, d$offset, terms, mf, d$mt, s$call, formula, family,
                        gauss && s$REML)
  if (gauss) obj else finish_glmm(obj, sep, extra_warn)
}

# The gaussian routes' checks: unit weights, and no term whose K is a
# multiple of the identity over one observation per level.
known_gaussian_checks <- function(terms, resp) {
  if (any(resp$weights != 1))
    stop("'weights' are not available for a gaussian model with a known covariance", call. = FALSE)
  n <- length(resp$y)
  for (tm in terms)
    if (is.null(tm$kf) && max(tabulate(tm$index, length(tm$levels))) <= 1L && is_scaled_identity(tm$K))
      stop(sprintf(paste0("grouping factor '%s' has as many levels as observations (%d) and its ",
                          "known covariance is a multiple of the identity: its random effect is not identifiable ",
                          "(it is confounded with the residual of the gaussian family); remove the term"),
                   tm$g, n), call. = FALSE)
}

# What lmm_standard_x() does not map for a gaussian fit: the REML
# log-likelihood less log|det T| and the rotated design kept for
# assoc_scan() as U'X = (U'X*) T, which the scan combines with the user's X.
known_gaussian_standard_x <- function(fit, tx, reml) {
  if (isTRUE(tx$identity)) return(fit)
  if (reml) fit$loglik <- fit$loglik - sum(log(abs(diag(tx$T))))
  else if (!is.null(fit$loglik_reml))
    fit$loglik_reml <- fit$loglik_reml - sum(log(abs(diag(tx$T))))
  if (!is.null(fit$rotation$X1)) {
    # U'X* itself too: assoc_scan() projects on the span of X, on X* where
    # the user's X loses digits (scan_design()).
    fit$rotation$X1_star <- fit$rotation$X1
    X1 <- fit$rotation$X1 %*% tx$T
    dimnames(X1) <- dimnames(fit$rotation$X1)
    fit$rotation$X1 <- X1
  }
  fit
}

# The factor L (levels x r) of the term's K: given, or for a dense K its
# Cholesky factor with the columns in reverse order (computed in place in
# the one levels^2 matrix it returns, which the engine's products exploit:
# known-laplace.h). A dense K that is singular (its Cholesky factorization
# fails, or leaves a pivot below 1e-5 of the largest standard deviation)
# is of lower rank r: its factor comes from the pivoted Cholesky
# factorization (known_low_rank_factor()), levels x r, at about levels r^2
# operations, and each evaluation of the engine then costs levels r^2
# instead of levels^3. From 2,000 levels, a pivoted factorization stopped
# at rank levels / 10 comes first (at most levels^3 / 100 operations, 7 s
# at 10,000 levels): a K of lower rank is then found before anything of
# size levels^2 is allocated, and a K of higher rank is announced with the
# forecast of its fit (known_dense_forecast_message(), `p` fixed effects).
# A sparse K is factored by covariance_factor(). Memory is checked before
# a dense factor is made.
known_laplace_factor <- function(tm, p = 1L) {
  if (!is.null(tm$kf)) return(tm$kf$L)
  nl <- nrow(tm$K)
  if (!inherits(tm$K, "sparseMatrix")) {
    K <- tm$K
    if (!is.matrix(K) || !is.double(K)) K <- as.matrix(K) + 0
    if (nl >= 2000L) {
      low <- known_low_rank_factor(K, tm, max_rank = nl %/% 10L)
      if (!is.null(low)) return(low)
      known_dense_forecast_message(tm$g, nl, p)
    }
    check_memory(8 * nl^2, sprintf("the factor of 'covariance$%s' (%d x %d)", tm$g, nl, nl))
    # the row names are set in C++: rownames<- here would copy the factor
    f <- cpp_known_dense_factor(K, 1e-8, as.character(tm$levels))
    if (!f$symmetric) stop(sprintf("'covariance$%s' is not symmetric", tm$g), call. = FALSE)
    if (f$ok) {
      # the factor's diagonal, in its reversed column order
      piv <- f$L[cbind(seq_len(nl), rev(seq_len(nl)))]
      if (min(piv) >= 1e-5 * sqrt(max(diag(K)))) return(f$L)
      f <- NULL  # the singular factor's memory is free for the low-rank one
    }
    return(known_low_rank_factor(K, tm))
  }
  check_memory(3 * 8 * nl^2, sprintf("the factor of 'covariance$%s' (%d x %d)", tm$g, nl, nl))
  L <- as.matrix(covariance_factor(tm$K, tm$g))
  ss <- colSums(L * L)
  keep <- ss > 1e-10 * max(ss)
  L <- L[, keep, drop = FALSE]
  rownames(L) <- tm$levels
  L
}

# What a binomial or Poisson fit with a dense K of n levels will cost if K
# is of full rank, forecast before anything is factored: seconds of one
# evaluation of the likelihood with its gradient and of the whole fit, and
# bytes of memory. Every step of the engine is O(n^3) (the Cholesky factors
# of K and of M = I + s^2 L' W L, L' W L, the leverages and the exact
# Hessian's Gram matrices), so the forecast scales the time of one blocked
# Cholesky factorization of an n x n matrix, itself scaled from one of a
# 1,000 x 1,000 matrix timed here (`unit`: its seconds; about 0.04 s): an
# evaluation costs about 2.5 and a fit about 25 such factorizations,
# measured at n = 1,500-3,000 (six evaluations, the start and the Hessian
# included). Memory: the factor of K and M's factor (n^2 each) and the
# Hessian's 2 (p + 1) Gram matrices.
known_dense_forecast <- function(n, p, unit = known_dense_unit()) {
  chol_n <- unit * (n / 1000)^3 * 1.4  # larger matrices run out of cache
  list(eval = 2.5 * chol_n, fit = 25 * chol_n, bytes = 8 * n^2 * (2 + 2 * (p + 1)))
}

# Seconds of one Cholesky factorization of a 1,000 x 1,000 matrix by the
# engine's kernel (the faster of two).
known_dense_unit <- function() {
  K <- matrix(0.5, 1000L, 1000L)
  diag(K) <- 1
  max(min(replicate(2L, system.time(cpp_known_dense_factor(K, 1e-8, NULL))[["elapsed"]])), 0.001)
}

# A message before a fit with a dense K of n >= 2,000 levels whose forecast
# (known_dense_forecast()) exceeds a minute: the time and memory it will
# take if K is of full rank, and the faster way to give K when a factor of
# it is known.
known_dense_forecast_message <- function(g, n, p, fc = known_dense_forecast(n, p)) {
  if (n < 2000L) return(invisible(NULL))
  if (fc$fit < 60) return(invisible(NULL))
  message(sprintf(paste0(
    "glmm(): 'covariance$%s' is a dense %s x %s matrix. If it is of full rank, the fit will take ",
    "about %s here (each evaluation of the likelihood about %s) and about %s GB of memory; ",
    "a K of lower rank is detected and fitted in less. When a factor L of K = L L' is at hand ",
    "(for a genomic relationship matrix, the standardized genotypes divided by the square root ",
    "of their number), covariance = list(%s = kfactor(L)) costs levels x ncol(L)^2 per evaluation ",
    "instead of levels^3."),
    g, format(n, big.mark = ","), format(n, big.mark = ","), format_duration(fc$fit),
    format_duration(fc$eval), format_gb(fc$bytes), g))
  invisible(fc)
}

# "40 seconds", "12 minutes", "2.5 hours".
format_duration <- function(secs) {
  if (secs < 90) return(sprintf("%.0f seconds", secs))
  if (secs < 5400) return(sprintf("%.0f minutes", secs / 60))
  sprintf("%.1f hours", secs / 3600)
}

# The error for a known covariance that is not positive semidefinite:
# `what` names it, `detail` says how that showed. Kinships estimated from
# genotypes with missing values often have small negative eigenvalues; the
# remedy is named.
stop_not_semidefinite <- function(what, detail = NULL) {
  stop(sprintf(paste0("%s is not positive semidefinite%s; if its negative eigenvalues are estimation ",
                      "or rounding error (a kinship from incomplete genotypes), give the nearest ",
                      "matrix that is, Matrix::nearPD(K)$mat"),
               what, if (is.null(detail)) "" else sprintf(" (%s)", detail)), call. = FALSE)
}

# The factor L (levels x r) of a dense, singular K = L L' by Cholesky
# factorization with diagonal pivoting (cpp_known_pivoted_factor()), stopped
# where every remaining variance is below 1e-10 of the largest: the rank r
# is found on the way. An error when K is not positive semidefinite: a
# negative variance left, or a remainder K - L L' whose dominant direction
# (by power iteration) has negative curvature beyond rounding. With
# `max_rank`, NULL when the rank exceeds it.
known_low_rank_factor <- function(K, tm, max_rank = 0L) {
  tol <- 1e-10
  f <- cpp_known_pivoted_factor(K, tol, as.integer(max_rank), as.character(tm$levels))
  if (!f$symmetric) stop(sprintf("'covariance$%s' is not symmetric", tm$g), call. = FALSE)
  if (!f$full) return(NULL)
  scale <- max(f$dmax, f$k_rq)
  nl <- nrow(K)
  if (f$remainder_min < -1e-8 * f$dmax || f$remainder_rq < -1e-8 * scale ||
      f$remainder_rq > nl * tol * f$dmax + 1e-8 * scale)
    stop_not_semidefinite(sprintf("'covariance$%s'", tm$g),
                          sprintf("a direction of variance %.3g remains after its first %d pivots",
                                  min(f$remainder_min, f$remainder_rq), f$rank))
  if (f$rank == 0L)
    stop(sprintf("'covariance$%s' is zero", tm$g), call. = FALSE)
  f$L
}

# One term (1 | g) with its covariance: K (checked) or its factor, the
# levels (rows of K) and each observation's level. A term without a
# covariance is a plain random intercept: K is the sparse identity over the
# levels of g as the sparse engine forms them (grouping_codes(), or
# mkReTrms() for expressions that are not variables of the frame), marked
# `plain`.
known_term <- function(bar, covariance, mf) {
  g <- group_names_of(list(bar))
  cv <- covariance[[g]]
  if (is.null(cv)) return(plain_known_term(bar, g, mf))
  kf <- if (inherits(cv, "glmmgee_kfactor")) cv
  K <- if (is.null(kf)) check_covariance_arg(covariance[g], g, list("(Intercept)"))[[g]]
  fac <- mf[[g]]
  if (is.null(fac))
    stop(sprintf("the grouping factor '%s' must be a variable of 'data'", g), call. = FALSE)
  lev <- if (is.null(kf)) rownames(K) else rownames(kf$L)
  index <- match(as.character(fac), lev)
  if (anyNA(index)) {
    miss <- unique(as.character(fac)[is.na(index)])
    stop(sprintf("'covariance$%s': its row names do not match the levels of '%s' (%d level(s) missing, e.g. %s)",
                 g, g, length(miss), paste(miss[seq_len(min(3L, length(miss)))], collapse = ", ")),
         call. = FALSE)
  }
  list(g = g, bar = bar, K = K, kf = kf, levels = lev, index = index)
}

plain_known_term <- function(bar, g, mf) {
  fac <- if (is_interaction(bar[[3L]]) && all(all.vars(bar[[3L]]) %in% names(mf)))
    grouping_codes(bar[[3L]], mf)
  if (is.null(fac))
    fac <- tryCatch(reformulas::mkReTrms(frame_bars(list(bar), mf), mf,
                                         reorder.terms = FALSE)$flist[[1L]],
                    error = function(e) stop("random-effects term (1 | ", g, "): ",
                                             conditionMessage(e), call. = FALSE))
  lev <- levels(fac)
  check_group_levels(g, length(lev))
  K <- Matrix::sparseMatrix(i = seq_along(lev), j = seq_along(lev), x = 1, symmetric = TRUE,
                            dimnames = list(lev, lev))
  list(g = g, bar = bar, K = K, kf = NULL, levels = lev, index = as.integer(fac), plain = TRUE)
}

# A (dense or sparse) K equal to c I.
is_scaled_identity <- function(K) {
  # a nonzero in the first column settles it without the n^2 temporary of
  # abs(K) (a dense K may be most of the memory)
  nk <- nrow(K)
  if (nk > 1L && any(K[2:min(nk, 64L), 1L] != 0)) return(FALSE)
  dg <- as.numeric(Matrix::diag(K))
  off <- sum(abs(K)) - sum(abs(dg))
  off == 0 && max(dg) - min(dg) <= 1e-12 * max(abs(dg))
}

# The fitted object of both engines: the fields of a several-term fit
# (fit-sparse.R), built by the same constructor so that its methods
# (VarCorr, ranef, coef, predict, the interpretation layer) apply, plus
# REML and what assoc_scan() needs (the gaussian rotation or V; the
# Laplace engine's factor).
new_glmm_known <- function(fit, X, resp, offset, terms, mf, mt, call, formula, family, reml) {
  gauss <- family$family == "gaussian"
  p <- length(fit$beta)
  n <- length(resp$y)
  J <- length(terms)
  b <- if (is.list(fit$b)) fit$b else list(fit$b)
  kdiag <- if (is.list(fit$kdiag)) fit$kdiag else list(fit$kdiag)
  condvar <- if (is.list(fit$condvar)) fit$condvar else list(fit$condvar)
  s2g <- if (gauss) fit$s2g else fit$s^2
  gs <- vapply(terms, `[[`, "", "g")
  pnames <- c(names(fit$beta), paste0(gs, ".(Intercept)"), dispersion_tail(family, gauss))
  cov_theta <- fit$cov_theta
  dimnames(cov_theta) <- list(pnames, pnames)
  # The information inverted at the estimates is valid when it is complete
  # over the parameters off their boundaries (a variance at zero, the
  # residual's at zero), as the other routes mark theirs (invert_information()):
  # profile() took its absence for "no valid Hessian" though vcov() gives
  # standard errors, for every binomial and Poisson fit.
  bound <- c(rep(FALSE, p), rep_len(as.logical(fit$singular), J),
             if (gauss) isTRUE(fit$residual_zero))
  if (!anyNA(cov_theta[!bound, !bound])) attr(cov_theta, "ok") <- TRUE
  cn <- "(Intercept)"
  col0 <- 0L
  reterms <- vector("list", J)
  eta <- if (gauss) drop(X %*% fit$beta) + offset else fit$eta
  for (j in seq_len(J)) {
    tm <- terms[[j]]
    lev <- tm$levels
    nl <- length(lev)
    reterms[[j]] <- list(group = tm$g, group_expr = tm$bar[[3L]], lhs = tm$bar[[2L]], cnames = cn,
                         levels = lev, index = tm$index, columns = col0 + seq_len(nl),
                         par = j, known_cov = TRUE,
                         Lambda = matrix(fit$theta[[p + j]], 1, 1, dimnames = list(cn, cn)),
                         D = matrix(s2g[j], 1, 1, dimnames = list(cn, cn)),
                         b = matrix(b[[j]], nl, 1L, dimnames = list(lev, cn)),
                         kdiag = kdiag[[j]],
                         condvar = array(condvar[[j]], c(1L, 1L, nl),
                                         dimnames = list(cn, cn, lev)))
    if (gauss) eta <- eta + b[[j]][tm$index]
    col0 <- col0 + nl
  }
  sf <- list(beta = fit$beta, theta = stats::setNames(fit$theta, pnames), cov_theta = cov_theta,
             loglik = fit$loglik, sigma = if (gauss) sqrt(fit$s2e) else 1,
             dispersion = if (gauss) sqrt(fit$s2e), family_par = NULL,
             family = family, terms = reterms, modes = list(eta = eta),
             singular = any(fit$singular) || isTRUE(fit$residual_zero),
             gradient = fit$gradient, hessian = NULL,
             optinfo = fit$optinfo, engine = if (gauss) "known_gaussian" else "known_laplace")
  # Z's size: new_glmm_sparse() binds the known terms' indicators itself
  Z <- Matrix::sparseMatrix(i = integer(), j = integer(), dims = c(n, col0))
  obj <- new_glmm_sparse(sf, X = X, y = resp$y, weights = if (gauss) rep(1, n) else resp$weights,
                         offset = offset, re = list(Z = Z), mf = mf, mt = mt, call = call,
                         formula = formula)
  obj$REML <- reml
  if (gauss) {
    # logLik(REML = ) of the other kind than the fit's
    obj$loglik_ml <- fit$loglik_ml
    obj$loglik_reml <- fit$loglik_reml
    obj$lambda <- fit$lambda
    obj$rotation <- fit$rotation
    obj$known_v <- fit$known_v
  } else {
    # what assoc_scan() needs for the null model's working covariance
    obj$known_factor <- list(L = fit$L, index = terms[[1L]]$index, s = fit$s)
  }
  class(obj) <- c("glmmgee_glmm_known", class(obj))
  for (j in which(rep_len(fit$singular, J)))
    obj$optinfo$warnings <- c(obj$optinfo$warnings,
                              sprintf("singular fit: the variance of the known-covariance effect of '%s' is estimated at zero",
                                      gs[j]))
  if (isTRUE(fit$residual_zero))
    obj$optinfo$warnings <- c(obj$optinfo$warnings,
                              paste0("singular fit: the residual variance is estimated at zero ",
                                     "(the known-covariance effects explain all of the variance ",
                                     "left by the fixed effects)"))
  if (gauss) for (w in obj$optinfo$warnings) warning(w, call. = FALSE)
  obj
}

# print(), summary() and the summary's print() of a fit by a
# known-covariance engine (print.glmmgee_glmm() chooses them by $engine).
print_known <- function(x, digits) {
  gauss <- x$family$family == "gaussian"
  cat(sprintf("%s with a known covariance, fit by %s\n",
              if (gauss) "Linear mixed model"
              else sprintf("Generalized linear mixed model (%s, %s link)", x$family$family, x$family$link),
              x$optinfo$method))
  cat("Formula: ", paste(deparse(x$formula), collapse = " "), "\n", sep = "")
  cat(sprintf("%s: %s\n", if (x$REML) "REML log-likelihood" else "logLik",
              format(x$loglik, digits = digits + 3L)))
  cat("Random effects:\n")
  print(VarCorr(x), digits = digits, comp = "Std.Dev.")
  # the levels in the data, and K's own count where it covers more
  nk <- vapply(x$reterms, function(tm) length(tm$levels), 1L)
  cat(sprintf("Number of obs: %d, levels: %s\n", x$nobs,
              paste0(sprintf("%s %d", x$group_name, x$ngroups),
                     ifelse(nk > x$ngroups, sprintf(" (of %d in its covariance)", nk), ""),
                     collapse = ", ")))
  cat("Fixed effects:\n")
  print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
  print_notes(x$optinfo$warnings)
}

# `V`: a cluster-robust covariance of the fixed effects with its
# Satterthwaite df and label (fixef_vcov_choice()), or NULL.
summary_known <- function(object, V = NULL) {
  beta <- object$coefficients
  se <- sqrt(pmax(diag(V %||% object$vcov), 0))
  if (is.null(V)) {
    tab <- cbind(Estimate = beta, `Std. Error` = se, beta / se)
    colnames(tab)[3L] <- if (object$family$family == "gaussian") "t value" else "z value"
  } else {
    tab <- coef_t_table(beta, se, attr(V, "df"))
  }
  structure(list(fit = object, coefficients = tab, vcov_label = attr(V, "label")),
            class = "summary.glmmgee_glmm_known")
}

print_summary_known <- function(x, digits) {
  print(x$fit, digits = digits)
  cat("\nFixed effects with standard errors:\n")
  print(x$coefficients, digits = digits)
  if (!is.null(x$vcov_label)) cat("Standard errors: ", x$vcov_label, "\n", sep = "")
}

