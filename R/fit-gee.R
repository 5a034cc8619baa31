# Matrix-level GEE: checks the inputs, builds the engine's data and
# specification lists, calls the C++ engine once and builds the fitted object.

gee_corstrs <- function() cpp_gee_corstr_table()

# Standard-error types: user-facing name -> engine flag (0: always computed).
gee_se_types <- c(san.se = 0L, model = 0L, md = 1L, kc = 2L, jack = 4L, j1s = 8L, fij = 16L)

# `extra`: also the structures of the pattern engine (fit-gee-patterns.R),
# matched after the engine's own so that abbreviations keep their meaning.
match_corstr <- function(corstr, extra = TRUE) {
  valid <- gee_corstrs()
  more <- if (extra) names(gee_pattern_corstrs) else character(0)
  all <- c(valid, more)
  if (!is.character(corstr) || length(corstr) != 1L || is.na(corstr))
    stop(sprintf("'corstr' must be one of %s", paste(dQuote(all, FALSE), collapse = ", ")),
         call. = FALSE)
  k <- pmatch(tolower(corstr), valid)
  if (!is.na(k)) return(valid[k])
  k <- pmatch(tolower(corstr), tolower(more))
  if (is.na(k))
    stop(sprintf("'corstr' = \"%s\" is not a known working correlation; use one of %s",
                 corstr, paste(dQuote(all, FALSE), collapse = ", ")), call. = FALSE)
  more[k]
}

# The estimator's canonical name; glmtoolbox's names are aliases (see
# gee-variance-small-sample.R).
match_std_err <- function(std.err, arg = "std.err") {
  valid <- gee_all_se_types()
  if (!is.character(std.err) || length(std.err) != 1L || is.na(std.err) ||
      !(std.err %in% valid))
    stop(sprintf("'%s' must be one of %s", arg, paste(dQuote(valid, FALSE), collapse = ", ")),
         call. = FALSE)
  if (std.err %in% names(gee_se_aliases)) std.err <- gee_se_aliases[[std.err]]
  std.err
}

# Wave values -> 1-based positions (time index counted from the smallest wave).
wave_positions <- function(waves, n) {
  if (is.null(waves)) return(NULL)
  if (!is.numeric(waves) || is.object(waves))
    stop(sprintf("'waves' must be numeric (a whole-number time index within cluster), not %s",
                 class(waves)[1L]), call. = FALSE)
  if (length(waves) != n)
    stop(sprintf("'waves' must have one value per observation (%d), not %d", n, length(waves)),
         call. = FALSE)
  if (anyNA(waves) || any(!is.finite(waves)))
    stop("'waves' contains missing or infinite values", call. = FALSE)
  if (!is.integer(waves) && any(abs(waves - round(waves)) > 1e-8))
    stop("'waves' must hold whole numbers (the time index of each observation within its cluster)",
         call. = FALSE)
  pos <- round(waves) - min(round(waves)) + 1
  if (max(pos) > 1e6) stop("'waves' spans more than a million positions", call. = FALSE)
  as.integer(pos)
}

check_fixed_R <- function(R, T) {
  if (is.null(R))
    stop("corstr = \"fixed\" needs the working correlation matrix in 'R'", call. = FALSE)
  if (!is.matrix(R) || !is.numeric(R) || nrow(R) != ncol(R))
    stop("'R' must be a square numeric matrix", call. = FALSE)
  if (nrow(R) < T)
    stop(sprintf("'R' is %d x %d but the data have %d wave positions: it must be at least %d x %d",
                 nrow(R), nrow(R), T, T, T), call. = FALSE)
  if (anyNA(R) || any(!is.finite(R))) stop("'R' contains missing or infinite values", call. = FALSE)
  if (max(abs(R - t(R))) > 1e-10 * max(1, abs(R)))
    stop("'R' must be symmetric", call. = FALSE)
  if (any(abs(diag(R) - 1) > 1e-10)) stop("'R' must have a unit diagonal", call. = FALSE)
  if (inherits(try(chol(R), silent = TRUE), "try-error"))
    stop("'R' must be positive definite", call. = FALSE)
  storage.mode(R) <- "double"
  R
}

