# glmm(ranef_dist = "bridge" | "nonparametric"): the formula route to the
# non-normal random-intercept fitter (fit-ranef-dist.R).

#' Random-intercept distributions other than the normal
#'
#' `glmm(..., ranef_dist = "bridge")` and `glmm(..., ranef_dist =
#' "nonparametric")` fit a GLMM with one random intercept on one grouping
#' factor whose distribution is not normal.
#'
#' **Bridge** (Wang and Louis, 2003), binomial family with the logit link.
#' With a normal random intercept the population-averaged model of a
#' logistic GLMM is not logistic, so the conditional and marginal models
#' cannot both be logistic. With the bridge density
#' \deqn{f(b) = \frac{\sin(\phi\pi)}{2\pi\{\cosh(\phi b) + \cos(\phi\pi)\}},
#' \quad 0 < \phi < 1,}{f(b) = sin(phi pi) / (2 pi (cosh(phi b) + cos(phi pi))),}
#' they are: averaging \eqn{\mathrm{logit}^{-1}(\eta + b)} over \eqn{b} gives
#' \eqn{\mathrm{logit}^{-1}(\phi\eta)} exactly, so the marginal coefficients
#' are exactly \eqn{\phi\beta}. The variance of \eqn{b} is
#' \eqn{(\pi^2/3)(1/\phi^2 - 1)}. The fit reports \eqn{\phi} with its
#' standard error; [marginal_coefs()] returns \eqn{\phi\beta} with
#' delta-method standard errors over \eqn{(\beta, \phi)}, and
#' [odds_ratios()], [standardize()], [compare_views()] and [plot_views()]
#' use the same exact relation. For the **probit** link the normal random
#' intercept already has this property (the marginal coefficients are
#' exactly \eqn{\beta/\sqrt{1+\sigma^2}}), so no special distribution is
#' needed there.
#'
#' **Nonparametric** (Aitkin, 1999), binomial or poisson family: the random
#' intercept takes `k` values (mass points) with estimated probabilities,
#' by maximum likelihood over the mass points, their weights and the
#' fixed effects (the nonparametric maximum likelihood estimate of the
#' distribution when `k` is large enough; points that merge or lose their
#' weight signal that fewer suffice). The intercept reported is the mean of
#' the distribution and the mass points are centred on it. It checks the
#' normality assumption: its log-likelihood is compared with that of the
#' normal random intercept on the same data (printed; `$normal` keeps the
#' normal fit's log-likelihood and estimates), and the estimated mass points
#' are drawn by [plot_ranef_dist()]. With `k` mass points it has
#' \eqn{2k - 2} parameters beyond the fixed effects other than the
#' intercept, against one for the normal; compare by AIC rather than by a
#' likelihood-ratio test, whose reference distribution is not chi-squared
#' here.
#'
#' The nonparametric likelihood has many local maxima, in the fixed effects
#' as well as in the mass points (on `MASS::epil` with `k = 3`, two maxima
#' 0.03 apart in log-likelihood put the treatment effect at -0.15 and
#' -0.05). The search starts from ten grids of mass points around the
#' normal fit, then tries to leave the best maximum found: it fixes each
#' fixed effect in turn at 1.5 and 3 standard errors either side of its
#' estimate, maximizes over the rest and frees it again, and it moves each
#' mass point in turn to where Lindsay's (1983) directional derivative says
#' new mass would raise the likelihood most. A refit is kept only when it
#' raises the log-likelihood. No finite search proves a global maximum. A
#' check: a fit with one more mass point (`update(fit, ranef_dist =
#' list("nonparametric", k = k + 1))`) can only be higher at its maximum;
#' if it is lower, one of the two fits stopped at a local maximum.
#'
#' The integral over the random intercept is computed by an adaptive rule:
#' centred at each cluster's posterior mode and scaled by the curvature
#' there, with the substitution \eqn{b = m + s\sinh(t)} and the trapezoidal
#' rule in \eqn{t}, walked outwards until the terms are below
#' \eqn{e^{-40}} of the largest. The bridge density has exponential tails,
#' which a Gauss-Hermite rule integrates slowly; this rule is accurate to
#' about 1e-12 in the log-likelihood. The nonparametric likelihood is a
#' finite sum and needs no quadrature. The gradient is analytic (Fisher's
#' identity); standard errors come from the observed information, and
#' cluster-robust ones from `vcov(fit, type = "CR2")` (see [glmm-extractors]).
#'
#' @section Specifying the distribution:
#' `ranef_dist` is `"normal"` (the default), `"bridge"`,
#' `"nonparametric"` (five mass points) or a list such as
#' `list("nonparametric", k = 3)`.
#' @references
#' Aitkin, M. (1999). A general maximum likelihood analysis of variance
#' components in generalized linear models. *Biometrics* 55, 117-128.
#'
#' Lindsay, B. G. (1983). The geometry of mixture likelihoods: a general
#' theory. *The Annals of Statistics* 11, 86-94.
#'
#' Wang, Z. and Louis, T. A. (2003). Matching conditional and marginal
#' shapes in binary random intercept models using a bridge distribution
#' function. *Biometrika* 90, 765-775.
#' @seealso [glmm()], [marginal_coefs()], [plot_ranef_dist()], the vignette
#'   `vignette("ranef-distribution", package = "glmmgee")`.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   br <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'              family = binomial, ranef_dist = "bridge")
#'   br
#'   marginal_coefs(br)       # exactly phi times the conditional coefficients
#'   AIC(br, glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial))
#'   data(epil, package = "MASS")
#'   np <- glmm(y ~ trt + lbase + (1 | subject), data = epil,
#'              family = poisson, ranef_dist = list("nonparametric", k = 3))
#'   np                       # mass points, and the normal fit's logLik
#' }
#' @name ranef-distributions
NULL

