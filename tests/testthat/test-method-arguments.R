# Every method of the package with an argument it does not know: an
# argument swallowed by `...` would give the default answer without a word
# (vcov(fit, type = "CR2") returned the model-based matrix). The table
# below says, for every S3 method registered in NAMESPACE and every
# exported function taking `...`, what its `...` does; a method missing from
# the table fails the test, so a new method is covered when it is added.
#   check   unknown arguments are an error (check_dots())
#   fits    `...` holds further fits; anything else is an error (check_dots_fits())
#   next    passed to the next method, which checks
#   pass    passed on to a function that uses it (reason given)
#   exempt  called by another package with its routine arguments, or has no `...`

ma_rules <- c(
  # no `...`
  "$.glmmgee_gee" = "exempt: no ...", "$.glmmgee_glmm" = "exempt: no ...",
  "$.glmmgee_glmm_sharded" = "exempt: no ...", "$.glmmgee_glmm_ordinal" = "exempt: no ...", "makepredictcall.glmmgee_within_between" = "exempt: no ...",
  # as.data.frame(): data.frame() passes optional, stringsAsFactors, ...
  "as.data.frame.VarCorr.glmmgee_glmm" = "exempt: as.data.frame convention",
  "as.data.frame.glmmgee_marginal_coefs" = "exempt: as.data.frame convention",
  "as.data.frame.glmmgee_profile" = "exempt: as.data.frame convention",
  "as.data.frame.ranef.glmmgee_glmm" = "exempt: as.data.frame convention",
  # the Wald-model adapter handed to car, multcomp and lmtest default methods
  "coef.glmmgee_wald" = "exempt: read by other packages' default methods",
  "vcov.glmmgee_wald" = "exempt: read by other packages' default methods",
  "model.matrix.glmmgee_wald" = "exempt: read by other packages' default methods",
  "formula.glmmgee_wald" = "exempt: read by other packages' default methods",
  "df.residual.glmmgee_wald" = "exempt: read by other packages' default methods",
  # broom's generics (re-exported from generics), called by broom's users and tools
  "tidy.glmmgee_gee" = "exempt: broom", "tidy.glmmgee_gee_ordinal" = "exempt: broom",
  "tidy.glmmgee_glmm" = "exempt: broom", "tidy.glmmgee_glmm_ordinal" = "exempt: broom",
  "tidy.glmmgee_glmm_zi" = "exempt: broom", "glance.glmmgee_gee" = "exempt: broom",
  "glance.glmmgee_gee_ordinal" = "exempt: broom", "glance.glmmgee_glmm" = "exempt: broom",
  "glance.glmmgee_glmm_ordinal" = "exempt: broom", "augment.glmmgee_gee" = "exempt: broom",
  "augment.glmmgee_glmm" = "exempt: broom",
  # `[` of the table-like results: '...' holds the indices
  "[.VarCorr.glmmgee_glmm_ordinal" = "exempt: indices", "[.glmmgee_profile" = "exempt: indices",
  "[.glmmgee_ranef_new" = "exempt: indices", "[.glmmgee_rank_intervals" = "exempt: indices",
  "[.glmmgee_ratios" = "exempt: indices", "[.glmmgee_standardized" = "exempt: indices",
  "[.glmmgee_standardized_ordinal" = "exempt: indices", "[.glmmgee_variance_shares" = "exempt: indices",
  "[.glmmgee_views" = "exempt: indices", "[.glmmgee_lowrank_cov" = "exempt: indices",
  "dim.glmmgee_lowrank_cov" = "exempt: no ...", "dimnames.glmmgee_lowrank_cov" = "exempt: no ...",
  "drop1.glmmgee_glmm" = "pass: stats::drop1()'s arguments (test, k, trace)",
  "update.glmmgee_gee" = "pass: arguments of the call to change",
  "update.glmmgee_glmm" = "pass: arguments of the call to change",
  "plot.glmmgee_profile" = "pass: graphical parameters", "plot.glmmgee_rank_intervals" = "pass: graphical parameters",
  "AIC.glmmgee_glmm" = "fits", "BIC.glmmgee_glmm" = "fits", "QIC.glmmgee_gee" = "fits",
  "QIC.glmmgee_gee_ordinal" = "fits", "anova.glmmgee_gee" = "fits",
  "anova.glmmgee_gee_ordinal" = "fits", "anova.glmmgee_glmm" = "fits",
  "gee_criteria" = "fits")
