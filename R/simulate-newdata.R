# simulate(newdata = ) for glmm fits with normal random effects (one
# grouping factor or several terms), as lme4's simulate.merMod(newdata = ):
# the fixed part from predict() on the new rows, random effects drawn anew
# for the levels present (re.form = NA) or held at the fitted levels'
# predictions (re.form = NULL, new levels drawn when allowed).

simulate_newdata <- function(object, nsim, seed, new_re, newdata, allow.new.levels, weights,
                             na.action) {
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  check_flag(allow.new.levels, "allow.new.levels")
  require_capability(object, "simulate_newdata", "simulate(newdata = )",
                     "new levels' effects depend on K")
  env <- environment(object$formula) %||% parent.frame()
  newdata <- na_columns_as_fit(object, newdata)
  nd <- simulate_newdata_rows(object, newdata, na.action, env)
  data <- nd$data
  n <- nrow(data)
  # The fixed part on the rows with every value (predict() on none at all,
  # as for zero rows or a spline of missing values, fails): NA elsewhere.
  # (Grouping labels are not its variables: a missing one, allowed by
  # allow.new.levels, still has a fixed part.)
  full <- !seq_len(n) %in% as.integer(simulate_newdata_rows(object, data, stats::na.omit, env,
                                                            grouping = FALSE)$na.action)
  eta0 <- rep(NA_real_, n)
  if (any(full))
    eta0[full] <- unname(quiet_binlog_over(
      stats::predict(object, newdata = data[full, , drop = FALSE], re.form = NA, type = "link")))
  terms <- newdata_re_terms(object, data, env)
  check_new_levels(terms, allow.new.levels, new_re)
  w <- newdata_prior_weights(object, data, env, weights)
  rs <- simulate_seed(seed)
  if (!is.null(rs$old)) on.exit(assign(".Random.seed", rs$old, envir = globalenv()))
  resp <- response_form(object)
  sims <- lapply(seq_len(nsim), function(k) {
    eta <- eta0
    for (tm in terms) eta <- eta + newdata_re_draw(tm, new_re)
    ok <- is.finite(eta) & !is.na(w)
    mu <- if (any(ok)) object$family$linkinv(eta[ok]) else numeric(0)
    y <- draw_response(object, mu, resp, w[ok])
    pad_rows(y, ok)
  })
  names(sims) <- paste0("sim_", seq_len(nsim))
  rn <- rownames(data)
  if (inherits(nd$na.action, "exclude")) {
    keep <- !seq_len(nrow(newdata)) %in% as.integer(nd$na.action)
    sims <- lapply(sims, pad_rows, ok = keep)
    rn <- rownames(newdata)
  }
  structure(sims, class = "data.frame", row.names = rn, seed = rs$rng)
}

# The rows of newdata kept by na.action over every variable the simulation
# uses (fixed part, random-effect terms, grouping factors unless not
# `grouping`, offset).
simulate_newdata_rows <- function(object, newdata, na.action, env, grouping = TRUE) {
  exprs <- list(stats::formula(stats::delete.response(object$terms))[[2L]])
  if (inherits(object, "glmmgee_glmm_sparse")) {
    for (tm in object$reterms)
      exprs <- c(exprs, list(tm$lhs), if (grouping) list(tm$group_expr))
  } else {
    exprs <- c(exprs, object$re_formula, if (grouping) list(str2lang(object$group_name)))
  }
  if (!is.null(object$call$offset)) exprs <- c(exprs, list(object$call$offset))
  rows_with_values(exprs, newdata, na.action, env)
}

# Per grouping factor of the model: the new rows' level labels, their
# random-effects design Z (new rows by effects), the fitted levels with
# their predicted effects (rows of b) and Lambda (Cholesky factor of the
# effects' covariance). One grouping factor: one entry with every term's
# columns; several terms: one per term.
newdata_re_terms <- function(object, data, env) {
  lhs_design <- function(lhs, frame, label, cnames) {
    tt <- re_lhs_terms(lhs, frame, env)
    xlev <- stats::.getXlevels(tt, frame)
    check_newdata_xlevels(xlev, data, sprintf("random-effect term (%s | %s)",
                                              paste(deparse(lhs), collapse = ""), label), env)
    Zk <- stats::model.matrix(tt, stats::model.frame(tt, data, na.action = stats::na.pass,
                                                     xlev = xlev))
    if (!identical(colnames(Zk), cnames))
      stop("'newdata' does not give the random-effects columns of the fit (",
           paste(cnames, collapse = ", "), ")", call. = FALSE)
    Zk
  }
  if (inherits(object, "glmmgee_glmm_sparse")) {
    return(lapply(object$reterms, function(tm) {
      list(labels = as.character(eval_grouping(tm$group_expr, data, env)), name = tm$group,
           Z = lhs_design(tm$lhs, object$model, tm$group, tm$cnames),
           levels = tm$levels, b = tm$b, Lambda = tm$Lambda)
    }))
  }
  cols <- bar_columns(object)
  # a distributed fit keeps only an empty frame with the levels
  frame <- .subset2(object, "frame_prototype") %||% object$model
  Z <- do.call(cbind, lapply(seq_along(object$re_formula), function(k)
    lhs_design(object$re_formula[[k]], frame, object$group_name, object$cnames[cols[[k]]])))
  list(list(labels = as.character(eval_grouping(str2lang(object$group_name), data, env)),
            name = object$group_name, Z = Z, levels = object$group_levels,
            b = object$ranef$mode, Lambda = object$Lambda))
}

