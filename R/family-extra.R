# The families parameterized as glmmTMB defines them (Brooks et al. 2017):
# NB1, beta and beta-binomial, each with a dispersion phi that the engines
# estimate on the log scale, and what the fitters need to know about them
# and about the non-canonical links (starting values, support, reporting).

#' NB1, beta and beta-binomial families with the dispersion estimated
#'
#' Family objects for three distributions with a dispersion parameter
#' \eqn{\phi}, parameterized as glmmTMB's families of the same names, so that
#' estimates, [sigma()] and [logLik()] agree with glmmTMB:
#'
#' * `nbinom1()`: negative binomial counts with
#'   \eqn{Var\, y = \mu(1 + \phi)}{Var y = mu (1 + phi)} (size
#'   \eqn{\mu/\phi}), log link. In [gee()] the quasi-Poisson model: variance
#'   \eqn{\mu} times an estimated scale \eqn{1 + \phi}.
#' * `beta_family()`: a response in (0, 1), beta distributed with shapes
#'   \eqn{\mu\phi} and \eqn{(1 - \mu)\phi}, so
#'   \eqn{Var\, y = \mu(1-\mu)/(1+\phi)}{Var y = mu (1 - mu) / (1 + phi)};
#'   \eqn{\phi} is a precision. Logit link. In [gee()] the quasi-binomial
#'   model: variance \eqn{\mu(1-\mu)} times an estimated scale
#'   \eqn{1/(1 + \phi)}.
#' * `betabinomial()`: successes out of trials (given as for binomial:
#'   `cbind(successes, failures)`, or a proportion with the trials as
#'   `weights`) whose success probability is beta distributed with shapes
#'   \eqn{\mu\phi} and \eqn{(1 - \mu)\phi}; the variance of the count out of
#'   \eqn{n} is \eqn{n\mu(1-\mu)(1 + (n-1)/(\phi+1))}. Logit link. In [gee()]
#'   the quasi-binomial model with an estimated scale (the overdispersion
#'   then depends on \eqn{n} only through that one scale).
#'
#' Prior weights multiply each observation's log-likelihood for `nbinom1()`
#' and `beta_family()`; for `betabinomial()` they are the numbers of trials.
#' [sigma()] of a fitted [glmm()] returns \eqn{\phi} (as glmmTMB's does), and
#' its estimate with a standard error is printed and kept in `fit$family_par`.
#' Before fitting `phi` is `NA`, and `variance()` and `aic()` stop.
#'
#' @param link The link function: `"log"` for `nbinom1()`, `"logit"` for the
#'   other two.
#' @return An object of class `"family"`.
#' @references
#' Brooks, M. E. et al. (2017). glmmTMB balances speed and flexibility among
#' packages for zero-inflated generalized linear mixed modeling. *The R
#' Journal* 9(2), 378--400.
#'
#' Ferrari, S. and Cribari-Neto, F. (2004). Beta regression for modelling
#' rates and proportions. *Journal of Applied Statistics* 31(7), 799--815.
#' @examples
#' set.seed(1)
#' g <- gl(30, 8)
#' x <- rnorm(240)
#' mu <- plogis(-0.5 + 0.8 * x + rnorm(30, sd = 0.5)[g])
#' y <- rbeta(240, mu * 10, (1 - mu) * 10)
#' fit <- glmm(y ~ x + (1 | g), family = beta_family(), nAGQ = 5)
#' fit
#' sigma(fit)   # the precision phi, near 10
#' nbinom1()$family
#' @name glmmtmb_families
NULL

#' @rdname glmmtmb_families
#' @export
nbinom1 <- function(link = "log") {
  check_only_link(substitute(link), link, "log", "nbinom1")
  phi_family("nbinom1", "log", NA_real_)
}

#' @rdname glmmtmb_families
#' @export
beta_family <- function(link = "logit") {
  check_only_link(substitute(link), link, "logit", "beta_family")
  phi_family("beta", "logit", NA_real_)
}

#' @rdname glmmtmb_families
#' @export
betabinomial <- function(link = "logit") {
  check_only_link(substitute(link), link, "logit", "betabinomial")
  phi_family("betabinomial", "logit", NA_real_)
}

check_only_link <- function(expr, link, only, fname) {
  if (is.name(expr)) link <- deparse(expr)
  if (!is.character(link) || length(link) != 1L || link != only)
    stop(sprintf("'link': %s() supports only the \"%s\" link", fname, only), call. = FALSE)
  invisible(link)
}