ma_check <- c(
  "VarCorr.glmmgee_glmm", "VarCorr.glmmgee_glmm_ordinal", "VarCorr.glmmgee_glmm_ordinal_re",
  "VarCorr.glmmgee_glmm_sparse", "VarCorr.glmmgee_glmm_zire",
  "VarCorr.glmmgee_glmm_zire_sparse", "VarCorr.glmmgee_glmm_dispre",
  "coef.glmmgee_gee", "coef.glmmgee_gee_ordinal", "coef.glmmgee_glmm", "coef.glmmgee_glmm_ordinal",
  "coef.glmmgee_glmm_sparse", "coef.glmmgee_marginal_coefs",
  "confint.glmmgee_gee", "confint.glmmgee_gee_ordinal", "confint.glmmgee_glmm",
  "confint.glmmgee_glmm_ordinal",
  "confint.glmmgee_glmm_sharded", "confint.glmmgee_marginal_coefs", "confint.glmmgee_profile",
  "deviance.glmmgee_gee", "deviance.glmmgee_gee_ordinal", "deviance.glmmgee_glmm",
  "df.residual.glmmgee_gee", "df.residual.glmmgee_gee_ordinal", "df.residual.glmmgee_glmm",
  "extractAIC.glmmgee_gee", "extractAIC.glmmgee_glmm",
  "family.glmmgee_gee", "family.glmmgee_gee_ordinal", "family.glmmgee_glmm",
  "fitted.glmmgee_gee", "fitted.glmmgee_gee_ordinal", "fitted.glmmgee_gee_sharded", "fitted.glmmgee_glmm",
  "fitted.glmmgee_glmm_ordinal", "fitted.glmmgee_glmm_sharded", "fitted.glmmgee_glmm_zi",
  "fixef.glmmgee_glmm",
  "formula.glmmgee_gee", "formula.glmmgee_gee_ordinal", "formula.glmmgee_glmm",
  "isREML.default", "isREML.glmmgee_glmm", "logLik.glmmgee_glmm", "logLik.glmmgee_glmm_ordinal",
  "model.frame.glmmgee_gee_ordinal", "model.frame.glmmgee_glmm",
  "model.matrix.glmmgee_gee", "model.matrix.glmmgee_gee_ordinal", "model.matrix.glmmgee_gee_sharded",
  "model.matrix.glmmgee_glmm", "model.matrix.glmmgee_glmm_ordinal", "model.matrix.glmmgee_glmm_sparse",
  "nobs.glmmgee_gee", "nobs.glmmgee_gee_ordinal", "nobs.glmmgee_glmm",
  "predict.glmmgee_gee", "predict.glmmgee_gee_ordinal", "predict.glmmgee_gee_sharded", "predict.glmmgee_glmm",
  "predict.glmmgee_glmm_ordinal", "predict.glmmgee_glmm_sharded",
  "predict.glmmgee_glmm_sparse", "predict.glmmgee_glmm_zi",
  "as.matrix.glmmgee_lowrank_cov", "print.glmmgee_lowrank_cov",
  "print.glmmgee_engine", "print.glmmgee_spec",
  "print.VarCorr.glmmgee_glmm", "print.VarCorr.glmmgee_glmm_ordinal", "print.VarCorr.glmmgee_glmm_ordinal_re",
  "print.coef.glmmgee_glmm", "print.glmmgee_gee", "print.glmmgee_gee_ordinal", "print.glmmgee_glmm",
  "print.glmmgee_glmm_ordinal", "print.glmmgee_marginal_coefs", "print.glmmgee_loglik_check", "print.glmmgee_ranef_new", "print.glmmgee_ratios",
  "print.glmmgee_standardized", "print.glmmgee_standardized_ordinal", "print.glmmgee_variance_shares",
  "print.glmmgee_views", "print.ranef.glmmgee_glmm", "print.summary.glmmgee_gee",
  "print.summary.glmmgee_gee_ordinal", "print.summary.glmmgee_glmm",
  "print.summary.glmmgee_glmm_known", "print.summary.glmmgee_glmm_ordinal",
  "print.summary.glmmgee_glmm_zi",
  "profile.glmmgee_glmm",
  "ranef.glmmgee_glmm", "ranef.glmmgee_glmm_dist", "ranef.glmmgee_glmm_ordinal",
  "ranef.glmmgee_glmm_ordinal_sparse", "ranef.glmmgee_glmm_sparse", "ranef.glmmgee_glmm_zire",
  "ranef.glmmgee_glmm_zire_sparse", "ranef.glmmgee_glmm_dispre",
  "residuals.glmmgee_gee", "residuals.glmmgee_gee_ordinal", "residuals.glmmgee_gee_sharded",
  "residuals.glmmgee_glmm", "residuals.glmmgee_glmm_ordinal", "residuals.glmmgee_glmm_sharded",
  "residuals.glmmgee_glmm_zi",
  "sigma.glmmgee_gee_ordinal", "sigma.glmmgee_glmm", "sigma.glmmgee_glmm_zi",
  "simulate.glmmgee_glmm", "simulate.glmmgee_glmm_dist", "simulate.glmmgee_glmm_ordinal",
  "simulate.glmmgee_glmm_zi",
  "summary.glmmgee_gee", "summary.glmmgee_gee_ordinal", "summary.glmmgee_glmm",
  "summary.glmmgee_glmm_ordinal", "terms.glmmgee_glmm",
  "hatvalues.glmmgee_gee", "dfbeta.glmmgee_gee", "cooks.distance.glmmgee_gee",
  "simulate.glmmgee_gee",
  "vcov.glmmgee_gee", "vcov.glmmgee_gee_ordinal", "vcov.glmmgee_gee_sharded", "vcov.glmmgee_glmm", "vcov.glmmgee_glmm_sharded",
  "vcov.glmmgee_glmm_ordinal", "vcov.glmmgee_marginal_coefs",
  "weights.glmmgee_gee", "weights.glmmgee_gee_ordinal", "weights.glmmgee_glmm", "weights.glmmgee_glmm_ordinal",
  # exported functions taking `...`
  "odds_ratios", "standardize", "compare_views")
