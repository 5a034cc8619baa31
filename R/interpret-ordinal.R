# Interpretation of cumulative link mixed models: conditional and
# population-averaged cumulative odds ratios, and standardized category
# probabilities. Reached from odds_ratios() and standardize() (one line in
# each dispatches here).
#
# Population-averaged quantities integrate each cumulative probability over
# the random intercept, P(Y <= j | x) = E_b F(theta_j - x'beta - b). With a
# normal b these are no longer of proportional-odds form, so the
# population-averaged cumulative odds ratio of a covariate depends on the
# threshold j (and on the other covariates): it is reported per threshold,
# as the odds ratio of the data-averaged probabilities P(Y > j) with the
# covariate's column at 1 versus 0 (a 0/1 column) or increased by one unit
# (any other column; by `delta` where given: odds_ratios(delta = )), the
# other columns as observed. Standard errors by the
# delta method over (thresholds, beta, log sigma), with a numerical Jacobian
# of these smooth functions, given the covariate values.

ordinal_odds_ratios <- function(fit, level = 0.95, parm = NULL,
                                type = c("conditional", "marginal"), nAGQ = 30L, delta = 1,
                                vcov = NULL, robust = NULL) {
  type <- match.arg(type)
  check_level(level)
  if (fit$family$link != "logit")
    stop(sprintf("'fit': cumulative odds ratios need the logit link; with the %s link exp(coefficient) is not an odds ratio",
                 fit$family$link), call. = FALSE)
  bn <- names(fit$coefficients)
  parm <- match_parm(parm, bn, bn)
  if (type == "conditional") {
    est <- list(coef = fit$coefficients, vcov = vcov %||% stats::vcov(fit)[bn, bn, drop = FALSE],
                family = fit$family, view = "conditional", separation = fit$separation,
                source = paste0("cumulative link mixed model; odds of a higher category, P(Y > j), the same at every threshold",
                                if (!is.null(vcov)) paste0("; standard errors: ", attr(vcov, "label"))),
                binary = binary_columns(fit))
    return(ratio_table(est, level, parm, "cumulative odds ratio", delta))
  }
  if (!is.null(vcov))
    stop("internal: odds_ratios(type = \"marginal\") takes a robust covariance of all parameters ('robust')",
         call. = FALSE)
  if (inherits(fit, "glmmgee_glmm_ordinal_re"))
    stop("'type = \"marginal\"': population-averaged odds ratios are available for a random intercept only, not with random slopes",
         call. = FALSE)
  X <- fit$X
  off <- fit$offset %||% rep(0, nrow(X))
  w <- (fit$prior.weights %||% rep(1, nrow(X)))
  k1 <- length(fit$thresholds)
  p <- length(bn)
  binary_of <- function(term) all(X[, match(term, bn)] %in% c(0, 1))
  dl <- ratio_delta(delta, parm, bn[vapply(bn, binary_of, TRUE)])
  stepped <- names(dl)[dl != 1 & vapply(names(dl), binary_of, TRUE)]
  if (length(stepped))
    stop(sprintf("'delta': %s is a 0/1 column, compared at 1 versus 0; it takes no step",
                 paste(sQuote(stepped, FALSE), collapse = ", ")), call. = FALSE)
  # At psi + dp (difference_jacobian(), ordinal_psi_at()). A covariate in
  # small units (x * 1e-6: one unit moves the linear predictor by ~1e6)
  # takes the averaged P(Y > j) to within rounding of 0 or 1, where
  # 1 - cumsum() keeps no digits (Inf - Inf, or a logit off in its second
  # digit): such a term is on the log scale throughout, ordinal_marginal_logit(),
  # chosen at the estimate and kept for the Jacobian's steps.
  on_log <- stats::setNames(logical(length(parm)), parm)
  log_or <- function(psi, dp = NULL) {
    at <- ordinal_psi_at(psi, dp, k1, p)
    unlist(lapply(parm, function(term) {
      j <- match(term, bn)
      x <- X[, j]
      binary <- all(x %in% c(0, 1))
      X1 <- X; X0 <- X
      if (binary) { X1[, j] <- 1; X0[, j] <- 0 } else X1[, j] <- x + dl[[term]]
      up <- function(Xm) {
        P <- ordinal_marginal_probs(fit$family, at$th, at$eta(Xm, off), at$s, nAGQ)
        above <- 1 - t(apply(P, 1L, cumsum))[, seq_len(k1), drop = FALSE]
        colSums(w * above) / sum(w)
      }
      if (is.null(dp) && !on_log[[term]]) {
        u <- c(up(X1), up(X0))
        if (any(!is.finite(u) | pmin(u, 1 - u) < 1e-6)) on_log[[term]] <<- TRUE
        else return(stats::qlogis(u[seq_len(k1)]) - stats::qlogis(u[k1 + seq_len(k1)]))
      }
      if (on_log[[term]])
        return(ordinal_marginal_logit(at$th, at$eta(X1, off), at$s, w, nAGQ) -
                 ordinal_marginal_logit(at$th, at$eta(X0, off), at$s, w, nAGQ))
      stats::qlogis(up(X1)) - stats::qlogis(up(X0))
    }))
  }
  psi <- fit$psi
  est <- log_or(psi)
  df <- NULL
  if (is.null(robust)) {
    Jm <- difference_jacobian(log_or, psi, fit$cov_star, h = 1e-6)
    se <- sqrt(pmax(diag(delta_cov(Jm, fit$cov_psi, fit$cov_star)), 0))
  } else {
    d <- ordinal_robust_delta(fit, robust, log_or)
    se <- d$se
    df <- d$df
  }
  big <- unique(rep(parm, each = k1)[is.finite(est) & !is.finite(exp(est))])
  if (length(big))
    warning(sprintf(paste0("population-averaged cumulative odds ratio for %s: %s of the covariate ",
                           "is a step of %s on the log-odds scale, so the ratio per %s overflows; its ",
                           "log (std.error, p-value) is finite; give a smaller step (e.g. %s) or ",
                           "rescale the covariate (e.g. x / sd(x)) to read it"),
                    paste(sQuote(big, FALSE), collapse = ", "),
                    if (all(dl[big] == 1)) "one unit" else "the step 'delta'",
                    paste(format(signif(est[is.finite(est) & !is.finite(exp(est))][1L], 3)), collapse = ", "),
                    if (all(dl[big] == 1)) "unit" else "step",
                    delta_hint(big, fit$coefficients[big])),
            call. = FALSE)
  z <- wald_quantile(1 - (1 - level) / 2, df)
  out <- data.frame(term = rep(parm, each = k1),
                    threshold = rep(names(fit$thresholds), length(parm)),
                    estimate = exp(est), std.error = se, conf.low = exp(est - z * se),
                    conf.high = exp(est + z * se),
                    p.value = wald_p_value(est / se, df),
                    stringsAsFactors = FALSE, row.names = NULL)
  if (!is.null(df)) out$df <- df
  structure(out, class = c("glmmgee_ratios", "data.frame"), measure = "cumulative odds ratio",
            view = "marginal", level = level, delta = dl,
            source = paste0("cumulative link mixed model, integrated over the random intercept; ",
                            "odds of P(Y > j) averaged over the data, per threshold (not proportional odds)",
                            if (!is.null(robust))
                              paste0("; standard errors: ",
                                     satterthwaite_label(robust$label, "intervals"))))
}

