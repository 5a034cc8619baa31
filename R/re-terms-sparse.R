# Random-effects terms for the general (sparse) engine: any number of terms
# and grouping factors, parsed by reformulas (lme4's parser), plus
# known-covariance terms. Produces the sparse design Z (n x Q), the pattern
# of the relative covariance factor Lambda (entries and the parameter each
# carries) and a description of every term for the fitted object.
#
# Layout of the random effects (as lme4): term by term, in the order of the
# formula (after reformulas expands `/` and `||`); within a term level by
# level, the q columns of a level side by side. Lambda is block diagonal:
# the same lower-triangular q x q block for every level of a term, its free
# entries the term's parameters in column-major order.

# Does this formula (with these known covariances) need the sparse engine?
needs_sparse_engine <- function(formula, covariance) {
  length(unique(bar_group_names(formula))) > 1L || length(covariance) > 0L
}

# `direct = FALSE` sends every formula through reformulas::mkReTrms() (the
# tests compare the two routes).
# `new_clusters = TRUE` (ranef_new()): the rows of new clusters, where one
# level of a grouping factor is the usual case, not an error. `one_level`:
# the terms (by position) whose grouping factor may have one level (a
# spatial field or a given matrix on one group). `empty = TRUE`: a formula
# without random-effect terms gives the structure with none (a two-part
# model whose random effects are all in its zero or dispersion part).
sparse_re_terms <- function(formula, mf, covariance = NULL, direct = TRUE, new_clusters = FALSE,
                            one_level = integer(), empty = FALSE) {
  bars <- find_bars(formula)
  if (!length(bars)) {
    if (empty) return(no_re_terms(nrow(mf)))
    stop("the formula has no random-effects term such as (1 | group)", call. = FALSE)
  }
  # Random intercepts alone, the commonest several-term model: everything
  # from the factor codes at once (intercept_re_terms()).
  if (direct && !length(covariance)) {
    out <- intercept_re_terms(bars, mf, new_clusters)
    if (!is.null(out)) return(out)
  }
  # Random intercepts and terms such as (0 + f | g) on variables and their
  # interactions, the common cases, are read from the factor codes
  # (re-terms-direct.R); mkReTrms() builds the same columns by a Khatri-Rao
  # product, which was a fifth of a crossed fit's time.
  rt <- if (direct) direct_re_trms(bars, mf)
  # mkReTrms() reads expressions such as I(g %% 5) from the frame's column of
  # that name; the terms keep the expression itself (group_expr), which
  # predict() evaluates on new data. (frame_bars() deparses every grouping
  # expression: only made where mkReTrms() needs it.)
  if (is.null(rt))
    rt <- tryCatch(reformulas::mkReTrms(frame_bars(bars, mf), mf, reorder.terms = FALSE),
                   error = function(e) stop("random-effects terms: ", conditionMessage(e),
                                            call. = FALSE))
  gnames <- names(rt$cnms)
  covariance <- check_covariance_arg(covariance, gnames, rt$cnms)
  blocks <- list()
  terms <- list()
  lam_row <- lam_col <- lam_k <- integer()
  lower <- numeric()
  pnames <- character()
  colpos <- 0L
  kpos <- 0L
  n <- nrow(mf)
  for (t in seq_along(bars)) {
    g <- gnames[t]
    fac <- rt$flist[[attr(rt$flist, "assign")[t]]]
    if (!new_clusters) check_group_levels(g, nlevels(fac), if (t %in% one_level) 1L else 2L)
    cn <- rt$cnms[[t]]
    q <- length(cn)
    K <- covariance[[g]]
    if (is.null(K)) {
      Zt <- if (!is.null(rt$Zlist)) rt$Zlist[[t]] else Matrix::t(rt$Ztlist[[t]])
      lev <- levels(fac)
      nl <- length(lev)
      lt <- do.call(cbind, block_pattern(q))
      base <- colpos + (seq_len(nl) - 1L) * q
      lam_row <- c(lam_row, rep(base, each = nrow(lt)) + lt[, 1L])
      lam_col <- c(lam_col, rep(base, each = nrow(lt)) + lt[, 2L])
      lam_k <- c(lam_k, rep(kpos + seq_len(nrow(lt)), nl))
      lower <- c(lower, ifelse(lt[, 1L] == lt[, 2L], 0, -Inf))
      pnames <- c(pnames, ifelse(lt[, 1L] == lt[, 2L], paste(g, cn[lt[, 1L]], sep = "."),
                                 paste(g, cn[lt[, 1L]], cn[lt[, 2L]], sep = ".")))
      kfac <- NULL
      npar <- nrow(lt)
    } else {
      lev <- rownames(K)
      nl <- length(lev)
      idx <- match(as.character(fac), lev)
      if (anyNA(idx)) {
        miss <- unique(as.character(fac)[is.na(idx)])
        stop(sprintf("'covariance$%s': its row names do not match the levels of '%s' (%d level(s) missing, e.g. %s)",
                     g, g, length(miss), paste(miss[seq_len(min(3L, length(miss)))], collapse = ", ")),
             call. = FALSE)
      }
      Zind <- Matrix::sparseMatrix(i = seq_len(n), j = idx, x = 1, dims = c(n, nl))
      kfac <- covariance_factor(K, g)
      Zt <- Zind %*% kfac
      lam_row <- c(lam_row, colpos + seq_len(nl))
      lam_col <- c(lam_col, colpos + seq_len(nl))
      lam_k <- c(lam_k, rep(kpos + 1L, nl))
      lower <- c(lower, 0)
      pnames <- c(pnames, paste(g, cn, sep = "."))
      npar <- 1L
    }
    blocks[[t]] <- if (class(Zt)[1L] == "dgCMatrix") Zt else methods::as(Zt, "CsparseMatrix")
    terms[[t]] <- list(group = g, group_expr = bars[[t]][[3L]], lhs = bars[[t]][[2L]],
                       cnames = cn, levels = lev,
                       index = if (is.null(K)) as.integer(fac) else idx,
                       columns = colpos + seq_len(nl * q), par = kpos + seq_len(npar),
                       known_cov = !is.null(K), kfactor = kfac)
    colpos <- colpos + nl * q
    kpos <- kpos + npar
  }
  Z <- cbind_dgc(blocks)
  list(Z = Z, lam_row = lam_row, lam_col = lam_col, lam_k = lam_k, ntheta = kpos,
       lower = lower, par_names = pnames, terms = terms,
       flist = rt$flist, group_name = gnames)
}

