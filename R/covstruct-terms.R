# Random-effect terms with covariance structures on one grouping factor:
# glmmTMB's syntax, e.g. y ~ x + ar1(0 + time_f | g) + (1 | g). Terms
# without a structure are unstructured, us(). Parsed by reformulas
# (splitForm, the parser glmmTMB uses).

# Whether a formula names a structure other than the unstructured default.
# A structure is a call of that name, so a formula that never names one
# (all.names()) has none: reformulas::anySpecial() is asked only otherwise.
has_covstruct <- function(formula) {
  kinds <- covstruct_special_kinds
  if (!any(kinds %in% all.names(formula))) return(FALSE)
  formula <- shield_formula(formula)  # exp(x) is the function (covstruct-coordinates.R)
  any(kinds %in% all.names(formula)) && isTRUE(reformulas::anySpecial(formula, kinds))
}

# us(x | g), the unstructured default written out (glmmTMB's spelling, as
# ?covariance-structures documents it), as (x | g): no function us()
# exists, so the model frame failed on it ("could not find function us")
# with or without other structures.
drop_us <- function(e) {
  # A formula that never names us() is returned as it is, without walking
  # it in R (that walk was 1% of a small REML fit).
  if (!is.call(e) || !("us" %in% all.names(e))) return(e)
  if (identical(e[[1L]], as.name("us")) && length(e) == 2L) return(call("(", drop_us(e[[2L]])))
  for (i in seq_along(e)[-1L]) if (!is.null(e[[i]])) e[[i]] <- drop_us(e[[i]])
  e
}

# The formula the model frame is built from: structures replaced by
# parentheses, then the bars by '+'.
covstruct_frame_formula <- function(formula) {
  f <- strip_structure_args(shield_formula(formula))
  f <- reformulas::sub_specials(f, specials = covstruct_special_kinds)
  unshield_formula(reformulas::subbars(f))
}

# The terms: per term its structure (covstruct()), design columns and
# names; all on one grouping factor (several: sparse_covstruct_terms()).
# A structure's arguments after the term (propto()'s and equalto()'s
# matrix) dropped: the model frame reads the term only.
strip_structure_args <- function(e) {
  kinds <- c(covstruct_matrix_kinds, "rr")
  if (!is.call(e) || !any(kinds %in% all.names(e))) return(e)
  if (is.name(e[[1L]]) && as.character(e[[1L]]) %in% kinds && length(e) > 2L)
    return(e[1:2])
  for (i in seq_along(e)[-1L]) if (!is.null(e[[i]]) && !missing_arg(e[[i]])) e[[i]] <- strip_structure_args(e[[i]])
  e
}

# What a structure reads beside its columns: the coordinates (ou(), exp(),
# gau(), mat()), the known matrix (propto(), equalto(); `args` the
# arguments written after the term) or the rank (rr(), 2 unless given, at
# most the number of columns), NULL for the others.
structure_data <- function(kind, label, args, env, cn, lhs, mf) {
  if (kind %in% covstruct_coordinate_kinds) return(term_coordinates(kind, label, cn, lhs, mf))
  if (kind %in% covstruct_matrix_kinds) return(term_known_matrix(kind, label, args[[1L]], env, cn, lhs))
  if (kind == "rr") {
    d <- if (length(args)) args[[1L]] else 2L
    if (is.language(d)) d <- tryCatch(eval(d, env %||% globalenv()), error = function(e) NA)
    if (!is.numeric(d) || length(d) != 1L || is.na(d) || d < 1 || d != round(d))
      stop(sprintf("%s: the rank d must be a whole number >= 1", label), call. = FALSE)
    return(as.integer(min(d, length(cn))))
  }
  NULL
}

# A term's label as written: kind(bar[, arguments]).
structure_label <- function(kind, bar, args = list()) {
  sprintf("%s(%s)", kind, paste(c(paste(deparse(bar), collapse = ""),
                                   vapply(args, function(a) paste(deparse(a), collapse = ""), "")),
                                 collapse = ", "))
}

