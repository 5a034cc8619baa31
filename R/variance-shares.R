# Variance shares, intraclass correlations and R^2 of a GLMM (Nakagawa,
# Johnson and Schielzeth, 2017), with delta-method intervals.

#' Variance shares, intraclass correlations and R-squared of a GLMM
#'
#' Splits the variance of the linear predictor's scale into the fixed
#' effects, each random-effect term and the distribution-specific
#' (residual) variance, as in Nakagawa, Johnson and Schielzeth (2017), and
#' reports the shares, the intraclass correlation of every term, and the
#' marginal and conditional \eqn{R^2}:
#' \deqn{R^2_m = \frac{\sigma^2_f}{\sigma^2_f + \sum_t \sigma^2_t + \sigma^2_\varepsilon},
#' \qquad R^2_c = \frac{\sigma^2_f + \sum_t \sigma^2_t}{\sigma^2_f + \sum_t \sigma^2_t + \sigma^2_\varepsilon},}{R2m = f / (f + sum_t s_t + e), R2c = (f + sum_t s_t) / (f + sum_t s_t + e),}
#' where \eqn{\sigma^2_f} is the variance of the fixed-effects linear
#' predictor over the observations, \eqn{\sigma^2_t} the variance of term
#' \eqn{t} averaged over the observations, \eqn{\mathrm{mean}_i(z_i' D_t
#' z_i)} (Johnson, 2014; for a random intercept, its variance), and
#' \eqn{\sigma^2_\varepsilon} the distribution-specific variance:
#' * gaussian: the residual variance \eqn{\sigma^2};
#' * binomial (latent scale): \eqn{\pi^2/3} for the logit link, 1 for
#'   probit, \eqn{\pi^2/6} for cloglog;
#' * poisson (log): \eqn{\log(1 + 1/\lambda)} (`"lognormal"`),
#'   \eqn{\psi_1(\lambda)} (`"trigamma"`) or \eqn{1/\lambda} (`"delta"`),
#'   with \eqn{\lambda = \exp(\beta_0 + \sigma^2/2)} from the null model
#'   (intercept and the same random effects, with the fit's prior weights
#'   and offsets), refitted here; with an offset, \eqn{\lambda} is the
#'   mean at an offset of 0 (for `offset(log(exposure))`, the mean per unit
#'   of exposure), as in `performance::icc()`;
#' * [nbinom2()]: as poisson with \eqn{1/\lambda + 1/\theta} in place of
#'   \eqn{1/\lambda};
#' * [nbinom1()]: as poisson with \eqn{(1 + \phi)/\lambda} in place of
#'   \eqn{1/\lambda} (the quasi-Poisson variance \eqn{\omega\lambda},
#'   \eqn{\omega = 1 + \phi});
#' * Gamma (log): \eqn{\log(1 + 1/\nu)}, \eqn{\psi_1(\nu)} or \eqn{1/\nu},
#'   \eqn{\nu} the shape;
#' * [cumulative()] (cumulative link mixed models, on the scale of the
#'   latent variable whose cut points are the thresholds): \eqn{\pi^2/3}
#'   for the logit link, 1 for probit, \eqn{\pi^2/6} for cloglog, as for a
#'   binomial model with the same link. The thresholds enter none of the
#'   variances; \eqn{\sigma^2_f} is the variance of \eqn{x'\beta}.
#'
#' Other links are refused with the family and link named: for
#' Gamma(inverse), Gamma(identity), gaussian(log) or poisson(identity) the
#' distribution-specific variance above is on another scale than the linear
#' predictor, binomial(log) has no latent scale, and the latent variable of
#' binomial(cauchit) (a Cauchy) has no variance. Beta, beta-binomial and
#' cumulative fits are refused too.
#'
#' The ICC of a term is its share of the random and residual variance,
#' \eqn{\sigma^2_t / (\sum_s \sigma^2_s + \sigma^2_\varepsilon)} (the
#' "adjusted" ICC; with one random intercept the usual one); `"ICC (all
#' terms)"` sums the terms. Bridge and nonparametric random intercepts
#' ([ranef-distributions]) enter with the variance of their distribution.
#'
#' **Data scale.** For a binomial or poisson model with one random
#' intercept (normal) the ICC on the scale of the data is added
#' (`quantity = "ICC (data scale)"`): the correlation of two observations
#' (two trials, two counts) of the same cluster implied by the null model
#' (intercept and random intercept, refitted with the fit's prior weights
#' and offsets), from first principles: for
#' binomial \eqn{\mathrm{Var}_b\{h(\beta_0+b)\} / \{\bar p(1-\bar p)\}}
#' with \eqn{\bar p = E_b\{h(\beta_0+b)\}}, for poisson
#' \eqn{k/(1+k)} with \eqn{k = \lambda(e^{\sigma^2}-1)}. It has no interval.
#'
#' **Zero-inflated and hurdle fits** (`ziformula`, with or without random
#' effects in the zero part) are refused: the decomposition is defined on
#' the scale of one linear predictor, and these models have two (the log
#' mean of the count part and the logit of the zero probability, each with
#' its own random effects when `ziformula` has bar terms); the zeros they
#' add enter neither variance. [VarCorr()] gives both parts' variances.
#'
#' **Dispersion formulas** (`dispformula`, with or without random effects,
#' a location-scale model): each observation has its own dispersion
#' \eqn{d_i} with \eqn{\log d_i = x_i'\gamma + z_i'b}, and the
#' distribution-specific variance is averaged over the observations and
#' over the dispersion's random effects \eqn{b \sim N(0, D)}, by their
#' lognormal moments \eqn{E\,d_i^k = \exp(k\,x_i'\gamma + k^2 v_i/2)},
#' \eqn{v_i = z_i'Dz_i}: for gaussian fits the mean residual variance
#' \eqn{\mathrm{mean}_i E\,\sigma_i^2}; for the count and Gamma families the
#' approximation above at each observation's \eqn{E(1/\theta_i)},
#' \eqn{E\phi_i} or \eqn{E(1/\nu_i)}, averaged. The null model keeps the
#' dispersion formula.
#'
#' Intervals are Wald intervals by the delta method over all parameters
#' (`vcov(fit, full = TRUE)`), on the log scale for variances and the logit
#' scale for shares, so they stay in range; \eqn{\lambda} of the null model
#' is treated as known.
#'
#' @param fit A fit from [glmm()].
#' @param approximation For poisson, negative binomial and Gamma fits, how
#'   the distribution-specific variance is approximated (see above); an
#'   error with other families.
#' @param level Confidence level.
#' @return A data frame of class `glmmgee_variance_shares` with columns
#'   `quantity`, `component`, `estimate`, `conf.low`, `conf.high`: the
#'   variances (`quantity = "variance"`), their shares of the total
#'   (`"share"`), the ICCs (`"ICC"`), \eqn{R^2} (`"R2"`) and, where
#'   defined, the data-scale ICC (`"ICC (data scale)"`).
#' @references Johnson, P. C. D. (2014). Extension of Nakagawa & Schielzeth's
#'   R2GLMM to random slopes models. *Methods in Ecology and Evolution* 5,
#'   944-946.
#'
#'   Nakagawa, S., Johnson, P. C. D. and Schielzeth, H. (2017). The
#'   coefficient of determination R2 and intra-class correlation coefficient
#'   from generalized linear mixed-effects models revisited and expanded.
#'   *Journal of the Royal Society Interface* 14, 20170213.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   variance_shares(fit)
#' }
#' @export
variance_shares <- function(fit, approximation = c("lognormal", "trigamma", "delta"),
                            level = 0.95) {
  if (!is_glmm(fit))
    stop(sprintf("'fit' must be a fit from glmm(), not an object of class \"%s\"",
                 class(fit)[1L]), call. = FALSE)
  if (!fit$family$family %in% c("poisson", "nbinom2", "nbinom1", "Gamma"))
    refuse_unused(c(approximation = !missing(approximation)),
                  sprintf("variance_shares() of a %s fit", fit$family$family),
                  paste("poisson, negative binomial and Gamma fits; the other families'",
                        "distribution-specific variance is not approximated"))
  approximation <- match.arg(approximation)
  check_level(level)
  if (inherits(fit, "glmmgee_glmm_ordinal")) return(cumulative_variance_shares(fit, level))
  refuse_two_part_shares(fit, "variance_shares")
  fam <- fit$family
  check_shares_family(fam, "variance_shares")
  lambda <- if (fam$family %in% c("poisson", "nbinom2", "nbinom1")) null_model_mean(fit)
  comp <- variance_components(fit, lambda, approximation)
  theta <- unname(fit$theta)
  par <- tryCatch(fit_parameters(fit), error = function(e) NULL)
  # Structured fits: the delta method in the structures' parameters, whose
  # covariance the fit has (a structure of q columns has q(q + 1)/2 entries
  # of Lambda but a few parameters).
  pm <- if (!is.null(fit$theta_structure)) covstruct_parameter_map(fit)
  if (!is.null(pm)) {
    comp_theta <- comp
    comp <- function(phi) comp_theta(pm$map(phi)$theta)
    theta <- pm$phi
    V <- fit$cov_structure
    par <- if (!is.null(V) && !all(is.na(V))) list(vcov = replace(V, is.na(V), 0))
  }
  rows <- shares_rows(comp, theta, par$vcov, par$star, level)
  icc_data <- data_scale_icc(fit)
  if (!is.null(icc_data))
    rows <- c(rows, list(data.frame(quantity = "ICC (data scale)", component = fit$group_name,
                                    estimate = icc_data, conf.low = NA_real_,
                                    conf.high = NA_real_, stringsAsFactors = FALSE)))
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  structure(out, class = c("glmmgee_variance_shares", "data.frame"), level = level,
            family = fam, approximation = if (!is.null(lambda) || fam$family == "Gamma") approximation,
            lambda = lambda)
}