# sparse_re_terms()' structure with no term: Z with no column, no parameter.
no_re_terms <- function(n) {
  list(Z = Matrix::sparseMatrix(i = integer(), j = integer(), x = numeric(), dims = c(n, 0L)),
       lam_row = integer(), lam_col = integer(), lam_k = integer(), ntheta = 0L,
       lower = numeric(), par_names = character(), terms = list(), flist = list(),
       group_name = character())
}

# sparse_re_terms() for terms that are all random intercepts (1 | f),
# (1 | a:b), (1 | a/b) on variables of the frame and have no known
# covariance: the same list, the grouping factors read as
# direct_re_trms() reads them (grouping_codes()), Z made in one pass over
# the codes (cpp_indicator_dgc()) and Lambda's pattern (one parameter per
# term, on the diagonal) by integer arithmetic instead of the general
# loop's block patterns and the column binding of per-term blocks (on
# Pastes that loop and direct_re_trms() took as long as the model frame).
# NULL where the general route must decide (another term, or a factor that
# grouping_codes() does not read).
intercept_re_terms <- function(bars, mf, new_clusters = FALSE) {
  plan <- memo_expr("intercept_plan", bars, function(bs) {
    if (!all(vapply(bs, function(b) identical(b[[2L]], 1) && is_interaction(b[[3L]]), TRUE)))
      return(NULL)
    gnames <- bar_term_names(bs)
    ufn <- unique(gnames)
    list(gnames = gnames, ufn = ufn, assign = match(gnames, ufn),
         first = match(ufn, gnames),
         vars = unique(unlist(lapply(bs, function(b) all.vars(b[[3L]])), use.names = FALSE)),
         pnames = paste(gnames, "(Intercept)", sep = "."))
  })
  if (is.null(plan) || !all(plan$vars %in% names(mf))) return(NULL)
  flist <- vector("list", length(plan$ufn))
  for (k in seq_along(flist)) {
    f <- grouping_codes(bars[[plan$first[k]]][[3L]], mf)
    if (is.null(f)) return(NULL)
    flist[[k]] <- f
  }
  names(flist) <- plan$ufn
  attr(flist, "assign") <- plan$assign
  gnames <- plan$gnames
  nt <- length(bars)
  facs <- flist[plan$assign]
  # grouping_codes() gives factors with levels and class alone: levels by
  # attr() and codes by unclass(), without levels()'s and as.integer()'s
  # method lookups (2-3.5 microseconds a call).
  levs <- lapply(facs, attr, "levels")
  nl <- lengths(levs, use.names = FALSE)
  if (!new_clusters) for (t in seq_len(nt)) check_group_levels(gnames[t], nl[t])
  codes <- lapply(facs, function(f) as.integer(unclass(f)))
  colpos <- c(0L, cumsum(nl))
  Z <- cpp_indicator_dgc(codes, nl, list(row.names(mf), unlist(levs, use.names = FALSE)))
  cols <- seq_len(colpos[nt + 1L])
  terms <- vector("list", nt)
  for (t in seq_len(nt))
    terms[[t]] <- list(group = gnames[t], group_expr = bars[[t]][[3L]], lhs = bars[[t]][[2L]],
                       cnames = "(Intercept)", levels = levs[[t]], index = codes[[t]],
                       columns = colpos[t] + seq_len(nl[t]), par = t,
                       known_cov = FALSE, kfactor = NULL)
  # Named "row" as the general loop names them (ifelse() keeps the names of
  # its test, a column of the block pattern).
  row <- rep.int("row", nt)
  list(Z = Z, lam_row = cols, lam_col = cols, lam_k = rep.int(seq_len(nt), nl), ntheta = nt,
       lower = stats::setNames(numeric(nt), row), par_names = stats::setNames(plan$pnames, row),
       terms = terms,
       flist = flist, group_name = gnames)
}

