# lme4's everyday extractors on glmm() fits: getME(), ngrps(), refit(),
# isLMM() / isGLMM() / isNLMM(), and through them lme4's isSingular() and
# bootMer(). lme4's generics are S3; the methods are registered when lme4
# is loaded (lme4 stays in Suggests).
#
# The random effects are described as lme4 describes them (Bates et al.
# 2015, J. Stat. Softw. 67(1), section 2): one term per random-effect term
# of the formula, a `||` term split into one term per block, in the order of
# the formula (lme4 orders its terms by decreasing number of levels). For
# term k with q_k effects and covariance Sigma_k, b = Lambda u, where Lambda
# is block diagonal with one copy of the lower-triangular q_k x q_k factor
# L_k per level, and
#   L_k L_k' = Sigma_k / sigma^2   for a gaussian identity-link model (an LMM),
#   L_k L_k' = Sigma_k             otherwise (lme4's GLMMs have sigma = 1),
# theta is the lower triangles of the L_k column by column (term after term)
# and `lower` their bounds (0 on the diagonal). Z's columns are grouped by
# term, then by level, then by effect, as lme4's.

#' lme4's extractors on glmm() fits
#'
#' With lme4 loaded, `lme4::getME()`, `lme4::ngrps()`, `lme4::refit()`,
#' `lme4::isLMM()`, `lme4::isGLMM()` and `lme4::isNLMM()` work on fits from
#' [glmm()], and so do lme4's `isSingular()` and `bootMer()`, which use them.
#'
#' The random-effect terms are those of the formula in its order (a `||`
#' term split into its blocks), where lme4 orders its terms by decreasing
#' number of levels: on models with one term, or terms with levels in
#' decreasing order, the values are lme4's. `theta` is lme4's relative
#' Cholesky scale: the lower triangle (column by column) of the factor
#' \eqn{L_k} of each term's covariance, \eqn{L_k L_k^\top = \Sigma_k /
#' \sigma^2} for a gaussian identity-link model and \eqn{\Sigma_k} for other
#' families.
#'
#' @param object A fit from [glmm()].
#' @param name For `getME()`: one or more of `"X"`, `"Z"`, `"Zt"`, `"y"`,
#'   `"mu"`, `"offset"`, `"weights"`, `"beta"` (or `"fixef"`), `"theta"`,
#'   `"lower"`, `"Lambda"`, `"Lambdat"`, `"ST"`, `"b"`, `"u"`, `"flist"`,
#'   `"cnms"`, `"n"`, `"N"`, `"p"`, `"q"`, `"n_rtrms"`, `"n_rfacs"`,
#'   `"sigma"`, `"is_REML"`, `"devcomp"`, `"ALL"`.
#' @param newresp For `refit()`: a new response, in the form [simulate()]
#'   gives it (a vector, a two-column matrix for a binomial `cbind()`
#'   response, a factor for a cumulative link model), one value per row used
#'   by the fit.
#' @param x A fit from [glmm()].
#' @param ... For `refit()`, `control = NULL` (which lme4's `bootMer()`
#'   passes) only; otherwise not used: any argument is an error.
#' @return `getME()`: the named component (a list of them for several
#'   names). `ngrps()`: the number of levels of each grouping factor.
#'   `refit()`: the model refitted to `newresp`. `isLMM()` etc.: a logical.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   fit <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
#'               data = cbpp, family = binomial)
#'   lme4::getME(fit, "theta")
#'   lme4::ngrps(fit)
#'   lme4::isSingular(fit)
#'   fit2 <- lme4::refit(fit, simulate(fit, seed = 1)[[1]])
#'   fixef(fit2)
#' }
#' @name lme4-methods
NULL

lme4_getme_names <- c("X", "Z", "Zt", "y", "mu", "offset", "weights", "beta", "fixef", "theta",
                      "lower", "Lambda", "Lambdat", "ST", "b", "u", "flist", "cnms", "n", "N",
                      "p", "q", "n_rtrms", "n_rfacs", "sigma", "is_REML", "devcomp")

#' @rdname lme4-methods
#' @exportS3Method lme4::getME glmmgee_glmm
getME.glmmgee_glmm <- function(object, name, ...) {
  check_dots(..., .method = "getME.glmmgee_glmm")
  if (missing(name) || !is.character(name) || !length(name) || anyNA(name))
    stop(sprintf("getME(): 'name' must name components: %s", paste(lme4_getme_names, collapse = ", ")),
         call. = FALSE)
  if (identical(name, "ALL")) name <- lme4_getme_names
  bad <- setdiff(name, lme4_getme_names)
  if (length(bad))
    stop(sprintf("getME() on %s: no component %s; the components available are %s",
                 lme4_kind(object), paste0("\"", bad, "\"", collapse = ", "),
                 paste(lme4_getme_names, collapse = ", ")), call. = FALSE)
  if (length(name) > 1L)
    return(stats::setNames(lapply(name, function(nm) getME.glmmgee_glmm(object, nm)), name))
  lme4_component(object, name)
}