covstruct_terms <- function(formula, mf, env) {
  sp <- reformulas::splitForm(shield_formula(formula), specials = covstruct_kinds)
  sp$fixedFormula <- unshield_formula(sp$fixedFormula)
  bars <- lapply(sp$reTrmFormulas, unshield_exp)
  kinds <- sp$reTrmClasses
  gnames <- vapply(bars, function(b) paste(deparse(b[[3L]]), collapse = ""), "")
  if (length(unique(gnames)) > 1L)
    stop(sprintf(paste0("covstruct_terms() reads terms on one grouping factor (several go to ",
                        "the sparse engine); the formula has %s"),
                 paste(unique(gnames), collapse = " and ")),
         call. = FALSE)
  # One group is enough where every term has a structure over coordinates
  # or a given matrix (one spatial field, one pedigree), as in glmmTMB.
  one_ok <- all(kinds %in% c(covstruct_coordinate_kinds, covstruct_matrix_kinds))
  g <- checked_grouping(bars[[1L]][[3L]], gnames[1L], mf, env,  # re-grouping.R
                        min_levels = if (one_ok) 1L else 2L)
  terms <- lapply(seq_along(bars), function(k) {
    lhs <- stats::as.formula(call("~", bars[[k]][[2L]]), env = env)
    Zb <- stats::model.matrix(lhs, mf)
    q <- ncol(Zb)
    args <- as.list(sp$reTrmAddArgs[[k]])[-1L]
    label <- structure_label(kinds[k], bars[[k]], args)
    if (q == 0L) stop(sprintf("the random-effects term %s has no columns", label), call. = FALSE)
    check_structure_columns(kinds[k], label, q, lhs, mf)
    sdata <- structure_data(kinds[k], label, args, env, colnames(Zb), lhs, mf)
    list(kind = kinds[k], label = label, Z = Zb, cnames = colnames(Zb), q = q,
         struct = covstruct(kinds[k], q, sdata))
  })
  cn <- unlist(lapply(terms, `[[`, "cnames"))
  if (anyDuplicated(cn))
    stop(sprintf("random-effects terms on '%s' repeat a column (%s)", gnames[1L],
                 paste(unique(cn[duplicated(cn)]), collapse = ", ")), call. = FALSE)
  Z <- do.call(cbind, lapply(terms, `[[`, "Z"))
  sizes <- vapply(terms, `[[`, 1L, "q")
  pat <- block_pattern(sizes)
  for (k in seq_along(terms)) terms[[k]]$Z <- NULL
  list(terms = terms, Z = unname(Z), cnames = cn, group = g, group_name = gnames[1L],
       lam_row = pat$row, lam_col = pat$col, block_sizes = sizes,
       fixed = sp$fixedFormula)
}