# The column-bound design of the terms' blocks: for dgCMatrix blocks (the
# usual case) the slots are joined directly (Matrix's cbind() and the two
# coercions after it were a quarter of sparse_re_terms() on small data);
# anything else goes through Matrix.
cbind_dgc <- function(blocks) {
  if (!all(vapply(blocks, function(b) class(b)[1L] == "dgCMatrix", TRUE))) {
    Z <- methods::as(do.call(cbind, blocks), "CsparseMatrix")
    return(methods::as(Z, "generalMatrix"))
  }
  if (length(blocks) == 1L) return(blocks[[1L]])
  nz <- vapply(blocks, function(b) b@p[length(b@p)], 1L)
  cn <- lapply(blocks, function(b) b@Dimnames[[2L]])
  nc <- vapply(blocks, function(b) b@Dim[[2L]], 1L)
  # As Matrix's cbind(): a block without column names gets "" names when
  # another block has them; row names from the first block that has them.
  if (!all(vapply(cn, is.null, TRUE)))
    cn <- lapply(seq_along(cn), function(k) if (is.null(cn[[k]])) rep("", nc[[k]]) else cn[[k]])
  rn <- Filter(Negate(is.null), lapply(blocks, function(b) b@Dimnames[[1L]]))
  # Slots set in C++ (cpp_new_dgc()): `@<-`'s checks were most of the time.
  cpp_new_dgc(unlist(lapply(blocks, function(b) b@i), use.names = FALSE),
              c(0L, unlist(lapply(seq_along(blocks), function(k)
                blocks[[k]]@p[-1L] + sum(nz[seq_len(k - 1L)])), use.names = FALSE)),
              unlist(lapply(blocks, function(b) b@x), use.names = FALSE),
              c(blocks[[1L]]@Dim[[1L]], sum(nc)),
              list(if (length(rn)) rn[[1L]],
                   if (!all(vapply(cn, is.null, TRUE))) unlist(cn, use.names = FALSE)))
}