# The table's rows (variances, shares, ICCs, R2) of the components comp()
# at theta, with delta-method intervals from V (NULL: no intervals) on the
# log scale for variances and the logit scale for shares.
shares_rows <- function(comp, theta, V, star, level) {
  est <- comp(theta)
  J <- if (!is.null(V)) difference_jacobian(comp, theta, h = 1e-6)
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- function(kind, idx) {
    v <- est[idx]
    if (is.null(J)) return(cbind(v, NA_real_, NA_real_))
    link <- if (kind == "variance") log else stats::qlogis
    inv <- if (kind == "variance") exp else stats::plogis
    d <- if (kind == "variance") 1 / v else 1 / (v * (1 - v))
    Jk <- J[idx, , drop = FALSE] * d
    se <- sqrt(pmax(delta_var(Jk, V, star), 0))
    cbind(v, inv(link(v) - z * se), inv(link(v) + z * se))
  }
  lapply(c("variance", "share", "ICC", "R2"), function(kind) {
    idx <- which(attr(est, "kind") == kind)
    m <- ci(kind, idx)
    data.frame(quantity = kind, component = names(est)[idx], estimate = m[, 1L],
               conf.low = m[, 2L], conf.high = m[, 3L], stringsAsFactors = FALSE)
  })
}

# The named vector of variances, shares, ICCs and R2 (attribute "kind")
# from the fixed-effect variance vf, the terms' variances vr and the
# distribution-specific variance ve.
shares_vector <- function(vf, vr, ve) {
  total <- vf + sum(vr) + ve
  re_tot <- sum(vr) + ve
  v <- c(c(fixed = vf), vr, c(residual = ve))
  icc <- c(vr / re_tot, if (length(vr) > 1L) c(`all terms` = sum(vr) / re_tot))
  r2 <- c(marginal = vf / total, conditional = (vf + sum(vr)) / total)
  out <- c(v, v / total, icc, r2)
  names(out) <- c(names(v), names(v), names(icc), names(r2))
  structure(out, kind = rep(c("variance", "share", "ICC", "R2"),
                            c(length(v), length(v), length(icc), length(r2))))
}

