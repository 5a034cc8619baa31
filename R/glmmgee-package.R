#' glmmgee: GLMMs and GEE for clustered data
#'
#' Two questions for clustered data from one package. [glmm()] fits
#' generalized linear mixed models by maximum likelihood, integrating the
#' random effects out by the Laplace approximation or adaptive Gauss-Hermite
#' quadrature: its coefficients are conditional (subject-specific) effects.
#' [gee()] fits generalized estimating equations with a working correlation
#' and a sandwich variance: its coefficients are population-averaged effects.
#'
#' Which function answers which question (GLMM or GEE, families, zero
#' inflation, ordinal responses, covariance structures, known covariances,
#' genomic scans, workers, diagnostics): [glmmgee-tasks].
#'
#' The vignettes: `vignette("two-questions", package = "glmmgee")` (the two
#' kinds of effect on one trial, and how to choose),
#' `vignette("gee", package = "glmmgee")` (population-averaged models:
#' working correlations, dropout at random and weighted GEE),
#' `vignette("reporting-effects", package = "glmmgee")` (odds and rate
#' ratios, standardized risks, random-effect predictions),
#' `vignette("troubleshooting", package = "glmmgee")` (warnings, singular
#' fits, separation and what `$optinfo` records),
#' `vignette("accuracy-speed", package = "glmmgee")` (comparisons with lme4,
#' glmmTMB, GLMMadaptive and geepack),
#' `vignette("engine", package = "glmmgee")` (what the C++ engine computes),
#' `vignette("ecosystem", package = "glmmgee")` (broom, emmeans,
#' marginaleffects, modelsummary and the insight family on glmmgee fits),
#' `vignette("ranef-distribution", package = "glmmgee")` (bridge and
#' nonparametric random intercepts),
#' `vignette("genomic", package = "glmmgee")` (known covariances and
#' genomic scans), `vignette("distributed", package = "glmmgee")`
#' (fitting on worker processes),
#' `vignette("gee-inference", package = "glmmgee")` (small-sample variances,
#' influence diagnostics and the choice of a working correlation for GEE);
#' `vignette("robust-inference", package = "glmmgee")` (cluster-robust
#' standard errors of GLMMs, CR0 to CR3, and when they differ from the
#' model's).
#' For maintainers, `vignette("hacking", package = "glmmgee")` (the stages of
#' a fit and the files behind them; how to add a family, a covariance
#' structure or an engine).
#'
#' @keywords internal
#' @useDynLib glmmgee, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @importFrom stats coef vcov fitted residuals predict nobs logLik formula AIC BIC
#'   update model.matrix model.frame terms delete.response na.omit pnorm qnorm
#'   pchisq dnorm gaussian weights df.residual deviance extractAIC
"_PACKAGE"