# `data` of gee_fit() with its NULL weights and offset as vectors of 1 and
# 0, and (with `family`, without `start`) the starting linear predictor.
gee_unit_data <- function(data, family = NULL, start = NULL) {
  n <- length(data$y)
  data["weights"] <- list(data$weights %||% rep(1, n))
  data["offset"] <- list(data$offset %||% rep(0, n))
  if (!is.null(family) && is.null(start))
    data$eta_start <- as.numeric(gee_eta_start(family, data$y, data$weights))
  data
}

# Starting linear predictor, as glm's family initializers do it (the GEE
# engine's start_eta() when R gives none).
gee_eta_start <- function(family, y, w) {
  mu <- switch(family$family,
               binomial = (w * y + 0.5) / (w + 1),
               poisson = , nbinom2 = , nbinom1 = y + 0.1,
               betabinomial = (w * y + 0.5) / (w + 1),
               y)
  family$linkfun(mu)
}

# `lab`: the wave label of each engine position 1..T (the positions are
# compacted for "unstructured", see gee_fit()).
alpha_names <- function(corstr, T, Mv, lab = seq_len(T)) {
  switch(corstr,
         exchangeable = "alpha", ar1 = "alpha",
         mdep = paste0("alpha.", seq_len(Mv)),
         unstructured = {
           if (T < 2) character(0) else {
             ij <- which(upper.tri(diag(T)), arr.ind = TRUE)
             ij <- ij[order(ij[, 1L], ij[, 2L]), , drop = FALSE]
             paste0("alpha.", lab[ij[, 1L]], ":", lab[ij[, 2L]])
           }
         },
         character(0))
}

# Working correlation implied by the estimates, between the engine
# positions `obs` that occur in the data (not every position of their span:
# waves given as day numbers would make that matrix gigabytes), labelled by
# `lab`. Only the first 1000 positions are kept: a cluster of 200,000
# observations without waves would otherwise store 320 GB.
working_correlation <- function(corstr, alpha, T, Rfixed = NULL, Mv = 1L, obs = seq_len(T),
                                lab = obs) {
  if (!length(obs)) { obs <- 1L; lab <- 1L }
  keep <- seq_len(min(length(obs), 1000L))
  obs <- obs[keep]; lab <- lab[keep]
  D <- length(obs)
  lag <- abs(outer(obs, obs, "-"))
  R <- switch(corstr,
              independence = diag(D),
              exchangeable = { m <- matrix(alpha[1L], D, D); diag(m) <- 1; m },
              ar1 = alpha[1L]^lag,
              mdep = { m <- matrix(0, D, D); for (l in seq_len(Mv)) m[lag == l] <- alpha[l]; diag(m) <- 1; m },
              unstructured = {
                m <- diag(T)
                if (T > 1) {
                  ij <- which(upper.tri(m), arr.ind = TRUE)
                  ij <- ij[order(ij[, 1L], ij[, 2L]), , drop = FALSE]
                  m[ij] <- alpha; m[ij[, 2:1, drop = FALSE]] <- alpha
                }
                m[obs, obs, drop = FALSE]
              },
              fixed = Rfixed[obs, obs, drop = FALSE])
  dimnames(R) <- list(lab, lab)
  R
}

