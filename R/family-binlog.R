# Binomial with the log link (log-binomial regression: coefficients are log
# relative risks). The mean exp(eta) is a probability only for eta <= 0, so
# the maximum can lie on the boundary of the parameter space, and
# stats::glm.fit's own start can leave it ("no valid set of coefficients").
# The engines' family class (src/families/families-binlog.h) returns -Inf outside;
# here: a start inside the space, and the check that a fit did not end on
# its boundary.

is_binomial_log <- function(family) {
  identical(family$family, "binomial") && identical(family$link, "log")
}

# A start strictly inside eta < 0: the least-squares fit of log of glm's
# initial means, pulled towards the constant log(mean(y)) - 0.1 (when the
# design holds a constant) until every linear predictor is below -0.01;
# then stats::glm.fit from there, whose step halving keeps the means valid.
# Without a constant in the design the start is the scaled-down
# least-squares fit, which stays inside as long as the offset allows it.
binlog_glm_start <- function(X, y, weights, offset) {
  p <- ncol(X)
  ok <- weights > 0
  mu0 <- (weights * y + 0.5) / (weights + 1)
  ls <- stats::lm.fit(X[ok, , drop = FALSE], log(mu0[ok]) - offset[ok])$coefficients
  ls[!is.finite(ls)] <- 0
  cfit <- stats::lm.fit(X[ok, , drop = FALSE], rep(1, sum(ok)))
  has_const <- max(abs(cfit$residuals)) < 1e-8
  cc <- cfit$coefficients
  cc[!is.finite(cc)] <- 0
  base <- min(log(max(stats::weighted.mean(y[ok], weights[ok]), 1e-8)) - 0.1, -0.01)
  inside <- function(b) all(drop(X[ok, , drop = FALSE] %*% b) + offset[ok] < -0.01)
  beta <- NULL
  for (t in 0.5^(0:30)) {
    b <- if (has_const) t * ls + (1 - t) * base * cc else t * ls
    if (inside(b)) { beta <- b; break }
  }
  if (is.null(beta))
    stop("'family': binomial(link = \"log\") found no start with every fitted probability below 1 (an offset >= 0?)",
         call. = FALSE)
  fit <- tryCatch(suppressWarnings(stats::glm.fit(X, y, weights = weights, offset = offset,
                                                  family = stats::binomial("log"), start = beta,
                                                  control = stats::glm.control(maxit = 50))),
                  error = function(e) NULL)
  if (is.null(fit) || !all(is.finite(fit$coefficients)) || !inside(fit$coefficients)) {
    # glm.fit failed or ended (numerically) on the boundary: keep a point
    # inside, on the segment towards its answer where it has one.
    if (!is.null(fit) && all(is.finite(fit$coefficients)))
      for (t in 0.5^(1:30)) {
        b <- (1 - t) * fit$coefficients + t * beta
        if (inside(b)) { beta <- b; break }
      }
    eta <- drop(X %*% beta) + offset
    return(list(coefficients = beta, fitted.values = exp(eta)))
  }
  fit
}

# The largest linear predictor of a fit, conditional on the random effects
# where it has them: at >= -tol the fit sits on the boundary eta = 0 (a
# fitted probability of 1), where the likelihood stops and the Wald
# standard errors are not trustworthy. NULL when there is nothing to say.
binlog_boundary_message <- function(eta, weights = NULL, tol = 1e-5) {
  if (!is.null(weights)) eta <- eta[weights > 0]
  eta <- eta[is.finite(eta)]
  if (!length(eta) || max(eta) < -tol) return(NULL)
  sprintf(paste0("binomial(link = \"log\"): the fit reaches the boundary of the parameter space ",
                 "(largest linear predictor %.2g, a fitted probability of %.6f); the likelihood is cut ",
                 "there, so the estimates are constrained and their Wald standard errors are not reliable"),
          max(eta), exp(min(max(eta), 0)))
}

# finish_glmm()'s check of a mixed model: the linear predictors at the
# conditional modes of the random effects.
binlog_glmm_warning <- function(obj) {
  if (!is_binomial_log(obj$family)) return(NULL)
  eta <- tryCatch(quiet_binlog_over(stats::predict(obj, type = "link")), error = function(e) NULL)
  if (is.null(eta)) return(NULL)
  binlog_boundary_message(eta, obj$prior.weights)
}

# simulate(): with the log link a new random effect can push a mean past 1,
# where the model (and its likelihood) has no distribution; such draws are
# taken at probability 1, and said so.
binlog_cap_mean <- function(mu) {
  over <- mu > 1
  if (any(over, na.rm = TRUE)) {
    warning(sprintf("binomial(link = \"log\"): %d simulated probabilities exceeded 1 (random effects pushed exp(eta) past 1) and were set to 1",
                    sum(over, na.rm = TRUE)), call. = FALSE)
    mu[over] <- 1
  }
  mu
}

