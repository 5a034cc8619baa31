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

# Delta-method table from the means m and their covariance S (NULL: no SE).
contrast_table <- function(m, S, labels, binary, level) {
  defs <- contrast_defs(length(m), binary)
  z <- stats::qnorm(1 - (1 - level) / 2)
  rows <- lapply(defs, function(d) {
    t <- d$f(m, d$k)
    s <- if (is.null(S)) NA_real_ else {
      a <- d$grad(m, d$k)
      sqrt(max(drop(crossprod(a, S %*% a)), 0))
    }
    if (d$log) c(exp(t), exp(t) * s, exp(t - z * s), exp(t + z * s))
    else c(t, s, t - z * s, t + z * s)
  })
  table_frame(defs, labels, do.call(rbind, rows))
}

# Bootstrap table: standard deviation of the replicates (on the scale of the
# reported quantity) and percentile intervals.
bootstrap_table <- function(m, reps, labels, binary, level) {
  defs <- contrast_defs(length(m), binary)
  a <- (1 - level) / 2
  rows <- lapply(defs, function(d) {
    tr <- function(x) if (d$log) exp(d$f(x, d$k)) else d$f(x, d$k)
    r <- apply(reps, 1L, tr)
    r <- r[is.finite(r)]
    c(tr(m), stats::sd(r), stats::quantile(r, c(a, 1 - a), names = FALSE))
  })
  table_frame(defs, labels, do.call(rbind, rows))
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
  fam <- attr(x, "family")
  cat(sprintf("Standardized means of %s(%s) predictions by '%s'\n", fam$family, fam$link,
              attr(x, "variable")))
  cat("View:", view_label(attr(x, "view")), "\n")
  se <- attr(x, "se")
  lv <- 100 * attr(x, "level")
  cat(switch(se,
             delta = sprintf("Standard errors: delta method over all parameters; %g%% Wald intervals (log scale for ratios).\n", lv),
             bootstrap = sprintf("Standard errors: cluster bootstrap, %d replicates%s; %g%% percentile intervals.\n",
                                 NROW(attr(x, "replicates")),
                                 if (attr(x, "failed") > 0) sprintf(" (%d failed)", attr(x, "failed")) else "",
                                 lv),
             none = "No standard errors.\n"))
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  print(format(d, digits = digits), row.names = FALSE)
  for (w in attr(x, "warnings")) cat("Warning:", w, "\n")
  invisible(x)
}