# The delta method with a cluster-robust covariance of theta =
# (coefficients, the random intercepts' SDs, thresholds) (`robust`,
# ordinal_parameter_choice()) for `f`, a function of psi = (thresholds,
# coefficients, log SD of the sum of the intercepts): the Jacobian in theta
# by central differences of 1e-4 standard errors; list(se, df).
ordinal_robust_delta <- function(fit, robust, f) {
  k1 <- length(fit$thresholds)
  p <- length(fit$coefficients)
  th <- as.numeric(fit$theta)
  nre <- length(th) - p - k1
  psi_of <- function(t) c(t[p + nre + seq_len(k1)], t[seq_len(p)],
                          log(sqrt(sum(t[p + seq_len(nre)]^2))))
  h <- 1e-4 * sqrt(pmax(diag(robust$V), 0))
  h[!(h > 0)] <- 1e-6
  Jt <- fd_jacobian(function(t) f(psi_of(t)), th, h)
  list(se = sqrt(pmax(rowSums((Jt %*% robust$V) * Jt), 0)), df = robust$df(Jt))
}

# logit of the data-averaged (weights w) P(Y > j) under the logit link,
# integrated over a normal random intercept of SD s, per threshold, from
# log-sum-exps of each row's and node's log P(Y > j) and log P(Y <= j):
# finite however far the linear predictor is beyond the thresholds.
ordinal_marginal_logit <- function(th, eta, s, w, nAGQ) {
  rule <- cpp_gh_rule(as.integer(nAGQ))
  lw <- outer(log(w / sum(w)), log(rule$w), "+")
  lin <- outer(eta, s * rule$z, "+")
  lse <- function(a) { m <- max(a); m + log(sum(exp(a - m))) }
  vapply(th, function(t) lse(lw + stats::plogis(lin - t, log.p = TRUE)) -
                         lse(lw + stats::plogis(t - lin, log.p = TRUE)), numeric(1))
}

# The thresholds th, the random intercept's SD s and the linear predictor
# of a design (eta(X, offset)) at psi + dp (difference_jacobian()'s steps;
# dp = NULL: at psi), for psi = (thresholds [k1], coefficients [p],
# log SD). With a step, thresholds and linear predictor are both less the
# first threshold th0 and their increments are added after: with
# x * 1e-6 - 5 both are 1e6 and th - eta is O(1), so that th + dp would
# round away the digits of a step.
ordinal_psi_at <- function(psi, dp, k1, p) {
  th <- psi[seq_len(k1)]; b <- psi[k1 + seq_len(p)]; s <- exp(psi[k1 + p + 1L])
  th0 <- th[1L]
  if (!is.null(dp)) {
    th <- (th - th0) + dp[seq_len(k1)]
    s <- exp(psi[k1 + p + 1L] + dp[k1 + p + 1L])
  }
  eta <- function(X, off) {
    eta <- drop(X %*% b) + off
    if (is.null(dp)) eta else (eta - th0) + drop(X %*% dp[k1 + seq_len(p)])
  }
  list(th = th, s = s, eta = eta)
}

