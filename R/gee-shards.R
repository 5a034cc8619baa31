#' Fit a GEE from shard files on parallel workers
#'
#' The GEE counterpart of [glmm_shards()]: the data are shard files (rds,
#' csv; parquet through nanoparquet or arrow) that only the workers read, each holding
#' whole clusters of `id`, and the fit is [gee()]'s on the combined rows
#' with `gee_control(workers = )`: every step a sum over shards in shard
#' order. A first pass agrees, from small summaries, on what the combined
#' data would give: factor levels (a level missing from some shards still
#' gets its column), rows dropped for missing values (in the model's
#' variables, `id` and `waves`), that every cluster lies within one file,
#' the rank of the model matrix and the wave positions.
#'
#' The fit holds no rows: `print`, `summary`, `coef`, `vcov` (the estimators
#' computed at fit time: `std.err`, `"san.se"`, `"model"`), `confint`,
#' `anova` (Wald tests of terms), [QIC()] and `predict(newdata = )` work.
#' `fitted()`, `residuals()` and `predict()` without `newdata` run on the
#' workers, which read the shard files again (on the fit's cluster, or on
#' `workers =` when that one has been stopped) and write, beside each shard
#' file, a new file in the same format (`part01.rds` gives
#' `part01_fitted.rds`, see `suffix`) with columns `row` (the row of the
#' shard file; rows dropped for missing values are absent) and the value;
#' they return the paths of these files, with the number of rows of each as
#' attribute `rows`: the rows never come to this process. [standardize()]
#' without `newdata` runs on the workers as well (sums per shard; `values`
#' needed for a numeric variable, no bootstrap). `model.matrix` and other
#' variance types stop with a message saying they need the rows.
#'
#' Terms computed from the rows they are evaluated on (`poly(x, 2)`,
#' `scale(x)`, `splines::ns()`, ...) are refused, as by [glmm_shards()]:
#' compute the column before writing the shard files, or use
#' `poly(x, 2, raw = TRUE)` or `I(x^2)`.
#'
#' @param formula a model formula with fixed effects only (`offset()` terms
#'   allowed).
#' @param files paths of the shard files, readable by every worker.
#' @param id,waves,weights names of columns (strings): the cluster
#'   identifier, an optional whole-number time index within cluster, and
#'   optional prior weights.
#' @param family,corstr,std.err,scale.fix,scale.value,R,Mv as in [gee()];
#'   `std.err = "fij"` and `nbinom2()` are not distributed.
#' @param workers a cluster from [parallel::makeCluster()] or
#'   [parallelly::makeClusterPSOCK()] with glmmgee installed. For
#'   `fitted()`, `residuals()` and `predict()`: a cluster to read the shards
#'   on, when the fit's own has been stopped.
#' @param format `"rds"`, `"csv"` or `"parquet"`; by default from the
#'   files' extension.
#' @param control a [gee_control()] list (its `workers` and `shards` are
#'   ignored: the workers are `workers` and each file is a shard).
#' @param contrasts a named list of contrasts for factors in `formula`, as
#'   in [gee()] (the same rules and errors, checked against the levels
#'   agreed across the shards; a name that is a column of the files but no
#'   variable of the model is ignored). The workers code their designs with
#'   it; it is stored in `$contrasts` and reused by `predict(newdata =)` and
#'   [standardize()]. Factors not named take `getOption("contrasts")` of
#'   this R session (polynomial contrasts for an ordered factor by
#'   default), as in [gee()].
#' @return An object of class `c("glmmgee_gee_sharded", "glmmgee_gee")`;
#'   `$distributed` records shards, workers, rounds and bytes.
#' @seealso [gee()], [glmm_shards()], `vignette("distributed", package = "glmmgee")`.
#' @examples
#' \donttest{
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   dir <- tempfile("shards"); dir.create(dir)
#'   parts <- split(bacteria, as.integer(bacteria$ID) %% 3)
#'   files <- file.path(dir, sprintf("part%d.rds", seq_along(parts)))
#'   for (i in seq_along(parts)) saveRDS(parts[[i]], files[i])
#'   cl <- parallel::makeCluster(2)
#'   fit <- gee_shards(y ~ ap + hilo, files, id = "ID", waves = "week",
#'                     family = binomial, corstr = "ar1", workers = cl)
#'   summary(fit)
#'   parallel::stopCluster(cl)
#' }
#' }
#' @export
gee_shards <- function(formula, files, id, family = gaussian(), corstr = "independence",
                       waves = NULL, workers, weights = NULL, std.err = "san.se",
                       scale.fix = FALSE, scale.value = 1, R = NULL, Mv = 1L, format = NULL,
                       control = gee_control(), contrasts = NULL) {
  mc <- match.call()
  family <- resolve_family(family, parent.frame())
  corstr <- match_corstr(corstr, extra = FALSE)
  std.err <- match_std_err(std.err)
  if (!inherits(formula, "formula") || length(formula) != 3L)
    stop("'formula' must be a two-sided formula such as y ~ x", call. = FALSE)
  if (!inherits(control, "glmmgee_gee_control"))
    stop("'control' must come from gee_control()", call. = FALSE)
  if (missing(workers)) stop("'workers' is missing: give a cluster from parallel::makeCluster()",
                             call. = FALSE)
  check_shard_args(workers, files, "gee_shards")
  owner <- progress_begin(control$progress, "gee_shards")  # progress.R
  if (owner) on.exit(progress_end(owner), add = TRUE)
  progress_stage("reading the shards on the workers")
  for (a in c("id", "waves", "weights")) {
    v <- if (a == "id") { if (missing(id)) NULL else id } else get(a)
    if (a == "id" && is.null(v)) stop("'id' is missing: give the name of the cluster column", call. = FALSE)
    if (!is.null(v) && (!is.character(v) || length(v) != 1L || is.na(v)))
      stop(sprintf("'%s' must be the name of a column (one string)%s", a,
                   if (a == "id") "" else " or NULL"), call. = FALSE)
  }
  check_gee_scale(scale.fix, scale.value)
  format <- shard_format(files, format)
  fenv <- environment(formula) %||% parent.frame()
  extra <- c(id, waves)
  frame_formula <- formula
  frame_formula[[3L]] <- Reduce(function(a, b) call("+", a, as.name(b)), extra, formula[[3L]])
  environment(frame_formula) <- fenv
  S <- length(files)
  eng <- shard_engine(workers, S)
  on.exit(shard_free(eng), add = TRUE)
  read_spec <- list(frame_formula = frame_formula, weights = weights, group = id, format = format)
  read <- shard_reader(eng, files, read_spec)
  p1 <- shard_pass(eng, seq_len(S), read)
  agreed <- agree_levels(p1, id)
  if (!is.null(waves)) agreed$levels[[waves]] <- NULL
  fixed_terms <- stats::delete.response(stats::terms(formula))
  ct <- shard_contrasts(contrasts, p1, agreed, id, fixed_terms)  # contrasts-shards.R
  dspec <- list(levels = agreed$levels, ordered = agreed$ordered,
                contrasts_option = getOption("contrasts"), group = id, waves = waves, family = family,
                group_levels = agreed$clusters, fixed_terms = fixed_terms,
                contrasts = ct$workers)
  design <- function(ids, w)
    parallel::clusterCall(eng$cl[w], on_worker_gee_design, eng$key, dspec)[[1L]]
  p2 <- shard_pass(eng, seq_len(S), design)
  mod <- gee_shard_model(p2, agreed, corstr, std.err, Mv, R, scale.fix, family)
  spec <- list(family = family$family_code, link = family$link_code,
               corstr = match(corstr, gee_corstrs()) - 1L, mdep = mod$Mv, Rfixed = mod$R,
               scale_fix = scale.fix, scale_value = as.numeric(scale.value),
               epsilon = control$epsilon, maxit = control$maxit, trace = control$trace,
               threads = control$threads, vflags = gee_engine_flag(std.err),
               T_global = as.integer(mod$T))
  if (identical(family$family, "nbinom2"))
    stop("gee_shards(): nbinom2 alternates a theta moment step with the fit and is not distributed yet",
         call. = FALSE)
  if (std.err == "fij")
    stop("std.err = \"fij\" refits the model without each cluster in turn: it is not distributed; use \"j1s\" or \"jack\"",
         call. = FALSE)
  # The engines solve on X T^-1 where the design loses digits (as gee()).
  wspec <- list(wmin = mod$wmin, allpos = mod$allpos, family = family,
                Ti = if (!isTRUE(mod$tx$identity))
                  mod$tx$Ti %||% backsolve(mod$tx$T, diag(1, ncol(mod$tx$T))))
  shard_start_engines(eng, S, read, on_worker_gee_design, dspec, on_worker_gee_engines, spec, wspec)
  progress_stage("scoring on the workers", unit = "scoring step")
  res <- gee_fit_shards(eng, spec, length(mod$xnames), corstr, mod$T)
  res$clusters$sizes <- mod$sizes
  if (res$clusters$duplicated > 0L)
    stop(sprintf("'waves' has a duplicated value within cluster %s of 'id': each wave may occur once per cluster",
                 agreed$clusters[res$clusters$duplicated]), call. = FALSE)
  if (!is.null(res$error) && nzchar(res$error))
    stop("gee fit failed: ", gee_failure_text(res, family, corstr, length(mod$sizes), mod$T, mod$Mv),
         call. = FALSE)
  if (nzchar(res$variance$error))
    stop("gee variance failed: ", gee_engine_text(res$variance$error, agreed$clusters), call. = FALSE)
  if (!isTRUE(mod$tx$identity)) res <- gee_standard_x(res, mod$tx)
  data <- list(X = mod$X0, y = NULL, weights = NULL, offset = NULL, wave = NULL)
  fit <- new_gee_object(res, data, spec, family, corstr, std.err, mod$Mv, mod$R, mod$xnames,
                        list(index = NULL, levels = agreed$clusters), mod$T, scale.fix, control,
                        mod$wpos)
  fit$distributed <- shard_traffic(eng, S)
  for (wm in eng$moved) warning(wm, call. = FALSE)
  fit$warnings <- c(fit$warnings, eng$moved)
  fit$call <- mc
  fit$formula <- formula
  fit$terms <- stats::terms(formula)
  fit$xlevels <- agreed$levels[intersect(names(agreed$levels), all.vars(formula))]
  fit$contrasts <- shard_fit_contrasts(p2[[1L]]$contrasts, ct)
  fit$nobs.read <- c(rows = agreed$rows, kept = agreed$kept)
  fit$shard_source <- list(files = files, format = format, read_spec = read_spec,
                           dspec = dspec, workers = workers, kind = "gee")
  class(fit) <- c("glmmgee_gee_sharded", class(fit))
  progress_done(fit, owner)
}

