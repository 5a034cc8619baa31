# The cumulative link family for ordinal responses, and the small pieces of
# the model (link codes, latent distribution, category probabilities) that
# the mixed model, its methods and the ordinal GEE share.

#' Cumulative link family for ordinal responses
#'
#' A family for an ordered categorical response with categories
#' \eqn{1 < 2 < \dots < J}, in the parameterization of `ordinal::clm()` and
#' `ordinal::clmm()`:
#' \deqn{P(Y \le j) = F(\theta_j - \eta), \quad j = 1, \dots, J - 1,}
#' with \eqn{\eta = x'\beta} (plus \eqn{z'b} in [glmm()]) and \eqn{F} the
#' logistic (`"logit"`, proportional odds), standard normal (`"probit"`) or
#' \eqn{1 - \exp(-\exp(x))} (`"cloglog"`, proportional hazards) distribution.
#' The model has no intercept: the thresholds \eqn{\theta_1 < \dots <
#' \theta_{J-1}} take its place, and they are reported as clmm does, named
#' `1|2`, `2|3`, ... after the response levels. A positive coefficient moves
#' the response towards the higher categories.
#'
#' The response must be an ordered factor, or a factor whose levels are
#' taken in their order as the ordered categories (say so with [ordered()]
#' to be explicit). Levels that do not occur in the data are dropped, with a
#' warning, since their thresholds would not be identified.
#'
#' Use it with [glmm()] (cumulative link mixed model) and [gee()] (marginal
#' cumulative link model, see [ordinal-gee]).
#'
#' @param link `"logit"`, `"probit"` or `"cloglog"`.
#' @return An object of class `c("glmmgee_cumulative", "family")` with
#'   `family = "cumulative"`, `link`, and the latent distribution's `cdf`
#'   (`linkinv`) and quantile function (`linkfun`).
#' @seealso [glmm()], [ordinal-glmm] for what a fit holds and its methods.
#' @examples
#' fam <- cumulative("probit")
#' fam$linkinv(0)
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
#'               family = cumulative("logit"), nAGQ = 1)
#'   fit
#' }
#' @export
cumulative <- function(link = c("logit", "probit", "cloglog")) {
  sl <- substitute(link)
  if (is.name(sl) && as.character(sl) %in% c("logit", "probit", "cloglog"))
    link <- as.character(sl)
  if (!is.character(link) || length(link) < 1L || anyNA(link))
    stop("'link' must be one of \"logit\", \"probit\", \"cloglog\"", call. = FALSE)
  if (length(link) > 1L) link <- link[1L]
  if (!link %in% c("logit", "probit", "cloglog"))
    stop(sprintf("'link': cumulative supports \"logit\", \"probit\" and \"cloglog\", not \"%s\"",
                 link), call. = FALSE)
  cdf <- switch(link, logit = stats::plogis, probit = stats::pnorm,
                cloglog = function(x) -expm1(-exp(x)))
  quant <- switch(link, logit = stats::qlogis, probit = stats::qnorm,
                  cloglog = function(p) log(-log1p(-p)))
  dens <- switch(link, logit = stats::dlogis, probit = stats::dnorm,
                 cloglog = function(x) exp(x - exp(x)))
  structure(list(family = "cumulative", link = link, linkinv = cdf, linkfun = quant,
                 dens = dens, link_code = match(link, c("logit", "probit", "cloglog")) - 1L),
            class = c("glmmgee_cumulative", "family"))
}

is_cumulative <- function(family) inherits(family, "glmmgee_cumulative")

# cumulative, "cumulative" or cumulative("probit") into the family object;
# NULL for anything else (the other families go through resolve_family()).
as_cumulative <- function(family) {
  if (is.function(family) && identical(family, cumulative)) return(cumulative())
  if (is.character(family) && length(family) == 1L && identical(family, "cumulative"))
    return(cumulative())
  if (is_cumulative(family)) return(family)
  NULL
}

# The ordinal response as category codes 1..J with its level names: an
# ordered factor, or a factor taken in level order. Unused levels dropped,
# with a warning that names them, also those the model frame dropped
# (`unused`, drop_unused_levels()).
ordinal_response <- function(y, name, unused = NULL) {
  if (!is.factor(y))
    stop(sprintf(paste0("the response '%s' of a cumulative link model must be an ordered ",
                        "factor (or a factor, taken in level order); it is %s"),
                 name, class(y)[1L]), call. = FALSE)
  if (anyNA(y)) stop(sprintf("the response '%s' contains missing values", name), call. = FALSE)
  used <- tabulate(y, nlevels(y)) > 0L
  unused <- c(unused, levels(y)[!used])
  warn <- if (length(unused))
    sprintf("response '%s': level(s) %s do not occur and were dropped", name,
            paste0("'", unused, "'", collapse = ", "))
  if (!all(used)) y <- factor(y, levels = levels(y)[used], ordered = is.ordered(y))
  if (nlevels(y) < 2L)
    stop(sprintf("the response '%s' has only one observed category; a cumulative link model needs at least two",
                 name), call. = FALSE)
  list(code = as.integer(y), levels = levels(y), warning = warn)
}

# Threshold names as clmm gives them.
threshold_names <- function(lev) paste(lev[-length(lev)], lev[-1L], sep = "|")

# Category probabilities (n x J) at linear predictors `eta` and thresholds
# `theta`: differences of F(theta_j - eta).
category_probs <- function(family, theta, eta, lev = NULL) {
  # (no rows: cbind() would make one of the scalars 0 and 1)
  cum <- if (length(eta)) cbind(0, family$linkinv(outer(-eta, theta, "+")), 1)
         else matrix(0, 0L, length(theta) + 2L)
  P <- cum[, -1L, drop = FALSE] - cum[, -ncol(cum), drop = FALSE]
  P[P < 0] <- 0
  if (!is.null(lev)) colnames(P) <- lev
  P
}
