# Input checks shared by glmm() and gee(), run on the model frame before any
# fitting, so that bad data give an error naming the variable instead of a
# failure deep inside an engine.

# The user's name for a model-frame column: "(weights)" -> weights.
frame_var_name <- function(nm) {
  extras <- c("(weights)" = "weights", "(offset)" = "offset", "(id)" = "id",
              "(waves)" = "waves")
  ifelse(nm %in% names(extras), extras[nm], nm)
}

# Infinite values survive na.omit; name the variables that hold them.
# min() and max() find them without an n-length logical per column (range()
# would copy the column); a column whose extremes are infinite (or all NA) is
# then looked at exactly.
check_frame_finite <- function(mf) {
  # The common frame (plain columns, no infinite value) passes in one C++
  # pass (src/util/frame-columns.cpp); any other is looked at below.
  if (is.list(mf) && cpp_frame_plain_finite(mf)) return(invisible())
  # An integer64 (bit64) vector is a double vector holding the integer's
  # bits: model.matrix() reads those raw bits (4.9e-323 for 10), so a
  # covariate came out as denormal numbers (gee(): a slope of 0, glmm(): an
  # optimizer error). The response is converted by as.numeric()'s method;
  # any other column is refused with the conversion to use.
  i64 <- vapply(mf, inherits, TRUE, what = "integer64")
  i64[1L] <- FALSE
  if (any(i64))
    stop(sprintf("%s %s an integer64 (bit64) vector, whose raw bits model.matrix() would read as numbers: convert it with as.numeric() (a covariate) or factor() (a grouping factor or cluster id)",
                 paste0("'", frame_var_name(names(mf)[i64]), "'", collapse = ", "),
                 if (sum(i64) > 1L) "are" else "is"), call. = FALSE)
  has_inf <- function(v) {
    if (!is.numeric(v) || !length(v)) return(FALSE)
    # min() and max() warn only when every value is missing: without missing
    # values no suppressWarnings() (its handler was 3% of a small fit's
    # front end, once per column).
    ext <- if (!anyNA(v)) c(min(v), max(v))
           else suppressWarnings(c(min(v, na.rm = TRUE), max(v, na.rm = TRUE)))
    if (all(is.finite(ext))) return(FALSE)
    any(is.infinite(v))
  }
  bad <- vapply(mf, has_inf, TRUE)
  if (any(bad))
    stop(sprintf("infinite values in %s: every variable of the model must be finite",
                 paste0("'", frame_var_name(names(mf)[bad]), "'", collapse = ", ")),
         call. = FALSE)
  invisible()
}

# A response without variation cannot be fitted, whatever the family: one
# table, one message. Binomial and beta-binomial data with no successes or
# no failures, and counts (poisson, nbinom2, nbinom1) that are all zero,
# put the intercept's estimate at +/-Inf; a constant gaussian, Gamma or beta
# response sends the dispersion to its bound (a residual variance of zero,
# an infinite Gamma shape or beta precision), where the likelihood is
# unbounded. For glmm() and gee() alike (the estimating equations of the
# first kind have no finite root, those of the second no scale).
# Minima and maxima rather than all(y <= 0) and the like: no n-length
# temporaries (y has no missing values here).
degenerate_response <- function(y, family) {
  fam <- family$family
  lo <- min(y)
  hi <- max(y)
  binary <- c("binomial", "betabinomial")
  counts <- c("poisson", "nbinom2", "nbinom1")
  continuous <- c("gaussian", "Gamma", "beta")
  if (fam %in% binary && hi <= 0) return("has no successes (every observation is 0)")
  if (fam %in% binary && lo >= 1) return("has no failures (every observation is 1)")
  if (fam %in% counts && lo == 0 && hi == 0) return("is 0 for every observation")
  if (fam %in% continuous && hi - lo <= 1e-12 * max(1, abs(lo), abs(hi)))
    return(sprintf("is constant (%s)", format(y[1L])))
  NULL
}

# The family-specific reason why a degenerate response has no estimate.
# Under the log link a response of all successes is fitted by
# probabilities of 1, on the boundary of the parameter space rather than
# at an infinite coefficient.
degenerate_reason <- function(family, y) {
  if (family$family == "binomial" && identical(family$link, "log") && min(y) >= 1)
    return("every fitted probability would be 1, the boundary of the parameter space, where nothing is left to estimate")
  switch(family$family,
    gaussian = "the residual variance would be zero",
    Gamma = "the Gamma shape would be infinite",
    beta = "the beta precision phi would be infinite",
    "the intercept would be infinite")
}

