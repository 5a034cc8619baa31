# The negative binomial family (NB2) with its dispersion theta estimated,
# and the helpers for the families whose dispersion the engines estimate
# (nbinom2, Gamma): starting values, moment estimators, reporting.

#' Negative binomial family (NB2) with the dispersion estimated
#'
#' A family object for counts whose variance grows faster than their mean:
#' \eqn{E y = \mu}, \eqn{Var\, y = \mu + \mu^2/\theta}{Var y = mu + mu^2/theta}
#' (Hilbe's NB2; the parameterization of [MASS::negative.binomial()],
#' [MASS::glm.nb()] and glmmTMB's `nbinom2`), with a log link. Unlike
#' [MASS::negative.binomial()], \eqn{\theta} is not given but estimated:
#' by maximum likelihood in [glmm()], by a moment equation in [gee()].
#' Large \eqn{\theta} means little overdispersion; \eqn{\theta \to \infty}
#' is the Poisson model.
#'
#' The object has what glm-style code needs (`linkfun`, `linkinv`,
#' `mu.eta`, `variance`, `dev.resids`, `aic`, `validmu`, `valideta`,
#' `initialize`), and `dispersion = "theta"`, the marker that the engines
#' estimate it. Before fitting `theta` is `NA` and `variance()`,
#' `dev.resids()` and `aic()` stop; the family stored in a fitted model
#' carries the estimate.
#'
#' In [glmm()] the response must hold non-negative whole numbers; prior
#' weights multiply each observation's log-likelihood (as in
#' [MASS::glm.nb()] and glmmTMB). [sigma()] of a fitted model returns
#' \eqn{\theta}, as glmmTMB's does.
#'
#' @param link The link function; only `"log"` is supported.
#' @return An object of class `"family"`.
#' @references
#' Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd ed. Cambridge
#' University Press.
#'
#' Venables, W. N. and Ripley, B. D. (2002). *Modern Applied Statistics with
#' S*, 4th ed., section 7.4. Springer.
#' @seealso [overdispersion] for negative binomial and observation-level
#'   random-effect models compared.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   fam <- nbinom2()
#'   fam$family; fam$link
#'   data(epil, package = "MASS")
#'   fit <- glmm(y ~ trt + base + (1 | subject), data = epil, family = nbinom2,
#'               nAGQ = 1)
#'   sigma(fit)   # theta
#' }
#' @export
nbinom2 <- function(link = "log") {
  if (is.name(substitute(link))) link <- deparse(substitute(link))
  if (!is.character(link) || length(link) != 1L || link != "log")
    stop("'link': nbinom2 supports only the \"log\" link", call. = FALSE)
  nbinom2_family(NA_real_)
}

# The family at a given theta (NA: not yet estimated).
nbinom2_family <- function(theta) {
  lk <- stats::make.link("log")
  need <- function() {
    if (is.na(theta))
      stop("nbinom2: theta is not known before the model is fitted", call. = FALSE)
  }
  variance <- function(mu) { need(); mu + mu^2 / theta }
  dev.resids <- function(y, mu, wt) {
    need()
    2 * wt * (y * log(pmax(y, 1) / mu) - (y + theta) * log((y + theta) / (mu + theta)))
  }
  aic <- function(y, n, mu, wt, dev) {
    need()
    -2 * sum(wt * stats::dnbinom(y, size = theta, mu = mu, log = TRUE))
  }
  initialize <- expression({
    if (any(y < 0)) stop("negative values are not allowed for the negative binomial family")
    n <- rep(1, nobs)
    mustart <- y + (y == 0) / 6
  })
  structure(list(family = "nbinom2", link = "log", linkfun = lk$linkfun,
                 linkinv = lk$linkinv, mu.eta = lk$mu.eta, variance = variance,
                 dev.resids = dev.resids, aic = aic, validmu = function(mu) all(is.finite(mu)) && all(mu > 0),
                 valideta = lk$valideta, initialize = initialize,
                 theta = theta, dispersion = "theta"),
            class = "family")
}

# Moment estimator of theta given the means: the root of
#   sum w (y - mu)^2 / (mu + mu^2 / theta) = df
# (Pearson's statistic equated to the residual degrees of freedom; Breslow
# 1984, MASS::theta.mm). The left side grows with theta, so the root is
# unique when it exists; with no overdispersion (Pearson's statistic at
# theta = Inf already below df) there is none and `upper` is returned.
# Means that overflow (a diverged fit) leave the equation without a value:
# NA is returned, for the caller to name.
nb_theta_moment <- function(y, mu, w, df, upper = 1e8) {
  pearson <- function(lt) sum(w * (y - mu)^2 / (mu + mu^2 / exp(lt))) - df
  at_upper <- pearson(log(upper))
  if (!is.finite(at_upper)) return(NA_real_)
  if (at_upper <= 0) return(upper)
  lo <- log(1e-8)
  if (pearson(lo) >= 0) return(exp(lo))
  exp(stats::uniroot(pearson, c(lo, log(upper)), tol = 1e-10)$root)
}

