# The main side of distributed fitting: a stand-in for the one-factor
# engine whose evaluations are sums over shards held by the workers of a
# `parallel` cluster (workers-worker.R). The optimizer (optimize-glmm.R) talks
# to it through agq_eval() and agq_set_nagq(), exactly as to the in-process
# engine.
#
# Shard s lives on worker ((s - 1) %% W) + 1. Every round sends the same
# small call to each worker (the parameters) and receives one small result
# per shard; sums run over shards in shard order, so the result does not
# depend on the number of workers.

agq_eval <- function(eng, theta, gradient) {
  if (inherits(eng, "glmmgee_penalized_engine"))  # penalty-aux.R
    return(add_aux_penalty(agq_eval(eng$inner, theta, gradient), eng$pen, theta, gradient))
  r <- if (inherits(eng, "glmmgee_shard_engine")) shard_eval(eng, theta, gradient)
       else if (inherits(eng, "glmmgee_xmap_engine")) xmap_eval(eng, theta, gradient)
       else if (inherits(eng, "glmmgee_two_part_engine")) cpp_two_part_eval(eng, theta, gradient)
       else cpp_agq_eval(eng, theta, gradient)
  progress_tick(r$loglik, r)  # progress.R
}

# agq_eval() with the gradient and each cluster's score ($scores) from the
# same pass, for the in-process engines (scores_ev()).
agq_eval_scores <- function(eng, theta) {
  r <- if (inherits(eng, "glmmgee_xmap_engine")) xmap_eval_scores(eng, theta)
       else if (inherits(eng, "glmmgee_two_part_engine")) cpp_two_part_eval_scores(eng, theta)
       else cpp_agq_eval_scores(eng, theta)
  progress_tick(r$loglik, r)
}

agq_set_nagq <- function(eng, nAGQ) {
  if (inherits(eng, "glmmgee_penalized_engine") || inherits(eng, "glmmgee_xmap_engine"))
    agq_set_nagq(eng$inner, nAGQ)
  else if (inherits(eng, "glmmgee_shard_engine")) {
    eng$nagq_now <- nAGQ
    invisible(shard_round(eng, "nagq", list(nAGQ = nAGQ)))
  } else if (inherits(eng, "glmmgee_two_part_engine")) cpp_two_part_set_nagq(eng, nAGQ)
  else cpp_agq_set_nagq(eng, nAGQ)
}

shard_eval <- function(eng, theta, gradient) {
  res <- shard_round(eng, "eval", list(theta = theta, gradient = gradient))
  fails <- 0L
  for (r in res) fails <- fails + r$newton_failures
  list(loglik = dd_total(lapply(res, function(r) list(hi = r$loglik_dd[1L], lo = r$loglik_dd[2L]))),
       gradient = if (gradient)
         dd_total(lapply(res, function(r) list(hi = r$gradient_dd[, 1L], lo = r$gradient_dd[, 2L])))
       else numeric(0),
       newton_failures = fails)
}

# A new stand-in engine on cluster `cl` with S shards. `reload(ids, w)`
# (set by the caller) loads the listed shards onto worker w, from the data
# in memory or by reading the shard files; the shards of a worker that dies
# move to the others through it.
shard_engine <- function(cl, S, reload = NULL) {
  check_workers(cl)
  eng <- new.env(parent = emptyenv())
  eng$cl <- cl
  eng$S <- S
  eng$W <- length(cl)
  # A key unique to this fit, without touching the user's random seed.
  .dist_state$fits <- (.dist_state$fits %||% 0) + 1
  eng$key <- sprintf("fit_%d_%d_%s", Sys.getpid(), .dist_state$fits, format(Sys.time(), "%H%M%OS6"))
  eng$info <- worker_info(cl)
  # Workers that did not respond at the start take no shard.
  eng$alive <- eng$info$alive
  live <- which(eng$alive)
  eng$home <- live[((seq_len(S) - 1L) %% length(live)) + 1L]
  eng$reload <- reload
  eng$rounds <- 0L
  eng$bytes_out <- 0
  eng$bytes_in <- 0
  eng$moved <- character()
  eng$traffic <- list()
  class(eng) <- "glmmgee_shard_engine"
  eng
}

check_workers <- function(cl) {
  if (!inherits(cl, "cluster") || !length(cl))
    stop("'workers' must be a cluster from parallel::makeCluster() or parallelly::makeClusterPSOCK()",
         call. = FALSE)
  invisible(cl)
}