# `covariance`: NULL or a named list of matrices, one per grouping factor
# of a plain random intercept (1 | g).
check_covariance_arg <- function(covariance, gnames, cnms) {
  if (is.null(covariance) || !length(covariance)) return(list())
  if (!is.list(covariance) || is.null(names(covariance)) || any(!nzchar(names(covariance))))
    stop("'covariance' must be a named list of matrices, e.g. list(id = K)", call. = FALSE)
  for (g in names(covariance)) {
    hit <- which(gnames == g)
    if (!length(hit))
      stop(sprintf("'covariance' names '%s', which is not a grouping factor of the model (%s)",
                   g, paste(unique(gnames), collapse = ", ")), call. = FALSE)
    if (length(hit) > 1L || !identical(cnms[[hit]], "(Intercept)"))
      stop(sprintf("'covariance' for '%s': a known covariance needs one random-intercept term (1 | %s)",
                   g, g), call. = FALSE)
    K <- covariance[[g]]
    if (!(is.matrix(K) || inherits(K, "Matrix")) || !is.numeric(K[1, 1]))
      stop(sprintf("'covariance$%s' must be a numeric matrix (dense or sparse)", g), call. = FALSE)
    if (nrow(K) != ncol(K))
      stop(sprintf("'covariance$%s' must be square; it is %d x %d", g, nrow(K), ncol(K)),
           call. = FALSE)
    if (is.null(rownames(K)))
      stop(sprintf("'covariance$%s' needs row names: the levels of '%s' they belong to", g, g),
           call. = FALSE)
    if (anyDuplicated(rownames(K)))
      stop(sprintf("'covariance$%s' has duplicated row names", g), call. = FALSE)
    if (!is.null(colnames(K)) && !identical(colnames(K), rownames(K)))
      stop(sprintf("'covariance$%s': column names differ from row names", g), call. = FALSE)
    # A dense Matrix (nearPD()$mat, Matrix(K): dpo, dsy, dge, packed) is
    # the base matrix it stands for: the engines take a base or a sparse K.
    if (inherits(K, "Matrix") && !inherits(K, "sparseMatrix"))
      covariance[[g]] <- K <- as.matrix(K)
    # range() of the stored values: no dense copy of a sparse K, no n^2
    # logical temporary for a dense one. A sparse K's stored values leave
    # out a unit diagonal (Matrix's diag = "U", e.g. Diagonal(n)): its
    # diagonal is taken as well.
    vals <- if (inherits(K, "sparseMatrix"))
      c(methods::as(K, "CsparseMatrix")@x, as.numeric(Matrix::diag(K))) else K
    rg <- if (length(vals)) range(as.numeric(vals[1L]), vals) else c(0, 0)
    if (!all(is.finite(rg)))
      stop(sprintf("'covariance$%s' contains missing or infinite values", g), call. = FALSE)
    # A zero K is no covariance (its term's effects are all zero): named as
    # such, not left to checks further on that called it "the identity".
    if (max(abs(rg)) == 0)
      stop(sprintf(paste0("'covariance$%s' is zero: a known covariance needs positive variances on ",
                          "its diagonal (a zero one leaves the term without effects; remove the term)"),
                   g), call. = FALSE)
    dg <- as.numeric(Matrix::diag(K))
    if (min(dg) < 0)
      stop(sprintf(paste0("'covariance$%s' has negative variances on its diagonal (e.g. level '%s': %.3g); ",
                          "a covariance matrix is positive semidefinite"),
                   g, rownames(K)[which.min(dg)], min(dg)), call. = FALSE)
  }
  covariance
}

