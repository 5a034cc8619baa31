#' Generalized linear mixed models by maximum likelihood
#'
#' Fits a GLMM by maximum likelihood. With one grouping factor the random
#' effects are integrated out by the Laplace approximation (`nAGQ = 1`) or by
#' adaptive Gauss-Hermite quadrature (`nAGQ > 1`), centred and scaled at each
#' cluster's posterior mode and curvature; with several grouping factors
#' (nested, crossed) or a known covariance, by the Laplace approximation over
#' all random effects at once, with sparse matrices (see
#' [glmm-several-terms]). The coefficients are
#' **conditional (subject-specific)** effects: the change in the linear
#' predictor for a given cluster, holding its random effect fixed. For the
#' population-averaged effect of a covariate see [gee()].
#'
#' **Conditional versus marginal.** With the identity link the
#' coefficients are also the population-averaged effects. With a logit,
#' probit, log or cloglog link they are not: averaging over the random
#' effects flattens the curve, so the population-averaged effect of a
#' covariate is closer to zero. For a random-intercept probit model the
#' marginal coefficients are exactly \eqn{\beta / \sqrt{1 + \sigma^2}};
#' for the logit link \eqn{\beta / \sqrt{1 + c^2 \sigma^2}},
#' \eqn{c = 16\sqrt{3}/(15\pi)}, is a close approximation (Zeger, Liang and
#' Albert, 1988). `exp(fixef(fit))` are therefore conditional odds (or rate)
#' ratios: [odds_ratios()] and [rate_ratios()] report them with intervals,
#' [marginal_coefs()] gives the population-averaged coefficients the fitted
#' model implies, [standardize()] population-averaged risks and their
#' contrasts, and [compare_views()] both views beside a [gee()] fit. The
#' vignette `vignette("two-questions", package = "glmmgee")` explains the
#' difference.
#'
#' Random effects use lme4's syntax: `(1 | g)` a random intercept,
#' `(1 + x | g)` correlated intercept and slope (unstructured covariance),
#' `(1 + x || g)` uncorrelated ones (diagonal covariance); several terms on
#' the same grouping factor form a block-diagonal covariance. A grouping
#' factor may be an interaction, `(1 | a:b)` (the combinations of `a` and `b`,
#' whatever their type), a nesting, `(1 | a/b)` for `(1 | a) + (1 | a:b)`, or
#' an expression evaluated in the data, `(1 | I(g %% 5))`. Its levels are
#' labels: all rows with the same label are one cluster wherever they are,
#' so ids numbered within another grouping (patients 1, 2, ... in each
#' centre) need `(1 | centre:id)`; numeric ids are compared by their labels
#' to 15 significant digits (as [factor()] does, and [gee()] for its `id`).
#' **Group-specific variances**: with 0/1 indicators `gA`, `gB` of two
#' groups of observations (say, two arms), `(0 + gA + gB || id)` gives each
#' group its own random-intercept variance (and `(0 + gA + gB | id)` adds
#' their correlation), as in lme4; the indicators must be numeric columns,
#' because a factor inside `||` is not split into uncorrelated terms.
#'
#' The log-likelihood is the full one, with every normalizing constant
#' (binomial coefficients, \eqn{\log y!}, \eqn{2\pi}), so it is comparable
#' across `nAGQ`, families and packages. lme4 reports the same value at
#' `nAGQ = 1` for the canonical links (logit, log); for probit and cloglog its
#' Laplace approximation takes the curvature from the expected rather than
#' the observed information, so its value and estimates differ slightly,
#' while ours is the Laplace approximation proper. lme4's values for
#' `nAGQ > 1` are relative to the saturated model. The gradient
#' of the approximated log-likelihood is exact (it accounts for how the modes
#' and curvatures move with the parameters) and the standard errors come
#' from the Hessian of the marginal log-likelihood over the fixed effects and
#' the covariance parameters.
#'
#' @param formula A two-sided formula with fixed effects and at least one
#'   random-effects term, e.g. `y ~ x + (1 | g)`. Offsets may be given as
#'   `offset()` terms. A character string holding a formula is accepted (as
#'   by [lm()]; also for `ziformula` and `dispformula`): it is made a formula
#'   in the caller's environment, and stored as one in the fit's call.
#' @param data A data frame holding the variables.
#' @param family A family object, a family function or its name, as in
#'   [glm()]: `gaussian` (identity, log), `binomial` (logit, probit, cloglog,
#'   cauchit, log), `poisson` (log), [nbinom2()] (log; negative binomial with
#'   \eqn{\theta} estimated), `Gamma` (log, inverse, identity; shape
#'   estimated), or glmmTMB's [nbinom1()], [beta_family()] and
#'   [betabinomial()] (dispersion \eqn{\phi} estimated). A binomial or
#'   beta-binomial
#'   response may be 0/1, logical, a two-level factor (the first level is
#'   failure), a proportion with `weights` as the numbers of trials, or
#'   `cbind(successes, failures)`; a negative binomial one must hold
#'   non-negative whole numbers, a Gamma one positive numbers. For overdispersed
#'   counts see [overdispersion]. [cumulative()] fits a cumulative link
#'   mixed model to an ordinal response (see [ordinal-glmm]).
#'   `binomial("log")` gives log relative risks, conditional on the random
#'   effects; \eqn{\exp(\eta) \le 1} bounds the parameter space: the start
#'   is a log-binomial GLM kept inside it, the likelihood is cut at
#'   \eqn{\exp(\eta) = 1} (an adaptive quadrature node beyond it counts
#'   zero, so quadrature converges slowly in `nAGQ`: 0.004 off the exact
#'   log-likelihood at 25 nodes in the tests), and a fit whose linear predictor reaches 0 warns (recorded in
#'   `$optinfo$warnings`): its estimates are constrained and its Wald standard
#'   errors unreliable. `simulate()` sets a probability pushed past 1 by new
#'   random effects to 1, with a warning.
#' @param weights Prior weights (numbers of trials for a binomial
#'   proportion); evaluated in `data`.
#' @param offset An offset for the linear predictor, added to any `offset()`
#'   terms; evaluated in `data`. With `ziformula` or `dispformula` it is the
#'   conditional (count) part's offset only, as glmmTMB's `offset`
#'   argument: an offset in the zero or dispersion part is an `offset()`
#'   term of that formula.
#' @param subset,na.action As in [glm()]. Rows with missing values in any
#'   variable of the model are removed by the default `na.omit`.
#' @param nAGQ Quadrature points per random effect: 1 is the Laplace
#'   approximation, larger values adaptive Gauss-Hermite quadrature on a
#'   product grid. By default [default_nAGQ()]: 11 for one random effect,
#'   fewer as the dimension grows, 1 for gaussian models (exact). With several terms the
#'   default is 1; `nAGQ > 1` is available for nested random intercepts (slopes or a structure
#'   at the innermost level) by multilevel quadrature (see [glmm-nested]), and for random effects in `dispformula` on the mean's grouping
#'   factor or alone, with the zero part's on that factor too ([glmm-dispersion-random]; default Laplace).
#' @param control Settings from [glmm_control()].
#' @param start Optional starting values; see [glmm_fit()]. With `ziformula`,
#'   `dispformula` or a hurdle family: a vector laid out as such a fit's
#'   `$theta` (fixed effects, covariance parameters of the count part's then
#'   the zero or dispersion part's terms, zero and dispersion coefficients),
#'   e.g. from an earlier fit; with covariance structures, laid out as such a
#'   fit's `$theta_structure` ([covariance-structures]).
#' @param REML For gaussian identity-link models: `TRUE` for restricted
#'   maximum likelihood, as `lme4::lmer()`'s default; `FALSE` (the default
#'   here) for maximum likelihood. With one grouping factor lmer's REML
#'   criterion is maximized directly (per-cluster closed forms and the exact
#'   gradient in C++, no ML fit first; `start` and `nAGQ` are not used); with
#'   several terms (crossed, nested, random slopes) lmer's profiled criterion
#'   of the penalized least squares formulation is minimized over the
#'   relative covariance factor alone (a sparse Cholesky factorization), from lme4's start or from
#'   `start` (the several-terms engine's vector: fixed effects, the free entries of
#'   \eqn{\Lambda}, log sigma; only \eqn{\Lambda / \sigma} is used); gaussian ML fits with
#'   several unstructured terms and no `start` take the same route, and so
#'   do REML fits with covariance structures (`ar1()`, `cs()`, ...) on one
#'   grouping factor or several ([covariance-structures]). Gaussian
#'   ML fits with one grouping factor (no `start`, `nAGQ` 1, no workers)
#'   minimize lmer's profiled ML criterion by the same C++ search as REML,
#'   then take the modes from the exact Laplace engine and the exact Hessian
#'   from per-cluster sums; when that search ends at a variance of zero they go to
#'   the engine's own search and boundary verification (all of them with
#'   `options(glmmgee.lmm_profiled = FALSE)`).
#'   With structured terms (`ar1()`, `cs()`, `diag()`, `homdiag()`; see [covariance-structures]) beside
#'   others, REML minimizes the same profiled criterion over each
#'   structure's parameters relative to sigma (exact gradient through the
#'   Cholesky factor's Jacobian), with restarts from the interior when a
#'   variance ends at zero or a correlation at its limit (recorded in
#'   `$optinfo$boundary_check`); ML fits of such models take the sparse
#'   Laplace route (exact for gaussian models) unless
#'   `options(glmmgee.covstruct_profiled = TRUE)` selects the profiled one.
#'   `logLik()` is then the restricted log-likelihood (as lmer's),
#'   `logLik(fit, REML = FALSE)` the log-likelihood at the REML estimates, and
#'   [anova()] between fits with different fixed effects refits them by ML.
#'   Models whose one term `(1 | id)` has a known covariance are fitted exactly
#'   (a tridiagonal reduction of a dense `K`, a thin decomposition of [kfactor()]'s
#'   factor, a sparse Cholesky factor of a sparse `K`; [glmm-several-terms]). With a `dispformula` of fixed
#'   effects (nlme's `varIdent()`; `~ 0` beside `equalto()` for a
#'   meta-analysis) or `equalto()` terms, the restricted likelihood is
#'   maximized jointly with the fixed effects at GLS (lme4's, nlme's and
#'   glmmTMB's criterion; `vcov()` nlme's \eqn{(X'V^{-1}X)^{-1}}); there
#'   `start` and robust covariances are not available. Other families and
#'   links are refused. print() states the criterion; see [isREML()].
#' @param ziformula A one-sided formula for the logit of the probability of a
#'   structural zero (zero-inflated poisson, [nbinom2()], [nbinom1()] or
#'   binomial responses; binomial: \eqn{P(0) = \pi + (1-\pi)(1-p)^n}), or, with
#'   the [truncated_poisson()] / [truncated_nbinom2()] / [truncated_nbinom1()]
#'   families, of the zero
#'   probability of a hurdle model; as glmmTMB's argument of that name.
#'   It may hold random-effect terms in lme4 syntax (poisson, nbinom2 and
#'   nbinom1, zero-inflated or hurdle), independent of the conditional part's: on
#'   the conditional part's single grouping factor, e.g. `~ x + (1 | g)`,
#'   by Laplace or adaptive quadrature; any other terms (several terms,
#'   slopes, crossed or nested factors, other factors than the conditional
#'   part's, beside several conditional terms) by the Laplace approximation
#'   of the two-part sparse engine; see [glmm-zi-random]. Covariance
#'   structures are taken here as in `formula`, e.g. `~ x + ar1(0 + t | g)`
#'   (Laplace; see [covariance-structures]). The random effects of a model
#'   may all be here, with none in `formula` (`y ~ x`, `ziformula = ~ z +
#'   (1 | g)`; Laplace).
#'   `offset()` terms are added to the logit of the zero probability, as
#'   in glmmTMB: e.g. `~ offset(log(t))` (an intercept and the offset: the
#'   odds of a zero proportional to `t`) or `~ x + offset(log(t))`;
#'   `predict(newdata =)` evaluates them on the new data. They must be
#'   finite numbers; rows with a missing value are removed by `na.action`,
#'   as for every variable of the model. A part with an offset and no
#'   coefficient (`~ 0 + offset(o)`) is refused.
#' @param zi_correlated With random effects in `ziformula`: `FALSE` (the
#'   default, glmmTMB's model) makes them independent of the conditional
#'   part's, with their own covariance; `TRUE` (GLMMadaptive's model with
#'   `zi_random`) gives both parts' random effects one unstructured
#'   covariance, correlations across the parts included; it is fitted by
#'   adaptive quadrature only (`nAGQ` > 1, by default 7 points per effect for
#'   two random intercepts; see [glmm-zi-random] for why not Laplace).
#' @param dispformula A one-sided formula for the log of the dispersion (gaussian
#'   \eqn{\sigma}, nbinom2 \eqn{\theta}, Gamma shape, nbinom1, beta and
#'   beta-binomial \eqn{\phi}), which then varies by observation; `~ 1` (the default) is one dispersion.
#'   `offset()` terms are added to that log, as in glmmTMB (e.g.
#'   `~ g + offset(log(n))`; gaussian: to \eqn{\log\sigma}, where glmmTMB
#'   1.1.5 adds them to \eqn{\log\sigma^2}). Random-effect terms such as
#'   `~ arm + (1 | clinic)` give each level its own dispersion, a
#'   location-scale model ([glmm-dispersion-random]); `formula` then needs no random-effect term
#'   of its own. `~ 0 + offset(log_d)` holds each row's dispersion at a known value, and `~ 0`
#'   removes a gaussian model's residual variance, as in glmmTMB ([glmm-known-dispersion]).
#' @param covariance Known-covariance random effects: a named list of
#'   matrices, e.g. `list(id = K)`, giving the random intercept of `(1 | id)`
#'   the covariance \eqn{\sigma^2 K} over the levels of `id` (a kinship or
#'   genomic relationship matrix, a spatial covariance). `K` is dense or
#'   sparse, symmetric positive (semi)definite, with row names naming the
#'   levels (it may have more rows than the data has levels), or given by
#'   its factor with [kfactor()]. See [glmm-several-terms]. A binomial
#'   (logit) or Poisson (log) model whose one term `(1 | id)` has a dense
#'   `K` or a factor is fitted by a dense Laplace engine in the space of the
#'   factor (`K` is never formed; the log-likelihood is the Laplace one, as
#'   `glmer()` reports it for the design \eqn{ZL}). A dense `K` of lower
#'   rank \eqn{r} (a genomic relationship matrix from fewer variants than
#'   people) is found to be so by a pivoted Cholesky factorization, and the
#'   fit then costs \eqn{n r^2} per evaluation instead of \eqn{n^3}; a
#'   full-rank dense `K` of 2,000 levels or more whose fit is forecast to
#'   take over a minute is announced by a message giving the time and memory
#'   it will take and how to give `K` by a factor instead. A sparse `K` keeps the
#'   sparse engine, with a sparse factor of `K`. Several terms with sparse
#'   `K` (e.g. a pedigree and a compactly supported spatial covariance on the
#'   same cells) stay sparse end to end: gaussian models by a sparse
#'   Cholesky factorization of the marginal covariance (exact ML or REML),
#'   other families by the sparse Laplace engine. In a gaussian model a
#'   plain random intercept `(1 | g)` beside the known-covariance terms is
#'   one with `K` the identity over the levels of `g` (exact ML or REML, the
#'   sparse route when every given `K` is sparse, otherwise the dense route
#'   if its n x n matrices fit in memory); a random slope `(x | g)` beside
#'   them sends the model to the sparse Laplace engine, whose likelihood is
#'   exact for the gaussian family (ML only). The memory a fit needs is
#'   estimated before it is allocated and a request that cannot fit (or
#'   exceeds `options(glmmgee.memory_limit =)`, in bytes) is refused with
#'   the size it needs.
#' @param ranef_dist The distribution of a random intercept on one grouping
#'   factor: `"normal"` (the default), `"bridge"` (logit link; marginal
#'   coefficients exactly \eqn{\phi\beta}) or `"nonparametric"` (mass
#'   points), or `list("nonparametric", k = 3)`. See [ranef-distributions].
#' @param penalized `FALSE` (maximum likelihood), `TRUE`, or a list with
#'   any of `pen_mu`, `pen_sigma`, `pen_df`: a multivariate Student-t prior on
#'   the fixed effects (default location 0, scale 1, 3 degrees of freedom), as
#'   GLMMadaptive's `mixed_model(penalized = )`, which keeps the estimates
#'   finite under separation; one grouping factor or several (sparse
#'   Laplace engine). See [covariance-structures],
#'   which also describes the `ar1()`, `cs()`, `diag()` and `homdiag()` terms.
#'   With a `ziformula`, a hurdle family or a `dispformula` the prior covers
#'   the conditional part's coefficients only, as GLMMadaptive's (its prior
#'   acts on the `fixed` coefficients, not on those of `zi_fixed`); the
#'   zero part's coefficients get an independent prior of the same form
#'   with the list component `pen_zi`: `TRUE` (the conditional part's
#'   `pen_mu`, `pen_sigma`, `pen_df`, then single numbers) or a list of its
#'   own `pen_mu`, `pen_sigma`, `pen_df`. It is not the default, to keep
#'   GLMMadaptive's fits, but separation is common in the zero part (a
#'   level with no zeros, or with zeros only), and `glmm()` then warns and
#'   recommends `penalized = list(pen_zi = TRUE)`. The dispersion
#'   coefficients are never penalized. Cumulative link models
#'   ([cumulative()]) take the same prior on their coefficients
#'   \eqn{\beta} only, never on the thresholds (see [ordinal-glmm]). As for
#'   other penalized fits, `logLik()` is the log-likelihood without the
#'   prior (GLMMadaptive's includes it, so its AIC differs: see
#'   [AIC()][AIC.glmmgee_glmm]) and `$penalty` holds the prior, the log prior and the penalized
#'   objective. Not available with a known `covariance` (an error).
#' @param contrasts A named list of contrasts for factors of the fixed
#'   effects, as [glm()]'s, `lme4::glmer()`'s and `glmmTMB::glmmTMB()`'s
#'   argument (`contrasts.arg` of [model.matrix()]): each element, named by
#'   a factor, is a contrast function, its name or a numeric matrix with a
#'   row per level, e.g. `list(period = "contr.sum")`. It codes the
#'   fixed-effect design of the conditional part and of `ziformula` and
#'   `dispformula` (as glmmTMB); random-effect terms keep the default coding
#'   (as lme4 and glmmTMB). Factors not named take `getOption("contrasts")`.
#'   The contrasts used are stored in `$contrasts` and reused by every
#'   method that rebuilds a design (`predict(newdata =)`, `simulate()`,
#'   [standardize()], [marginal_coefs()], `anova()`, `update()`, emmeans).
#'   The coding changes the coefficients, not the fitted model: the
#'   log-likelihood and predictions are the same under any coding, except
#'   that the REML criterion shifts by a constant (as lmer's does) and a
#'   `penalized` prior acts on the coefficients as coded. A name
#'   that is not a factor of the model or of `data`, or a value that is not
#'   a contrast, is an error.
#' @param doFit `TRUE` (the default) fits the model; `FALSE` returns the
#'   model specification without fitting, as lme4's and glmmTMB's `doFit`:
#'   an object of class `glmmgee_spec` holding the parts of the model
#'   (`formula`, `ziformula`, `dispformula`, and per part its random-effect
#'   terms with their grouping factor and covariance structure or known
#'   covariance, shown by `print()`), the resolved `family`, `ranef_dist`,
#'   `REML`, the `penalty`, `workers`, `nAGQ` and `control`; the chosen
#'   `engine` (the name a fit reports in `$engine$name`) and `route`; and in
#'   `$data` the model frame (`frame`), the conditional part's fixed-effect
#'   design (`X`) and its terms. A combination of arguments that no engine
#'   fits is refused in the same way whether `doFit` is `TRUE` or `FALSE`.
#' @section Checks on the data:
#' Before fitting, `glmm()` stops with an error naming the variable or
#' argument for infinite values, all-zero weights, a response without
#' variation (binomial all 0 or all 1, poisson all 0, gaussian constant),
#' aliased fixed-effect columns (they are not dropped, unlike [glm()]), more
#' gaussian coefficients than observations, and gaussian data whose clusters
#' all have one observation. Binary data in clusters of one observation each
#' give a warning (the variance is barely identifiable); counts in such
#' clusters are an observation-level random effect and are fitted.
#'
#' For binomial and poisson families the fixed effects are checked for
#' complete or quasi-complete separation by a linear program (Albert and
#' Anderson, 1984; Konis, 2007): when a direction of the coefficients fits
#' some observations exactly at 0 or 1 (or a mean of 0) without worsening
#' the others, the maximum likelihood estimate does not exist, whatever the
#' random effects. The fit then goes ahead with a warning that names the
#' terms involved; `$separation` records the check (`separated`, `terms`,
#' the separating `direction`, `nobs` fitted exactly) and the warning is kept
#' in `$optinfo$warnings`.
#'
#' Cumulative link models ([cumulative()]) are checked too: their maximum
#' likelihood estimate does not exist when a direction of the coefficients
#' and thresholds moves no observation's latent value out of its category
#' and pushes at least one towards a cumulative probability of 0 or 1
#' (for instance a binary covariate whose level 1 occurs only in the top
#' category). This is the binary check on the data stacked by threshold
#' (the indicators \eqn{I(y > k)} at the two thresholds next to each
#' observation, with a shared \eqn{\beta}); the linear program runs only
#' when the fitted values fail to certify that the estimate exists, which
#' costs one pass over the data. The warning names the covariates (and the
#' thresholds whose distance grows without bound) and comes instead of the
#' optimizer's warnings (singular fit, no convergence, no standard errors),
#' which separation explains and which are kept in
#' `$optinfo$warnings_separation`; `$separation` also records
#' `thresholds` and `screen` (`"certificate"` or `"linear program"`).
#' The warning recommends `penalized = TRUE`, as for binary data: the
#' Student-t prior on the coefficients (not on the thresholds) keeps the
#' estimates finite; with it the warning says that the coefficients named
#' are set largely by the prior, and the optimizer's own warnings are
#' issued too.
#' @return With `doFit = FALSE`, the specification (class `glmmgee_spec`,
#'   see `doFit`). Otherwise an object of class `glmmgee_glmm` (with subclass
#'   `glmmgee_glmm_sparse` for several terms): plain R data (it survives
#'   [saveRDS()]), with methods `print`, `summary`, `fixef`, `ranef`,
#'   `VarCorr`, `coef`, `vcov`, `logLik`, `AIC`, `BIC`, `nobs`, `fitted`,
#'   `residuals`, `predict`, `anova`, `formula`, `update`, `model.matrix`.
#'   `$optinfo` records the approximation, optimizer, iterations, final
#'   gradient, Hessian condition number and warnings. Its `max_grad` is the
#'   largest absolute gradient on the parameters the optimizer searched
#'   (`grad_basis`: `"standardized"`, the centred and scaled design
#'   columns, random-effect columns far from zero included; `"user"`; or
#'   `"profiled"`, the profiled criterion of a linear mixed model with
#'   several terms, `NA` where nlminb's own test reported convergence),
#'   the scale the convergence test (`scaled_grad`, the remaining Newton
#'   step) and its warnings read; `max_grad_user` is that gradient in the
#'   user's parameters, which grows with a covariate's units and can be
#'   large at a converged fit (a far-off `cs(x | g)`, whose correlation in
#'   x's units is within rounding of -1). And
#'   `boundary_check`: whether a parameter stopped on a boundary (a variance
#'   at zero, a correlation at +/-1) and whether restarts from interior
#'   points confirmed it (`performed`, `parameters`, `restarts`,
#'   `loglik_boundary`, `loglik_restarts`, `moved_off`, `verified`,
#'   `message`). Fits with zero-part random effects on several terms (the
#'   two-part sparse route) also record `zero_variance_check` (each term's
#'   covariance set to zero at the optimum and the search restarted there,
#'   so that the fit is not below a model with one term fewer: `terms`,
#'   `loglik_zero`, `restarted`, `loglik_restarts`, `moved_to`, `message`)
#'   and `laplace_validity` (points refused where the Laplace approximation
#'   breaks down, and `restarts` from small count-part standard deviations
#'   after the search ran into them).
#' @references
#' Albert, A. and Anderson, J. A. (1984). On the existence of maximum
#' likelihood estimates in logistic regression models. *Biometrika* 71,
#' 1-10.
#'
#' Konis, K. (2007). *Linear programming algorithms for detecting separated
#' data in binary logistic regression models*. DPhil thesis, University of
#' Oxford.
#'
#' Kosmidis, I. (2014). Improved estimation in cumulative link models.
#' *Journal of the Royal Statistical Society B* 76, 169-196.
#'
#' Liu, Q. and Pierce, D. A. (1994). A note on Gauss-Hermite quadrature.
#' *Biometrika* 81, 624-629.
#'
#' Pinheiro, J. C. and Bates, D. M. (1995). Approximations to the
#' log-likelihood function in the nonlinear mixed-effects model. *Journal of
#' Computational and Graphical Statistics* 4, 12-35.
#'
#' Zeger, S. L., Liang, K.-Y. and Albert, P. S. (1988). Models for
#' longitudinal data: a generalized estimating equation approach.
#' *Biometrics* 44, 1049-1060.
#' @seealso [glmmgee-tasks], which function for which question (families,
#'   zero inflation, ordinal responses, covariance structures, known
#'   covariances, workers); [gee()] for population-averaged effects;
#'   [glmm_fit()] for the matrix-level fitter; [glmm_control()]; the vignettes
#'   `vignette("troubleshooting", package = "glmmgee")` (warnings and
#'   `$optinfo`), `vignette("engine", package = "glmmgee")` (what is computed
#'   and how) and `vignette("accuracy-speed", package = "glmmgee")`
#'   (comparisons with lme4, glmmTMB and GLMMadaptive).
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'               family = binomial)
#'   fit
#'   summary(fit)
#'   exp(fixef(fit))   # conditional odds ratios
#'   # Sum-to-zero coding of trt: other coefficients (each level against
#'   # the mean of the levels), the same model and log-likelihood.
#'   fit_sum <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'                   family = binomial, contrasts = list(trt = "contr.sum"))
#'   fixef(fit_sum)
#'   c(logLik(fit), logLik(fit_sum))
#'   # The specification and the engine that would fit it, without fitting.
#'   spec <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'                family = binomial, doFit = FALSE)
#'   spec
#'   spec$engine
#'   dim(spec$data$X)
#' }
#' @export
glmm <- function(formula, data, family = gaussian(), weights, offset, subset,
                 na.action, nAGQ = NULL, control = glmm_control(), start = NULL,
                 covariance = NULL, ranef_dist = "normal", REML = FALSE,
                 ziformula = NULL, dispformula = NULL, penalized = FALSE,
                 zi_correlated = FALSE, contrasts = NULL, doFit = TRUE) {
  if (!is.logical(doFit) || length(doFit) != 1L || is.na(doFit))
    stop("'doFit' must be TRUE or FALSE", call. = FALSE)
  mc <- match.call()
  mc$doFit <- NULL
  env <- parent.frame()
  # The default family resolved once per session (default_gaussian()).
  family_default <- missing(family)
  family <- if (family_default) default_gaussian()
            else family_arg(substitute(family), function() family)
  # Formulas given as strings: formula objects in the caller's environment,
  # and in the call, so update() and anova() see formulas (as lmer's call).
  for (a in c("formula", "ziformula", "dispformula")) {
    v <- if (a == "formula") { if (!missing(formula)) formula } else get(a)
    if (!is.character(v)) next
    v <- formula_arg(v, a, env)
    assign(a, v)
    mc[[a]] <- v
  }
  # The spec (model-spec.R), the refusals of its table, the model frame,
  # the engine; then the route's front end fits it.
  s <- glmm_spec(mc, env, formula, family, family_default, ziformula, dispformula, covariance,
                 ranef_dist, REML, penalized, zi_correlated, nAGQ, control, start,
                 missing(data), if (!missing(data)) data, !missing(weights))
  check_refusals(s)
  owner <- doFit && progress_begin(s$control$progress, "glmm")  # progress.R
  if (owner) on.exit(progress_end(owner))
  progress_stage("building the model frame")
  mf <- spec_frame(s, contrasts)
  s <- choose_engine(s, mf)
  if (!doFit) return(spec_with_data(s, mf))
  progress_stage(sprintf("fitting by the %s engine", s$engine),
                 sprintf("model frame of %s rows; fitting by the %s engine",
                         format(nrow(mf), big.mark = ","), s$engine))
  progress_done(fit_spec(s, mf), owner)
}

