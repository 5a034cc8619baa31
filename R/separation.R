# Separation: data for which the maximum likelihood estimate of the fixed
# effects does not exist, because some direction b of the coefficients
# increases the log-likelihood without bound (Albert and Anderson, 1984).
#
# For binomial data, b is such a direction when x_i'b <= 0 for every
# observation with no successes, x_i'b >= 0 for every observation with no
# failures, x_i'b = 0 for the others, and x_i'b != 0 somewhere. For poisson
# data the same holds with x_i'b <= 0 where y = 0 and x_i'b = 0 where y > 0
# (the log-likelihood sum y*eta - exp(eta) then rises towards its bound).
# A random effect does not help: along b the conditional likelihood of every
# cluster rises for every value of its random effect, so the marginal one
# does too.
#
# Writing a_i = +-x_i for the inequality rows and e_j for the equality rows,
# by Motzkin's transposition theorem exactly one of these holds (X of full
# column rank):
#   (I)  some b has A b >= 0, E b = 0, A b != 0            (separation);
#   (II) some u >= 1 and v have A'u + E'v = 0              (an MLE exists).
# (II) is the dual of Konis's (2007) linear program "maximize 1'A b subject
# to A b >= 0, E b = 0", which is unbounded exactly under separation. We
# solve the phase-1 problem of (II) by a revised simplex method with p
# constraints; when (II) is infeasible, the phase-1 simplex multipliers are
# a separating direction b (a Farkas certificate). The observations with
# a_i'b > 0 are then set aside and the test repeated on the rest, so that the
# union of the directions found covers every separated observation; the
# coefficients with a non-zero component in some direction are the terms
# reported.
#
# References:
# Albert, A. and Anderson, J. A. (1984). On the existence of maximum
#   likelihood estimates in logistic regression models. Biometrika 71, 1-10.
# Konis, K. (2007). Linear programming algorithms for detecting separated
#   data in binary logistic regression models. DPhil thesis, University of
#   Oxford.

# Checks X (full column rank), y on the mean scale and prior weights (NULL:
# all 1) for separation. Returns NULL for families where it cannot occur (gaussian),
# otherwise list(separated = TRUE/FALSE, terms = names of the coefficients
# along a separating direction, direction = the combined direction on the
# scale of X, nobs = number of observations fitted exactly at 0 or the
# bound, checked = FALSE when the linear program did not finish).
detect_separation <- function(X, y, weights, family, max_rounds = 50L) {
  fam <- family$family
  if (!fam %in% c("binomial", "poisson")) return(NULL)
  p <- ncol(X)
  none <- list(separated = FALSE, terms = character(), direction = stats::setNames(numeric(p), colnames(X)),
               nobs = 0L, checked = TRUE)
  if (!length(y) || p == 0L) return(none)
  if (no_separation_on_subset(X, y, weights, family)) return(none)
  # Inequality rows (no successes: -x_i; no failures: +x_i) and equality
  # rows, with the columns scaled to a maximum of one so the tolerances are
  # relative. Neither is built: both are views of X (row_view()), so the
  # check needs a few vectors of length n, not copies of X.
  n <- nrow(X)
  pos_w <- if (is.null(weights)) TRUE else weights > 0
  # The log link (binomial(link = "log")): its mean exp(eta) is at most 1,
  # so observations with no failures cannot be fitted better by raising
  # eta past 0 (the fit then sits on the boundary of the parameter space,
  # a finite estimate, not separation); only the zeros can drift to
  # eta = -Inf, as for poisson data.
  log_link <- fam == "binomial" && identical(family$link, "log")
  sgn <- if (fam == "binomial" && !log_link) (y >= 1) - (y <= 0) else -(y <= 0)
  ii <- which(pos_w & sgn != 0)
  ie <- which(pos_w & sgn == 0)
  sv <- as.numeric(sgn[ii])
  rm(sgn, pos_w)
  # Column j by vector indexing, which leaves X's row names alone: X[, j]
  # would subset (and so expand) model.matrix()'s lazy row names, a million
  # strings at a million rows, as range() would on copying a named column.
  sc <- numeric(p)
  for (j in seq_len(p)) {
    xj <- X[(j - 1) * n + seq_len(n)]
    sc[j] <- max(abs(min(xj)), abs(max(xj)))
  }
  rm(xj)
  sc[!is.finite(sc) | sc == 0] <- 1
  # Equality rows of full column rank (a poisson model whose positive counts
  # determine every coefficient) leave E b = 0 only for b = 0: no direction
  # separates, and the linear program is not needed (Salamanders ZIP: a
  # sixth of the front end's time). Checked on a copy of those rows where
  # it is small; a near-singular E goes to the linear program as before.
  if (length(ie) >= p && length(ie) * p <= 2e6 && full_column_rank(X, ie, sc)) return(none)
  A <- row_view(X, if (length(ii) < n) ii, sv, sc)
  E <- row_view(X, ie, NULL, sc)
  rm(ii, ie, sv)
  mA <- view_nrow(A)
  active <- rep(TRUE, mA)
  total <- numeric(p)
  separated_rows <- rep(FALSE, mA)
  for (round in seq_len(max_rounds)) {
    if (!any(active)) break
    res <- lp_separating_direction(if (all(active)) A else view_rows(A, active), E)
    if (is.na(res$separated)) return(utils::modifyList(none, list(checked = FALSE)))
    if (!res$separated) break
    b <- res$direction / max(abs(res$direction))
    ab <- view_mult(A, b)
    pos <- ab > 1e-7
    if (!any(pos & active)) break
    # A multiple of the earlier directions large enough that rows already
    # set aside stay positive.
    if (any(separated_rows)) {
      prev <- view_mult(A, total)[separated_rows]
      worst <- min(ab[separated_rows])
      k <- if (worst < 0) 2 * max(-worst / min(prev), 1) else 1
      total <- k * total + b
    } else {
      total <- b
    }
    separated_rows <- separated_rows | pos
    active <- active & !pos
  }
  if (!any(separated_rows)) return(none)
  total <- total / max(abs(total))
  on <- abs(total) > 1e-6
  dir <- stats::setNames(total / sc, colnames(X))
  list(separated = TRUE, terms = colnames(X)[on], direction = dir,
       nobs = sum(separated_rows), checked = TRUE)
}