ma_rules <- c(ma_rules, stats::setNames(rep("check", length(ma_check)), ma_check))
ma_exported_rules <- c(
  gee = "pass: control settings to gee_control(), which refuses unknown names",
  gee_control = "check: refuses unknown names itself", glmm_control = "check: refuses unknown names itself",
  QIC = "generic", isREML = "generic",
  plot_ranef = "pass: graphical parameters", plot_views = "pass: graphical parameters",
  plot_ranef_dist = "pass: graphical parameters", plot_influence = "pass: graphical parameters",
  numFactor = "data: the other coordinates, each checked numeric")
# Methods no fit below reaches: those of distributed fits (they need worker
# processes); the static check (a check_dots() call in the body) covers them.
ma_unreached <- c("confint.glmmgee_glmm_sharded", "fitted.glmmgee_gee_sharded",
                  "fitted.glmmgee_glmm_sharded", "model.matrix.glmmgee_gee_sharded",
                  "predict.glmmgee_gee_sharded", "predict.glmmgee_glmm_sharded",
                  "residuals.glmmgee_gee_sharded",
                  "residuals.glmmgee_glmm_sharded", "vcov.glmmgee_gee_sharded",
                  "vcov.glmmgee_glmm_sharded", "isREML.default")

# S3method(generic, class) or S3method(generic, class, function): `fun`
# is the function registered (generic.class unless named).
ma_namespace <- function() {
  ns <- readLines(system.file("NAMESPACE", package = "glmmgee"))
  m <- regmatches(ns, regexec("S3method\\(([^,]+),\\s*([^,)]+)(,\\s*([^)]+))?\\)", ns))
  m <- m[lengths(m) > 0L]
  gen <- gsub("[\"` ]", "", vapply(m, `[`, "", 2L))
  out <- data.frame(generic = sub("^.*::", "", gen), foreign = grepl("::", gen),
                    class = trimws(vapply(m, `[`, "", 3L)), stringsAsFactors = FALSE)
  fun <- trimws(vapply(m, `[`, "", 5L))
  out$fun <- ifelse(nzchar(fun), fun, paste0(out$generic, ".", out$class))
  out
}