# The one-factor routes: lmer's REML criterion directly, no ML fit
# (fit-lmm-onefactor.R); gaussian ML by the same C++ search on the profiled
# ML criterion when it ends inside the parameter space (fit-lmm-ml.R);
# otherwise, and for every other family, the AGQ engine (glmm_fit()); a
# non-normal random intercept by its own engine (glmm_ranef_dist()); ar1(),
# cs(), ... terms and penalized fixed effects by glmm_covstruct().
glmm_one_factor <- function(s, mf) {
  formula <- s$formula
  family <- s$family
  structured <- s$route == "structured_one"
  # Unit weights, a zero offset and a lone random intercept's Z come as NULL
  # where they go to glmm_fit() (not built: 80 MB each at ten million rows).
  to_engine <- !structured && !s$route %in% c("ranef_dist", "lmm_reml")
  re <- if (structured) covstruct_terms(formula, mf, s$fenv)
        else re_terms(formula, mf, s$fenv, unit_z = to_engine && s$route != "lmm_ml")
  fx <- fixed_design(formula, mf, s$fenv, drop_rownames = TRUE)
  X <- fx$X
  if (structured && !is.null(s$penalty)) check_prior_length(s$penalty, ncol(X), "penalized")
  ck <- one_factor_checks(mf, X, family, formula, re, unit_null = to_engine)
  if (structured) return(glmm_covstruct(s, mf, re, fx, ck))
  resp <- ck$resp
  off <- ck$offset
  if (s$route == "ranef_dist")
    return(finish_glmm(glmm_ranef_dist(s$ranef_dist, X, resp, off, re, family, s$control, mf,
                                       fx$mt, s$call, formula), ck$sep, ck$extra_warn))
  fit <- if (s$route == "lmm_reml")
           lmm_reml_fit(X, resp$y, re$Z, re$group, resp$weights, off, re$block_sizes, family)
         else if (s$route == "lmm_ml")
           lmm_ml_fit(X, resp$y, re$Z, re$group, resp$weights %||% rep(1, nrow(X)),
                      off %||% rep(0, nrow(X)), re$block_sizes, s$control, family)
  if (is.null(fit)) {
    if (!differs_from(resp$weights, 1)) resp$weights <- ck$resp$weights <- NULL
    if (!differs_from(off, 0)) off <- ck$offset <- NULL
    fit <- glmm_fit(X, resp$y, re$Z, re$group, family, weights = resp$weights, offset = off,
                    nAGQ = s$nAGQ, cov_blocks = re$block_sizes, control = s$control,
                    start = s$start)
  }
  obj <- new_glmm(fit, X = X, Z = re$Z, y = resp$y, weights = resp$weights,
                  offset = off, re = re, mf = mf, mt = fx$mt, call = s$call,
                  formula = formula)
  obj$distributed <- fit$distributed
  if (s$REML) obj <- lmm_reml_finish(obj, fit)
  finish_glmm(obj, ck$sep, ck$extra_warn)
}