#' Covariance structures and penalized fixed effects in glmm()
#'
#' Random-effect terms on one grouping factor may carry a covariance
#' structure, written as in glmmTMB: `us(x | g)` or `(x | g)`
#' (unstructured), `diag(x | g)` (independent effects with one standard
#' deviation each; for numeric terms the same model as `(1 | g) + (0 + x | g)`),
#' `homdiag(x | g)` (independent, one common standard deviation),
#' `ar1(0 + f | g)` (one standard deviation; correlation
#' \eqn{\rho^{|j-k|}} between the j-th and k-th columns, e.g. the levels of a
#' time factor in their order) and `cs(0 + f | g)` (compound symmetry: one
#' standard deviation per column and one common correlation, as glmmTMB's
#' `cs`), `homcs(0 + f | g)` (compound symmetry with one common standard
#' deviation, glmmTMB's `homcs`), `hetar1(0 + f | g)` (`ar1()`'s correlation
#' with one standard deviation per column), `toep(0 + f | g)` (Toeplitz: one
#' standard deviation per column and one correlation per lag \eqn{|j-k|},
#' as glmmTMB's `toep`) and `homtoep(0 + f | g)` (Toeplitz with one common
#' standard deviation). lme4's spelling of the variance option is
#' read: `diag(x | g, hom = TRUE)` is `homdiag()`, `cs(x | g, hom = TRUE)` is
#' `homcs()`, `ar1(..., hom = FALSE)` is `hetar1()`, `toep(..., hom = TRUE)`
#' is `homtoep()`, and `cs(..., hom = FALSE)` and `ar1(..., hom = TRUE)` are
#' `cs()` and `ar1()`; any other argument is an error. Several terms may be
#' combined, e.g. `(1 | g) + ar1(0 + f | g)`.
#'
#' `rr(0 + f | g, d = 2)` is glmmTMB's reduced-rank term: \eqn{D = L L'}
#' with \eqn{L} a q x d matrix of loadings, lower trapezoidal (d columns of
#' a lower-triangular factor; q d - d(d - 1)/2 parameters), for many
#' correlated effects such as the species of a community (a factor-analytic
#' model of the species' responses). `d` defaults to 2, as in glmmTMB, and a
#' `d` of q or more is the unstructured term. The loadings are identified
#' only up to rotation; `VarCorr()` gives \eqn{D}.
#'
#' Two structures take a matrix after the term, evaluated where the formula
#' was written: `propto(0 + f | g, K)` (\eqn{D = s^2 K}, one parameter: a
#' known correlation or relationship matrix, e.g. a phylogeny among
#' species, times an estimated variance, reported as `extra["scale"]`) and
#' `equalto(0 + f | g, V)` (\eqn{D = V} exactly, no parameter: known
#' sampling covariances, as a one-stage meta-analysis needs). The matrix's
#' rows are matched to the levels of `f` by name when it has row names,
#' otherwise taken in order; it must be symmetric and positive
#' semi-definite (a kinship with clones or a lineage with sister cells of
#' one clade is singular, and fits).
#' `equalto()` fixes the covariance in the response's units; gaussian fits
#' with it take `REML = TRUE` (the restricted likelihood, with the residual
#' variance estimated, or removed by `dispformula = ~ 0`, as in glmmTMB's
#' one-stage meta-analysis; see [glmm()]'s `REML`). A known covariance of
#' a grouping factor's levels (a kinship among individuals) is given by
#' [glmm()]'s `covariance` argument instead. A given matrix and a distance
#' structure on the same units make, for instance, the cell-fate model of
#' a lineage and a neighbourhood: `y ~ propto(0 + cell | embryo, K) + exp(0
#' + pos | embryo)` with one level of `embryo`; [variance_shares()] then
#' gives each structured term its own component (its delta-method
#' intervals in the structures' parameters).
#'
#' Four structures read coordinates from the levels of the term's factor,
#' made by [numFactor()] (or glmmTMB's, the same labels) or, for times,
#' `factor()` of numbers: `ou(0 + t | g)` (Ornstein-Uhlenbeck: correlation
#' \eqn{\exp(-\theta |t_j - t_k|)}, a continuous-time AR(1) on times that
#' need not be equally spaced), `exp(0 + pos | g)`
#' (\eqn{\exp(-d/\phi)} with \eqn{d} the Euclidean distance), `gau(0 + pos
#' | g)` (\eqn{\exp(-(d/\phi)^2)}) and `mat(0 + pos | g)` (Matern,
#' \eqn{2^{1-\kappa}/\Gamma(\kappa) (d/\phi)^\kappa K_\kappa(d/\phi)} with
#' the smoothness \eqn{\kappa} estimated), glmmTMB's parameterizations. Each
#' has one standard deviation; the rate \eqn{\theta} or the range
#' \eqn{\phi} (and \eqn{\kappa}) are estimated on the log scale and
#' reported in `$structures[[k]]$extra`. One spatial field is one group:
#' `exp(0 + pos | field)` with a constant `field` is accepted (one level is
#' refused for other terms). `exp(x)` elsewhere in a formula is the
#' exponential function. The Matern derivative in the smoothness is taken
#' by central differences; all others are exact.
#'
#' A `q`-column term has these parameters: `cs()` and `hetar1()` q + 1,
#' `toep()` 2q - 1, `homtoep()` q, `ar1()` and `homcs()` 2, `rr()` q d -
#' d(d - 1)/2, against q(q + 1)/2 for the unstructured term. `VarCorr()` gives the implied
#' covariance matrix; `$structures` (and print) the standard deviations
#' and the correlation, or for Toeplitz terms the correlation at each lag.
#'
#' `ar1()`, `hetar1()`, `toep()` and `homtoep()` take their columns in order
#' as equally spaced times: the levels of
#' a factor in their order (unused levels are dropped first, as in glmmTMB,
#' so a time never observed does not count as a step; uneven times such as
#' 1, 2, 5 are taken as equally spaced). A character column, whose levels
#' would be alphabetical (1, 10, 2, 20), and a factor whose levels are
#' numbers out of numeric order are refused, naming the column.
#' On one grouping factor they are fitted by the one-factor engine (adaptive
#' Gauss-Hermite quadrature or Laplace, `nAGQ` as usual; with `REML = TRUE`
#' by the exact restricted criterion described below); beside terms on
#' other grouping factors, e.g. `ar1(0 + times | id) + (1 | site)` or
#' `cs(0 + f | g) + (1 | h)`, by the sparse Laplace engine
#' ([glmm-several-terms]), where each term's block of the relative
#' covariance factor comes from its structure. With `nAGQ > 1` and nested
#' grouping factors, the structure on the innermost one and random
#' intercepts above it (`(1 | school) + ar1(0 + time | school:class)`),
#' multilevel adaptive quadrature integrates them ([glmm-nested]): each
#' inner unit's \eqn{q} structured effects on a product grid of
#' \eqn{nAGQ^q} points inside its outer unit's quadrature. All of them evaluate the likelihood
#' at \eqn{\Lambda = chol(D)}, with
#' the exact gradient carried to the structure's parameters by the exact
#' Jacobian of the Cholesky factor.
#'
#' Structures may also stand beside a zero-inflation, hurdle or dispersion
#' part, and in the zero part and the dispersion part themselves, as in
#' glmmTMB: `glmm(y ~ x + ar1(0 + time | id), ziformula = ~ z + cs(0 + f |
#' id), family = nbinom2)`, or `glmm(y ~ x + ar1(0 + time | id),
#' dispformula = ~ arm + (1 | id))` (a location-scale model,
#' [glmm-dispersion-random]). Such models are fitted by the Laplace
#' approximation (`nAGQ = 1`) of the two-part sparse engines, each part's
#' structures independent of the other parts' (the zero and the dispersion
#' parts may both have random effects); their labels in `$structures`
#' start with `zi~` or `disp~`. When every
#' random-effect term of every part lies on one grouping factor, `nAGQ > 1`
#' integrates them by adaptive quadrature instead (a one-factor engine:
#' each cluster's effects of all parts jointly, \eqn{K^q} points for
#' \eqn{q} effects). `penalized` is refused with them. Profile intervals
#' cover every part's coefficients and structure parameters.
#'
#' The parameters are searched on
#' unconstrained scales: log standard deviations, \eqn{\rho = t/\sqrt{1+t^2}}
#' (ar1, hetar1), \eqn{\rho = -a + (1+a)\,\mathrm{logit}^{-1}(t)}, \eqn{a = 1/(q-1)}
#' (cs, homcs), and for Toeplitz terms the partial autocorrelations, each
#' \eqn{t/\sqrt{1+t^2}}, from which the Durbin-Levinson recursion gives the
#' correlation at each lag: every point of that scale is a positive definite
#' Toeplitz correlation matrix and every such matrix is one point
#' (Barndorff-Nielsen and Schou 1973). A standard deviation driven to zero or a correlation to its limit is
#' reported (singular fit) only after restarts from interior points find no
#' higher log-likelihood (`$optinfo$boundary_check`). `start` takes the
#' parameters on these scales, laid out as a fit's `$theta_structure`
#' (fixed effects, each term's parameters, then the log dispersion or a
#' two-part fit's zero and dispersion coefficients; by name when named), in
#' the units of the data: `update(fit, start = fit$theta_structure)` refits
#' from the estimates (not for REML with a `dispformula`, nor a two-column
#' `cs()` far from zero by quadrature).
#'
#' A `cs()` term of two columns is the unstructured 2 x 2 term (two standard
#' deviations and a correlation in (-1, 1)), e.g. `cs(x | g)` is `(x | g)`.
#' With a column far from zero (`x * 1e-6 - 5`) it is searched as that
#' unstructured term on its centred columns by the sparse engine and mapped
#' back exactly to the cs() parameters (`$optinfo$centred_z`,
#' `$optinfo$cs2_unstructured`), also with one grouping factor when that is
#' the same likelihood (gaussian, or `nAGQ = 1`); with adaptive quadrature
#' (`nAGQ > 1`) it is fitted on the columns as given, with a warning that
#' the search can stop below the optimum there (fit `(x | g)` or centre the
#' covariate). A gaussian model's
#' residual variance is not identified beside a term with at most one
#' observation per group and column (each row one indicator) whose
#' covariance plus a multiple of the identity stays in its family: an
#' unstructured, `diag()`, `homdiag()`, `homcs()` or `homtoep()` term, a
#' two-column `cs()`, `ar1()`, `hetar1()` or `toep()`, or a `cs()` or
#' `toep()` estimated at equal standard deviations; such fits
#' warn and record `$optinfo$residual_unidentified`. Where that term takes
#' up the whole residual variance beside other grouping factors (sigma at its
#' zero limit), the fixed effects' standard errors are those of generalized
#' least squares at the estimates, \eqn{(X'V^{-1}X)^{-1}}, and the variance
#' parameters have none.
#'
#' `penalized = TRUE` adds the log density (without its constant) of a
#' multivariate Student-t prior on the fixed effects,
#' \eqn{-(\nu + p)/2 \log(1 + \sum_j ((\beta_j-\mu)/\sigma)^2/\nu)}, to the
#' log-likelihood, as GLMMadaptive does (location `pen_mu` 0, scale
#' `pen_sigma` 1, `pen_df` \eqn{\nu = 3}); the estimates are the posterior
#' mode, finite under separation, and their standard errors come from the
#' Hessian of the penalized log-likelihood. `logLik()` gives the
#' log-likelihood at these estimates without the penalty; `$penalty` holds
#' the prior, the penalty and the penalized value, and print says that the
#' estimates are penalized. The prior acts on the coefficients in the units
#' of the model matrix, so, unlike maximum likelihood, the estimates depend
#' on how covariates are scaled.
#'
#' Fits with a structure or a penalty have class `glmmgee_glmm_covstruct`
#' (a `glmmgee_glmm`); `$structures` lists, per term, the structure, the
#' standard deviations, the correlation and the parameters on the
#' optimizer's scale with their standard errors; with several grouping
#' factors the class is also `glmmgee_glmm_sparse`. `penalized = TRUE` works
#' on both engines, with the same prior. Zero-inflated, hurdle and
#' dispersion-formula fits take it too (keeping their own classes, the
#' prior in `$penalty`); their zero part is penalized only on request
#' (`pen_zi`, see [glmm()]'s `penalized`).
#'
#' Gaussian identity-link models with `REML = TRUE`, on one grouping factor
#' (`y ~ x + ar1(0 + time | subj)`) or several
#' (`y ~ x + ar1(0 + time | subj) + (1 | site)`),
#' and with several grouping factors by ML with
#' `options(glmmgee.covstruct_profiled = TRUE)`, are fitted by the exact
#' profiled criterion of lme4's penalized least squares formulation (Bates
#' et al. 2015, J. Stat. Softw. 67(1)) with each structured term's block of
#' the relative covariance factor from its structure, by maximum likelihood
#' or by restricted maximum likelihood (its value in
#' `logLik()`, as glmmTMB's `REML = TRUE`; `logLik(fit, REML = FALSE)` the
#' log-likelihood at the REML estimates; `nAGQ` does not change this exact
#' criterion). Not available: `REML` with other families, `covariance` beside
#' a structure (a known matrix enters as a `propto()` or `equalto()` term),
#' and adaptive quadrature (`nAGQ > 1`) with crossed grouping factors or with
#' a structure above the innermost of nested ones. A structure on a nested term,
#' `ar1(0 + f | a/b)`, applies to each of its terms.
#'
#' `confint(fit, method = "profile")` and [profile()][profile.glmmgee_glmm()]
#' give profile-likelihood intervals for the fixed effects and for every
#' structure parameter on its natural scale: standard deviations,
#' correlations, a spatial range, a Matern smoothness, a `propto()` scale.
#' @name covariance-structures
#' @examples
#' set.seed(1)
#' M <- 60
#' d <- data.frame(g = factor(rep(1:M, each = 4)), time = factor(rep(1:4, M)),
#'                 x = rnorm(4 * M))
#' b <- t(chol(0.5 * 0.6^abs(outer(1:4, 1:4, "-")))) %*% matrix(rnorm(4 * M), 4)
#' d$y <- rpois(4 * M, exp(0.2 + 0.3 * d$x + as.vector(b)))
#' fit <- glmm(y ~ x + ar1(0 + time | g), d, family = poisson, nAGQ = 1)
#' fit
#' fit$structures[[1]]$rho
#'
#' # A correlation per lag (Toeplitz) nests ar1(): a likelihood-ratio test.
#' tfit <- glmm(y ~ x + toep(0 + time | g), d, family = poisson, nAGQ = 1)
#' tfit$structures[[1]]$rho
#' anova(fit, tfit)
#'
#' # A spatial field: one group, positions by numFactor().
#' set.seed(2)
#' xy <- cbind(runif(80, 0, 10), runif(80, 0, 10))
#' u <- t(chol(0.6 * exp(-as.matrix(dist(xy)) / 2))) %*% rnorm(80)
#' sp <- data.frame(pos = numFactor(xy[, 1], xy[, 2]), field = factor(1))
#' sp$y <- rpois(80, exp(1 + as.vector(u)))
#' sfit <- glmm(y ~ 1 + exp(0 + pos | field), sp, family = poisson)
#' sfit$structures[[1]]$extra
#'
#' # Separation: no failures among the treated; penalized estimates are finite.
#' d$trt <- rep(0:1, length.out = M)[d$g]
#' d$z <- ifelse(d$trt == 1, 1, rbinom(4 * M, 1, 0.4))
#' pfit <- glmm(z ~ trt + (1 | g), d, family = binomial, penalized = TRUE)
#' fixef(pfit)
#'
#' # A structure beside a crossed factor: the sparse Laplace engine.
#' d$site <- factor(sample(8, 4 * M, replace = TRUE))
#' fit2 <- glmm(y ~ x + ar1(0 + time | g) + (1 | site), d, family = poisson)
#' fit2
#' VarCorr(fit2)
#'
#' # Gaussian: the exact profiled criterion, ML or REML.
#' d$yg <- 1 + 0.5 * d$x + as.vector(b) + rnorm(8, sd = 0.5)[d$site] + rnorm(4 * M, sd = 0.5)
#' fit3 <- glmm(yg ~ x + ar1(0 + time | g) + (1 | site), d, REML = TRUE)
#' logLik(fit3)
NULL