# A certificate that a large data set is not separated, from a subset S of
# its rows: if (II) holds on S and the rows of S have full column rank, no
# direction separates the whole set, since a direction b that did would
# have A_S b >= 0 and E_S b = 0, so A_S b = 0 by (II) on S (Motzkin), so
# b = 0 by the rank. A check on 20,000 evenly spaced rows instead of ten
# million; FALSE (the subset is separated, or of lower rank, as where a
# rare level is missed) says nothing, and the whole set is checked.
no_separation_on_subset <- function(X, y, weights, family, size = 20000L) {
  n <- nrow(X)
  if (n <= 5L * size) return(FALSE)
  S <- unique(as.integer(round(seq(1, n, length.out = size))))
  if (!is.null(weights)) S <- S[weights[S] > 0]
  if (length(S) < ncol(X)) return(FALSE)
  Xs <- X[S, , drop = FALSE]
  rownames(Xs) <- NULL
  sc <- apply(abs(Xs), 2L, max)
  sc[!is.finite(sc) | sc == 0] <- 1
  if (!full_column_rank(Xs, seq_along(S), sc)) return(FALSE)
  sub <- detect_separation(Xs, y[S], if (!is.null(weights)) weights[S], family)
  isTRUE(sub$checked) && !isTRUE(sub$separated)
}

# Whether the rows idx of X (columns divided by sc) have full column rank,
# with a margin: the smallest eigenvalue of their cross-product above 1e-8
# times the largest (a condition number of the rows below 1e4).
full_column_rank <- function(X, idx, sc) {
  E <- X[idx, , drop = FALSE]
  G <- crossprod(E) / tcrossprod(sc)
  ev <- eigen(G, symmetric = TRUE, only.values = TRUE)$values
  all(is.finite(ev)) && ev[length(ev)] > 1e-8 * ev[1L]
}

# A matrix whose row r is s[r] * X[idx[r], ] / sc, kept as a view of X:
# idx = NULL means every row of X in order, s = NULL a sign of +1.
row_view <- function(X, idx, s, sc) list(X = X, idx = idx, s = s, sc = sc)

view_nrow <- function(v) {
  if (!is.null(v$idx)) length(v$idx) else if (!is.null(v$s)) length(v$s) else nrow(v$X)
}

