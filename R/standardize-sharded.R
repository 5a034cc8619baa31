# standardize() over the rows of a shard-file fit (glmm_shards(),
# gee_shards()): each worker reads its shard files again, sets the variable
# to each value, and returns the sums of the predictions, of their
# Jacobian, and of its clusters' deviations; the means, the delta-method
# covariance and the between-cluster term of standardize() follow from
# those sums.

standardize_sharded <- function(fit, variable, values, re_mode, se, level, workers, robust = NULL) {
  if (se == "bootstrap")
    stop("standardize() of a distributed fit (glmm_shards(), gee_shards()) has se = \"delta\" or \"none\": the bootstrap refits the model many times on its rows",
         call. = FALSE)
  if (is.null(values) && is.null(fit$xlevels[[variable]]))
    stop(sprintf(paste0("'values' is needed for '%s' on a distributed fit: the default values of a numeric or ",
                        "logical variable (its quantiles, or 0/1) depend on the rows, which stay in the shard files"),
                 variable), call. = FALSE)
  vals <- standardize_values(fit, values, variable, values)
  cl <- sharded_workers(fit, workers, "standardize")
  eng <- sharded_reload(fit, cl)
  on.exit(shard_free(eng), add = TRUE)
  delta <- se == "delta"
  par <- if (delta) robust %||% fit_parameters(fit) else
    list(theta = if (is_glmm(fit)) .subset2(fit, "theta") else .subset2(fit, "coefficients"))
  src <- .subset2(fit, "shard_source")
  res <- shard_round(eng, "post_standardize",
                     list(fit = sharded_light(fit), variable = variable, set = vals$set,
                          re_mode = re_mode, theta = unname(par$theta), jacobian = delta,
                          format = src$format,
                          files = stats::setNames(as.list(src$files), seq_along(src$files))))
  N <- sum(vapply(res, `[[`, 1, "n"))
  m <- Reduce(`+`, lapply(res, `[[`, "sum")) / N
  S <- df <- NULL
  if (delta) {
    J <- Reduce(`+`, lapply(res, `[[`, "jac")) / N
    # Sum over clusters of (S_c - n_c m)(S_c - n_c m)', from each shard's
    # deviations about its own mean, shifted by d = m_s - m.
    B <- Reduce(`+`, lapply(res, function(r) {
      d <- r$mean - m
      r$A + outer(r$b, d) + outer(d, r$b) + r$c2 * outer(d, d)
    }))
    K <- sum(vapply(res, `[[`, 1, "K"))
    Sd <- delta_cov(J, par$vcov, par$star)
    Sb <- B / N^2 * K / (K - 1)
    if (!is.null(robust)) df <- standardize_df(robust, J, Sd, Sb, K)
    S <- Sd + Sb
  }
  fam <- .subset2(fit, "family")
  binary <- fam$family == "binomial"
  out <- contrast_table(m, S, vals$label, binary, level, df)
  trouble <- standardize_trouble(fit, m, vals$label, binary)
  for (w in trouble) warning(w, call. = FALSE)
  view <- if (is_gee(fit)) "marginal" else if (re_mode == "marginal") "marginal" else "typical"
  structure(out, class = c("glmmgee_standardized", "data.frame"), view = view,
            variable = variable, se = se, level = level, family = fam,
            cluster = if (is_glmm(fit)) .subset2(fit, "group_name") else "id", warnings = trouble,
            vcov_label = if (!is.null(robust)) satterthwaite_label(robust$label, "intervals"))
}

# What design_at() and standardize_evaluator() read of a fit, without its
# cluster (a connection) and with the 0-row frame as the model frame (for
# the random-effect terms' levels); classes that the `$` refusals of
# sharded fits do not reach.
sharded_light <- function(fit) {
  x <- unclass(fit)
  x$shard_source <- NULL
  x$distributed <- NULL
  if (is_glmm(fit)) {
    x$model <- x$frame_prototype
    x$ranef <- NULL
    class(x) <- "glmmgee_glmm"
  } else {
    x$engine <- NULL
    class(x) <- "glmmgee_gee"
  }
  x
}

# The worker side: one shard's sums for standardize().
on_worker_standardize <- function(sh, args) {
  df <- read_shard_file(args$files[[sh$sid]], args$format)[sh$rows, , drop = FALSE]
  designs <- lapply(args$set, function(v) {
    df[[args$variable]] <- rep(v, length.out = nrow(df))
    design_at(args$fit, df)
  })
  ev <- standardize_evaluator(args$fit, designs, if (is_gee(args$fit)) "none" else args$re_mode)
  n <- nrow(df)
  est <- ev(args$theta, seq_len(n), jacobian = args$jacobian)
  out <- list(n = n, sum = est$mean * n)
  if (args$jacobian) {
    cluster <- sh$clusters[sh$index] %||% sh$id
    mean <- est$mean
    S <- rowsum(est$rows, cluster, reorder = FALSE)
    nc <- as.vector(rowsum(rep(1, n), cluster, reorder = FALSE))
    T <- S - outer(nc, mean)
    out <- c(out, list(jac = est$jacobian * n, mean = mean, A = crossprod(T),
                       b = colSums(nc * T), c2 = sum(nc^2), K = nrow(S)))
  }
  out
}