# Rank, clusters, wave positions and T from the shards' summaries, by the
# rules of gee_fit().
gee_shard_model <- function(p2, agreed, corstr, std.err, Mv, R, scale.fix, family) {
  xnames <- p2[[1L]]$xnames
  p <- length(xnames)
  Rall <- do.call(rbind, lapply(p2, `[[`, "R"))
  XtX <- crossprod(Rall)
  qx <- gee_rank_qr(XtX)
  # As gee_fit(): judged again with the columns centred, here by taking
  # the intercept's multiple out of each column of the shards' R factors
  # (the rows below a shard's first hold its centred columns exactly).
  ic <- which(p2[[1L]]$assign == 0L)[1L]
  # Without an intercept column, a factor whose indicators span the
  # constant beside a covariate far from zero (0 + f + x2): gee()'s
  # gee_constant_span() from the shards' sums, the constant in place of the
  # last spanning indicator (X A); the rank and the centring are then judged
  # on X A as with an intercept, and mapped back (T A^-1). It was refused
  # as rank deficient where gee() fits it.
  span <- if (is.na(ic)) gee_shard_constant_span(p2, XtX) else NULL
  if (!is.null(span)) {
    Rall <- Rall %*% span$A
    XtX <- crossprod(Rall)
    qx <- gee_rank_qr(XtX)
    ic <- 1L
  }
  Rc <- NULL
  if (!is.na(ic) && XtX[ic, ic] > 0) {
    Rc <- Rall - outer(Rall[, ic], XtX[ic, ] / XtX[ic, ic])
    Rc[, ic] <- Rall[, ic]
    if (qx$rank < p) qx <- gee_rank_qr(crossprod(Rc))
  }
  # A column far from zero within one level's rows (f + f:x2): the rank
  # judged on R T^-1 with within_centring()'s T, as gee() judges X T^-1.
  within <- gee_shard_within(p2)
  tx <- gee_shard_transform(XtX, Rc, ic, Reduce(`+`, lapply(p2, `[[`, "xsum")),
                            sum(vapply(p2, `[[`, 1, "n")),
                            if (is.null(span)) within else within_by_span(within, span$A))
  if (qx$rank < p && !isTRUE(tx$identity))
    qx <- gee_rank_qr(crossprod(Rall %*% backsolve(tx$T, diag(1, p))))
  if (qx$rank < p) stop_gee_rank_deficient(qx, xnames)
  M <- length(agreed$clusters)
  sizes <- numeric(M)
  for (r in p2) sizes[r$active] <- r$sizes
  sizes <- as.integer(sizes[sizes > 0])
  if (length(sizes) < 2L)
    stop("'id' has a single cluster (with positive weight): GEE needs several clusters", call. = FALSE)
  haswave <- !is.null(p2[[1L]]$wall)
  wmin <- allpos <- NULL
  if (haswave) {
    wall <- sort(unique(unlist(lapply(p2, `[[`, "wall"))))
    wact <- sort(unique(unlist(lapply(p2, `[[`, "wact"))))
    wmin <- min(wall)
    pos_all <- wall - wmin + 1
    pos_act <- wact - wmin + 1
    if (max(pos_all) > 1e6) stop("'waves' spans more than a million positions", call. = FALSE)
    T <- max(pos_act)
    wpos <- list(obs = pos_act, lab = pos_act)
    if (corstr == "unstructured") {
      allpos <- pos_all
      T <- max(match(pos_act, allpos))
      wpos <- list(obs = match(pos_act, allpos))
      wpos$lab <- allpos[wpos$obs]
      wpos$alab <- allpos[seq_len(T)]
    }
  } else {
    T <- max(sizes)
    wpos <- list(obs = seq_len(T), lab = seq_len(T))
  }
  if (corstr == "mdep" && (!is.numeric(Mv) || length(Mv) != 1L || Mv < 1 || Mv != round(Mv) || Mv >= T))
    stop(sprintf("'Mv' must be one positive whole number below the %d wave positions", T), call. = FALSE)
  if (corstr == "fixed") R <- check_fixed_R(R, T) else R <- NULL
  if (corstr == "unstructured" && T > 200)
    stop(sprintf("corstr = \"unstructured\" with %d wave positions would need %d correlation parameters",
                 T, T * (T - 1) / 2), call. = FALSE)
  check_jackknife(std.err, length(sizes), p, length(alpha_names(corstr, T, Mv)), scale.fix)
  X0 <- matrix(0, 0L, p, dimnames = list(NULL, xnames))
  attr(X0, "assign") <- p2[[1L]]$assign
  if (!is.null(span))
    tx <- list(T = tx$T %*% span$Ai, identity = FALSE,
               Ti = span$A %*% backsolve(tx$T, diag(1, ncol(tx$T))))
  list(xnames = xnames, sizes = sizes, T = T, wpos = wpos, wmin = wmin, allpos = allpos,
       Mv = as.integer(Mv), R = R, X0 = X0, tx = tx)
}