# Process id and host of each worker, to name one that fails; loading the
# package on the workers here too (a missing installation is reported now).
# Each worker is asked on its own, so that a worker whose process has ended
# (killed, or lost in an earlier fit on the same cluster) is told apart from
# one that answers with an error: the first is left out of the fit with a
# warning (its shards go to the others, as when a worker dies during a fit),
# the second is an error naming it and what it said.
worker_info <- function(cl) {
  send <- utils::getFromNamespace("sendCall", "parallel")
  recv <- utils::getFromNamespace("recvResult", "parallel")
  W <- length(cl)
  probe <- function() {
    loadNamespace("glmmgee")
    c(pid = Sys.getpid(), host = Sys.info()[["nodename"]])
  }
  lost <- rep(NA_character_, W)
  res <- vector("list", W)
  for (w in seq_len(W))
    lost[w] <- tryCatch({ send(cl[[w]], probe, list()); NA_character_ },
                        error = function(e) conditionMessage(e))
  for (w in which(is.na(lost)))
    res[w] <- list(tryCatch(recv(cl[[w]]), error = function(e) {
      lost[w] <<- conditionMessage(e)
      NULL
    }))
  failed <- which(is.na(lost) & vapply(res, inherits, TRUE, "try-error"))
  if (length(failed))
    stop(sprintf("the workers could not load glmmgee (is it installed in their library?): worker %d answered: %s",
                 failed[1L], trimws(sub("^Error[^:]*: ", "", as.character(res[[failed[1L]]])))),
         call. = FALSE)
  ok <- is.na(lost)
  if (!any(ok))
    stop(sprintf("no worker of the cluster responds (%s: %s): their processes have ended or their connections are closed; start a new cluster with parallel::makeCluster()",
                 if (W == 1L) "worker 1" else sprintf("workers 1 to %d", W), lost[1L]),
         call. = FALSE)
  if (!all(ok))
    warning(sprintf("%s of the cluster did not respond (%s): its process has ended or its connection is closed; the fit runs on the %d other worker(s)",
                    paste(sprintf("worker %d", which(!ok)), collapse = ", "), lost[!ok][1L],
                    sum(ok)), call. = FALSE)
  data.frame(worker = seq_len(W),
             pid = vapply(res, function(r) if (is.null(r)) NA_integer_ else as.integer(r[["pid"]]), 1L),
             host = vapply(res, function(r) if (is.null(r)) NA_character_ else r[["host"]], ""),
             alive = ok, stringsAsFactors = FALSE)
}

worker_label <- function(eng, i)
  if (is.na(eng$info$pid[i])) sprintf("worker %d", i) else
    sprintf("worker %d (pid %d on %s)", i, eng$info$pid[i], eng$info$host[i])

# Puts shards `ids` on their workers and builds their engines there:
# eng$reload(ids, w) does it for worker w (shipping data held here, or
# having the worker read the shard files).
# A worker that dies while loading moves its shards on, as in a round; an
# error from a live worker (bad data) is the caller's.
shard_load <- function(eng, ids) {
  homes <- eng$home[ids]  # before any move (moved shards are loaded by move_shards())
  for (w in sort(unique(homes))) {
    mine <- ids[homes == w]
    if (!eng$alive[w]) next
    lost <- tryCatch({ eng$reload(mine, w); NULL }, error = function(e)
      if (worker_responds(eng$cl[[w]])) stop(e) else conditionMessage(e))
    if (!is.null(lost)) move_shards(eng, w, lost)
  }
  invisible(eng)
}

# Whether a worker still answers (a trivial call and its result).
worker_responds <- function(node) {
  send <- utils::getFromNamespace("sendCall", "parallel")
  recv <- utils::getFromNamespace("recvResult", "parallel")
  tryCatch({
    send(node, function() TRUE, list())
    isTRUE(recv(node))
  }, error = function(e) FALSE)
}

# Frees the fit's shards on every live worker.
shard_free <- function(eng) {
  for (w in which(eng$alive))
    try(parallel::clusterCall(eng$cl[w], on_worker_drop, eng$key), silent = TRUE)
  invisible()
}

# The sum over shards of one field of a round's per-shard results (in shard
# order, so the sum does not depend on which worker holds which shard).
sum_shards <- function(res, field) {
  out <- res[[1L]][[field]]
  for (r in res[-1L]) out <- out + r[[field]]
  out
}

# The engine's `reload(ids, w)`: the shards `ids` (from `get(ids)`, a list
# in the order of `ids`) loaded on the workers `w` as shards of `kind`
# (on_worker_shard_engines).
shard_reloader <- function(eng, get, spec, kind) {
  function(ids, w) {
    data <- get(ids)
    names(data) <- as.character(ids)
    parallel::clusterCall(eng$cl[w], on_worker_load, eng$key, data, spec, kind)
  }
}

# One round: `op` on every shard, the per-shard results in shard order.
# Sends first and then receives from every worker (they compute at the same
# time); a worker that fails is named. If the shards can be reloaded, a dead
# worker's shards move to the live ones and the round is repeated.
shard_round <- function(eng, op, args = list()) {
  repeat {
    res <- shard_round_once(eng, op, args)
    if (!is.null(res)) return(res)
  }
}