# Starting value of the dispersion on the engine's (log) scale, from the
# means of a GLM without random effects: the moment estimators of theta
# (nbinom2) and of the Gamma shape (1 / Pearson's dispersion). The random
# effects take up part of the overdispersion, so theta and the shape only
# grow from these values; they are capped so that a start without
# overdispersion stays away from the Poisson limit.
dispersion_start <- function(family, y, mu, w, df) {
  df <- max(df, 1)
  switch(family$family,
    nbinom2 = {
      th <- nb_theta_moment(y, mu, w, df)
      log(if (is.na(th)) 1 else min(th, 1e3))
    },
    Gamma = {
      disp <- sum(w * (y - mu)^2 / mu^2) / df
      log(min(max(1 / disp, 1e-3), 1e4))
    },
    nbinom1 = , beta = , betabinomial = phi_start(family, y, mu, w, df),
    stop("no dispersion start for family ", family$family))
}

# The GLM that gives starting values for beta: Poisson for nbinom2 (same
# mean model, no unknown theta).
start_family <- function(family) {
  switch(family$family, nbinom2 = , nbinom1 = stats::poisson(),
         beta = stats::quasibinomial(), betabinomial = stats::binomial(), family)
}

# The family stored in a fitted model: nbinom2 carries its estimate.
fitted_family <- function(family, phi) {
  out <- switch(family$family, nbinom2 = nbinom2_family(exp(phi)),
                nbinom1 = , beta = , betabinomial = phi_family(family$family, family$link, exp(phi)),
                NULL)
  if (is.null(out)) return(family)
  out$family_code <- family$family_code
  out$link_code <- family$link_code
  out
}

is_positive_number <- function(x)
  is.numeric(x) && length(x) == 1L && is.finite(x) && x > 0

# What sigma() returns, as glmmTMB defines it: the residual standard
# deviation (gaussian), theta (nbinom2), 1 / sqrt(shape) (Gamma: the
# coefficient of variation), 1 for families without a dispersion.
sigma_of <- function(family, phi) {
  if (is.null(phi)) return(1)
  switch(family$family, gaussian = exp(phi), nbinom2 = exp(phi),
         Gamma = exp(-phi / 2), nbinom1 = , beta = , betabinomial = exp(phi), 1)
}

# theta (nbinom2) or the shape (Gamma) with its standard error by the delta
# method from the optimizer's log scale; NULL for other families.
family_parameter <- function(family, theta, cov_theta) {
  nm <- switch(family$family, nbinom2 = "theta", Gamma = "shape",
               nbinom1 = , beta = , betabinomial = "phi", NULL)
  if (is.null(nm)) return(NULL)
  k <- length(theta)
  est <- exp(theta[[k]])
  se_log <- sqrt(cov_theta[k, k])
  list(name = nm, estimate = est, se = est * se_log, se_log = se_log, family = family$family)
}

# Response support of `family` for a numeric response y (for the binomial
# ones, the proportion of successes), as model_response() and the matrix
# interfaces (glmm_fit(), gee_fit(), the workers) read it. min() and max():
# no n-length temporaries in the usual case.
check_support <- function(y, family) {
  fam <- family$family
  if (binomial_response(family)) {
    if (length(y) && (min(y) < 0 || max(y) > 1)) {
      bad <- y < 0 | y > 1
      stop(sprintf("%s response must be in [0, 1] (0/1, or a proportion with 'weights' as trials); found %s",
                   fam, format(y[bad][1L], digits = 15)), call. = FALSE)
    }
  } else if (fam == "poisson") {
    if (!(is.integer(y) && (!length(y) || min(y) >= 0L))) {
      bad <- y < 0 | abs(y - round(y)) > 1e-8
      if (any(bad))
        stop(sprintf("poisson response must be a non-negative whole number; found %s",
                     format(y[bad][1L], digits = 15)), call. = FALSE)
    }
  } else if (fam == "nbinom2") {
    bad <- !is.finite(y) | y < 0 | abs(y - round(y)) > 1e-8
    if (any(bad))
      stop(sprintf("the negative binomial (nbinom2) response must be a count (a non-negative whole number); found %s",
                   format(y[bad][1L])), call. = FALSE)
  } else if (fam == "Gamma") {
    bad <- !is.finite(y) | y <= 0
    if (any(bad))
      stop(sprintf("the Gamma response must be positive; found %s", format(y[bad][1L])),
           call. = FALSE)
  }
  check_phi_support(y, family)
}

# One line for print() and summary() of a glmm fit: theta or the shape with
# its standard error (by the delta method from the log scale).
print_family_par <- function(fp, digits) {
  if (is.null(fp)) return(invisible())
  label <- switch(fp$name, theta = "Negative binomial dispersion theta", shape = "Gamma shape",
                  phi = phi_label(fp$family))
  se <- if (is.finite(fp$se)) sprintf(" (SE %s)", format(signif(fp$se, digits))) else ""
  cat(sprintf("%s: %s%s\n", label, format(signif(fp$estimate, digits)), se))
  invisible()
}
