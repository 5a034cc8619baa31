# Control constructors: one per model, each validating its own arguments.

#' Control settings for gee()
#'
#' Settings of the Fisher-scoring iterations of [gee()] and [gee_fit()].
#' Every argument is checked; an unknown name is an error, so a misspelt
#' setting is never silently ignored.
#'
#' Iterations stop when the largest relative change
#' \eqn{|\Delta\theta| / (1 + |\theta|)} over the regression coefficients,
#' the correlation parameters and the scale is at most `epsilon`.
#'
#' @param epsilon positive convergence tolerance (see Details).
#' @param maxit maximum number of scoring iterations (a positive whole number).
#' @param trace logical: print the relative change, scale and first
#'   correlation parameter at each iteration?
#' @param threads number of OpenMP threads for the loops over clusters. The
#'   results are the same for every thread count (sums over clusters are
#'   formed in fixed blocks and added in a fixed order). More threads than
#'   the machine's processors are reduced to that number, with a message; in
#'   a forked child process (e.g. under [parallel::mclapply()]) the engine
#'   always runs one thread, since OpenMP's threads do not survive a fork.
#' @param workers a cluster of R processes from [parallel::makeCluster()]
#'   or [parallelly::makeClusterPSOCK()], or `NULL` (fit in this process).
#'   With a cluster, the clusters of the data are split into `shards`
#'   shards of whole clusters held by the workers, and every step of the
#'   scoring iterations, the correlation moments and the variance estimators
#'   are sums over shards taken in shard order: the fit is the same for any
#'   number of workers and equals the in-process fit to rounding. Every
#'   `corstr` and every `std.err` except `"fij"` (which refits once per
#'   cluster) is distributed; `nbinom2()` is not. glmmgee must be installed
#'   on the workers. See `vignette("distributed", package = "glmmgee")`.
#' @param shards number of shards when `workers` is given (fixed, not tied
#'   to the number of workers, so that results do not depend on it).
#' @param progress report the progress of a long fit (the stage and the
#'   time spent, as messages): `TRUE` (after the first 2 seconds), `FALSE`,
#'   a number of seconds before the first line, or `NULL` (the default): the
#'   option `glmmgee.progress` if set, else `TRUE` in interactive sessions.
#'   See [glmm_control()].
#' @param ... not used: any argument here is an error.
#' @return A list of class `"glmmgee_gee_control"`.
#' @seealso [gee()]
#' @examples
#' gee_control(epsilon = 1e-10, maxit = 100)
#' try(gee_control(maxiter = 10))  # unknown names are rejected
#' @export
gee_control <- function(epsilon = 1e-8, maxit = 50L, trace = FALSE, threads = 1L,
                        workers = NULL, shards = 16L, progress = NULL, ...) {
  dots <- list(...)
  if (length(dots)) {
    nm <- names(dots)
    nm <- if (is.null(nm)) rep("", length(dots)) else nm
    nm[nm == ""] <- "<unnamed>"
    stop(sprintf("gee_control(): unknown argument(s) %s; valid ones are epsilon, maxit, trace, threads, workers, shards, progress",
                 paste(sQuote(nm, FALSE), collapse = ", ")), call. = FALSE)
  }
  if (!is.numeric(epsilon) || length(epsilon) != 1L || !is.finite(epsilon) || epsilon <= 0)
    stop("gee_control(): 'epsilon' must be one positive number", call. = FALSE)
  if (!is.numeric(maxit) || length(maxit) != 1L || !is.finite(maxit) || maxit < 1 ||
      maxit != round(maxit))
    stop("gee_control(): 'maxit' must be one positive whole number", call. = FALSE)
  if (!is.logical(trace) || length(trace) != 1L || is.na(trace))
    stop("gee_control(): 'trace' must be TRUE or FALSE", call. = FALSE)
  threads <- check_threads(threads, "gee_control", "threads")
  if (!is.numeric(shards) || length(shards) != 1L || !is.finite(shards) || shards < 1 ||
      shards != round(shards))
    stop("gee_control(): 'shards' must be one positive whole number", call. = FALSE)
  structure(list(epsilon = as.numeric(epsilon), maxit = as.integer(maxit),
                 trace = trace, threads = as.integer(threads),
                 workers = check_workers_arg(workers, "gee_control"),
                 shards = as.integer(shards), progress = check_progress(progress, "gee_control")),
            class = "glmmgee_gee_control")
}

# Thread counts: a positive whole number; more than the processors OpenMP
# reports is capped with a message (1e5 threads would exhaust the stack or
# libgomp's memory, and oversubscribing a CPU-bound loop gains nothing).
check_threads <- function(x, fun, arg) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) || x < 1 ||
      x != round(x))
    stop(sprintf("%s(): '%s' must be one positive whole number (not %s)", fun, arg,
                 paste(format(x), collapse = ", ")), call. = FALSE)
  mx <- cpp_max_threads()
  if (x > mx) {
    message(sprintf("%s(): '%s' = %s is more than the %d processor%s available; using %d",
                    fun, arg, format(x), mx, if (mx == 1L) "" else "s", mx))
    x <- mx
  }
  as.integer(x)
}

# gee()'s `...` are control settings (gee_control()). An argument of glmm()
# that gee() does not offer (penalized, nAGQ, ...) is named as such, not
# called an unknown control setting.
gee_dots_glmm_only <- function(...) {
  nm <- ...names()
  other <- setdiff(intersect(nm, names(formals(glmm))),
                   c(names(formals(gee_control)), names(formals(gee))))
  if (!length(other)) return(invisible())
  stop(sprintf("gee() has no argument %s: %s of glmm(), not offered by gee()%s",
               paste(sQuote(other, FALSE), collapse = ", "),
               if (length(other) > 1L) "these are arguments" else "an argument",
               if ("penalized" %in% other)
                 paste0(". gee() has no penalized fit: for separated data, remove or merge the ",
                        "separated terms or levels, or fit the conditional model with glmm(..., ",
                        "penalized = TRUE)") else ""), call. = FALSE)
}