lme4_component <- function(object, name) {
  if (inherits(object, "glmmgee_glmm_sharded"))
    stop(sprintf("getME(, \"%s\"): a fit from glmm_shards() keeps no data in this process", name),
         call. = FALSE)
  switch(name,
    X = stats::model.matrix(object),
    y = object$y,
    mu = if (inherits(object, "glmmgee_glmm_ordinal"))
      lme4_refuse(object, name, "a cumulative link model has category probabilities (fitted(fit))")
      else unname(object$fitted.values),
    offset = object$offset %||% numeric(object$n),
    weights = object$prior.weights %||% rep(1, object$n),
    beta = , fixef = fixef(object),
    sigma = lme4_sigma(object),
    is_REML = isTRUE(object$REML),
    n = , N = object$n,
    p = ncol(stats::model.matrix(object)),
    {
      tms <- lme4_terms(object, name)
      switch(name,
        Z = lme4_Z(tms),
        Zt = Matrix::t(lme4_Z(tms)),
        q = sum(vapply(tms, function(t) ncol(t$Z), 1L)),
        n_rtrms = length(tms),
        n_rfacs = length(unique(vapply(tms, `[[`, "", "group"))),
        cnms = stats::setNames(lapply(tms, `[[`, "cnames"), vapply(tms, `[[`, "", "group")),
        flist = lme4_flist(tms),
        theta = lme4_theta(object, tms, name),
        lower = stats::setNames(unlist(lapply(lme4_factors(object, tms, name), function(L) {
          lo <- ifelse(row(L) == col(L), 0, -Inf)
          lo[lower.tri(lo, diag = TRUE)]
        }), use.names = FALSE), names(lme4_theta(object, tms, name))),
        Lambda = lme4_Lambda(object, tms, name),
        Lambdat = Matrix::t(lme4_Lambda(object, tms, name)),
        ST = stats::setNames(lapply(lme4_factors(object, tms, name), function(L) {
          d <- diag(L)
          S <- L %*% diag(ifelse(d > 0, 1 / d, 0), nrow(L))
          diag(S) <- d
          S
        }), vapply(tms, `[[`, "", "group")),
        b = unlist(lapply(tms, function(t) as.vector(t(t$b))), use.names = FALSE),
        u = lme4_u(object, tms),
        devcomp = lme4_devcomp(object, tms))
    })
}

lme4_refuse <- function(object, name, why)
  stop(sprintf("getME(, \"%s\") is not available for %s: %s", name, lme4_kind(object), why),
       call. = FALSE)

# The kind of fit, for messages.
lme4_kind <- function(object) {
  if (inherits(object, "glmmgee_glmm_sharded")) "distributed fits (glmm_shards())"
  else if (inherits(object, "glmmgee_glmm_ordinal")) "cumulative link (ordinal) fits"
  else if (inherits(object, "glmmgee_glmm_zi")) "zero-inflated, hurdle and dispersion-formula fits"
  else if (inherits(object, "glmmgee_glmm_covstruct")) "structured-covariance fits"
  else if (is_dist_fit(object)) "fits with non-normal random effects ('ranef_dist')"
  else if (isTRUE(re_known_cov(object)) || !is.null(object$call$covariance)) "known-covariance fits"
  else "glmm() fits"
}

lme4_is_lmm <- function(object)
  !inherits(object, c("glmmgee_glmm_ordinal", "glmmgee_glmm_zi")) &&
    identical(object$family$family, "gaussian") && identical(object$family$link, "identity")

lme4_sigma <- function(object) {
  s <- stats::sigma(object)
  if (is.null(s) || !length(s)) 1 else s
}

