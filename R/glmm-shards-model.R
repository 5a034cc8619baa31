# glmm_shards() after its first two passes: the checks and the model
# description glmm_fit() would set up from the combined data, built from
# the shards' small summaries; and the fitted object, which holds no data.

shard_model <- function(eng, p2, agreed, family, nAGQ, bars, control) {
  xnames <- p2[[1L]]$xnames
  znames <- p2[[1L]]$znames
  if (!all(vapply(p2, function(r) identical(r$xnames, xnames) && identical(r$znames, znames), TRUE)))
    stop("the shards' designs have different columns (internal: levels were not agreed)", call. = FALSE)
  n <- sum(vapply(p2, `[[`, 1, "n"))
  p <- length(xnames)
  q <- length(znames)
  M <- length(agreed$clusters)
  if (M < 2L) stop("the grouping factor has only one level; a random effect needs at least two groups",
                   call. = FALSE)
  # Rank of X from the stacked R factors (X'X = sum of R'R).
  R <- do.call(rbind, lapply(p2, `[[`, "R"))
  colnames(R) <- xnames
  mx <- Reduce(`+`, lapply(p2, `[[`, "xsum")) / n
  mz <- Reduce(`+`, lapply(p2, `[[`, "zsum")) / n
  # within_centring()'s centres from X'X = R'R and the column sums.
  ctrx <- within_ctr(colSums(R^2), mx * n)
  m2 <- shard_pass(eng, seq_along(p2), function(ids, w)
    parallel::clusterCall(eng$cl[w], on_worker_moments, eng$key, mx, mz, ctrx)[[1L]])
  pool_within <- function() {
    ws <- lapply(m2, `[[`, "xwithin")
    sum_of <- function(f) Reduce(`+`, lapply(ws, `[[`, f))
    list(n = n, is01 = Reduce(`&`, lapply(ws, `[[`, "is01")), xx = sum_of("xx"), sum = sum_of("sum"),
         nz = sum_of("nz"), xnz = sum_of("xnz"), ss = sum_of("ss"), ctr = ctrx)
  }
  # The shards' sums pooled in spanned_centring()'s form (span_moments()),
  # so that 0 + f + x with x far from zero is centred as in memory.
  pool_span <- function(nm) {
    sp <- lapply(m2, `[[`, nm)
    sum_of <- function(f) Reduce(`+`, lapply(sp, `[[`, f))
    list(n = n, is01 = Reduce(`&`, lapply(sp, `[[`, "is01")), xx = sum_of("xx"),
         sum = sum_of("sum"), cov = sum_of("cov") / n)
  }
  mom <- function(m, dev, sq, span) list(n = n, mean = m, sd = sqrt(Reduce(`+`, lapply(m2, `[[`, dev)) / n),
                                         rms = sqrt(Reduce(`+`, lapply(m2, `[[`, sq)) / n),
                                         span = pool_span(span))
  cov_blocks <- vapply(bars, function(b) ncol(stats::model.matrix(stats::as.formula(call("~", b[[2L]])),
                                                                   p2[[1L]]$proto)), 1L)
  pat <- block_pattern(cov_blocks)
  if (is.null(nAGQ)) nAGQ <- default_nAGQ(q, family)
  nAGQ <- check_nAGQ(nAGQ, q)
  disp <- has_dispersion(family)
  mom_x <- mom(mx, "x", "x2", "xspan")
  mom_x$within <- pool_within()
  rp <- glmm_reparam(NULL, NULL, pat, cov_blocks, p, disp, mom_x = mom_x,
                     mom_z = mom(mz, "z", "z2", "zspan"))
  # Judged, if need be, on the centred and scaled design's R factor
  # R Tx^-1 (X = X* Tx), as check_full_rank() judges an in-memory X.
  check_full_rank(R, Xs = structure(R %*% rp$Txi, dimnames = dimnames(R)))
  # The fixed effects' map with which the fit keeps its standardized
  # covariance (star_covariance()), where the user's X would lose digits.
  star_tx <- if (n >= 2L && !well_scaled_moments(mom_x$mean, mom_x$sd)) rp$Tx
  list(rp = rp, star_tx = star_tx, pat = pat, cov_blocks = cov_blocks, p = p, q = q, disp = disp,
       family = family, nAGQ = nAGQ, Txi = rp$Txi, Tzi = rp$Tzi,
       lower = c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), if (disp) -Inf),
       pnames = c(xnames, sprintf("lambda[%d,%d]", pat$row, pat$col), dispersion_tail(family, disp)),
       znames = znames, M = M, n = n, separation = shard_separation(p2, family, xnames))
}