# The view times a vector: one product with X. c() drops the product's row
# names without touching them (drop() and as.vector() expand model.matrix's
# lazily built row names into a million strings).
view_mult <- function(v, b) {
  e <- c(v$X %*% (b / v$sc))
  if (!is.null(v$idx)) e <- e[v$idx]
  if (!is.null(v$s)) e <- e * v$s
  e
}

view_row <- function(v, r) {
  x <- v$X[if (is.null(v$idx)) r else v$idx[r], ] / v$sc
  if (is.null(v$s)) x else v$s[r] * x
}

view_colsums <- function(v) {
  w <- if (is.null(v$s)) rep(1, view_nrow(v)) else v$s
  if (!is.null(v$idx)) { full <- numeric(nrow(v$X)); full[v$idx] <- w; w <- full }
  c(crossprod(v$X, w)) / v$sc
}

view_rows <- function(v, keep) {
  idx <- if (is.null(v$idx)) which(keep) else v$idx[keep]
  row_view(v$X, idx, if (!is.null(v$s)) v$s[keep], v$sc)
}

# Phase 1 of the revised simplex method for: find s >= 0, v+ >= 0, v- >= 0,
# with A's + E'(v+ - v-) = c, c = -A'1 (that is, u = 1 + s >= 1 in (II)).
# Artificial variables with the signs of c start as the basis. Dantzig's
# pricing, with Bland's rule after degenerate pivots so it cannot cycle.
# A and E are row views of X (row_view()). Returns separated = FALSE
# (feasible), TRUE with the Farkas direction b = -pi, or NA when the
# iteration limit is reached.
lp_separating_direction <- function(A, E, tol = 1e-9, maxit = NULL) {
  m <- view_nrow(A); k <- view_nrow(E); p <- ncol(A$X)
  if (m == 0L) return(list(separated = FALSE))
  cvec <- -view_colsums(A)
  scale_c <- 1 + sum(abs(cvec))
  dsign <- ifelse(cvec < 0, -1, 1)
  # Column j of the constraint matrix: 1..m rows of A, then +E, -E, then
  # the artificials (p of them).
  column <- function(j) {
    if (j <= m) return(view_row(A, j))
    j <- j - m
    if (j <= k) return(view_row(E, j))
    j <- j - k
    if (j <= k) return(-view_row(E, j))
    e <- numeric(p); e[j - k] <- dsign[j - k]; e
  }
  art0 <- m + 2L * k
  basis <- art0 + seq_len(p)
  B <- diag(dsign, p)
  xB <- abs(cvec)
  cost <- function(j) as.numeric(j > art0)
  if (is.null(maxit)) maxit <- 200L + 50L * p
  degenerate <- 0L
  for (it in seq_len(maxit)) {
    Binv <- tryCatch(solve(B), error = function(e) NULL)
    if (is.null(Binv)) return(list(separated = NA))
    cB <- vapply(basis, cost, 1)
    pi <- drop(cB %*% Binv)
    obj <- sum(cB * xB)
    if (obj <= 1e-10 * scale_c) return(list(separated = FALSE))
    # Reduced costs (cost 0 for the structural columns), by block: the
    # rows of A, then +E, -E and the artificials, basic columns at zero.
    d_s <- -view_mult(A, pi)
    d_e <- if (k) -view_mult(E, pi) else numeric()
    d_art <- 1 - dsign * pi
    inb <- basis[basis <= m]
    d_s[inb] <- 0
    if (k) {
      d_ep <- d_e; d_ep[basis[basis > m & basis <= m + k] - m] <- 0
      d_em <- -d_e; d_em[basis[basis > m + k & basis <= art0] - m - k] <- 0
    } else d_ep <- d_em <- numeric()
    d_art[basis[basis > art0] - art0] <- 0
    blocks <- list(d_s, d_ep, d_em, d_art)
    offsets <- c(0L, m, m + k, art0)
    enter <- entering_column(blocks, offsets, tol, bland = degenerate >= 5L)
    if (is.na(enter)) {
      return(list(separated = obj > 1e-7 * scale_c, direction = -pi))
    }
    col <- column(enter)
    dB <- drop(Binv %*% col)
    ok <- dB > tol
    if (!any(ok)) return(list(separated = NA))  # phase 1 is bounded: numerical trouble
    ratios <- xB[ok] / dB[ok]
    tmin <- min(ratios)
    ties <- which(ok)[ratios <= tmin + 1e-12 * max(1, tmin)]
    leave <- ties[which.min(basis[ties])]
    step <- xB[leave] / dB[leave]
    degenerate <- if (step <= 1e-12) degenerate + 1L else 0L
    xB <- xB - step * dB
    xB[leave] <- step
    xB[xB < 0] <- 0
    basis[leave] <- enter
    B[, leave] <- col
  }
  list(separated = NA)
}