# What each round sends as its function: a stub that finds the worker side
# in the package's namespace there, so that a round carries ~0.4 kB to each
# worker instead of the serialized on_worker_run() (~2.5 kB).
round_stub <- function(...) asNamespace("glmmgee")$on_worker_run(...)

shard_round_once <- function(eng, op, args) {
  send <- utils::getFromNamespace("sendCall", "parallel")
  recv <- utils::getFromNamespace("recvResult", "parallel")
  live <- which(eng$alive)
  failed <- stats::setNames(rep(NA_character_, eng$W), seq_len(eng$W))
  out <- vector("list", eng$W)
  payload <- list(eng$key, op, args)
  sent <- length(live) * length(serialize(list(round_stub, payload), NULL))
  eng$bytes_out <- eng$bytes_out + sent
  withCallingHandlers({
    for (w in live)
      failed[w] <- tryCatch({ send(eng$cl[[w]], round_stub, payload); NA_character_ },
                            error = function(e) conditionMessage(e))
    for (w in live[is.na(failed[live])])
      out[w] <- list(tryCatch(recv(eng$cl[[w]]), error = function(e) {
        failed[w] <<- conditionMessage(e)
        NULL
      }))
  }, interrupt = function(e) stop_workers(eng))
  eng$rounds <- eng$rounds + 1L
  for (w in live[is.na(failed[live])]) {
    r <- out[[w]]
    if (inherits(r, "try-error"))
      stop(sprintf("%s failed: %s", worker_label(eng, w),
                   trimws(sub("^Error[^:]*: ", "", as.character(r)))), call. = FALSE)
  }
  dead <- live[!is.na(failed[live])]
  if (length(dead)) {
    move_shards(eng, dead, failed[dead])
    return(NULL)
  }
  res <- unlist(out[live], recursive = FALSE)
  got <- length(serialize(res, NULL))
  eng$bytes_in <- eng$bytes_in + got
  # Traffic by operation: the evaluations' share is what grows with the
  # number of iterations.
  eng$traffic[[op]] <- (eng$traffic[[op]] %||% c(rounds = 0, sent = 0, received = 0)) +
    c(1, sent, got)
  res <- res[as.character(seq_len(eng$S))]
  if (anyNA(names(res))) stop("the workers returned an incomplete set of shards", call. = FALSE)
  res
}

# A worker whose connection failed: without a way to reload its shards, a
# clear error naming it; otherwise its shards move to the live workers (read
# again there) and the fit continues. Their engines start afresh, so the
# modes' warm starts are lost: the next evaluations agree with the
# uninterrupted ones to the mode search's tolerance, not bitwise.
move_shards <- function(eng, dead, why) {
  eng$alive[dead] <- FALSE
  who <- paste(vapply(dead, function(w) worker_label(eng, w), ""), collapse = ", ")
  if (is.null(eng$reload) || !any(eng$alive))
    stop(sprintf("%s stopped responding during the distributed fit (%s); its shards are lost. Start a new cluster and fit again%s",
                 who, why[1L],
                 if (is.null(eng$reload)) "" else " (no live worker is left to take its shards)"),
         call. = FALSE)
  live <- which(eng$alive)
  lost <- which(eng$home %in% dead)
  eng$home[lost] <- live[((seq_along(lost) - 1L) %% length(live)) + 1L]
  tryCatch(shard_load(eng, lost), error = function(e)
    stop(sprintf("%s stopped responding during the distributed fit (%s), and its shards could not be reloaded on the other workers: %s",
                 who, why[1L], conditionMessage(e)), call. = FALSE))
  eng$moved <- c(eng$moved, sprintf("%s stopped responding; its shard(s) %s were reloaded on worker(s) %s",
                                    who, paste(lost, collapse = ", "),
                                    paste(unique(eng$home[lost]), collapse = ", ")))
  # Bring the reloaded engines to the quadrature setting of the others.
  if (!is.null(eng$nagq_now)) shard_round(eng, "nagq", list(nAGQ = eng$nagq_now))
  invisible()
}

# An interrupt while the workers compute: the workers are stopped (killed
# by process id where they run on this machine, their connections closed
# otherwise), since their pending results would desynchronize the cluster.
stop_workers <- function(eng) {
  here <- Sys.info()[["nodename"]]
  for (w in which(eng$alive)) {
    if (eng$info$host[w] %in% c(here, "localhost")) try(tools::pskill(eng$info$pid[w]), silent = TRUE)
    try(close(eng$cl[[w]]$con), silent = TRUE)
  }
  eng$alive[] <- FALSE
  invisible()
}

check_workers_arg <- function(workers, fun) {
  if (is.null(workers)) return(NULL)
  if (!inherits(workers, "cluster") || !length(workers))
    stop(sprintf("%s(): 'workers' must be NULL or a cluster from parallel::makeCluster() or parallelly::makeClusterPSOCK() (not %s)",
                 fun, class(workers)[1L]), call. = FALSE)
  workers
}
