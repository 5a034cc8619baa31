# confint(method = "boot") for glmm fits: the parametric bootstrap of
# lme4's bootMer()/confint.merMod(method = "boot"). Responses are drawn from
# the fitted model by simulate() (new random effects), the model is refitted
# to each by its own call (same formula, family, REML, nAGQ, weights,
# offset), and the intervals are boot::boot.ci()'s on the same parameters,
# scale and names as the Wald and profile intervals (profile_targets()).

# The fits whose refits this bootstrap reproduces: normal random effects
# fitted in memory by glmm(), one grouping factor or several terms, every
# family simulate() draws, REML or ML. The others are refused by name
# rather than refitted by a route that would drop part of the model.
check_boot_fit <- function(fit) {
  # (the other methods named as the fit offers them: a cumulative link fit
  # refuses "profile" too)
  require_capability(fit, "bootstrap", "confint(method = \"boot\")",
                     if (has_capability(fit, "confint_profile"))
                       "use method = \"Wald\" or \"profile\"" else "use method = \"Wald\"")
  if (is.null(fit$call) || is.null(fit$model))
    stop("confint(method = \"boot\") refits the model by its call: this fit has no call or model frame (a matrix-level fit?)",
         call. = FALSE)
  invisible(fit)
}

check_boot_args <- function(nsim, boot.type, parallel, ncpus) {
  if (!is.numeric(nsim) || length(nsim) != 1L || !is.finite(nsim) || nsim < 2 || nsim != round(nsim) ||
      nsim > .Machine$integer.max)
    stop("'nsim' must be a whole number of bootstrap samples, at least 2", call. = FALSE)
  if (!is.numeric(ncpus) || length(ncpus) != 1L || !is.finite(ncpus) || ncpus < 1 || ncpus != round(ncpus) ||
      ncpus > .Machine$integer.max)
    stop("'ncpus' must be a whole number >= 1", call. = FALSE)
  if (!is.character(boot.type) || !length(boot.type) || !all(boot.type %in% c("perc", "basic", "norm")) ||
      (length(boot.type) > 1L && !identical(boot.type, c("perc", "basic", "norm"))))
    stop("'boot.type' must be one of \"perc\", \"basic\" or \"norm\"", call. = FALSE)
  if (!is.character(parallel) || !length(parallel) || !all(parallel %in% c("no", "multicore", "snow")) ||
      (length(parallel) > 1L && !identical(parallel, c("no", "multicore", "snow"))))
    stop("'parallel' must be \"no\", \"multicore\" or \"snow\"", call. = FALSE)
  invisible(NULL)
}

