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
#' weights a proportion; the rows are those of the model frame. A factor
#' or logical response fitted with prior weights other than 1 gives the
#' proportion of successes out of the weight's trials (numeric), as
#' `lme4::simulate.merMod()` does for a logical response: the fit reads
#' such a row as that many trials. Binomial prior weights that are not
#' whole numbers are an error (a number of trials cannot be drawn from);
#' rows of weight 0 are simulated as 0.
#'
#' A known-covariance term (`covariance = list(id = K)` of [glmm()]) draws
#' its new random effects jointly over the rows of `K`,
#' \eqn{b \sim N(0, \sigma^2 K)}{b ~ N(0, s^2 K)}, from a factor of `K`
#' (the fit's own, or a Cholesky or, for a semidefinite `K`, an eigen
#' factor).
#'
#' @param object A fit from [glmm()].
#' @param nsim Number of simulations.
#' @param seed As in [stats::simulate()]: `NULL`, or an integer passed to
#'   [set.seed()] (the random-number state is restored afterwards).
#' @param re.form `NA` (or `~0`): new random effects; `NULL`: the predicted
#'   ones.
#' @param newdata Optional data frame: simulate responses for its rows
#'   instead of the fitted rows, as `lme4::simulate.merMod(newdata = )`. The
#'   fixed part and offsets are those of [predict()] on `newdata`. With
#'   `re.form = NA` new random effects are drawn for every level of each
#'   grouping factor present in `newdata` (whether or not it was in the fit);
#'   with `re.form = NULL` the levels seen in the fit keep their predicted
#'   random effects, and levels not seen are an error naming them unless
#'   `allow.new.levels = TRUE`, which draws new random effects for them from
#'   the fitted distribution (lme4 gives them zero instead). Rows with missing
#'   values give `NA`, except a missing grouping label, which is an error
#'   unless `allow.new.levels = TRUE` (then its random effects are zero, as
#'   in [predict()]).
#' @param allow.new.levels (An error without `newdata`.) With `newdata`
#'   and `re.form = NULL`: draw random
#'   effects for grouping levels not in the fit (`TRUE`) or stop (`FALSE`).
#'   With `newdata` and either `re.form`: `TRUE` gives rows with a missing
#'   grouping label random effects of zero, `FALSE` stops.
#' @param weights With `newdata`: prior weights of its rows (for binomial,
#'   the numbers of trials). By default the fit's `weights` argument
#'   evaluated in `newdata` when its variables are there, times, for a
#'   binomial response given as `cbind(successes, failures)`, the totals of
#'   that response evaluated in `newdata` when its columns are there;
#'   otherwise 1.
#' @param na.action With `newdata`: [na.pass()] (the default: rows with
#'   missing values give `NA`), [na.omit()] or [na.exclude()]. Without
#'   `newdata`, as lme4: [na.exclude()] gives the rows the fit dropped for
#'   missing values as `NA` rows in their places; the others give the
#'   fitted rows.
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return A data frame with `nsim` columns `sim_1`, `sim_2`, ..., a row
#'   per fitted row (or per row of `newdata`), and the
#'   attribute `"seed"`: the `seed` argument with the RNG kind, or the
#'   value of `.Random.seed` before the simulation.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   sims <- simulate(fit, nsim = 2, seed = 1)
#'   head(sims$sim_1)
#'   # a new herd of 20 animals in each period, with its own random effect
#'   nd <- data.frame(period = factor(1:4), herd = "new", incidence = 0, size = 20)
#'   simulate(fit, nsim = 2, seed = 1, newdata = nd, re.form = NULL,
#'            allow.new.levels = TRUE)
#' }
#' @importFrom stats simulate
#' @export
simulate.glmmgee_glmm <- function(object, nsim = 1, seed = NULL, re.form = NA, newdata = NULL,
                                  allow.new.levels = FALSE, weights = NULL,
                                  na.action = stats::na.pass, ...) {
  check_dots(..., .method = "simulate.glmmgee_glmm", .allow = "use.u")
  if ("use.u" %in% ...names()) re.form <- use_u_re_form(list(...)$use.u, !missing(re.form))
  check_nsim(nsim)
  new_re <- simulate_new_re(re.form)
  if (!is.null(newdata))
    return(simulate_newdata(object, nsim, seed, new_re, newdata, allow.new.levels, weights,
                            na.action))
  if (!is.null(weights))
    stop("'weights' is for simulations at 'newdata'; those of the fitted rows are the fit's prior weights",
         call. = FALSE)
  refuse_unused(c(allow.new.levels = !missing(allow.new.levels)), "simulate() without 'newdata'",
                "simulations at 'newdata'; the fitted rows have no new levels")
  if (new_re) require_capability(object, "simulate_new_re", "simulate()", "use re.form = NULL")
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
  out <- structure(sims, class = "data.frame", row.names = rn, seed = rng)
  if (missing(na.action)) out else simulate_dropped_rows(object, out, na.action)
}

