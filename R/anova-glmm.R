# Tests from fitted GLMMs: likelihood-ratio tests between nested fits and
# Wald tests of the fixed-effect terms of one fit.

#' Likelihood-ratio and Wald tests for GLMMs
#'
#' With several fits, likelihood-ratio tests between consecutive models
#' after sorting them by their number of parameters: the statistic is
#' \eqn{2(\ell_1 - \ell_0)}, referred to a chi-square with the difference in
#' parameters as degrees of freedom. The models must be fitted to the same
#' observations and response, with the same family, and be nested: each
#' model's fixed-effect columns must lie in the column space of the next
#' larger model's, and its random-effect terms (grouping factor and
#' covariate) be among the larger model's; otherwise `anova()` stops (a
#' likelihood-ratio test between non-nested models is meaningless and its
#' statistic can be negative). A larger model with a lower log-likelihood
#' (a fit that did not reach its optimum) gives a warning. The full
#' log-likelihoods are comparable across `nAGQ`, but the test is most
#' meaningful with the same approximation in every fit. When the smaller
#' model sets a variance to zero, the null value is on the boundary and the
#' chi-square p-value is conservative (Self and Liang 1987). Between fits
#' whose random-effect distributions differ (`ranef_dist`, see
#' [ranef-distributions]) the statistic is shown without a p-value, with a
#' warning: its reference distribution is not chi-squared. Penalized fits
#' (`penalized = TRUE` in [glmm()]) are compared only with each other, and
#' likewise without a p-value: their log-likelihoods (without the prior) are
#' taken at the penalized maxima, so twice their difference is no
#' likelihood-ratio statistic, has no chi-square reference and can be
#' negative (the prior pulls harder as coefficients are added); a penalized
#' fit and a maximum-likelihood fit together are an error.
#'
#' With one fit, Wald chi-square tests of each fixed-effect term (all the
#' columns a term contributes to the model matrix, tested jointly), from
#' [vcov()], of type II as `car::Anova()`'s default: each term after all
#' the terms that do not contain it, so that the test of a main effect
#' ignores the interactions containing it and does not depend on how
#' factors are coded or covariates centred (a term contained in no other
#' is tested given all others). Type III tests are `car::Anova(fit, type =
#' "III")`; sequential tests, as lme4's `anova()` of one fit gives, are
#' likelihood-ratio tests between nested fits (`anova(f0, f1, f2)`). With
#' `vcov = "CR0"` ... `"CR3"` the tests use that cluster-robust covariance
#' (see [vcov()][glmm-extractors]) and are F tests by the Hotelling
#' T-squared approximation of Tipton and Pustejovsky (2015), as
#' clubSandwich's `Wald_test(test = "HTZ")`: for a term of one column
#' contained in no other, the square of the t test that `summary(fit, vcov
#' = )` reports.
#'
#' @param object A fitted model from [glmm()].
#' @param ... Further fitted models from [glmm()].
#' @param vcov For the Wald tests of one fit: `"model"` (the default) or a
#'   cluster-robust type `"CR0"`, `"CR1"`, `"CR2"` or `"CR3"`.
#' @param cluster With a robust `vcov`: the clusters, as in
#'   [vcov()][glmm-extractors].
#' @return A data frame of class `anova`: with several models, columns
#'   `npar`, `AIC`, `BIC`, `logLik`, `deviance` (\eqn{-2\ell}), `Chisq`,
#'   `Df`, `Pr(>Chisq)`; with one model, `Df`, `Chisq`, `Pr(>Chisq)` per
#'   term (with a robust `vcov`: `Df`, `Den Df`, `F`, `Pr(>F)`).
#' @references Tipton, E. and Pustejovsky, J. E. (2015). Small-sample
#'   adjustments for tests of moderators and model fit using robust variance
#'   estimation in meta-regression. *Journal of Educational and Behavioral
#'   Statistics* 40, 604-634.
#'
#'   Self, S. G. and Liang, K.-Y. (1987). Asymptotic properties of
#'   maximum likelihood estimators and likelihood ratio tests under
#'   nonstandard conditions. *Journal of the American Statistical
#'   Association* 82, 605-610.
#' @examples
#' if (requireNamespace("lme4", quietly = TRUE)) {
#'   data(cbpp, package = "lme4")
#'   f0 <- glmm(cbind(incidence, size - incidence) ~ 1 + (1 | herd),
#'              data = cbpp, family = binomial, nAGQ = 1)
#'   f1 <- update(f0, . ~ . + period)
#'   anova(f0, f1)
#'   anova(f1)
#' }
#' @export
anova.glmmgee_glmm <- function(object, ..., vcov = NULL, cluster = NULL) {
  check_dots_fits(..., .method = "anova.glmmgee_glmm")
  dots <- list(...)
  is_fit <- vapply(dots, inherits, TRUE, what = "glmmgee_glmm")
  if (any(!is_fit))
    stop("anova() compares glmm fits only; other arguments are not supported", call. = FALSE)
  if (length(dots) && (!is.null(vcov) || !is.null(cluster)))
    stop("anova(): 'vcov' and 'cluster' are for the Wald tests of one fit; a likelihood-ratio ",
         "test between fits has no cluster-robust form", call. = FALSE)
  if (!length(dots)) return(wald_terms(object, vcov, cluster))
  fits <- c(list(object), dots)
  for (f in fits) require_capability(f, "anova_lrt", "anova()")
  exprs <- c(list(substitute(object)), as.list(substitute(list(...)))[-1L])
  nm <- c("", names(dots) %||% rep("", length(dots)))
  labels <- vapply(seq_along(fits), function(i) {
    if (nzchar(nm[i])) nm[i] else paste(deparse(exprs[[i]], width.cutoff = 500L), collapse = "")
  }, "")
  # do.call(anova, fits) passes the fits themselves: their deparsed
  # structure is no label.
  if (anyDuplicated(labels) || any(nchar(labels) > 200L)) labels <- paste0("model", seq_along(fits))
  check_same_data(fits)
  pen <- penalized_fits(fits, labels)
  fits <- anova_ml_fits(fits)
  ll <- vapply(fits, function(f) as.numeric(logLik(f)), 1)
  npar <- vapply(fits, function(f) attr(logLik(f), "df"), 1)
  ord <- order(npar)
  ll <- ll[ord]; npar <- npar[ord]; fits <- fits[ord]; labels <- labels[ord]
  check_nested(fits, labels, penalized = pen)
  chisq <- c(NA, 2 * diff(ll))
  df <- c(NA, diff(npar))
  p <- ifelse(!is.na(df) & df > 0, stats::pchisq(chisq, df, lower.tail = FALSE), NA_real_)
  dist_change <- ranef_dist_changes(fits, labels)
  p[dist_change$rows] <- NA_real_
  if (pen) p[] <- NA_real_
  tab <- data.frame(npar = npar,
                    AIC = vapply(fits, stats::AIC, 1), BIC = vapply(fits, stats::BIC, 1),
                    logLik = ll, deviance = -2 * ll, Chisq = chisq, Df = df,
                    `Pr(>Chisq)` = p, check.names = FALSE, row.names = labels)
  forms <- vapply(seq_along(fits), function(i)
    paste0(labels[i], ": ", model_formulas_label(fits[[i]])), "")
  head <- c(if (pen) paste0("Comparison of penalized GLMM fits (penalized = TRUE): log-likelihoods without ",
                            "the prior, at the penalized maxima; no chi-square reference, so no p-value\n")
            else "Likelihood-ratio tests between GLMM fits\n", paste0(forms, collapse = "\n"), "\n")
  # A warning, as AIC() gives: the default nAGQ differs with the number of
  # random-effect terms, so dropping a term can change the approximation,
  # and the approximation error then enters the statistic.
  methods <- mixed_approximations(fits)
  if (length(methods)) {
    glmm <- nzchar(methods)
    by <- split(labels[glmm], factor(methods[glmm], levels = unique(methods[glmm])))
    warning(sprintf("anova(): the fits use different approximations to the likelihood (%s), so the chi-square statistic mixes them; %s",
                    paste(sprintf("%s: %s", vapply(by, paste, "", collapse = ", "), names(by)),
                          collapse = "; "), approximation_remedy(fits, labels, "anova")),
            call. = FALSE)
    head <- c(head, "Note: the fits use different approximations to the likelihood\n")
  }
  if (pen)
    warning(paste0("anova(): the fits are penalized (penalized = TRUE): Chisq is twice the difference of ",
                   "their log-likelihoods without the prior, taken at the penalized maxima, not a ",
                   "likelihood-ratio statistic; it has no chi-square reference distribution and can ",
                   "be negative (the prior pulls harder as coefficients are added), so it is shown ",
                   "without a p-value. Test by maximum-likelihood fits where their estimates exist"),
            call. = FALSE)
  if (length(dist_change$rows)) {
    warning(dist_change$message, call. = FALSE)
    head <- c(head, "Note: no p-value between fits with different random-effect distributions\n")
  }
  structure(tab, heading = head, class = c("anova", "data.frame"))
}

