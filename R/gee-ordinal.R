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
#' association between a cluster's responses (the only one available here)
#' the estimating equations are the score equations of the multinomial
#' likelihood that ignores the clustering; the estimates therefore equal
#' `ordinal::clm()`'s, and the clustering enters through the robust
#' sandwich variance \eqn{H^{-1} B H^{-1}}, with \eqn{H = \sum_i D_i'V_i^{-1}D_i}
#' the expected information of the multinomial working model (the
#' "naive" variance \eqn{H^{-1}}) and \eqn{B} the sum over clusters of the
#' outer products of the clusters' estimating functions. These are the
#' estimates and standard errors of `multgee::ordLORgee(LORstr =
#' "independence")` (whose coefficients have the opposite sign, from
#' \eqn{P(Y \le k) = F(\beta_{0k} + x'\beta)}) and of `geepack::ordgee()`
#' with `corstr = "independence"`.
#'
#' Association models for the global cumulative odds ratios (multgee's
#' `"uniform"`, `"category.exch"`, `"time.exch"`, `"RC"`; ordgee's
#' exchangeable and unstructured ones) are not available: any `corstr`
#' other than `"independence"` is an error. Prior weights multiply each
#' observation's estimating function; offsets are allowed.
#'
#' The fit is an object of class `glmmgee_gee_ordinal` with methods
#' `print`, `summary`, `coef` (thresholds and coefficients), `vcov`
#' (`type = "robust"` or `"naive"`), `confint`, `nobs`, `predict`
#' (`type = "prob"` or `"class"`) and [odds_ratios()] (population-averaged
#' cumulative odds ratios, logit link).
#' @name ordinal-gee
#' @references
#' Touloumis, A., Agresti, A. and Kateri, M. (2013). GEE for multinomial
#' responses using a local odds ratios parameterization. *Biometrics* 69,
#' 633-640.
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
NULL

gee_ordinal <- function(mc, formula, family, env) {
  corstr <- if (is.null(mc$corstr)) "independence" else eval(mc$corstr, env)
  if (!identical(corstr, "independence"))
    stop(sprintf(paste0("'corstr': ordinal GEE is available with the independence working ",
                        "structure only (estimates as multgee's LORstr = \"independence\"), not \"%s\""),
                 paste(corstr, collapse = ", ")), call. = FALSE)
  for (a in c("waves", "R", "std.err", "scale.fix"))
    if (!is.null(mc[[a]]) && !(a == "std.err" && identical(eval(mc[[a]], env), "san.se")))
      stop(sprintf("'%s' is not used by the ordinal GEE (independence working structure, robust sandwich)", a),
           call. = FALSE)
  mf <- frame_from_call(mc, formula, env, c("weights", "offset", "id"))
  check_frame_finite(mf)
  mt <- attr(mf, "terms")
  X <- stats::model.matrix(mt, mf)
  contr <- attr(X, "contrasts")
  X <- X[, colnames(X) != "(Intercept)", drop = FALSE]
  if (ncol(X)) check_full_rank(cbind(1, X))
  resp <- ordinal_response(stats::model.response(mf), deparse(formula[[2L]]))
  id <- cluster_index(mf[["(id)"]], "id")
  w <- stats::model.weights(mf) %||% rep(1, nrow(mf))
  if (!is.numeric(w) || any(!is.finite(w)) || any(w < 0))
    stop("'weights' must be finite and non-negative", call. = FALSE)
  off <- model_offset_total(mf)
  fit <- ordinal_gee_fit(X, resp$code, length(resp$levels), id$index, family, w, off)
  tn <- threshold_names(resp$levels)
  pn <- c(tn, colnames(X))
  names(fit$psi) <- pn
  dimnames(fit$robust) <- dimnames(fit$naive) <- list(pn, pn)
  k1 <- length(tn)
  obj <- structure(list(
    call = mc, formula = formula, family = family, psi = fit$psi,
    thresholds = fit$psi[seq_len(k1)], coefficients = fit$psi[-seq_len(k1)],
    vcov = list(robust = fit$robust, naive = fit$naive), converged = fit$converged,
    iterations = fit$iterations, nobs = sum(w > 0), nclusters = length(id$levels),
    y_levels = resp$levels, X = X, terms = mt, xlevels = stats::.getXlevels(mt, mf),
    contrasts = contr, model = mf, warnings = c(resp$warning, fit$warnings)),
    class = "glmmgee_gee_ordinal")
  for (wn in obj$warnings) warning(wn, call. = FALSE)
  obj
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
  up <- y < J; lo <- y > 1L
  scores <- function(theta, beta, Xm) {
    r <- cpp_ordinal_scores(as.integer(y), drop(Xm %*% beta) + off, theta, family$link_code)
    U <- matrix(0, n, k1 + p)
    U[cbind(which(up), y[up])] <- r$d_upper[up]
    U[cbind(which(lo), y[lo] - 1L)] <- r$d_lower[lo]
    if (p) U[, k1 + seq_len(p)] <- -(r$d_upper + r$d_lower) * Xm
    list(ll = sum(w * r$loglik), U = w * U)
  }
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
  # Expected information of the multinomial working model: sum over
  # observations and categories of (d pi_k)(d pi_k)' / pi_k.
  info <- function(theta, beta) {
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

#' @export
print.glmmgee_gee_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  cat(sprintf("Ordinal GEE: marginal cumulative link model (%s link), independence working structure\n",
              x$family$link))
  cat("Formula:", paste(deparse(x$formula), collapse = " "), "\n")
  cat(sprintf("%d observations, %d clusters; %d response categories\n", x$nobs, x$nclusters,
              length(x$y_levels)))
  cat("Coefficients (population-averaged):\n")
  print(signif(x$coefficients, digits))
  cat("Thresholds:\n")
  print(signif(x$thresholds, digits))
  if (length(x$warnings)) cat(paste0("Note: ", x$warnings, "\n"), sep = "")
  invisible(x)
}

#' @export
summary.glmmgee_gee_ordinal <- function(object, ...) {
  se <- sqrt(diag(object$vcov$robust))
  z <- object$psi / se
  tab <- cbind(Estimate = object$psi, `Robust SE` = se, `Naive SE` = sqrt(diag(object$vcov$naive)),
               `z value` = z, `Pr(>|z|)` = 2 * stats::pnorm(-abs(z)))
  structure(list(fit = object, table = tab), class = "summary.glmmgee_gee_ordinal")
}

#' @export
print.summary.glmmgee_gee_ordinal <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  print.glmmgee_gee_ordinal(x$fit, digits = digits)
  cat("\nEstimates with robust (sandwich) standard errors:\n")
  stats::printCoefmat(x$table, digits = digits, has.Pvalue = TRUE, P.values = TRUE)
  invisible(x)
}

