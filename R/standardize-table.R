# The result table of standardize(): standardized means and their contrasts
# with the first value, with delta-method or bootstrap intervals.

# Contrast definitions: each maps the vector of means m to one number, with
# its gradient in m, and says whether intervals are built on the log scale.
contrast_defs <- function(K, binary) {
  defs <- list()
  for (k in seq_len(K)) {
    defs[[length(defs) + 1L]] <- list(quantity = "mean", k = k, f = function(m, k) m[k],
                                      grad = function(m, k) replace(numeric(length(m)), k, 1),
                                      log = FALSE)
  }
  if (K < 2L) return(defs)
  for (k in 2:K) {
    defs[[length(defs) + 1L]] <- list(
      quantity = "difference", k = k, f = function(m, k) m[k] - m[1L],
      grad = function(m, k) replace(numeric(length(m)), c(1L, k), c(-1, 1)), log = FALSE)
    defs[[length(defs) + 1L]] <- list(
      quantity = "ratio", k = k, f = function(m, k) log(m[k] / m[1L]),
      grad = function(m, k) replace(numeric(length(m)), c(1L, k), c(-1 / m[1L], 1 / m[k])),
      log = TRUE)
    if (binary) defs[[length(defs) + 1L]] <- list(
      quantity = "odds ratio", k = k,
      f = function(m, k) stats::qlogis(m[k]) - stats::qlogis(m[1L]),
      grad = function(m, k) replace(numeric(length(m)), c(1L, k),
                                    c(-1 / (m[1L] * (1 - m[1L])), 1 / (m[k] * (1 - m[k])))),
      log = TRUE)
  }
  defs
}

contrast_labels <- function(defs, labels) {
  vapply(defs, function(d) {
    if (d$quantity == "mean") labels[d$k]
    else if (d$quantity == "difference") paste(labels[d$k], "-", labels[1L])
    else paste(labels[d$k], "/", labels[1L])
  }, "")
}

# Delta-method table from the means m and their covariance S (NULL: no SE);
# `df`, when given, a function of a quantity's gradient in m giving the
# degrees of freedom of its t interval.
contrast_table <- function(m, S, labels, binary, level, df = NULL) {
  defs <- contrast_defs(length(m), binary)
  z <- stats::qnorm(1 - (1 - level) / 2)
  rows <- lapply(defs, function(d) {
    t <- d$f(m, d$k)
    s <- if (is.null(S)) NA_real_ else {
      a <- d$grad(m, d$k)
      if (!is.null(df)) z <- wald_quantile(1 - (1 - level) / 2, df(a))
      sqrt(max(drop(crossprod(a, S %*% a)), 0))
    }
    if (d$log) c(exp(t), exp(t) * s, exp(t - z * s), exp(t + z * s))
    else c(t, s, t - z * s, t + z * s)
  })
  table_frame(defs, labels, do.call(rbind, rows))
}

# Bootstrap table from the boot object `bt` of the means: for each
# quantity the standard deviation of its replicates (on the scale of the
# reported quantity) and a boot.ci() interval of `type`, computed on the
# log scale for ratios (percentile and BCa intervals do not depend on the
# scale). The quantity's replicates are put in a copy of `bt` whose
# statistic gives that quantity, so boot.ci() (and BCa's influence values,
# which may call the statistic) see one consistent bootstrap.
bootstrap_table <- function(bt, labels, binary, level, type) {
  defs <- contrast_defs(length(bt$t0), binary)
  ok <- stats::complete.cases(bt$t)
  if (type == "bca" && !all(ok))
    stop(sprintf("BCa intervals need every bootstrap replicate, and %d of %d refits failed; use boot_type = \"perc\" or \"norm\"",
                 sum(!ok), length(ok)), call. = FALSE)
  rows <- lapply(defs, function(d) {
    f <- function(m) d$f(m, d$k)
    q <- bt
    q$t0 <- f(bt$t0)
    q$t <- matrix(apply(bt$t, 1L, f), ncol = 1L)
    stat <- bt$statistic
    q$statistic <- function(data, i, ...) f(stat(data, i, ...))
    r <- q$t[ok & is.finite(q$t)]
    back <- if (d$log) exp else identity
    ci <- boot_interval(q, level, type)
    c(back(q$t0), stats::sd(back(r)), back(ci))
  })
  table_frame(defs, labels, do.call(rbind, rows))
}

boot_interval <- function(q, level, type) {
  if (!all(is.finite(q$t)) && type != "bca")
    q$t[!is.finite(q$t)] <- NA_real_
  ci <- tryCatch(suppressWarnings(boot::boot.ci(q, conf = level, type = type)),
                 error = function(e) NULL)
  key <- switch(type, perc = "percent", bca = "bca", norm = "normal", basic = "basic")
  if (is.null(ci) || is.null(ci[[key]])) return(c(NA_real_, NA_real_))
  v <- ci[[key]]
  v[1L, ncol(v) - 1:0]
}

table_frame <- function(defs, labels, M) {
  data.frame(quantity = vapply(defs, function(d) d$quantity, ""),
             value = contrast_labels(defs, labels),
             estimate = M[, 1L], std.error = M[, 2L], conf.low = M[, 3L],
             conf.high = M[, 4L], stringsAsFactors = FALSE)
}

#' @rdname standardize
#' @export
print.glmmgee_standardized <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_standardized", .allow = print_dots)
  fam <- attr(x, "family")
  cat(sprintf("Standardized means of %s(%s) predictions by '%s'\n", fam$family, fam$link,
              attr(x, "variable")))
  cat("View:", view_label(attr(x, "view")), "\n")
  se <- attr(x, "se")
  lv <- 100 * attr(x, "level")
  cat(switch(se,
             delta = if (is.null(attr(x, "vcov_label")))
               sprintf("Standard errors: delta method over all parameters; %g%% Wald intervals (log scale for ratios).\n", lv)
             else sprintf("Standard errors: delta method over all parameters with the %s; %g%% intervals (log scale for ratios).\n",
                          attr(x, "vcov_label"), lv),
             bootstrap = sprintf("Standard errors: cluster bootstrap, %d replicates%s; %g%% %s intervals.\n",
                                 NROW(attr(x, "replicates")),
                                 if (attr(x, "failed") > 0) sprintf(" (%d failed)", attr(x, "failed")) else "",
                                 lv, boot_type_label(attr(x, "boot_type"))),
             none = "No standard errors.\n"))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  print(format(d, digits = digits), row.names = FALSE)
  for (w in attr(x, "warnings")) cat("Warning:", w, "\n")
  invisible(x)
}

boot_type_label <- function(type) {
  switch(type %||% "perc", perc = "percentile", bca = "BCa", norm = "normal (bootstrap SE)",
         basic = "basic")
}