# The random-effect terms as lme4 describes them: for each, the grouping
# factor's name and values, the effects' names, the covariance, the n x
# (levels q) design (level-major) and the levels x q modes.
lme4_terms <- function(object, name) {
  if (is_dist_fit(object))
    lme4_refuse(object, name, "the random effects are not normal, so there is no covariance factor")
  if (!is.null(object$reterms)) {
    Z <- object$Z
    return(lapply(object$reterms, function(tm) {
      if (isTRUE(tm$known_cov) && name %in% c("theta", "lower", "Lambda", "Lambdat", "ST", "u"))
        lme4_refuse(object, name, sprintf(
          "the term of '%s' has a known covariance over its levels, not one q x q covariance copied per level",
          tm$group))
      f <- factor(tm$levels[tm$index], levels = tm$levels)
      list(group = tm$group, factor = f, cnames = tm$cnames, Sigma = as.matrix(tm$D),
           Z = methods::as(Z[, tm$columns, drop = FALSE], "CsparseMatrix"), b = as.matrix(tm$b))
    }))
  }
  n <- object$n
  f <- factor(object$group_levels[object$group], levels = object$group_levels)
  M <- length(object$group_levels)
  if (inherits(object, "glmmgee_glmm_ordinal")) {
    if (is.null(object$re_cov)) {
      Sigma <- matrix(object$sigma_re^2, 1L, 1L)
      cn <- "(Intercept)"
      Zobs <- matrix(1, n, 1L)
      B <- matrix(object$ranef$mode, ncol = 1L)
    } else {
      Sigma <- object$re_cov
      cn <- object$re_cnames
      Zobs <- as.matrix(object$Z)
      B <- object$ranef$mode
    }
    blocks <- list(seq_along(cn))
  } else {
    if (is.null(object$D) || is.null(object$group))
      lme4_refuse(object, name, "the fit keeps no random-effect structure in this form")
    Sigma <- as.matrix(object$D)
    cn <- object$cnames
    Zobs <- if (is.null(object$Z)) matrix(1, n, 1L) else as.matrix(object$Z)
    B <- object$ranef$mode
    sizes <- object$cov_blocks %||% length(cn)
    blocks <- split(seq_along(cn), rep(seq_along(sizes), sizes))
  }
  lapply(blocks, function(j) {
    q <- length(j)
    Zk <- Matrix::sparseMatrix(i = rep(seq_len(n), q),
                               j = (rep(object$group, q) - 1L) * q + rep(seq_len(q), each = n),
                               x = as.numeric(Zobs[, j, drop = FALSE]), dims = c(n, M * q))
    list(group = object$group_name, factor = f, cnames = cn[j],
         Sigma = Sigma[j, j, drop = FALSE], Z = Zk, b = as.matrix(B)[, j, drop = FALSE])
  })
}

lme4_Z <- function(tms) {
  Z <- do.call(cbind, lapply(tms, `[[`, "Z"))
  colnames(Z) <- unlist(lapply(tms, function(t) rep(levels(t$factor), each = length(t$cnames))),
                        use.names = FALSE)
  Z
}

lme4_flist <- function(tms) {
  g <- vapply(tms, `[[`, "", "group")
  u <- !duplicated(g)
  fl <- stats::setNames(lapply(tms[u], `[[`, "factor"), g[u])
  structure(fl, class = "data.frame", row.names = seq_along(fl[[1L]]),
            assign = match(g, g[u]))
}

# Lower-triangular factors L with L L' = S, for a semi-definite S (a
# variance at zero gives a zero column), relative to sigma for an LMM.
lme4_factors <- function(object, tms, name) {
  s2 <- if (lme4_is_lmm(object)) lme4_sigma(object)^2 else 1
  lapply(tms, function(t) lme4_chol(t$Sigma / s2))
}

lme4_chol <- function(S) {
  q <- nrow(S)
  L <- matrix(0, q, q, dimnames = dimnames(S))
  tol <- 1e-12 * max(1, max(abs(diag(S))))
  for (j in seq_len(q)) {
    d <- S[j, j] - sum(L[j, seq_len(j - 1L)]^2)
    if (d <= tol) next
    L[j, j] <- sqrt(d)
    if (j < q) for (i in (j + 1L):q)
      L[i, j] <- (S[i, j] - sum(L[i, seq_len(j - 1L)] * L[j, seq_len(j - 1L)])) / L[j, j]
  }
  L
}

lme4_theta <- function(object, tms, name) {
  Ls <- lme4_factors(object, tms, name)
  th <- unlist(lapply(seq_along(Ls), function(k) {
    L <- Ls[[k]]
    cn <- tms[[k]]$cnames
    nm <- outer(cn, cn, function(a, b) ifelse(a == b, a, paste(a, b, sep = ".")))
    stats::setNames(L[lower.tri(L, diag = TRUE)],
                    paste(tms[[k]]$group, nm[lower.tri(nm, diag = TRUE)], sep = "."))
  }))
  th
}

lme4_Lambda <- function(object, tms, name) {
  Ls <- lme4_factors(object, tms, name)
  Matrix::bdiag(lapply(seq_along(Ls), function(k)
    Matrix::kronecker(Matrix::Diagonal(nlevels(tms[[k]]$factor)), Matrix::Matrix(Ls[[k]], sparse = TRUE))))
}

# Spherical random effects: Lambda u = b (zero where a factor column is zero).
lme4_u <- function(object, tms) {
  Ls <- lme4_factors(object, tms, "u")
  unlist(lapply(seq_along(Ls), function(k) {
    L <- Ls[[k]]
    B <- tms[[k]]$b
    ok <- diag(L) > 0
    U <- matrix(0, nrow(B), ncol(B))
    if (any(ok)) U[, ok] <- t(forwardsolve(L[ok, ok, drop = FALSE], t(B[, ok, drop = FALSE])))
    as.vector(t(U))
  }), use.names = FALSE)
}