# The family object at a given phi (NA: not yet estimated).
phi_family <- function(family, link, phi) {
  lk <- stats::make.link(link)
  need <- function() {
    if (is.na(phi))
      stop(sprintf("%s: phi is not known before the model is fitted", family), call. = FALSE)
  }
  variance <- switch(family,
    nbinom1 = function(mu) { need(); mu * (1 + phi) },
    beta = function(mu) { need(); mu * (1 - mu) / (1 + phi) },
    # Per trial; the count's variance is n times this times (phi + n)/(phi + 1).
    betabinomial = function(mu) { need(); mu * (1 - mu) })
  aic <- function(y, n, mu, wt, dev) { need(); -2 * sum(phi_loglik(family, y, mu, wt, phi)) }
  dev.resids <- function(y, mu, wt) {
    # Twice the log-likelihood ratio of the saturated model at the same phi.
    need()
    2 * (phi_saturated_loglik(family, y, wt, phi) - phi_loglik(family, y, mu, wt, phi))
  }
  valid <- switch(family, nbinom1 = function(mu) all(is.finite(mu)) && all(mu > 0),
                  function(mu) all(is.finite(mu)) && all(mu > 0 & mu < 1))
  initialize <- switch(family,
    nbinom1 = expression({
      if (any(y < 0)) stop("negative values are not allowed for the nbinom1 family")
      n <- rep(1, nobs)
      mustart <- y + (y == 0) / 6
    }),
    beta = expression({
      if (any(y <= 0 | y >= 1)) stop("the beta family needs a response strictly between 0 and 1")
      n <- rep(1, nobs)
      mustart <- y
    }),
    stats::binomial()$initialize)
  structure(list(family = family, link = link, linkfun = lk$linkfun, linkinv = lk$linkinv,
                 mu.eta = lk$mu.eta, variance = variance, dev.resids = dev.resids, aic = aic,
                 validmu = valid, valideta = lk$valideta, initialize = initialize,
                 phi = phi, dispersion = "phi"),
            class = "family")
}

# Log-likelihood of each observation (y on the engines' scale: a proportion
# of wt trials for betabinomial).
phi_loglik <- function(family, y, mu, wt, phi) {
  switch(family,
    nbinom1 = wt * stats::dnbinom(y, size = mu / phi, mu = mu, log = TRUE),
    beta = wt * stats::dbeta(y, mu * phi, (1 - mu) * phi, log = TRUE),
    betabinomial = {
      s <- round(y * wt)
      lchoose(wt, s) + lbeta(s + mu * phi, wt - s + (1 - mu) * phi) -
        lbeta(mu * phi, (1 - mu) * phi)
    })
}

# Each observation's log-likelihood maximized over its own mean at the given
# phi: the saturated model of the deviance. Unlike the poisson or binomial
# families the maximum is not at mu = y (the beta density at mu = y is not
# the highest over mu, nor the NB1 or beta-binomial probability), so
# 2 (l(y; y) - l(y; mu)) was negative for most observations and the
# deviance residuals came out as zeros (and NaN for a beta-binomial 0 or n
# out of n, where the maximum is the limit mu -> 0 or 1, probability 1).
# The maximizer solves the score equation, which is monotone in mu for
# each family: NB1 psi(y + k) - psi(k) = log(1 + phi) with k = mu / phi;
# beta psi(mu phi) - psi((1 - mu) phi) = logit(y); beta-binomial
# psi(s + a) - psi(a) = psi(n - s + b) - psi(b) with a = mu phi,
# b = (1 - mu) phi. It is found by bisection, all observations at once.
phi_saturated_loglik <- function(family, y, wt, phi) {
  # Bisection of an increasing f over [lo, hi] (vectors).
  root <- function(f, lo, hi) {
    for (i in seq_len(100L)) {
      mid <- (lo + hi) / 2
      up <- f(mid) < 0
      lo <- ifelse(up, mid, lo)
      hi <- ifelse(up, hi, mid)
    }
    (lo + hi) / 2
  }
  n <- length(y)
  wt <- rep_len(wt, n)
  switch(family,
    nbinom1 = {
      out <- numeric(n)  # y = 0: mu -> 0, probability 1
      pos <- y > 0
      if (any(pos)) {
        yp <- y[pos]
        lk <- root(function(t) log1p(phi) - (digamma(yp + exp(t)) - digamma(exp(t))),
                   rep(-40, length(yp)), log(10 * yp / log1p(phi) + 10))
        out[pos] <- phi_loglik(family, yp, exp(lk) * phi, wt[pos], phi)
      }
      out
    },
    beta = {
      t <- root(function(t) digamma(stats::plogis(t) * phi) -
                  digamma(stats::plogis(-t) * phi) - stats::qlogis(y),
                rep(-60, n), rep(60, n))
      phi_loglik(family, y, stats::plogis(t), wt, phi)
    },
    betabinomial = {
      s <- round(y * wt)
      out <- numeric(n)  # 0 or n successes: mu -> 0 or 1, probability 1
      mid <- s > 0 & s < wt
      if (any(mid)) {
        sm <- s[mid]
        nm <- wt[mid]
        t <- root(function(t) {
          a <- stats::plogis(t) * phi
          b <- stats::plogis(-t) * phi
          (digamma(nm - sm + b) - digamma(b)) - (digamma(sm + a) - digamma(a))
        }, rep(-60, length(sm)), rep(60, length(sm)))
        out[mid] <- phi_loglik(family, y[mid], stats::plogis(t), nm, phi)
      }
      out
    })
}

