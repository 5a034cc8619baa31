# Formula front end of the GEE: model frame (with subset and na.action applied
# to id and waves too), response and offset, then gee_fit().

#' Generalized estimating equations
#'
#' Fits a marginal (population-averaged) regression model for clustered data
#' by generalized estimating equations (Liang and Zeger, 1986), with a working
#' correlation, a moment estimate of the scale, and a choice of variance
#' estimators. The data need not be sorted, or contiguous, by cluster.
#'
#' The coefficients are **marginal (population-averaged)** effects: they
#' describe how the mean response over the population of clusters changes
#' with a covariate, \eqn{g(E[y_{ij}]) = x_{ij}'\beta}. With a nonlinear
#' link they are closer to zero than the conditional (subject-specific)
#' coefficients of a mixed model for the same data ([glmm()]); the vignette
#' `vignette("two-questions", package = "glmmgee")` explains why and how to
#' choose. The working correlation affects efficiency only: the robust
#' (sandwich) standard errors remain valid when it is wrong, provided the
#' mean model is right and the clusters are independent. Missing
#' observations are ignored, which is valid when they are missing completely
#' at random given the covariates.
#'
#' @section Working correlations:
#' With standardized Pearson residuals \eqn{r_{ij} = \sqrt{w_{ij}} (y_{ij} -
#' \mu_{ij}) / \sqrt{\phi V(\mu_{ij})}}, the correlation parameters are moment
#' estimates over the pairs of observations within clusters, each pair
#' counting once:
#' * `"independence"`: \eqn{R = I}.
#' * `"exchangeable"`: one \eqn{\alpha}, the mean of \eqn{r_{ij} r_{ik}} over
#'   all pairs.
#' * `"ar1"`: \eqn{\mathrm{corr} = \alpha^{|t_j - t_k|}}; \eqn{\alpha} solves
#'   the least-squares equation \eqn{\sum d\,\alpha^{d-1}(r_{ij} r_{ik} -
#'   \alpha^{d}) = 0} over all pairs, \eqn{d = |t_j - t_k|} (the estimator of
#'   geepack, which uses every lag rather than only lag 1).
#' * `"unstructured"`: one parameter per pair of wave positions, the mean of
#'   \eqn{r_{ij} r_{ik}} over the clusters observed at both; a pair of
#'   positions that no cluster has is reported as `NA` (it is never needed).
#'   Clusters of size one contribute to the coefficients and the scale, not
#'   to the correlation.
#' * `"mdep"`: one parameter per lag \eqn{1, \dots, M_v} (`Mv`), the mean of
#'   the products at that lag; zero beyond.
#' * `"fixed"`: the user's matrix `R`, indexed by wave position.
#' * `"stat_M_dep"`, `"non_stat_M_dep"`, `"AR-M"` (the gee package's names;
#'   glmtoolbox's "Stationary-M-dependent(m)", "Non-Stationary-M-dependent(m)"
#'   and "AR-M-dependent(m)"), of order \eqn{m} = `Mv`: stationary
#'   m-dependent (one parameter per lag up to `Mv`, zero beyond), non-stationary
#'   m-dependent (one parameter per pair of positions at most `Mv` apart, zero
#'   beyond) and AR-M (the first `Mv` lag correlations as for `"stat_M_dep"`;
#'   the AR(`Mv`) coefficients from them by the Yule-Walker equations and the
#'   longer lags by the AR recursion, so `"AR-M"` with `Mv = 1` is AR-1).
#'   Their moment estimators are those of the gee package and glmtoolbox,
#'   with degrees-of-freedom corrections: \eqn{\phi = \sum r_{ij}^2 / (N - p)}
#'   and each parameter \eqn{\sum r_{ij} r_{ik} / ((n_{jk} - p)\phi)}
#'   over its \eqn{n_{jk}} pairs, truncated to \eqn{[-1, 1]}. They are solved
#'   by a separate engine (clusters observed at the same wave positions share
#'   their working correlation, so each pattern is whitened once); it offers
#'   the `"san.se"` and `"model"` variances only.
#'
#' Prior weights, and the numbers of trials \eqn{n_{ij}} of a binomial
#' response given as `cbind(successes, failures)` (or as a proportion with
#' `weights`), enter through the variance \eqn{\phi V(\mu)/w}: for binomial
#' counts this is \eqn{\phi\, n p (1 - p)}, and the \eqn{r_{ij}} above are
#' the Pearson residuals of the counts. Each product \eqn{r_{ij} r_{ik}} then
#' has mean equal to the pair's working correlation whatever the weights:
#' the moment estimators of Liang and Zeger (1986); `gee::gee()` uses
#' the same residuals, dividing by \eqn{N - p} and by the number of pairs
#' minus \eqn{p}. geepack's `geeglm()` defines the moments differently: with
#' the unweighted residuals \eqn{u_{ij} = (y_{ij} - \mu_{ij}) /
#' \sqrt{V(\mu_{ij})}} of the proportions, its scale is \eqn{\phi_g = \sum w
#' u^2 / \sum w} (per trial) and its exchangeable \eqn{\alpha = \sum w_{ij}
#' w_{ik} u_{ij} u_{ik} / (\phi_g \sum w_{ij} w_{ik})}, with the same pair weights
#' \eqn{w_{ij} w_{ik}} in its ar1 and unstructured equations. The equation for
#' the coefficients given the working correlation is the same in both
#' (`corstr = "fixed"` at geepack's correlation gives its coefficients). With
#' equal weights the correlations and coefficients agree and geepack's scale
#' is ours divided by the common weight; with unequal weights they differ
#' (`lme4::cbpp`, `cbind(incidence, size - incidence) ~ period`: alpha 0.028
#' here, 0.041 in geepack, coefficients apart by up to 0.009; unstructured
#' up to 0.06), and geepack's model-based standard errors rest on its
#' per-trial scale. Under the working model geepack's moments are biased
#' when the weights vary (the mean of \eqn{\phi_g} is \eqn{\phi N / \sum
#' w}). Rows with zero weight are
#' left out entirely (also from the cluster's working correlation).
#'
#' The scale is \eqn{\phi = \sum w_{ij} (y_{ij} - \mu_{ij})^2 / V(\mu_{ij}) /
#' N} over the N observations with positive weight (no degrees-of-freedom
#' correction, as in geepack), unless `scale.fix = TRUE`.
#'
#' `waves` gives the time index of each observation within its cluster;
#' positions are counted from the smallest value, so AR-1 lags, unstructured
#' and m-dependent parameters and rows of a fixed `R` follow the actual
#' visits when some are missing. Without `waves`, observations take positions
#' 1, 2, ... in data order within each cluster.
#'
#' @section Dropout at random (weighted GEE):
#' Unweighted GEE is valid when missing visits are missing completely at
#' random. When patients leave a study for reasons that depend on what was
#' observed before (dropout at random), it is biased. With `dropout =
#' ~ z1 + z2`, `gee()` fits inverse-probability weighted estimating equations
#' (Robins, Rotnitzky and Zhao, 1995; Preisser, Lohman and Rathouz, 2002):
#' * The data hold a row for every planned visit, with the response `NA` at
#'   the visits missed after dropout. Visits are ordered by `waves` (or by
#'   the rows' order within each cluster); missingness must be monotone (no
#'   return after a missed visit) and the first visit observed.
#' * The dropout model is the logistic regression, on the visits \eqn{j \ge
#'   2} at risk (observed at \eqn{j - 1}), of being observed at visit
#'   \eqn{j} on the terms of `dropout` (which may use earlier responses, such
#'   as a lagged response set to 0 at the first visit). With \eqn{\lambda_{ij}}
#'   its fitted probabilities, \eqn{\pi_{ij} = \prod_{k=2}^{j}
#'   \lambda_{ik}} is the probability of being observed through visit
#'   \eqn{j}. Aliased columns of its design are dropped.
#' * `dropout.level = "observations"`: each observed response is weighted by
#'   \eqn{1/\pi_{ij}}, and the estimating function of cluster \eqn{i} is
#'   \eqn{D_i' V_i^{-1} \Delta_i (y_i - \mu_i)}, with \eqn{D_i} and
#'   \eqn{V_i} over all planned visits (so the covariates must be known at the
#'   missed ones) and \eqn{\Delta_i} the diagonal of \eqn{R_{ij}/\pi_{ij}}
#'   (\eqn{R_{ij} = 1} if observed). The correlation moments use the
#'   observed residuals unweighted.
#' * `dropout.level = "clusters"`: each cluster's observed visits are
#'   weighted by one over the probability of its dropout pattern:
#'   \eqn{1/\pi_{in_i}} for a completer, \eqn{1/(\pi_{i,d-1}(1 -
#'   \lambda_{id}))} for a cluster dropping out at visit \eqn{d}. The weight
#'   acts as a prior weight (also in the moments).
#'
#' Working correlations: `"independence"`, `"exchangeable"`,
#' `"unstructured"`, `"fixed"`, `"stat_M_dep"`, `"non_stat_M_dep"` and
#' `"AR-M"`, all with the moment estimators of glmtoolbox (see the section on
#' working correlations), so that the fit equals glmtoolbox's `wglmgee()`.
#' The robust variance accounts for the estimated weights: the cluster
#' contributions are \eqn{U_i - A B^{-1} S_i}, with \eqn{S_i} the dropout
#' model's score of cluster \eqn{i}, \eqn{A = \sum_i U_i S_i'} and \eqn{B
#' = \sum_i S_i S_i'} (Robins, Rotnitzky and Zhao, 1995). This is never
#' larger than the sandwich that treats the weights as known, kept as
#' `fit$dropout$vcov_known_weights`. (glmtoolbox 0.1.12 also adds the first
#' visit's term \eqn{z_{i1}(1 - \lambda_{i1})} to \eqn{B}, although the
#' dropout model is not fitted on first visits; its standard errors differ
#' from these by about \eqn{10^{-4}} relative in its examples, and are
#' equal when the dropout covariates are zero at the first visit.)
#' `fit$dropout` holds the dropout model's coefficients and covariance, the
#' weights (one per row of the data, 0 at missed visits), the probabilities
#' \eqn{\pi_{ij}}, the number of missed visits and of clusters dropping
#' out. The fit's observations are the observed visits; the missed ones are
#' reported as removed by `na.action`. Only `"san.se"` and `"model"`
#' standard errors are available. `vignette("gee", package = "glmmgee")`
#' works through an example and a simulation.
#'
#' @section Negative binomial and Gamma:
#' With `family = nbinom2()` the variance function is
#' \eqn{V(\mu) = \mu + \mu^2/\theta} and the scale is fixed at 1
#' (`scale.fix` and `scale.value` are ignored): \eqn{\theta} carries the
#' overdispersion. \eqn{\theta} is estimated by the moment equation that sets
#' Pearson's statistic \eqn{\sum_i w_i (y_i - \mu_i)^2 / V(\mu_i)} equal to
#' the residual degrees of freedom \eqn{N - p} (Breslow, 1984; the estimator
#' of `MASS::theta.mm()`), alternated with the estimating equations for the
#' coefficients and the working correlation at fixed \eqn{\theta} (Liang and
#' Zeger, 1986, section 4) until \eqn{\log\theta} changes by less than
#' `epsilon`. The first pass uses the Poisson variance. When the counts show
#' no overdispersion the equation has no root; \eqn{\theta} then stays at
#' \eqn{10^8} (the Poisson fit) with a warning. Jackknife variances refit
#' with \eqn{\theta} held at its estimate. The estimate is `fit$nb_theta`
#' and `family(fit)$theta`. With `Gamma(link = "log")` the variance function
#' is \eqn{\mu^2} and the scale (\eqn{1/}shape) is the usual moment
#' estimate, as in geepack.
#'
#' With [nbinom1()] the model is quasi-Poisson: variance function \eqn{\mu}
#' and the estimated scale is \eqn{1 + \phi}, reported as `fit$phi`. With
#' [beta_family()] it is quasi-binomial, variance \eqn{\mu(1-\mu)} with
#' scale \eqn{1/(1 + \phi)}. Both \eqn{\phi} are marginal (the GEE has no
#' random effects), so they differ from a [glmm()]'s conditional ones. With
#' [betabinomial()] the model is also quasi-binomial with a free scale, but
#' the beta-binomial variance grows with the number of trials in a way one
#' scale cannot carry, so no \eqn{\phi} is reported (`fit$phi` is `NA`).
#'
#' @section Variance estimators (`std.err`):
#' * `"san.se"`: robust sandwich \eqn{H^{-1} B H^{-1}} (Liang and Zeger, 1986).
#' * `"model"`: model-based (naive) \eqn{\phi H^{-1}}.
#' * `"md"`: bias-corrected sandwich of Mancl and DeRouen (2001), residuals
#'   \eqn{(I - H_{ii})^{-1} e_i}.
#' * `"kc"`: bias-corrected sandwich of Kauermann and Carroll (2001),
#'   residuals \eqn{(I - H_{ii})^{-1/2} e_i} (principal square root).
#' * `"jack"`: approximate jackknife, one-step deletion estimates
#'   \eqn{(H - H_i)^{-1} U_i}; `"j1s"`: one-step jackknife; `"fij"`: fully
#'   iterated jackknife (every cluster deleted and the model refitted). All
#'   three are scaled by \eqn{(K - p - q - r)/K} (K clusters, p coefficients,
#'   q correlation parameters, r = 1 when the scale is estimated), as in
#'   geepack (Yan and Fine, 2004). With \eqn{K \le p + q + r} that factor is
#'   zero or negative and the variance not positive definite: geepack
#'   returns it, `gee()` and `vcov()` stop with an error saying so.
#'
#' Computed after the fit from each cluster's pieces (\eqn{D_i}, the working
#' covariance \eqn{V_i}, residuals \eqn{e_i}; \eqn{U_i = D_i'V_i^{-1}e_i},
#' \eqn{H = \sum_i D_i'V_i^{-1}D_i}, K clusters, p coefficients, N
#' observations):
#' * `"df"`: degrees-of-freedom adjusted sandwich \eqn{K/(K-p)} times
#'   `"san.se"` (MacKinnon, 1985; glmtoolbox's `"df-adjusted"`).
#' * `"fg"`: Fay and Graubard (2001): \eqn{U_i} scaled by \eqn{\mathrm{diag}(1 -
#'   \min(b, [D_i'V_i^{-1}D_i H^{-1}]_{jj}))^{-1/2}}, \eqn{b = 0.75}.
#'   Its correction is a diagonal in the coefficients' own coordinates, so,
#'   unlike every other type here, it is not invariant to reparametrizing
#'   the model: centring or scaling a covariate, or changing the contrasts
#'   of a factor, changes its standard errors and tests for the same fitted
#'   values. On `MASS::epil`, `y ~ lbase + trt + age` (Poisson,
#'   exchangeable), the z of `age` is 1.03 with age as given and 1.92 with
#'   `(age - 28) / 10` (robust sandwich: 1.98 in both). Use it with
#'   covariates on a meaningful origin and scale, and report them.
#' * `"mbn"`: Morel, Bokossa and Neerchal (2003): \eqn{k V_{LZ} + \delta
#'   \xi V_M}, \eqn{k = (N-1)/(N-p) \cdot K/(K-1)}, \eqn{\delta = \min(1/2,
#'   p/(K-p))}, \eqn{\xi = \max(1, \mathrm{tr}(V_M^{-1}V_{LZ})/p)}, with
#'   \eqn{V_{LZ}} the sandwich and \eqn{V_M} the model-based variance.
#' * `"pan"`: Pan (2001): each \eqn{e_ie_i'} in the meat replaced by
#'   \eqn{A_i^{1/2} W A_i^{1/2}}, \eqn{W} the mean over clusters of the
#'   standardized residuals' cross-products \eqn{A_i^{-1/2}e_ie_i'A_i^{-1/2}}
#'   by pair of wave positions (over the clusters observed at both).
#' * `"gst"`: Gosho, Sato and Takeuchi (2014): as `"pan"` with the sums
#'   divided by the number of clusters less p.
#' * `"wl"`: Wang and Long (2011): as `"pan"` with the leverage-corrected
#'   residuals \eqn{(I - H_{ii})^{-1}e_i} of `"md"`.
#' * `"cjack"`: the centred jackknife of the one-step deletion changes of
#'   Preisser and Qaqish (1996), \eqn{\sum_i (d_i - \bar d)(d_i - \bar d)'},
#'   \eqn{d_i = H^{-1}D_i'V_i^{-1}(I - H_{ii})^{-1}e_i} (glmtoolbox's
#'   `"jackknife"`; [dfbeta.glmmgee_gee()] gives the \eqn{d_i}).
#' glmtoolbox's names `"robust"`, `"df-adjusted"`, `"bias-corrected"` (the
#' Mancl-DeRouen `"md"`) and `"jackknife"` are accepted for `"san.se"`,
#' `"df"`, `"md"` and `"cjack"`. `"pan"`, `"gst"` and `"wl"` pool one
#' residual covariance over clusters, which assumes that wave positions mean
#' the same in every cluster (balanced designs, or `waves`). These need the
#' fit's data rows and are not available for fits from [gee_shards()].
#'
#' Any of them is also available afterwards through `vcov(fit, type = )`.
#' When they matter, with a simulation: `vignette("gee-inference")`.
#'
#' @param formula a model formula; the response may be `cbind(successes,
#'   failures)` for binomial data, and `offset()` terms are allowed. A
#'   character string holding a formula is accepted (made a formula in the
#'   caller's environment).
#' @param data a data frame.
#' @param id cluster identifier: a bare column name of `data` or a vector.
#'   All rows with the same id are one cluster wherever they are in the data
#'   (they need not be contiguous; geepack's `geeglm()` instead starts a new
#'   cluster at each run of rows). Ids numbered within another grouping,
#'   such as patients 1, 2, ... in each centre of geepack's `respiratory`
#'   data, are therefore merged across centres: give unique ids, e.g.
#'   `id = interaction(centre, id)`. When the rows come in blocks of one id
#'   but some id occurs in several separate blocks, `gee()` says so in a
#'   message naming how many ids do. Numeric ids are compared by their
#'   labels to 15 significant digits (as [factor()] and [glmm()] do), so
#'   ids that differ only by floating-point noise are one cluster.
#'   integer64 ids (bit64, as `data.table::fread()` reads large ids) are
#'   compared exactly, by bit64's labels; so are integer64 grouping factors
#'   of [glmm()]'s random-effect terms.
#' @param family a family function, object or name: gaussian (identity),
#'   binomial (logit, probit, cloglog, log; trials by `weights` or `cbind()`;
#'   the log link gives marginal log relative risks, see [glmm()] on its
#'   bounded parameter space),
#'   poisson (log), [nbinom2()] (log; theta by a moment equation, scale 1),
#'   Gamma (log, inverse, identity), gaussian (log), and as quasi-likelihood
#'   models with an estimated scale [nbinom1()], [beta_family()] and
#'   [betabinomial()] (see the section); [cumulative()] for an ordinal
#'   response (see [ordinal-gee]).
#' @param corstr working correlation: `"independence"`, `"exchangeable"`,
#'   `"ar1"`, `"unstructured"`, `"mdep"`, `"fixed"`, `"stat_M_dep"`,
#'   `"non_stat_M_dep"` or `"AR-M"` (see the section).
#'   For [cumulative()] the local odds ratios structures `"independence"`,
#'   `"uniform"`, `"category.exch"`, `"time.exch"`, `"RC"` or `"fixed"`
#'   (multgee's `LORstr` names), or the global odds ratios structures
#'   `"global.exchangeable"`, `"global.unstructured"` (geepack's `ordgee()`);
#'   see [ordinal-gee].
#' @param waves optional whole-number time index within cluster: a bare
#'   column name or a vector. Must not repeat within a cluster.
#' @param weights optional prior weights (binomial: number of trials).
#' @param offset optional offset, added to any `offset()` terms.
#' @param subset,na.action as in [stats::lm()]; they apply to `id` and
#'   `waves` as well. The number of rows removed is reported by `summary()`.
#' @param std.err default variance estimator (see the section).
#' @param scale.fix,scale.value fix the scale parameter at `scale.value`.
#'   (geepack 1.3.9's `geeglm()` ignores `scale.value` and holds the scale at
#'   the Pearson statistic / N of its starting glm fit.)
#' @param R working correlation matrix for `corstr = "fixed"`: square,
#'   symmetric, unit diagonal, positive definite, with a row per wave
#'   position (at least as many as there are positions). For [cumulative()]
#'   the association table(s) instead (see [ordinal-gee]).
#' @param Mv order of the `"mdep"`, `"stat_M_dep"`, `"non_stat_M_dep"` and
#'   `"AR-M"` working correlations.
#' @param dropout optional one-sided formula: the model of the probability of
#'   being observed at a visit given observed at the one before, for weighted
#'   GEE under dropout at random (see the section). The response is `NA` at
#'   missed visits.
#' @param dropout.level with `dropout`: `"observations"` (observation-level
#'   weights, the default) or `"clusters"` (cluster-level weights).
#' @param contrasts A named list of contrasts for factors in `formula`, as
#'   for [glm()] and [glmm()]: a contrast function, its name or a numeric
#'   matrix per factor, e.g. `list(trt = "contr.sum")`. Stored in
#'   `$contrasts` and reused when a design is rebuilt (`predict(newdata =)`,
#'   `anova()`, `update()`).
#' @param control a [gee_control()] list.
#' @param ... control settings passed to [gee_control()] when `control` is
#'   not given.
#' @section Checks on the data:
#' As for [glmm()], infinite values, all-zero weights, a response without
#' variation, aliased columns, gaussian models with no residual degrees of
#' freedom and a single cluster are errors naming the variable or argument.
#' Binomial and poisson fits are checked for separation by the same linear
#' program (see [glmm()]); under separation the estimating equations have no
#' finite root, so the fit warns with the terms involved (or, when the engine
#' cannot continue, stops with that message). `$separation` records the
#' check, and its warning is kept in `$warnings`. The small standard errors
#' such a fit would show are an artefact (the sandwich of a coefficient on
#' its way to infinity shrinks to 0), so, as for [glmm()], `vcov()` of every
#' type is `NA`, with a warning naming the coefficients, and so are the
#' standard errors, intervals and tests of `summary()`, `confint()`,
#' `tidy()`, `anova()` and emmeans. The ordinal GEE
#' (`family = cumulative()`) is checked in the same way as cumulative link
#' mixed models (see [glmm()]); under separation its warning replaces the
#' engine's, which are kept in `$warnings_separation`.
#' @return An object of class `"glmmgee_gee"`: a plain list with
#'   `coefficients`, `alpha`, `scale`, `working.correlation`, `vcov` (the
#'   variance matrices computed), `iter`, `converged`, `delta` (the last relative change), `score` (the
#'   largest estimating-function component at the start of the last iteration;
#'   reported with a non-convergence warning), `halved` (the number of
#'   iterations whose scoring step left the family's range, e.g. a fitted
#'   probability above 1 under `binomial("log")`, and was halved),
#'   `warnings`, the data
#'   used, and the engine inputs that later variance requests reuse. Methods:
#'   `print`, `summary`, `coef`, `vcov`, `confint`, `nobs`, `fitted`,
#'   `residuals`, `predict`, `anova`, `formula`, `family`, `model.matrix`,
#'   `update`, and [QIC()].
#'   The class is glmmgee's own: it borrows neither the gee package's
#'   `"gee"` nor geepack's classes, so other packages' methods for those
#'   never run on it (and ours never on theirs).
#' @references
#' Fay, M. P. and Graubard, B. I. (2001). Small-sample adjustments for
#' Wald-type tests using sandwich estimators. *Biometrics* 57, 1198--1206.
#'
#' Gosho, M., Sato, Y. and Takeuchi, H. (2014). Robust covariance estimator
#' for small-sample adjustment in the generalized estimating equations: a
#' simulation study. *Science Journal of Applied Mathematics and
#' Statistics* 2, 20--25.
#'
#' MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-consistent
#' covariance matrix estimators with improved finite sample properties.
#' *Journal of Econometrics* 29, 305--325.
#'
#' Morel, J. G., Bokossa, M. C. and Neerchal, N. K. (2003). Small sample
#' correction for the variance of GEE estimators. *Biometrical Journal* 45,
#' 395--409.
#'
#' Pan, W. (2001). On the robust variance estimator in generalised
#' estimating equations. *Biometrika* 88, 901--906.
#'
#' Preisser, J. S. and Qaqish, B. F. (1996). Deletion diagnostics for
#' generalised estimating equations. *Biometrika* 83, 551--562.
#'
#' Wang, M. and Long, Q. (2011). Modified robust variance estimator for
#' generalized estimating equations with improved small-sample performance.
#' *Statistics in Medicine* 30, 1278--1291.
#'
#' Breslow, N. E. (1984). Extra-Poisson variation in log-linear models.
#' *Applied Statistics* 33, 38--44.
#'
#' Liang, K.-Y. and Zeger, S. L. (1986). Longitudinal data analysis using
#' generalized linear models. *Biometrika* 73, 13--22.
#'
#' Mancl, L. A. and DeRouen, T. A. (2001). A covariance estimator for GEE
#' with improved small-sample properties. *Biometrics* 57, 126--134.
#'
#' Kauermann, G. and Carroll, R. J. (2001). A note on the efficiency of
#' sandwich covariance matrix estimation. *Journal of the American
#' Statistical Association* 96, 1387--1396.
#'
#' Preisser, J. S., Lohman, K. K. and Rathouz, P. J. (2002). Performance of
#' weighted estimating equations for longitudinal binary data with drop-outs
#' missing at random. *Statistics in Medicine* 21, 3035--3054.
#'
#' Robins, J. M., Rotnitzky, A. and Zhao, L. P. (1995). Analysis of
#' semiparametric regression models for repeated outcomes in the presence of
#' missing data. *Journal of the American Statistical Association* 90,
#' 106--121.
#'
#' Yan, J. and Fine, J. (2004). Estimating equations for association
#' structures. *Statistics in Medicine* 23, 859--874.
#' @seealso [glmmgee-tasks], which function for which question; [gee_fit()],
#'   [gee_control()], [QIC()], [ordinal-gee] for ordered categories,
#'   [gee_shards()] for data on workers, [glmm()] for conditional effects;
#'   `vignette("engine", package = "glmmgee")` for the algorithm.
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   fit <- gee(y ~ ap + hilo, data = bacteria, id = ID, family = binomial,
#'              corstr = "exchangeable")
#'   summary(fit)
#'   exp(cbind(OR = coef(fit), confint(fit)))
#'   # Helmert coding of trt (drug against placebo, drug+ against both):
#'   # other coefficients, the same fitted values.
#'   fit_h <- gee(y ~ trt, data = bacteria, id = ID, family = binomial,
#'                corstr = "exchangeable", contrasts = list(trt = "contr.helmert"))
#'   coef(fit_h)
#'   all.equal(fitted(fit_h),
#'             fitted(gee(y ~ trt, data = bacteria, id = ID, family = binomial,
#'                        corstr = "exchangeable")))
#' }
#' # AR-2 working correlation (Yule-Walker from the first two lags)
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(epil, package = "MASS")
#'   fit_ar2 <- gee(y ~ lbase + trt + lage + V4, data = epil, id = subject,
#'                  family = poisson, corstr = "AR-M", Mv = 2, waves = period)
#'   round(fit_ar2$working.correlation, 3)
#' }
#' # Dropout at random: rows for every planned visit, y NA after dropout;
#' # subjects with y = 1 leave more often.
#' set.seed(1)
#' K <- 300
#' d <- data.frame(id = rep(1:K, each = 4), time = rep(0:3, K),
#'                 x = rep(rbinom(K, 1, 0.5), each = 4))
#' d$y <- rbinom(4 * K, 1, plogis(-0.5 + 0.4 * d$time + 0.5 * d$x))
#' d$ylag <- ave(d$y, d$id, FUN = function(v) c(0, v[-4]))
#' stay <- rbinom(4 * K, 1, plogis(2 - 2 * d$ylag))
#' stay[d$time == 0] <- 1
#' d$y[ave(stay, d$id, FUN = cumprod) == 0] <- NA
#' fit_w <- gee(y ~ time + x, data = d, id = id, family = binomial,
#'              dropout = ~ ylag + x)
#' fit_u <- gee(y ~ time + x, data = d[!is.na(d$y), ], id = id, family = binomial)
#' cbind(weighted = coef(fit_w), unweighted = coef(fit_u))
#' @export
gee <- function(formula, data, id, family = gaussian(), corstr = "independence", waves,
                weights, offset, subset, na.action, std.err = "san.se", scale.fix = FALSE,
                scale.value = 1, R = NULL, Mv = 1L, contrasts = NULL,
                dropout = NULL, dropout.level = c("observations", "clusters"),
                control = gee_control(...), ...) {
  mc <- match.call(expand.dots = FALSE)
  # A family name glmmgee spells otherwise: the constructor to use.
  if (!missing(family)) family <- family_arg(substitute(family), function() family)
  # A formula given as a string: a formula object in the caller's
  # environment, also in the call (for update() and anova()).
  from_string <- !missing(formula) && is.character(formula)
  if (from_string) {
    formula <- formula_arg(formula, "formula", parent.frame())
    mc$formula <- formula
  }
  if (missing(formula) || !inherits(formula, "formula"))
    stop("'formula' must be a model formula such as y ~ x", call. = FALSE)
  if (missing(id))
    stop("'id' is missing: give the cluster identifier, a column of 'data' or a vector",
         call. = FALSE)
  gee_dots_glmm_only(...)  # control.R
  if (!missing(control) && ...length())
    stop("give control settings either in 'control' or as extra arguments, not both",
         call. = FALSE)
  owner <- progress_begin(if (is.list(control)) control$progress, "gee")  # progress.R
  if (owner) on.exit(progress_end(owner))
  progress_stage("building the model frame")
  # Ordinal responses: the marginal cumulative link model (gee-ordinal.R).
  if (!is.null(dropout) && !is.null(as_cumulative(family)))
    stop("'dropout': weighted GEE for dropout is not available for the ordinal GEE (family = cumulative())",
         call. = FALSE)
  if (!is.null(cum <- as_cumulative(family)))
    return(progress_done(gee_ordinal(mc, formula, cum, parent.frame(), control, contrasts), owner))
  family <- resolve_family(family)
  env <- parent.frame()
  if (!is.null(dropout)) {
    fit <- gee_dropout(mc, formula, dropout, dropout.level, family, corstr, std.err, scale.fix,
                       scale.value, R, Mv, contrasts, control, env)
    fit$call <- match.call()
    if (from_string) fit$call$formula <- formula
    return(progress_done(fit, owner))
  }
  if (!missing(dropout.level))
    stop("'dropout.level' is used with 'dropout' only", call. = FALSE)
  check_extra_lengths(mc, if (missing(data)) NULL else data, environment(formula),
                      c("id", "waves"))
  mf <- frame_from_call(mc, formula, env, c("weights", "offset", "id", "waves"), contrasts)
  mt <- attr(mf, "terms")
  ca <- frame_contrasts(mf, mt)
  # An intercept and numeric columns directly (design-direct.R).
  X <- if (is.null(ca)) terms_numeric_design(mt, mf, row.names(mf))
  X <- X %||% stats::model.matrix(mt, mf, contrasts.arg = ca)
  # Unit weights and a zero offset as NULL (gee_fit() reads them so).
  rc <- checked_response(mf, X, family, formula, unit_null = TRUE)
  resp <- rc$resp
  off <- rc$offset
  sep <- separation_record(X, resp$y, resp$weights, family, "gee")
  progress_stage("scoring", sprintf("model frame of %s rows; scoring", format(nrow(mf), big.mark = ",")),
                 unit = "scoring step")
  # Under separation the estimating equations have no finite root either;
  # when the engine fails because of it, say so by name.
  fit <- tryCatch(
    gee_fit(X, resp$y, mf[["(id)"]], family = family, corstr = corstr,
            waves = mf[["(waves)"]], weights = resp$weights, offset = off,
            std.err = std.err, scale.fix = scale.fix, scale.value = scale.value,
            R = R, Mv = Mv, control = control,
            start = if (is_binomial_log(family))
              binlog_glm_start(X, resp$y, resp$weights %||% rep(1, nrow(X)),
                               off %||% rep(0, nrow(X)))$coefficients),
    error = function(e) {
      if (isTRUE(sep$separated) && startsWith(conditionMessage(e), "gee fit failed"))
        stop(sep$message, " [", conditionMessage(e), "]", call. = FALSE)
      if (is_binomial_log(family) && startsWith(conditionMessage(e), "gee fit failed") &&
          grepl("boundary", conditionMessage(e)))
        stop(binlog_gee_no_root_message(conditionMessage(e)), call. = FALSE)
      stop(e)
    })
  fit$separation <- sep
  if (is_binomial_log(family)) {
    bm <- binlog_boundary_message(drop(X %*% fit$coefficients) + (off %||% 0), resp$weights)
    # Not converged while most full scoring steps left exp(eta) <= 1: the
    # root lies outside, whether the last iterate is on the boundary or
    # (oscillating) just inside it. Say why it did not converge. (A step
    # halved now and then, on the way to a root inside, is no such sign.)
    halved <- fit$halved %||% 0L
    mostly_halved <- 2L * halved > fit$iter
    if (!isTRUE(fit$converged) && (!is.null(bm) || mostly_halved))
      bm <- binlog_gee_no_root_message(paste(c(
        bm, if (mostly_halved)
          sprintf("%d of the %d scoring steps would have taken fitted probabilities above 1 and were shortened",
                  halved, fit$iter)), collapse = "; "))
    if (!is.null(bm)) {
      warning(bm, call. = FALSE)
      fit$warnings <- c(fit$warnings, bm)
    }
  }
  if (isTRUE(sep$separated)) {
    warning(sep$message, call. = FALSE)
    fit$warnings <- c(fit$warnings, sep$message)
  }
  fit$call <- match.call()
  if (from_string) fit$call$formula <- formula
  fit$formula <- formula
  fit$terms <- mt
  fit$xlevels <- stats::.getXlevels(mt, mf)
  fit$contrasts <- attr(X, "contrasts")
  fit$na.action <- attr(mf, "na.action")
  fit$model <- mf
  progress_done(fit, owner)
}

# 'id' and 'waves' of the wrong length: say so with the argument's name rather
# than model.frame's "variable lengths differ".
check_extra_lengths <- function(mc, data, env, args) {
  if (!is.data.frame(data)) return(invisible())
  for (a in args) {
    if (is.null(mc[[a]])) next
    v <- tryCatch(eval(mc[[a]], data, env), error = function(e) NULL)
    if (!is.null(v) && NROW(v) != nrow(data))
      stop(sprintf("'%s' must have one value per row of 'data' (%d), not %d",
                   a, nrow(data), NROW(v)), call. = FALSE)
  }
  invisible()
}
