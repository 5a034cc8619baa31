# Methods for fits with several random-effect terms (class "glmmgee_glmm_sparse",
# which inherits from "glmmgee_glmm"): what differs from one grouping factor is the
# random-effect structure, kept per term in `object$reterms` (fields
# documented in fit-sparse.R). Everything else is inherited.

#' @rdname VarCorr.glmmgee_glmm
#' @export
VarCorr.glmmgee_glmm_sparse <- function(x, sigma = 1, ...) {
  out <- lapply(x$reterms, function(tm) varcorr_block(tm$D, tm$cnames, rep(1L, nrow(tm$D))))
  names(out) <- make.unique(x$group_name, sep = ".")
  new_varcorr(out, x)
}

# Terms grouped by grouping factor (terms of `||` share one factor).
terms_by_factor <- function(object) {
  g <- object$group_name
  split(seq_along(g), factor(g, levels = unique(g)))
}

#' @rdname ranef.glmmgee_glmm
#' @export
ranef.glmmgee_glmm_sparse <- function(object, type = c("mode", "mean"), condVar = TRUE, nAGQ = NULL,
                              ...) {
  type <- match.arg(type)
  if (type == "mean")
    stop("posterior means (type = \"mean\") need adaptive quadrature, which is available for one grouping factor; ",
         "with several random-effect terms use type = \"mode\"", call. = FALSE)
  out <- lapply(terms_by_factor(object), function(ks) {
    tms <- object$reterms[ks]
    B <- do.call(cbind, lapply(tms, `[[`, "b"))
    df <- as.data.frame(B, check.names = FALSE)
    rownames(df) <- tms[[1L]]$levels
    if (isTRUE(condVar)) {
      q <- ncol(B)
      nl <- nrow(B)
      V <- array(0, c(q, q, nl), dimnames = list(colnames(B), colnames(B), rownames(df)))
      off <- 0L
      for (tm in tms) {
        j <- off + seq_along(tm$cnames)
        V[j, j, ] <- tm$condvar
        off <- off + length(tm$cnames)
      }
      attr(df, "postVar") <- V
    }
    df
  })
  structure(out, type = "mode", class = "ranef.glmmgee_glmm")
}

#' @rdname glmm-extractors
#' @export
coef.glmmgee_glmm_sparse <- function(object, ...) {
  re <- ranef(object, condVar = FALSE)
  beta <- fixef(object)
  out <- lapply(re, function(b) {
    cf <- as.data.frame(matrix(beta, nrow(b), length(beta), byrow = TRUE,
                               dimnames = list(rownames(b), names(beta))),
                        check.names = FALSE)
    for (nm in names(b)) cf[[nm]] <- (if (nm %in% names(cf)) cf[[nm]] else 0) + b[[nm]]
    cf
  })
  structure(out, class = "coef.glmmgee_glmm")
}

#' @rdname glmm-extractors
#' @export
model.matrix.glmmgee_glmm_sparse <- function(object, type = c("fixed", "random"), ...) {
  type <- match.arg(type)
  if (type == "fixed") return(object$X)
  Z <- object$Z
  colnames(Z) <- unlist(lapply(object$reterms, function(tm)
    rep(tm$levels, each = length(tm$cnames))), use.names = FALSE)
  Z
}

#' @rdname predict.glmmgee_glmm
#' @export
predict.glmmgee_glmm_sparse <- function(object, newdata = NULL, type = c("link", "response"),
                                re.form = NULL, allow.new.levels = TRUE,
                                na.action = stats::na.pass, se.fit = FALSE, ...) {
  type <- match.arg(type)
  check_flag(se.fit, "se.fit")
  bars <- selected_bars(object, re.form)
  if (is.null(newdata)) {
    eta <- object$eta_fixed
    cols <- unlist(lapply(object$reterms[bars], `[[`, "columns"), use.names = FALSE)
    if (length(cols))
      eta <- eta + as.numeric(object$Z[, cols, drop = FALSE] %*% object$b[cols])
    names(eta) <- names(object$fitted.values)
    return(prediction(object, eta, if (se.fit) object$X, type, object$na.action))
  }
  if (!is.data.frame(newdata)) stop("'newdata' must be a data frame", call. = FALSE)
  env <- environment(object$formula) %||% parent.frame()
  exprs <- list(stats::formula(stats::delete.response(object$terms))[[2L]])
  for (tm in object$reterms[bars]) exprs <- c(exprs, list(tm$lhs, tm$group_expr))
  if (!is.null(object$call$offset)) exprs <- c(exprs, list(object$call$offset))
  rhs <- Reduce(function(a, b) call("+", a, b), exprs)
  mf <- stats::model.frame(stats::as.formula(call("~", rhs), env = env), newdata,
                           na.action = na.action)
  nao <- attr(mf, "na.action")
  data <- if (is.null(nao)) newdata else newdata[-as.integer(nao), , drop = FALSE]
  eta <- newdata_fixed(object, data, env)
  X <- attr(eta, "X")
  attr(eta, "X") <- NULL
  # Grouping expressions such as a:b need factors (character columns fail).
  fdata <- data
  chr <- vapply(fdata, is.character, TRUE)
  fdata[chr] <- lapply(fdata[chr], factor)
  for (tm in object$reterms[bars]) {
    g <- eval(substitute(factor(G), list(G = tm$group_expr)), fdata, env)
    idx <- match(as.character(g), tm$levels)
    new <- is.na(idx) & !is.na(g)
    if (any(new) && !allow.new.levels)
      stop(sprintf("'newdata' has level(s) of '%s' not in the fit (%s); use allow.new.levels = TRUE to predict them with random effects of zero",
                   tm$group, paste(unique(as.character(g[new]))[seq_len(min(5L, sum(new)))],
                                   collapse = ", ")), call. = FALSE)
    tt <- stats::terms(stats::as.formula(call("~", tm$lhs), env = env))
    xlev <- stats::.getXlevels(tt, object$model)
    Zk <- stats::model.matrix(tt, stats::model.frame(tt, data, na.action = stats::na.pass,
                                                     xlev = xlev))
    if (!identical(colnames(Zk), tm$cnames))
      stop("'newdata' does not give the random-effects columns of the fit (",
           paste(tm$cnames, collapse = ", "), ")", call. = FALSE)
    Bk <- tm$b[idx, , drop = FALSE]
    Bk[is.na(idx), ] <- 0
    eta <- eta + rowSums(Zk * Bk)
  }
  names(eta) <- rownames(data)
  prediction(object, eta, if (se.fit) X, type, nao)
}
