#' Control settings for glmm()
#'
#' Validates the settings of the optimizer and engine used by [glmm()] and
#' [glmm_fit()]. Unknown names are an error, so a misspelt setting is never
#' silently ignored.
#'
#' @param rel.tol Relative convergence tolerance of the log-likelihood,
#'   passed to [stats::nlminb()] (the fallback optimizer); the Newton steps
#'   stop when the Newton decrement falls below `rel.tol / 100` times the
#'   absolute log-likelihood (the last steps, with the Hessian of the
#'   standard errors, at `rel.tol / 1e5`).
#' @param iter.max,eval.max Maximum numbers of optimizer iterations and
#'   function evaluations.
#' @param nthreads Number of OpenMP threads for the loops over clusters (for
#'   several grouping factors: over observations and entries of the sparse
#'   Hessian of the random effects).
#'   Results do not depend on it (partial sums are combined in a fixed order).
#'   More than the machine's processors is reduced to that number with a
#'   message; a forked child process (e.g. under [parallel::mclapply()]) runs
#'   one thread.
#' @param laplace_start For `nAGQ > 1`: first maximize the Laplace
#'   approximation, then refine by quadrature from there (much faster; same
#'   optimum). Zero-inflated and hurdle models with random effects in the
#'   zero part (one grouping factor) use a 3-point quadrature rule for this
#'   first stage instead (when `nAGQ > 3`).
#' @param singular_tol A standard deviation of a random effect (relative to
#'   the residual standard deviation for gaussian models) below this value is
#'   reported as a singular fit. A reporting threshold: it does not change the
#'   estimates (the optimizer holds a standard deviation at zero only below
#'   `min(singular_tol, 1e-4)`). One finite number >= 0.
#' @param grad_tol Convergence is flagged as doubtful when the largest
#'   absolute gradient component of the log-likelihood at the optimum (over
#'   parameters not on a boundary) exceeds this value.
#' @param hessian Compute the Hessian of the marginal log-likelihood (by
#'   forward differences of the analytic gradient) for standard errors.
#' @param trace Print optimizer progress every `trace` iterations (0: never).
#' @param progress Report the progress of a long fit: `TRUE` (a line after
#'   the first 2 seconds, then at intervals of a tenth of the time spent: the
#'   stage, the number of evaluations of the log-likelihood and its last
#'   value), `FALSE`, a number of seconds before the first line (`0`: a
#'   line for every evaluation), or `NULL`
#'   (the default): the option `glmmgee.progress` if set, else `TRUE` in
#'   interactive sessions. Fits shorter than that print nothing. The lines
#'   are messages ([suppressMessages()] silences them) and never change the
#'   result. Refits inside a bootstrap report nothing.
#' @param workers A cluster of R processes from [parallel::makeCluster()] or
#'   `parallelly::makeClusterPSOCK()` (or `NULL`, the default: fit in this
#'   process). With one grouping factor the data are split once, by cluster,
#'   into `shards` shards held by the workers, and every evaluation of the
#'   log-likelihood sends only the parameters out and per-shard sums back;
#'   the estimates equal the in-process fit's. Nested random intercepts
#'   with `nAGQ > 1` (see [glmm-nested]) are split by the outermost factor;
#'   crossed designs are refused. See [glmm_shards()] to fit
#'   from shard files the main process never reads, and
#'   `vignette("distributed", package = "glmmgee")`.
#' @param shards Number of shards the clusters are split into when `workers`
#'   is given: fixed, not tied to the number of workers, so that results are
#'   the same for any number of workers (sums run over shards in shard
#'   order). Capped at the number of clusters.
#' @param importance_draws For several random-effect terms fitted by the
#'   Laplace approximation (crossed, nested, slopes; not gaussian identity-link
#'   models, whose likelihood is exact): `0` (the default) keeps the Laplace
#'   fit; a whole number of at least 100 fits by maximum likelihood of the
#'   importance-sampled log-likelihood with that many draws, which removes
#'   the Laplace approximation's error (see "Beyond the Laplace
#'   approximation" in [glmm-several-terms]). 2,000 to 10,000 draws are typical: the Monte
#'   Carlo standard error of the log-likelihood falls as one over their
#'   square root.
#' @param importance_df Degrees of freedom of the multivariate t proposal
#'   (`Inf` for the Laplace Gaussian itself). Lower values give heavier
#'   tails; with hundreds of random effects whose conditional distributions
#'   are close to normal, `Inf` gives more effective draws.
#' @param importance_seed Seed of the draws (a whole number from 0 to
#'   `.Machine$integer.max`), or `NULL` to take one from the session's
#'   random-number stream; either way the seed used is recorded in the fit
#'   (`fit$importance$seed`) and the session's stream is left as it was,
#'   apart from the one number drawn for the seed. The draws use R's
#'   default generators (Mersenne-Twister, Inversion), whatever the
#'   session's [RNGkind()], recorded in `fit$importance$rng_kind`, so the
#'   seed alone reproduces the fit. `importance_seed` and `importance_df`
#'   need `importance_draws`.
#' @param laplace_order For several random-effect terms fitted by the
#'   Laplace approximation: `1` (the default), or `2` for the second-order
#'   Laplace approximation (Shun and McCullagh 1995), which adds the next
#'   terms of the expansion about the conditional modes: deterministic, and
#'   cheaper than importance sampling for small data, but it visits every
#'   pair of observations at each evaluation (refused above 30,000) and
#'   removes less of the error (see "Beyond the Laplace approximation" in
#'   [glmm-several-terms]).
#' @param ... Not used: any other name is an error.
#' @return A list of class `glmm_control`.
#' @examples
#' glmm_control(nthreads = 2, rel.tol = 1e-12)
#' @export
glmm_control <- function(rel.tol = 1e-10, iter.max = 500L, eval.max = 1000L,
                         nthreads = 1L, laplace_start = TRUE, singular_tol = 1e-4,
                         grad_tol = 1e-3, hessian = TRUE, trace = 0L, workers = NULL,
                         shards = 16L, importance_draws = 0L, importance_df = 20,
                         importance_seed = NULL, laplace_order = 1L, progress = NULL, ...) {
  # The defaults (glmm()'s default argument, evaluated on every fit: 2% of
  # a small REML fit) are the same list every time: made once.
  if (nargs() == 0L && !is.null(control_defaults$glmm)) return(control_defaults$glmm)
  extra <- list(...)
  if (length(extra))
    stop(sprintf("unknown glmm_control() setting(s): %s",
                 paste(if (is.null(names(extra))) "unnamed" else names(extra), collapse = ", ")),
         call. = FALSE)
  num1 <- function(x, nm, lo = 0, whole = FALSE) {
    if (!is.numeric(x) || length(x) != 1L || is.na(x) || x < lo ||
        (whole && (!is.finite(x) || x != round(x))))
      stop(sprintf("glmm_control(): '%s' must be a single %s >= %s", nm,
                   if (whole) "whole number" else "number", lo), call. = FALSE)
    if (whole) as.integer(x) else as.numeric(x)
  }
  finite1 <- function(x, nm) {
    if (!is.finite(x))
      stop(sprintf("glmm_control(): '%s' must be a finite number >= 0", nm), call. = FALSE)
    x
  }
  lg1 <- function(x, nm) {
    if (!is.logical(x) || length(x) != 1L || is.na(x))
      stop(sprintf("glmm_control(): '%s' must be TRUE or FALSE", nm), call. = FALSE)
    x
  }
  ctl <- structure(list(rel.tol = num1(rel.tol, "rel.tol"),
                        iter.max = num1(iter.max, "iter.max", 1, TRUE),
                        eval.max = num1(eval.max, "eval.max", 1, TRUE),
                        nthreads = check_threads(nthreads, "glmm_control", "nthreads"),
                        laplace_start = lg1(laplace_start, "laplace_start"),
                        singular_tol = finite1(num1(singular_tol, "singular_tol"), "singular_tol"),
                        grad_tol = num1(grad_tol, "grad_tol"),
                        hessian = lg1(hessian, "hessian"),
                        trace = num1(trace, "trace", 0, TRUE),
                        workers = check_workers_arg(workers, "glmm_control"),
                        shards = num1(shards, "shards", 1, TRUE),
                        importance_draws = check_importance_draws(importance_draws),
                        importance_df = check_importance_df(importance_df),
                        importance_seed = check_importance_seed(importance_seed),
                        laplace_order = check_laplace_order(laplace_order, importance_draws),
                        progress = check_progress(progress, "glmm_control")),
                   class = "glmmgee_glmm_control")
  # A seed or proposal without draws would change nothing: said, not kept.
  if (ctl$importance_draws == 0L) {
    unused <- c("importance_seed", "importance_df")[c(!missing(importance_seed) && !is.null(importance_seed),
                                                      !missing(importance_df))]
    if (length(unused))
      stop(sprintf("glmm_control(): %s applies only to importance sampling: give 'importance_draws' (100 or more) too, or drop it",
                   paste0("'", unused, "'", collapse = " and ")), call. = FALSE)
  }
  if (nargs() == 0L) control_defaults$glmm <- ctl
  ctl
}

