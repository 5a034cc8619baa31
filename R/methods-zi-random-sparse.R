# Methods for two-part models with random-effect terms in both parts fitted
# by the two-part sparse engine (fit-sparse-zi-random.R; class
# glmmgee_glmm_zire_sparse in front of glmmgee_glmm_zi and
# glmmgee_glmm_sparse). The count part's terms are the object's `reterms`,
# as for any several-term fit; the zero part's are in aux$zi$re:
#   sparse = TRUE, terms (as reterms: levels, cnames, index, columns of Z,
#   Lambda, D, b, condvar), Z (their sparse design), b (their modes laid
#   out as Z's columns).

zi_random_sparse_part <- function(fit, rz, terms = fit$zterms) {
  list(sparse = TRUE, terms = terms, Z = rz$Z, b = term_modes(terms, ncol(rz$Z)),
       group_name = vapply(terms, `[[`, "", "group"))
}

# The random-effect contribution of the second part `zr` (the zero part's,
# aux$zi$re, or a dispersion formula's, aux$disp$re) to its linear predictor
# (logit(pi) or the log dispersion) at the data of the fit or at newdata (0
# for new levels when allow.new.levels = TRUE); `label` names the part.
# `keep`: the part's terms kept by re.form (indices into zr$terms).
sparse_part_re_link <- function(object, zr, newdata, allow.new.levels, label = "zero part",
                                keep = seq_along(zr$terms)) {
  if (is.null(newdata)) {
    cols <- unlist(lapply(zr$terms[keep], `[[`, "columns"), use.names = FALSE)
    return(as.numeric(zr$Z[, cols, drop = FALSE] %*% zr$b[cols]))
  }
  env <- environment(object$formula) %||% parent.frame()
  Z <- sparse_design_z(list(reterms = zr$terms[keep], model = object$model), newdata, env)
  out <- numeric(nrow(Z))
  pos <- 0L
  for (tm in zr$terms[keep]) {
    q <- length(tm$cnames)
    g <- as.character(eval_grouping(tm$group_expr, newdata, env))
    l <- match_levels(g, tm$levels, tm$group, allow.new.levels, label)
    B <- tm$b[ifelse(is.na(l), 1L, l), , drop = FALSE]
    B[is.na(l), ] <- 0
    out <- out + rowSums(Z[, pos + seq_len(q), drop = FALSE] * B)
    pos <- pos + q
  }
  out
}

# The parts beside the conditional one whose random effects the two-part
# sparse engine fitted: a named list of aux$zi$re and aux$disp$re (those
# present, in the engine's order: the zero part's, then the dispersion's).
random_aux_parts <- function(fit) {
  a <- .subset2(fit, "aux")
  Filter(function(r) isTRUE(r$sparse), list(zi = a$zi$re, disp = a$disp$re))
}

# simulate(): new random effects of every part, drawn independently (the
# model's independence of the parts), term by term, into that part's
# linear predictor (`zlink` the zero part's, `dlink` the dispersion's).
zi_random_sparse_sampler <- function(object) {
  parts <- random_aux_parts(object)
  draw_eta <- random_effect_sampler(object)
  pr <- zi_predictors(object, NULL, NA, FALSE)
  fixed <- list(zlink = pr$zlink)
  link <- c(zi = "zlink", disp = "dlink")
  function() {
    out <- c(list(eta = draw_eta()), fixed)
    for (nm in names(parts)) {
      zr <- parts[[nm]]
      b <- numeric(ncol(zr$Z))
      for (tm in zr$terms) {
        q <- length(tm$cnames)
        nl <- length(tm$levels)
        B <- matrix(stats::rnorm(nl * q), nl, q) %*% t(tm$Lambda)
        b[tm$columns] <- as.vector(t(B))
      }
      out[[link[[nm]]]] <- aux_fixed_link(object$aux[[nm]]) + as.numeric(zr$Z %*% b)
    }
    out
  }
}

# A stand-in several-term fit whose random-effect terms are those of the
# part `part` ("zi" or "disp"; by default the first beside the conditional
# one), for ranef() and that part's rows of Lambda in confint().
zi_random_sparse_shadow <- function(object, part = NULL) {
  parts <- random_aux_parts(object)
  zr <- if (is.null(part)) parts[[1L]] else parts[[part]]
  object$reterms <- zr$terms
  object$group_name <- zr$group_name
  object$Z <- zr$Z
  class(object) <- c("glmmgee_glmm_sparse", "glmmgee_glmm")
  object
}