#' Fit a GEE from a model matrix
#'
#' The matrix-level fitter behind [gee()]: the same engine without formulas,
#' model frames or missing-value handling, for programming, simulation and
#' benchmarking. The data need not be sorted by cluster.
#'
#' @param X numeric model matrix (n x p, full column rank).
#' @param y numeric response on the mean scale: for binomial a 0/1 outcome or
#'   a proportion, with the number of trials in `weights`.
#' @param id cluster identifier, one value per row of `X` (any atomic type;
#'   rows of one cluster need not be contiguous).
#' @param family a family function, object or name; see [gee()].
#' @param corstr working correlation; see [gee()].
#' @param waves optional whole-number time index within cluster; see [gee()].
#' @param weights optional non-negative prior weights (binomial: trials).
#' @param offset optional offset on the linear-predictor scale.
#' @param std.err variance estimator reported by default; see [gee()].
#' @param scale.fix,scale.value fix the scale parameter at `scale.value`
#'   instead of estimating it.
#' @param R working correlation matrix for `corstr = "fixed"`.
#' @param Mv order of the `"mdep"` working correlation.
#' @param start optional starting values of the coefficients.
#' @param control a [gee_control()] list.
#' @param ipw optional non-negative residual weights, one per row: the
#'   estimating function of cluster \eqn{i} becomes \eqn{D_i' V_i^{-1}
#'   \mathrm{diag}(ipw_i) (y_i - \mu_i)}, with \eqn{D_i} and \eqn{V_i} over
#'   all its rows; a row with weight 0 (a missed visit, whose `y` is then
#'   ignored) enters only \eqn{V_i} and the information. These are the
#'   observation-level inverse-probability weights of [gee()]'s `dropout`
#'   (where their estimation is also accounted for in the variance; here they
#'   are taken as known). Fitted with the moment estimators of glmtoolbox, and
#'   the `"san.se"` and `"model"` variances only.
#' @return An object of class `"glmmgee_gee"`; see [gee()].
#' @seealso [gee()] for the formula interface and the methods.
#' @examples
#' set.seed(1)
#' id <- rep(1:100, each = 4)
#' x <- rnorm(400)
#' y <- rbinom(400, 1, plogis(-0.5 + x + rep(rnorm(100), each = 4)))
#' fit <- gee_fit(cbind("(Intercept)" = 1, x = x), y, id, family = binomial,
#'                corstr = "exchangeable")
#' coef(fit)
#' # residual weights 1 / P(observed): here known, all equal to 2 at visit 4
#' w <- ifelse(rep(1:4, 100) == 4, 2, 1)
#' fit_w <- gee_fit(cbind("(Intercept)" = 1, x = x), y, id, family = binomial,
#'                  corstr = "exchangeable", ipw = w)
#' coef(fit_w)
#' @export
gee_fit <- function(X, y, id, family = gaussian(), corstr = "independence", waves = NULL,
                    weights = NULL, offset = NULL, std.err = "san.se", scale.fix = FALSE,
                    scale.value = 1, R = NULL, Mv = 1L, start = NULL,
                    control = gee_control(), ipw = NULL) {
  family <- resolve_family(family)
  corstr <- match_corstr(corstr)
  std.err <- match_std_err(std.err)
  if (!inherits(control, "glmmgee_gee_control"))
    stop("'control' must come from gee_control()", call. = FALSE)
  if (!is.matrix(X) || !is.numeric(X)) stop("'X' must be a numeric matrix", call. = FALSE)
  n <- nrow(X); p <- ncol(X)
  if (p == 0L) stop("'X' has no columns: an empty model cannot be fitted", call. = FALSE)
  cn <- colnames(X) %||% character(p)
  named <- nzchar(cn) & !is.na(cn)
  if (!all(named)) colnames(X) <- ifelse(named, cn, paste0("X", seq_len(p)))
  if (!all_finite(X)) stop("'X' contains missing or infinite values", call. = FALSE)
  if (!is.numeric(y) || is.matrix(y) || length(y) != n)
    stop(sprintf("'y' must be a numeric vector with nrow(X) = %d values", n), call. = FALSE)
  if (!all_finite(y)) stop("'y' contains missing or infinite values", call. = FALSE)
  if (missing(id) || is.null(id))
    stop("'id' is missing: give the cluster identifier of each observation", call. = FALSE)
  if (length(id) != n)
    stop(sprintf("'id' must have one value per observation (%d), not %d", n, length(id)),
         call. = FALSE)
  cl <- gee_cluster_index(id)
  note_split_ids(cl$index, cl$levels, "id")
  w <- gee_prior_vector(weights, n, "weights")
  off <- gee_prior_vector(offset, n, "offset")
  # Whether every row has weight (min(): no n-length logical, 40 MB at ten
  # million rows, for each test below), and the rows with weight of v.
  all_pos <- is.null(w) || min(w) > 0
  active <- function(v) if (all_pos) v else if (is.matrix(v)) v[w > 0, , drop = FALSE] else v[w > 0]
  check_gee_scale(scale.fix, scale.value)
  check_support(y, family)
  # theta carries the negative binomial's overdispersion: the scale is 1.
  if (identical(family$family, "nbinom2")) { scale.fix <- TRUE; scale.value <- 1 }
  pos <- wave_positions(waves, n)
  sizes <- tabulate(active(cl$index), length(cl$levels))
  if (sum(sizes > 0L) < 2L)
    stop("'id' has a single cluster (with positive weight): GEE needs several clusters, ",
         "since its variance comes from the variation between them", call. = FALSE)
  T <- if (is.null(pos)) max(sizes) else max(active(pos))
  # Engine positions that occur, and their labels (position from the first wave).
  wpos <- list(obs = if (is.null(pos)) seq_len(T) else sort(unique(active(pos))))
  wpos$lab <- wpos$obs
  if (corstr == "unstructured" && !is.null(pos)) {
    # One parameter per pair of waves that occur, not per pair of the span.
    allpos <- sort(unique(pos))
    pos <- match(pos, allpos)
    T <- max(active(pos))
    wpos <- list(obs = sort(unique(active(pos))), lab = allpos[seq_len(T)])
    wpos$lab <- allpos[wpos$obs]
    wpos$alab <- allpos[seq_len(T)]
  }
  if (corstr %in% c("mdep", names(gee_pattern_corstrs))) {
    if (!is.numeric(Mv) || length(Mv) != 1L || !is.finite(Mv) || Mv < 1 || Mv != round(Mv))
      stop("'Mv' must be one positive whole number", call. = FALSE)
    if (Mv >= T)
      stop(sprintf("'Mv' = %d but there are only %d wave positions: 'Mv' must be at most %d",
                   Mv, T, T - 1L), call. = FALSE)
  }
  # (R and Mv with another working correlation were ignored without a word)
  if (!corstr %in% c("mdep", names(gee_pattern_corstrs)) && !identical(as.numeric(Mv), 1))
    stop(sprintf("'Mv' is used only with corstr = \"mdep\", %s, not \"%s\"",
                 paste0("\"", names(gee_pattern_corstrs), "\"", collapse = ", "), corstr),
         call. = FALSE)
  if (corstr != "fixed" && !is.null(R))
    stop(sprintf("'R' is used only with corstr = \"fixed\", not \"%s\"", corstr), call. = FALSE)
  Mv <- as.integer(Mv)
  if (corstr == "fixed") R <- check_fixed_R(R, T) else R <- NULL
  if (corstr == "unstructured" && T > 200)
    stop(sprintf("corstr = \"unstructured\" with %d wave positions would need %d correlation parameters",
                 T, T * (T - 1) / 2), call. = FALSE)
  # A design without an intercept whose factor's indicators span the
  # constant (y ~ 0 + f + x2, x2 = x * 1e-6 - 5): searched with one
  # indicator replaced by the constant, so that x2 can be centred, and
  # mapped back (gee_constant_span()). Without it x2 was refused as
  # "linearly dependent".
  X_user <- X
  span <- gee_constant_span(active(X))
  if (!is.null(span)) X <- X %*% span$A
  # Rank from the scaled cross-product: one pass over X instead of a QR.
  XtX <- crossprod(active(X))
  qx <- gee_rank_qr(XtX)
  # A covariate whose spread is tiny beside its mean (x * 1e-6 - 5) is
  # collinear with the intercept in X'X to 1e-13 and was refused as
  # "linearly dependent", though geepack fits it: judged again on the
  # centred and scaled columns (design_transform(), the same span).
  if (qx$rank < p)
    qx <- gee_rank_qr(crossprod(design_transform(active(X))$M))
  if (qx$rank < p) stop_gee_rank_deficient(qx, colnames(X))
  if (corstr %in% names(gee_pattern_corstrs) || !is.null(ipw))
    return(gee_pattern_fit(X, y, cl, pos, w %||% rep(1, n), off %||% rep(0, n), family, corstr,
                           Mv, R, std.err, scale.fix, scale.value, start, control, ipw))
  check_jackknife(std.err, sum(sizes > 0L), p, length(alpha_names(corstr, T, Mv)), scale.fix)
  if (!is.null(start) && (!is.numeric(start) || length(start) != p || any(!is.finite(start))))
    stop(sprintf("'start' must be %d finite numbers (one per coefficient)", p), call. = FALSE)
  # Only where needed: storage.mode<- on a matrix also held as X_user
  # copies it even when it is already double (230 MB at ten million rows).
  if (!is.double(X)) storage.mode(X) <- "double"
  # Solved on a centred and scaled X where the user's loses digits (the
  # rule of the linear mixed models, lmm_design_transform()): with
  # x * 1e-6 - 5 the sandwich standard errors were up to 3% off.
  tx <- lmm_design_transform(X)
  if (!is.null(span)) {
    # X_user = X A^-1 = X* T A^-1.
    # Its inverse from the factors (A T^-1), where the product's own,
    # solve(), refuses it as computationally singular (x = Days + 1e8).
    tx <- list(M = tx$M, T = tx$T %*% span$Ai, identity = FALSE,
               Ti = span$A %*% backsolve(tx$T, diag(1, ncol(tx$T))))
    X <- X_user
  }
  # Without `start` the engine starts from glm's starting means.
  data <- list(X = tx$M, y = as.numeric(y), weights = w, offset = off, id = cl$index,
               M = length(cl$levels), wave = pos,
               beta_start = if (!is.null(start)) as.numeric(tx$T %*% start))
  spec <- list(family = family$family_code, link = family$link_code,
               corstr = match(corstr, gee_corstrs()) - 1L, mdep = Mv, Rfixed = R,
               scale_fix = scale.fix, scale_value = as.numeric(scale.value),
               epsilon = control$epsilon, maxit = control$maxit, trace = control$trace,
               threads = control$threads, vflags = gee_engine_flag(std.err))
  run <- if (is.null(control$workers)) gee_run(data, spec, family, control)
         else gee_run_workers(gee_unit_data(data, family, start), spec, family, control, corstr, T)
  res <- run$res; spec <- run$spec; family <- run$family
  if (res$clusters$duplicated > 0L)
    stop(sprintf("'waves' has a duplicated value within cluster %s of 'id': each wave may occur once per cluster",
                 cl$levels[res$clusters$duplicated]), call. = FALSE)
  if (!is.null(res$error) && nzchar(res$error))
    stop("gee fit failed: ", gee_failure_text(res, family, corstr, sum(sizes > 0L), T, Mv),
         call. = FALSE)
  if (nzchar(res$variance$error))
    stop("gee variance failed: ", gee_engine_text(res$variance$error, cl$levels, X_user, cl$index, w),
         call. = FALSE)
  data$eta_start <- data$beta_start <- NULL
  # The fitted object keeps its weights and offset as vectors (its methods
  # read them); made only now, after the engine has freed its own memory.
  data <- gee_unit_data(data)
  if (!isTRUE(tx$identity)) {
    res <- gee_standard_x(res, tx)
    data$X <- X
  }
  fit <- new_gee_object(res, data, spec, family, corstr, std.err, Mv, R, colnames(X), cl, T,
                 scale.fix, control, wpos)
  if (!is.null(res$dist)) {
    fit$distributed <- res$dist
    for (wm in res$dist$moved) warning(wm, call. = FALSE)
    fit$warnings <- c(fit$warnings, res$dist$moved)
  }
  fit
}