# Category probabilities averaged over the data with `variable` set to each
# of `values`: population-averaged (integrated over the random intercept) or
# for a typical cluster (b = 0).
ordinal_standardize <- function(fit, variable, values = NULL, newdata = NULL,
                                re = c("marginal", "conditional"), level = 0.95, nAGQ = 30L,
                                robust = NULL) {
  re <- match.arg(re)
  check_level(level)
  if (inherits(fit, "glmmgee_glmm_ordinal_re"))
    stop("standardize() of a cumulative link model is available for a random intercept only, not with random slopes",
         call. = FALSE)
  # The data of the fit with its own variables (fit_data()): the model
  # frame lacks those of an offset, which the designs evaluate again.
  data <- newdata %||% fit_data(fit)
  if (!is.data.frame(data)) stop("'newdata' must be a data frame", call. = FALSE)
  vars <- setdiff(all.vars(stats::delete.response(fit$terms)), character())
  if (missing(variable) || !is.character(variable) || length(variable) != 1L ||
      !(variable %in% vars) || !(variable %in% names(data)))
    stop(sprintf("'variable' must name one variable of the model's fixed effects (%s)",
                 paste(vars, collapse = ", ")), call. = FALSE)
  x <- data[[variable]]
  if (is.null(values)) {
    values <- if (is.factor(x)) levels(x) else if (is.logical(x)) c(FALSE, TRUE)
              else if (all(x %in% c(0, 1))) c(0, 1)
              else unname(stats::quantile(x, c(0.1, 0.25, 0.5, 0.75, 0.9)))
  }
  designs <- lapply(values, function(v) {
    d <- data
    d[[variable]] <- if (is.factor(x)) factor(v, levels = levels(x)) else rep(v, nrow(d))
    ordinal_newdata(fit, d)
  })
  k1 <- length(fit$thresholds)
  p <- length(fit$coefficients)
  J <- k1 + 1L
  # At psi + dp (difference_jacobian(), ordinal_psi_at()).
  probs <- function(psi, dp = NULL) {
    at <- ordinal_psi_at(psi, dp, k1, p)
    unlist(lapply(designs, function(d) {
      eta <- at$eta(d$X, d$offset)
      P <- if (re == "marginal") ordinal_marginal_probs(fit$family, at$th, eta, at$s, nAGQ)
           else category_probs(fit$family, at$th, eta)
      colMeans(P)
    }))
  }
  est <- probs(fit$psi)
  df <- NULL
  if (is.null(robust)) {
    Jm <- difference_jacobian(probs, fit$psi, fit$cov_star, h = 1e-6)
    se <- sqrt(pmax(diag(delta_cov(Jm, fit$cov_psi, fit$cov_star)), 0))
  } else {
    d <- ordinal_robust_delta(fit, robust, probs)
    se <- d$se
    df <- d$df
  }
  z <- wald_quantile(1 - (1 - level) / 2, df)
  out <- data.frame(value = rep(as.character(values), each = J),
                    category = rep(fit$y_levels, length(values)), estimate = est,
                    std.error = se,
                    # on the logit scale, so that the interval stays inside (0, 1)
                    conf.low = stats::plogis(stats::qlogis(est) - z * se / (est * (1 - est))),
                    conf.high = stats::plogis(stats::qlogis(est) + z * se / (est * (1 - est))),
                    stringsAsFactors = FALSE, row.names = NULL)
  if (!is.null(df)) out$df <- df
  structure(out, class = c("glmmgee_standardized_ordinal", "data.frame"),
            view = if (re == "marginal") "marginal" else "typical", variable = variable,
            level = level,
            vcov_label = if (!is.null(robust)) satterthwaite_label(robust$label, "intervals"))
}

#' @export
print.glmmgee_standardized_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_standardized_ordinal", .allow = print_dots)
  cat(sprintf("Standardized category probabilities over '%s', %s\n", attr(x, "variable"),
              if (attr(x, "view") == "marginal")
                "population-averaged (integrated over the random intercept)"
              else "for a typical cluster (random intercept 0)"))
  cat(sprintf("Delta-method %g%% intervals (logit scale), given the covariate values.\n", 100 * attr(x, "level")))
  if (!is.null(attr(x, "vcov_label"))) cat("Standard errors: ", attr(x, "vcov_label"), "\n", sep = "")
  print(format(as.data.frame(unclass(x), stringsAsFactors = FALSE), digits = digits),
        row.names = FALSE)
  invisible(x)
}
