# Structured two-part fits by adaptive quadrature (two_part_covstruct_fit()
# with nAGQ > 1): every random-effect term on one grouping factor, the
# structures' Lambda entries mapped onto a one-factor engine. With random
# effects in the conditional part only, the one-factor GLMM engine with the
# zero and dispersion parts as its auxiliary predictors; with random effects
# in the zero or dispersion part too, the one-factor two-part engine
# (src/engines/agq/agq-zero-re.h), whose further random predictors they are.

# The one-factor engine (adaptive quadrature with `nAGQ` points) of a
# structured two-part fit whose random-effect terms `rc` all lie in the
# conditional part on one grouping factor, with the zero and dispersion
# parts as its auxiliary predictors: its parameters are the sparse
# engine's (fixed effects, each term's Lambda entries in turn, the parts'
# coefficients), on Lambda block-diagonal over the terms. Returns the
# engine, its evaluation and modes(theta_s, lambda, Xs, offset), the modes'
# summaries in two_part_structure_modes()'s layout.
two_part_structure_agq <- function(Xs, Xzs, Xds, y, weights, offset, offz, offd, rc, family, kind,
                                   nAGQ, nthreads, disp_part = ncol(Xds) > 0L) {
  n <- length(y)
  grp <- rc$terms[[1L]]
  q <- sum(term_sizes(rc))
  check_nAGQ(nAGQ, q)
  ai <- two_part_aux_inputs(Xzs, Xds, offz, offd, kind, n, disp_part)
  eng <- structure_agq_new(Xs, y, weights, offset, rc, family, nAGQ, nthreads,
                           aux_kind_code(kind, family), ai)
  modes <- function(theta_s, lambda, Xs, offset) {
    s <- cpp_agq_summaries(eng, theta_s)
    Lam <- matrix(0, q, q)
    Lam[structure_agq_pattern(rc)] <- lambda
    terms <- agq_term_summaries(rc, 0L, Lam, s, seq_along(grp$levels))
    b <- term_modes(terms, ncol(rc$Z))
    list(modes = list(eta = drop(Xs %*% theta_s[seq_len(ncol(Xs))]) + offset +
                        as.numeric(rc$Z %*% b), b = b),
         terms = terms, zterms = NULL, zre = offz, m = NULL,
         cluster_loglik = stats::setNames(s$loglik, grp$levels))
  }
  list(eng = eng, engine_eval = function(theta, grad) cpp_agq_eval(eng, theta, grad),
       modes = modes)
}

# The positions (row, column) in the one-factor engine's Lambda of the
# entries of theta's Lambda part for the terms `rc`: each term's lower
# triangle by columns, the terms' blocks on the diagonal in turn.
structure_agq_pattern <- function(rc) {
  sizes <- term_sizes(rc)
  first <- c(0L, cumsum(sizes))
  do.call(rbind, lapply(seq_along(sizes), function(k)
    first[k] + which(lower.tri(diag(sizes[k]), diag = TRUE), arr.ind = TRUE)))
}

# The one-factor engine on the terms `rc` (all on one grouping factor) in
# the sparse engine's parameters (Lambda's entries term by term, on the
# block-diagonal Lambda), with the auxiliary predictors `ai`
# (two_part_aux_inputs(); `kind` their engine code). Shared by the fit and
# the engines its profile and robust covariances rebuild.
structure_agq_new <- function(Xs, y, weights, offset, rc, family, nAGQ, nthreads, kind, ai) {
  grp <- rc$terms[[1L]]
  pat <- structure_agq_pattern(rc)
  eng <- cpp_agq_new(Xs, row_re_covariates(rc), as.numeric(y), as.numeric(weights),
                     as.numeric(offset), grp$index, length(grp$levels), pat[, 1L] - 1L,
                     pat[, 2L] - 1L, family$family_code, family$link_code, as.integer(nAGQ),
                     nthreads)
  cpp_agq_set_aux(eng, kind, ai$XA, ai$pred, ai$aoff)
  eng
}

# The one-factor two-part engine (adaptive quadrature with `nAGQ` points)
# of a structured fit with random effects in the zero or dispersion part
# too, all on one grouping factor: `rt` two_part_structure_terms()'s terms
# (rc the mean's, rz the zero part's or, with kind "disp_re", "zi_disp_re"
# or "hurdle_disp_re", the dispersion's, rd the dispersion's beside the zero
# part's), `kind` the two-part kind. Its parameters are the sparse engine's
# (fixed effects, each term's Lambda entries in turn, the zero part's then
# the dispersion's coefficients); the engine itself puts the dispersion's
# before the zero part's where the dispersion is its second random
# predictor (kinds 5 and 6), which evaluation maps. Returns the engine, its
# evaluation engine_eval(theta, grad), modes(theta_s, lambda, Xs, offset)
# in two_part_structure_modes()'s layout and the group's `index`.
two_part_structure_zi_random_agq <- function(Xs, Xzs, Xds, y, weights, offset, offz, offd, rt, family,
                                        kind, nAGQ, nthreads) {
  q <- sum(term_sizes(rt$re))
  check_nAGQ(nAGQ, q)
  zdre <- kind %in% c("zi_disp_re", "hurdle_disp_re")
  # (kinds 4 to 6: the dispersion's design and offset in the engine's
  # second slot, the zero part's in its third)
  za <- structure_zi_random_agq_new(Xs, if (zdre) Xds else Xzs, if (zdre) Xzs else Xds, y, weights,
                               cbind(offset, if (zdre) offd else offz, if (zdre) offz else offd),
                               rt, family, aux_kind_code(kind, family), nAGQ, nthreads)
  eng <- za$eng
  to_engine <- zi_random_agq_order(ncol(Xs) + nrow(za$pattern), ncol(Xzs), ncol(Xds), zdre)
  engine_eval <- function(theta, grad) {
    r <- cpp_two_part_eval(eng, theta[to_engine], grad)
    if (grad) r$gradient[to_engine] <- r$gradient
    r
  }
  parts <- list(rt$rc, rt$rz, rt$rd)
  firsts <- cumsum(c(0L, vapply(parts, function(r) if (is.null(r)) 0L else sum(term_sizes(r)),
                                1L)))
  modes <- function(theta_s, lambda, Xs, offset) {
    s <- cpp_two_part_summaries(eng, theta_s[to_engine])
    Lam <- matrix(0, q, q)
    Lam[za$pattern] <- lambda
    tms <- lapply(1:3, function(k) if (!is.null(parts[[k]]))
      agq_term_summaries(parts[[k]], firsts[k], Lam, s, seq_along(za$levels)))
    bs <- lapply(1:3, function(k)
      if (!is.null(parts[[k]])) term_modes(tms[[k]], ncol(parts[[k]]$Z)))
    link_re <- function(k) if (is.null(parts[[k]])) 0 else as.numeric(parts[[k]]$Z %*% bs[[k]])
    zero_random <- !kind %in% c("disp_re", "zi_disp_re", "hurdle_disp_re")
    list(modes = list(eta = drop(Xs %*% theta_s[seq_len(ncol(Xs))]) + offset + link_re(1L),
                      b = unlist(bs)),
         terms = tms[[1L]] %||% list(), zterms = tms[[2L]], dterms = tms[[3L]],
         zre = offz + if (zero_random) link_re(2L) else 0, m = NULL,
         cluster_loglik = stats::setNames(s$loglik, za$levels))
  }
  list(eng = eng, engine_eval = engine_eval, modes = modes, index = za$index)
}