# gee_fit()'s checked `weights` or `offset` as doubles; NULL stays NULL (the
# engine reads it as 1 or 0: an n-vector less, 80 MB at ten million rows).
gee_prior_vector <- function(v, n, arg) {
  if (is.null(v)) {
    if (!n) stop("all weights are zero: nothing to fit", call. = FALSE)
    return(NULL)
  }
  v <- as.numeric(v)
  if (arg == "offset") {
    if (length(v) != n || !all_finite(v))
      stop("'offset' must be finite numbers, one per observation", call. = FALSE)
    return(v)
  }
  if (length(v) != n || !all_finite(v) || (n && min(v) < 0))
    stop("'weights' must be non-negative finite numbers, one per observation", call. = FALSE)
  if (!n || max(v) <= 0) stop("all weights are zero: nothing to fit", call. = FALSE)
  v
}

# The scale arguments of gee_fit() and gee_shards().
check_gee_scale <- function(scale.fix, scale.value) {
  if (!is.logical(scale.fix) || length(scale.fix) != 1L || is.na(scale.fix))
    stop("'scale.fix' must be TRUE or FALSE", call. = FALSE)
  if (!is.numeric(scale.value) || length(scale.value) != 1L || !is.finite(scale.value) ||
      scale.value <= 0)
    stop("'scale.value' must be one positive number", call. = FALSE)
}