#' @export
print.glmmgee_variance_shares <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_variance_shares", .allow = print_dots)
  fam <- attr(x, "family")
  cat(sprintf("Variance shares, ICC and R2 (Nakagawa et al. 2017), %s(%s)%s\n",
              fam$family, fam$link,
              if (fam$family %in% c("binomial", "cumulative")) ", latent scale" else ""))
  if (!is.null(attr(x, "approximation")))
    cat(sprintf("Distribution-specific variance: %s approximation%s\n", attr(x, "approximation"),
                if (!is.null(attr(x, "lambda")))
                  sprintf(", lambda = %s (null model)", format(attr(x, "lambda"), digits = digits))
                else ""))
  cat(sprintf("%g%% intervals by the delta method.\n", 100 * attr(x, "level")))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  attributes(d) <- attributes(d)[c("names", "row.names", "class")]
  print(format(d, digits = digits), row.names = FALSE)
  invisible(x)
}

# The variances alone at the estimates (fixed, one per random-effect term,
# residual), for insight's get_variance(): the same computation as
# variance_shares(), without the intervals.
variance_estimates <- function(fit, approximation = "lognormal") {
  refuse_two_part_shares(fit, "get_variance")
  check_shares_family(fit$family, "get_variance")
  lambda <- if (fit$family$family %in% c("poisson", "nbinom2", "nbinom1")) null_model_mean(fit)
  est <- variance_components(fit, lambda, approximation)(unname(fit$theta))
  est[attr(est, "kind") == "variance"]
}

