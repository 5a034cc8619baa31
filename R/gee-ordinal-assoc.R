# Association structures of the ordinal GEE: the local odds ratios between
# the responses of a cluster at two times, estimated as in Touloumis, Agresti
# and Kateri (2013) and multgee::ordLORgee. The responses of each pair of
# times t < s are cross-classified over the clusters observed at both
# (covariates ignored: the "marginalized" contingency tables), and a
# log-linear model with free row and column margins per table,
#   log m_tab = lambda_t + alpha_ta + beta_tb + A_t(a, b),
# is fitted by Poisson maximum likelihood. The association term A is
#   "uniform"        phi a b           one phi for all pairs
#   "category.exch"  phi_t a b         one phi per pair of times
#   "time.exch"      mu_a mu_b         one homogeneous row-column score set
#   "RC"             mu_ta mu_tb       one score set per pair of times
#   "fixed"          log of the user's table(s)
# so the local log odds ratios are phi, phi_t, (mu_{a+1} - mu_a)(mu_{b+1} -
# mu_b). The margins are profiled out: for fixed A their estimate is the
# table exp(A) scaled (by iterative proportional fitting) to the observed
# margins, and the profile score is sum (n - m) dA/dpar.

ordinal_lor_structures <- c("independence", "uniform", "category.exch", "time.exch", "RC", "fixed")

# corstr for a cumulative() family: one of multgee's LORstr names.
check_ordinal_corstr <- function(corstr) {
  if (!is.character(corstr) || length(corstr) != 1L || is.na(corstr))
    stop("'corstr' must be one character string", call. = FALSE)
  if (corstr %in% c(ordinal_lor_structures, ordinal_global_structures)) return(corstr)
  other <- c("exchangeable", "ar1", "unstructured", "mdep")
  hint <- if (corstr %in% other)
    sprintf("; \"%s\" is a working correlation of the other families, an ordinal response takes local odds ratio structures or the global ones (geepack ordgee's)",
            corstr) else ""
  stop(sprintf(paste0("'corstr': for an ordinal response (cumulative()) it must be one of %s (multgee's LORstr names) ",
                      "or of the global odds ratio structures %s, not \"%s\"%s"),
               paste0("\"", ordinal_lor_structures, "\"", collapse = ", "),
               paste0("\"", ordinal_global_structures, "\"", collapse = ", "), corstr, hint),
       call. = FALSE)
}

# Counts of the J x J tables of each pair of times, from the K x T matrix
# of category codes (NA where a cluster was not seen at a time).
ordinal_pair_counts <- function(yw, J) {
  T <- ncol(yw)
  pr <- utils::combn(T, 2L)
  counts <- vapply(seq_len(ncol(pr)), function(k) {
    a <- yw[, pr[1L, k]]; b <- yw[, pr[2L, k]]
    ok <- !is.na(a) & !is.na(b)
    tabulate(a[ok] + J * (b[ok] - 1L), J * J)
  }, numeric(J * J))
  list(counts = matrix(counts, J * J), pairs = pr)
}

# The log association table of each pair for the parameter vector.
ordinal_assoc_logtables <- function(par, structure, J, npairs) {
  ab <- as.vector(outer(seq_len(J), seq_len(J)))
  switch(structure,
    uniform = matrix(par * ab, J * J, npairs),
    category.exch = outer(ab, par),
    time.exch = matrix(as.vector(tcrossprod(c(0, par))), J * J, npairs),
    RC = {
      mu <- rbind(0, matrix(par, J - 1L, npairs))     # J x npairs scores
      mu[rep(seq_len(J), J), , drop = FALSE] * mu[rep(seq_len(J), each = J), , drop = FALSE]
    })
}

# Fitted counts of each pair's table: exp(A) scaled to the observed margins.
ordinal_assoc_fitted <- function(L, counts, J) cpp_ipf_tables(L, counts, J, 1e-13, 10000L)