# Predictions of a log-binomial model beyond the parameter space. A mean
# exp(eta) above 1 is not a probability: the fitted model has no
# distribution there (a new covariate value or a new random effect pushed
# eta past 0). predict(), standardize() and marginal_coefs() return such
# values as computed, not capped: capping at 1 would present an
# extrapolation as a certainty and break the link between a prediction
# and its standard error; the warning names the rows. (simulate() must
# draw, so it caps at 1, and says so: binlog_cap_mean().)
# `mu`: the means (on the probability scale), `labels`: their row names;
# `what`: what the means are, for the message. NULL when all are <= 1.
binlog_over_message <- function(mu, labels = names(mu), what = "predicted probabilities") {
  over <- which(mu > 1)
  if (!length(over)) return(NULL)
  if (is.null(labels)) labels <- as.character(seq_along(mu))
  shown <- labels[over]
  if (length(shown) > 10L) shown <- c(shown[1:10], sprintf("and %d more", length(over) - 10L))
  sprintf(paste0("binomial(link = \"log\"): %d of the %s exceed 1 (largest %.4g; rows %s): ",
                 "exp(eta) > 1 is outside the model's parameter space, so these are ",
                 "extrapolations, not probabilities; they are returned as computed (not capped at 1)"),
          length(over), what, max(mu[over]), paste(shown, collapse = ", "))
}

# The warning of binlog_over_message() for a family (a no-op for other
# families); `mu` on the probability scale.
warn_binlog_over <- function(family, mu, labels = names(mu), what = "predicted probabilities") {
  if (!is_binomial_log(family)) return(invisible(NULL))
  msg <- binlog_over_message(mu, labels, what)
  if (!is.null(msg)) warning(msg, call. = FALSE)
  invisible(msg)
}

# Evaluates expr without binlog_over_message()'s warning, for internal
# predictions that report the same thing their own way (simulate()'s cap,
# the boundary check of a fit).
quiet_binlog_over <- function(expr) {
  withCallingHandlers(expr, warning = function(w) {
    if (grepl("of the .* exceed 1 \\(largest", conditionMessage(w)) &&
        startsWith(conditionMessage(w), "binomial(link = \"log\")"))
      invokeRestart("muffleWarning")
  })
}

# Where a log-binomial GEE has no root inside exp(eta) <= 1, the scoring
# steps stop on or near the boundary: the message that says so and names the
# alternatives. The Poisson working model with a sandwich variance gives
# consistent log relative risks for binary data when the log-linear mean is
# right (Zou 2004, Am J Epidemiol 159:702-706).
binlog_gee_no_root_message <- function(detail) {
  paste0("binomial(link = \"log\"): the log-binomial GEE has no solution inside the parameter space ",
         "for these data: the root of the estimating equations lies where some fitted probabilities ",
         "would exceed 1 (exp(eta) > 1), so the iterations stop on or near the boundary and the estimates are ",
         "not a solution [", detail, "]. For relative risks fit gee(..., family = poisson) with its robust ",
         "(sandwich) standard errors, which estimates the same population-averaged log relative risks ",
         "when the log-linear model is right (Zou 2004, Am J Epidemiol 159:702-706), or a logit model ",
         "with standardize() for marginal risk ratios")
}

# A log-binomial GLMM whose search failed while clusters had only
# successes: for such a cluster the integrand exp(S b) phi(b / sd) grows
# up to the cut exp(eta + b) = 1, so its posterior mode lies on that
# boundary, where Laplace's approximation (a Gaussian around an interior
# mode) and quadrature centred there are not valid. The warning says so and
# what to use instead (recorded first in $optinfo$warnings). NULL when
# nothing to say.
binlog_all_success_message <- function(obj) {
  if (!is_binomial_log(obj$family)) return(NULL)
  g <- .subset2(obj, "group")
  y <- .subset2(obj, "y")
  if (is.null(g) || is.null(y) || length(g) != length(y)) return(NULL)
  w <- .subset2(obj, "prior.weights")
  keep <- if (is.null(w)) rep(TRUE, length(y)) else w > 0
  allsucc <- tapply(y[keep] >= 1 - 1e-12, g[keep], all)
  n_as <- sum(allsucc, na.rm = TRUE)
  warns <- .subset2(obj, "optinfo", exact = FALSE)$warnings
  failed <- grep("posterior mode search failed|did not converge|false convergence", warns, value = TRUE)
  if (!n_as || !length(failed)) return(NULL)
  nagq <- .subset2(obj, "nAGQ")
  how <- if (identical(as.numeric(nagq), 1)) "Laplace's approximation (nAGQ = 1)" else
    sprintf("adaptive quadrature (nAGQ = %s), centred at that mode,", format(nagq))
  sprintf(paste0("binomial(link = \"log\"): the fit failed (%s) and %d of the %d clusters of '%s' have ",
                 "only successes: for them the posterior mode of the random effect lies on the boundary ",
                 "exp(eta + b) = 1, where the likelihood is cut, and %s is not valid there: the estimates ",
                 "returned are not a maximum of the likelihood and must not be used. %sFor relative risks fit a logit model and use standardize() (marginal risks ",
                 "and their ratio), or gee(..., family = poisson) with robust standard errors for ",
                 "population-averaged log relative risks (Zou 2004, Am J Epidemiol 159:702-706)"),
          paste(failed, collapse = "; "), n_as, length(allsucc), paste(obj$group_name, collapse = ", "),
          how, if (identical(as.numeric(nagq), 1)) "(Quadrature, nAGQ > 1, may do no better: its nodes are centred at the same mode.) " else "")
}