# Which of the M clusters (codes `index`) have an observation of positive
# weight: the others add nothing to the likelihood (their random effects are
# the prior's), so they are not counted in ngroups nor shown by ranef().
active_clusters <- function(index, weights, M) {
  if (is.null(weights) || min(weights) > 0) return(tabulate(index, M) > 0L)
  tabulate(index[weights > 0], M) > 0L
}

# Records the separation check and the front end's own warnings in the fit,
# then issues every warning the fit carries.
finish_glmm <- function(obj, sep, extra_warn) {
  unid <- plain_residual_unidentified(obj)
  if (!is.null(unid)) {
    obj <- identified_fixed_vcov(mark_residual_unidentified(obj, unid), if_na = TRUE)
    extra_warn <- c(extra_warn, unid)
  }
  obj$separation <- sep
  if (isTRUE(sep$separated)) extra_warn <- c(extra_warn, sep$message)
  extra_warn <- c(extra_warn, binlog_glmm_warning(obj))
  asm <- binlog_all_success_message(obj)
  # The nested `$<-` only where c() changes the warnings: something to add,
  # or none recorded yet and character(0) to record (c(NULL, character(0))
  # is character(0)).
  old <- .subset2(obj, "optinfo", exact = FALSE)$warnings
  if (length(extra_warn) || is.null(old) && !is.null(extra_warn))
    obj$optinfo$warnings <- c(old, extra_warn)
  if (!is.null(asm)) obj$optinfo$warnings <- c(asm, obj$optinfo$warnings)
  for (w in .subset2(obj, "optinfo", exact = FALSE)$warnings) warning(w, call. = FALSE)
  obj
}

