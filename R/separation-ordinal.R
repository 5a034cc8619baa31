# Separation in cumulative link models: data for which the maximum
# likelihood estimate of the thresholds and coefficients does not exist.
#
# Observation i in category j contributes log(F(u_i) - F(l_i)) with
# u_i = theta_j - eta_i and l_i = theta_{j-1} - eta_i (theta_0 = -Inf,
# theta_J = +Inf). For the logit, probit and cloglog links F is log-concave,
# so the log-likelihood is concave in (theta, beta) (Pratt, 1981), and it is
# bounded above by 0. Along a direction d = (a, b) of (theta, beta) the
# contribution of i does not fall for ever exactly when
#   a_j - x_i'b >= 0  (if j < J)   and   x_i'b - a_{j-1} >= 0  (if j > 1),
# and it then rises strictly where one of these is strict. A concave
# function attains its maximum exactly when no non-zero direction is a
# direction of recession (Rockafellar, 1970, Theorem 27.1), so the MLE fails
# to exist exactly when some d != 0 satisfies all of these inequalities
# (with X of full rank beside a constant and every category observed, such
# a d has a strict one: equality everywhere forces a_1 = ... = a_{J-1} =
# x_i'b for all i, hence d = 0). The inequalities also order a: an
# observation in category k + 1 gives a_k <= x_i'b <= a_{k+1}.
#
# (The derivation is ours, from these two facts; Kosmidis (2014) discusses
# such infinite estimates of cumulative link models and a finite,
# bias-reduced alternative.) This is the binary separation problem (Albert
# and Anderson, 1984) of the stacked data set that writes the cumulative
# model as binary models for I(y > k) with a shared beta and one intercept
# -a_k per cut point, restricted to the two cut points adjacent to
# each observation: the row of cut k = y_i with outcome 0 and the row of cut
# k = y_i - 1 with outcome 1; with a ordered, the other cut points' rows
# follow from these. So detect_separation() (separation.R) decides it on at
# most 2n rows and J - 1 + p columns.
#
# A random effect does not remedy it, for the reason given in separation.R:
# along d every cluster's conditional likelihood rises for every value of
# its random effects. The estimating equations of the ordinal GEE are the
# same score equations (independence) or weighted versions of them, with no
# finite root either.
#
# The linear program is skipped when a fit already proves that the MLE
# exists. By Gordan's theorem exactly one of these holds, A being the
# matrix of the inequality rows above:
#   (I)  some d has A d >= 0, A d != 0   (separation);
#   (II) some u > 0 has A'u = 0.
# At the fitted values, the rows' weights u0 = f(u_i)/P_i (the cut above)
# and f(l_i)/P_i (the cut below) are positive and A'u0 is the score of
# the fixed-effects log-likelihood, nearly zero at a fitted optimum (exactly
# zero for the independence GEE, which is the clm fit; nearly, with the
# linear predictor at the random effects' modes, for a mixed model). Its
# least-squares correction u = u0 - A (A'A)^{-1} A'u0 has A'u = 0; when
# every u_r is positive, (II) holds and there is no separation. That costs
# two passes over the data in C++ (src/engines/ordinal/ordinal-separation.cpp); the linear
# program runs only when it fails (separated data, or a fit too far from a
# stationary point to tell).
#
# References:
# Albert, A. and Anderson, J. A. (1984). On the existence of maximum
#   likelihood estimates in logistic regression models. Biometrika 71, 1-10.
# Kosmidis, I. (2014). Improved estimation in cumulative link models.
#   Journal of the Royal Statistical Society B 76, 169-196.
# Pratt, J. W. (1981). Concavity of the log likelihood. Journal of the
#   American Statistical Association 76, 103-106.
# Rockafellar, R. T. (1970). Convex Analysis. Princeton University Press.

