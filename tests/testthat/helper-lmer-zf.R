# lme4's fit of `formula` with the design of each term named in `Ks`
# replaced by chol(K) Z (K = F F', F' = chol(K)): the marginal model of
# glmm(covariance = Ks), fitted through lme4's modular functions. Terms not
# named keep their design (plain random effects).
lmer_zf_terms <- function(formula, d, Ks, reml) {
  lf <- lme4::lFormula(formula, d, REML = reml,
                       control = lme4::lmerControl(check.nobs.vs.nlev = "ignore",
                                                   check.nobs.vs.nRE = "ignore"))
  mk <- function(Z) methods::as(methods::as(Matrix::Matrix(Z, sparse = TRUE), "generalMatrix"),
                                "CsparseMatrix")
  Zs <- lapply(lf$reTrms$Ztlist, as.matrix)
  for (g in names(Ks)) {
    k <- match(g, names(lf$reTrms$cnms))
    Zs[[k]] <- chol(Ks[[g]] + diag(1e-12, nrow(Ks[[g]]))) %*% Zs[[k]]
  }
  lf$reTrms$Ztlist <- lapply(Zs, mk)
  lf$reTrms$Zt <- mk(do.call(rbind, Zs))
  dev <- do.call(lme4::mkLmerDevfun, lf)
  lme4::mkMerMod(environment(dev), lme4::optimizeLmer(dev), lf$reTrms, fr = lf$fr)
}