# Levels of newdata not in the fit (re.form = NULL only: with new random
# effects every level is drawn anew) and missing labels (either way: a row
# of no known cluster) are an error naming them unless allow.new.levels,
# as in predict().
check_new_levels <- function(terms, allow, new_re = FALSE) {
  if (allow) return(invisible(NULL))
  for (tm in terms) {
    lab <- tm$labels
    if (anyNA(lab))
      stop(sprintf(paste0("'newdata' has %d missing value(s) of the grouping variable '%s'; use ",
                          "allow.new.levels = TRUE to give them random effects of zero, or ",
                          "na.action = na.omit to drop them"), sum(is.na(lab)), tm$name),
           call. = FALSE)
    if (new_re) next
    unseen <- unique(lab[!is.na(lab) & !(lab %in% tm$levels)])
    if (length(unseen))
      stop(sprintf(paste0("'newdata' has %d level(s) of '%s' not in the fit: %s%s. With re.form = NULL ",
                          "the fitted levels keep their predicted random effects; use ",
                          "allow.new.levels = TRUE to draw new ones for the others, or re.form = NA ",
                          "to draw new ones for every level%s"),
                   length(unseen), tm$name, paste(sQuote(utils::head(unseen, 5L), FALSE), collapse = ", "),
                   if (length(unseen) > 5L) ", ..." else "",
                   number_match_hint(unseen, as.character(tm$levels))), call. = FALSE)
  }
  invisible(NULL)
}

# One draw of a term's contribution to the linear predictor: b = Lambda u
# for each level present in the new rows (every level with new_re, else
# only those not in the fit; the fitted ones keep their prediction).
newdata_re_draw <- function(tm, new_re) {
  lab <- tm$labels
  lev <- unique(lab[!is.na(lab)])
  q <- ncol(tm$Z)
  B <- matrix(stats::rnorm(length(lev) * q), length(lev), q) %*% t(tm$Lambda)
  if (!new_re) {
    idx <- match(lev, tm$levels)
    seen <- !is.na(idx)
    B[seen, ] <- tm$b[idx[seen], , drop = FALSE]
  }
  B <- B[match(lab, lev), , drop = FALSE]
  # A missing label (allowed by allow.new.levels): random effects of zero,
  # as predict() gives it.
  B[is.na(lab), ] <- 0
  rowSums(tm$Z * B)
}

# Prior weights of the new rows: the `weights` argument, else the fit's
# weights expression on newdata (when it can be evaluated there) times,
# for a cbind(successes, failures) response, its totals on newdata.
newdata_prior_weights <- function(object, data, env, weights) {
  n <- nrow(data)
  if (!is.null(weights)) {
    if (!is.numeric(weights) || length(weights) != n || any(weights < 0, na.rm = TRUE))
      stop(sprintf("'weights' must be %d non-negative number(s), one per row of 'newdata'%s", n,
                   " (after its na.action)"), call. = FALSE)
    return(as.numeric(weights))
  }
  w <- rep(1, n)
  if (!is.null(object$call$weights)) {
    wv <- tryCatch(eval(object$call$weights, data, env), error = function(e) NULL)
    if (is.numeric(wv) && length(wv) == n) w <- as.numeric(wv)
  }
  if (object$family$family %in% c("binomial", "betabinomial") &&
      response_form(object)$type == "cbind") {
    lhs <- stats::formula(object$terms)[[2L]]
    if (all(all.vars(lhs) %in% names(data))) {
      y <- tryCatch(eval(lhs, data, env), error = function(e) NULL)
      if (is.matrix(y) && nrow(y) == n) w <- w * rowSums(y)
    }
  }
  w
}

# A response drawn for the rows `ok` placed among all rows (NA elsewhere).
pad_rows <- function(y, ok) {
  if (all(ok)) return(y)
  if (is.matrix(y)) {
    m <- matrix(NA_real_, length(ok), ncol(y), dimnames = list(NULL, colnames(y)))
    m[ok, ] <- y
    return(m)
  }
  out <- y[rep(NA_integer_, length(ok))]
  out[ok] <- y
  out
}
