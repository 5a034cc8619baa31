# The `contrasts =` argument of glmm() and gee(): a named list giving, per
# factor, the contrasts of its fixed-effect columns, as stats::glm(),
# lme4::glmer() and glmmTMB::glmmTMB() take it (model.matrix()'s
# `contrasts.arg`). The front end checks it once against the model frame and
# carries it on the frame (attribute "contrasts_arg"), so that every design
# built from that frame for fixed effects (conditional part, `ziformula`,
# `dispformula`) uses it while the random-effect designs keep the default
# coding, as lme4's and glmmTMB's do. The contrasts actually used are stored
# in the fit (`$contrasts`, model.matrix()'s attribute), which every method
# that rebuilds a design passes back to model.matrix().

# The checked list, or NULL. Names must be factor (or character, logical)
# variables of the model frame or columns of `data()` (a variable the
# formula no longer uses, as after drop1() or update(), is ignored, as
# model.matrix() ignores it); each value a contrast function, the name of
# one, or a numeric matrix with a row per level.
check_contrasts <- function(contrasts, mf, data = function() NULL) {
  if (is.null(contrasts)) return(NULL)
  if (!is.list(contrasts) || (length(contrasts) && (is.null(names(contrasts)) ||
                                                    any(!nzchar(names(contrasts))))))
    stop("'contrasts' must be a named list, e.g. list(f = \"contr.sum\")", call. = FALSE)
  if (anyDuplicated(names(contrasts)))
    stop(sprintf("'contrasts' names '%s' twice",
                 names(contrasts)[anyDuplicated(names(contrasts))]), call. = FALSE)
  for (nm in names(contrasts)) {
    v <- mf[[nm]]
    if (is.null(v)) {
      d <- data()
      v <- if (is.data.frame(d) || is.list(d)) d[[nm]]
      if (is.null(v))
        stop(sprintf("'contrasts' names '%s', which is neither a variable of the model nor a column of 'data'",
                     nm), call. = FALSE)
    }
    if (!(is.factor(v) || is.character(v) || is.logical(v)))
      stop(sprintf("'contrasts' names '%s', which is not a factor (it is %s)", nm, class(v)[1L]),
           call. = FALSE)
    f <- if (is.factor(v)) v else factor(v)
    ca <- contrasts[[nm]]
    ok <- is.function(ca) || (is.character(ca) && length(ca) == 1L) ||
      (is.matrix(ca) && is.numeric(ca))
    if (!ok)
      stop(sprintf("'contrasts$%s' must be a contrast function, its name or a numeric matrix", nm),
           call. = FALSE)
    # What model.matrix() will do with it, tried now so a bad value is an
    # error naming the argument rather than one from deep in the fit.
    tryCatch({
      if (is.character(ca)) ca <- match.fun(ca)
      if (is.function(ca)) ca <- ca(nlevels(f))
      if (!is.matrix(ca) || !is.numeric(ca) || nrow(ca) != nlevels(f))
        stop(sprintf("it must give a numeric matrix with one row per level (%d)", nlevels(f)),
             call. = FALSE)
      if (nlevels(f) > 1L && qr(cbind(1, ca))$rank != ncol(ca) + 1L)
        stop("its columns are not linearly independent of the intercept", call. = FALSE)
    }, error = function(e)
      stop(sprintf("'contrasts$%s' is not a valid contrast for factor '%s': %s", nm, nm,
                   conditionMessage(e)), call. = FALSE))
  }
  contrasts
}

# The checked `contrasts` put on the model frame (see above).
frame_with_contrasts <- function(mf, contrasts, data = function() NULL) {
  attr(mf, "contrasts_arg") <- check_contrasts(contrasts, mf, data)
  mf
}

# The part of the frame's `contrasts` that concerns the variables of terms
# `tt` (model.matrix() warns about the others), or NULL.
frame_contrasts <- function(mf, tt) terms_contrasts(attr(mf, "contrasts_arg"), tt)

# The part of the checked `contrasts` list `ca` that concerns the variables
# of terms `tt`, or NULL (also for the shard front ends, contrasts-shards.R).
terms_contrasts <- function(ca, tt) {
  if (is.null(ca)) return(NULL)
  vars <- vapply(as.list(attr(tt, "variables"))[-1L], deparse1, "")
  ca <- ca[names(ca) %in% vars]
  if (length(ca)) ca
}
