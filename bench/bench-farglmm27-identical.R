# Well-scaled fits must come out bitwise the same after a change that only
# touches far-off or odd-unit random slopes (farglmm27). Each build fits
# the same 24 models (sparse binomial, Poisson and gaussian ML/REML,
# grouseticks, cbpp, one-factor Laplace/AGHQ/LMM, zero-inflated sparse,
# (0 + x | g) on every route, ordinal slopes) in its own process
# and saves the fields that carry results (estimates, covariances,
# gradient, Hessian, log-likelihood, term summaries, warnings and the
# optimizer record with its evaluation counts); then the two are compared
# with identical(), field by field.
#
#   R_LIBS=<lib A> Rscript bench/bench-farglmm27-identical.R save a.rds
#   R_LIBS=<lib B> Rscript bench/bench-farglmm27-identical.R save b.rds
#   Rscript bench/bench-farglmm27-identical.R compare a.rds b.rds

args <- commandArgs(TRUE)

# source_test_helper(): bench-common.R beside this script (or in bench/ of
# the working directory when it is not run by Rscript). fg27_sim(): the
# tests' simulated design (tests/testthat/helper-far-slope.R), so this
# script and test-glmm-sparse-slope-centring.R fit the same data.
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))
source_test_helper("helper-far-slope.R")

fg27_models <- function() {
  d <- fg27_sim()
  d$x2 <- NULL  # not fitted here; dropped so the data frame is as before
  d$yz <- d$yp * rbinom(nrow(d), 1, 0.85)
  set.seed(5)
  d$yo <- factor(cut(d$x + rnorm(nrow(d)) + rnorm(30)[d$a] + 0.5 * rnorm(30)[d$a] * d$x, 3),
                 ordered = TRUE)
  g <- get(utils::data("grouseticks", package = "lme4", envir = environment()))
  g$h <- (g$HEIGHT - 462) / 50
  s <- get(utils::data("sleepstudy", package = "lme4", envir = environment()))
  s$yb <- as.integer(s$Reaction > 290)
  s$yc <- round((s$Reaction - 150) / 10)
  set.seed(1)
  s$h <- factor(sample(1:6, nrow(s), TRUE))
  cb <- get(utils::data("cbpp", package = "lme4", envir = environment()))
  cb$t <- as.numeric(cb$period)
  cb$obs <- factor(seq_len(nrow(cb)))
  list(
    sb = function() glmm(yb ~ x + (x | a) + (1 | b), data = d, family = binomial),
    sp = function() glmm(yp ~ x + (x | a) + (1 | b), data = d, family = poisson),
    sg = function() glmm(yp ~ x + (x | a) + (1 | b), data = d),
    sg_reml = function() glmm(yp ~ x + (x | a) + (1 | b), data = d, REML = TRUE),
    sgml = function() glmm(yp ~ x + (x | a) + (1 | b), data = d, REML = FALSE),
    gt = function() glmm(TICKS ~ YEAR + h + (h | LOCATION) + (1 | INDEX), data = g,
                         family = poisson),
    gt2 = function() glmm(TICKS ~ YEAR + HEIGHT + (1 | LOCATION) + (1 | BROOD), data = g,
                          family = poisson),
    cb = function() glmm(cbind(incidence, size - incidence) ~ t + (t | herd) + (1 | obs),
                         data = cb, family = binomial),
    ob = function() glmm(yb ~ Days + (Days | Subject), data = s, family = binomial),
    ob0 = function() glmm(yb ~ Days + (0 + Days | Subject), data = s, family = binomial),
    oa = function() glmm(yc ~ Days + (Days | Subject), data = s, family = poisson, nAGQ = 5),
    ol = function() glmm(Reaction ~ Days + (Days | Subject), data = s),
    olml = function() glmm(Reaction ~ Days + (Days | Subject), data = s, REML = FALSE),
    ol0ml = function() glmm(Reaction ~ Days + (0 + Days | Subject), data = s, REML = FALSE),
    ssb = function() glmm(yb ~ Days + (Days | Subject) + (1 | h), data = s, family = binomial),
    sl0 = function() glmm(Reaction ~ Days + (0 + Days | Subject) + (1 | h), data = s),
    sl0ml = function() glmm(Reaction ~ Days + (0 + Days | Subject) + (1 | h), data = s,
                            REML = FALSE),
    slml = function() glmm(Reaction ~ Days + (Days | Subject) + (1 | h), data = s, REML = FALSE),
    zs = function() glmm(yc ~ Days + (0 + Days | Subject) + (1 | h), data = s, family = poisson),
    zi = function() glmm(yz ~ x + (x | a) + (1 | b), ziformula = ~1, data = d, family = poisson),
    ord1 = function() glmm(yo ~ x + (x | a), data = d, family = cumulative()),
    ord0 = function() glmm(yo ~ x + (0 + x | a), data = d, family = cumulative()),
    ord5 = function() glmm(yo ~ x + (x | a), data = d, family = cumulative(), nAGQ = 5),
    ordd = function() glmm(yo ~ x + (x || a), data = d, family = cumulative())
  )
}

fg27_keep <- c("thresholds", "re_cov", "psi", "cov_psi", "ranef", "cluster_loglik",
               "coefficients", "vcov", "theta", "cov_theta", "cov_star", "loglik", "gradient",
               "hessian", "optinfo", "reterms", "b", "fitted.values", "linear.predictors",
               "singular", "Lambda", "sigma")

if (length(args) == 2L && args[1L] == "save") {
  suppressMessages(library(glmmgee))
  res <- lapply(fg27_models(), function(f) {
    fit <- suppressWarnings(f())
    fit[intersect(fg27_keep, names(fit))]
  })
  saveRDS(res, args[2L])
} else if (length(args) == 3L && args[1L] == "compare") {
  a <- readRDS(args[2L])
  b <- readRDS(args[3L])
  for (n in names(a)) {
    same <- mapply(identical, a[[n]], b[[n]])
    cat(sprintf("%-8s identical: %s%s\n", n, all(same) && identical(names(a[[n]]), names(b[[n]])),
                if (all(same)) "" else paste0(" (differ: ", paste(names(same)[!same], collapse = ", "), ")")))
  }
} else {
  stop("usage: save <file> | compare <file A> <file B>", call. = FALSE)
}
