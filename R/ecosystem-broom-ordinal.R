# broom's tidy() and glance() for the cumulative link fits: the mixed
# models of glmm() (classes glmmgee_glmm_ordinal, _re, _sparse) and the
# ordinal GEE (glmmgee_gee_ordinal): the rows of the thresholds besides the
# coefficients, which the glmmgee_glmm / glmmgee_gee methods do not have.
# Term names and the column `coef.type` ("intercept" for the thresholds,
# "location" for the coefficients) are broom's for ordinal::clm/clmm fits;
# the variance rows are broom.mixed's `ran_pars`.

#' Tidy summaries of cumulative link fits (broom)
#'
#' `tidy()` and `glance()` for cumulative link mixed models ([glmm()] with
#' [cumulative()]) and ordinal GEE ([ordinal-gee]).
#'
#' The fixed rows (`effect = "fixed"`) are the thresholds, named `"1|2"`,
#' `"2|3"`, ... and with `coef.type = "intercept"`, then the coefficients
#' (`coef.type = "location"`), as broom's `tidy()` gives them for
#' `ordinal::clm()` and `ordinal::clmm()` fits (same names, same signs:
#' \eqn{P(Y \le j) = F(\theta_j - x'\beta)}), with Wald z statistics. For a
#' mixed model, `effects = "ran_pars"` adds the random-effect standard
#' deviations `sd__term` and correlations `cor__term1.term2` by grouping
#' factor (broom.mixed's names; broom's `tidy()` of a clmm has no such rows),
#' with delta-method standard errors and Wald intervals on the log-SD and
#' Fisher-z scales, and `"ran_vals"` the predicted random effects (posterior
#' modes) with their conditional standard deviations.
#'
#' With `exponentiate = TRUE` the fixed rows (thresholds included, as broom
#' does) and their limits are exponentiated: cumulative odds ratios for the
#' logit link. Their standard errors are the delta method's, `estimate *
#' std.error`, as for the package's other fits (broom leaves the standard
#' error of an exponentiated clm coefficient on the log scale).
#'
#' For an ordinal GEE the standard errors are the robust (sandwich) ones
#' (`std.err = "naive"` for the model-based ones) and `statistic` is the z
#' statistic, as in its `summary()`; `glance()` gives the fit's size and its
#' [QIC()] criteria.
#'
#' @param x A cumulative link fit from [glmm()] or [gee()].
#' @param effects For a mixed model: any of `"fixed"`, `"ran_pars"`,
#'   `"ran_vals"`.
#' @param conf.int Add Wald confidence limits `conf.low`, `conf.high`?
#' @param conf.level Confidence level.
#' @param exponentiate Exponentiate the fixed rows?
#' @param std.err For an ordinal GEE: `"robust"` or `"naive"`.
#' @param conf.method,scales As in [tidy.glmmgee_glmm()]: `"Wald"` and
#'   `"sdcor"` only.
#' @param ... Ignored (packages that build tables on `tidy()` pass their own).
#' @return A data frame. `tidy()` of a mixed model: `effect`, `group`,
#'   (`level` for `ran_vals`), `term`, `estimate`, `std.error`, `statistic`,
#'   `p.value` (`conf.low`, `conf.high`), `coef.type` (`NA` on the variance
#'   and random-effect rows); of an ordinal GEE: `term`, `estimate`,
#'   `std.error`, `statistic`, `p.value` (`conf.low`, `conf.high`),
#'   `coef.type`. `glance()` of a mixed model: `nobs`, `logLik`, `AIC`,
#'   `BIC`, `deviance` (minus twice the log-likelihood), `df.residual`; of an
#'   ordinal GEE: `nobs`, `n.clusters`, `max.cluster.size`, `df.residual`,
#'   `QIC`, `QICu`, `CIC`, `QuasiLik`.
#' @seealso [glmmgee-broom] for the other fits, [odds_ratios()].
#' @examples
#' if (requireNamespace("ordinal", quietly = TRUE)) {
#'   fit <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
#'               family = cumulative("logit"))
#'   tidy(fit, conf.int = TRUE)
#'   glance(fit)
#'   g <- gee(rating ~ temp + contact, data = ordinal::wine, id = judge,
#'            family = cumulative("logit"))
#'   tidy(g, exponentiate = TRUE, conf.int = TRUE)
#'   glance(g)
#' }
#' @name ordinal-broom
NULL

