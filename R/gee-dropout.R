# Weighted GEE for dropout at random (gee(dropout = ~ ...)): the model of
# remaining in the study, the inverse-probability weights it implies, the
# weighted fit (fit-gee-patterns.R) and its sandwich corrected for the
# estimated weights.
#
# Visits of a cluster are ordered by `waves` (or by the rows' order), and
# the response is NA at the visits missed after dropout. With lambda_ij =
# P(observed at visit j | observed at visit j - 1, history), fitted by a
# logistic regression on the visits j >= 2 at risk (observed at j - 1),
# the probability of being observed through visit j is pi_ij = prod_{k=2..j}
# lambda_ik (Robins, Rotnitzky and Zhao, 1995).
# * observation level: the estimating function of cluster i is
#   D_i' V_i^-1 diag(R_ij / pi_ij) (y_i - mu_i), with D_i and V_i over all
#   planned visits (R_ij = 1 if observed);
# * cluster level: each observed cluster is weighted by 1 / P(its dropout
#   pattern): 1 / pi_in for completers, 1 / (pi_{i,d-1} (1 - lambda_id)) for
#   a cluster that drops out at visit d (Preisser, Lohman and Rathouz, 2002).

dropout_levels <- c("observations", "clusters")

# The model frame of `f` over the rows of data / subset, nothing dropped:
# the shared model-frame call (model-data.R) with na.pass, so a missed
# visit stays a row and a variable not in 'data' is named as for any fit.
dropout_frame <- function(mc, f, env, extras = character(0)) {
  mc$na.action <- quote(stats::na.pass)
  drop_unused_levels(model_frame_call(mc, f, env, extras, list(f)))
}

# The response of a dropout fit as numbers, NA at missed visits. The
# observed values are read and checked as every fit's response is
# (model_response(): a two-level factor for binomial, the family's
# support), so a dropout fit accepts exactly what gee() without dropout
# accepts.
dropout_response <- function(mf, family) {
  y <- stats::model.response(mf, "any")
  if (is.matrix(y))
    stop("with 'dropout' the response must be one column (a missed visit is NA); ",
         "give a binomial response as 0/1 or as a proportion with 'weights'", call. = FALSE)
  obs <- !is.na(y)
  mo <- mf[obs, , drop = FALSE]
  attr(mo, "terms") <- attr(mf, "terms")
  out <- rep(NA_real_, length(y))
  out[obs] <- model_response(mo, family)$y
  out
}