lme4_devcomp <- function(object, tms) {
  reml <- isTRUE(object$REML)
  ll <- as.numeric(stats::logLik(object))
  q <- sum(vapply(tms, function(t) ncol(t$Z), 1L))
  p <- ncol(stats::model.matrix(object))
  sig <- lme4_sigma(object)
  list(cmp = c(ldL2 = NA, ldRX2 = NA, wrss = NA, ursss = NA, pwrss = NA, drsum = NA,
               REML = if (reml) -2 * ll else NA, dev = if (reml) NA else -2 * ll,
               sigmaML = if (lme4_is_lmm(object) && !reml) sig else NA,
               sigmaREML = if (lme4_is_lmm(object) && reml) sig else NA, tolPwrss = NA),
       dims = c(N = object$n, n = object$n, p = p, nmp = object$n - p,
                nth = length(lme4_theta(object, tms, "devcomp")), q = q,
                nAGQ = as.integer(object$nAGQ %||% 1L), compDev = 1L,
                useSc = as.integer(lme4_is_lmm(object)), reTrms = length(tms),
                REML = as.integer(reml), GLMM = as.integer(!lme4_is_lmm(object)), NLMM = 0L))
}

#' @rdname lme4-methods
#' @exportS3Method lme4::ngrps glmmgee_glmm
ngrps.glmmgee_glmm <- function(object, ...) {
  check_dots(..., .method = "ngrps.glmmgee_glmm")
  tms <- lme4_terms(object, "ngrps")
  g <- vapply(tms, `[[`, "", "group")
  u <- !duplicated(g)
  # (the levels in the data: a known covariance's K may cover more)
  stats::setNames(vapply(tms[u], function(t) as.numeric(nlevels(droplevels(t$factor))), 1), g[u])
}

#' @rdname lme4-methods
#' @exportS3Method lme4::refit glmmgee_glmm
refit.glmmgee_glmm <- function(object, newresp = NULL, ...) {
  check_dots(..., .method = "refit.glmmgee_glmm", .allow = "control")
  if (!is.null(list(...)$control))
    stop("refit(): 'control' of a glmm() fit is set by update(fit, control = glmm_control(...))",
         call. = FALSE)
  if (inherits(object, "glmmgee_glmm_sharded"))
    stop("refit() is not available for distributed fits (glmm_shards()): refit them with glmm_shards()",
         call. = FALSE)
  if (is.null(newresp)) return(object)
  # simulate()'s one-column data frame, as lme4's refit() takes it
  if (is.data.frame(newresp)) {
    if (ncol(newresp) != 1L)
      stop(sprintf(paste0("refit(): 'newresp' is a data frame of %d columns; it takes one ",
                          "response, e.g. one column of simulate(nsim = ): refit(fit, sims[[1]])"),
                   ncol(newresp)), call. = FALSE)
    newresp <- newresp[[1L]]
  }
  n <- nrow(object$model)
  if (NROW(newresp) != n && !is.null(object$na.action) && NROW(newresp) == n + length(object$na.action))
    newresp <- if (is.matrix(newresp)) newresp[-object$na.action, , drop = FALSE]
               else newresp[-object$na.action]
  if (NROW(newresp) != n)
    stop(sprintf("refit(): 'newresp' has %d values; the fit used %d rows", NROW(newresp), n),
         call. = FALSE)
  boot_refitter(object, "refit()")(newresp)
}

#' @rdname lme4-methods
#' @exportS3Method lme4::isLMM glmmgee_glmm
isLMM.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "isLMM.glmmgee_glmm")
  lme4_is_lmm(x)
}

#' @rdname lme4-methods
#' @exportS3Method lme4::isGLMM glmmgee_glmm
isGLMM.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "isGLMM.glmmgee_glmm")
  !lme4_is_lmm(x)
}

#' @rdname lme4-methods
#' @exportS3Method lme4::isNLMM glmmgee_glmm
isNLMM.glmmgee_glmm <- function(x, ...) {
  check_dots(..., .method = "isNLMM.glmmgee_glmm")
  FALSE
}

# lme4's simulate(use.u = ), which its bootMer() passes: TRUE conditions on
# the fitted random effects (re.form = NULL), FALSE draws new ones (re.form
# = NA).
use_u_re_form <- function(use.u, re_form_given) {
  if (!is.logical(use.u) || length(use.u) != 1L || is.na(use.u))
    stop("'use.u' must be TRUE or FALSE", call. = FALSE)
  if (re_form_given)
    stop("simulate(): give 're.form' or lme4's 'use.u', not both", call. = FALSE)
  if (use.u) NULL else NA
}