# Whether anova()'s fits are penalized (penalized = TRUE): all or none. A
# penalized fit's log-likelihood is taken at the posterior mode, so it is
# not comparable with a maximum-likelihood fit's.
penalized_fits <- function(fits, labels) {
  pen <- vapply(fits, function(f) !is.null(.subset2(f, "penalty")), TRUE)
  if (any(pen) && !all(pen))
    stop(sprintf(paste0("anova(): %s %s penalized (penalized = TRUE) but %s %s not: a penalized fit's ",
                        "log-likelihood is taken at the penalized maximum, not the maximum-likelihood ",
                        "one, so the two are not comparable; fit all the models the same way"),
                 paste(labels[pen], collapse = ", "), if (sum(pen) > 1L) "are" else "is",
                 paste(labels[!pen], collapse = ", "), if (sum(!pen) > 1L) "are" else "is"),
         call. = FALSE)
  all(pen)
}

# The rows of anova()'s table (fits sorted, named `labels`) whose fit and
# the one before it have different random-effect distributions (ranef_dist),
# and the warning: their statistic is kept, but a change of distribution is
# no parametric restriction with a chi-square reference (the normal is a
# limit of the bridge, phi -> 1, and the nonparametric fit's mass points
# merge onto the normal only in a limit: a boundary and mixture problem);
# where the fixed effects differ too, the statistic mixes both changes.
ranef_dist_changes <- function(fits, labels) {
  dist <- vapply(fits, function(f) .subset2(f, "ranef_dist")$type %||% "normal", "")
  rows <- which(c(FALSE, dist[-1L] != dist[-length(dist)]))
  if (!length(rows)) return(list(rows = integer()))
  pair <- function(i) sprintf("%s (%s) and %s (%s)", labels[i - 1L], dist[i - 1L], labels[i], dist[i])
  both <- rows[vapply(rows, function(i) !same_fixed_design(fits[[i - 1L]], fits[[i]]), TRUE)]
  list(rows = rows, message = paste0(
    sprintf("anova(): %s have different random-effect distributions: the chi-square statistic is shown without a p-value, since the likelihood-ratio test of a change of random-effect distribution has no chi-square reference distribution (the normal is a limit or boundary case of the other, a mixture problem); compare them by AIC() or BIC()",
            paste(vapply(rows, pair, ""), collapse = "; ")),
    if (length(both))
      sprintf("; %s differ in their fixed effects too, so the statistic mixes the change of distribution with the fixed effects",
              paste(vapply(both, function(i) paste(labels[i - 1L], "and", labels[i]), ""), collapse = "; "))))
}