new_gee_object <- function(res, data, spec, family, corstr, std.err, Mv, R, xnames, cl, T,
                           scale.fix, control, wpos = list(obs = seq_len(T))) {
  warns <- character(0)
  v <- res$variance
  beta <- stats::setNames(res$beta, xnames)
  anames <- alpha_names(corstr, T, Mv, if (is.null(wpos$alab)) seq_len(T) else wpos$alab)
  alpha <- stats::setNames(res$alpha, anames)
  alpha[is.nan(alpha)] <- NA_real_
  sizes <- res$clusters$sizes
  if (corstr != "independence" && corstr != "fixed" && max(sizes) < 2L)
    warns <- c(warns, "no cluster has two or more observations: the working correlation cannot be estimated and was left at zero")
  if (v$nonpd_clusters > 0L)
    warns <- c(warns, sprintf("the estimated working correlation is not positive definite for %d of the %d clusters (the estimating equations are still solved; consider a simpler 'corstr')",
                              v$nonpd_clusters, res$clusters$K))
  if (!is.null(res$nb_theta) && !res$nb_theta$converged)
    warns <- c(warns, sprintf("the moment estimate of theta did not settle in %d alternations with the estimating equations",
                              res$nb_theta$iterations))
  if (!is.null(res$nb_theta) && res$nb_theta$at_limit)
    warns <- c(warns, "no overdispersion relative to the Poisson model: theta is at its upper limit (1e8); consider family = poisson")
  if (!res$converged)
    warns <- c(warns, sprintf(paste0("gee did not converge in %d iterations (last relative change %.3g > ",
                                     "epsilon = %.3g; largest estimating-function component %.3g ",
                                     "at the start of the last iteration)"),
                              res$iter, res$delta, control$epsilon, res$score))
  vc <- list(san.se = v$robust, model = v$model)
  K <- res$clusters$K
  for (tp in c("md", "kc")) if (!is.null(v[[tp]])) vc[[tp]] <- v[[tp]]
  jf <- jack_factor(K, length(beta), length(alpha), scale.fix)
  for (tp in c("jack", "j1s", "fij")) if (!is.null(v[[tp]])) vc[[tp]] <- jf * v[[tp]]
  if (v$jack_nonconverged > 0L)
    warns <- c(warns, sprintf("%d of the %d jackknife deletion fits did not converge",
                              v$jack_nonconverged, K))
  vstar <- NULL
  if (!is.null(vs <- res$variance_star)) {
    sv <- list(san.se = vs$V$robust, model = vs$V$model, md = vs$V$md, kc = vs$V$kc)
    for (tp in c("jack", "j1s", "fij")) if (!is.null(vs$V[[tp]])) sv[[tp]] <- jf * vs$V[[tp]]
    vstar <- list(T = vs$T, V = Filter(Negate(is.null), sv), index = seq_along(beta),
                  P = length(beta))
  }
  obj <- gee_object(beta, alpha, res$phi, scale.fix, family, corstr, std.err, vc, warns, cl,
                    sizes, K, res$clusters$nactive, T, data, res, control,
                    nb_theta = res$nb_theta, Mv = if (corstr == "mdep") Mv, R = R,
                    working.correlation = working_correlation(corstr, alpha, T, R, Mv, wpos$obs,
                                                              if (is.null(wpos$lab)) wpos$obs else wpos$lab),
                    quasi = v$quasi, info.indep = v$HI, trace.indep = v$HI_trace,
                    engine = list(data = data, spec = spec))
  if (!is.null(vstar)) obj$vcov_star <- vstar
  obj
}

