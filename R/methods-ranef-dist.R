# Methods for fits with a bridge or nonparametric random intercept
# (class glmmgee_glmm_dist): what differs from the normal random intercept.
# Everything else (fixef, vcov, logLik, fitted, residuals, predict,
# marginal_coefs, standardize) is the glmmgee_glmm method reading the same
# layout; the marginal means go through dist_means() below.

is_dist_fit <- function(fit) inherits(fit, "glmmgee_glmm_dist")

dist_label <- function(object) {
  rd <- object$ranef_dist
  if (rd$type == "bridge")
    "bridge random intercept (Wang-Louis); adaptive sinh-trapezoidal quadrature"
  else sprintf("nonparametric random intercept, %d mass points (exact sum)", rd$k)
}

# Means over the random-intercept distribution and their Jacobian in theta
# (laid out as the fit's theta). Bridge: E[expit(eta + b)] = expit(phi eta)
# exactly. Discrete: sum_k pi_k h(eta - intercept + a_k).
dist_means <- function(dist, family, theta, X, offset, jacobian) {
  p <- dist$p
  eta <- drop(X %*% theta[seq_len(p)]) + offset
  if (dist$type == "bridge") {
    phi <- theta[[p + 1L]]
    mu <- stats::plogis(phi * eta)
    if (!jacobian) return(list(mean = mu))
    d <- stats::dlogis(phi * eta)
    J <- cbind(X * (phi * d), eta * d)
    return(list(mean = mu, jacobian = J))
  }
  k <- dist$k
  int <- dist$intercept
  a <- theta[p + seq_len(k)]
  alpha <- theta[p + k + seq_len(k)]
  w <- exp(alpha - max(alpha)); w <- w / sum(w)
  base <- eta - theta[[int]]
  E <- outer(base, a, `+`)
  H <- matrix(family$linkinv(E), nrow(E))
  mu <- drop(H %*% w)
  if (!jacobian) return(list(mean = mu))
  D <- matrix(family$mu.eta(E), nrow(E))
  J <- matrix(0, length(eta), length(theta))
  J[, seq_len(p)] <- X * drop(D %*% w)
  J[, int] <- 0
  J[, p + seq_len(k)] <- sweep(D, 2L, w, `*`)
  J[, p + k + seq_len(k)] <- sweep(H - mu, 2L, w, `*`)
  list(mean = mu, jacobian = J)
}

# The block print() and summary() of such a fit add (glmm_blocks()).
print_ranef_dist <- function(x, digits) {
  rd <- x$ranef_dist
  cat("\nRandom-intercept distribution:", rd$type, "\n")
  if (rd$type == "bridge") {
    se <- sqrt(x$cov_theta["phi", "phi"])
    cat(sprintf(" phi = %s (SE %s); variance (pi^2/3)(1/phi^2 - 1) = %s\n",
                format(rd$phi, digits = digits), format(se, digits = digits),
                format(rd$variance, digits = digits)))
    mc <- marginal_coefs(x, std_errors = !is.na(se))
    cat(" Marginal (population-averaged) coefficients, exactly phi * conditional:\n")
    print.default(format(coef(mc), digits = digits), print.gap = 2L, quote = FALSE)
  } else {
    tab <- rbind(`mass point` = rd$mass, probability = rd$weights)
    colnames(tab) <- seq_len(rd$k)
    print(signif(tab, digits))
    cat(sprintf(" Variance of the distribution: %s\n", format(rd$variance, digits = digits)))
  }
  nl <- x$normal
  cat(sprintf(" Normal random intercept on the same data: logLik %s (df %d), AIC %s; this fit: logLik %s (df %d), AIC %s\n",
              format(nl$loglik, digits = digits + 3L), nl$df,
              format(-2 * nl$loglik + 2 * nl$df, digits = digits + 3L),
              format(x$loglik, digits = digits + 3L), x$df,
              format(-2 * x$loglik + 2 * x$df, digits = digits + 3L)))
  invisible()
}

#' @export
ranef.glmmgee_glmm_dist <- function(object, type = c("mode", "mean"), condVar = TRUE, ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_dist", .allow = "newdata")
  if (!is.null(list(...)$newdata)) return(ranef_new(object, list(...)$newdata))
  type <- match.arg(type)
  B <- if (type == "mode") object$ranef$mode else object$ranef$mean
  V <- if (type == "mode") object$ranef$mode_var else object$ranef$var
  df <- as.data.frame(B, check.names = FALSE)
  rownames(df) <- object$group_levels
  if (isTRUE(condVar)) attr(df, "postVar") <- V
  structure(stats::setNames(list(df), object$group_name), type = type,
            class = "ranef.glmmgee_glmm")
}

