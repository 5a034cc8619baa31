# Population-averaged coefficients implied by a GLMM.

#' Marginal (population-averaged) coefficients implied by a GLMM
#'
#' The coefficients of a GLMM are conditional: they describe a given
#' cluster. `marginal_coefs()` gives the population-averaged coefficients
#' that the same fitted model implies, as in Hedeker et al. (2018): each
#' observation's mean is integrated over the random-effect distribution,
#' \eqn{\bar\mu_{ij} = E_b\{h(x_{ij}'\beta + z_{ij}'b)\}}, and the marginal
#' coefficients are the least-squares fit of
#' \eqn{g(\bar\mu_{ij}) - \mathrm{offset}_{ij}} on the fixed-effects model
#' matrix. The integral is exact up to about 1e-14: \eqn{z'b} is normal with
#' variance \eqn{z'Dz}, so it is one-dimensional whatever the number of
#' random effects, and it is computed by the trapezoidal rule on a fine grid
#' (no Monte Carlo, unlike `GLMMadaptive::marginal_coefs()`, whose results
#' therefore agree with these only up to its simulation error, about 1e-3).
#'
#' With several random-effect terms (nested, crossed, known covariance)
#' the same holds with \eqn{z'Dz} summed over the terms, the terms'
#' effects being independent; a known covariance \eqn{\sigma^2 K}
#' contributes \eqn{\sigma^2 K_{ll}} for an observation of level \eqn{l}.
#'
#' For a probit random-intercept model the result is exactly
#' \eqn{\beta / \sqrt{1 + \sigma^2}}; for the identity link it is
#' \eqn{\beta}; for the log link with a random intercept only the
#' intercept changes (by \eqn{\sigma^2/2}).
#'
#' @section Standard errors:
#' By the delta method over all parameters of the fit: the fixed effects and
#' the covariance parameters of the random effects (the entries of the
#' Cholesky factor \eqn{\Lambda}), using the inverse observed information
#' `vcov(fit, full = TRUE)` and the exact Jacobian of the marginal
#' coefficients. Parameters on the boundary (a variance estimated at zero)
#' are treated as known.
#'
#' @param fit A fit from [glmm()].
#' @param std_errors Compute standard errors (delta method)?
#' @param workers For a fit from [glmm_shards()]: a cluster whose workers
#'   read the shard files, used when the fit's own cluster has been stopped
#'   (by default the fit's). The marginal means and their Jacobian are
#'   computed on the workers, which return small R factors only.
#' @param vcov The covariance of the parameters the delta method uses:
#'   `"model"` (the default, the inverse observed information) or a
#'   cluster-robust type `"CR0"`, `"CR1"`, `"CR2"` or `"CR3"` (see
#'   [vcov()][glmm-extractors]). With a robust type, `confint()`,
#'   `as.data.frame()` and [odds_ratios()] of the result use t quantiles with
#'   Satterthwaite degrees of freedom (element `df`).
#' @param cluster With a robust `vcov`: the clusters, as in
#'   [vcov()][glmm-extractors] (by default the grouping factor that nests
#'   all random-effect terms).
#' @param x,object A `glmmgee_marginal_coefs` object.
#' @param level Confidence level of the Wald intervals.
#' @param parm Coefficients (names or indices) for `confint()`.
#' @param digits Number of significant digits to print.
#' @param row.names,optional Ignored (for compatibility with
#'   [as.data.frame()]).
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return An object of class `glmmgee_marginal_coefs`: a list with
#'   `coefficients` (marginal), `vcov`, `df` (NULL, or with a robust `vcov`
#'   the degrees of freedom), `conditional` (the GLMM's fixed
#'   effects), `conditional_vcov`, `family` and `se_method`, with methods
#'   `print`, `coef`, `vcov`, `confint` and `as.data.frame` (one row per
#'   term: conditional and marginal estimates, marginal standard error and
#'   Wald limits, and their ratio). [odds_ratios()] and [rate_ratios()]
#'   accept it, giving population-averaged ratios.
#' @references Hedeker, D., du Toit, S. H. C., Demirtas, H. and Gibbons,
#'   R. D. (2018). A note on marginalization of regression parameters from
#'   mixed models of binary outcomes. *Biometrics* 74, 354-361.
#' @seealso [compare_views()] for the GLMM and GEE estimates side by side;
#'   [standardize()] for marginal means and contrasts of one variable.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   mc <- marginal_coefs(fit)
#'   mc                      # marginal estimates are smaller in absolute value
#'   odds_ratios(mc)         # population-averaged odds ratios
#' }
#' @export
marginal_coefs <- function(fit, std_errors = TRUE, workers = NULL, vcov = NULL,
                           cluster = NULL) {
  if (!is.logical(std_errors) || length(std_errors) != 1L || is.na(std_errors))
    stop("'std_errors' must be TRUE or FALSE", call. = FALSE)
  if (!std_errors && !is.null(vcov) && !identical(vcov, "model"))
    stop("marginal_coefs(): 'vcov' chooses the covariance of the standard errors; ",
         "it needs std_errors = TRUE", call. = FALSE)
  if (inherits(fit, "glmmgee_glmm_sharded")) {
    fit <- sharded_use_workers(fit, workers, "marginal_coefs")
    robust <- parameter_vcov_choice(fit, vcov, cluster, "marginal_coefs()")
    return(marginal_coefs_sharded(fit, std_errors, workers, match.call(), robust))
  }
  require_capability(fit, "marginal", "marginal_coefs()")
  robust <- parameter_vcov_choice(fit, vcov, cluster, "marginal_coefs()")
  re <- re_structure(fit, "marginal_coefs")
  fam <- fit$family
  X <- fit$X
  r <- glmm_means(re, fam, fit$theta, X, re$Z, fit$offset, "marginal",
                  jacobian = std_errors, star = if (is.null(robust)) cov_star_of(fit))
  mu <- r$mean
  # The log link's marginal means exp(eta + s^2 / 2) can exceed 1 (the
  # normal random effect puts mass where exp(eta + b) > 1); the marginal
  # coefficients are then finite but describe means that are not
  # probabilities: said, not refused.
  if (is_binomial_log(fam)) {
    warn_binlog_over(fam, mu, rownames(X) %||% as.character(seq_along(mu)),
                     "marginal means of the fitted rows (integrated over the random effects)")
    if (any(mu <= 0))
      stop("marginal means of 0: the marginal coefficients are infinite", call. = FALSE)
  } else if (fam$family == "binomial" && any(mu <= 0 | mu >= 1))
    stop("marginal means of 0 or 1: the marginal coefficients are infinite", call. = FALSE)
  qx <- qr(X)
  gamma <- qr.coef(qx, fam$linkfun(mu) - fit$offset)
  names(gamma) <- names(fit$coefficients)
  V <- df <- NULL
  if (std_errors) {
    par <- robust %||% fit_parameters(fit)
    Jg <- same_basis(qr.coef(qx, r$jacobian / fam$mu.eta(fam$linkfun(mu))), r$jacobian)
    V <- delta_cov(Jg, par$vcov, par$star)
    dimnames(V) <- list(names(gamma), names(gamma))
    if (!is.null(robust)) df <- stats::setNames(robust$df(Jg), names(gamma))
  }
  structure(list(coefficients = gamma, vcov = V, df = df, conditional = fit$coefficients,
                 conditional_vcov = fit$vcov, family = fam,
                 se_method = if (std_errors) paste0(
                   "delta method over all parameters (fixed effects and variance components)",
                   if (!is.null(robust))
                     paste0(" with the ", satterthwaite_label(robust$label, "intervals"))),
                 ranef_dist = re$dist$type, call = match.call()),
            class = "glmmgee_marginal_coefs")
}

