# Methods for two-part models with random-effect terms in both parts fitted
# by the two-part sparse engine (fit-sparse-zi-random.R; class
# glmmgee_glmm_zire_sparse in front of glmmgee_glmm_zi and
# glmmgee_glmm_sparse). The count part's terms are the object's `reterms`,
# as for any several-term fit; the zero part's are in aux$zi$re:
#   sparse = TRUE, terms (as reterms: levels, cnames, index, columns of Z,
#   Lambda, D, b, condvar), Z (their sparse design), b (their modes laid
#   out as Z's columns).

zire_sparse_part <- function(fit, rz) {
  b <- numeric(ncol(rz$Z))
  for (tm in fit$zterms) b[tm$columns] <- as.vector(t(tm$b))
  list(sparse = TRUE, terms = fit$zterms, Z = rz$Z, b = b,
       group_name = vapply(fit$zterms, `[[`, "", "group"))
}

# The random-effect contribution of the second part `zr` (the zero part's,
# aux$zi$re, or a dispersion formula's, aux$disp$re) to its linear predictor
# (logit(pi) or the log dispersion) at the data of the fit or at newdata (0
# for new levels when allow.new.levels = TRUE); `label` names the part.
sparse_part_re_link <- function(object, zr, newdata, allow.new.levels, label = "zero part") {
  if (is.null(newdata)) return(as.numeric(zr$Z %*% zr$b))
  env <- environment(object$formula) %||% parent.frame()
  Z <- sparse_design_z(list(reterms = zr$terms, model = object$model), newdata, env)
  out <- numeric(nrow(Z))
  pos <- 0L
  for (tm in zr$terms) {
    q <- length(tm$cnames)
    g <- as.character(eval_grouping(tm$group_expr, newdata, env))
    l <- match(g, tm$levels)
    if (anyNA(l) && !allow.new.levels)
      stop(sprintf("'newdata' has levels of '%s' (%s) not in the fit; set allow.new.levels = TRUE to predict at zero random effects",
                   tm$group, label), call. = FALSE)
    B <- tm$b[ifelse(is.na(l), 1L, l), , drop = FALSE]
    B[is.na(l), ] <- 0
    out <- out + rowSums(Z[, pos + seq_len(q), drop = FALSE] * B)
    pos <- pos + q
  }
  out
}

# simulate(): new random effects of both parts, drawn independently
# (the model's independence of the two parts), term by term; the second
# part's linear predictor is `zlink` or, for a dispersion part with random
# effects, `dlink`.
zire_sparse_sampler <- function(object) {
  disp <- inherits(object, "glmmgee_glmm_dispre")
  pt <- if (disp) object$aux$disp else object$aux$zi
  zr <- pt$re
  draw_eta <- random_effect_sampler(object)
  z0 <- aux_fixed_link(pt)
  zlink <- if (disp) zi_predictors(object, NULL, NA, FALSE)$zlink
  function() {
    b <- numeric(ncol(zr$Z))
    for (tm in zr$terms) {
      q <- length(tm$cnames)
      nl <- length(tm$levels)
      B <- matrix(stats::rnorm(nl * q), nl, q) %*% t(tm$Lambda)
      b[tm$columns] <- as.vector(t(B))
    }
    a <- z0 + as.numeric(zr$Z %*% b)
    if (disp) list(eta = draw_eta(), zlink = zlink, dlink = a)
    else list(eta = draw_eta(), zlink = a)
  }
}

# A stand-in several-term fit whose random-effect terms are the zero
# part's (or a dispersion formula's), for ranef() and that part's rows of
# Lambda in confint().
zire_sparse_shadow <- function(object) {
  zr <- object$aux$zi$re %||% object$aux$disp$re
  object$reterms <- zr$terms
  object$group_name <- zr$group_name
  object$Z <- zr$Z
  class(object) <- c("glmmgee_glmm_sparse", "glmmgee_glmm")
  object
}

# VarCorr() of a fit with random effects in a second part (`zr`: the zero
# part's aux$zi$re or a dispersion formula's aux$disp$re), that part's
# blocks after the first part's, named with `prefix`.
second_part_varcorr <- function(x, zr, prefix) {
  blk <- function(tms) lapply(tms, function(tm) varcorr_block(tm$D, tm$cnames, rep(1L, nrow(tm$D))))
  out <- c(blk(x$reterms), blk(zr$terms))
  names(out) <- make.unique(c(x$group_name, paste0(prefix, zr$group_name)), sep = ".")
  new_varcorr(out, x)
}

# ranef() of such a fit: the first part's modes, the second part's (named
# `name` in `component`) or both. Without `component` (`given` FALSE), a fit
# whose random effects are all in the second part gives that part's.
second_part_ranef <- function(object, type, condVar, component, name, given = TRUE) {
  cond <- function() ranef.glmmgee_glmm_sparse(object, type = type, condVar = condVar)
  second <- function() ranef.glmmgee_glmm_sparse(zire_sparse_shadow(object), type = type,
                                                 condVar = condVar)
  if (!given && !length(object$reterms)) component <- name
  if (component == "cond") return(cond())
  if (component == name) return(second())
  stats::setNames(list(cond(), second()), c("cond", name))
}

#' @rdname glmm-zi-random
#' @export
VarCorr.glmmgee_glmm_zire_sparse <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_zire_sparse")
  second_part_varcorr(x, x$aux$zi$re, "zi~")
}

#' @rdname glmm-zi-random
#' @export
ranef.glmmgee_glmm_zire_sparse <- function(object, type = c("mode", "mean"), condVar = TRUE,
                                           component = c("cond", "zi", "both"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_zire_sparse", .allow = "newdata")
  refuse_ranef_newdata(list(...), "models with random effects in the zero part")
  second_part_ranef(object, match.arg(type), condVar, match.arg(component), "zi",
                    !missing(component))
}

# A dispersion formula with random-effect terms (fit-dispersion-random.R;
# class glmmgee_glmm_dispre in front of glmmgee_glmm_zi and
# glmmgee_glmm_sparse): its terms are in aux$disp$re, laid out as a zero
# part's are (zire_sparse_part()).

#' @rdname glmm-dispersion-random
#' @export
VarCorr.glmmgee_glmm_dispre <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_dispre")
  second_part_varcorr(x, x$aux$disp$re, "disp~")
}

#' @rdname glmm-dispersion-random
#' @param component `"cond"` (the mean's random effects), `"disp"` (the
#'   dispersion formula's) or `"both"` (a list of the two). When the
#'   conditional formula has no random-effect term, the default gives the
#'   dispersion formula's.
#' @export
ranef.glmmgee_glmm_dispre <- function(object, type = c("mode", "mean"), condVar = TRUE,
                                      component = c("cond", "disp", "both"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_dispre", .allow = "newdata")
  refuse_ranef_newdata(list(...), "models with random effects in the dispersion formula")
  second_part_ranef(object, match.arg(type), condVar, match.arg(component), "disp",
                    !missing(component))
}
