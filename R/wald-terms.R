# Wald tests of the terms of one fit that respect marginality (type II, as
# car::Anova()'s default): each term is tested after all the terms that do
# not contain it. Shared by anova() of one gee, ordinal gee and glmm fit.
# Tests "each given all others" (type III) had made the main-effect tests of
# a model with an interaction depend on the contrasts and on the centring of
# covariates (epil, y ~ trt * per + age: per 1.43 with contr.treatment, 7.13
# with contr.sum, for the same fitted values).

# The terms (column numbers of `factors`, the terms' "factors" attribute)
# that contain term k: every variable of term k is one of theirs (a:b
# contains a and b). As car's relatives().
term_relatives <- function(k, factors) {
  if (!length(factors) || ncol(factors) < 2L) return(integer())
  f <- factors > 0
  inside <- f[, k]
  others <- seq_len(ncol(f))[-k]
  others[vapply(others, function(m) all(f[inside, m]), TRUE)]
}

# The hypothesis matrix (rows over the coefficients, whose terms are
# `asgn`) of term k's type II Wald test: L = E_T - V_TR V_RR^-1 E_R, with T
# the term's columns and R those of the terms containing it; L V E_R' = 0,
# so L beta is the term's effect with its relatives' coefficients set to
# zero by their Wald projection (car's conjugate complement). NULL where the
# term has no columns; NA where V_RR or L V L' is singular (wald_singular()
# of their joint block, judged at unit diagonal, so that a hypothesis of
# one column whose variance is rounding noise is caught too):
# the test is undefined. (solve() of a singular V_RR had not always failed:
# with a cluster-robust V of rank below its size it gave F = 1.7e17.)
type2_hypothesis <- function(k, asgn, factors, V) {
  tj <- which(asgn == k)
  if (!length(tj)) return(NULL)
  L <- matrix(0, length(tj), length(asgn))
  L[cbind(seq_along(tj), tj)] <- 1
  rj <- which(asgn %in% term_relatives(k, factors))
  # L V L' is the Schur complement of V_RR in the block of T and R: both
  # are nonsingular exactly when that block is.
  if (wald_singular(V[c(tj, rj), c(tj, rj), drop = FALSE])) return(NA)
  if (length(rj))
    L[, rj] <- -V[tj, rj, drop = FALSE] %*% solve(V[rj, rj, drop = FALSE])
  L
}

# Whether a covariance matrix is singular or numerically rank-deficient,
# judged at unit diagonal so that the units of the coefficients do not
# matter: a diagonal at or below 0 or not finite, or an eigenvalue of the
# correlation matrix at or below 1e-10 of the largest.
wald_singular <- function(S) {
  d <- diag(S)
  if (!length(d)) return(FALSE)
  if (!all(is.finite(S)) || any(d <= 0)) return(TRUE)
  s <- 1 / sqrt(d)
  ev <- eigen(S * outer(s, s), symmetric = TRUE, only.values = TRUE)$values
  min(ev) <= 1e-10 * max(ev)
}

# The warning for the terms whose type II test is NA because its covariance
# is singular: `clusters` the number of clusters of a cluster-robust
# covariance (NULL for a model-based one), `p` the number of coefficients.
wald_singular_warning <- function(terms, clusters, p) {
  why <- if (is.null(clusters) || is.na(clusters))
    "the covariance of the coefficients is singular in the directions the test needs"
  else sprintf(paste0("a cluster-robust covariance has rank at most the number of clusters (one less ",
                      "for the plain sandwich): %d clusters for %d coefficients; fit fewer ",
                      "coefficients or use more clusters"),
               as.integer(clusters), as.integer(p))
  warning(sprintf("anova(): no type II Wald test of %s (NA): the covariance of %s hypothesis is singular; %s",
                  paste(sQuote(terms, FALSE), collapse = ", "),
                  if (length(terms) > 1L) "their" else "its", why), call. = FALSE)
}

# Type II Wald chi-square tests of the terms `labs` (Df, Chisq,
# Pr(>Chisq); NA for a term without columns or, with a warning, one whose
# covariance is singular): coefficients `b` with covariance `V`, column j
# of term asgn[j], `factors` the terms' "factors" attribute, `clusters` the
# number of clusters of a cluster-robust V (NULL: model-based); an anova
# table with the heading `heading`.
wald_term_table <- function(b, V, asgn, factors, labs, heading, clusters = NULL) {
  b <- unname(b)
  V <- unname(as.matrix(V))
  rows <- lapply(seq_along(labs), function(k) {
    L <- tryCatch(type2_hypothesis(k, asgn, factors, V), error = function(e) NA)
    if (is.null(L)) return(c(NA, NA))
    if (!is.matrix(L)) return(c(sum(asgn == k), NaN))
    lb <- drop(L %*% b)
    stat <- tryCatch(drop(crossprod(lb, solve(L %*% V %*% t(L), lb))),
                     error = function(e) NA_real_)
    c(nrow(L), stat)
  })
  tab <- data.frame(Df = vapply(rows, `[`, 1, 1L), Chisq = vapply(rows, `[`, 1, 2L),
                    check.names = FALSE)
  tab[["Pr(>Chisq)"]] <- stats::pchisq(tab$Chisq, tab$Df, lower.tail = FALSE)
  rownames(tab) <- labs
  bad <- is.nan(tab$Chisq)
  tab$Chisq[bad] <- NA
  tab[["Pr(>Chisq)"]][bad] <- NA
  if (any(bad)) wald_singular_warning(labs[bad], clusters, length(b))
  structure(tab, class = c("anova", "data.frame"), heading = heading)
}
