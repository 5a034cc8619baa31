#' Fit a GLMM from shard files the workers read
#'
#' The entry for data that never pass through this R process: each shard is
#' a file (a data frame saved by [saveRDS()], a csv file, or parquet read
#' through the nanoparquet package, or arrow when only arrow is installed) that the workers of a `parallel` cluster read
#' where they run. A first pass agrees on what the combined data would give:
#' factor levels (and so the contrasts' columns), rows dropped for missing
#' values (as [na.omit()]), the clusters (each must lie within one file), the
#' rank of the fixed-effects design (its R factor, one small matrix per
#' shard) and the separation check (on the distinct covariate patterns); then
#' the fit runs as with `glmm_control(workers = )`: every evaluation sends the
#' parameters out and receives per-shard sums. The estimates, standard
#' errors and random-effect predictions equal those of [glmm()] on the
#' combined data, also where covariates far from zero are centred by a
#' factor's indicators or within a factor's levels (`0 + f + x`,
#' `0 + x1 + x2 + f`, `f * x`): the workers return the cross-products that
#' centring needs.
#'
#' One grouping factor only (the one-factor engine, Laplace or adaptive
#' quadrature, every family of [glmm()] with a normal random effect). Nested
#' and crossed designs are refused: the likelihood of several grouping factors
#' is not a sum over the shards of one of them.
#'
#' Terms whose values depend on the rows they are computed from are refused,
#' by name: `poly(x, 2)`, `scale(x)`, `splines::ns()`, `splines::bs()` and
#' any other term that [stats::makepredictcall()] rewrites, since each shard would
#' compute its own basis, centre or scale. Compute such a column before
#' writing the shard files, or use a form that does not depend on the data,
#' such as `poly(x, 2, raw = TRUE)` or `I(x^2)`. An expression such as
#' `I(x - mean(x))` is not recognised: it is computed on each shard's rows.
#'
#' The fitted object (class `glmmgee_glmm_sharded`, a `glmmgee_glmm`) holds
#' no data: `summary()`, `coef()`, `vcov()`, `confint()`, `logLik()`,
#' `ranef()` (computed on the workers, a table of clusters), `VarCorr()` and
#' `predict(newdata = )` work as for any glmm fit.
#'
#' What needs the rows runs on the workers, which read the shard files
#' again (the fit records the file list and its cluster; when that cluster
#' has been stopped, give another with `workers =`):
#' [marginal_coefs()] receives from each shard the R factor of its design,
#' working response and Jacobian, a few hundred numbers, and equals the
#' in-memory result. `fitted()`, `residuals()` and `predict()` without
#' `newdata` do not return the rows: each worker writes, beside each shard
#' file, a new file in the same format (`part01.rds` gives
#' `part01_fitted.rds`, see `suffix`) with columns `row` (the row of the
#' shard file; rows dropped for missing values are absent) and the value;
#' they return the paths of these files, with the number of rows of each
#' as attribute `rows`. [standardize()] without `newdata` receives sums per
#' shard (predictions at each value, their Jacobian, the clusters'
#' deviations) and equals the in-memory result; `values` must be given for
#' a numeric or logical variable and `se = "bootstrap"` is refused.
#' `vcov(type = "CR2")` and the other cluster-robust types receive each
#' cluster's score from the shards (a cluster lies within one shard) and
#' equal the in-memory fit's; they serve `summary(vcov = )`,
#' `confint(vcov = )` and the other methods with a `vcov` argument as for
#' any glmm fit.
#' `simulate()` and `update()` are refused with a message saying so.
#'
#' @param formula A two-sided formula with one random-effect term, as in
#'   [glmm()].
#' @param files Paths of the shard files, as the workers see them (shared
#'   storage); one shard per file, in this order.
#' @param family,nAGQ As in [glmm()].
#' @param workers A cluster from [parallel::makeCluster()] or
#'   `parallelly::makeClusterPSOCK()`. For `fitted()`, `residuals()`,
#'   `predict()` and the cluster-robust `vcov()`: a cluster to read the
#'   shards on, when the fit's own has been stopped.
#' @param weights Name of a column of prior weights, or `NULL`.
#' @param format `"rds"`, `"csv"` or `"parquet"`; by default from the files'
#'   extension.
#' @param control [glmm_control()] settings (its `workers` and `shards` are
#'   not used here).
#' @param contrasts A named list of contrasts for factors of the fixed
#'   effects, as in [glmm()] (the same rules and errors, checked against the
#'   levels agreed across the shards; a name that is a column of the files
#'   but no variable of the model is ignored). The workers code their
#'   designs with it; it is stored in `$contrasts` and reused by
#'   `predict(newdata =)`, [standardize()] and [marginal_coefs()]. Factors
#'   not named take `getOption("contrasts")` of this R session, not the
#'   workers' (polynomial contrasts for an ordered factor by default; a
#'   factor is ordered when it is ordered in every file), as in [glmm()].
#' @return A fitted model of class `c("glmmgee_glmm_sharded", "glmmgee_glmm")`
#'   whose `$distributed` records the workers, shards, rounds and bytes sent.
#' @seealso `vignette("distributed", package = "glmmgee")`
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   dir <- tempfile(); dir.create(dir)
#'   part <- split(cbpp, as.integer(cbpp$herd) %% 3)
#'   files <- file.path(dir, paste0("shard", seq_along(part), ".rds"))
#'   for (i in seq_along(part)) saveRDS(part[[i]], files[i])
#'   cl <- parallel::makeCluster(2)
#'   fit <- glmm_shards(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'                      files, binomial, workers = cl)
#'   parallel::stopCluster(cl)
#'   summary(fit)
#' }
#' @export
glmm_shards <- function(formula, files, family = gaussian(), nAGQ = NULL, workers,
                        weights = NULL, format = NULL, control = glmm_control(),
                        contrasts = NULL) {
  mc <- match.call()
  family <- resolve_family(family, parent.frame())
  if (!inherits(formula, "formula") || length(formula) != 3L)
    stop("'formula' must be a two-sided formula such as y ~ x + (1 | g)", call. = FALSE)
  if (!inherits(control, "glmmgee_glmm_control"))
    stop("'control' must come from glmm_control()", call. = FALSE)
  if (missing(workers)) stop("'workers' is missing: give a cluster from parallel::makeCluster()",
                             call. = FALSE)
  check_shard_args(workers, files, "glmm_shards")
  owner <- progress_begin(control$progress, "glmm_shards")  # progress.R
  if (owner) on.exit(progress_end(owner), add = TRUE)
  progress_stage("reading the shards on the workers")
  if (!is.null(weights) && (!is.character(weights) || length(weights) != 1L))
    stop("'weights' must be the name of a column (one string) or NULL", call. = FALSE)
  format <- shard_format(files, format)
  gname <- shard_group_name(formula)
  fenv <- environment(formula) %||% parent.frame()
  frame_formula <- reformulas::subbars(formula)
  environment(frame_formula) <- fenv
  S <- length(files)
  eng <- shard_engine(workers, S)
  on.exit(shard_free(eng), add = TRUE)
  read_spec <- list(frame_formula = frame_formula, weights = weights, group = gname,
                    format = format)
  # Pass 1, on every shard: model frames and the levels they use.
  read <- shard_reader(eng, files, read_spec)
  p1 <- shard_pass(eng, seq_len(S), read)
  agreed <- agree_levels(p1, gname)
  fixed <- formula
  fixed[[3L]] <- reformulas::nobars(formula[[3L]]) %||% 1
  environment(fixed) <- fenv
  bars <- find_bars(formula)
  fixed_terms <- stats::delete.response(stats::terms(fixed))
  ct <- shard_contrasts(contrasts, p1, agreed, gname, fixed_terms)  # contrasts-shards.R
  dspec <- list(levels = agreed$levels, ordered = agreed$ordered,
                contrasts_option = getOption("contrasts"), group = gname, family = family,
                group_levels = agreed$clusters, max_patterns = 5000L,
                fixed_terms = fixed_terms, contrasts = ct$workers,
                re_lhs = lapply(bars, function(b) stats::as.formula(call("~", b[[2L]]), env = fenv)))
  # Pass 2: designs coded alike; rank, patterns and column sums back.
  p2 <- shard_pass(eng, seq_len(S), function(ids, w)
    parallel::clusterCall(eng$cl[w], on_worker_design, eng$key, dspec)[[1L]])
  mod <- shard_model(eng, p2, agreed, family, nAGQ, bars, control)
  spec <- engine_spec(mod, control)
  shard_start_engines(eng, S, read, on_worker_design, dspec, on_worker_engines, mod$Txi, mod$Tzi, spec)
  progress_stage("fitting by the agq engine on the workers")
  fit <- glmm_fit_shards(eng, mod, control)
  obj <- new_glmm_sharded(fit, mod, p2, agreed, formula, fixed, fenv, mc)
  obj$contrasts <- shard_fit_contrasts(obj$contrasts, ct)
  # What post-estimation needs to read the shards again on the workers.
  # (Tzi: the fit's map of the random effects' columns, Z* = Z Tzi, on
  # which the cluster-robust covariance evaluates, as in memory)
  obj$shard_source <- list(files = files, format = format, read_spec = read_spec,
                           dspec = dspec, workers = workers, Tzi = mod$Tzi)
  progress_done(finish_glmm(obj, mod$separation, NULL), owner)
}

