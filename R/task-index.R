#' Which function for which question
#'
#' An index of glmmgee by the question a user has, each entry one hop from
#' the function or help topic that answers it.
#'
#' @section Which model:
#' * **Effect for a given cluster (subject-specific, conditional)**: a
#'   generalized linear mixed model, [glmm()]. Random effects as in lme4:
#'   `(1 | g)`, `(x | g)`, `(x || g)`; several grouping factors, crossed or
#'   nested: [glmm-several-terms]; adaptive quadrature for nested random
#'   intercepts: [glmm-nested].
#' * **Effect on the population average (marginal)**: generalized estimating
#'   equations, [gee()] (working correlations, sandwich and small-sample
#'   variances, [QIC()]); or the population-averaged effects implied by a
#'   GLMM, [marginal_coefs()] and [standardize()]. Both views side by side:
#'   [compare_views()], [plot_views()].
#' * **Linear mixed models by REML**: `glmm(REML = TRUE)`, see [glmm()].
#' * **Non-normal random intercepts**: `ranef_dist = "bridge"` or
#'   `"nonparametric"`, see [ranef-distributions]; their estimated
#'   distribution: [plot_ranef_dist()].
#'
#' @section Which family:
#' * Binary, binomial, counts, continuous: the [stats::family()] objects
#'   `binomial()`, `poisson()`, `gaussian()`, `Gamma()`.
#' * **Overdispersed counts**: [nbinom2()], [nbinom1()], or an
#'   observation-level random effect `(1 | obs)`; compared in
#'   [overdispersion].
#' * **Excess zeros and hurdle models**: `ziformula = ~ x` with a count
#'   family, or [truncated_poisson()], [truncated_nbinom2()],
#'   [truncated_nbinom1()]; see [glmm-zero-inflation]. Random effects in the
#'   zero part: [glmm-zi-random].
#' * **Variance that depends on covariates**: `dispformula = ~ x`, see
#'   [glmm-zero-inflation]; **or that differs by cluster** (location-scale
#'   models): `dispformula = ~ x + (1 | g)`, see [glmm-dispersion-random].
#' * **Proportions in (0, 1) and overdispersed binomial data**:
#'   [beta_family()], [betabinomial()] (see [glmmtmb_families]).
#' * **Ordered categories**: `family = cumulative()`, in [glmm()]
#'   ([ordinal-glmm], [ordinal-glmm-several-terms]) or [gee()]
#'   ([ordinal-gee], [ordinal-gee-tests]).
#'
#' A family given by a name it does not have (`"negbin"`, `"ordinal"`,
#' `"zip"`, `"beta"`) stops with an error that names the constructor to use.
#'
#' @section Which covariance:
#' * **Structured random effects**: `ar1()`, `hetar1()`, `cs()`, `homcs()`, `toep()`, `homtoep()`, `diag()`, `homdiag()`,
#'   `ou()`, `exp()`, `gau()`, `mat()` (coordinates by [numFactor()]),
#'   `propto()`, `equalto()` (a given matrix), `rr()` (reduced rank)
#'   and `us()` terms, see [covariance-structures]; for GEE the working
#'   correlation, `gee(corstr = )`.
#' * **A known covariance matrix** (kinship, spatial): `covariance = list(id
#'   = K)` in [glmm()], with K dense, sparse or given by its factor,
#'   [kfactor()].
#' * **Genomic scans**: score tests of many variants against a fitted null
#'   model, [assoc_scan()].
#'
#' @section Reporting effects:
#' * **Odds and rate ratios**, labelled conditional or marginal:
#'   [odds_ratios()], [rate_ratios()].
#' * **Standardization** (g-computation): risks under each level, risk
#'   differences and ratios, the marginal odds ratio: [standardize()].
#' * **Random-effect predictions**: [ranef.glmmgee_glmm()], [plot_ranef()],
#'   [rank_intervals()], new clusters [ranef_new()].
#' * **ICC and shares of variance**: [variance_shares()]; within- and
#'   between-cluster effects: [wb()].
#' * **Other packages** (broom, emmeans, marginaleffects, car, multcomp,
#'   lmtest, insight): [glmmgee-broom], [glmmgee-emmeans],
#'   [glmmgee-marginaleffects], [car-methods], [multcomp-methods],
#'   [lmtest-methods], [glmmgee-insight]; calls refused on purpose:
#'   [glmmgee-refused].
#'
#' @section Inference:
#' * Intervals: [confint.glmmgee_glmm()] (Wald, profile, bootstrap),
#'   [profile.glmmgee_glmm()].
#' * Tests: [anova.glmmgee_glmm()], [anova.glmmgee_gee()], information
#'   criteria [glmm-criteria]; whether a fit is REML: [isREML()].
#' * Prediction and simulation: [predict.glmmgee_glmm()],
#'   [simulate.glmmgee_glmm()], [simulate.glmmgee_gee()].
#' * GEE after the fit: small-sample variances `vcov(fit, type = )` (see
#'   [gee()]), working-correlation criteria [gee_criteria()], influence
#'   diagnostics [gee-influence] and [plot_influence()], the sandwich
#'   package's [sandwich-methods] and DHARMa's [DHARMa-methods].
#'
#' @section Diagnostics:
#' * How the fit went: [print.glmmgee_glmm()] and `summary()` print the
#'   approximation, the convergence and any warning; `fit$optinfo` records
#'   the search; `vignette("troubleshooting", package = "glmmgee")` explains
#'   each message and what to do.
#' * Separation, checks on the data and the optimum: the sections "Checks on
#'   the data" and "The optimum" of [glmm()]; the penalized fit
#'   `penalized = TRUE` ([covariance-structures]).
#' * Whether the Laplace approximation (or the fit's quadrature) is
#'   accurate enough: [loglik_check()] sets the fit's log-likelihood beside
#'   one of known error (importance sampling for several random-effect
#'   terms, many-point quadrature for one); where it is not, fit by
#'   importance sampling, `glmm_control(importance_draws = )`, or by the
#'   second-order Laplace approximation, `glmm_control(laplace_order = 2)`
#'   ([glmm-several-terms]).
#' * How many quadrature points: [default_nAGQ()]; search settings:
#'   [glmm_control()], [gee_control()].
#' * Which engine fits a model and what it can do: `fit$engine`,
#'   [engine_info()], [engine_registry()]; the model `glmm()` would fit,
#'   without fitting it: `glmm(..., doFit = FALSE)`; the fitted object's
#'   layout and `$optinfo`: [glmmgee_glmm].
#'
#' @section Large data:
#' * Threads over clusters: `glmm_control(nthreads = )`,
#'   `gee_control(threads = )`.
#' * Data split over worker processes or read by them from shard files:
#'   [glmm_shards()], [gee_shards()], `glmm_control(workers = )`.
#' * Matrix-level fitters without formulas: [glmm_fit()], [gee_fit()].
#'
#' @name glmmgee-tasks
#' @aliases glmmgee-index
#' @seealso The vignettes: `browseVignettes("glmmgee")`.
NULL