# The "glmmgee_gee" object of both GEE engines (new_gee_object() for the
# C++ engine, gee_pattern_fit()): raises the fit's warnings, gives the family
# its scale and the variances their names; `data` holds y, weights, offset
# and wave, `run` iter, converged, delta, score and halved; `...` the fields
# of one engine only.
gee_object <- function(beta, alpha, phi, scale.fix, family, corstr, std.err, vc, warns, cl,
                       sizes, K, nobs, T, data, run, control, ...) {
  for (wm in warns) warning(wm, call. = FALSE)
  fam <- gee_phi_family(family, phi, scale.fix)
  fam$family_code <- fam$link_code <- NULL
  xn <- names(beta)
  vc <- lapply(vc, function(m) { dimnames(m) <- list(xn, xn); m })
  structure(c(list(
    coefficients = beta, alpha = alpha, scale = phi, scale.fix = scale.fix, phi = fam$phi,
    corstr = corstr, std.err = std.err, vcov = vc, family = fam,
    y = data$y, prior.weights = data$weights, offset = data$offset,
    id = cl$index, id.levels = cl$levels, waves = data$wave,
    nobs = nobs, nclusters = K, cluster.sizes = sizes, max.wave = T,
    iter = run$iter, converged = run$converged, delta = run$delta, score = run$score,
    halved = run$halved %||% 0L, warnings = warns, control = control), list(...)),
    class = "glmmgee_gee")
}

