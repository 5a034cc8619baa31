# Cluster bootstrap: resample whole clusters with replacement, refit the
# model at the matrix level (no formulas, no data frames), return the new
# parameters. Used by standardize(se = "bootstrap"), through boot::boot().

# Row indices of each cluster of a fit.
cluster_rows <- function(fit) split(seq_along(cluster_of(fit)), cluster_of(fit))

# Refits `fit` on the clusters `draw` (indices into cluster_rows), each
# drawn cluster becoming a cluster of its own. Returns the parameters laid
# out as fit$theta (glmm) or coef(fit) (gee), or NULL when the refit fails.
# For several random-effect terms, `term` is the term whose grouping factor
# was resampled (see refit_sparse()).
refit_clusters <- function(fit, rows_by_cluster, draw, term = NULL) {
  parts <- rows_by_cluster[draw]
  rows <- unlist(parts, use.names = FALSE)
  id <- rep.int(seq_along(parts), lengths(parts))
  res <- tryCatch(suppressWarnings(without_progress(  # progress.R: the bootstrap's bar reports
    if (inherits(fit, "glmmgee_glmm_sparse")) refit_sparse(fit, rows, id, term)
    else if (is_dist_fit(fit)) refit_dist(fit, rows, id)
    else if (is_glmm(fit)) refit_glmm(fit, rows, id) else refit_gee(fit, rows, id))),
    error = function(e) NULL)
  if (is.null(res) || any(!is.finite(res))) NULL else res
}

refit_glmm <- function(fit, rows, id) {
  re <- re_structure(fit, "standardize")
  th <- unname(fit$theta)
  disp <- length(th) > max(re$lambda_index)
  start <- list(beta = th[seq_len(re$p)], lambda = th[re$lambda_index])
  if (disp) start[[dispersion_name(fit$family)]] <- exp(th[length(th)])
  f <- glmm_fit(fit$X[rows, , drop = FALSE], fit$y[rows], fit$Z[rows, , drop = FALSE],
                id, fit$family, weights = fit$prior.weights[rows],
                offset = fit$offset[rows], nAGQ = fit$nAGQ,
                cov_blocks = fit$cov_blocks, control = glmm_control(), start = start)
  if (length(f$optinfo$warnings) &&
      any(grepl("did not converge", f$optinfo$warnings))) return(NULL)
  unname(f$theta)
}

# Several terms: each drawn copy of a cluster (`id`) is a new cluster, and
# the levels of every grouping factor nested in the resampled one become
# new levels per copy (a hospital drawn twice brings two sets of wards);
# crossed factors keep their levels. The random-effects design is rebuilt
# at the matrix level with the layout of sparse_re_terms().
refit_sparse <- function(fit, rows, id, term) {
  re <- re_structure(fit, "standardize")
  tms <- fit$reterms
  cl <- tms[[term]]$index
  blocks <- rterms <- list()
  lam_row <- lam_col <- lam_k <- integer()
  lower <- numeric()
  pos <- 0L
  zpos <- 0L
  for (k in seq_along(tms)) {
    tm <- tms[[k]]
    q <- length(tm$cnames)
    nested <- k == term || all(lengths(lapply(split(cl, tm$index), unique)) <= 1L)
    lev <- if (nested) paste(id, tm$index[rows]) else tm$index[rows]
    f <- factor(lev, levels = unique(lev))
    nl <- nlevels(f)
    Zk <- re$Z[rows, zpos + seq_len(q), drop = FALSE]
    blocks[[k]] <- Matrix::sparseMatrix(i = rep(seq_along(rows), q),
                                        j = (as.integer(f) - 1L) * q + rep(seq_len(q), each = length(rows)),
                                        x = as.numeric(Zk), dims = c(length(rows), nl * q))
    lt <- which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    base <- pos + (seq_len(nl) - 1L) * q
    lam_row <- c(lam_row, rep(base, each = nrow(lt)) + lt[, 1L])
    lam_col <- c(lam_col, rep(base, each = nrow(lt)) + lt[, 2L])
    lam_k <- c(lam_k, rep(tm$par, nl))
    rterms[[k]] <- list(group = tm$group, lhs = tm$lhs, cnames = tm$cnames, levels = levels(f),
                        index = as.integer(f), columns = pos + seq_len(nl * q), par = tm$par,
                        known_cov = FALSE)
    pos <- pos + nl * q
    zpos <- zpos + q
  }
  lower <- ifelse(re$pattern$row == re$pattern$col, 0, -Inf)[order(re$lambda_index)]
  Z <- methods::as(methods::as(do.call(cbind, blocks), "CsparseMatrix"), "generalMatrix")
  rs <- list(Z = Z, lam_row = lam_row, lam_col = lam_col, lam_k = lam_k,
             ntheta = length(re$lambda_index), lower = lower,
             par_names = names(fit$theta)[sort(re$lambda_index)], terms = list())
  # A nested quadrature fit is refitted by the same quadrature.
  f <- if (inherits(fit, "glmmgee_glmm_nested"))
    glmm_nested_fit(fit$X[rows, , drop = FALSE], fit$y[rows], within(rs, terms <- rterms),
                    fit$family, fit$prior.weights[rows], fit$offset[rows], fit$nAGQ,
                    glmm_control(), start = unname(fit$theta))
  else glmm_sparse_fit(fit$X[rows, , drop = FALSE], fit$y[rows], rs, fit$family,
                       fit$prior.weights[rows], fit$offset[rows],
                       glmm_control(), start = unname(fit$theta))
  if (f$optinfo$convergence != 0L) return(NULL)
  unname(f$theta)
}