# The separation check of a cumulative link model with design X (no
# intercept column; thresholds take its place), category codes y in 1..J,
# prior weights w and threshold names tnames. `cert` is NULL (run the
# linear program) or list(theta =, eta =, family =): fitted thresholds and
# linear predictors (offset and random-effect modes included) for the
# certificate (II) above, tried first. `model` is "glmm" or "gee". Returns
# the record of detect_separation() (separated, terms, direction on
# (thresholds, beta), nobs, checked), plus `thresholds` (pairs of
# thresholds whose distance grows without bound along the direction),
# `screen` ("certificate" or "linear program") and, when separated,
# `message`.
ordinal_separation <- function(X, y, J, w, tnames, model = "glmm", cert = NULL) {
  p <- ncol(X)
  pn <- c(tnames, colnames(X))
  none <- list(separated = FALSE, terms = character(), direction = stats::setNames(numeric(J - 1L + p), pn),
               nobs = 0L, checked = TRUE, thresholds = character())
  pos <- w > 0
  if (!all(pos)) {
    X <- X[pos, , drop = FALSE]
    y <- y[pos]
    if (!is.null(cert)) cert$eta <- cert$eta[pos]
  }
  n <- length(y)
  if (!is.null(cert) && ordinal_existence_certificate(X, y, J, cert))
    return(c(none, screen = "certificate"))
  # Centred and scaled columns: the check does not depend on the
  # covariates' location or units (centring is a column operation with
  # the thresholds' columns, whose sum is constant).
  ctr <- if (p) colMeans(X) else numeric()
  Xc <- if (p) X - rep(ctr, each = n) else X
  scl <- if (p) sqrt(colSums(Xc^2) / max(n - 1L, 1L)) else numeric()
  scl[!is.finite(scl) | scl == 0] <- 1
  if (p) Xc <- Xc / rep(scl, each = n)
  # Adjacent rows: cut y_i with outcome 0 (where y_i < J), cut y_i - 1 with
  # outcome 1 (where y_i > 1); columns -1{cut = k} and the covariates, so
  # that the direction is (a, b) on (thresholds, beta).
  iu <- which(y < J)
  il <- which(y > 1L)
  obs <- c(iu, il)
  cut <- c(y[iu], y[il] - 1L)
  m <- length(obs)
  S <- matrix(0, m, J - 1L + p)
  S[cbind(seq_len(m), cut)] <- -1
  if (p) S[, J - 1L + seq_len(p)] <- Xc[obs, , drop = FALSE]
  colnames(S) <- pn
  z <- rep(c(0, 1), c(length(iu), length(il)))
  sep <- detect_separation(S, z, rep(1, m), stats::binomial())
  sep$thresholds <- character()
  sep$screen <- "linear program"
  if (!isTRUE(sep$separated)) {
    sep$direction <- none$direction
    return(sep)
  }
  # Observations with a strict inequality along d (on the centred and
  # scaled problem, relative to the direction's largest component).
  sgn <- 2 * z - 1
  strict_of <- function(d) sgn * drop(S %*% d) > 1e-7 * max(abs(d))
  d <- unname(sep$direction)
  nstrict <- length(unique(obs[strict_of(d)]))
  # Under complete separation every small change of a separating direction
  # separates too, so the program's vertex may involve covariates that
  # play no part (z beside an x that orders the responses by itself). Each
  # covariate of the direction is dropped in turn, smallest component
  # first, when the others still separate as many observations.
  on <- if (p) which(abs(d[J - 1L + seq_len(p)]) > 1e-6 * max(abs(d))) else integer()
  dropped <- integer()
  for (j in on[order(abs(d[J - 1L + on]))]) {
    if (length(on) - length(dropped) <= 1L) break
    cols <- setdiff(seq_len(ncol(S)), J - 1L + c(dropped, j))
    r <- detect_separation(S[, cols, drop = FALSE], z, rep(1, m), stats::binomial())
    if (!isTRUE(r$separated)) next
    dj <- numeric(ncol(S))
    dj[cols] <- unname(r$direction)
    if (length(unique(obs[strict_of(dj)])) >= nstrict) {
      d <- dj
      dropped <- c(dropped, j)
    }
  }
  # The direction on the user's scale: b = b* / scl and a = a* + ctr'b.
  db <- if (p) d[J - 1L + seq_len(p)] else numeric()
  da <- d[seq_len(J - 1L)] + sum(ctr * db / scl)
  dir <- stats::setNames(c(da, db / scl), pn)
  big <- max(abs(d))
  strict <- strict_of(d)
  gaps <- if (J > 2L) which(diff(d[seq_len(J - 1L)]) > 1e-6 * big) else integer()
  sep$terms <- colnames(X)[abs(db) > 1e-6 * big]
  sep$direction <- dir
  sep$nobs <- length(unique(obs[strict]))
  sep$thresholds <- if (length(gaps)) paste0("'", tnames[gaps], "' and '", tnames[gaps + 1L], "'")
                    else character()
  sep$message <- ordinal_separation_message(sep, model)
  sep
}