# The columns of a structured term: ar1(), hetar1(), toep(), homtoep(),
# cs() and homcs() need two or more; the first four read their columns in
# order as equally spaced times, so the variables that make them must carry
# that order. A character column (whose levels the
# model matrix takes alphabetically: 1, 10, 2, 20) or a factor whose levels
# are numbers out of numeric order (factor() of such a character column)
# would fit another model than the one meant, without a word: refused,
# naming the column. (glmmTMB fits the alphabetical order.) `lhs` is the
# term's one-sided formula, `mf` the model frame.
check_structure_columns <- function(kind, label, q, lhs, mf) {
  ordered <- kind %in% covstruct_ordered_kinds
  if ((ordered || kind %in% c("cs", "homcs", covstruct_coordinate_kinds)) && q < 2L)
    stop(sprintf(paste0("%s needs at least two columns (e.g. %s(0 + f | g) with a factor f of two or ",
                        "more levels); it has one%s"), label, kind,
                 if (ordered) ": a numeric time gives one column, write factor(time)" else ""),
         call. = FALSE)
  if (!ordered) return(invisible())
  vars <- vapply(as.list(attr(stats::terms(lhs), "variables"))[-1L],
                 function(v) paste(deparse(v, width.cutoff = 500L), collapse = ""), "")
  for (v in vars) {
    x <- mf[[v]]
    if (is.character(x))
      stop(sprintf(paste0("%s: '%s' is a character column, whose values would be taken in alphabetical ",
                          "order as the times (%s, ...); give a factor with its levels in time order ",
                          "(factor(%s, levels = ...)), or factor(as.numeric(%s)) for numeric times"),
                   label, v, paste(utils::head(sort(unique(x)), 4L), collapse = ", "), v, v),
           call. = FALSE)
    if (is.factor(x)) {
      lev <- levels(x)
      num <- suppressWarnings(as.numeric(lev))
      if (length(lev) > 1L && !anyNA(num) && is.unsorted(num))
        stop(sprintf(paste0("%s: the levels of '%s' are numbers out of numeric order (%s), and %s() ",
                            "takes the levels in their order as the times; give the levels in time ",
                            "order, e.g. factor(as.numeric(as.character(x)))"),
                     label, v, paste(utils::head(lev, 4L), collapse = ", "), kind), call. = FALSE)
    }
  }
  invisible()
}