# Whether two fits' fixed-effect designs span the same columns.
same_fixed_design <- function(a, b) {
  ncol(a$X) == ncol(b$X) && !any(outside_span(a$X, b$X))
}

# Which columns of Xs lie outside the column space of Xb (a residual above
# 1e-8 of the column's norm).
outside_span <- function(Xs, Xb) {
  if (!ncol(Xs)) return(logical())
  res <- qr.resid(qr(Xb), Xs)
  sqrt(colSums(res^2)) > 1e-8 * pmax(sqrt(colSums(Xs^2)), 1e-300)
}

# A fit's formulas in one line: the conditional formula, and the zero and
# dispersion formulas where the fit has them (a dispersion formula of an
# intercept alone, the default, is not shown).
model_formulas_label <- function(fit) {
  one <- function(f) paste(deparse(f, width.cutoff = 500L), collapse = " ")
  zf <- fit$aux$zi$formula
  df <- fit$aux$disp$formula
  paste0(one(fit$formula),
         if (!is.null(zf)) paste0(", ziformula = ", one(zf)),
         if (!is.null(df) && !identical(one(df), "~1")) paste0(", dispformula = ", one(df)))
}

check_same_data <- function(fits) {
  n <- vapply(fits, nobs, 1)
  if (length(unique(n)) > 1L)
    stop(sprintf("the models are fitted to different numbers of observations (%s); refit them on the same rows",
                 paste(n, collapse = ", ")), call. = FALSE)
  if (any(vapply(fits, inherits, TRUE, what = "glmmgee_glmm_sharded")))
    return(sharded_same_data(fits))  # methods-sharded.R
  ref <- fits[[1L]]
  for (f in fits[-1L]) {
    same <- length(f$y) == length(ref$y) &&
      isTRUE(all.equal(f$y * f$prior.weights, ref$y * ref$prior.weights)) &&
      isTRUE(all.equal(f$prior.weights, ref$prior.weights))
    if (!same)
      stop("the models have different responses (or prior weights); likelihood-ratio tests need the same data",
           call. = FALSE)
  }
  invisible(TRUE)
}

