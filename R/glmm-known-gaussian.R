# glmm() for a gaussian model whose random-effect terms are all
# known-covariance random intercepts: the formula front end of the spectral
# rotation engine for one term (fit-known-gaussian.R), of the sparse
# Cholesky route for several sparse K (fit-known-gaussian-multi-sparse.R),
# of the dense Cholesky route for several others
# (fit-known-gaussian-multi.R), and the print method that states ML or
# REML.

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
  gs <- vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
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

glmm_known_gaussian <- function(formula, mf, family, control, covariance, REML, mc, fenv) {
  terms <- lapply(find_bars(formula), known_term, covariance = covariance, mf = mf)
  d <- design_and_response(formula, mf, fenv, family)
  X <- d$X
  resp <- d$resp
  if (any(resp$weights != 1))
    stop("'weights' are not available for a gaussian model with a known covariance", call. = FALSE)
  n <- length(resp$y)
  for (tm in terms)
    if (is.null(tm$kf) && max(tabulate(tm$index, length(tm$levels))) <= 1L && is_scaled_identity(tm$K))
      stop(sprintf(paste0("grouping factor '%s' has as many levels as observations (%d) and its ",
                          "known covariance is a multiple of the identity: its random effect is not identifiable ",
                          "(it is confounded with the residual of the gaussian family); remove the term"),
                   tm$g, n), call. = FALSE)
  y <- resp$y - d$offset
  # On a centred and scaled X where the user's loses digits, as the other
  # linear mixed model routes (lmm_design_transform()): the profiles form
  # X'V^-1X as X'X less its rotated part, and with x * 1e-6 - 5 the slope
  # came out 4% off and the log-likelihood 0.6 below the optimum, silently.
  tx <- lmm_design_transform(X)
  fit <- if (length(terms) == 1L) {
    tm <- terms[[1L]]
    known_gaussian_fit(tx$M, y, tm$index, tm$K, tm$kf, tm$g, REML)
  } else {
    known_gaussian_multi_fit(tx$M, y, terms, REML)
  }
  fit <- known_gaussian_standard_x(fit, tx, REML)
  new_glmm_known(fit, X, resp$y, d$offset, terms, mf, d$mt, mc, formula, family, REML)
}