# The rows of `fit` with positive prior weight, or NULL when all are: rows
# of weight 0 are in the design but not in the model, so no variance is
# averaged over them (they moved a dispersion formula's residual variance
# by 6%).
used_rows <- function(fit) {
  w <- .subset2(fit, "prior.weights")
  if (is.null(w) || all(w > 0)) NULL else which(w > 0)
}

# A function of theta returning the named vector of variances, shares, ICCs
# and R^2 (with attribute "kind").
variance_components <- function(fit, lambda, approximation) {
  fam <- fit$family
  X <- fit$X
  p <- length(fit$coefficients)
  re <- re_structure(fit, "variance_shares")
  terms <- re_term_columns(fit, re)
  # averages over the observations the fit used
  used <- used_rows(fit)
  dm <- dispersion_moments(fit, re)
  if (!is.null(used)) {
    X <- X[used, , drop = FALSE]
    if (is.null(re$dist) && !is.null(re$Z)) re$Z <- re$Z[used, , drop = FALSE]
  }
  function(theta) {
    eta <- drop(X %*% theta[seq_len(p)])
    vf <- stats::var(eta)
    vr <- if (!is.null(re$dist)) {
      c(dist_variance(re$dist, theta))
    } else {
      L <- lambda_of(re, theta)
      vapply(terms$cols, function(j) {
        A <- re$Z[, j, drop = FALSE] %*% L[j, j, drop = FALSE]
        mean(rowSums(A^2))
      }, 1)
    }
    names(vr) <- terms$names
    shares_vector(vf, vr, distribution_variance(fam, theta, lambda, approximation, dm))
  }
}

# Columns of re$Z belonging to each random-effect term, and the terms' names.
re_term_columns <- function(fit, re) {
  if (!is.null(re$dist)) return(list(cols = list(1L), names = fit$group_name))
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    q <- vapply(fit$reterms, function(tm) length(tm$cnames), 1L)
    ends <- cumsum(q)
    cols <- lapply(seq_along(q), function(k) (ends[k] - q[k] + 1L):ends[k])
    nm <- vapply(fit$reterms, function(tm)
      paste0(tm$group, if (length(tm$cnames) == 1L && tm$cnames != "(Intercept)")
        paste0(":", tm$cnames)), "")
    return(list(cols = cols, names = make.unique(nm, sep = ".")))
  }
  if (is.null(re$Z)) re$Z <- matrix(1, length(fit$group), 1L)
  # Structured terms on one grouping factor: one component each, named by
  # the term as written.
  st <- fit$structures
  if (length(st) > 1L) {
    cols <- lapply(st, function(s) match(s$columns, fit$cnames))
    if (!anyNA(unlist(cols)))
      return(list(cols = cols, names = make.unique(vapply(st, `[[`, "", "label"), sep = ".")))
  }
  list(cols = list(seq_len(re$q)), names = fit$group_name)
}

dist_variance <- function(dist, theta) {
  p <- dist$p
  if (dist$type == "bridge") return(bridge_variance(theta[[p + 1L]]))
  k <- dist$k
  a <- theta[p + seq_len(k)]
  al <- theta[p + k + seq_len(k)]
  w <- exp(al - max(al)); w <- w / sum(w)
  sum(w * (a - sum(w * a))^2)
}