wald_terms <- function(object, vcov = NULL, cluster = NULL) {
  asg <- fixef_assign(object)
  labs <- attr(object$terms, "term.labels")
  factors <- attr(object$terms, "factors")
  beta <- fixef(object)
  robust <- if (is_glmm(object)) parameter_vcov_choice(object, vcov, cluster, "anova()")
  if (!is.null(robust)) return(wald_terms_robust(object, robust, asg, factors, labs, beta))
  V <- stats::vcov(object)
  # By name where vcov() holds more than the fixed effects (an ordinal
  # fit's thresholds come first).
  jv <- if (!is.null(names(beta)) && all(names(beta) %in% rownames(V))) names(beta) else seq_along(beta)
  wald_term_table(beta, V[jv, jv, drop = FALSE], asg, factors, labs,
                  c("Wald chi-square tests of the fixed-effect terms, type II (each after the terms that do not contain it)\n",
                    paste0("Response: ", deparse(object$formula[[2L]]), "\n")))
}

# The same tests with a cluster-robust covariance (parameter_vcov_choice()):
# F tests of the type II hypotheses (type2_hypothesis()) by the Hotelling
# T-squared approximation (robust_htz()), whose denominator degrees of
# freedom for a one-column term contained in no other are the Satterthwaite
# ones of summary(vcov = ).
wald_terms_robust <- function(object, robust, asg, factors, labs, beta) {
  P <- length(robust$theta)
  V <- robust$vcov[seq_along(beta), seq_along(beta), drop = FALSE]
  rows <- lapply(seq_along(labs), function(k) {
    L <- type2_hypothesis(k, asg, factors, V)
    if (is.null(L)) return(c(NA, NA, NA, NA))
    if (!is.matrix(L)) return(c(sum(asg == k), NA, NaN, NA))
    C <- matrix(0, nrow(L), P)
    C[, seq_along(beta)] <- L
    r <- robust_htz(drop(L %*% unname(beta)), L %*% V %*% t(L), robust$cross(C))
    unname(r[c("df1", "df2", "F", "p")])
  })
  tab <- as.data.frame(matrix(as.numeric(unlist(rows)), ncol = 4L, byrow = TRUE))
  names(tab) <- c("Df", "Den Df", "F", "Pr(>F)")
  rownames(tab) <- labs
  bad <- is.nan(tab$F)
  tab$F[bad] <- NA
  if (any(bad)) wald_singular_warning(labs[bad], robust$clusters, length(beta))
  # HTZ's denominator degrees of freedom, eta - q + 1, are not positive
  # when the q-column hypothesis has about as many columns as the clusters
  # carry information: no F reference, so no statistic.
  nodf <- !is.na(tab[["Den Df"]]) & tab[["Den Df"]] <= 0
  if (any(nodf)) {
    warning(sprintf(paste0("anova(): no HTZ test of %s: its denominator degrees of freedom are not positive ",
                           "(%s), too few clusters (%d) for a hypothesis of %s columns; NA"),
                    paste0("'", labs[nodf], "'", collapse = ", "),
                    paste(format(signif(tab[["Den Df"]][nodf], 3L)), collapse = ", "),
                    as.integer(robust$clusters), paste(tab$Df[nodf], collapse = ", ")), call. = FALSE)
    tab[nodf, c("Den Df", "F", "Pr(>F)")] <- NA
  }
  structure(tab, heading = c(paste0(sprintf("Wald F tests of the fixed-effect terms, type II (each after the terms that do not contain it), with the %s\n",
                                            robust$label),
                                    "Hotelling T-squared approximation (HTZ); a one-column term contained in no other is tested by the t test of summary(vcov = )\n"),
                             paste0("Response: ", deparse(object$formula[[2L]]), "\n")),
            class = c("anova", "data.frame"))
}