#' @rdname marginal_coefs
#' @export
coef.glmmgee_marginal_coefs <- function(object, ...) {
  check_dots(..., .method = "coef.glmmgee_marginal_coefs", .allow = "complete")
  object$coefficients
}

#' @rdname marginal_coefs
#' @export
vcov.glmmgee_marginal_coefs <- function(object, ...) {
  check_dots(..., .method = "vcov.glmmgee_marginal_coefs", .allow = "complete")
  if (is.null(object$vcov))
    stop("computed with std_errors = FALSE: no covariance", call. = FALSE)
  object$vcov
}

#' @rdname marginal_coefs
#' @export
confint.glmmgee_marginal_coefs <- function(object, parm, level = 0.95, ...) {
  check_dots(..., .method = "confint.glmmgee_marginal_coefs")
  wald_confint(coef(object), function() stats::vcov(object), parm, level, object$df)
}

#' @rdname marginal_coefs
#' @export
as.data.frame.glmmgee_marginal_coefs <- function(x, row.names = NULL, optional = FALSE,
                                                 level = 0.95, ...) {
  check_level(level)
  g <- x$coefficients
  se <- if (is.null(x$vcov)) rep(NA_real_, length(g)) else sqrt(diag(x$vcov))
  z <- wald_quantile(1 - (1 - level) / 2, x$df)
  data.frame(term = names(g), conditional = unname(x$conditional),
             marginal = unname(g), std.error = unname(se),
             conf.low = unname(g - z * se), conf.high = unname(g + z * se),
             ratio = unname(g / x$conditional), stringsAsFactors = FALSE)
}

#' @rdname marginal_coefs
#' @export
print.glmmgee_marginal_coefs <- function(x, digits = max(3L, getOption("digits") - 3L),
                                         ...) {
  check_dots(..., .method = "print.glmmgee_marginal_coefs", .allow = print_dots)
  cat(sprintf("Marginal (population-averaged) coefficients implied by a GLMM, %s(%s)\n",
              x$family$family, x$family$link))
  cat(switch(x$ranef_dist %||% "normal",
             bridge = "Bridge random intercept: the marginal model is logistic, coefficients exactly phi * conditional.\n",
             nonparametric = "Means summed over the mass points of the random intercept (exact).\n",
             "Means integrated over the random effects (trapezoidal rule, exact to ~1e-14).\n"))
  d <- as.data.frame(x)
  rownames(d) <- d$term
  d$term <- NULL
  names(d) <- c("Conditional", "Marginal", "Std. Error", "2.5 %", "97.5 %",
                "Marg./Cond.")
  print(format(d, digits = digits), quote = FALSE)
  if (!is.null(x$se_method)) cat(sprintf("Standard errors: %s.\n", x$se_method))
  invisible(x)
}
