#' Overdispersed counts: negative binomial and observation-level random effects
#'
#' Counts often vary more than a Poisson model allows, even given the
#' cluster's random effect. [glmm()] offers two standard remedies, both with
#' full log-likelihoods, so they can be compared with each other and with
#' the Poisson model by [AIC()] or [BIC()]:
#'
#' * **Negative binomial**, `family = nbinom2()`: each count is Poisson with
#'   a gamma-distributed multiplicative error, so that given the random
#'   effects \eqn{Var(y) = \mu + \mu^2/\theta}; \eqn{\theta} is estimated
#'   (reported by `print()`, `summary()` and [sigma()]).
#' * **Observation-level random effect (OLRE)**: a Poisson model with a
#'   normal random intercept for every observation, `(1 | obs)` with `obs` a
#'   factor with one level per row (Harrison, 2014). Each "cluster" is one
#'   observation, so the one-factor engine fits it as it is, with Laplace or
#'   AGHQ; its standard deviation measures the extra-Poisson variation on
#'   the log scale (a lognormal rather than a gamma multiplicative error:
#'   given the other effects, \eqn{Var(y) = \mu + \mu^2 (e^{\sigma^2} - 1)}
#'   with \eqn{\mu} the mean including the OLRE's \eqn{e^{\sigma^2/2}}).
#'
#' An OLRE only makes sense when the response has a variance that the
#' random effect does not fix by itself: with a gaussian response it is
#' confounded with the residual variance and the model is not identified.
#' Combining an OLRE with a cluster random effect, `(1 | subject) + (1 |
#' obs)`, needs two grouping factors.
#'
#' @references
#' Harrison, X. A. (2014). Using observation-level random effects to model
#' overdispersion in count data in ecology and evolution. *PeerJ* 2, e616.
#'
#' Hilbe, J. M. (2011). *Negative Binomial Regression*, 2nd ed. Cambridge
#' University Press.
#' @seealso [nbinom2()], [glmm()], and [gee()] with `family = nbinom2()` for
#'   population-averaged effects with a negative binomial variance function.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   epil$obs <- factor(seq_len(nrow(epil)))
#'   pois <- glmm(y ~ trt + log(base / 4) + V4 + (1 | subject), data = epil,
#'                family = poisson, nAGQ = 1)
#'   nb <- update(pois, family = nbinom2)
#'   olre <- update(pois, . ~ . - (1 | subject) + (1 | obs))
#'   AIC(pois, nb, olre)   # lower is better
#'   sigma(nb)             # theta of the negative binomial
#'   VarCorr(olre)         # SD of the observation-level effect (log scale)
#' }
#' @name overdispersion
NULL