# A known-covariance fit on X* = X T^-1 back to the user's X: beta = T^-1
# beta*, its covariance T^-1 V* T^-T, the REML log-likelihood less
# log|det T| (as lmm_standard_x()), and the rotated design kept for
# assoc_scan() as U'X = (U'X*) T, which the scan combines with the user's X.
known_gaussian_standard_x <- function(fit, tx, reml) {
  if (isTRUE(tx$identity)) return(fit)
  p <- ncol(tx$T)
  Ti <- backsolve(tx$T, diag(1, p))
  fit$beta[] <- drop(Ti %*% fit$beta)
  # beta's covariance on X* and the map, for the delta methods of derived
  # quantities (delta_cov(); new_glmm_known() keeps them).
  fit$vcov_star <- list(T = Ti, V = fit$vcov)
  V <- Ti %*% fit$vcov %*% t(Ti)
  fit$vcov[] <- (V + t(V)) / 2
  if (reml) fit$loglik <- fit$loglik - sum(log(abs(diag(tx$T))))
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

# One term (1 | g) with its covariance: K (checked) or its factor, the
# levels (rows of K) and each observation's level. A term without a
# covariance is a plain random intercept: K is the sparse identity over the
# levels of g as the sparse engine forms them (grouping_codes(), or
# mkReTrms() for expressions that are not variables of the frame), marked
# `plain`.
known_term <- function(bar, covariance, mf) {
  g <- paste(deparse(bar[[3L]]), collapse = "")
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

# The fitted object: the fields of a several-term fit (fit-sparse.R), built
# by the same constructor so that its methods (VarCorr, ranef, coef,
# predict, the interpretation layer) apply, plus REML and the variance
# ratio.
new_glmm_known <- function(fit, X, y, offset, terms, mf, mt, call, formula, family, reml) {
  p <- length(fit$beta)
  n <- length(y)
  J <- length(terms)
  b <- if (is.list(fit$b)) fit$b else list(fit$b)
  kdiag <- if (is.list(fit$kdiag)) fit$kdiag else list(fit$kdiag)
  sdg <- sqrt(fit$s2g)
  gs <- vapply(terms, `[[`, "", "g")
  pnames <- c(names(fit$beta), paste0(gs, ".(Intercept)"),
              sprintf("log(%s)", dispersion_name(family)))
  theta <- stats::setNames(c(fit$beta, sdg, 0.5 * log(fit$s2e)), pnames)
  cov_theta <- matrix(0, p + J + 1L, p + J + 1L, dimnames = list(pnames, pnames))
  cov_theta[seq_len(p), seq_len(p)] <- fit$vcov
  cov_theta[p + seq_len(J + 1L), p + seq_len(J + 1L)] <- fit$cov_var
  # The standardized covariance (delta-method.R) over beta and the variance
  # parameters with a covariance (the two blocks are independent).
  vs <- fit$vcov_star
  free <- p + which(!is.na(diag(as.matrix(fit$cov_var))))
  if (!is.null(vs) && !anyNA(vs$V) && !anyNA(cov_theta[free, free])) {
    Tf <- diag(1, p + length(free))
    Tf[seq_len(p), seq_len(p)] <- vs$T
    Vf <- unname(cov_theta[c(seq_len(p), free), c(seq_len(p), free), drop = FALSE])
    Vf[seq_len(p), seq_len(p)] <- vs$V
    attr(cov_theta, "star") <- list(T = Tf, V = Vf, index = c(seq_len(p), free), P = p + J + 1L)
  }
  # A complete covariance (the information inverted at the estimates) is
  # valid, as the other routes mark theirs: profile() took its absence for
  # "no valid Hessian" though vcov() gives standard errors.
  if (!anyNA(cov_theta)) attr(cov_theta, "ok") <- TRUE
  cn <- "(Intercept)"
  col0 <- 0L
  reterms <- vector("list", J)
  Zs <- vector("list", J)
  eta <- drop(X %*% fit$beta) + offset
  for (j in seq_len(J)) {
    tm <- terms[[j]]
    lev <- tm$levels
    nl <- length(lev)
    reterms[[j]] <- list(group = tm$g, group_expr = tm$bar[[3L]], lhs = tm$bar[[2L]], cnames = cn,
                         levels = lev, index = tm$index, columns = col0 + seq_len(nl),
                         par = j, known_cov = TRUE,
                         Lambda = matrix(sdg[j], 1, 1, dimnames = list(cn, cn)),
                         D = matrix(fit$s2g[j], 1, 1, dimnames = list(cn, cn)),
                         b = matrix(b[[j]], nl, 1L, dimnames = list(lev, cn)),
                         kdiag = kdiag[[j]],
                         condvar = array(NA_real_, c(1L, 1L, nl), dimnames = list(cn, cn, lev)))
    Zs[[j]] <- Matrix::sparseMatrix(i = seq_len(n), j = tm$index, x = 1, dims = c(n, nl))
    eta <- eta + b[[j]][tm$index]
    col0 <- col0 + nl
  }
  sf <- list(beta = fit$beta, theta = theta, cov_theta = cov_theta, loglik = fit$loglik,
             sigma = sqrt(fit$s2e), dispersion = sqrt(fit$s2e), family_par = NULL,
             family = family, terms = reterms, modes = list(eta = eta),
             singular = any(fit$singular) || isTRUE(fit$residual_zero),
             gradient = NULL, hessian = NULL,
             optinfo = fit$optinfo, engine = "known_gaussian")
  Z <- methods::as(do.call(cbind, Zs), "generalMatrix")
  obj <- new_glmm_sparse(sf, X = X, y = y, weights = rep(1, n), offset = offset,
                         re = list(Z = Z), mf = mf, mt = mt, call = call, formula = formula)
  obj$REML <- reml
  obj$lambda <- fit$lambda
  obj$rotation <- fit$rotation
  obj$known_v <- fit$known_v
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
  for (w in obj$optinfo$warnings) warning(w, call. = FALSE)
  obj
}

#' @export
print.glmmgee_glmm_known <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_glmm_known", .allow = print_dots)
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
  cat(sprintf("Number of obs: %d, levels: %s\n", x$nobs,
              paste(sprintf("%s %d", x$group_name, x$ngroups), collapse = ", ")))
  cat("Fixed effects:\n")
  print.default(format(x$coefficients, digits = digits), print.gap = 2L, quote = FALSE)
  print_notes(x$optinfo$warnings)
  invisible(x)
}

#' @export
summary.glmmgee_glmm_known <- function(object, ...) {
  check_dots(..., .method = "summary.glmmgee_glmm_known")
  se <- sqrt(diag(object$vcov))
  tab <- cbind(Estimate = object$coefficients, `Std. Error` = se, object$coefficients / se)
  colnames(tab)[3L] <- if (object$family$family == "gaussian") "t value" else "z value"
  structure(list(fit = object, coefficients = tab), class = "summary.glmmgee_glmm_known")
}

#' @export
print.summary.glmmgee_glmm_known <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.summary.glmmgee_glmm_known", .allow = print_dots)
  print(x$fit, digits = digits)
  cat("\nFixed effects with standard errors:\n")
  print(x$coefficients, digits = digits)
  invisible(x)
}