# gee_constant_span()'s A from the shards' summaries: the 0/1 columns
# (`is01`), their cross-products (X'X from the R factors, counts to
# rounding) and sums; used when a column beside them is not well scaled
# (its spread from mean(x^2) - mean(x)^2, which cancels for exactly those
# columns). NULL when the 0/1 columns do not span the constant (residual
# sum of squares beyond rounding; a row outside the span leaves at least 1).
gee_shard_constant_span <- function(p2, XtX) {
  p <- ncol(XtX)
  if (p < 2L || is.null(p2[[1L]]$is01)) return(NULL)
  n <- sum(vapply(p2, `[[`, 1, "n"))
  xsum <- Reduce(`+`, lapply(p2, `[[`, "xsum"))
  ind <- which(Reduce(`&`, lapply(p2, `[[`, "is01")))
  if (!length(ind) || length(ind) == p || n < 2) return(NULL)
  mn <- xsum / n
  sdv <- sqrt(pmax(diag(XtX) / n - mn^2, 0))
  if (well_scaled_moments(c(1, mn[-ind]), c(0, sdv[-ind]))) return(NULL)
  G <- XtX[ind, ind, drop = FALSE]
  cf <- tryCatch(qr.solve(G, xsum[ind], tol = 1e-10), error = function(e) NULL)
  if (is.null(cf) || !all(is.finite(cf))) return(NULL)
  rss <- n - 2 * sum(cf * xsum[ind]) + drop(crossprod(cf, G %*% cf))
  if (!is.finite(rss) || abs(rss) > 1e-8 * n) return(NULL)
  cf <- signif(cf, 10)
  cf[abs(cf) < 1e-12] <- 0
  j <- ind[max(which(cf != 0))]
  I <- diag(1, p)
  A <- cbind(replace(numeric(p), ind, cf), I[, -j, drop = FALSE])
  list(A = A, Ai = solve(A))
}

