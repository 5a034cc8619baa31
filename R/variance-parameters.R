# The variance parameters of a glmm as reported (standard deviations,
# correlations, the residual standard deviation), with delta-method standard
# errors from the inverse observed information of all optimizer parameters.
#
# At the maximum the observed information transforms exactly by the
# Jacobian of a reparameterization, so these standard errors are those that
# a fit in the reported parameters (glmmTMB's log-SDs, say) would give. The
# Jacobian is taken on the log-SD and Fisher-z scales, where Wald intervals
# stay in range.

# One row per row of as.data.frame(VarCorr(fit)): the columns of the
# stacked random-effect vector (re_structure()) that the row's variance or
# covariance involves, or `residual = TRUE` for a gaussian model's sigma.
ran_par_map <- function(fit) {
  vc <- as.data.frame(VarCorr(fit))
  re <- re_structure(fit, "tidy")
  blocks <- names(VarCorr(fit))
  cn <- if (re$sparse) lapply(fit$reterms, `[[`, "cnames") else list(fit$cnames)
  # The zero part's terms of the two-part sparse engine, a dispersion
  # formula's or both (VarCorr()'s blocks "zi~<group>" and "disp~<group>"
  # after the count part's): one joint Lambda.
  for (rz in Filter(Negate(is.null), list(re$zre, dispersion_re_structure(fit, re)))) {
    re$pattern <- list(row = c(re$pattern$row, rz$pattern$row + re$q),
                       col = c(re$pattern$col, rz$pattern$col + re$q))
    re$lambda_index <- c(re$lambda_index, rz$lambda_index)
    re$q <- re$q + rz$q
  }
  for (zr in random_aux_parts(fit)) cn <- c(cn, lapply(zr$terms, `[[`, "cnames"))
  off <- c(0L, cumsum(lengths(cn)))
  k <- match(vc$grp, blocks)
  pos <- function(v) ifelse(is.na(v) | is.na(k), NA_integer_,
                            off[pmax(k, 1L)] + mapply(function(kk, vv) match(vv, cn[[kk]]),
                                                      pmax(k, 1L), v))
  list(table = vc, re = re, i = pos(vc$var1), j = pos(vc$var2),
       residual = vc$grp == "Residual")
}

# Reported values on the Wald scale (log SD, atanh correlation) at theta.
ran_par_transformed <- function(map, theta) {
  L <- lambda_of(map$re, theta)
  D <- L %*% t(L)
  out <- numeric(length(map$i))
  for (r in seq_along(out)) {
    if (map$residual[r]) {
      out[r] <- theta[[length(theta)]]
    } else if (is.na(map$j[r])) {
      out[r] <- 0.5 * log(D[map$i[r], map$i[r]])
    } else {
      i <- map$i[r]; j <- map$j[r]
      out[r] <- atanh(D[i, j] / sqrt(D[i, i] * D[j, j]))
    }
  }
  out
}

# Data frame of the variance parameters (broom.mixed's `ran_pars` rows):
# group, term, estimate, std.error and, when asked, Wald limits.
tidy_ran_pars <- function(fit, conf.int, z) {
  map <- ran_par_map(fit)
  vc <- map$table
  is_cor <- !is.na(vc$var2)
  name <- ifelse(is.na(vc$var1), "Observation",
                 ifelse(is_cor, paste(vc$var1, vc$var2, sep = "."), vc$var1))
  term <- paste0(ifelse(is_cor, "cor__", "sd__"), name)
  theta <- fit$theta
  tr <- ran_par_transformed(map, theta)
  V <- fit$cov_theta
  se_tr <- rep(NA_real_, length(tr))
  if (!is.null(V) && !all(is.na(V))) {
    V[is.na(V)] <- 0
    free <- c(map$re$lambda_index, if (any(map$residual)) length(theta))
    J <- matrix(0, length(tr), length(theta))
    for (m in free) {
      h <- 1e-6 * max(1, abs(theta[[m]]))
      up <- dn <- theta
      up[m] <- up[m] + h
      dn[m] <- dn[m] - h
      J[, m] <- (ran_par_transformed(map, up) - ran_par_transformed(map, dn)) / (2 * h)
    }
    se_tr <- sqrt(pmax(diag(J %*% V %*% t(J)), 0))
  }
  se_tr[!is.finite(tr)] <- NA_real_
  est <- vc$sdcor
  back <- function(t) ifelse(is_cor, tanh(t), exp(t))
  out <- data.frame(effect = "ran_pars", group = vc$grp, term = term, estimate = est,
                    std.error = ifelse(is_cor, (1 - est^2) * se_tr, est * se_tr),
                    stringsAsFactors = FALSE)
  if (conf.int) {
    out$conf.low <- back(tr - z * se_tr)
    out$conf.high <- back(tr + z * se_tr)
  }
  # lme4's order within a group: the lower triangle column by column (each
  # SD followed by its correlations with the later terms).
  col <- map$i
  row <- ifelse(is.na(map$j), map$i, map$j)
  grp <- match(vc$grp, unique(vc$grp))
  out[order(grp, col, row), , drop = FALSE]
}