# A factor L with K = L L' (sparse Cholesky when K is positive definite,
# else from the eigen-decomposition), after checking that K is symmetric
# and positive semidefinite. A sparse K keeps a sparse factor: its
# Cholesky factor under a fill-reducing ordering, or, when K is singular,
# one eigendecomposition per connected block (sparse_singular_factor()).
covariance_factor <- function(K, g) {
  sc <- max(abs(as.numeric(Matrix::diag(K))), 1e-300)
  if (max(abs(K - Matrix::t(K))) > 1e-8 * sc)
    stop(sprintf("'covariance$%s' is not symmetric", g), call. = FALSE)
  if (inherits(K, "sparseMatrix")) {
    Ks <- Matrix::forceSymmetric(methods::as(K, "CsparseMatrix"))
    nnzL <- cpp_chol_factor_nnz(as_dgc(Ks))
    check_memory(2 * 12 * nnzL, sprintf("the sparse factor of 'covariance$%s' (%d x %d, %.3g nonzeros)",
                                        g, nrow(K), nrow(K), nnzL))
    # K = P' L L' P: the factor P' L, as sparse as the ordering allows
    ch <- tryCatch(Matrix::Cholesky(Ks, perm = TRUE, LDL = FALSE, super = FALSE),
                   error = function(e) NULL, warning = function(w) NULL)
    if (!is.null(ch))
      return(methods::as(Matrix::crossprod(methods::as(ch, "pMatrix"), methods::as(ch, "Matrix")),
                         "CsparseMatrix"))
    return(sparse_singular_factor(Ks, g))
  } else {
    R <- tryCatch(chol(unname(K)), error = function(e) NULL)
    if (!is.null(R)) return(methods::as(Matrix::Matrix(t(R), sparse = TRUE), "CsparseMatrix"))
  }
  e <- eigen(as.matrix((K + Matrix::t(K)) / 2), symmetric = TRUE)
  if (min(e$values) < -1e-8 * max(abs(e$values)))
    stop_not_semidefinite(sprintf("'covariance$%s'", g), sprintf("smallest eigenvalue %.3g", min(e$values)))
  L <- e$vectors %*% diag(sqrt(pmax(e$values, 0)), nrow(K))
  methods::as(Matrix::Matrix(L, sparse = TRUE), "CsparseMatrix")
}

# A sparse K that is not positive definite (e.g. identical twins, a
# singular genomic block): one eigendecomposition per connected block of
# its graph, so the factor is as sparse as the blocks. A block too large
# for a dense eigendecomposition is refused, saying what to give instead.
sparse_singular_factor <- function(Ks, g, max_block = 2000L) {
  comp <- cpp_sparse_components(as_dgc(Ks))
  sizes <- tabulate(comp)
  if (max(sizes) > max_block)
    stop(sprintf(paste0("'covariance$%s' is sparse but not positive definite, and one connected block ",
                        "of it has %d levels: too many for the dense eigendecomposition its factor ",
                        "then needs (at most %d); give it as kfactor(L) with K = L L', or make it ",
                        "positive definite"), g, max(sizes), max_block), call. = FALSE)
  check_memory(8 * 3 * max(sizes)^2 + 12 * sum(as.numeric(sizes)^2),
               sprintf("the factor of 'covariance$%s' by blocks (largest %d levels)", g, max(sizes)))
  ii <- jj <- integer()
  xx <- numeric()
  col0 <- 0L
  scale <- max(abs(Matrix::diag(Ks)))
  for (cc in seq_along(sizes)) {
    idx <- which(comp == cc)
    e <- eigen(as.matrix(Ks[idx, idx, drop = FALSE]), symmetric = TRUE)
    if (min(e$values) < -1e-8 * max(abs(e$values), scale))
      stop_not_semidefinite(sprintf("'covariance$%s'", g),
                            sprintf("smallest eigenvalue %.3g", min(e$values)))
    keep <- which(e$values > 1e-10 * scale)
    if (!length(keep)) next
    B <- e$vectors[, keep, drop = FALSE] %*% diag(sqrt(e$values[keep]), length(keep))
    ii <- c(ii, rep(idx, length(keep)))
    jj <- c(jj, rep(col0 + seq_along(keep), each = length(idx)))
    xx <- c(xx, as.numeric(B))
    col0 <- col0 + length(keep)
  }
  # columns beyond the rank stay empty so that the factor is square (the
  # engine's layout has one random effect per level)
  Matrix::sparseMatrix(i = ii, j = jj, x = xx, dims = c(nrow(Ks), nrow(Ks)))
}

# A grouping factor with one level per observation (among rows with positive
# weight). For gaussian data its variance is confounded with the residual
# variance: an error. From a 0/1 response it is identified only through the
# shape of the link, so the estimate is unreliable: a warning, returned for
# the fit to record (the one-factor route says the same in
# check_cluster_sizes()). Counts and other families keep it: that is the
# observation-level random effect for overdispersion.
check_obs_level_effects <- function(flist, family, weights) {
  n <- n_positive(weights)
  bern <- family$family == "binomial" && positive_weights_one(weights)
  out <- character()
  for (g in names(flist)) {
    # Fewer levels than observations: fewer in use as well.
    if (nlevels(flist[[g]]) < n) next
    if (nlevels(droplevels(flist[[g]][weights > 0])) < n) next
    if (family$family == "gaussian")
      stop(sprintf(paste0("grouping factor '%s' has as many levels as observations (%d): ",
                          "its random effect is not identifiable (it is confounded with the ",
                          "residual of the gaussian family); remove the term"), g, n),
           call. = FALSE)
    if (bern)
      out <- c(out, sprintf(paste0("every level of the grouping factor '%s' has one binary ",
                                   "observation: the random-effect variance is barely identifiable ",
                                   "(only through the shape of the link) and its estimate is unreliable"),
                            g))
  }
  out
}