# Poisson ML of the association parameters with the margins profiled out.
ordinal_assoc_fit <- function(counts, structure, J) {
  npairs <- ncol(counts)
  ab <- as.vector(outer(seq_len(J), seq_len(J)))
  if (structure %in% c("time.exch", "RC")) {
    # Start the scores from the uniform association: mu_a = sqrt(phi) (a - 1).
    phi <- ordinal_assoc_fit(counts, "uniform", J)$par
    mu0 <- sqrt(max(phi, 0.05)) * seq_len(J - 1L)
    start <- if (structure == "time.exch") mu0 else rep(mu0, npairs)
  } else {
    start <- rep(0, if (structure == "uniform") 1L else npairs)
  }
  negll <- function(par) {
    m <- ordinal_assoc_fitted(ordinal_assoc_logtables(par, structure, J, npairs), counts, J)
    pos <- counts > 0
    if (any(m[pos] <= 0)) return(Inf)
    -sum(counts[pos] * log(m[pos]))
  }
  grad <- function(par) {
    R <- counts - ordinal_assoc_fitted(ordinal_assoc_logtables(par, structure, J, npairs), counts, J)
    -switch(structure,
      uniform = sum(R * ab),
      category.exch = colSums(R * ab),
      time.exch = {
        Rs <- matrix(rowSums(R), J, J)
        drop((Rs + t(Rs)) %*% c(0, par))[-1L]
      },
      RC = {
        # Pair k: (R_k + R_k') mu_k, the first score's component dropped.
        Ra <- array(R, c(J, J, npairs))
        S <- Ra + aperm(Ra, c(2L, 1L, 3L))
        mu <- rbind(0, matrix(par, J - 1L, npairs))
        g <- matrix(colSums(matrix(as.vector(S) * as.vector(mu[rep(seq_len(J), J), ]), J)), J)
        as.vector(g[-1L, , drop = FALSE])
      })
  }
  fit <- stats::nlminb(start, negll, grad,
                       control = list(rel.tol = 1e-14, x.tol = 1e-12, iter.max = 1000L, eval.max = 2000L))
  # nlminb stops on the objective's relative change, with the score still
  # at ~1e-4 of the counts: Newton steps (Hessian by differences of the
  # analytic score) solve the score equations.
  g <- grad(fit$par)
  for (it in 1:5) {
    if (max(abs(g)) < 1e-9 * sum(counts)) break
    h <- 1e-5 * pmax(1, abs(fit$par))
    H <- vapply(seq_along(fit$par), function(j) {
      e <- replace(numeric(length(fit$par)), j, h[j])
      (grad(fit$par + e) - grad(fit$par - e)) / (2 * h[j])
    }, numeric(length(fit$par)))
    step <- tryCatch(solve((H + t(H)) / 2, g), error = function(e) NULL)
    if (is.null(step) || any(!is.finite(step))) break
    g_new <- grad(fit$par - step)
    if (max(abs(g_new)) >= max(abs(g))) break
    fit$par <- fit$par - step
    g <- g_new
  }
  fit$objective <- negll(fit$par)
  list(par = fit$par, converged = fit$convergence == 0L || max(abs(g)) < 1e-6 * max(1, sum(counts) / npairs),
       gradient = max(abs(g)), loglik = -fit$objective)
}

# Named association parameters for printing.
ordinal_assoc_parameters <- function(par, structure, J, pair_labels) {
  switch(structure,
    uniform = c(`log local OR` = par),
    category.exch = stats::setNames(par, paste0("log local OR (", pair_labels, ")")),
    time.exch = stats::setNames(c(0, par), paste0("score ", seq_len(J))),
    RC = stats::setNames(unlist(lapply(seq_along(pair_labels), function(k)
      c(0, par[(k - 1L) * (J - 1L) + seq_len(J - 1L)]))),
      paste0("score ", rep(seq_len(J), length(pair_labels)), " (",
             rep(pair_labels, each = J), ")")))
}