# Structure calls with arguments beyond the term: lme4 (2.0) writes the
# variance option as `hom`: diag(x | g, hom = TRUE) and cs(x | g, hom =
# TRUE) have a common variance (homdiag() and homcs() here), cs(..., hom =
# FALSE) and ar1(..., hom = TRUE) are its defaults and this package's cs()
# and ar1(), ar1(..., hom = FALSE) is hetar1() and toep(..., hom = TRUE)
# homtoep(); the other combinations (us() or the hom- structures with
# `hom`) have no structure here and any other argument (e.g. `het`) none
# anywhere: each refused by name, instead of being dropped with the model
# frame's rewriting. rr() takes its rank d, propto() and equalto() their
# matrix (kept in the call, stripped from the frame's formula by
# strip_structure_args()); errors name `arg`, the argument the formula came
# in. Returns the formula with the arguments taken
# into the structures' names.
covstruct_arguments <- function(formula, arg = "formula") {
  nm <- all.names(formula)
  if (!any(covstruct_kinds %in% nm)) return(formula)
  walk <- function(e) {
    if (!is.call(e)) return(e)
    f <- e[[1L]]
    fn <- if (is.name(f)) as.character(f) else ""
    is_term <- length(e) >= 2L && is.call(e[[2L]]) && identical(e[[2L]][[1L]], as.name("|"))
    if (is_term && fn == "rr") {
      # rr(x | g, d) or rr(x | g, d = 2): a whole number d >= 1 written in
      # the term (glmmTMB's default 2 when omitted).
      shown <- paste(deparse(e, width.cutoff = 500L), collapse = "")
      if (length(e) == 2L) return(e)
      an <- names(e)[-(1:2)] %||% ""
      d <- e[[3L]]
      # (a name or expression is evaluated with the terms: structure_data())
      if (length(e) != 3L || !an %in% c("", "d") ||
          !is.language(d) && (!is.numeric(d) || length(d) != 1L || is.na(d) || d < 1 || d != round(d)))
        stop(sprintf(paste0("'%s': %s: rr() takes the term and its rank d, a whole number >= 1, ",
                            "e.g. rr(0 + f | g, d = 2)"), arg, shown), call. = FALSE)
      names(e) <- c("", "", "d")
      return(e)
    }
    if (is_term && fn %in% covstruct_matrix_kinds) {
      if (length(e) != 3L || !is.null(names(e)) && nzchar(names(e)[3L]))
        stop(sprintf("'%s': %s: %s() takes the term and one matrix, e.g. %s(0 + f | g, K)", arg,
                     paste(deparse(e, width.cutoff = 500L), collapse = ""), fn, fn), call. = FALSE)
      return(e)
    }
    if (is_term && fn %in% covstruct_kinds) {
      if (length(e) == 2L) return(e)
      args <- as.list(e)[-(1:2)]
      an <- names(args) %||% rep("", length(args))
      shown <- paste(deparse(e, width.cutoff = 500L), collapse = "")
      bad <- which(an != "hom")
      if (length(bad))
        stop(sprintf(paste0("'%s': %s: %s() takes no argument %s; the only option read is ",
                            "lme4's hom = TRUE / FALSE (common or separate variances)"), arg, shown, fn,
                     if (nzchar(an[bad[1L]])) sQuote(an[bad[1L]], FALSE)
                     else sprintf("'%s' (unnamed)", paste(deparse(args[[bad[1L]]]), collapse = ""))),
             call. = FALSE)
      hom <- args[[1L]]
      if (length(args) > 1L || !is.logical(hom) || length(hom) != 1L || is.na(hom))
        stop(sprintf("'%s': %s: 'hom' must be TRUE or FALSE, written in the term", arg, shown),
             call. = FALSE)
      new <- switch(fn,
        diag = if (hom) "homdiag" else "diag",
        cs = if (hom) "homcs" else "cs",
        ar1 = if (hom) "ar1" else "hetar1",
        toep = if (hom) "homtoep" else "toep",
        NA_character_)
      if (is.na(new))
        stop(sprintf("'%s': %s: %s() takes no argument 'hom'", arg, shown, fn), call. = FALSE)
      return(as.call(list(as.name(new), e[[2L]])))
    }
    for (i in seq_along(e)[-1L]) if (!is.null(e[[i]]) && !missing_arg(e[[i]])) e[[i]] <- walk(e[[i]])
    e
  }
  out <- walk(formula)
  attributes(out) <- attributes(formula)
  out
}

missing_arg <- function(x) is.name(x) && !nzchar(as.character(x))