# Two random-effect terms with the same columns on grouping factors that
# define the same groups (b a relabelling of a; a:b with one level of b in
# each a, as in (1 | a/b)) have the same design: only the sum of their
# covariances is identified, and the split the fit reports is arbitrary
# (lmer's convergence check notes a degenerate Hessian; here it was silent).
# Terms with covariance structures (`kind`: "us" for an unstructured one)
# are confounded when one's structure contains the other's and is closed
# under adding it (unstructured, diagonal, homogeneous diagonal): then any
# split of the sum is a fit. Two ar1() or cs() terms are not: a sum of
# two AR(1) or compound-symmetry covariances is not one of them, and its
# parts can be told apart.
check_confounded_terms <- function(re) {
  tm <- re$terms
  out <- character()
  if (length(tm) < 2L) return(out)
  lab <- function(x) {
    if (!is.null(x$label) && !identical(x$kind, "us")) return(x$label)  # ar1(0 + f | g)
    sprintf("(%s | %s)", paste(deparse(x$lhs), collapse = ""), x$group)
  }
  for (t in seq_len(length(tm) - 1L)) for (u in seq.int(t + 1L, length(tm))) {
    a <- tm[[t]]
    b <- tm[[u]]
    if (isTRUE(a$known_cov) || isTRUE(b$known_cov)) next
    if (!is.null(a$kind) && !is.null(b$kind) && !covstruct_sum_unidentified(a$kind, b$kind)) next
    # (the same expression deparses the same: deparse() only where they differ)
    if (!identical(a$cnames, b$cnames) ||
        (!identical(a$lhs, b$lhs) && !identical(deparse(a$lhs), deparse(b$lhs)))) next
    if (length(a$index) != length(b$index)) next
    na <- n_distinct_codes(a$index, length(a$levels))
    if (n_distinct_codes(b$index, length(b$levels)) != na) next
    if (n_distinct_codes(a$index + (as.numeric(b$index) - 1) * length(a$levels),
                         length(a$levels) * as.numeric(length(b$levels))) != na) next
    out <- c(out, sprintf("the random-effect terms %s and %s have the same design ('%s' and '%s' define the same groups): only the sum of their variances is identified, and the split between them is arbitrary; remove one of the terms",
                          lab(a), lab(b), a$group, b$group))
  }
  out
}

# length(unique(code)) for codes that are whole numbers from 1 to `M`: by a
# count when `M` is not much larger than the number of codes (unique() on
# n codes, three times per pair of terms, was 7% of the front end of a
# nested fit on 2,000 rows); anything else by unique().
n_distinct_codes <- function(code, M) {
  # The same count in one C++ pass (src/util/frame-columns.cpp); -1 when the
  # codes are not such codes.
  k <- cpp_n_distinct_codes(code, as.numeric(M))
  if (k >= 0L) return(k)
  if (length(code) && M <= max(4 * length(code), 1e5) && !anyNA(code) &&
      min(code) >= 1 && max(code) <= M && (is.integer(code) || all(code == trunc(code))))
    return(sum(tabulate(code, M) > 0L))
  length(unique(code))
}

# Whether the sum of two covariances of structures `k1` and `k2` on the same
# columns and groups leaves their split unidentified: the larger structure
# holds the smaller one and sums of the two.
covstruct_sum_unidentified <- function(k1, k2) {
  holds <- list(us = covstruct_kinds, diag = c("diag", "homdiag"),
                homdiag = "homdiag", homcs = c("homcs", "homdiag"),
                homtoep = c("homtoep", "homcs", "homdiag"))
  k2 %in% holds[[k1]] || k1 %in% holds[[k2]]
}