# The arguments gee_shards() and glmm_shards() (`fun`) share.
check_shard_args <- function(workers, files, fun) {
  check_workers_arg(workers, fun)
  if (!is.character(files) || !length(files) || anyNA(files))
    stop("'files' must be the paths of the shard files", call. = FALSE)
}

# Pass 1 of a sharded fit, `read(ids, w)`: the workers `w` read the shard
# files `ids` (model frames, the levels they use); the first worker's answer.
shard_reader <- function(eng, files, read_spec) {
  function(ids, w)
    parallel::clusterCall(eng$cl[w], on_worker_read, eng$key,
                          stats::setNames(as.list(files[ids]), ids), read_spec)[[1L]]
}

# The last pass of a sharded fit: the engines built on every shard by the
# worker function `engines` (its arguments after the key in `...`), and the
# engine's `reload`: a shard moved to another worker (after one dies) goes
# through all passes there (read, the worker function `design` with
# `dspec`, engines).
shard_start_engines <- function(eng, S, read, design, dspec, engines, ...) {
  eng$reload <- function(ids, w) {
    read(ids, w)
    parallel::clusterCall(eng$cl[w], design, eng$key, dspec)
    parallel::clusterCall(eng$cl[w], engines, eng$key, ...)
  }
  shard_pass(eng, seq_len(S), function(ids, w) {
    parallel::clusterCall(eng$cl[w], engines, eng$key, ...)
    list()
  })
}