# Consecutive fits (sorted by number of parameters) must be nested: same
# family, the smaller fixed-effects design in the column space of the
# larger, the smaller random-effect terms among the larger's.
check_nested <- function(fits, labels, penalized = FALSE) {
  for (i in seq_along(fits)[-1L]) {
    small <- fits[[i - 1L]]
    big <- fits[[i]]
    why <- nesting_problem(small, big)
    if (!is.null(why))
      stop(sprintf(paste0("the models are not nested (%s is not a special case of %s: %s); ",
                          "a likelihood-ratio test needs nested models. Compare non-nested ",
                          "models by AIC() or BIC()"), labels[i - 1L], labels[i], why), call. = FALSE)
    if (attr(logLik(big), "df") == attr(logLik(small), "df"))
      warning(sprintf(paste0("%s and %s have the same number of parameters: the likelihood-ratio ",
                             "test has 0 degrees of freedom and tests nothing; compare their ",
                             "log-likelihoods (or AIC) directly"), labels[i - 1L], labels[i]),
              call. = FALSE)
    # (Penalized fits: anova() says why their statistic can be negative.)
    else if (!penalized && as.numeric(logLik(big)) < as.numeric(logLik(small)) - 1e-6)
      warning(sprintf(paste0("%s has more parameters than %s but a lower log-likelihood ",
                             "(%.6g < %.6g): one of the fits did not reach its maximum; the ",
                             "chi-square statistic is negative and the test is not valid"),
                      labels[i], labels[i - 1L], as.numeric(logLik(big)),
                      as.numeric(logLik(small))), call. = FALSE)
  }
  invisible(TRUE)
}

# "families a(link) and b(link)" where two fits' families or links differ
# (no model of one is nested in the other), else NULL. GLMM and GEE
# comparisons.
family_mismatch <- function(small, big) {
  fs <- small$family
  fb <- big$family
  if (identical(c(fs$family, fs$link), c(fb$family, fb$link))) return(NULL)
  sprintf("families %s(%s) and %s(%s)", fs$family, fs$link, fb$family, fb$link)
}