#' @export
simulate.glmmgee_glmm_dist <- function(object, nsim = 1, seed = NULL, ...) {
  check_dots(..., .method = "simulate.glmmgee_glmm_dist", .allow = c("newdata", "use.u", "na.action"))
  if (isTRUE(list(...)$use.u))
    stop("simulate(use.u = TRUE) is not available for non-normal random effects: it draws new ones", call. = FALSE)
  simulate_refuse_newdata(object, list(...))
  if (!is.null(seed)) set.seed(seed)
  rd <- object$ranef_dist
  fam <- object$family
  eta <- object$eta_fixed
  M <- object$ngroups
  # in the form the response was given, as the normal fits' simulations
  # (a cbind() response came back as proportions without its trials)
  resp <- response_form(object)
  out <- lapply(seq_len(nsim), function(i) {
    b <- if (rd$type == "bridge") rbridge(M, rd$phi)
         else sample(rd$mass, M, replace = TRUE, prob = rd$weights)
    draw_response(object, fam$linkinv(eta + b[object$group]), resp)
  })
  names(out) <- paste0("sim_", seq_len(nsim))
  structure(out, class = "data.frame",
            row.names = rownames(object$model) %||% as.character(seq_along(object$y)))
}

#' Plot the estimated random-intercept distribution
#'
#' For a nonparametric fit ([ranef-distributions]) the mass points as
#' spikes of height equal to their probabilities, with the normal density
#' of the normal random-intercept fit on the same data (scaled to the
#' plot) for comparison; for a bridge fit its density beside that normal
#' density. Points mark the clusters' posterior means on the axis.
#'
#' @param fit A fit from `glmm(..., ranef_dist = "nonparametric")` or
#'   `"bridge"`.
#' @param ... Passed to [plot()].
#' @return `fit`, invisibly.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   np <- glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
#'              ranef_dist = list("nonparametric", k = 3))
#'   plot_ranef_dist(np)
#' }
#' @export
plot_ranef_dist <- function(fit, ...) {
  if (!is_dist_fit(fit))
    stop("'fit' must come from glmm(..., ranef_dist = \"bridge\" or \"nonparametric\")",
         call. = FALSE)
  rd <- fit$ranef_dist
  sdn <- fit$normal$sd
  pm <- fit$ranef$mean[, 1L]
  if (rd$type == "nonparametric") {
    lim <- range(c(rd$mass, pm, -3 * sdn, 3 * sdn))
    grid <- seq(lim[1L], lim[2L], length.out = 301L)
    dn <- stats::dnorm(grid, 0, max(sdn, 1e-8))
    top <- max(rd$weights)
    graphics::plot(rd$mass, rd$weights, type = "h", lwd = 3, xlim = lim, ylim = c(0, 1.05 * top),
                   xlab = "random intercept (centred)", ylab = "probability",
                   main = "Mass points and the normal fit", ...)
    graphics::lines(grid, dn / max(dn) * top, lty = 2)
    graphics::legend("topright", c("mass points", "normal fit (scaled)"),
                     lty = c(1, 2), lwd = c(3, 1), bty = "n")
  } else {
    lim <- range(c(pm, -4 * sqrt(rd$variance), 4 * sqrt(rd$variance)))
    grid <- seq(lim[1L], lim[2L], length.out = 301L)
    db <- dbridge(grid, rd$phi)
    dn <- stats::dnorm(grid, 0, max(sdn, 1e-8))
    graphics::plot(grid, db, type = "l", ylim = c(0, max(db, dn) * 1.05),
                   xlab = "random intercept", ylab = "density",
                   main = sprintf("Bridge density, phi = %.3g", rd$phi), ...)
    graphics::lines(grid, dn, lty = 2)
    graphics::legend("topright", c("bridge fit", "normal fit"), lty = c(1, 2), bty = "n")
  }
  graphics::rug(pm)
  invisible(fit)
}

# A cluster-bootstrap refit (standardize(se = "bootstrap")): the same
# distribution on the resampled rows.
refit_dist <- function(fit, rows, id) {
  cl <- cluster_index(id, "group")
  X <- fit$X[rows, , drop = FALSE]
  normal <- suppressWarnings(glmm_fit(X, fit$y[rows], matrix(1, length(rows), 1L), id,
                                      fit$family, weights = fit$prior.weights[rows],
                                      offset = fit$offset[rows]))
  f <- glmm_dist_fit(X, fit$y[rows], cl, fit$family, fit$prior.weights[rows],
                     fit$offset[rows], fit$ranef_dist$type, fit$ranef_dist$k,
                     glmm_control(hessian = FALSE), normal)
  if (f$opt$convergence != 0L) return(NULL)
  unname(f$theta)
}

# plot_views() for a bridge or nonparametric intercept: conditional curves
# at quantiles of the bridge distribution (its inverse distribution
# function) or at the mass points, and the exact marginal curve.
dist_view_curves <- function(dist, family, theta, X, offset, n_curves) {
  p <- dist$p
  eta <- drop(X %*% theta[seq_len(p)]) + offset
  b <- if (dist$type == "bridge") {
    phi <- theta[[p + 1L]]
    u <- (seq_len(n_curves) - 0.5) / n_curves
    2 / phi * atanh(tan(phi * pi * (u - 0.5)) / tan(phi * pi / 2))
  } else {
    theta[p + seq_len(dist$k)] - theta[[dist$intercept]]
  }
  list(cond = family$linkinv(outer(eta, b, `+`)),
       marg = dist_means(dist, family, theta, X, offset, FALSE)$mean)
}