# ranef_dist as given to glmm(): "normal" or a list(type, k). Only the
# nonparametric distribution takes a setting, `k`; any other name (a typo
# such as K, or k for the bridge) is an error, not ignored.
check_ranef_dist <- function(x) {
  types <- c("normal", "bridge", "nonparametric")
  k <- 5L
  settings <- character()
  if (is.list(x)) {
    settings <- names(x)[-1L] %||% rep("", length(x) - 1L)
    if (!is.null(x$k)) k <- x$k
    x <- x[[1L]]
  }
  if (!is.character(x) || length(x) != 1L || is.na(x) || !(x %in% types))
    stop(sprintf("'ranef_dist' must be one of %s, or a list such as list(\"nonparametric\", k = 3)",
                 paste0("\"", types, "\"", collapse = ", ")), call. = FALSE)
  known <- if (x == "nonparametric") "k" else character()
  bad <- settings[!settings %in% known | duplicated(settings)]
  if (length(bad))
    stop(sprintf("'ranef_dist': %s %s for ranef_dist = \"%s\"; %s",
                 paste0("'", ifelse(nzchar(bad), bad, "(unnamed)"), "'", collapse = ", "),
                 if (length(bad) > 1L) "are not settings" else "is not a setting", x,
                 if (x == "nonparametric") "its one setting is the number of mass points 'k'"
                 else "it takes none"), call. = FALSE)
  if (!is.numeric(k) || length(k) != 1L || is.na(k) || k < 2 || k != round(k) || k > 20)
    stop("'ranef_dist': the number of mass points 'k' must be a whole number from 2 to 20",
         call. = FALSE)
  list(type = x, k = as.integer(k))
}

# The ranef_dist route of glmm_one_factor(): the normal fit (its start and
# comparison), then the fit with the random-intercept distribution `rd`.
glmm_ranef_dist <- function(rd, X, resp, offset, re, family, control, mf, mt, mc, formula) {
  if (!identical(re$cnames, "(Intercept)"))
    stop(sprintf("ranef_dist = \"%s\" needs a random intercept only, e.g. (1 | g); this model has random terms %s",
                 rd$type, paste(re$cnames, collapse = ", ")), call. = FALSE)
  normal <- suppressWarnings(glmm_fit(X, resp$y, re$Z, re$group, family, weights = resp$weights,
                                      offset = offset, control = control))
  cl <- cluster_index(re$group, "group")
  fit <- glmm_dist_fit(X, resp$y, cl, family, resp$weights, offset, rd$type, rd$k, control, normal)
  new_dist_glmm(fit, normal, X = X, Z = re$Z, y = resp$y, weights = resp$weights, offset = offset,
                re = re, mf = mf, mt = mt, call = mc, formula = formula, cl = cl, family = family)
}

# The fitted object: a glmmgee_glmm laid out as new_glmm() makes it (so the
# shared methods read it), with the random-intercept distribution in
# `$ranef_dist`, the normal fit's summary in `$normal`, and theta laid out
# as the distribution needs: (beta, phi) for the bridge, (beta, mass
# points, alpha) for the nonparametric fit.
new_dist_glmm <- function(fit, normal, X, Z, y, weights, offset, re, mf, mt, call, formula,
                          cl, family) {
  s <- fit$summ
  M <- length(cl$levels)
  centre <- if (fit$prior$type == "nonparametric") fit$beta[["(Intercept)"]] else 0
  mode_var <- if (fit$prior$type == "bridge") s$scale^2 else s$var
  core <- list(beta = fit$beta, Lambda = matrix(1), theta = fit$theta,
               cov_theta = fit$cov_theta, sigma = 1, family_par = NULL,
               loglik = fit$loglik, group = cl, family = family, cov_blocks = 1L,
               pattern = list(row = 1L, col = 1L), nAGQ = NA_integer_,
               singular = any(fit$on_boundary), gradient = fit$gradient,
               hessian = fit$hessian,
               modes = list(mode = matrix(s$mode - centre), mode_var = matrix(mode_var),
                            post_mean = matrix(s$mean - centre), post_var = matrix(s$var),
                            loglik = s$cluster_loglik),
               engine = "agq_ranef_dist",
               optinfo = new_optinfo(optimizer = "nlminb", method = fit$prior$type,
                              iterations = fit$opt$iterations,
                              evaluations = fit$opt$evaluations[["function"]],
                              convergence = fit$opt$convergence, message = fit$opt$message,
                              max_grad = if (length(fit$gradient)) max(abs(fit$gradient)),
                              hessian_cond = attr(fit$cov_theta, "cond"), warnings = fit$warn))
  obj <- new_glmm(core, X = X, Z = Z, y = y, weights = weights, offset = offset, re = re,
                  mf = mf, mt = mt, call = call, formula = formula)
  obj$D <- matrix(fit$prior$variance, 1, 1, dimnames = list("(Intercept)", "(Intercept)"))
  obj$Lambda <- sqrt(obj$D)
  obj$df <- fit$df
  obj$ranef_dist <- c(fit$prior, list(p = ncol(X), intercept = match("(Intercept)", colnames(X))))
  obj$normal <- list(loglik = normal$loglik, df = length(normal$theta), beta = normal$beta,
                     sd = normal$Lambda[1L, 1L], nAGQ = normal$nAGQ)
  if (fit$prior$type == "nonparametric") obj$ranef_dist$posterior <- s$post
  class(obj) <- c("glmmgee_glmm_dist", class(obj))
  obj
}