ma_env <- new.env(parent = emptyenv())
ma_objects <- function() {
  if (!is.null(ma_env$objs)) return(ma_env$objs)
  set.seed(47)
  M <- 24; ni <- 6
  g <- factor(rep(seq_len(M), each = ni))
  h <- factor(sample(letters[1:5], M * ni, TRUE))
  sub <- factor(rep(rep(1:2, each = ni / 2), M))
  x <- rnorm(M * ni)
  trt <- rep(rbinom(M, 1, 0.5), each = ni)
  tm <- rep(seq_len(ni), M)
  b <- rnorm(M, 0, 0.8)
  eta <- -0.3 + 0.6 * trt + 0.5 * x + b[g]
  d <- data.frame(g = g, h = h, sub = sub, x = x, trt = trt, tm = tm,
                  y = rbinom(M * ni, 1, plogis(eta)),
                  cnt = rpois(M * ni, exp(0.3 + 0.4 * x + b[g] / 2)) * rbinom(M * ni, 1, 0.8),
                  yg = 1 + 0.5 * x + b[g] + rnorm(M * ni, 0, 0.7))
  d$ord <- cut(eta + rlogis(M * ni), c(-Inf, -0.5, 0.5, Inf), labels = c("lo", "mid", "hi"),
               ordered_result = TRUE)
  d$ftrt <- factor(d$trt, labels = c("ctl", "trt"))
  K <- exp(-abs(outer(seq_len(M), seq_len(M), "-")) / 3)
  dimnames(K) <- list(levels(g), levels(g))
  q <- function(e) suppressWarnings(suppressMessages(e))
  fits <- list(
    one_factor = q(glmm(y ~ ftrt + x + (1 | g), data = d, family = binomial, nAGQ = 5)),
    sparse = q(glmm(cnt ~ x + (1 | g) + (1 | h), data = d, family = poisson)),
    nested = q(glmm(y ~ x + (1 | g/sub), data = d, family = binomial, nAGQ = 3)),
    ordinal = q(glmm(ord ~ x + (1 | g), data = d, family = cumulative())),
    ordinal_slopes = q(glmm(ord ~ x + (1 + x | g), data = d, family = cumulative())),
    ordinal_sparse = q(glmm(ord ~ x + (1 | g) + (1 | h), data = d, family = cumulative())),
    zi = q(glmm(cnt ~ x + (1 | g), data = d, family = poisson, ziformula = ~ 1)),
    zi_re = q(glmm(cnt ~ x + (1 | g), data = d, family = poisson, ziformula = ~ 1 + (1 | g))),
    zi_re_sparse = q(glmm(cnt ~ x + (1 | g) + (1 | h), data = d, family = poisson,
                          ziformula = ~ 1 + (1 | g))),
    disp_re = q(glmm(yg ~ x + (1 | g), data = d, dispformula = ~ 1 + (1 | g))),
    reml = q(glmm(yg ~ x + (x | g), data = d, REML = TRUE)),
    structured = q(glmm(yg ~ x + ar1(factor(tm) + 0 | g), data = d)),
    known = q(glmm(yg ~ x + (1 | g), data = d, covariance = list(g = K))),
    dist = q(glmm(y ~ x + (1 | g), data = d, family = binomial, ranef_dist = "nonparametric")),
    gee = q(gee(y ~ ftrt + x, data = d, id = g, family = binomial, corstr = "exchangeable")),
    ordinal_gee = q(gee(ord ~ x, data = d, id = g, family = cumulative)))
  of <- fits$one_factor
  derived <- list(
    summary = lapply(fits, summary),
    VarCorr = lapply(fits[!names(fits) %in% c("gee", "ordinal_gee")], VarCorr),
    ranef = lapply(fits[c("one_factor", "sparse", "ordinal")], ranef),
    other = list(
      coef_glmm = coef(of),
      marginal = q(marginal_coefs(of)),
      ratios = odds_ratios(of), rates = rate_ratios(fits$sparse),
      ordinal_ratios = odds_ratios(fits$ordinal),
      standardized = q(standardize(of, "ftrt", se = "none")),
      standardized_ordinal = q(standardize(fits$ordinal, "x", values = c(0, 1))),
      views = q(compare_views(y ~ ftrt + x + (1 | g), data = d, family = binomial)),
      shares = q(variance_shares(of)),
      loglik_check = q(loglik_check(of, nodes = 10)),
      ranef_new = q(ranef_new(of, d[d$g == "1", ])),
      rank = q(rank_intervals(of, n_draws = 200L)),
      profile = q(profile(of, which = "x"))))
  ma_env$data <- d
  ma_env$objs <- c(fits, unlist(derived, recursive = FALSE))
  ma_env$objs
}