# `label`: the model's name in the message (a two-part model's, such as
# "truncated_nbinom2", rather than its count family's).
check_response_varies <- function(y, weights, family, name, label = family$family) {
  if (!length(y)) return(invisible())
  if (!is.null(weights) && min(weights) <= 0) y <- y[weights > 0]
  if (!length(y)) return(invisible())
  msg <- degenerate_response(y, family)
  if (!is.null(msg))
    stop(sprintf("the response '%s' %s: the %s model cannot be estimated (%s)",
                 name, msg, label, degenerate_reason(family, y)), call. = FALSE)
  invisible()
}

# Response-level checks common to both front ends (after model_response();
# NULL weights are all 1).
check_model_frame <- function(mf, resp, family, formula, label = family$family) {
  w <- resp$weights
  if (!length(resp$y) || !is.null(w) && (!length(w) || max(w) <= 0))
    stop("all 'weights' are zero (or every binomial observation has zero trials): there is nothing to fit",
         call. = FALSE)
  check_response_varies(resp$y, resp$weights, family,
                        paste(deparse(formula[[2L]]), collapse = ""), label)
}

# Gaussian models need residual degrees of freedom for the scale.
check_fixed_df <- function(X, weights, family) {
  if (family$family != "gaussian") return(invisible())
  n <- if (is.null(weights)) nrow(X) else n_positive(weights)
  if (family$family == "gaussian" && ncol(X) >= n)
    stop(sprintf(paste0("the model has %d fixed-effect coefficients but only %d observations: ",
                        "nothing is left to estimate the residual variance"), ncol(X), n),
         call. = FALSE)
  invisible()
}

# The fixed effects over the rows that carry weight: a level (or a
# covariate's spread) seen only in rows of weight zero leaves its
# coefficient unidentified, though the design over all rows has full rank.
# gaussian fits stopped with "gradient function must return a numeric
# vector of length 1", binomial ones returned a coefficient with a
# standard error of 1e5. Judged as check_full_rank() judges (after
# centring), only where some weight is zero.
check_weighted_rank <- function(X, weights) {
  if (is.null(weights) || !ncol(X) || min(weights) > 0) return(invisible())
  check_full_rank(X[weights > 0, , drop = FALSE],
                  "the fixed-effects model matrix over the rows with positive weight")
}

# Clusters of one observation each: for gaussian models the random-effect
# variance is confounded with the residual variance (an error, as in lme4);
# for binary data it is identified only through the shape of the link (a
# warning); for counts and binomial totals it is an observation-level random
# effect, a legitimate model for overdispersion.
check_cluster_sizes <- function(group, weights, family, gname, trials_one) {
  sizes <- if (is.null(weights) || min(weights) > 0) tabulate(group, nlevels(group))
           else tabulate(as.integer(group)[weights > 0], nlevels(group))
  if (max(sizes) > 1L) return(character())
  fam <- family$family
  if (fam == "gaussian")
    stop(sprintf(paste0("every level of the grouping factor '%s' has one observation: ",
                        "the random-effect variance cannot be told apart from the residual variance"),
                 gname), call. = FALSE)
  if (fam == "binomial" && trials_one)
    return(sprintf(paste0("every level of the grouping factor '%s' has one binary observation: ",
                          "the random-effect variance is barely identifiable (only through the shape ",
                          "of the link) and its estimate is unreliable"), gname))
  character()
}

# A grouping column that looks continuous: numeric with non-whole values,
# nearly every one distinct, in a binary model. Its clusters hold about one
# observation each, so the random-effect variance is barely identifiable;
# the usual cause is a covariate written as the grouping factor. `v` is the
# column as in the data (NULL for an expression), `nlev` the number of
# groups. Returns the warning naming the column, or character().
check_grouping_column <- function(v, gname, nlev, family, trials_one) {
  if (!identical(family$family, "binomial") || !trials_one || !is.double(v)) return(character())
  n <- length(v)
  if (n < 10L || nlev < 0.9 * n || all(v == round(v), na.rm = TRUE)) return(character())
  sprintf(paste0("the grouping column '%s' is numeric with %d distinct values in %d rows: it looks ",
                 "like a continuous variable, not a cluster identifier; with about one binary ",
                 "observation per group the random-effect variance is barely identifiable. Group by ",
                 "the column that identifies the clusters (e.g. a subject id), or use '%s' as a ",
                 "covariate"), gname, nlev, n, gname)
}

# Runs detect_separation() for a front end. Returns NULL (nothing to report)
# or the separation record, with its message.
separation_record <- function(X, y, weights, family, model) {
  if (!(family$family %in% c("binomial", "poisson"))) return(NULL)
  # Aliased columns do not change the answer (Xb = 0 adds nothing to the
  # log-likelihood); the fitters report them.
  sep <- detect_separation(X, y, weights, family)
  if (is.null(sep) || !sep$separated) return(sep)
  sep$message <- separation_message(sep, family, model)
  sep
}