gee_dropout <- function(mc, formula, dropout, level, family, corstr, std.err, scale.fix,
                        scale.value, R, Mv, contrasts, control, env) {
  if (!inherits(dropout, "formula") || length(dropout) != 2L)
    stop("'dropout' must be a one-sided formula such as ~ time + previous_y: the model of ",
         "the probability of being observed at a visit given observed at the one before",
         call. = FALSE)
  if (!is.character(level) || length(level) < 1L || anyNA(level) ||
      is.na(k <- pmatch(level[1L], dropout_levels)))
    stop("'dropout.level' must be \"observations\" or \"clusters\"", call. = FALSE)
  level <- dropout_levels[k]
  if (!is.null(mc$na.action))
    stop("'na.action' cannot be used with 'dropout': a missing response marks a missed visit, ",
         "and other missing values are errors", call. = FALSE)
  # 'data' evaluated once: both frames must see the same rows (an
  # expression such as d[sample(nrow(d)), ] would give two orders)
  if (!is.null(mc$data)) mc$data <- eval(mc$data, env)
  mf <- dropout_frame(mc, formula, env, c("id", "waves", "weights", "offset"))
  mz <- dropout_frame(mc, dropout, env)
  if (nrow(mf) == 0L) stop("'data' has no rows after 'subset'", call. = FALSE)
  n <- nrow(mf)
  # The weights first: the response is read as every fit reads it, with its
  # weights (model_response()), whose own check is the looser one.
  w <- mf[["(weights)"]]
  if (is.null(w)) w <- rep(1, n)
  if (!is.numeric(w) || anyNA(w) || any(!is.finite(w)) || any(w <= 0))
    stop("'weights' must be positive finite numbers (no NA) with 'dropout': a row of zero weight ",
         "cannot be told from a missed visit", call. = FALSE)
  y <- dropout_response(mf, family)
  miss <- is.na(y)
  if (!any(miss))
    stop("'dropout': the response has no missing values, so there is no dropout to model; ",
         "fit without 'dropout' (rows of missed visits must be in the data, with the response NA)",
         call. = FALSE)
  id <- mf[["(id)"]]
  if (anyNA(id)) stop("'id' contains missing values", call. = FALSE)
  cl <- gee_cluster_index(id)
  waves <- mf[["(waves)"]]
  if (!is.null(waves) && anyNA(waves))
    stop("'waves' contains missing values (give the planned visit of every row, also of missed visits)",
         call. = FALSE)
  off <- stats::model.offset(mf)
  off <- if (is.null(off)) rep(0, n) else as.numeric(off)
  if (!is.null(mf[["(offset)"]])) off <- off + as.numeric(mf[["(offset)"]])
  if (anyNA(off)) stop("'offset' contains missing values", call. = FALSE)
  mt <- attr(mf, "terms")
  X <- stats::model.matrix(mt, mf, contrasts.arg = contrasts)
  if (nrow(X) != n) stop("the model's covariates have missing values in rows the model matrix drops; ",
                         "give every covariate at every visit", call. = FALSE)
  # visits of each cluster in time order
  ordv <- if (is.null(waves)) seq_len(n) else wave_positions(as.numeric(waves), n)
  ord <- order(cl$index, ordv)
  K <- length(cl$levels)
  nrow_i <- tabulate(cl$index, K)
  rank <- integer(n)
  rank[ord] <- sequence(nrow_i)
  s_i <- tabulate(cl$index[!miss], K)
  if (any(s_i == 0L))
    stop(sprintf("'dropout': %d cluster%s of 'id' (e.g. %s) have no observed response; the first visit of every cluster must be observed",
                 sum(s_i == 0L), if (sum(s_i == 0L) > 1L) "s" else "",
                 cl$levels[which(s_i == 0L)[1L]]), call. = FALSE)
  inter <- unique(cl$index[!miss & rank > s_i[cl$index]])
  if (length(inter))
    stop(sprintf(paste0("'dropout': %d cluster%s of 'id' (e.g. %s) miss a visit and return later; ",
                        "weighted GEE for dropout needs monotone missingness (once missing, missing at ",
                        "every later visit)%s"),
                 length(inter), if (length(inter) > 1L) "s" else "", cl$levels[inter[1L]],
                 if (is.null(waves)) "; visits are ordered by the rows of the data: give 'waves' if they are not in time order" else ""),
         call. = FALSE)
  # The dropout model on the visits at risk.
  risk <- rank >= 2L & rank <= s_i[cl$index] + 1L
  if (!any(miss[risk]))
    stop("'dropout': no visit is missed after an observed one, so there is no dropout to model",
         call. = FALSE)
  Z <- stats::model.matrix(attr(mz, "terms"), mz)
  if (nrow(Z) != n || anyNA(Z[risk, , drop = FALSE]))
    stop(sprintf("'dropout': the covariates of the dropout model are missing at %d visit%s at risk (the visits observed after the first, and the first missed one)",
                 sum(rowSums(is.na(Z[risk, , drop = FALSE])) > 0), ""), call. = FALSE)
  gz <- suppressWarnings(stats::glm.fit(Z[risk, , drop = FALSE], as.numeric(!miss[risk]),
                                        family = stats::binomial()))
  okz <- !is.na(gz$coefficients)
  gamma <- gz$coefficients[okz]
  Zk <- Z[, okz, drop = FALSE]
  lam <- rep(1, n)
  lam[risk] <- drop(stats::plogis(Zk[risk, , drop = FALSE] %*% gamma))
  dwarn <- character(0)
  if (!gz$converged)
    dwarn <- c(dwarn, "the dropout model (logistic regression) did not converge")
  if (any(lam[risk] < 1e-8 | lam[risk] > 1 - 1e-8))
    stop("'dropout': the fitted probabilities of remaining in the study reach 0 or 1 (separation in the dropout model), so the inverse-probability weights are not finite; simplify the dropout model",
         call. = FALSE)
  dw <- dropout_weights(level, lam, risk, miss, rank, s_i, cl$index, ord, nrow_i, X, w, y)
  ipw <- dw$ipw
  rows <- dw$rows
  if (any(!is.finite(ipw)))
    stop("'dropout': the inverse-probability weights are not finite; simplify the dropout model",
         call. = FALSE)
  Xf <- X[rows, , drop = FALSE]
  if (anyNA(Xf))
    stop("the model's covariates are missing at observed visits", call. = FALSE)
  fit <- gee_fit(Xf, dw$yfit[rows], id[rows], family = family, corstr = corstr,
                 waves = if (is.null(waves)) rank[rows] else as.numeric(waves)[rows],
                 weights = dw$wfit[rows], offset = off[rows], std.err = std.err,
                 scale.fix = scale.fix, scale.value = scale.value, R = R, Mv = Mv,
                 control = control,
                 ipw = if (level == "observations") ipw[rows] else rep(1, length(rows)))
  rv <- dropout_robust_vcov(fit$pattern, Zk, risk, miss, lam, cl$index, K)
  V <- rv$V
  dimnames(V) <- dimnames(fit$vcov$san.se)
  vz <- rv$vcov_gamma
  dimnames(vz) <- list(names(gamma), names(gamma))
  fit$dropout <- list(
    formula = dropout, level = level, coefficients = gamma, vcov = vz,
    weights = ipw, prob = exp(dw$logpi), missed = sum(miss),
    dropouts = sum(s_i < nrow_i), S = rv$S, A = rv$A, B = rv$B,
    vcov_known_weights = fit$vcov$san.se)
  fit$vcov$san.se <- V
  if (length(dwarn)) {
    for (wm in dwarn) warning(wm, call. = FALSE)
    fit$warnings <- c(fit$warnings, dwarn)
  }
  # The fit's data: the observed visits.
  obs_rows <- which(rows %in% which(!miss))
  for (nm in c("y", "prior.weights", "offset", "id", "waves", "linear.predictors", "fitted.values"))
    if (!is.null(fit[[nm]])) fit[[nm]] <- fit[[nm]][obs_rows]
  if (level == "clusters") fit$prior.weights <- w[!miss]
  fit$engine$data$X <- X[!miss, , drop = FALSE]
  na <- which(miss)
  names(na) <- rownames(mf)[na]
  class(na) <- "omit"
  fit$na.action <- na
  fit$model <- mf
  fit$terms <- mt
  fit$xlevels <- stats::.getXlevels(mt, mf)
  fit$contrasts <- attr(X, "contrasts")
  fit$formula <- formula
  fit
}