# Why `small` is not nested in `big` (NULL when it is).
nesting_problem <- function(small, big) {
  fam <- family_mismatch(small, big)
  if (!is.null(fam)) return(fam)
  if (inherits(small, "glmmgee_glmm_sharded") || inherits(big, "glmmgee_glmm_sharded"))
    return(sharded_nesting_problem(small, big))  # methods-sharded.R
  Xs <- small$X
  Xb <- big$X
  out <- colnames(Xs)[outside_span(Xs, Xb)]
  if (length(out))
    return(sprintf("fixed effect(s) %s are not in the larger model",
                   paste(sQuote(out, FALSE), collapse = ", ")))
  extra <- setdiff(re_keys(small), re_keys(big))
  if (length(extra) && !re_constrained_case(small, big))
    return(sprintf("random effect(s) %s are not in the larger model%s",
                   paste(sQuote(extra, FALSE), collapse = ", "),
                   if (one_factor_fit(small) && one_factor_fit(big) &&
                       identical(small$group_name, big$group_name))
                     " (nor a constrained case of its random effects on the same grouping)" else ""))
  aux_nesting_problem(small, big)
}

# Why the zero-inflation or dispersion part of `small` is not a special
# case of `big`'s (NULL when it is): small's predictor, its design and
# offset, must lie in the span of big's design plus big's offset. A fit
# without a dispersion formula has one dispersion (a column of ones); a
# fit without a zero part is the boundary case of one with it (the LRT
# users of glmmTMB run), not the other way round. (A dispersion held at
# known values by an offset had been "tested" against one estimated
# dispersion that it is not a case of.)
aux_nesting_problem <- function(small, big) {
  if (!identical(small$aux$kind %||% "none", big$aux$kind %||% "none") &&
      !is.null(small$aux$zi) && !is.null(big$aux$zi))
    return(sprintf("a %s model and a %s model", small$aux$kind, big$aux$kind))
  for (part in c("zi", "disp")) {
    ps <- aux_part_predictor(small, part)
    pb <- aux_part_predictor(big, part)
    if (is.null(ps) || isTRUE(ps$unknown) || isTRUE(pb$unknown)) next
    label <- if (part == "zi") "zero-inflation" else "dispersion"
    if (is.null(pb)) return(sprintf("the smaller model's %s part is not in the larger model", label))
    if (ps$random && !pb$random)
      return(sprintf("the smaller model's %s part has random effects, the larger model's not", label))
    M <- cbind(ps$X, ps$offset - pb$offset)
    keep <- colSums(M^2) > 0
    if (!any(keep)) next
    M <- M[, keep, drop = FALSE]
    res <- if (ncol(pb$X)) qr.resid(qr(pb$X), M) else M
    if (any(sqrt(colSums(res^2)) > 1e-8 * pmax(sqrt(colSums(M^2)), 1e-300)))
      return(sprintf("its %s predictor is not in the span of the larger model's", label))
  }
  NULL
}

# A fit's zero or dispersion predictor on the rows of its data: design,
# offset and whether it has random effects; NULL for a fit without the
# part; `unknown` where the part's rows are not the fit's.
aux_part_predictor <- function(fit, part) {
  n <- nrow(fit$X)
  pt <- fit$aux[[part]]
  if (part == "zi" && is.null(pt)) return(NULL)
  if (part == "disp" && is.null(pt)) {
    if (!has_dispersion(fit$family) || is.null(fit$sigma)) return(NULL)
    return(list(X = matrix(1, n, 1L), offset = rep(0, n), random = FALSE))
  }
  X <- pt$X %||% matrix(1, n, 1L)
  if (nrow(X) != n) return(list(unknown = TRUE))
  list(X = X, offset = rep_len(pt$offset %||% 0, n), random = !is.null(pt$re))
}

one_factor_fit <- function(fit)
  !inherits(fit, "glmmgee_glmm_sparse") && !inherits(fit, "glmmgee_glmm_nested") &&
    !is.null(fit$group_name) && !is.null(fit$cnames) && is.null(fit$ranef_dist)