# VarCorr() of a fit with random effects in other parts (random_aux_parts():
# the zero part's, a dispersion formula's or both), each part's blocks after
# the conditional part's, named "zi~<group>" and "disp~<group>".
second_part_varcorr <- function(x) {
  parts <- random_aux_parts(x)
  blk <- function(tms) lapply(tms, function(tm) varcorr_block(tm$D, tm$cnames, rep(1L, nrow(tm$D))))
  out <- c(blk(x$reterms), unlist(lapply(parts, function(zr) blk(zr$terms)), recursive = FALSE))
  names(out) <- make.unique(c(x$group_name, unlist(lapply(names(parts), function(nm)
    paste0(nm, "~", parts[[nm]]$group_name)))), sep = ".")
  new_varcorr(out, x)
}

# ranef() of such a fit: the conditional part's modes, another part's
# (`component` "zi" or "disp") or all (`component` "both": a list named by
# part). Without `component` (`given` FALSE), a fit whose random effects
# are all in one other part gives that part's.
second_part_ranef <- function(object, type, condVar, component, given = TRUE) {
  parts <- random_aux_parts(object)
  cond <- function() ranef.glmmgee_glmm_sparse(object, type = type, condVar = condVar)
  other <- function(nm) ranef.glmmgee_glmm_sparse(zi_random_sparse_shadow(object, nm), type = type,
                                                  condVar = condVar)
  if (!given && !length(object$reterms) && length(parts) == 1L) component <- names(parts)
  if (component == "cond") return(cond())
  if (component %in% names(parts)) return(other(component))
  if (component != "both")
    stop(sprintf("'component': this fit has no random effects in the %s part; use one of %s",
                 if (component == "zi") "zero" else "dispersion",
                 paste0("\"", c("cond", names(parts), "both"), "\"", collapse = ", ")),
         call. = FALSE)
  stats::setNames(c(list(cond()), lapply(names(parts), other)), c("cond", names(parts)))
}

#' @rdname glmm-zi-random
#' @export
VarCorr.glmmgee_glmm_zire_sparse <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_zire_sparse")
  refuse_varcorr_sigma(!missing(sigma), "models with random effects in the zero part")
  second_part_varcorr(x)
}

#' @rdname glmm-zi-random
#' @export
ranef.glmmgee_glmm_zire_sparse <- function(object, type = c("mode", "mean"), condVar = TRUE,
                                           component = c("cond", "zi", "disp", "both"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_zire_sparse", .allow = "newdata")
  refuse_ranef_newdata(list(...), "models with random effects in the zero part")
  second_part_ranef(object, match.arg(type), condVar, match.arg(component), !missing(component))
}

# A dispersion formula with random-effect terms (fit-dispersion-random.R;
# class glmmgee_glmm_dispre in front of glmmgee_glmm_zi and
# glmmgee_glmm_sparse): its terms are in aux$disp$re, laid out as a zero
# part's are (zi_random_sparse_part()).

#' @rdname glmm-dispersion-random
#' @export
VarCorr.glmmgee_glmm_dispre <- function(x, sigma = 1, ...) {
  check_dots(..., .method = "VarCorr.glmmgee_glmm_dispre")
  refuse_varcorr_sigma(!missing(sigma), "models with random effects in the dispersion formula")
  second_part_varcorr(x)
}

#' @rdname glmm-dispersion-random
#' @param component `"cond"` (the mean's random effects), `"disp"` (the
#'   dispersion formula's), `"zi"` (the zero part's, when it has random-effect
#'   terms too) or `"both"` (a list of every part's). When the conditional
#'   formula has no random-effect term, the default gives the dispersion
#'   formula's.
#' @export
ranef.glmmgee_glmm_dispre <- function(object, type = c("mode", "mean"), condVar = TRUE,
                                      component = c("cond", "disp", "zi", "both"), ...) {
  check_dots(..., .method = "ranef.glmmgee_glmm_dispre", .allow = "newdata")
  refuse_ranef_newdata(list(...), "models with random effects in the dispersion formula")
  second_part_ranef(object, match.arg(type), condVar, match.arg(component), !missing(component))
}