# The registered method a call of `generic` on `obj` dispatches to.
ma_dispatch <- function(generic, obj, table) {
  for (cl in c(class(obj), "default")) {
    nm <- paste0(generic, ".", cl)
    if (nm %in% table) return(nm)
  }
  NA_character_
}

test_that("the table names every method in NAMESPACE and every exported function taking '...'", {
  ns <- ma_namespace()
  registered <- paste0(ns$generic, ".", ns$class)
  own <- registered[!ns$foreign]
  # Methods registered for other packages' generics (car, emmeans, broom,
  # insight, ...) are called by those packages with their own arguments.
  missing <- setdiff(own, names(ma_rules))
  expect(length(missing) == 0L,
         sprintf("methods in NAMESPACE without a rule in the table: %s", paste(missing, collapse = ", ")))
  stale <- setdiff(names(ma_rules), c(own, getNamespaceExports("glmmgee")))
  expect(length(stale) == 0L, sprintf("rules for methods no longer registered: %s", paste(stale, collapse = ", ")))
  ex <- getNamespaceExports("glmmgee")
  with_dots <- ex[vapply(ex, function(f) {
    fun <- get(f, envir = asNamespace("glmmgee"))
    is.function(fun) && "..." %in% names(formals(fun))
  }, TRUE)]
  missing_ex <- setdiff(with_dots, c(names(ma_rules), names(ma_exported_rules),
                                     # generics re-exported from nlme and generics
                                     "fixef", "ranef", "VarCorr", "tidy", "glance", "augment"))
  expect(length(missing_ex) == 0L,
         sprintf("exported functions taking '...' without a rule: %s", paste(missing_ex, collapse = ", ")))
})

test_that("every method whose '...' is checked calls the checker", {
  ns <- asNamespace("glmmgee")
  reg <- ma_namespace()
  fun_of <- stats::setNames(reg$fun, paste0(reg$generic, ".", reg$class))
  for (nm in names(ma_rules)[ma_rules %in% c("check", "fits")]) {
    f <- if (nm %in% names(fun_of)) fun_of[[nm]] else nm
    body_text <- paste(deparse(body(get(f, envir = ns))), collapse = "\n")
    pattern <- if (ma_rules[[nm]] == "fits") "check_dots_fits\\(" else "check_dots(_fits)?\\("
    expect(grepl(pattern, body_text), sprintf("%s does not call check_dots()", nm))
  }
})