# Cluster codes 1..M in the sorted order of the distinct ids (so the result
# does not depend on the row order), by the rule glmm() uses for its
# grouping factors (cluster_index(), model-data.R): numeric ids that print
# alike to 15 significant digits are one cluster.
gee_cluster_index <- function(g) cluster_index(g, "id")

# Jackknife variance factor (K - p - q - r) / K as in geepack: q correlation
# parameters, r = 1 for an estimated scale (geepack counts it even when fixed).
jack_factor <- function(K, p, q, scale.fix) (K - p - q - (!scale.fix)) / K

# The jackknife estimators need more clusters than parameters: with K <=
# p + q + r the factor above is zero or negative and the variance is not
# positive definite (geepack returns it without a word). Refused by name.
check_jackknife <- function(type, K, p, q, scale.fix, arg = "std.err") {
  if (!(type %in% c("jack", "j1s", "fij"))) return(invisible())
  npar <- p + q + (!scale.fix)
  if (K <= npar)
    stop(sprintf(paste0("'%s' = \"%s\": the jackknife variance needs more clusters than parameters, ",
                        "but there are %d clusters and %d parameters (%d coefficients, %d correlation, %d scale); ",
                        "its factor (K - parameters) / K would be %s and the variance not positive definite. ",
                        "Use \"san.se\" (or \"md\"/\"kc\" for few clusters)"),
                 arg, type, K, npar, p, q, as.integer(!scale.fix),
                 format(signif((K - npar) / K, 3))), call. = FALSE)
  invisible()
}

# Variance estimators at the fitted values, for types not computed at fit time.
gee_variance_of <- function(object, types) {
  spec <- object$engine$spec
  spec$vflags <- sum(gee_se_types[types])
  alpha <- object$alpha
  alpha[is.na(alpha)] <- NaN
  v <- cpp_gee_variance(object$engine$data, spec, unname(object$coefficients),
                        unname(alpha), object$scale)
  if (nzchar(v$error))
    stop("gee variance failed: ", gee_engine_text(v$error, object$id.levels, object$engine$data$X,
                                                  object$engine$data$id, object$engine$data$weights),
         call. = FALSE)
  v
}

# The engine's failure in words that fit the case. Non-finite Pearson
# residuals mean the fitted means left the family's range: for binomial
# data typically separation (gee() names it when its check finds one);
# otherwise the iterations diverged, most often because a working
# correlation with many parameters, re-estimated from the residuals at every
# step, pushed the estimates away.
gee_failure_text <- function(res, family, corstr, K, T, Mv) {
  if (!startsWith(res$error, "non-finite Pearson residuals")) return(res$error)
  if (family$family == "binomial") return(res$error)
  nalpha <- length(alpha_names(corstr, T, Mv))
  sprintf(paste0("the iterations diverged%s: the fitted means of the %s(%s) model left the ",
                 "family's range (a mean of 0 or overflow), so the Pearson residuals are not finite%s. ",
                 "Try a simpler 'corstr'%s or check the scale of the covariates"),
          if (!is.null(res$iter)) sprintf(" (after %d iterations)", res$iter) else "",
          family$family, family$link,
          if (nalpha > 1L)
            sprintf(paste0("; the %s working correlation has %d parameters, re-estimated from the ",
                           "residuals of %d clusters at every step, which can drive the estimates away"),
                    dQuote(corstr, FALSE), nalpha, K)
          else "",
          if (corstr != "independence") " (\"exchangeable\", \"ar1\" or \"independence\")" else "")
}