# gee()'s centring and scaling of X where its columns lose digits
# (lmm_design_transform()'s rule), from the shards' summaries: the column
# means from the intercept's row of X'X, the spreads from the centred R
# factors. Without an intercept column (gee()'s design_transform() then
# scales the columns by their root mean squares) the means from the
# shards' column sums `xsum` over their `n` rows, the spreads as
# mean(x^2) - mean(x)^2: that cancels where the spread is below 1e-4 of
# the mean, but such a column is outside the rule's bounds either way
# (x + 1e4 without an intercept failed at its start, where gee() fits it).
gee_shard_transform <- function(XtX, Rc, ic, xsum = NULL, nrows = NULL, within = NULL) {
  p <- ncol(XtX)
  none <- list(T = diag(1, p), scale = rep(1, p), identity = TRUE)
  if (!is.null(within)) {
    # gee()'s lmm_design_transform() runs design_transform() also where
    # a column is far from zero only within one level's rows (within_far()).
    const <- if (is.na(ic)) rep(FALSE, p) else seq_len(p) == ic
    if (identical(within_centring(diag(1, p), seq_len(p), const, within), diag(1, p))) within <- NULL
  }
  if (is.null(Rc) || is.na(ic)) {
    if (is.null(xsum) || !isTRUE(nrows >= 2)) return(none)
    n <- nrows
    mn <- xsum / n
    sdv <- sqrt(pmax(diag(XtX) / n - mn^2, 0))
  } else {
    n <- XtX[ic, ic]
    mn <- XtX[ic, ] / n
    sdv <- sqrt(colSums(Rc^2) / n)
    sdv[ic] <- 0
  }
  if (well_scaled_moments(mn, sdv) && is.null(within)) return(none)
  design_transform(NULL, mom = list(mean = mn, sd = sdv, rms = sqrt(diag(XtX) / n), n = n,
                                    within = within))
}