test_that("an unknown argument is an error in every method that would ignore it, on every kind of fit", {
  objs <- ma_objects()
  ns <- ma_namespace()
  own <- ns[!ns$foreign, ]
  table <- paste0(own$generic, ".", own$class)
  generics <- setdiff(unique(own$generic), c("$", "[", "makepredictcall", "as.data.frame"))
  reached <- character()
  expect_false(anyDuplicated(names(objs)) > 0L)
  for (oname in names(objs)) {
    obj <- objs[[oname]]
    for (gen in generics) {
      m <- ma_dispatch(gen, obj, table)
      if (is.na(m)) next
      rule <- ma_rules[[m]]
      if (!rule %in% c("check", "fits", "next")) next
      env <- new.env(parent = asNamespace("glmmgee"))
      env$obj <- obj
      cl <- call(gen, quote(obj), bogus_arg = 1)
      err <- tryCatch({ utils::capture.output(eval(cl, env)); NULL },
                      error = function(e) conditionMessage(e))
      expect(!is.null(err) && grepl("bogus_arg", err),
             sprintf("%s(<%s>, bogus_arg = 1) dispatched to %s: %s", gen, oname, m,
                     if (is.null(err)) "no error" else paste("error without naming the argument:", err)))
      reached <- c(reached, m)
    }
  }
  # exported functions
  for (f in c("odds_ratios", "standardize")) {
    err <- tryCatch(get(f)(objs$one_factor, bogus_arg = 1), error = conditionMessage)
    expect_match(err, "bogus_arg", info = f)
    reached <- c(reached, f)
  }
  err <- tryCatch(compare_views(objs$one_factor, bogus_arg = 1), error = conditionMessage)
  expect_match(err, "compare_views\\(\\) has no argument 'bogus_arg'")
  reached <- c(reached, "compare_views")
  err <- tryCatch(gee_criteria(objs$gee, bogus_arg = 1), error = conditionMessage)
  expect_match(err, "bogus_arg")
  reached <- c(reached, "gee_criteria")
  # the covariance of many structured parameters, kept as B V B'
  lr <- glmmgee:::lowrank_cov(diag(2), diag(2), c(FALSE, FALSE), c("a", "b"))
  for (f in c("as.matrix", "print")) {
    err <- tryCatch(get(f)(lr, bogus_arg = 1), error = conditionMessage)
    expect_match(err, "bogus_arg", info = f)
  }
  reached <- c(reached, "as.matrix.glmmgee_lowrank_cov", "print.glmmgee_lowrank_cov")
  # the engine record of a fit and the specification of glmm(doFit = FALSE)
  err <- tryCatch(print(objs$one_factor$engine, bogus_arg = 1), error = conditionMessage)
  expect_match(err, "bogus_arg")
  sp <- glmm(y ~ trt + (1 | ID), data = MASS::bacteria, family = binomial, doFit = FALSE)
  err <- tryCatch(print(sp, bogus_arg = 1), error = conditionMessage)
  expect_match(err, "bogus_arg")
  reached <- c(reached, "print.glmmgee_engine", "print.glmmgee_spec")
  unreached <- setdiff(names(ma_rules)[ma_rules %in% c("check", "fits", "next")], c(reached, ma_unreached))
  expect(length(unreached) == 0L,
         sprintf("checked methods no object of the test reaches: %s", paste(unreached, collapse = ", ")))
})

test_that("vcov(type = ) of a GLMM says which covariances there are; gee keeps its types", {
  objs <- ma_objects()
  for (k in c("one_factor", "sparse", "nested", "reml", "zi", "structured", "known", "dist",
              "ordinal", "ordinal_sparse")) {
    expect_error(vcov(objs[[k]], type = "sandwich"), "'type' must be one of \"model\", \"CR0\"",
                 info = k)
    expect_identical(vcov(objs[[k]], type = "model"), vcov(objs[[k]]), info = k)
    if (glmmgee:::has_capability(objs[[k]], "robust_vcov")) {
      # crossed random effects have no cluster that holds its random
      # effects, nor has a dense known covariance; five mass points on
      # these data leave the information singular (the fit warns), and the
      # sandwich needs it as bread
      V <- tryCatch(vcov(objs[[k]], type = "CR2"), error = conditionMessage)
      if (is.character(V))
        expect_match(V, paste0("no grouping factor nests all random-effect terms|",
                               "the information matrix is singular|",
                               "share random effects .*known covariance"), info = k)
      else expect_true(is.matrix(V), info = k)
    } else {
      err <- tryCatch(vcov(objs[[k]], type = "CR2"), error = conditionMessage)
      expect_match(err, "^vcov\\(type = \"CR2\"\\): the [a-z_]+ engine .*does not provide cluster-robust",
                   info = k)
    }
  }
  # the exact linear mixed models have them
  expect_true(glmmgee:::has_capability(objs$reml, "robust_vcov"))
  err <- tryCatch(vcov(objs$one_factor, method = "CR2"), error = conditionMessage)
  expect_match(err, "no argument 'method'")
  expect_match(err, "cluster-robust")
  expect_error(vcov(objs$gee, type = "CR2"), "'type' must be one of")
  expect_equal(vcov(objs$gee, type = "md"), vcov(objs$gee, type = "md"))
  expect_error(vcov(objs$ordinal_gee, type = "CR2"), "robust")
  # a misspelt argument is named, with the one meant
  expect_error(confint(objs$one_factor, levl = 0.9), "no argument 'levl' \\(did you mean 'level'\\?\\)")
  expect_error(predict(objs$gee, new_data = ma_env$data), "did you mean 'newdata'")
})