# The fitted object: plain data, everything on the scale users read. It
# keeps only what methods need and cannot recompute cheaply: the model frame,
# the response, the cluster codes and the estimates. X, Z, the linear
# predictors, the fitted values and `xlevels` are rebuilt on access (`$.glmmgee_glmm`,
# glmm-derived.R); weights of one and a zero offset are not stored either.
new_glmm <- function(fit, X, Z, y, weights, offset, re, mf, mt, call, formula) {
  cn <- re$cnames
  q <- length(cn)
  Lam <- fit$Lambda
  dimnames(Lam) <- list(cn, cn)
  D <- Lam %*% t(Lam)
  lev <- fit$group$levels
  M <- length(lev)
  to_b <- function(U) { B <- U %*% t(Lam); dimnames(B) <- list(lev, cn); B }
  # Lambda V Lambda' for every cluster at once (V holds one column-major
  # q x q matrix per row): sandwich_rows(), without a q^2 x q^2 matrix.
  to_bvar <- function(V) array(t(sandwich_rows(V, Lam)), c(q, q, M), dimnames = list(cn, cn, lev))
  s <- fit$modes
  B <- to_b(s$mode)
  gi <- fit$group$index
  beta <- fit$beta
  p <- length(beta)
  vc <- fit$cov_theta[seq_len(p), seq_len(p), drop = FALSE]
  keep_cov_star(structure(list(
    call = call, formula = formula, family = fit$family,
    coefficients = beta, vcov = vc, theta = fit$theta, cov_theta = fit$cov_theta,
    Lambda = Lam, D = D, sigma = fit$sigma, family_par = fit$family_par,
    loglik = fit$loglik,
    df = length(fit$theta), nobs = if (is.null(weights)) length(y) else n_positive(weights),
    n = length(y),
    ngroups = sum(active_clusters(gi, weights, M)), group_name = re$group_name,
    group_levels = lev, group = gi,
    cnames = cn, cov_blocks = fit$cov_blocks, pattern = fit$pattern,
    ranef = list(mode = B, mode_var = to_bvar(s$mode_var),
                 mean = to_b(s$post_mean), var = to_bvar(s$post_var)),
    cluster_loglik = stats::setNames(s$loglik, lev),
    y = y, prior.weights = if (differs_from(weights, 1)) weights,
    offset = if (differs_from(offset, 0)) offset,
    Z = if (!identical(cn, "(Intercept)")) Z,
    model = mf, terms = mt,
    contrasts = attr(X, "contrasts"),
    re_formula = lapply(find_bars(formula), function(b) b[[2L]]),
    na.action = attr(mf, "na.action"),
    nAGQ = fit$nAGQ, singular = fit$singular, gradient = fit$gradient,
    hessian = fit$hessian, optinfo = fit$optinfo, cluster_curvature = fit$cluster_curvature,
    engine = engine_info(fit$engine %||% "agq", workers = !is.null(fit$distributed))),
    class = "glmmgee_glmm"))
}

# A model without fixed effects (y ~ 0 + (1 | g): no intercept and no
# covariate) stopped deep inside every route with a message about names or
# an 'invalid k argument'; refused here, saying what to write instead.
# Cumulative link models have their thresholds (y ~ 0 + ... is not asked of
# them). Judged once per formula (memo_expr(), as the front end's other
# formula facts: terms() costs ~0.1 ms, a tenth of a small LMM fit).
check_some_fixed <- function(formula) {
  none <- memo_expr("no_fixed", formula, function(f) {
    rhs <- no_bars(f[[3L]]) %||% 0
    tt <- tryCatch(stats::terms(stats::as.formula(call("~", rhs))), error = function(e) NULL)
    !is.null(tt) && attr(tt, "intercept") == 0L && !length(attr(tt, "term.labels"))
  })
  if (none)
    stop(paste0("'formula': the model has no fixed effects (no intercept and no covariate); ",
                "glmm() needs at least one, e.g. y ~ 1 + (1 | g) (an offset() alone is not one)"),
         call. = FALSE)
  invisible()
}