# within_sums() of X A (gee_shard_constant_span(): A's first column gives
# the constant, the others are columns of X): the columns of X keep their
# rows not zero and sums of squares, the constant is not zero anywhere.
within_by_span <- function(w, A) {
  if (is.null(w)) return(NULL)
  keep <- apply(A[, -1L, drop = FALSE], 2L, function(a) which(a == 1))
  xnz <- cbind(w$sum, w$xnz[, keep, drop = FALSE])
  list(n = w$n, is01 = c(TRUE, w$is01[keep]), xx = crossprod(A, w$xx %*% A),
       sum = drop(crossprod(A, w$sum)), nz = c(w$n, w$nz[keep]), xnz = crossprod(A, xnz),
       ss = c(0, w$ss[keep]), ctr = c(1, w$ctr[keep]))
}

# The shards' within_sums() pooled: the sums of squares about each shard's
# centre moved to the pooled mean over the rows not zero, ss + 2 (c_s - c)
# (sum - nz c_s) + nz (c_s - c)^2 (the column is zero outside those rows).
gee_shard_within <- function(p2) {
  ws <- lapply(p2, `[[`, "within")
  if (any(vapply(ws, is.null, TRUE))) return(NULL)
  sum_of <- function(f) Reduce(`+`, lapply(ws, `[[`, f))
  ctr <- ifelse(sum_of("nz") > 0, sum_of("sum") / sum_of("nz"), 0)
  ss <- Reduce(`+`, lapply(ws, function(w) {
    d <- w$ctr - ctr
    w$ss + 2 * d * (w$sum - w$nz * w$ctr) + w$nz * d^2
  }))
  list(n = sum_of("n"), is01 = Reduce(`&`, lapply(ws, `[[`, "is01")), xx = sum_of("xx"),
       sum = sum_of("sum"), nz = sum_of("nz"), xnz = sum_of("xnz"), ss = ss, ctr = ctr)
}

#' @export
model.matrix.glmmgee_gee_sharded <- function(object, ...) {
  check_dots(..., .method = "model.matrix.glmmgee_gee_sharded")
  sharded_refuse("the model matrix")
}
#' @export
vcov.glmmgee_gee_sharded <- function(object, type = object$std.err, ...) {
  check_dots(..., .method = "vcov.glmmgee_gee_sharded", .allow = "complete")
  if (is.character(type) && length(type) == 1L && !is.null(object$vcov[[type]])) return(NextMethod())
  sharded_refuse(sprintf("variance type \"%s\" (not computed at fit time; refit with std.err = \"%s\")",
                         paste(type, collapse = ""), paste(type, collapse = "")))
}

sharded_refuse <- function(what)
  stop(sprintf("%s: not available, since they need the rows, which a gee_shards() fit does not hold (they stay in the shard files)",
               what), call. = FALSE)