test_that("the arguments other packages pass routinely still work", {
  objs <- ma_objects()
  of <- objs$one_factor
  expect_identical(nobs(of, use.fallback = TRUE), nobs(of))
  expect_identical(vcov(of, complete = FALSE), vcov(of))
  expect_identical(coef(objs$gee, complete = TRUE), coef(objs$gee))
  expect_output(print(of, digits = 3))
  expect_output(print(summary(objs$gee), digits = 4, signif.stars = FALSE))
  expect_output(print(VarCorr(of), digits = 2))
  f0 <- update(of, . ~ . - x)
  expect_s3_class(AIC(of, f0, k = 3), "data.frame")
  expect_equal(AIC(of, k = 3), -2 * as.numeric(logLik(of)) + 3 * attr(logLik(of), "df"))
  expect_error(AIC(of, f0, K = 3), "'K' is not a fitted model")
  expect_error(anova(of, f0, bogus_arg = 1), "bogus_arg")
  # stats::step() passes nobs(use.fallback = ) and extractAIC(scale =, k = )
  expect_silent(extractAIC(of, scale = 0, k = 2))
  # ranef(newdata = ) and predict(new_clusters = ) are read from '...'
  expect_s3_class(ranef(of, newdata = ma_env$data[ma_env$data$g == "2", ]), "data.frame")
})

test_that("formula() takes as.formula()'s 'env' on every kind of fit, so update.formula() and drop1() work", {
  objs <- ma_objects()
  for (nm in c("one_factor", "sparse", "nested", "ordinal", "zi", "reml", "structured", "known",
               "dist", "gee", "ordinal_gee")) {
    fo <- formula(objs[[nm]])
    expect_identical(as.formula(objs[[nm]]), fo, info = nm)
    expect_identical(formula(objs[[nm]], env = baseenv()), fo, info = nm)
  }
  of <- objs$one_factor
  expect_equal(update.formula(of, . ~ . - x), y ~ ftrt + (1 | g), ignore_attr = TRUE)
  dr <- suppressWarnings(drop1(of, scope = ~ x))
  expect_equal(rownames(dr), c("<none>", "x"))
  expect_error(formula(of, bogus = 1), "bogus")
})

test_that("VarCorr(sigma = ) rescales as lme4's, or refuses", {
  skip_if_not_installed("lme4")
  objs <- ma_objects()
  d <- ma_env$data
  rf <- objs$reml
  m <- suppressMessages(lme4::lmer(yg ~ x + (x | g), data = d))
  v2 <- VarCorr(rf, sigma = 2)
  l2 <- lme4::VarCorr(m, sigma = 2)
  expect_equal(unname(attr(v2$g, "stddev")), unname(attr(l2$g, "stddev")), tolerance = 1e-4)
  expect_equal(attr(v2, "sc"), 2)
  expect_equal(VarCorr(rf)$g, VarCorr(rf, sigma = sigma(rf))$g)
  # without a residual scale the standard deviations are multiplied by sigma
  of <- objs$one_factor
  expect_equal(attr(VarCorr(of, sigma = 2)$g, "stddev"), 2 * attr(VarCorr(of)$g, "stddev"))
  expect_equal(attr(VarCorr(objs$sparse, sigma = 3)$h, "stddev"), 3 * attr(VarCorr(objs$sparse)$h, "stddev"))
  expect_error(VarCorr(of, sigma = -1), "'sigma' must be one positive number")
  for (nm in c("ordinal", "ordinal_slopes", "zi_re", "zi_re_sparse", "disp_re"))
    expect_error(VarCorr(objs[[nm]], sigma = 2), "VarCorr\\(sigma = \\): rescaling is not available",
                 info = nm)
})

test_that("logLik(REML = TRUE) of an ML fit is the restricted log-likelihood or an error, never the ML value", {
  objs <- ma_objects()
  of <- objs$one_factor
  rf <- objs$reml
  expect_error(logLik(of, REML = TRUE), "gaussian family.*binomial")
  expect_error(logLik(objs$structured, REML = TRUE), "not available for this model; refit with REML = TRUE")
  known <- objs$known
  expect_false(isTRUE(all.equal(as.numeric(logLik(known, REML = TRUE)), as.numeric(logLik(known)))))
  expect_equal(logLik(rf, REML = TRUE), logLik(rf))
})