# A function refitting the model to a simulated response (in the form
# simulate() gives it), by the fit's call with the response replaced by a
# column of the data. The data are the fit's own rows (subset and
# na.action already applied) of the data it was fitted to, or, when these
# cannot be found, its model frame, or (a fit without `data`) the variables
# where the formula was made; weights and offset come from the model frame.
# The refit of the observed response must reproduce the fit (its
# log-likelihood to 1e-6), which checks that the data found are the fit's.
boot_refitter <- function(fit, what = "confint(method = \"boot\")") {
  mf <- fit$model
  fo <- fit$formula
  env <- environment(fo) %||% globalenv()
  yname <- ".glmmgee_boot_y"
  fo_new <- fo
  fo_new[[2L]] <- as.name(yname)
  call <- frame_call(fit, fo_new)
  rhs_vars <- all.vars(fo[-2L])
  # A formula with `.` would take the observed response's variables among
  # the covariates of the refit (its response is another column): drop
  # those only on the left-hand side.
  lhs_only <- if ("." %in% rhs_vars) setdiff(all.vars(fo[[2L]]), rhs_vars) else character(0)
  datasets <- list(
    function() {
      d <- if (is.null(fit$call$data)) NULL else eval(fit$call$data, env)
      if (!is.data.frame(d)) return(NULL)
      rows <- match(rownames(mf), rownames(d))
      if (anyNA(rows)) return(NULL)
      d[rows, setdiff(names(d), lhs_only), drop = FALSE]
    },
    function() {
      if (!all(rhs_vars %in% names(mf))) return(NULL)
      frame_data(mf)
    },
    # no `data`: the variables where the formula was made, collected (so
    # that socket workers have them); the check below fails if rows were
    # dropped by subset or na.action
    function() {
      if (!is.null(fit$call$data) || "." %in% rhs_vars) return(NULL)
      vals <- lapply(stats::setNames(rhs_vars, rhs_vars), function(v) get0(v, envir = env))
      if (!all(vapply(vals, function(v) !is.null(v) && !is.function(v) && NROW(v) == nrow(mf), TRUE)))
        return(NULL)
      structure(vals, class = "data.frame", row.names = seq_len(nrow(mf)))
    })
  y0 <- stats::model.response(mf, "any")
  make <- function(d) {
    function(y) {
      d[[yname]] <- y
      cl <- call
      cl$data <- d
      eval(cl, env)
    }
  }
  why <- NULL
  for (get_data in datasets) {
    d <- tryCatch(get_data(), error = function(e) NULL)
    if (is.null(d)) next
    rf <- make(d)
    f0 <- tryCatch(suppressWarnings(suppressMessages(rf(y0))), error = function(e) {
      why <<- why %||% conditionMessage(e)
      NULL
    })
    if (!is.null(f0) && isTRUE(abs(as.numeric(logLik(f0)) - as.numeric(logLik(fit))) <=
                                 1e-6 * (1 + abs(as.numeric(logLik(fit))))))
      return(rf)
  }
  stop(what, " could not refit the model to its own response (its data are not visible ",
       "where the model formula was made, or name other rows); refit it where its data are visible",
       if (!is.null(why)) sprintf(" (the refit stopped: %s)", why), call. = FALSE)
}

# One refit: the statistic, the number of warnings it raised, and the
# error message when it failed (NULL statistic). Only errors are caught:
# an interrupt stops the bootstrap.
boot_one <- function(refit, y, stat) {
  nw <- 0L
  msg <- NULL
  res <- tryCatch(withCallingHandlers({
      f <- suppressMessages(refit(y))
      stat(f)
    }, warning = function(w) {
      nw <<- nw + 1L
      msg <<- msg %||% conditionMessage(w)
      invokeRestart("muffleWarning")
    }), error = function(e) structure(conditionMessage(e), class = "boot_fail"))
  out <- list(t = NULL, warn = nw, warning = msg, error = NULL)
  if (inherits(res, "boot_fail")) out$error <- unclass(res)
  else if (any(!is.finite(res))) out$error <- "non-finite estimates"
  else out$t <- res
  out
}