# Moment estimate of phi from the means of a GLM without random effects,
# on the engines' log scale, kept inside a range where the likelihood is
# not flat: Pearson's dispersion D against the variance function of each
# family (NB1: D = 1 + phi; beta: D = 1 / (1 + phi); beta-binomial:
# D = 1 + (n - 1) / (1 + phi) at the mean number of trials n).
phi_start <- function(family, y, mu, w, df) {
  df <- max(df, 1)
  pear <- switch(family$family,
    nbinom1 = sum(w * (y - mu)^2 / mu) / df,
    sum(w * (y - mu)^2 / (mu * (1 - mu))) / df)
  phi <- switch(family$family,
    nbinom1 = pear - 1,
    beta = 1 / pear - 1,
    betabinomial = {
      nbar <- mean(w[w > 0])
      if (nbar > 1) (nbar - 1) / max(pear - 1, 1e-8) - 1 else 1
    })
  log(min(max(phi, 1e-2), 1e3))
}

# Response support of the new families (the engines would return NaN).
check_phi_support <- function(y, family) {
  fam <- family$family
  bad <- switch(fam,
    nbinom1 = !is.finite(y) | y < 0 | abs(y - round(y)) > 1e-8,
    beta = !is.finite(y) | y <= 0 | y >= 1,
    NULL)
  if (is.null(bad) || !any(bad)) return(invisible(TRUE))
  what <- switch(fam,
    nbinom1 = "the negative binomial (nbinom1) response must be a count (a non-negative whole number)",
    beta = "the beta response must lie strictly between 0 and 1")
  stop(sprintf("%s; found %s", what, format(y[bad][1L])), call. = FALSE)
}

# Families whose response is read as binomial (successes out of trials).
binomial_response <- function(family) family$family %in% c("binomial", "betabinomial")

# The engines' own Newton iteration for the GLM start assumes a concave
# log-likelihood in beta, true for the canonical links and for probit and
# cloglog; the other links (log for gaussian, cauchit, Gamma's inverse and
# identity) start from stats::glm.fit, which keeps the mean in its domain.
engine_start_ok <- function(family) {
  pair <- paste(family$family, family$link)
  pair %in% c("gaussian identity", "binomial logit", "binomial probit", "binomial cloglog",
              "poisson log")
}

# How print() names phi: what it measures in each family, and whether the
# variance it enters is conditional on the random effects (glmm) or
# marginal (gee).
phi_label <- function(family, view = "conditional") {
  v <- switch(family %||% "",
    nbinom1 = "Var = mu (1 + phi)",
    beta = "Var = mu (1 - mu) / (1 + phi)",
    betabinomial = "Var = n mu (1 - mu) (phi + n) / (phi + 1)", NULL)
  what <- switch(family %||% "", nbinom1 = "NB1 dispersion phi", beta = "Beta precision phi",
                 betabinomial = "Beta-binomial overdispersion phi", "Dispersion phi")
  if (is.null(v)) what else sprintf("%s (%s %s)", what, view, v)
}

# The GLM without random effects that gives starting values, by
# stats::glm.fit with start_family(). Its own starting means fail for
# some non-canonical links (gaussian log with a response <= 0); then it
# starts from the overall mean.
start_glm <- function(X, y, weights, offset, family) {
  # NULL: unit weights and a zero offset (glmm_fit_units() keeps them NULL).
  if (is.null(weights)) weights <- rep(1, length(y))
  if (is.null(offset)) offset <- rep(0, length(y))
  if (is_binomial_log(family)) return(binlog_glm_start(X, y, weights, offset))
  fam <- start_family(family)
  run <- function(mustart = NULL)
    suppressWarnings(stats::glm.fit(X, y, weights = weights, offset = offset, family = fam,
                                    mustart = mustart, control = stats::glm.control(maxit = 25)))
  tryCatch(run(), error = function(e) run(rep(stats::weighted.mean(y, weights), length(y))))
}

# gee() with nbinom1, beta or betabinomial: the quasi-likelihood model whose
# variance function is the engine class's (mu; mu (1 - mu)), with phi read
# off the estimated scale: NB1 scale = 1 + phi, beta scale = 1 / (1 + phi).
# For betabinomial the scale mixes phi with the numbers of trials, so no phi
# is reported. The stored family keeps the quasi variance function, the one
# the Pearson residuals and the sandwich use.
gee_phi_family <- function(family, scale, scale.fix) {
  if (!family$family %in% c("nbinom1", "beta", "betabinomial")) return(family)
  phi <- if (scale.fix) NA_real_ else switch(family$family,
    nbinom1 = scale - 1, beta = 1 / scale - 1, NA_real_)
  out <- phi_family(family$family, family$link, phi)
  out$variance <- switch(family$family, nbinom1 = function(mu) mu, function(mu) mu * (1 - mu))
  out$family_code <- family$family_code
  out$link_code <- family$link_code
  out
}