#' @rdname ordinal-broom
#' @method tidy glmmgee_glmm_ordinal
#' @export
tidy.glmmgee_glmm_ordinal <- function(x, effects = c("ran_pars", "fixed"), conf.int = FALSE,
                                      conf.level = 0.95, exponentiate = FALSE,
                                      conf.method = "Wald", scales = NULL, ...) {
  check_tidy_scales(conf.method, scales)
  effects <- check_effects(effects)
  check_flag(conf.int, "conf.int")
  check_flag(exponentiate, "exponentiate")
  check_level(conf.level)
  z <- stats::qnorm(1 - (1 - conf.level) / 2)
  out <- list()
  if ("fixed" %in% effects) {
    fx <- data.frame(effect = "fixed", group = NA_character_,
                     ordinal_fixed_rows(x, vcov(x), conf.int, z, exponentiate),
                     stringsAsFactors = FALSE)
    out$fixed <- fx
  }
  if ("ran_pars" %in% effects) out$ran_pars <- ordinal_ran_pars(x, conf.int, z)
  if ("ran_vals" %in% effects) out$ran_vals <- ordinal_ran_vals(x, conf.int, z)
  ct <- unlist(lapply(out, function(d) d$coef.type %||% rep(NA_character_, nrow(d))),
               use.names = FALSE)
  out <- bind_tidy(lapply(out, function(d) { d$coef.type <- NULL; d }))
  out$coef.type <- ct
  out
}

#' @rdname ordinal-broom
#' @method tidy glmmgee_gee_ordinal
#' @export
tidy.glmmgee_gee_ordinal <- function(x, conf.int = FALSE, conf.level = 0.95, exponentiate = FALSE,
                                     std.err = c("robust", "naive"), ...) {
  std.err <- match_choice(std.err, c("robust", "naive"), "std.err")
  check_flag(conf.int, "conf.int")
  check_flag(exponentiate, "exponentiate")
  check_level(conf.level)
  out <- ordinal_fixed_rows(x, vcov(x, type = std.err), conf.int,
                            stats::qnorm(1 - (1 - conf.level) / 2), exponentiate)
  rownames(out) <- NULL
  out
}

#' @rdname ordinal-broom
#' @method glance glmmgee_glmm_ordinal
#' @export
glance.glmmgee_glmm_ordinal <- function(x, ...) {
  ll <- logLik(x)
  data.frame(nobs = nobs(x), logLik = as.numeric(ll), AIC = stats::AIC(ll),
             BIC = stats::BIC(ll), deviance = -2 * as.numeric(ll),
             df.residual = stats::df.residual(x))
}

#' @rdname ordinal-broom
#' @method glance glmmgee_gee_ordinal
#' @export
glance.glmmgee_gee_ordinal <- function(x, ...) {
  q <- QIC(x)
  sizes <- tabulate(cluster_index(x$model[["(id)"]], "id")$index)
  data.frame(nobs = x$nobs, n.clusters = x$nclusters, max.cluster.size = max(sizes),
             df.residual = stats::df.residual(x), QIC = q[["QIC"]], QICu = q[["QICu"]],
             CIC = q[["CIC"]], QuasiLik = q[["QuasiLik"]])
}

# ---- helpers ------------------------------------------------------------------

# One value of `choices`, or an error naming the argument.
match_choice <- function(x, choices, arg) {
  if (identical(x, choices)) return(choices[1L])
  if (!is.character(x) || length(x) != 1L || is.na(x) || !x %in% choices)
    stop(sprintf("'%s' must be one of %s", arg, paste(sprintf("\"%s\"", choices), collapse = ", ")),
         call. = FALSE)
  x
}

# The thresholds and the coefficients with Wald z statistics and broom's
# coef.type for clm fits.
ordinal_fixed_rows <- function(x, V, conf.int, z, exponentiate) {
  est <- c(x$thresholds, x$coefficients)
  k <- length(est)
  tab <- coef_table(est, V[seq_len(k), seq_len(k), drop = FALSE])
  if (conf.int) tab <- wald_limits(tab, z)
  if (exponentiate) tab <- exponentiate_rows(tab)
  tab$coef.type <- rep(c("intercept", "location"), c(length(x$thresholds), length(x$coefficients)))
  tab
}