refit_gee <- function(fit, rows, id) {
  stop_if_pattern_fit(fit, "the cluster bootstrap")
  d <- fit$engine$data
  sp <- fit$engine$spec
  f <- gee_fit(d$X[rows, , drop = FALSE], d$y[rows], id, family = fit$family,
               corstr = fit$corstr, waves = if (!is.null(d$wave)) d$wave[rows],
               weights = d$weights[rows], offset = d$offset[rows], std.err = "model",
               scale.fix = fit$scale.fix, scale.value = sp$scale_value, R = fit$R,
               Mv = fit$Mv %||% 1L, start = unname(fit$coefficients),
               control = fit$control)
  if (!f$converged) return(NULL)
  unname(f$coefficients)
}

# The cluster bootstrap on boot::boot(): the "data" are the cluster numbers
# 1..K, and `stat(clusters)` refits on the drawn clusters and returns the
# statistic (NA where the refit fails). boot draws every resample in the
# calling process before any refit runs, so the replicates depend on the
# seed and not on the number of workers. Parallel runs use boot's own
# parallelism: forked workers ("multicore") where forking exists, socket
# workers ("snow") on Windows or on a cluster `cl` from parallel. `t0` is
# the statistic on the data as fitted (boot's call on the identity resample
# returns it without refitting).
run_boot <- function(K, B, stat, t0, cores, cl, progress) {
  mode <- boot_parallel_mode(cores, cl)
  pb <- NULL
  done <- 0L
  if (progress && mode == "no") {
    pb <- utils::txtProgressBar(min = 0, max = B, style = 3)
    on.exit(close(pb), add = TRUE)
  } else if (progress) {
    message(sprintf("running %d bootstrap refits on %s (no progress bar for parallel runs)",
                    B, if (is.null(cl)) sprintf("%d workers", cores) else "the cluster 'cl'"))
  }
  statistic <- function(data, i) {
    if (identical(i, seq_len(K))) return(t0)
    out <- stat(data[i])
    if (!is.null(pb)) {
      done <<- done + 1L
      utils::setTxtProgressBar(pb, done)
    }
    out
  }
  boot::boot(seq_len(K), statistic, R = B, parallel = mode, ncpus = as.integer(cores),
             cl = cl)
}

boot_parallel_mode <- function(cores, cl) {
  if (!is.null(cl)) return("snow")
  if (cores <= 1L) return("no")
  if (.Platform$OS.type == "windows") "snow" else "multicore"
}

check_bootstrap_args <- function(fit, B, cores, clusters = cluster_of(fit),
                                 min_clusters = 10L, cl = NULL) {
  # The refits are matrix-level unstructured fits (refit_glmm(), refit_sparse()).
  if (inherits(fit, "glmmgee_glmm_covstruct") || !is.null(fit$penalty))
    stop("'se' = \"bootstrap\" is not available for fits with a covariance structure (ar1(), cs(), ...) or 'penalized' (the refits would drop them); use se = \"delta\"",
         call. = FALSE)
  # refit_glmm() and refit_sparse() fit the conditional part alone: every
  # refit of a two-part or dispersion-formula fit failed ("only 0 of B
  # refits succeeded").
  if (inherits(fit, "glmmgee_glmm_zi"))
    stop("'se' = \"bootstrap\" is not available for zero-inflated, hurdle or dispersion-formula fits (the refits would drop the zero and dispersion parts); use se = \"delta\"",
         call. = FALSE)
  if (isTRUE(re_known_cov(fit)))
    stop("'se' = \"bootstrap\" cannot resample a fit with a known-covariance term (its levels are tied together through K); use se = \"delta\"",
         call. = FALSE)
  K <- length(unique(clusters))
  if (K < min_clusters)
    stop(sprintf("'se' = \"bootstrap\" needs at least %d clusters to resample; this fit has %d (use se = \"delta\")",
                 min_clusters, K), call. = FALSE)
  if (!is.numeric(B) || length(B) != 1L || is.na(B) || B < 20 || B != round(B))
    stop("'B' must be a whole number of bootstrap replicates, at least 20", call. = FALSE)
  if (!is.numeric(cores) || length(cores) != 1L || is.na(cores) || cores < 1 ||
      cores != round(cores))
    stop("'cores' must be a whole number >= 1", call. = FALSE)
  if (!is.null(cl) && !inherits(cl, "cluster"))
    stop("'cl' must be a cluster from parallel::makeCluster() (or NULL)", call. = FALSE)
  invisible(K)
}

re_known_cov <- function(fit)
  inherits(fit, "glmmgee_glmm_sparse") && any(vapply(fit$reterms, function(tm) isTRUE(tm$known_cov), TRUE))
