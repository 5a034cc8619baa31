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
# term has no columns.
type2_hypothesis <- function(k, asgn, factors, V) {
  tj <- which(asgn == k)
  if (!length(tj)) return(NULL)
  L <- matrix(0, length(tj), length(asgn))
  L[cbind(seq_along(tj), tj)] <- 1
  rj <- which(asgn %in% term_relatives(k, factors))
  if (length(rj))
    L[, rj] <- -V[tj, rj, drop = FALSE] %*% solve(V[rj, rj, drop = FALSE])
  L
}

# Type II Wald chi-square tests of the terms `labs` (Df, Chisq,
# Pr(>Chisq); NA for a term without columns or whose covariance is
# singular): coefficients `b` with covariance `V`, column j of term
# asgn[j], `factors` the terms' "factors" attribute; an anova table with
# the heading `heading`.
wald_term_table <- function(b, V, asgn, factors, labs, heading) {
  b <- unname(b)
  V <- unname(as.matrix(V))
  rows <- lapply(seq_along(labs), function(k) {
    L <- tryCatch(type2_hypothesis(k, asgn, factors, V), error = function(e) NA)
    if (is.null(L)) return(c(NA, NA))
    if (!is.matrix(L)) return(c(sum(asgn == k), NA))
    lb <- drop(L %*% b)
    stat <- tryCatch(drop(crossprod(lb, solve(L %*% V %*% t(L), lb))),
                     error = function(e) NA_real_)
    c(nrow(L), stat)
  })
  tab <- data.frame(Df = vapply(rows, `[`, 1, 1L), Chisq = vapply(rows, `[`, 1, 2L),
                    check.names = FALSE)
  tab[["Pr(>Chisq)"]] <- stats::pchisq(tab$Chisq, tab$Df, lower.tail = FALSE)
  rownames(tab) <- labs
  structure(tab, class = c("anova", "data.frame"), heading = heading)
}
