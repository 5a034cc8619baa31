# Small-sample variance estimators of GEE coefficients computed after the
# fit from the per-cluster pieces (gee_cluster_blocks()): the
# degrees-of-freedom adjusted sandwich, Fay-Graubard, Morel-Bokossa-Neerchal,
# Pan, Gosho-Sato-Takeuchi, Wang-Long and the centred one-step jackknife.
# The engine's estimators (san.se, model, md, kc, jack, j1s, fij) stay in
# fit-gee.R; vcov() routes the names below here.

# Estimators computed here, in the order of the help page.
gee_post_se_types <- c("df", "fg", "mbn", "pan", "gst", "wl", "cjack")

# glmtoolbox's names for the same estimators.
gee_se_aliases <- c(robust = "san.se", `df-adjusted` = "df", `bias-corrected` = "md",
                    jackknife = "cjack")

# All names vcov(type = ) and gee(std.err = ) accept.
gee_all_se_types <- function() c(names(gee_se_types), gee_post_se_types, names(gee_se_aliases))

# The engine's flag of an estimator (0: always computed, or computed here).
gee_engine_flag <- function(type) if (type %in% names(gee_se_types)) gee_se_types[[type]] else 0L

gee_post_se_label <- function(type) {
  switch(type,
         df = "degrees-of-freedom adjusted sandwich",
         fg = "Fay-Graubard corrected sandwich",
         mbn = "Morel-Bokossa-Neerchal corrected sandwich",
         pan = "Pan sandwich (pooled residual covariance)",
         gst = "Gosho-Sato-Takeuchi sandwich",
         wl = "Wang-Long sandwich",
         cjack = "centred one-step jackknife")
}

# The variance of type `type` (one of gee_post_se_types) of a gee fit.
gee_post_vcov <- function(object, type) {
  what <- sprintf("vcov(type = \"%s\")", type)
  cb <- gee_cluster_blocks(object, what)
  bl <- cb$blocks; Hinv <- cb$Hinv; p <- cb$p; K <- cb$K
  sand <- function(meat) { v <- Hinv %*% meat %*% Hinv; (v + t(v)) / 2 }
  outer_sum <- function(vecs) {
    M <- do.call(rbind, vecs)
    crossprod(M)
  }
  if (K <= p && type %in% c("df", "gst", "mbn"))
    stop(sprintf("%s needs more clusters (%d) than coefficients (%d)", what, K, p), call. = FALSE)
  U <- lapply(bl, `[[`, "U")
  v <- switch(type,
    df = K / (K - p) * sand(outer_sum(U)),
    fg = {
      # Fay and Graubard (2001): U_k scaled by diag(1 - min(b, [H_kk]_jj))^{-1/2},
      # H_kk = D_k'V_k^-1 D_k H^-1, b = 0.75.
      sand(outer_sum(lapply(bl, function(b) {
        Hk <- crossprod(b$D, b$Vinv %*% b$D) %*% Hinv
        b$U / sqrt(1 - pmin(0.75, diag(Hk)))
      })))
    },
    mbn = {
      # Morel, Bokossa and Neerchal (2003), d = 2, r = 1.
      N <- cb$N
      Vlz <- sand(outer_sum(U))
      Vm <- vcov(object, type = "model")
      kk <- (N - 1) / (N - p) * K / (K - 1)
      delta <- min(0.5, p / (K - p))
      xi <- max(1, sum(diag(solve(Vm, Vlz))) / p)
      kk * Vlz + delta * xi * Vm
    },
    pan = , gst = , wl = {
      # Pan (2001): the residual covariance of each cluster replaced by the
      # pooled one, A^{1/2} W A^{1/2}, W the mean of the standardized
      # residuals' cross-products by pair of wave positions. Gosho, Sato and
      # Takeuchi (2014) divide by (clusters - p); Wang and Long (2011) pool
      # the leverage-corrected residuals (I - Q_k)^{-1} e_k.
      Tn <- max(vapply(bl, function(b) max(b$pos), 1))
      S <- C <- matrix(0, Tn, Tn)
      for (k in seq_along(bl)) {
        b <- bl[[k]]
        r <- if (type == "wl") gee_corrected_residuals(b, names(bl)[k], what) else b$e
        s <- r / sqrt(b$a)
        S[b$pos, b$pos] <- S[b$pos, b$pos] + tcrossprod(s)
        C[b$pos, b$pos] <- C[b$pos, b$pos] + 1
      }
      den <- if (type == "gst") C - p else C
      used <- C > 0
      if (any(den[used] <= 0))
        stop(sprintf("%s: a pair of wave positions occurs in %d clusters, not more than the %d coefficients",
                     what, min(C[used]), p), call. = FALSE)
      W <- S / den
      sand(Reduce(`+`, lapply(bl, function(b) {
        sa <- sqrt(b$a)
        G <- crossprod(b$D, b$Vinv)
        G %*% (W[b$pos, b$pos, drop = FALSE] * outer(sa, sa)) %*% t(G)
      })))
    },
    cjack = {
      # glmtoolbox's jackknife: sum (d_k - dbar)(d_k - dbar)' over the
      # one-step deletion changes d_k = H^-1 D_k'V_k^-1 (I - Q_k)^{-1} e_k
      # (Preisser and Qaqish, 1996).
      d <- t(vapply(seq_along(bl), function(k) {
        b <- bl[[k]]
        drop(Hinv %*% crossprod(b$D, b$Vinv %*% gee_corrected_residuals(b, names(bl)[k], what)))
      }, numeric(p)))
      if (p == 1L) d <- t(d)  # p = 1: vapply() gave a vector, t() one row
      crossprod(sweep(d, 2L, colMeans(d)))
    })
  nm <- names(object$coefficients)
  v <- unname(as.matrix(v))
  dimnames(v) <- list(nm, nm)
  v
}