#' @export
coef.glmmgee_gee_ordinal <- function(object, ...) object$psi

#' @export
vcov.glmmgee_gee_ordinal <- function(object, type = c("robust", "naive"), ...) {
  object$vcov[[match.arg(type)]]
}

#' @export
confint.glmmgee_gee_ordinal <- function(object, parm, level = 0.95, ...) {
  check_level(level)
  est <- object$psi
  se <- sqrt(diag(object$vcov$robust))
  z <- stats::qnorm(1 - (1 - level) / 2)
  ci <- cbind(est - z * se, est + z * se)
  dimnames(ci) <- list(names(est), paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2),
                                                trim = TRUE), "%"))
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @export
nobs.glmmgee_gee_ordinal <- function(object, ...) object$nobs

#' @export
formula.glmmgee_gee_ordinal <- function(x, ...) x$formula

#' @export
predict.glmmgee_gee_ordinal <- function(object, newdata = NULL, type = c("prob", "class", "linear"),
                                        ...) {
  type <- match.arg(type)
  nd <- ordinal_newdata(object, newdata)
  eta <- drop(nd$X %*% object$coefficients) + nd$offset
  if (type == "linear") return(eta)
  P <- category_probs(object$family, object$thresholds, eta, object$y_levels)
  if (type == "prob") return(P)
  factor(object$y_levels[max.col(P, ties.method = "first")], levels = object$y_levels,
         ordered = TRUE)
}

ordinal_gee_odds_ratios <- function(fit, level = 0.95, parm = NULL, ...) {
  if (fit$family$link != "logit")
    stop(sprintf("'fit': cumulative odds ratios need the logit link, not %s", fit$family$link),
         call. = FALSE)
  bn <- names(fit$coefficients)
  est <- list(coef = fit$coefficients, vcov = fit$vcov$robust[bn, bn, drop = FALSE],
              family = fit$family, view = "marginal",
              source = "ordinal GEE (independence), robust standard errors; odds of a higher category, P(Y > j)")
  ratio_table(est, level, match_parm(parm, bn, bn), "cumulative odds ratio")
}