# The parametric bootstrap: nsim responses drawn in this process (so the
# replicates depend on the seed and not on the workers), refitted in
# turn, on forked workers ("multicore") or on socket workers ("snow").
# Returns a "boot" object (boot::boot.ci() takes it) with the failed refits
# dropped and counted.
glmm_param_boot <- function(fit, idx, nsim, seed, parallel, ncpus) {
  check_boot_fit(fit)
  targets <- profile_targets(fit)
  nms <- names(targets)[idx]
  stat <- function(f) {
    tg <- profile_targets(f)
    if (!identical(names(tg), names(targets))) stop("the refit has other parameters")
    vapply(tg[idx], `[[`, 0, "estimate")
  }
  t0 <- vapply(targets[idx], `[[`, 0, "estimate")
  refit <- boot_refitter(fit)
  sims <- simulate(fit, nsim = nsim, seed = seed)
  one <- function(k) boot_one(refit, sims[[k]], stat)
  if (parallel == "no" || ncpus <= 1L) {
    res <- lapply(seq_len(nsim), one)
  } else if (parallel == "multicore" && .Platform$OS.type != "windows") {
    res <- parallel::mclapply(seq_len(nsim), one, mc.cores = ncpus)
  } else {
    cl <- parallel::makePSOCKcluster(ncpus)
    on.exit(parallel::stopCluster(cl), add = TRUE)
    res <- parallel::parLapply(cl, seq_len(nsim), one)
  }
  bad <- !vapply(res, function(r) is.list(r) && !is.null(r$t), TRUE)
  warned_runs <- sum(vapply(res, function(r) is.list(r) && r$warn > 0L, TRUE))
  errs <- unique(unlist(lapply(res[bad], function(r) if (is.list(r)) r$error else as.character(r))))
  warns <- unique(unlist(lapply(res, function(r) if (is.list(r)) r$warning)))
  tt <- do.call(rbind, lapply(res[!bad], `[[`, "t"))
  if (is.null(tt)) tt <- matrix(NA_real_, 0L, length(idx))
  tt <- matrix(tt, ncol = length(idx), dimnames = list(NULL, nms))
  structure(list(t0 = t0, t = tt, R = nrow(tt), data = fit$model, seed = attr(sims, "seed"),
                 statistic = stat, sim = "parametric", call = match.call(),
                 ran.gen = "simulated by simulate()", mle = NULL, strata = rep(1, nrow(fit$model)),
                 weights = rep(1, nrow(fit$model)) / nrow(fit$model), stype = "i"),
            class = "boot", boot.fail = sum(bad), boot.warn = warned_runs,
            boot.errors = errs, boot.warnings = warns)
}

# The intervals of a "boot" object from glmm_param_boot(), one row per
# parameter; a parameter that did not vary over the replicates (a variance
# at zero in every refit) gets that value at both ends.
boot_intervals <- function(bt, level, type) {
  key <- c(perc = "percent", basic = "basic", norm = "normal")[[type]]
  a <- (1 - level) / 2
  ci <- t(vapply(seq_along(bt$t0), function(j) {
    tj <- bt$t[, j]
    tj <- tj[is.finite(tj)]
    if (length(tj) < 2L || !is.finite(bt$t0[j])) return(c(NA_real_, NA_real_))
    if (diff(range(tj)) == 0) return(rep(if (type == "perc") tj[1L] else 2 * bt$t0[j] - tj[1L], 2L))
    ci <- suppressWarnings(boot::boot.ci(bt, conf = level, type = type, index = j))
    out <- ci[[key]]
    out[length(out) - 1:0]
  }, numeric(2)))
  dimnames(ci) <- list(names(bt$t0), percent_labels(c(a, 1 - a)))
  ci
}

confint_boot <- function(object, idx, level, nsim, boot.type, seed, parallel, ncpus) {
  check_boot_args(nsim, boot.type, parallel, ncpus)
  boot.type <- match.arg(boot.type, c("perc", "basic", "norm"))
  parallel <- match.arg(parallel, c("no", "multicore", "snow"))
  bt <- glmm_param_boot(object, idx, as.integer(nsim), seed, parallel, as.integer(ncpus))
  nfail <- attr(bt, "boot.fail")
  nwarn <- attr(bt, "boot.warn")
  if (nfail >= nsim - 1L)
    stop(sprintf("confint(method = \"boot\"): %d of %d refits failed (%s)", nfail, nsim,
                 paste(utils::head(attr(bt, "boot.errors"), 3L), collapse = "; ")), call. = FALSE)
  first <- function(x) paste(utils::head(x, 2L), collapse = "; ")
  if (nfail > 0L || nwarn > 0L)
    warning(paste0("confint(method = \"boot\"): ",
                   if (nfail) sprintf("%d of %d bootstrap refits failed and were dropped (%s); the intervals are from the other %d",
                                      nfail, nsim, first(attr(bt, "boot.errors")), nsim - nfail),
                   if (nfail && nwarn) "; ",
                   if (nwarn) sprintf("%d refit(s) gave warnings and were kept (%s)",
                                      nwarn, first(attr(bt, "boot.warnings")))),
            call. = FALSE)
  ci <- boot_intervals(bt, level, boot.type)
  structure(ci, boot.fail = nfail, boot.warn = nwarn)
}