# The entering column over blocks of reduced costs laid end to end (block b
# starts after offsets[b]): the first with the most negative reduced cost
# (Dantzig), or with bland = TRUE the first below -tol; NA when none is
# below -tol. The same choice as which.min() on the concatenation, without
# building it.
entering_column <- function(blocks, offsets, tol, bland) {
  best <- NA_integer_
  best_v <- -tol
  for (b in seq_along(blocks)) {
    d <- blocks[[b]]
    if (!length(d)) next
    if (bland) {
      j <- match(TRUE, d < -tol)
      if (!is.na(j)) return(offsets[b] + j)
    } else {
      j <- which.min(d)
      if (length(j) && d[j] < best_v) {
        best_v <- d[j]
        best <- offsets[b] + j
      }
    }
  }
  best
}

# The warning text for a separation found by detect_separation(); `model`
# is "glmm" or "gee", or "zero part" for the zero part of a zero-inflated or
# hurdle GLMM (zero_part_separation()). At most ten terms are named.
separation_message <- function(sep, family, model = "glmm") {
  zero <- model == "zero part"
  what <- if (zero) "zero probabilities of 0 or 1"
          else if (family$family == "binomial" && identical(family$link, "log")) "fitted probabilities of 0"
          else if (family$family == "binomial") "fitted probabilities of 0 or 1" else "fitted means of 0"
  terms <- sQuote(sep$terms, FALSE)
  if (length(terms) > 10L) terms <- c(terms[1:10], sprintf("and %d more", length(terms) - 10L))
  why <- if (model == "gee") "the estimating equations have no finite solution"
         else "the maximum likelihood estimate does not exist (random effects do not remedy this)"
  sprintf(paste0(if (zero) "separation in the zero part: its coefficients"
                 else "separation: the fixed effects", " %s predict %d observation(s) perfectly (%s), ",
                 "so %s and these coefficients drift to +/-Inf; their estimates and standard ",
                 "errors are meaningless. Remove or merge the offending terms or levels%s"),
          paste(terms, collapse = ", "), sep$nobs, what, why,
          if (model == "gee") paste0(" (gee() offers no penalized fit; glmm(..., penalized = TRUE) fits ",
                                     "the conditional model with a Student-t prior on the fixed effects)")
          else if (zero) paste0(", or use a penalized fit: glmm(..., penalized = list(pen_zi = TRUE)), a Student-t prior on the ",
                                "zero part's coefficients (penalized = TRUE alone penalizes the ",
                                "conditional part only, as GLMMadaptive)")
          else ", or use a penalized fit: glmm(..., penalized = TRUE), a Student-t prior on the fixed effects")
}

# Separation in the zero part of a zero-inflated or hurdle model (`kind`
# "zi" or "hurdle"), design Xz. Along a direction g with xz'g >= 0 where
# y = 0 and xz'g <= 0 where y > 0 the log-likelihood does not fall: a zero's
# probability pi + (1 - pi) f(0) (zi; pi itself for a hurdle) rises with
# pi, a positive count's (1 - pi) f(y) falls with it, whatever the count
# part and the random effects. That is the binomial separation of the
# indicator of a zero on Xz. Returns NULL or detect_separation()'s record
# with its message; with the zero part penalized (penalized$pen_zi,
# penalty.R) the message says that the estimates are finite but set by the
# prior.
zero_part_separation <- function(Xz, y, weights, kind, penalty) {
  if (kind == "disp" || is.null(Xz) || !ncol(Xz)) return(NULL)
  sep <- detect_separation(Xz, as.numeric(y == 0), weights, stats::binomial())
  if (is.null(sep) || !sep$separated) return(sep)
  sep$message <- separation_message(sep, stats::binomial(), "zero part")
  if (!is.null(penalty$zi)) {
    sep <- penalized_separation(sep, penalty)
    sep$message <- sub("(penalized = TRUE)", "(penalized$pen_zi)", sep$message, fixed = TRUE)
  }
  sep
}