# Whether the random effects of `small` are a constrained case of those of
# `big` on the same grouping factor (one-factor fits): small's per-row
# design Zs = Zb A lies in the span of big's columns, so small's effects are
# big's with covariance A Ds A'; nested when A Ds A' lies in big's
# covariance family for every Ds of small's, up to the entries no cluster
# sees (pairs of columns never both nonzero in one cluster). E.g. (1 | id)
# in (0 + gA + gB || id) when no cluster has both groups: A = (1, 1)', and
# the two variances equal. Checked at a few random Ds of small's family
# (structure by structure; fixed stream, the user's left alone).
re_constrained_case <- function(small, big) {
  if (!one_factor_fit(small) || !one_factor_fit(big)) return(FALSE)
  if (!identical(small$group_name, big$group_name) ||
      !identical(as.integer(small$group), as.integer(big$group))) return(FALSE)
  Zs <- re_row_design(small)
  Zb <- re_row_design(big)
  if (is.null(Zs) || is.null(Zb) || nrow(Zs) != nrow(Zb)) return(FALSE)
  qrb <- qr(Zb)
  A <- qr.coef(qrb, Zs)
  A[is.na(A)] <- 0
  res <- Zs - Zb %*% A
  if (max(abs(res)) > 1e-8 * max(1, max(abs(Zs)))) return(FALSE)
  used <- rowsum((Zb != 0) + 0, as.integer(big$group)) > 0
  seen <- crossprod(used + 0) > 0
  bb <- re_structure_blocks(big)
  bs <- re_structure_blocks(small)
  if (is.null(bb) || is.null(bs)) return(FALSE)
  with_seed(20260101L, {
    for (draw in 1:3) {
      Ds <- matrix(0, ncol(Zs), ncol(Zs))
      for (b in bs) Ds[b$cols, b$cols] <- random_structure_cov(b$kind, length(b$cols))
      if (!attainable_cov(A %*% Ds %*% t(A), bb, seen)) return(FALSE)
    }
  })
  TRUE
}

# A fit's random-effects design row by row (n x q, columns fit$cnames).
re_row_design <- function(fit) {
  Z <- tryCatch(fit$Z, error = function(e) NULL)
  if (is.null(Z) && identical(fit$cnames, "(Intercept)")) Z <- matrix(1, length(fit$group), 1L)
  if (is.null(Z)) return(NULL)
  Z <- as.matrix(Z)
  if (ncol(Z) != length(fit$cnames)) return(NULL)
  Z
}

# The covariance blocks of a one-factor fit: list(cols, kind) per block.
re_structure_blocks <- function(fit) {
  cn <- fit$cnames
  if (!is.null(fit$structures)) {
    out <- lapply(fit$structures, function(s) list(cols = match(s$columns, cn), kind = s$kind))
    if (anyNA(unlist(lapply(out, `[[`, "cols")))) return(NULL)
    return(out)
  }
  sizes <- fit$cov_blocks %||% length(cn)
  ends <- cumsum(sizes)
  lapply(seq_along(sizes), function(k) list(cols = seq_len(sizes[k]) + ends[k] - sizes[k], kind = "us"))
}

# A random covariance matrix of a structure's family.
random_structure_cov <- function(kind, q) {
  s <- exp(stats::rnorm(q, 0, 0.5))
  switch(kind,
         us = { W <- matrix(stats::rnorm(q * q), q); tcrossprod(W) + diag(0.1, q) },
         diag = diag(s^2, q),
         homdiag = diag(s[1L]^2, q),
         cs = { r <- stats::runif(1, 0.1, 0.8); outer(s, s) * (diag(1 - r, q) + r) },
         homcs = { r <- stats::runif(1, 0.1, 0.8); s[1L]^2 * (diag(1 - r, q) + r) },
         ar1 = { r <- stats::runif(1, -0.8, 0.8); s[1L]^2 * r^abs(outer(seq_len(q), seq_len(q), "-")) },
         hetar1 = { r <- stats::runif(1, -0.8, 0.8); outer(s, s) * r^abs(outer(seq_len(q), seq_len(q), "-")) },
         toep = , homtoep = {
           R <- stats::toeplitz(c(1, toeplitz_pacf(stats::rnorm(q - 1L))$r))
           if (kind == "homtoep") s[] <- s[1L]
           outer(s, s) * R
         },
         stop("internal: unknown structure"))
}