# The distribution-specific variance, averaged over the observations where
# a dispersion formula gives each its own dispersion (`dm`,
# dispersion_moments(): E d_i^k per observation).
distribution_variance <- function(family, theta, lambda, approximation, dm) {
  switch(family$family,
    gaussian = mean(dm(theta, 2)),
    binomial = switch(family$link, logit = pi^2 / 3, probit = 1, cloglog = pi^2 / 6),
    poisson = obs_variance(1 / lambda, approximation),
    nbinom2 = mean(obs_variance(1 / lambda + dm(theta, -1), approximation)),
    # Var y = omega lambda with omega = 1 + phi (quasi-Poisson, Nakagawa et
    # al. 2017, Table 1): the squared coefficient of variation omega / lambda.
    nbinom1 = mean(obs_variance((1 + dm(theta, 1)) / lambda, approximation)),
    Gamma = mean(obs_variance(dm(theta, -1), approximation)))
}

# The moments E d_i^k of each observation's dispersion d_i (gaussian sigma,
# nbinom2 theta, nbinom1 phi, Gamma shape) as a function of theta, for the
# delta method: exp(k * log d) for one dispersion (theta's last entry);
# with a dispersion formula log d_i = x_i' gamma + offset_i (+ z_i' b, b ~
# N(0, D) in a location-scale fit), exp(k eta_i + k^2 v_i / 2) with
# v_i = z_i' D z_i, the lognormal moment over the dispersion's random
# effects. (Reading theta's last entry as the dispersion of such a fit
# took the dispersion formula's last coefficient for it.) Only the rows the
# fit used (used_rows()) are given.
dispersion_moments <- function(fit, re) {
  a <- fit$aux
  if (is.null(a$disp$X)) return(function(theta, k) exp(k * theta[[length(theta)]]))
  used <- used_rows(fit) %||% seq_len(nrow(a$disp$X))
  Xd <- as.matrix(a$disp$X)[used, , drop = FALSE]
  off <- a$disp$offset %||% 0
  if (length(off) > 1L) off <- off[used]
  idx <- a$disp_index
  rd <- dispersion_re_structure(fit, re)
  Zd <- if (!is.null(rd) && rd$q) as.matrix(rd$Z)[used, , drop = FALSE]
  function(theta, k) {
    eta <- drop(Xd %*% theta[idx]) + off
    v <- if (is.null(Zd)) 0 else rowSums((Zd %*% lambda_of(rd, theta))^2)
    exp(k * eta + k^2 * v / 2)
  }
}

# The (family, link) pairs whose distribution-specific variance Nakagawa,
# Johnson and Schielzeth (2017) define on the scale of the linear
# predictor: the identity link for gaussian, the latent scale of the
# binary links with a logistic, normal or Gumbel latent variable, and the
# log link for counts and Gamma. Any other pair is refused by name before
# anything is computed: its residual variance would be on another scale
# than the linear predictor's (Gamma(inverse): a variance of y, or of its
# logarithm, added to that of 1 / mu), or does not exist (cauchit: the
# latent Cauchy variable has no variance).
check_shares_family <- function(family, caller) {
  ok <- switch(family$family,
    gaussian = family$link == "identity",
    binomial = family$link %in% c("logit", "probit", "cloglog"),
    poisson = , nbinom2 = , nbinom1 = , Gamma = family$link == "log",
    FALSE)
  if (ok) return(invisible())
  why <- if (family$family == "binomial" && family$link == "cauchit")
    "the latent variable of the cauchit link has a Cauchy distribution, which has no variance"
  else if (family$family == "binomial" && family$link == "log")
    "the log link has no latent-variable scale, and the binomial variance on the scale of log(mu) is not defined by Nakagawa et al. (2017)"
  else if (family$family %in% c("gaussian", "poisson", "nbinom2", "nbinom1", "Gamma"))
    sprintf("the distribution-specific variance of Nakagawa et al. (2017) is on the scale of the %s link, and this model's linear predictor is on the scale of the %s link: adding the two would mix scales",
            if (family$family == "gaussian") "identity" else "log", family$link)
  else
    "Nakagawa et al. (2017) give no distribution-specific variance for this family"
  stop(sprintf("%s(): not available for %s(link = \"%s\"): %s. Defined for gaussian(identity), binomial(logit, probit, cloglog), poisson(log), nbinom2(log), nbinom1(log) and Gamma(log); VarCorr() gives the random-effect variances",
               caller, family$family, family$link, why), call. = FALSE)
}