# The inverse-probability weights of a dropout fit: pi_ij, the probability
# of being observed at visit j, is the product of the dropout model's
# lambda_ik over the visits k <= j of the cluster (in visit order, `ord`).
# "observations": each observed visit weighted by 1 / pi_ij, and the missed
# visits kept with weight 0 (their covariates enter the working
# covariance); "clusters": every visit of a cluster weighted by 1 / the
# probability of its observed pattern (its last observed visit's pi, times
# 1 - lambda of the visit it dropped out at). Returns the weights `ipw`,
# the rows fitted, the fit's weights and response, and log(pi).
dropout_weights <- function(level, lam, risk, miss, rank, s_i, index, ord, nrow_i, X, w, y) {
  n <- length(lam)
  K <- length(nrow_i)
  ll <- ifelse(risk, log(lam), 0)
  cs <- cumsum(ll[ord])
  ends <- cumsum(nrow_i)
  base <- rep(c(0, cs[ends[-K]]), nrow_i)
  logpi <- numeric(n)
  logpi[ord] <- cs - base
  if (level == "observations") {
    ipw <- ifelse(miss, 0, exp(-logpi))
    badx <- miss & rowSums(is.na(X)) > 0
    if (any(badx))
      stop(sprintf("dropout.level = \"observations\" uses the covariates of the missed visits too (they enter the working covariance), but %d missed visit%s have missing covariates; give them, or use dropout.level = \"clusters\"",
                   sum(badx), if (sum(badx) > 1L) "s" else ""), call. = FALSE)
    return(list(ipw = ipw, rows = seq_len(n), wfit = w, yfit = ifelse(miss, 0, y), logpi = logpi))
  }
  last <- which(!miss & rank == s_i[index])
  drop_row <- which(miss & rank == s_i[index] + 1L)
  lw <- numeric(K)
  lw[index[last]] <- logpi[last]
  lw[index[drop_row]] <- lw[index[drop_row]] + log1p(-lam[drop_row])
  cw <- exp(-lw)
  ipw <- ifelse(miss, 0, cw[index])
  list(ipw = ipw, rows = which(!miss), wfit = w * ipw, yfit = y, logpi = logpi)
}

# The sandwich with the estimated weights (Robins, Rotnitzky and Zhao,
# 1995): cluster contributions U_i - A B^-1 S_i, S_i the dropout model's
# score of cluster i, A = sum U_i S_i', B = sum S_i S_i'; `pat` the pattern
# engine's per-cluster scores U and inverse information Hinv. Also the
# dropout model's own covariance (`vcov_gamma`).
dropout_robust_vcov <- function(pat, Zk, risk, miss, lam, index, K) {
  Sk <- rowsum(Zk[risk, , drop = FALSE] * (as.numeric(!miss[risk]) - lam[risk]),
               index[risk], reorder = TRUE)
  S <- matrix(0, K, ncol(Zk), dimnames = list(NULL, colnames(Zk)))
  S[as.integer(rownames(Sk)), ] <- Sk
  S <- S[pat$cluster, , drop = FALSE]
  A <- crossprod(pat$U, S)
  B <- crossprod(S)
  E <- pat$U - S %*% solve(B, t(A))
  V <- pat$Hinv %*% crossprod(E) %*% pat$Hinv
  V <- (V + t(V)) / 2
  vz <- tryCatch(solve(crossprod(Zk[risk, , drop = FALSE] * sqrt(lam[risk] * (1 - lam[risk])))),
                 error = function(e) matrix(NA_real_, ncol(Zk), ncol(Zk)))
  list(V = V, S = S, A = A, B = B, vcov_gamma = vz)
}