# The separation check on the distinct (covariate pattern, outcome sign)
# rows of all shards: the linear program depends only on that set. Shards
# with more distinct patterns than the cap leave the check undone (recorded).
shard_separation <- function(p2, family, xnames) {
  if (!(family$family %in% c("binomial", "poisson"))) return(NULL)
  pats <- lapply(p2, `[[`, "patterns")
  if (any(vapply(pats, is.null, TRUE)))
    return(list(separated = FALSE, checked = FALSE,
                message = "separation not checked: a shard has more than 5000 distinct covariate patterns"))
  P <- unique(do.call(rbind, pats))
  p <- length(xnames)
  X <- P[, seq_len(p), drop = FALSE]
  colnames(X) <- xnames
  s <- P[, p + 1L]
  y <- ifelse(s > 0, 1, ifelse(s < 0, 0, 0.5))
  if (family$family == "poisson") y <- ifelse(s < 0, 0, 1)
  separation_record(X, y, rep(1, nrow(X)), family, "glmm")
}

new_glmm_sharded <- function(fit, mod, p2, agreed, formula, fixed, fenv, call) {
  proto <- p2[[1L]]$proto
  for (v in names(agreed$levels)) proto[[v]] <- factor(character(), levels = agreed$levels[[v]],
                                                              ordered = v %in% agreed$ordered)
  mt <- stats::terms(fixed, data = proto)
  cn <- mod$znames
  q <- length(cn)
  Lam <- fit$Lambda
  dimnames(Lam) <- list(cn, cn)
  lev <- agreed$clusters
  M <- length(lev)
  s <- fit$modes
  to_b <- function(U) { B <- U %*% t(Lam); dimnames(B) <- list(lev, cn); B }
  to_bvar <- function(V) {
    W <- sandwich_rows(V, Lam)
    array(t(W), c(q, q, M), dimnames = list(cn, cn, lev))
  }
  active <- sort(unique(unlist(lapply(p2, `[[`, "active"))))
  p <- mod$p
  keep_cov_star(structure(list(
    call = call, formula = formula, family = fit$family,
    coefficients = fit$beta, vcov = fit$cov_theta[seq_len(p), seq_len(p), drop = FALSE],
    theta = fit$theta, cov_theta = fit$cov_theta,
    Lambda = Lam, D = Lam %*% t(Lam), sigma = fit$sigma, family_par = fit$family_par,
    loglik = fit$loglik, df = length(fit$theta), nobs = sum(vapply(p2, `[[`, 1L, "nobs")), n = mod$n,
    ngroups = length(active), group_name = shard_group_name(formula),
    group_levels = lev,
    # One code per cluster with data: what ranef() needs to know which
    # clusters to show; the rows' codes stay on the workers.
    group = active,
    cnames = cn, cov_blocks = fit$cov_blocks, pattern = fit$pattern,
    ranef = list(mode = to_b(s$mode), mode_var = to_bvar(s$mode_var),
                 mean = to_b(s$post_mean), var = to_bvar(s$post_var)),
    cluster_loglik = stats::setNames(s$loglik, lev),
    terms = mt, frame_prototype = proto, xlevels = stats::.getXlevels(mt, proto), contrasts = p2[[1L]]$contrasts,
    re_formula = lapply(find_bars(formula), function(b) b[[2L]]),
    nAGQ = fit$nAGQ, singular = fit$singular, gradient = fit$gradient,
    hessian = fit$hessian, optinfo = fit$optinfo, engine = engine_info("agq", workers = TRUE),
    distributed = c(fit$distributed, list(rows_read = agreed$rows, rows_used = agreed$kept))),
    class = c("glmmgee_glmm_sharded", "glmmgee_glmm")))
}