shard_format <- function(files, format) {
  ext <- tolower(tools::file_ext(files))
  if (is.null(format)) {
    format <- unique(ext)
    if (length(format) != 1L || !(format %in% c("rds", "csv", "parquet")))
      stop("'format' must be given (\"rds\", \"csv\" or \"parquet\") when the files' extensions do not say it",
           call. = FALSE)
  }
  if (!is.character(format) || length(format) != 1L || !(format %in% c("rds", "csv", "parquet")))
    stop("'format' must be \"rds\", \"csv\" or \"parquet\"", call. = FALSE)
  if (format == "parquet" && !requireNamespace("nanoparquet", quietly = TRUE) &&
      !requireNamespace("arrow", quietly = TRUE))
    stop("parquet shard files are read with the nanoparquet (or arrow) package, which is not installed; install nanoparquet (on the workers too) or save the shards as rds or csv",
         call. = FALSE)
  format
}

# One grouping factor, named by one variable: the likelihood is then a sum
# over its clusters and so over shards of whole clusters.
shard_group_name <- function(formula) {
  bars <- find_bars(formula)
  if (!length(bars))
    stop("the formula has no random-effects term such as (1 | group)", call. = FALSE)
  g <- unique(vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), ""))
  if (length(g) > 1L || !is.name(bars[[1L]][[3L]]))
    stop(one_factor_workers_message(g), call. = FALSE)
  g
}

one_factor_workers_message <- function(g)
  sprintf(paste0("distributed fitting takes one grouping factor named by one column; the formula has %s. ",
                 "Crossed designs have a likelihood that is not a sum over the clusters of one factor. ",
                 "Nested random intercepts such as (1 | a/b) are fitted on workers by glmm() with data in memory and nAGQ > 1 (split by the outermost factor); ",
                 "at scale, a nested design can also be fitted by its outermost factor alone (a random effect per top-level cluster), ",
                 "or use method-of-moments or backfitting estimators, which large-scale systems use for crossed designs"),
          paste(sQuote(g, FALSE), collapse = ", "))

