# Progress reports of long fits. A call of glmm(), glmm_fit() or gee() that
# asks for them (control `progress`, by default the session option
# "glmmgee.progress", else interactive()) opens a report; calls made inside
# it (a route that fits twice, a start from a simpler fit) add to the same
# report. The engines' evaluations tick it (progress_tick()), the front ends
# name their stages (progress_stage()). Nothing is printed before `after`
# seconds have passed, so short fits stay silent; later lines come at
# intervals that grow with the time spent (a tenth of it, at least `after`
# seconds), so an hour-long fit prints tens of lines, not thousands.
# `after` = 0 reports every evaluation.
# Lines are messages: suppressMessages() silences them, and they never
# change a result. Refits made by methods (bootstraps) run without_progress().

progress_state <- new.env(parent = emptyenv())
progress_state$active <- FALSE
progress_state$suspended <- 0L

# The seconds before a first report (NULL: no report) from control's
# `progress`: TRUE (2 s), FALSE, a number of seconds, or NULL (the option
# "glmmgee.progress", itself one of these, else interactive()).
progress_after <- function(progress) {
  if (is.null(progress)) {
    progress <- getOption("glmmgee.progress", interactive())
    if (!progress_value_ok(progress))
      stop("the option \"glmmgee.progress\" must be TRUE, FALSE or a number of seconds >= 0 ",
           "before the first report", call. = FALSE)
  }
  if (isTRUE(progress)) 2 else if (is.numeric(progress)) as.numeric(progress)
}

progress_value_ok <- function(x)
  (is.logical(x) && length(x) == 1L && !is.na(x)) ||
    (is.numeric(x) && length(x) == 1L && !is.na(x) && x >= 0 && is.finite(x))

# Validates control's `progress` for the control constructor `fun`.
check_progress <- function(x, fun) {
  if (is.null(x)) return(NULL)
  if (!progress_value_ok(x))
    stop(sprintf("%s(): 'progress' must be TRUE, FALSE, a number of seconds >= 0 before the first report, or NULL (the option \"glmmgee.progress\", else interactive())",
                 fun), call. = FALSE)
  if (is.numeric(x)) as.numeric(x) else x
}

# Opens a report for a fit of `what` (e.g. "glmm") unless one is open or
# reports are suspended. TRUE when this call opened it: the caller closes
# it with progress_end() (on.exit), and only the opener does.
progress_begin <- function(progress, what) {
  if (progress_state$active || progress_state$suspended > 0L) return(FALSE)
  after <- progress_after(progress)
  if (is.null(after)) return(FALSE)
  now <- elapsed_now()
  list2env(list(active = TRUE, what = what, t0 = now, last = now, after = after,
                printed = FALSE, done = FALSE, evals = 0L, loglik = NA_real_,
                stage = "setting up", unit = "evaluation"),
           progress_state)
  TRUE
}

# Closes the report opened by this call (`owner` TRUE): a last line when
# any line was printed or the fit took `after` seconds ("done" when
# progress_done() was called, as a fit returns; "stopped" after an error
# or an interrupt).
progress_end <- function(owner) {
  if (!isTRUE(owner)) return(invisible())
  progress_state$active <- FALSE  # first: a message handler may stop the last line
  if (!progress_state$printed && elapsed_now() - progress_state$t0 < progress_state$after)
    return(invisible())
  progress_line(paste0(if (isTRUE(progress_state$done)) "done" else "stopped",
                       if (progress_state$evals > 0L) paste(" after", progress_count())))
  invisible()
}

# Marks the report opened by this call (`owner` TRUE) as done; returns
# `value` (the fit).
progress_done <- function(value, owner) {
  force(value)  # the fit runs first: an error in it leaves the report "stopped"
  if (isTRUE(owner)) progress_state$done <- TRUE
  value
}

# A new stage of the fit (`label`, e.g. "fitting by the agq engine", which
# also heads the lines of its evaluations), reported as `say` (by default
# the label) once the first `after` seconds have passed. `unit`: what the
# ticks count (evaluations of the log-likelihood, gee's scoring steps).
progress_stage <- function(label, say = label, unit = "evaluation") {
  if (!progress_state$active) return(invisible())
  progress_state$stage <- label
  progress_state$unit <- unit
  if (elapsed_now() - progress_state$t0 >= progress_state$after) progress_line(say)
  invisible()
}

# One evaluation of the log-likelihood (or criterion) `loglik`; reported
# when the interval since the last line has passed. Returns `value`
# (the evaluation's result) so that evaluation wrappers can end with it.
progress_tick <- function(loglik, value = NULL) {
  if (!progress_state$active) return(value)
  progress_state$evals <- progress_state$evals + 1L
  if (length(loglik) == 1L && is.finite(loglik)) progress_state$loglik <- loglik
  now <- elapsed_now()
  t <- now - progress_state$t0
  after <- progress_state$after
  if (t >= after && (after == 0 || now - progress_state$last >= max(after, t / 10)))
    progress_line(sprintf("%s: %s%s", progress_state$stage, progress_count(),
                          if (is.finite(progress_state$loglik))
                            sprintf(", log-likelihood %s",
                                    format(progress_state$loglik, digits = 10, big.mark = ","))
                          else ""))
  value
}

progress_count <- function() {
  k <- progress_state$evals
  sprintf("%d %s%s", k, progress_state$unit, if (k == 1L) "" else "s")
}

progress_line <- function(text) {
  now <- elapsed_now()
  message(sprintf("%s: %.1f s, %s", progress_state$what, now - progress_state$t0, text))
  progress_state$last <- now
  progress_state$printed <- TRUE
}

elapsed_now <- function() proc.time()[["elapsed"]]

# Evaluates `expr` with reports suspended: refits made by a method (a
# bootstrap's) would each open a report of their own.
without_progress <- function(expr) {
  progress_state$suspended <- progress_state$suspended + 1L
  on.exit(progress_state$suspended <- progress_state$suspended - 1L)
  expr
}
