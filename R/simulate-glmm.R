# simulate() for glmm fits: responses drawn from the fitted model, with new
# random effects (re.form = NA) or the predicted ones (re.form = NULL).

#' Simulate responses from a fitted GLMM
#'
#' Draws `nsim` response vectors from the fitted model, as
#' `lme4::simulate.merMod()` does. With `re.form = NA` (the default) each
#' simulation draws new random effects from their fitted distribution,
#' \eqn{b = \Lambda u}, \eqn{u \sim N(0, I)}, independently for every level
#' of every grouping factor; with `re.form = NULL` the random effects are
#' held at their predictions (the conditional modes), so only the response
#' is random. Given the linear predictor, the response is drawn from the
#' family at the estimated dispersion: normal with variance
#' \eqn{\sigma^2 / w}, binomial with the prior weights as numbers of trials,
#' Poisson, negative binomial (\eqn{\theta}) or Gamma (shape \eqn{\nu w}).
#'
#' The result has the form of the response: a binomial response given as
#' `cbind(successes, failures)` gives a two-column matrix per simulation,
#' a two-level factor a factor, a logical a logical, a proportion with
#' weights a proportion; the rows are those of the model frame.
#'
#' A known-covariance term needs the factor of its `K`, which the fit does
#' not keep: such fits simulate with `re.form = NULL` only.
#'
#' @param object A fit from [glmm()].
#' @param nsim Number of simulations.
#' @param seed As in [stats::simulate()]: `NULL`, or an integer passed to
#'   [set.seed()] (the random-number state is restored afterwards).
#' @param re.form `NA` (or `~0`): new random effects; `NULL`: the predicted
#'   ones.
#' @param ... Ignored, except `newdata`, which is an error: the simulations are
#'   of the rows the model was fitted to.
#' @return A data frame with `nsim` columns `sim_1`, `sim_2`, ..., and the
#'   attribute `"seed"`: the `seed` argument with the RNG kind, or the
#'   value of `.Random.seed` before the simulation.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   sims <- simulate(fit, nsim = 2, seed = 1)
#'   head(sims$sim_1)
#' }
#' @importFrom stats simulate
#' @export
simulate.glmmgee_glmm <- function(object, nsim = 1, seed = NULL, re.form = NA, ...) {
  check_nsim(nsim)
  simulate_refuse_newdata(list(...))
  new_re <- simulate_new_re(re.form)
  if (new_re && re_known_cov(object))
    stop("simulate() with new random effects (re.form = NA) is not available for a known-covariance term; use re.form = NULL",
         call. = FALSE)
  rs <- simulate_seed(seed)
  if (!is.null(rs$old)) on.exit(assign(".Random.seed", rs$old, envir = globalenv()))
  rng <- rs$rng
  draw_eta <- if (new_re) random_effect_sampler(object) else function() object$linear.predictors
  resp <- response_form(object)
  sims <- lapply(seq_len(nsim), function(k) {
    mu <- object$family$linkinv(draw_eta())
    draw_response(object, mu, resp)
  })
  names(sims) <- paste0("sim_", seq_len(nsim))
  rn <- rownames(object$model) %||% as.character(seq_along(object$y))
  structure(sims, class = "data.frame", row.names = rn, seed = rng)
}

# simulate() draws responses for the rows the model was fitted to. A
# `newdata` argument fell into `...` and was ignored without a word, so a
# user asking for simulations at new covariate values got the fitted
# rows' instead: refused by name.
simulate_refuse_newdata <- function(dots) {
  if ("newdata" %in% names(dots))
    stop("'newdata' is not taken by simulate(): it draws responses for the rows the model ",
         "was fitted to; refit on the new data, or use predict(newdata = ) for their means",
         call. = FALSE)
  invisible(NULL)
}

simulate_new_re <- function(re.form) {
  if (is.null(re.form)) return(FALSE)
  if (length(re.form) == 1L && !is.language(re.form) && is.na(re.form)) return(TRUE)
  if (inherits(re.form, "formula") && !length(find_bars(re.form))) return(TRUE)
  stop("'re.form' must be NA (or ~0: new random effects) or NULL (the predicted ones)",
       call. = FALSE)
}