# Runs a pass on every live worker (each call returns a list named by
# shard id) and returns the results in shard order.
# A worker that dies during these passes (before the fit's rounds, which
# move a dead worker's shards on) is named: the same call again runs on the
# live workers, which take its shards.
shard_pass <- function(eng, ids, call_worker) {
  out <- list()
  for (w in which(eng$alive)) {
    mine <- ids[eng$home[ids] == w]
    if (!length(mine)) next
    got <- tryCatch(call_worker(mine, w), error = function(e) {
      if (worker_responds(eng$cl[[w]])) stop(e)
      eng$alive[w] <- FALSE
      stop(sprintf("%s stopped responding while its shard files were read and set up (%s); call again with the same cluster: the other workers then take its shards",
                   worker_label(eng, w), conditionMessage(e)), call. = FALSE)
    })
    out <- c(out, got)
  }
  out[as.character(ids)]
}

# Terms that depend on the data (poly(), scale(), ...) are refused first.
# The levels the combined data would have: factors as rbind() combines
# them (declared levels in shard order, the unused dropped), character
# columns sorted as factor() sorts them; the clusters as cluster_index()
# codes them, each within one shard.
agree_levels <- function(p1, gname) {
  # integer64 ids are grouped by their exact values (bit64's labels), other
  # numbers by their doubles' printed form: mixed across files, the same id
  # could split in two clusters and distinct ids merge, silently.
  i64 <- vapply(p1, function(r) isTRUE(r$group_integer64), TRUE)
  if (any(i64) && !all(i64))
    stop(sprintf(paste0("the cluster ids '%s' are integer64 (bit64) in shard file(s) %s but not in %s: ",
                        "ids of two types cannot be matched exactly; give '%s' one type in every file ",
                        "(integer64 throughout, or character strings)"),
                 gname, paste(names(p1)[i64], collapse = ", "), paste(names(p1)[!i64], collapse = ", "),
                 gname), call. = FALSE)
  dd <- unique(unlist(lapply(p1, `[[`, "data_dependent")))
  if (length(dd))
    stop(sprintf(paste0("%s depend%s on the rows %s computed from: each shard would compute its own ",
                        "(another basis, centre or scale), and the fit would not be that of the combined data. ",
                        "Compute the column before writing the shard files, or use a form that does not ",
                        "depend on the data, such as poly(x, 2, raw = TRUE) or I(x^2)"),
                 paste(sQuote(dd, FALSE), collapse = ", "), if (length(dd) > 1L) "" else "s",
                 if (length(dd) > 1L) "they are" else "it is"), call. = FALSE)
  kind <- p1[[1L]]$kind
  levels <- list()
  for (v in names(kind)[kind %in% c("factor", "character")]) {
    used <- unique(unlist(lapply(p1, function(r) r$used[[v]])))
    levels[[v]] <- if (kind[[v]] == "factor")
      intersect(unique(unlist(lapply(p1, function(r) r$declared[[v]]))), used)
    else sort(used)
  }
  ids <- lapply(p1, `[[`, "clusters")
  all_ids <- unlist(ids)
  if (anyDuplicated(all_ids)) {
    dup <- unique(all_ids[duplicated(all_ids)])
    stop(sprintf("cluster(s) %s of '%s' appear in more than one shard file: every cluster must lie within one shard",
                 paste(utils::head(dup, 5L), collapse = ", "), gname), call. = FALSE)
  }
  clusters <- if (gname %in% names(levels)) levels[[gname]]
              else levels(used_factor(all_ids))
  # integer64 ids (labels from the workers) in their numeric order, as
  # the in-memory fit sorts them.
  if (any(vapply(p1, function(r) isTRUE(r$group_integer64), TRUE)) &&
      requireNamespace("bit64", quietly = TRUE)) {
    cl <- as.character(clusters)
    clusters <- cl[match(as.character(sort(bit64::as.integer64(cl))), cl)]
  }
  levels[[gname]] <- NULL
  # Ordered where every shard's factor is, as rbind() combines them.
  ordered <- Reduce(intersect, lapply(p1, function(r) r$ordered), names(levels))
  list(levels = levels, ordered = ordered, clusters = as.character(clusters),
       rows = sum(vapply(p1, `[[`, 1L, "rows")), kept = sum(vapply(p1, `[[`, 1L, "kept")))
}