# The one-factor two-part engine on the terms `rt` (two_part_structure_zi_random_agq()),
# in its own parameter order (the second random predictor's coefficients
# before the third's): `X2`, `X3` the designs of its second and third
# predictors, `off3` the three predictors' offsets (n x 3), `kind` its
# code. Shared by the fit and the engines its profile and robust
# covariances rebuild (structured_zi_random_agq_rebuild()). Returns the engine,
# Lambda's `pattern` (structure_agq_pattern()), the group's `index` and
# `levels`.
structure_zi_random_agq_new <- function(Xs, X2, X3, y, weights, off3, rt, family, kind, nAGQ,
                                   nthreads) {
  n <- length(y)
  grp <- (if (length(rt$rc$terms)) rt$rc else rt$rz)$terms[[1L]]
  three <- !is.null(rt$rd)
  pat <- structure_agq_pattern(rt$re)
  storage.mode(X2) <- storage.mode(X3) <- storage.mode(off3) <- "double"
  eng <- cpp_two_part_new(Xs, mean_re_covariates(rt$rc, n),
                      cbind(row_re_covariates(rt$rz), if (three) row_re_covariates(rt$rd)), X2, X3,
                      as.numeric(y), as.numeric(weights), off3, grp$index, length(grp$levels),
                      pat[, 1L] - 1L, pat[, 2L] - 1L, family$family_code, family$link_code,
                      as.integer(kind), 1L, nthreads,
                      if (three) sum(term_sizes(rt$rz)) else -1L)
  cpp_two_part_set_nagq(eng, as.integer(nAGQ))
  list(eng = eng, pattern = pat, index = grp$index, levels = grp$levels)
}

# The positions in a structured two-part fit's engine parameters (fixed
# effects and Lambda entries `nb`, zero part's `pz` and dispersion's `pd`
# coefficients) of the one-factor two-part engine's, which puts the
# dispersion's first where it is the second random predictor (`zdre`).
zi_random_agq_order <- function(nb, pz, pd, zdre)
  if (zdre) c(seq_len(nb), nb + pz + seq_len(pd), nb + seq_len(pz)) else seq_len(nb + pz + pd)

# The engine of a structured two-part fit by quadrature with random effects
# in the zero or dispersion part, rebuilt on the fit's terms `re`
# (zi_random_combined_re(), split into its parts by term_parts()) and the
# designs of profile_aux_inputs() `ax`, for the profile and the
# cluster-robust covariances: its evaluation in the fit's parameter order
# and its clusters' scores summed into the user's (`split`, as
# dispre_agq_engine()'s).
structured_zi_random_agq_rebuild <- function(fit, re, ax) {
  n <- length(fit$y)
  tp <- term_parts(re)
  part <- function(k) if (any(tp == k)) list(terms = re$terms[tp == k], Z = re$Z)
  rt <- list(rc = part(1L) %||% list(terms = list(), Z = re$Z), rz = part(2L), rd = part(3L),
             re = re)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  za <- structure_zi_random_agq_new(ax$X, ax$Xz0, ax$Xd0, fit$y, w, ax$off3, rt, fit$family, ax$kind,
                               fit$nAGQ, 1L)
  nb <- ncol(ax$X) + nrow(za$pattern)
  pz <- ncol(ax$Xz0)
  pd <- ncol(ax$Xd0)
  zdre <- ax$kind %in% c(5L, 6L)
  # (kinds 5 and 6: the engine's second predictor is the dispersion, whose
  # coefficients theta puts after the zero part's)
  ord <- zi_random_agq_order(nb, if (zdre) pd else pz, if (zdre) pz else pd, zdre)
  eval <- function(th) {
    r <- cpp_two_part_eval(za$eng, th[ord], TRUE)
    r$gradient[ord] <- r$gradient
    r
  }
  split <- one_factor_score_split(za$index, length(za$levels), w, function(th) {
    E <- cpp_two_part_scores(za$eng, th[ord])
    E[, ord] <- E
    E
  })
  list(eval = eval, split = split)
}
