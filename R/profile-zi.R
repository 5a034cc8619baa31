# Profiles of zero-inflated, hurdle and dispersion-formula fits with one
# grouping factor (several terms: zi_sparse_profile_engine()): the fit's
# engine rebuilt from the stored designs, on the parameterization
# theta = (beta, Lambda's free entries, zero part, dispersion) of the
# vector the fit reports, the conditional part's beta on profile_design()'s
# scale (profile_engine() for the interface). With random
# effects in the zero part, the engine of both parts' random effects
# (src/engines/agq/agq-zero-re.h), at the fit's rule.
# `zbasis`: the conditional part's random effects on the basis G
# (profile-z-basis.R, basis_engine()).
zi_profile_engine <- function(fit, zbasis = NULL) {
  a <- fit$aux
  if (!is.null(fit$penalty))
    stop("profile likelihoods are not available for penalized fits (the profile would drop the prior); use confint(method = \"Wald\")",
         call. = FALSE)
  if (isTRUE(a$sparse)) return(zi_sparse_profile_engine(fit, zbasis))
  fam <- fit$family
  n <- length(fit$y)
  X <- fit$X
  storage.mode(X) <- "double"
  Z <- fit$Z %||% matrix(1, n, 1L)
  storage.mode(Z) <- "double"
  # (With random effects in the zero part, G's rows after the
  # conditional part's are the zero part's: zr$Z's basis.)
  q1 <- seq_len(ncol(Z))
  if (!is.null(zbasis)) Z <- Z %*% zbasis$G[q1, q1, drop = FALSE]
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  off <- as.numeric(fit$offset %||% rep(0, n))
  M <- length(fit$group_levels)
  disp <- !is.null(a$disp_index)
  Xd <- if (disp) a$disp$X %||% matrix(1, n, 1L)
  Xz <- a$zi$X
  ad <- profile_aux_design(fit, X, Xz, Xd)
  X <- ad$X
  Xz <- ad$Xz
  Xd <- ad$Xd
  zr <- a$zi$re
  # The three parts' offsets (the zero and dispersion parts' offset() terms).
  aoff3 <- cbind(off, a$zi$offset %||% 0, if (disp) a$disp$offset %||% 0 else 0)
  if (!is.null(zr)) {
    pat <- zr$pattern_full
    Xd0 <- Xd %||% matrix(0, n, 0L)
    storage.mode(Xd0) <- "double"
    Zz <- zr$Z * 1
    if (!is.null(zbasis)) Zz <- Zz %*% zbasis$G[-q1, -q1, drop = FALSE]
    eng <- cpp_zire_new(X, Z, Zz, Xz * 1, Xd0, y, w, aoff3, fit$group, M,
                        pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                        aux_kind_code(a$kind, fam), 1L, 1L)
    cpp_zire_set_nagq(eng, as.integer(fit$nAGQ))
    ev <- function(th) cpp_zire_eval(eng, th, TRUE)
    free <- function() NULL
  } else {
    pat <- fit$pattern
    eng <- cpp_agq_new(X, Z, y, w, off, fit$group, M, pat$row - 1L, pat$col - 1L,
                       fam$family_code, fam$link_code, as.integer(fit$nAGQ), 1L)
    pz <- if (is.null(Xz)) 0L else ncol(Xz)
    pd <- if (disp) ncol(Xd) else 0L
    XA <- cbind(Xz, Xd) %||% matrix(0, n, 0L)
    storage.mode(XA) <- "double"
    # A zero-truncated fit without a ziformula has zero probability 0
    # (offset -Inf on the logit scale), as glmm_zi() fits it.
    offz <- if (a$kind == "hurdle" && !pz) rep(-Inf, n)
            else if (a$kind != "disp") a$zi$offset %||% rep(0, n)
    aoff <- cbind(offz, if (disp) a$disp$offset %||% rep(0, n)) %||% matrix(0, n, 0L)
    storage.mode(aoff) <- "double"
    pred <- c(rep(0L, pz), rep(if (a$kind == "disp") 0L else 1L, pd))
    cpp_agq_set_aux(eng, aux_kind_code(a$kind, fam), XA, pred, aoff)
    ev <- function(th) cpp_agq_eval(eng, th, TRUE)
    free <- function() cpp_agq_free(eng)
  }
  P <- length(fit$theta)
  nl <- length(pat$row)
  p <- length(fit$coefficients)
  check_rebuilt_engine(ev, fit, free, ad$Tx, zbasis)
  list(eval = ev, lower = c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf),
                            rep(-Inf, P - p - nl)),
       free = free, Tx = ad$Tx)
}

# The zero and dispersion parts' designs on profile_design()'s scale too
# (with z * 1e-6 - 5 in the zero part its coefficient's interval was 1e-5
# of its width): list(X, Xz, Xd) and Tx, the block-diagonal T over the
# positions in theta (attribute "pos") of the coefficients of every part
# whose design is transformed (NULL when none is).
profile_aux_design <- function(fit, X, Xz, Xd) {
  a <- fit$aux
  parts <- list(list(X = X, pos = seq_len(ncol(X))),
                list(X = Xz, pos = a$zi_index), list(X = Xd, pos = a$disp_index))
  tx <- lapply(parts, function(pt)
    if (!is.null(pt$X) && ncol(pt$X) && ncol(pt$X) == length(pt$pos))
      lmm_design_transform(pt$X))
  used <- !vapply(tx, function(t) is.null(t) || isTRUE(t$identity), TRUE)
  out <- lapply(seq_along(parts), function(k) if (used[k]) tx[[k]]$M else parts[[k]]$X)
  names(out) <- c("X", "Xz", "Xd")
  if (any(used)) {
    Tx <- as.matrix(Matrix::bdiag(lapply(tx[used], `[[`, "T")))
    attr(Tx, "pos") <- unlist(lapply(parts[used], `[[`, "pos"))
    out$Tx <- Tx
  }
  out
}