# Condition (II): positive weights u with A'u = 0, from the fitted values
# (see the top of this file), in C++ (src/engines/ordinal/ordinal-separation.cpp: two
# passes over the data, no copy of X). X: the design of the observations
# with positive weight, y their categories; cert$theta the thresholds and
# cert$eta the linear predictors. TRUE when the corrected weights (relative
# to the largest) all exceed 1e-9, far above their rounding error.
ordinal_existence_certificate <- function(X, y, J, cert) {
  th <- cert$theta
  eta <- cert$eta
  if (length(th) != J - 1L || length(eta) != length(y) || !all(is.finite(th)) ||
      !all(is.finite(eta))) return(FALSE)
  if (!is.double(X)) storage.mode(X) <- "double"
  low <- cpp_ordinal_certificate(as.integer(y), X, as.double(eta), as.double(th),
                                 cert$family$link_code)
  is.finite(low) && low > 1e-9
}

# The warning for a separation found by ordinal_separation(); `model` is
# "glmm" or "gee". At most ten terms are named.
ordinal_separation_message <- function(sep, model = "glmm") {
  terms <- sQuote(sep$terms, FALSE)
  if (length(terms) > 10L) terms <- c(terms[1:10], sprintf("and %d more", length(terms) - 10L))
  why <- if (model == "gee") "the estimating equations have no finite solution"
         else "the maximum likelihood estimate does not exist (random effects do not remedy this)"
  nt <- length(sep$thresholds)
  gaps <- if (nt)
    sprintf(", as %s the distance%s between thresholds %s", if (nt > 1L) "do" else "does",
            if (nt > 1L) "s" else "", paste(sep$thresholds, collapse = "; between "))
  else ""
  sprintf(paste0("separation: the covariate(s) %s order the responses of %d observation(s) ",
                 "perfectly (fitted cumulative probabilities of 0 or 1), so %s and these ",
                 "coefficients drift to +/-Inf%s; the estimates and standard errors are meaningless. ",
                 "Remove or merge the offending terms or levels, or merge adjacent response ",
                 "categories, or %s"),
          paste(terms, collapse = ", "), sep$nobs, why, gaps,
          if (model == "gee") paste0("use a bias-reduced fit (Kosmidis 2014), or glmm(..., ",
                                     "penalized = TRUE) for the mixed model")
          else paste0("use a penalized fit: glmm(..., penalized = TRUE), a Student-t prior on ",
                      "the coefficients (not on the thresholds)"))
}

# Runs fitter() (a cumulative link fit of design X, response resp =
# ordinal_response(), weights w); when it fails and the linear program finds
# separation, stops with the separation message followed by the engine's.
ordinal_fit_or_separation <- function(fitter, X, resp, w, model) {
  tryCatch(fitter(), error = function(e) {
    sep <- ordinal_separation(X, resp$code, length(resp$levels), w, threshold_names(resp$levels),
                              model)
    if (isTRUE(sep$separated)) stop(sep$message, " [", conditionMessage(e), "]", call. = FALSE)
    stop(e)
  })
}

# The separation check of a fitted cumulative link mixed model `obj` (its
# thresholds; eta its linear predictors at the random effects' modes),
# recorded in obj$separation, then the fit's warnings. Under separation its
# message is the warning, first after the response's own (dropped levels);
# the optimizer's warnings that separation explains (a singular fit, no
# convergence, a large gradient, no standard errors) are kept in
# obj$optinfo$warnings_separation, not issued. A penalized fit (obj$penalty)
# has finite estimates under separation: its optimizer's warnings stay and
# the separation warning says that the prior sets these coefficients.
finish_ordinal_separation <- function(obj, X, resp, w, model, eta) {
  sep <- ordinal_separation(X, resp$code, length(resp$levels), w, threshold_names(resp$levels),
                            model, cert = list(theta = unname(obj$thresholds), eta = eta,
                                               family = obj$family))
  if (!is.null(obj$penalty)) sep <- penalized_separation(sep, obj$penalty$prior)
  obj$separation <- sep
  if (!is.null(obj$penalty)) {
    if (isTRUE(sep$separated)) obj$optinfo$warnings <- c(obj$optinfo$warnings, sep$message)
  } else if (isTRUE(sep$separated)) {
    obj$optinfo$warnings_separation <- obj$optinfo$warnings
    obj$optinfo$warnings <- sep$message
  }
  obj$optinfo$warnings <- c(resp$warning, obj$optinfo$warnings)
  for (wn in obj$optinfo$warnings) warning(wn, call. = FALSE)
  obj
}