# The random-effect standard deviations (and correlations) as broom.mixed's
# ran_pars rows, from theta's random-effect parameters (after the
# coefficients): the Cholesky factor's entries of one grouping factor, or
# one standard deviation per term (several terms, a diagonal factor).
# Standard errors by the delta method from cov_theta on the log-SD /
# Fisher-z scale, where the Wald limits are taken.
ordinal_ran_pars <- function(x, conf.int, z) {
  p <- length(x$coefficients)
  terms <- !is.null(x$sd_re)
  cn <- if (terms) rep("(Intercept)", length(x$sd_re)) else x$re_cnames %||% "(Intercept)"
  q <- length(cn)
  rows <- if (terms) seq_len(q) else x$lam_row %||% 1L
  cols <- if (terms) seq_len(q) else x$lam_col %||% 1L
  lt <- if (terms) cbind(row = rows, col = cols)
        else which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
  lt <- lt[order(lt[, "col"], lt[, "row"]), , drop = FALSE]  # lme4's order
  is_cor <- lt[, "row"] != lt[, "col"]
  transformed <- function(lam) {
    L <- matrix(0, q, q)
    L[cbind(rows, cols)] <- lam
    S <- L %*% t(L)
    sd <- sqrt(diag(S))
    out <- log(sd[lt[, "col"]])
    cr <- lt[is_cor, , drop = FALSE]
    out[is_cor] <- atanh(S[cr] / (sd[cr[, "row"]] * sd[cr[, "col"]]))
    out
  }
  idx <- p + seq_along(rows)
  lam <- unname(x$theta[idx])
  tr <- transformed(lam)
  J <- matrix(0, length(tr), length(lam))
  for (m in seq_along(lam)) {
    h <- 1e-6 * max(1, abs(lam[m]))
    up <- dn <- lam
    up[m] <- up[m] + h
    dn[m] <- dn[m] - h
    J[, m] <- (transformed(up) - transformed(dn)) / (2 * h)
  }
  V <- x$cov_theta[idx, idx, drop = FALSE]
  # several terms: a standard deviation on the boundary has NA alone
  na <- if (terms) is.na(diag(V)) else FALSE
  if (terms) V[is.na(V)] <- 0
  se_tr <- sqrt(pmax(diag(J %*% V %*% t(J)), 0))
  se_tr[na | !is.finite(tr) | !is.finite(se_tr)] <- NA_real_
  back <- function(t) ifelse(is_cor, tanh(t), exp(t))
  est <- back(tr)
  name <- ifelse(is_cor, paste(cn[lt[, "col"]], cn[lt[, "row"]], sep = "."), cn[lt[, "col"]])
  out <- data.frame(effect = "ran_pars", group = x$group_name,
                    term = paste0(ifelse(is_cor, "cor__", "sd__"), name), estimate = est,
                    std.error = ifelse(is_cor, (1 - est^2) * se_tr, est * se_tr),
                    stringsAsFactors = FALSE)
  if (conf.int) {
    out$conf.low <- back(tr - z * se_tr)
    out$conf.high <- back(tr + z * se_tr)
  }
  out
}

# The predicted random effects (posterior modes) and their conditional
# standard deviations, by grouping factor, term and level.
ordinal_ran_vals <- function(x, conf.int, z) {
  re <- ranef(x, condVar = TRUE)
  rows <- lapply(names(re), function(g) {
    d <- re[[g]]
    cv <- attr(d, "condVar")
    do.call(rbind, lapply(seq_along(d), function(j) {
      v <- if (is.array(cv) && length(dim(cv)) == 3L) cv[j, j, ] else cv
      data.frame(effect = "ran_vals", group = g, level = rownames(d), term = names(d)[j],
                 estimate = d[[j]], std.error = sqrt(pmax(unname(v), 0)),
                 stringsAsFactors = FALSE)
    }))
  })
  out <- do.call(rbind, rows)
  if (conf.int) out <- wald_limits(out, z)
  rownames(out) <- NULL
  out
}