# lme4's simulate(na.action = ) without newdata (bootMer() passes
# na.exclude): under na.exclude the rows the fit dropped for missing values
# come back as NA rows in their places; under na.omit or na.pass the result
# has the fitted rows only.
simulate_dropped_rows <- function(object, sims, na.action) {
  omit <- object$na.action
  if (!length(omit)) return(sims)
  na.action <- match.fun(na.action)
  if (!inherits(attr(na.action(c(1, NA)), "na.action"), "exclude")) return(sims)
  class(omit) <- "exclude"
  rn <- names(stats::napredict(omit, stats::setNames(seq_len(nrow(sims)), rownames(sims))))
  structure(lapply(sims, function(s) stats::napredict(omit, s)), class = "data.frame",
            row.names = rn, seed = attr(sims, "seed"))
}

# simulate() draws responses for the rows the model was fitted to. A
# `newdata` argument fell into `...` and was ignored without a word, so a
# user asking for simulations at new covariate values got the fitted
# rows' instead: refused by name.
simulate_refuse_newdata <- function(object, dots) {
  if ("newdata" %in% names(dots))
    require_capability(object, "simulate_newdata", "simulate(newdata = )",
                       "use predict(newdata = ) for the means at 'newdata'")
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
# several terms, each term's covariates of the observation's level); a
# known-covariance term's b ~ N(0, s^2 K) over the rows of K, from a factor
# of K found once (known_term_factors(), simulate-known.R).
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
  kfac <- known_term_factors(object)
  function() {
    eta <- eta0
    for (k in seq_along(tms)) {
      tm <- tms[[k]]
      if (!is.null(kfac[[k]])) {
        eta <- eta + known_term_draw(kfac[[k]], tm$Lambda[1L])[tm$index]
        next
      }
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

# Binomial prior weights are numbers of trials (times the totals of a
# cbind() response): a simulation draws whole numbers of successes, so
# non-integer weights are refused, as by lme4's simulate.merMod(), not
# rounded (0.4 trials drew 0 successes every time). Rows of weight 0 are
# not in the model and are passed. Shared by the glmm and gee methods.
check_whole_trials <- function(w) {
  pos <- w[w > 0]
  if (any(abs(pos - round(pos)) > 1e-8))
    stop("simulate(): cannot simulate from non-integer prior weights ('weights'); for a binomial model they are numbers of trials",
         call. = FALSE)
  invisible(w)
}

# A binomial draw is a number of successes s out of round(w) trials. It is
# returned as the response was given: cbind(s, w - s); a factor or logical
# when every positive weight is 1 (a binary response); otherwise s / w, as
# lme4's simulate.merMod() does for a weighted logical response (a factor
# or logical of s > 0 gave NA levels and too many TRUE at weights > 1).
# Rows of weight 0 get 0 successes (0 as a proportion), which they
# contribute nothing to in a refit.
draw_response <- function(object, mu, resp, w = object$prior.weights) {
  fam <- object$family
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
      check_whole_trials(w)
      trials <- round(w)
      s <- stats::rbinom(n, trials, mu)
      binary <- resp$type %in% c("factor", "logical") && positive_weights_one(w)
      if (resp$type == "cbind") {
        m <- cbind(s, trials - s)
        colnames(m) <- resp$names
        m
      } else if (binary && resp$type == "factor") {
        factor(resp$levels[s + 1L], levels = resp$levels)
      } else if (binary) {
        s > 0
      } else {
        ifelse(trials > 0, s / pmax(trials, 1), 0)
      }
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