# A function drawing the linear predictor with new random effects: the
# fixed part plus z_i'b for b = Lambda u drawn per level (per term for
# several terms, each term's covariates of the observation's level).
random_effect_sampler <- function(object) {
  eta0 <- object$eta_fixed
  if (!inherits(object, "glmmgee_glmm_sparse")) {
    Lam <- object$Lambda
    Z <- object$Z
    g <- object$group
    M <- length(object$group_levels)
    q <- ncol(Lam)
    return(function() {
      B <- matrix(stats::rnorm(M * q), M, q) %*% t(Lam)
      eta0 + rowSums(Z * B[g, , drop = FALSE])
    })
  }
  re <- re_structure(object, "simulate")
  tms <- object$reterms
  pos <- cumsum(c(0L, vapply(tms, function(tm) length(tm$cnames), 1L)))
  function() {
    eta <- eta0
    for (k in seq_along(tms)) {
      tm <- tms[[k]]
      q <- length(tm$cnames)
      nl <- length(tm$levels)
      B <- matrix(stats::rnorm(nl * q), nl, q) %*% t(tm$Lambda)
      eta <- eta + rowSums(re$Z[, pos[k] + seq_len(q), drop = FALSE] * B[tm$index, , drop = FALSE])
    }
    eta
  }
}

# How the response was given, so simulations come back in the same form.
response_form <- function(object) {
  y <- stats::model.response(object$model, "any")
  if (is.matrix(y)) return(list(type = "cbind", names = colnames(y)))
  if (is.factor(y)) return(list(type = "factor", levels = levels(y)))
  if (is.logical(y)) return(list(type = "logical"))
  list(type = "numeric")
}

draw_response <- function(object, mu, resp) {
  fam <- object$family
  w <- object$prior.weights
  n <- length(mu)
  switch(fam$family,
    gaussian = stats::rnorm(n, mu, object$sigma / sqrt(w)),
    poisson = stats::rpois(n, mu),
    nbinom2 = stats::rnbinom(n, size = fam$theta, mu = mu),
    Gamma = {
      shape <- object$family_par$estimate * w
      stats::rgamma(n, shape = shape, rate = shape / mu)
    },
    nbinom1 = stats::rnbinom(n, size = mu / fam$phi, mu = mu),
    beta = stats::rbeta(n, mu * fam$phi, (1 - mu) * fam$phi),
    binomial = , betabinomial = {
      mu <- binlog_cap_mean(mu)
      if (fam$family == "betabinomial") mu <- stats::rbeta(n, mu * fam$phi, (1 - mu) * fam$phi)
      s <- stats::rbinom(n, round(w), mu)
      switch(resp$type,
        cbind = {
          m <- cbind(s, round(w) - s)
          colnames(m) <- resp$names
          m
        },
        factor = factor(resp$levels[s + 1L], levels = resp$levels),
        logical = s > 0,
        ifelse(w > 0, s / pmax(round(w), 1), 0))
    },
    stop(sprintf("simulate() does not support the %s family", fam$family), call. = FALSE))
}

check_nsim <- function(nsim) {
  if (!is.numeric(nsim) || length(nsim) != 1L || is.na(nsim) || nsim < 1 || nsim != round(nsim))
    stop("'nsim' must be a whole number >= 1", call. = FALSE)
}

# The seed convention of stats' simulate() methods: with `seed` NULL the
# current stream is used and its state is the "seed" attribute; with a
# seed, set.seed(seed) is used and the caller's stream is to be restored
# from `old` on exit (by the caller: on.exit() acts in its own frame).
simulate_seed <- function(seed) {
  if (!exists(".Random.seed", envir = globalenv(), inherits = FALSE)) stats::runif(1)
  if (is.null(seed)) return(list(rng = get(".Random.seed", envir = globalenv())))
  old <- get(".Random.seed", envir = globalenv())
  set.seed(seed)
  list(rng = structure(seed, kind = as.list(RNGkind())), old = old)
}