# glmm_control()'s value with every default, once made (nothing in it
# depends on the session: nthreads = 1 is within any machine's processors).
control_defaults <- new.env(parent = emptyenv())

# The standard deviation below which the optimizer holds a random effect at
# zero. Never wider than the default reporting threshold, so that
# `singular_tol` only changes what is reported as singular, not the
# estimates.
optimizer_boundary_tol <- function(control) min(control$singular_tol, 1e-4)

check_importance_draws <- function(x) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x != round(x) ||
      (x != 0 && x < 100) || x > 1e7)
    stop("glmm_control(): 'importance_draws' must be 0 (the Laplace fit) or a whole number of draws between 100 and 1e7",
         call. = FALSE)
  as.integer(x)
}

check_importance_df <- function(x) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x <= 0)
    stop("glmm_control(): 'importance_df' must be a positive number (Inf for a Gaussian proposal)",
         call. = FALSE)
  as.numeric(x)
}

check_importance_seed <- function(x) {
  if (is.null(x)) return(NULL)
  if (!is.numeric(x) || length(x) != 1L || !is.finite(x) || x != round(x) || x < 0 ||
      x > .Machine$integer.max)
    stop(sprintf("glmm_control(): 'importance_seed' must be NULL or one whole number from 0 to %d",
                 .Machine$integer.max), call. = FALSE)
  as.integer(x)
}

check_laplace_order <- function(x, importance_draws) {
  if (!is.numeric(x) || length(x) != 1L || !x %in% c(1, 2))
    stop("glmm_control(): 'laplace_order' must be 1 (the Laplace approximation) or 2 (the second-order one)",
         call. = FALSE)
  if (x == 2 && isTRUE(importance_draws > 0))
    stop("glmm_control(): 'laplace_order' = 2 and 'importance_draws' are two refinements of the Laplace approximation: give one of them",
         call. = FALSE)
  as.integer(x)
}