# The rank of X from its cross-product scaled to unit diagonal.
gee_rank_qr <- function(XtX) {
  sc <- sqrt(diag(XtX)); sc[sc == 0] <- 1
  qr(XtX / outer(sc, sc), tol = 1e-9)
}

# The engine's results on X* = X T^-1 back to the user's X: beta = T^-1
# beta*, each variance T^-1 V* T^-T, the information under independence
# (QIC's) T' H* T.
gee_standard_x <- function(res, tx) {
  # (T is upper triangular but after gee_constant_span()'s column swap;
  # there its inverse from the factors, A T_A^-1: solve() of the product
  # loses digits where it does not refuse it, x = Days + 1e8.)
  Ti <- if (!is.null(tx$Ti)) tx$Ti
        else if (all(tx$T[lower.tri(tx$T)] == 0)) backsolve(tx$T, diag(1, ncol(tx$T)))
        else solve(tx$T)
  res$beta <- drop(Ti %*% res$beta)
  sym <- function(m) (m + t(m)) / 2
  v <- res$variance
  # QIC's trace(Omega_I V_R), invariant to T, taken before the mapping:
  # from the mapped matrices it cancels (1e-3 off with x * 1e-6 - 5).
  if (is.matrix(v$HI) && is.matrix(v$robust)) v$HI_trace <- sum(v$HI * t(v$robust))
  # Kept for the delta methods of derived quantities (delta_cov()).
  nms <- c("robust", "model", "md", "kc", "jack", "j1s", "fij")
  res$variance_star <- list(T = Ti, V = Filter(is.matrix, v[nms]))
  for (nm in c("robust", "model", "md", "kc", "jack", "j1s", "fij"))
    if (is.matrix(v[[nm]])) v[[nm]] <- sym(Ti %*% v[[nm]] %*% t(Ti))
  if (is.matrix(v$HI)) v$HI <- sym(crossprod(tx$T, v$HI %*% tx$T))
  res$variance <- v
  res
}

# A design with no constant column whose 0/1 indicator columns (a factor's,
# in y ~ 0 + f + x) sum to the constant, c'X = 1 over them, beside a column
# that is not well scaled (x * 1e-6 - 5): the centring of design_transform()
# needs a constant column, first (its T is then upper triangular). list(A,
# Ai) with X A = (1, X without column j), j the last indicator with
# c_j != 0 (A's first column c, then the unit vectors of the other columns;
# X beta = (X A)(A^-1 beta)), else NULL (the fit as before).
gee_constant_span <- function(X) {
  if (ncol(X) < 2L || nrow(X) < 2L) return(NULL)
  # A constant column (the intercept, usually the first) ends it at once.
  if (any(if (is.double(X)) cpp_constant_columns(X)
          else vapply(seq_len(ncol(X)), function(j) all(X[, j] == X[1L, j]), TRUE))) return(NULL)
  ind <- which(apply(X, 2L, function(v) all(v == 0 | v == 1)))
  if (!length(ind) || length(ind) == ncol(X)) return(NULL)
  if (well_scaled_x(cbind(1, X[, -ind, drop = FALSE]))) return(NULL)
  cf <- tryCatch(qr.coef(qr(X[, ind, drop = FALSE]), rep(1, nrow(X))), error = function(e) NULL)
  if (is.null(cf) || anyNA(cf)) return(NULL)
  if (max(abs(X[, ind, drop = FALSE] %*% cf - 1)) > 1e-10) return(NULL)
  cf[abs(cf) < 1e-12] <- 0
  j <- ind[max(which(cf != 0))]
  I <- diag(1, ncol(X))
  A <- cbind(replace(numeric(ncol(X)), ind, cf), I[, -j, drop = FALSE])
  list(A = A, Ai = solve(A))
}
