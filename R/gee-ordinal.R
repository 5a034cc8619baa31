# Ordinal GEE: the marginal cumulative link model
#   P(Y_ij <= k) = F(theta_k - x_ij'beta)
# fitted by estimating equations with the independence working structure
# for the global cumulative odds ratios within a cluster (multgee's
# LORstr = "independence", geepack ordgee's corstr = "independence"), with
# the robust sandwich variance. gee() routes here for family = cumulative().

#' Ordinal GEE (marginal cumulative link model)
#'
#' `gee(y ~ x, data, id = g, family = cumulative("logit"))` fits the
#' population-averaged cumulative link model \eqn{P(Y_{ij} \le k) =
#' F(\theta_k - x_{ij}'\beta)} (the parameterization of [cumulative()],
#' as `ordinal::clm()`: a positive coefficient moves the response towards
#' higher categories). With the independence working structure for the
#' association between a cluster's responses (the default; other
#' structures below) the estimating equations are the score equations of the multinomial
#' likelihood that ignores the clustering; the estimates therefore equal
#' `ordinal::clm()`'s, and the clustering enters through the robust
#' sandwich variance \eqn{H^{-1} B H^{-1}}, with \eqn{H = \sum_i D_i'V_i^{-1}D_i}
#' the expected information of the multinomial working model (the
#' "naive" variance \eqn{H^{-1}}) and \eqn{B} the sum over clusters of the
#' outer products of the clusters' estimating functions. These are the
#' estimates and standard errors of `multgee::ordLORgee(LORstr =
#' "independence")` (whose coefficients have the opposite sign, from
#' \eqn{P(Y \le k) = F(\beta_{0k} + x'\beta)}) and of `geepack::ordgee()`
#' with `corstr = "independence"`. Prior weights multiply each
#' observation's estimating function; offsets are allowed. Separated data
#' (no finite root) are named in a warning and in `$separation`, as for
#' [glmm()] ("Checks on the data").
#'
#' @section Association structures (`corstr`):
#' For an ordinal response `corstr` takes the global odds ratios structures
#' of the next section or the local odds ratios structures
#' of Touloumis, Agresti and Kateri (2013), by multgee's `LORstr` names:
#' * `"independence"` (gee()'s default; multgee's is `"category.exch"`): the
#'   estimating equations above.
#' * `"uniform"`: one log local odds ratio \eqn{\phi} for all pairs of
#'   times and categories.
#' * `"category.exch"`: one \eqn{\phi_{ts}} per pair of times t < s.
#' * `"time.exch"`: log local odds ratios \eqn{(\mu_{a+1} - \mu_a)(\mu_{b+1}
#'   - \mu_b)} from one set of row-column scores \eqn{\mu} for all pairs.
#' * `"RC"`: such scores for each pair of times.
#' * `"fixed"`: the local odds ratios of the table(s) given in `R`: a
#'   \eqn{J \times J} table of positive numbers for all pairs, or multgee's
#'   `LORterm` layout (one row per pair of times, (1,2), (1,3), ..., holding
#'   a \eqn{J \times J} table by columns).
#'
#' As in `multgee::ordLORgee()` (whose defaults `LORem = "3way"`,
#' `homogeneous = TRUE`, `add = 0` these are), the association is estimated
#' once, before the regression: the responses of each pair of times are
#' cross-classified over the clusters seen at both, and a log-linear model
#' with free margins per table and the structure's association term is
#' fitted by Poisson maximum likelihood (the margins profiled out by
#' iterative proportional fitting). multgee's other options (`LORem =
#' "2way"`, `homogeneous = FALSE`, `restricted = TRUE`, `add > 0`) are not
#' available. The working covariance of a cluster's
#' category indicators is then built from the fitted marginal probabilities:
#' \eqn{\mathrm{diag}(\pi_t) - \pi_t\pi_t'} within a time and \eqn{P_{ts} -
#' \pi_t\pi_s'} between times, where the joint table \eqn{P_{ts}} has the
#' margins \eqn{\pi_t, \pi_s} and the estimated local odds ratios
#' (iterative proportional fitting, in C++). Thresholds and coefficients
#' solve \eqn{\sum_i D_i'V_i^{-1}(y_i - \pi_i) = 0} by Fisher scoring from
#' the independence estimates, to a relative step of
#' `gee_control()$epsilon` (multgee stops at a relative change of 1e-3 by
#' default, so its estimates differ from the root in the third or fourth
#' digit unless its `tolerance` is lowered). The naive variance is
#' \eqn{(\sum_i D_i'V_i^{-1}D_i)^{-1}} and the robust one the sandwich.
#'
#' The times of a cluster's responses are `waves` (a whole-number time
#' index, multgee's `repeated`); without it the rows of a cluster are
#' taken as times 1, 2, ... in data order, which pairs the wrong visits when
#' some are missing. Clusters may miss times and the rows need not be
#' sorted. Prior weights are refused with these structures (the association
#' model counts whole clusters). The estimated association is in
#' `fit$association`: `parameters` (\eqn{\phi} or the scores, the first score
#' fixed at 0), `local_odds_ratios` (a \eqn{(J-1) \times (J-1)} matrix per
#' pair of times) and the pairs' `counts`.
#'
#' @section Global odds ratios (`corstr = "global.exchangeable"`, `"global.unstructured"`):
#' The structures of Heagerty and Zeger (1996) and `geepack::ordgee()`
#' (its `corstr = "exchangeable"` and `"unstructured"`). The association of
#' two responses \eqn{Y_t, Y_s} of a cluster is the global odds ratio
#' \eqn{\psi} of the cut-point indicators \eqn{I(Y_t \le k)} and
#' \eqn{I(Y_s \le m)}, the same for all pairs of cut points: one log odds
#' ratio \eqn{\alpha} for all pairs of times (`"global.exchangeable"`) or one
#' per pair of times (`"global.unstructured"`, by `waves`). The joint
#' probability \eqn{P(Y_t \le k, Y_s \le m)} is Plackett's from the two
#' margins and \eqn{\psi} (with one \eqn{\psi} for all cut points, the
#' pair's joint table is the Plackett copula's). The thresholds and
#' coefficients solve \eqn{\sum_i D_i'V_i^{-1}(z_i - \mu_i) = 0} for the
#' stacked cut-point indicators \eqn{z_i} of a cluster, whose working
#' covariance \eqn{V_i} has these joint probabilities between times; the
#' log odds ratios solve a second set of estimating equations, for the
#' products of the residuals of each pair, \eqn{r_{tk} r_{sm}}, with their
#' expectation, derivative and exact variance under the pair's table.
#' Both sets are solved together (Fisher scoring, to a relative step of
#' `gee_control()$epsilon`), from the independence estimates and
#' \eqn{\alpha = 0}; a step that would disorder the thresholds or leave a
#' cluster's \eqn{V_i} not positive definite (margins and odds ratios
#' incompatible) is halved. When no step helps (seen with few clusters and
#' `"global.unstructured"`, whose odds ratios can drift without bound) the
#' fit is returned with `converged = FALSE` and a warning recorded in it
#' that suggests `"global.exchangeable"` or `"independence"`; its estimates
#' are not a solution. The robust variance is the sandwich of the stacked
#' estimating functions with the block-triangular derivative
#' (the marginal equations do not depend on \eqn{\alpha} in expectation),
#' for the coefficients in `vcov(fit)` and for the log odds ratios in
#' `fit$association$vcov$robust` (`$naive` the inverse information); the
#' estimates and both are printed by `summary()`.
#'
#' The estimates, log odds ratios and the coefficients' standard errors are
#' `ordgee()`'s (whose intercepts are minus the thresholds: it models
#' \eqn{P(Y > k)}) for a binary response. For three or more categories
#' `ordgee()` builds the within-time covariance of the indicators
#' \eqn{I(Y > k)} from \eqn{P(Y > \min(k, m))} where the covariance
#' needs \eqn{P(Y > \max(k, m))}: its working covariance is then not a
#' covariance (not positive definite), so its estimates differ from ours
#' (even with `corstr = "independence"`, where ours are `ordinal::clm()`'s);
#' both are consistent. With `"unstructured"` `ordgee()` differentiates
#' each pair's association equations with respect to the coefficients at
#' the odds ratio of the cluster's first pair, so its standard errors of the
#' log odds ratios differ from ours by up to about 1% on its `ohio` example.
#' `ordgee()` also needs rows sorted by cluster; ours do not. Clusters of
#' one response add to the marginal equations only. Prior weights and a
#' user design for the log odds ratios (`ordgee()`'s `z`) are not
#' available.
#'
#' The fit is an object of class `glmmgee_gee_ordinal` with methods
#' `print`, `summary`, `coef` (thresholds and coefficients), `vcov`
#' (`type = "robust"` or `"naive"`), `confint`, `nobs`, `predict`
#' (`type = "prob"`, `"class"` or `"linear"`; `se.fit = TRUE` gives
#' delta-method standard errors from the robust variance for `"prob"` and
#' `"linear"`), `fitted`, `formula`, `family`, `model.frame`,
#' `model.matrix` (the covariates the coefficients multiply, without an
#' intercept: the thresholds take its place), `weights`, `df.residual`
#' (observations minus thresholds and coefficients), `update` and
#' [odds_ratios()] (population-averaged cumulative odds ratios, logit
#' link), `anova` (robust Wald tests of terms, Wald or score tests between
#' nested fits) and [QIC()] ([ordinal-gee-tests]), broom's `tidy()` and
#' `glance()` ([ordinal-broom]) and emmeans ([ordinal-emmeans]).
#' `residuals()` and `deviance()` stop: a category has no residual and a
#' GEE no likelihood.
#' @name ordinal-gee
#' @references
#' Touloumis, A., Agresti, A. and Kateri, M. (2013). GEE for multinomial
#' responses using a local odds ratios parameterization. *Biometrics* 69,
#' 633-640.
#'
#' Heagerty, P. J. and Zeger, S. L. (1996). Marginal regression models for
#' clustered ordinal measurements. *Journal of the American Statistical
#' Association* 91, 1024-1036.
#'
#' Lipsitz, S. R., Kim, K. and Zhao, L. (1994). Analysis of repeated
#' categorical data using generalized estimating equations. *Statistics in
#' Medicine* 13, 1149-1163.
#' @examples
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- gee(rating ~ temp + contact, data = ordinal::wine, id = judge,
#'              family = cumulative("logit"))
#'   print(summary(fit))
#'   odds_ratios(fit)
#' }
#' if (requireNamespace("multgee", quietly = TRUE)) {
#'   data(arthritis, package = "multgee")
#'   fit <- gee(factor(y) ~ factor(time) + factor(trt) + factor(baseline),
#'              data = arthritis, id = id, waves = time, family = cumulative,
#'              corstr = "uniform", na.action = na.omit)
#'   fit
#'   fit$association$local_odds_ratios[, , "1-3"]
#' }
#' if (requireNamespace("geepack", quietly = TRUE)) {
#'   data(ohio, package = "geepack")
#'   fit <- gee(factor(resp) ~ age * smoke, data = ohio, id = id,
#'              family = cumulative, corstr = "global.exchangeable")
#'   summary(fit)
#' }
NULL

gee_ordinal <- function(mc, formula, family, env, control, contrasts = NULL) {
  corstr <- check_ordinal_corstr(if (is.null(mc$corstr)) "independence" else eval(mc$corstr, env))
  for (a in c("scale.fix", "Mv"))
    if (!is.null(mc[[a]]))
      stop(sprintf("'%s' is not used by the ordinal GEE (multinomial variance, no scale or m-dependence)", a),
           call. = FALSE)
  if (!is.null(mc$std.err) && !identical(eval(mc$std.err, env), "san.se"))
    stop("'std.err': the ordinal GEE reports the robust sandwich (\"san.se\"); the naive variance is vcov(fit, type = \"naive\")",
         call. = FALSE)
  R <- if (is.null(mc$R)) NULL else eval(mc$R, env)
  if (!is.null(R) && corstr != "fixed")
    stop("'R' is used only with corstr = \"fixed\" (the association table)", call. = FALSE)
  formula <- ordinal_with_intercept(formula)  # glmm-ordinal-sparse.R
  mf <- frame_from_call(mc, formula, env, c("weights", "offset", "id", "waves"), contrasts)
  check_frame_finite(mf)
  mt <- attr(mf, "terms")
  Xi <- stats::model.matrix(mt, mf, contrasts.arg = frame_contrasts(mf, mt))
  contr <- attr(Xi, "contrasts")
  icpt <- colnames(Xi) == "(Intercept)"
  X <- Xi[, !icpt, drop = FALSE]
  # The thresholds act as an intercept: the covariates must have full rank beside one.
  if (ncol(X)) check_full_rank(if (any(icpt)) Xi else cbind(1, X))
  rm(Xi)
  # The response column itself: model.response() would name it by the row
  # names (thousands of strings made on large data, unused here).
  resp <- ordinal_response(if (attr(mt, "response") > 0L) mf[[1L]], deparse(formula[[2L]]),
                           attr(mf, "unused_response_levels"))
  id <- cluster_index(mf[["(id)"]], "id")
  w <- stats::model.weights(mf) %||% rep(1, nrow(mf))
  if (!is.numeric(w) || any(!is.finite(w)) || any(w < 0))
    stop("'weights' must be finite and non-negative", call. = FALSE)
  if (corstr != "independence" && any(w != 1))
    stop(sprintf(paste0("'weights': prior weights are available for the ordinal GEE with corstr = ",
                        "\"independence\" only, not \"%s\" (the association structures count ",
                        "whole clusters); drop the zero-weight rows with 'subset' instead"), corstr),
         call. = FALSE)
  # As gee(): the sandwich of one cluster is zero (its score sums to zero
  # at the root), so a single cluster would report standard errors of 0.
  if (sum(tabulate(id$index[w > 0], length(id$levels)) > 0L) < 2L)
    stop("'id' has a single cluster (with positive weight): GEE needs several clusters, ",
         "since its variance comes from the variation between them", call. = FALSE)
  off <- model_offset_total(mf)
  tm <- ordinal_times(mf[["(waves)"]], id)
  J <- length(resp$levels)
  pair_note <- if (corstr != "independence") ordinal_cluster_cost(id, J, corstr)
  # Said before the long work starts, not only when it ends.
  if (!is.null(pair_note)) warning(pair_note, call. = FALSE, immediate. = TRUE)
  assoc <- NULL
  # The engines work on centred and scaled covariates; the estimates and
  # their variances are mapped back exactly (ordinal_gee_unscale_x()).
  st <- ordinal_gee_scale_x(X)
  Xs <- st$X
  # Under separation the engines may fail: then the separation check
  # (separation-ordinal.R) names the reason.
  fit <- ordinal_fit_or_separation(function() {
    if (corstr == "independence") {
      ordinal_gee_fit(Xs, resp$code, J, id$index, family, w, off)
    } else if (corstr %in% ordinal_global_structures) {
      f <- ordinal_global_fit(Xs, resp$code, J, id, tm, family, off, corstr, control)
      f$assoc <- list(structure = corstr, global = TRUE, parameters = f$alpha,
                      vcov = list(robust = f$alpha_vcov, naive = f$alpha_naive),
                      times = tm$labels)
      f
    } else {
      a <- ordinal_lor_fit(Xs, resp$code, J, id, tm, family, off, corstr, R, control)
      f <- a$fit
      a$fit <- NULL
      f$assoc <- a
      f
    }
  }, X, resp, w, "gee")
  assoc <- fit$assoc
  fit$assoc <- NULL
  rm(Xs)
  fit <- ordinal_gee_unscale_x(fit, st, J - 1L)
  tn <- threshold_names(resp$levels)
  pn <- c(tn, colnames(X))
  names(fit$psi) <- pn
  dimnames(fit$robust) <- dimnames(fit$naive) <- list(pn, pn)
  k1 <- length(tn)
  obj <- structure(list(
    call = mc, formula = formula, family = family, corstr = corstr, psi = fit$psi,
    thresholds = fit$psi[seq_len(k1)], coefficients = fit$psi[-seq_len(k1)],
    vcov = list(robust = fit$robust, naive = fit$naive), association = assoc,
    converged = fit$converged, iterations = fit$iterations, nobs = sum(w > 0),
    nclusters = length(id$levels), y_levels = resp$levels, X = X, offset = off,
    prior.weights = if (differs_from(w, 1)) w, terms = mt,
    xlevels = stats::.getXlevels(mt, mf), contrasts = contr, model = mf,
    warnings = c(if (!is.null(assoc)) assoc$warnings, fit$warnings)),
    class = "glmmgee_gee_ordinal")
  # The separation check, with the fitted values' certificate of existence
  # (separation-ordinal.R); under separation its message replaces the
  # engine's warnings, which are kept in $warnings_separation.
  sep <- ordinal_separation(X, resp$code, J, w, tn, "gee",
                            cert = list(theta = unname(obj$thresholds),
                                        eta = drop(X %*% obj$coefficients) + off, family = family))
  obj$separation <- sep
  if (isTRUE(sep$separated)) {
    obj$warnings_separation <- obj$warnings
    obj$warnings <- sep$message
  }
  obj$warnings <- c(resp$warning, pair_note, obj$warnings)
  for (wn in setdiff(obj$warnings, pair_note)) warning(wn, call. = FALSE)
  obj
}

# Covariates centred and scaled to unit standard deviation. A covariate far
# from zero (x + 1e4) is nearly collinear with the thresholds, which act as
# intercepts: Fisher scoring on it stopped at its first step with a
# "singular information" and gave no standard errors.
ordinal_gee_scale_x <- function(X) {
  p <- ncol(X)
  if (!p) return(list(X = X, centre = numeric(), scale = numeric()))
  ctr <- colMeans(X)
  scl <- sqrt(colSums(sweep(X, 2L, ctr)^2) / max(nrow(X) - 1L, 1L))
  scl[!(scl > 0)] <- 1
  list(X = sweep(sweep(X, 2L, ctr), 2L, scl, "/"), centre = ctr, scale = scl)
}

# The estimates on standardized covariates, x_s = (x - centre) / scale, in
# the covariates' own units: beta = beta_s / scale, and since the linear
# predictor is theta_k - x'beta, theta_k = theta_s,k + centre'beta; the
# variances by the same (linear) map. The association parameters do not
# change.
ordinal_gee_unscale_x <- function(fit, st, c1) {
  p <- length(st$centre)
  if (!p) return(fit)
  Tm <- diag(c1 + p)
  Tm[c1 + seq_len(p), c1 + seq_len(p)] <- diag(1 / st$scale, p)
  Tm[seq_len(c1), c1 + seq_len(p)] <- matrix(st$centre / st$scale, c1, p, byrow = TRUE)
  fit$psi <- drop(Tm %*% fit$psi)
  fit$robust <- Tm %*% fit$robust %*% t(Tm)
  fit$naive <- Tm %*% fit$naive %*% t(Tm)
  fit
}

# The association structures work on every pair of responses of a cluster
# and factor each cluster's working covariance, (size x cut points)^2: time
# grows with the square and the cube of the cluster size, memory with the
# square. Two clusters of 1,074 rows took 17 s (global odds ratios), of
# 800 rows with local odds ratios 33 s, against 0.13 s for independence.
# Refuses what cannot fit in memory; returns a warning for clusters larger
# than `large` rows (NULL otherwise).
ordinal_cluster_cost <- function(id, J, corstr, large = 500L) {
  sizes <- tabulate(id$index, length(id$levels))
  nmax <- max(sizes)
  advice <- paste0("corstr = \"independence\" takes time linear in the cluster sizes ",
                   "(its sandwich standard errors remain valid), or split the clusters ",
                   "into shorter units if the design allows")
  m <- nmax * (J - 1)
  tryCatch(check_memory(2 * 8 * m^2, sprintf("corstr = \"%s\": the working covariance of a cluster of %d responses",
                                             corstr, nmax)),
           error = function(e) stop(conditionMessage(e), "; ", advice, call. = FALSE))
  if (nmax <= large) return(NULL)
  sprintf(paste0("ordinal GEE, corstr = \"%s\": the largest cluster has %d responses (%.3g pairs ",
                 "of responses within clusters); the time per iteration grows with the square ",
                 "(pairs) and the cube (working covariance) of the cluster size, so this fit ",
                 "may take minutes; %s"),
          corstr, nmax, sum(sizes * (sizes - 1) / 2), advice)
}

# Time of each observation within its cluster: the index into the sorted
# distinct 'waves' values, or without waves the position in data order
# within the cluster (multgee's default for 'repeated').
ordinal_times <- function(waves, id) {
  n <- length(id$index)
  if (is.null(waves)) {
    # Position in data order within the cluster: rows sorted stably by
    # cluster, less the rows of the clusters before (distinct by
    # construction, positions 1..largest cluster).
    o <- order(id$index)
    before <- c(0L, cumsum(tabulate(id$index, length(id$levels))))
    pos <- integer(n)
    pos[o] <- seq_len(n) - before[id$index[o]]
    return(list(index = pos, labels = as.character(seq_len(max(pos)))))
  }
  pos <- wave_positions(waves, n)
  labels <- sort(unique(waves))
  u <- sort(unique(pos))
  key <- (id$index - 1) * length(u) + match(pos, u)   # one number per (cluster, time)
  if (anyDuplicated(key)) {
    bad <- id$levels[id$index[duplicated(key)][1L]]
    stop(sprintf("'waves' has a duplicated value within cluster %s of 'id': each time may occur once per cluster",
                 bad), call. = FALSE)
  }
  list(index = match(pos, u), labels = format(labels, trim = TRUE))
}

# The local-odds-ratios GEE: association from the pairs' tables, then
# Fisher scoring with the full working covariance (src/engines/gee/ordinal-gee.cpp)
# from the independence estimates, which the same engine finds first with
# tables of ones (no association: V block diagonal, the equations the
# multinomial scores) from the marginal thresholds.
ordinal_lor_fit <- function(X, y, J, id, tm, family, off, corstr, R, control) {
  K <- length(id$levels)
  T <- length(tm$labels)
  if (T < 2L)
    stop(sprintf("corstr = \"%s\" needs repeated responses, but every cluster has one observation (one time)",
                 corstr), call. = FALSE)
  yw <- matrix(NA_integer_, K, T)
  yw[cbind(id$index, tm$index)] <- y
  assoc <- ordinal_association(yw, J, corstr, R, tm$labels)
  ord <- order(id$index, tm$index)
  starts <- c(0L, cumsum(tabulate(id$index, K)))
  engine <- function(tables, start, tol)
    cpp_ordinal_gee_lor(as.integer(y[ord]), X[ord, , drop = FALSE], as.double(off[ord]),
                        as.integer(starts), as.integer(tm$index[ord] - 1L), tables, assoc$pair, J,
                        start, family$link_code, control$maxit, tol, 1e-12, 1000L)
  cp <- cumsum(tabulate(y, J))[seq_len(J - 1L)] / length(y)
  th0 <- cummax(family$linkfun(pmin(pmax(cp, 1e-4), 1 - 1e-4)) + seq_len(J - 1L) * 1e-3)
  # The independence estimates are only the association run's start: a
  # relative step of 1e-4 is close enough (its scoring then converges in as
  # many steps as from the exact independence root, to the same root).
  ind <- engine(matrix(1, J * J, ncol(assoc$tables)), c(th0, rep(0, ncol(X))),
                max(control$epsilon, 1e-4))
  res <- if (nzchar(ind$problem)) ind else
    tryCatch(engine(assoc$tables, ind$psi, control$epsilon),
             error = function(e) stop_diverging_association(e, assoc, corstr, id$levels))
  warnings <- character()
  if (nzchar(res$problem)) warnings <- c(warnings, paste0("ordinal GEE: ", res$problem))
  if (!res$converged)
    warnings <- c(warnings, sprintf(paste0("the ordinal GEE did not converge in %d iterations ",
                                           "(last relative step %.2g, largest estimating-function component %.2g)"),
                                    res$iterations, res$criterion, res$score))
  if (res$ipf_unconverged > 0L)
    warnings <- c(warnings, sprintf("iterative proportional fitting did not reach its tolerance for %d pairs of responses",
                                    res$ipf_unconverged))
  assoc$fit <- list(psi = res$psi, naive = res$naive, robust = res$robust,
                    converged = res$converged, iterations = res$iterations, warnings = warnings)
  assoc$score <- res$score
  assoc
}

# The engine's error when the association stage diverged (a pair of times
# seen in few clusters, whose table has empty cells): the cause and the
# structures that pool the pairs' tables; the engine's cluster number is
# given as the cluster's id. Other errors pass unchanged.
stop_diverging_association <- function(e, assoc, corstr, levels) {
  msg <- conditionMessage(e)
  k <- regmatches(msg, regexpr("(?<=cluster )[0-9]+", msg, perl = TRUE))
  if (length(k)) msg <- sub("cluster [0-9]+", sprintf("cluster '%s'", levels[as.integer(k)]), msg)
  par <- assoc$parameters
  big <- which(is.finite(par) & abs(par) > 20)
  if (!length(big)) stop(msg, call. = FALSE)
  pairs <- unique(regmatches(names(par)[big], regexpr("(?<=\\()[^()]+(?=\\)$)", names(par)[big],
                                                          perl = TRUE)))
  n <- colSums(assoc$counts)[match(pairs, assoc$pair_labels)]
  where <- if (length(pairs))
    sprintf(" for the pair(s) of times %s, seen in %s cluster(s)", paste(pairs, collapse = ", "),
            paste(n, collapse = ", ")) else ""
  stop(sprintf(paste0("%s: the association model (\"%s\") has diverging log odds ratios (largest %.3g)%s, ",
                      "whose tables cannot determine them; corstr = \"uniform\" or \"time.exch\" pools ",
                      "the pairs' tables"), msg, corstr, max(abs(par[big])), where),
       call. = FALSE)
}

# Independence estimating equations (the multinomial scores) solved by
# nlminb on ordered thresholds and centred/scaled columns, then the naive
# and sandwich variances at the root.
ordinal_gee_fit <- function(X, y, J, id, family, w, off) {
  n <- length(y); p <- ncol(X); k1 <- J - 1L
  ctr <- if (p) colMeans(X) else numeric()
  scl <- if (p) apply(X, 2L, stats::sd) else numeric()
  scl[!is.finite(scl) | scl == 0] <- 1
  Xc <- if (p) sweep(sweep(X, 2L, ctr), 2L, scl, "/") else X
  scores <- function(theta, beta, Xm) ordinal_multinomial_scores(theta, beta, Xm, y, off, w, family)
  to_theta <- function(a) cumsum(c(a[1L], exp(a[-1L])))
  obj <- function(par) {
    s <- scores(to_theta(par[seq_len(k1)]), par[k1 + seq_len(p)], Xc)
    g <- colSums(s$U)
    ga <- rev(cumsum(rev(g[seq_len(k1)])))
    if (k1 > 1L) ga[-1L] <- ga[-1L] * exp(par[2:k1])
    list(val = if (is.finite(s$ll)) -s$ll else Inf, grad = -c(ga, g[k1 + seq_len(p)]))
  }
  cp <- cumsum(tabulate(y, J))[seq_len(k1)] / n
  th0 <- family$linkfun(pmin(pmax(cp, 1e-4), 1 - 1e-4))
  th0 <- cummax(th0 + seq_len(k1) * 1e-3)
  par0 <- c(th0[1L], log(pmax(diff(th0), 1e-3)), rep(0, p))
  opt <- stats::nlminb(par0, function(q) obj(q)$val, function(q) obj(q)$grad,
                       control = list(rel.tol = 1e-12, iter.max = 500L, eval.max = 1000L))
  beta <- opt$par[k1 + seq_len(p)] / scl
  theta <- to_theta(opt$par[seq_len(k1)]) + sum(ctr * beta)
  info <- function(theta, beta) ordinal_multinomial_info(theta, beta, X, off, w, family)
  # nlminb stops on the objective's relative change; Fisher scoring steps
  # solve the equations to the precision of the scores.
  s <- scores(theta, beta, X)
  for (it in 1:10) {
    g <- colSums(s$U)
    if (max(abs(g)) < 1e-9) break
    step <- tryCatch(solve(info(theta, beta), g), error = function(e) NULL)
    if (is.null(step) || any(!is.finite(step))) break
    th_new <- theta + step[seq_len(k1)]
    if (any(diff(th_new) <= 0)) break
    s_new <- scores(th_new, beta + step[k1 + seq_len(p)], X)
    if (!is.finite(s_new$ll) || s_new$ll < s$ll - 1e-8) break
    theta <- th_new; beta <- beta + step[k1 + seq_len(p)]; s <- s_new
  }
  H <- info(theta, beta)
  Ui <- rowsum(s$U, id, reorder = FALSE)
  B <- crossprod(Ui)
  Hinv <- tryCatch(solve(H), error = function(e) NULL)
  warnings <- character()
  if (is.null(Hinv)) {
    warnings <- "the information matrix is singular: no standard errors"
    Hinv <- matrix(NA_real_, k1 + p, k1 + p)
  }
  gmax <- max(abs(colSums(s$U)))
  if (!is.finite(gmax) || gmax > 1e-6)
    warnings <- c(warnings, sprintf("the estimating equations were not solved to tolerance (largest component %.2g)",
                                    gmax))
  list(psi = c(theta, beta), naive = Hinv, robust = Hinv %*% B %*% Hinv,
       converged = opt$convergence == 0L, iterations = opt$iterations, warnings = warnings)
}

# The multinomial log-likelihood of independent observations (w-weighted)
# and each observation's score (n x (thresholds + coefficients)): the
# independence estimating functions of the ordinal GEE.
ordinal_multinomial_scores <- function(theta, beta, X, y, off, w, family) {
  n <- length(y); k1 <- length(theta); p <- ncol(X)
  up <- y < k1 + 1L; lo <- y > 1L
  r <- cpp_ordinal_scores(as.integer(y), drop(X %*% beta) + off, theta, family$link_code)
  U <- matrix(0, n, k1 + p)
  U[cbind(which(up), y[up])] <- r$d_upper[up]
  U[cbind(which(lo), y[lo] - 1L)] <- r$d_lower[lo]
  if (p) U[, k1 + seq_len(p)] <- -(r$d_upper + r$d_lower) * X
  list(ll = sum(w * r$loglik), U = w * U)
}

# Expected information of the multinomial working model: sum over
# observations and categories of (d pi_k)(d pi_k)' / pi_k.
ordinal_multinomial_info <- function(theta, beta, X, off, w, family) {
  n <- nrow(X); k1 <- length(theta); p <- ncol(X); J <- k1 + 1L
  eta <- drop(X %*% beta) + off
  cum_d <- cbind(0, family$dens(outer(-eta, theta, "+")), 0)   # f(theta_k - eta), k = 0..J
  P <- category_probs(family, theta, eta)
  H <- matrix(0, k1 + p, k1 + p)
  for (k in seq_len(J)) {
    D <- matrix(0, n, k1 + p)
    if (k < J) D[, k] <- cum_d[, k + 1L]
    if (k > 1L) D[, k - 1L] <- -cum_d[, k]
    if (p) D[, k1 + seq_len(p)] <- -(cum_d[, k + 1L] - cum_d[, k]) * X
    H <- H + crossprod(D * sqrt(w / pmax(P[, k], 1e-300)))
  }
  H
}