# Nakagawa et al. (2017), Table 1, with v the squared coefficient of
# variation of the observation given the random effects.
obs_variance <- function(v, approximation) {
  switch(approximation, lognormal = log1p(v), trigamma = trigamma(1 / v), delta = v)
}

# lambda = exp(beta0 + sigma^2 / 2) from the null model: intercept and the
# fit's random effects, refitted on the same data with the same
# approximation.
null_model_mean <- function(fit) {
  nul <- null_model(fit)
  vr <- variance_components(nul, lambda = 1, approximation = "delta")(unname(nul$theta))
  s2 <- sum(vr[attr(vr, "kind") == "variance"][-c(1L, sum(attr(vr, "kind") == "variance"))])
  exp(nul$coefficients[[1L]] + s2 / 2)
}

# The null model: intercept and the fit's random effects, refitted on the
# same data with the same approximation, prior weights and offsets (the
# formula's offset() terms and the `offset` argument, from the model
# frame): it differs from the fit in the mean's covariates only. (Without
# the weights, a proportion response with weights = trials was refitted as
# one trial per row: a data-scale ICC of 6e-12 for 0.077.)
null_model <- function(fit) {
  f <- fit$formula
  fixed <- stats::terms(reformulas::nobars(f), allowDotAsName = TRUE)
  offs <- as.list(attr(fixed, "variables"))[-1L][attr(fixed, "offset")]
  rhs <- Reduce(function(a, b) call("+", a, b), offs, 1)
  rhs <- Reduce(function(a, b) call("+", a, call("(", b)), find_bars(f), rhs)
  f0 <- f
  f0[[3L]] <- rhs
  environment(f0) <- environment(f)
  rd <- if (is_dist_fit(fit)) fit$ranef_dist[c("type", "k")] else "normal"
  # (a dispersion formula, with its random effects, is kept: the null
  # model differs from the fit in the mean's fixed effects only)
  args <- list(f0, data = fit_data(fit), family = fit$family, ranef_dist = rd,
               dispformula = fit$aux$disp$formula,
               nAGQ = if (!is_dist_fit(fit) && !is.null(fit$nAGQ)) fit$nAGQ,
               weights = fit$model[["(weights)"]], offset = fit$model[["(offset)"]])
  args <- args[!vapply(args, is.null, TRUE)]
  suppressWarnings(eval(as.call(c(list(glmm), args)), environment(f) %||% globalenv()))
}

# ICC on the data scale for a random intercept (binomial: between two
# trials of a cluster; poisson: between two counts), at the null model's
# intercept b0 and variance s2. Binomial: Var_b{h(b0 + b)} / {p (1 - p)},
# p = E_b{h(b0 + b)}, by the trapezoidal rule over the normal. Poisson:
# with lambda = exp(b0 + s2 / 2), Var(Y) = lambda + lambda^2 (e^s2 - 1) and
# Cov = lambda^2 (e^s2 - 1) for two counts of a cluster.
data_scale_icc <- function(fit) {
  fam <- fit$family
  if (!(fam$family %in% c("binomial", "poisson")) || is_dist_fit(fit) ||
      inherits(fit, "glmmgee_glmm_sparse") || !identical(fit$cnames, "(Intercept)"))
    return(NULL)
  nul <- null_model(fit)
  b0 <- nul$coefficients[[1L]]
  s2 <- nul$D[1L, 1L]
  if (fam$family == "poisson") {
    k <- exp(b0 + s2 / 2) * expm1(s2)
    return(k / (1 + k))
  }
  g <- normal_grid(sqrt(s2))
  h <- fam$linkinv(b0 + sqrt(s2) * g$t)
  m1 <- sum(g$w * h)
  (sum(g$w * h^2) - m1^2) / (m1 * (1 - m1))
}

# Zero-inflated and hurdle fits have two linear predictors (count part,
# zero part) and no single scale for Nakagawa et al.'s decomposition; the
# count part's shares alone, with a null model without the zero part,
# would misstate the variance of the data.
refuse_two_part_shares <- function(fit, caller) {
  require_capability(fit, "variance_shares", paste0(caller, "()"),
    sprintf(paste0(
      "they are on one linear predictor's scale, and this model has two (the count part's log ",
      "mean and the zero part's logit%s); use VarCorr() for both parts' variances"),
      if (!is.null(fit$aux$zi$re)) ", each with random effects" else ""))
}