# Whether the covariance M of big's effects is in big's family (blocks
# `bb`), on the entries clusters see (`seen`).
attainable_cov <- function(M, bb, seen) {
  tol <- 1e-8 * max(abs(M), 1e-300)
  blk <- integer(nrow(M))
  for (k in seq_along(bb)) blk[bb[[k]]$cols] <- k
  off <- outer(blk, blk, "!=") & seen
  if (any(abs(M[off]) > tol)) return(FALSE)
  for (b in bb) {
    j <- b$cols
    u <- j[diag(seen)[j]]
    if (length(u) < 1L) next
    Mb <- M[u, u, drop = FALSE]
    Sb <- seen[u, u, drop = FALSE]
    od <- Sb & !diag(length(u))
    d <- diag(Mb)
    ok <- switch(b$kind,
      us = TRUE,
      diag = !any(abs(Mb[od]) > tol),
      homdiag = !any(abs(Mb[od]) > tol) && max(d) - min(d) <= tol,
      cs = , homcs = {
        R <- Mb / sqrt(outer(pmax(d, 1e-300), pmax(d, 1e-300)))
        (b$kind == "cs" || max(d) - min(d) <= tol) &&
          (!any(od) || (max(R[od]) - min(R[od]) <= 1e-8))
      },
      ar1 = , hetar1 = {
        lag <- abs(outer(u, u, "-"))
        if (b$kind == "ar1" && max(d) - min(d) > tol) FALSE
        else if (!any(od)) TRUE
        else {
          R <- Mb / sqrt(outer(pmax(d, 1e-300), pmax(d, 1e-300)))
          r1 <- R[od & lag == 1L]
          r <- if (length(r1)) r1[1L] else sign(R[od][1L]) * abs(R[od][1L])^(1 / lag[od][1L])
          all(abs(R[od] - r^lag[od]) <= 1e-8)
        }
      },
      toep = , homtoep = {
        lag <- abs(outer(u, u, "-"))
        R <- Mb / sqrt(outer(pmax(d, 1e-300), pmax(d, 1e-300)))
        (b$kind == "toep" || max(d) - min(d) <= tol) &&
          all(vapply(unique(lag[od]), function(l) {
            r <- R[od & lag == l]
            max(r) - min(r) <= 1e-8
          }, TRUE))
      },
      FALSE)
    if (!ok) return(FALSE)
  }
  TRUE
}

# "group: covariate" for every random effect of a fit.
re_keys <- function(fit) {
  if (inherits(fit, "glmmgee_glmm_sparse"))
    return(unique(unlist(lapply(fit$reterms, function(t) paste(t$group, t$cnames, sep = ": ")))))
  paste(fit$group_name, fit$cnames, sep = ": ")
}

# The term of each fixed-effect column (model.matrix()'s "assign"); for a
# distributed fit, whose design stayed on the workers, from the design of
# its zero-row model frame.
fixef_assign <- function(object) {
  if (!inherits(object, "glmmgee_glmm_sharded")) return(attr(object$X, "assign"))
  X <- stats::model.matrix(.subset2(object, "terms"), .subset2(object, "frame_prototype"),
                           contrasts.arg = .subset2(object, "contrasts"))
  if (!identical(colnames(X), names(.subset2(object, "coefficients"))))
    stop("anova(): the fixed-effect design of this distributed fit cannot be rebuilt from its model frame",
         call. = FALSE)
  attr(X, "assign")
}