# Local odds ratios of a J x J table: (J-1) x (J-1).
local_odds_ratios <- function(tab) {
  J <- nrow(tab)
  tab[-1L, -1L] * tab[-J, -J] / (tab[-J, -1L] * tab[-1L, -J])
}

# The user's table(s) for corstr = "fixed": a J x J table of positive
# numbers shared by all pairs of times, or multgee's layout, one row per
# pair (in the order (1,2), (1,3), ..., (2,3), ...) holding a J x J table by
# columns.
ordinal_fixed_tables <- function(R, J, npairs) {
  if (is.null(R))
    stop("corstr = \"fixed\" for an ordinal response needs the association table in 'R'",
         call. = FALSE)
  if (!is.matrix(R) || !is.numeric(R) || anyNA(R) || any(!is.finite(R)) || any(R <= 0))
    stop("'R' must be a matrix of positive finite numbers (a table whose local odds ratios are used)",
         call. = FALSE)
  if (nrow(R) == J && ncol(R) == J) return(matrix(log(as.vector(R)), J * J, npairs))
  if (nrow(R) == npairs && ncol(R) == J * J) return(t(log(R)))
  stop(sprintf(paste0("'R' must be a %d x %d table (one for all pairs of times) or a %d x %d matrix ",
                      "(one row per pair of times, as multgee's LORterm), not %d x %d"),
               J, J, npairs, J * J, nrow(R), ncol(R)), call. = FALSE)
}

# The association stage: tables of the GEE's working covariance and what
# print() reports. `yw` is the K x T matrix of codes; times are its columns.
ordinal_association <- function(yw, J, structure, R, time_labels) {
  T <- ncol(yw)
  pc <- ordinal_pair_counts(yw, J)
  npairs <- ncol(pc$pairs)
  pair_labels <- paste(time_labels[pc$pairs[1L, ]], time_labels[pc$pairs[2L, ]], sep = "-")
  observed <- colSums(pc$counts) > 0
  fit <- NULL
  warn <- character()
  if (structure == "fixed") {
    L <- ordinal_fixed_tables(R, J, npairs)
    params <- numeric()
  } else if (structure == "independence") {
    L <- matrix(0, J * J, npairs)
    params <- numeric()
  } else {
    if (!any(observed))
      stop("no cluster is observed at two times: there are no pairs to estimate the association from",
           call. = FALSE)
    fit <- ordinal_assoc_fit(pc$counts, structure, J)
    par <- fit$par
    # Pairs of times no cluster has: their own parameters are not estimable
    # (and never used); report them as NA.
    if (structure %in% c("category.exch", "RC") && !all(observed)) {
      per <- if (structure == "category.exch") 1L else J - 1L
      drop <- rep(!observed, each = per)
      par[drop] <- 0
    }
    L <- ordinal_assoc_logtables(par, structure, J, npairs)
    params <- ordinal_assoc_parameters(par, structure, J, pair_labels)
    if (structure %in% c("category.exch", "RC") && !all(observed))
      params[rep(!observed, each = if (structure == "RC") J else 1L)] <- NA
    if (!fit$converged || any(abs(par) > 20))
      warn <- sprintf(paste0("the association model (\"%s\") for the local odds ratios did not converge ",
                             "or has diverging parameters (largest gradient %.2g); zero counts in the ",
                             "pairs' tables are the usual cause"), structure, fit$gradient)
  }
  tables <- exp(sweep(L, 2L, apply(L, 2L, max)))
  lor <- array(apply(tables, 2L, function(v) local_odds_ratios(matrix(v, J, J))),
               c(J - 1L, J - 1L, npairs),
               dimnames = list(NULL, NULL, pair_labels))
  pair <- matrix(-1L, T, T)
  pair[t(pc$pairs)] <- seq_len(npairs) - 1L
  list(structure = structure, parameters = params, local_odds_ratios = lor, tables = tables,
       pair = pair, counts = pc$counts, pair_labels = pair_labels, times = time_labels,
       loglik = fit$loglik, warnings = warn)
}
