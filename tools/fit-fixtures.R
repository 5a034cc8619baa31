# The fixture set: one small model per fitting route of glmm() and gee(),
# fitted by the installed glmmgee and reduced to the numbers a user sees.
# It is the safety net for changes that must not move results (refactoring,
# merges): save the numbers of one build, then compare another build's.
#
#   Rscript tools/fit-fixtures.R save FILE.rds      # fit all, save the numbers
#   Rscript tools/fit-fixtures.R compare OLD.rds NEW.rds
#
# Run `save` once with each build (R_LIBS chooses which build is loaded),
# then `compare`. Each fixture is reported as
#   identical  every number the same to the bit;
#   close      estimates within 1e-8 relative and logLik not lower;
#   DIFFERENT  anything else (with the largest differences), or a fit that
#              failed in one build and not the other.
# `compare` exits non-zero if any fixture is DIFFERENT.
# FIXTURES=name1,name2 restricts `save` to some fixtures.

args <- commandArgs(TRUE)
if (!length(args) || !(args[1L] %in% c("save", "compare")))
  stop("usage: fit-fixtures.R save FILE.rds | compare OLD.rds NEW.rds", call. = FALSE)

`%||%` <- function(a, b) if (is.null(a)) b else a

# The fixtures: name = function() returning a fit. Data from R packages the
# project's tests already use, and small simulations with fixed seeds.
sim_binary <- function(M = 60, ni = 6, seed = 1) {
  set.seed(seed)
  id <- rep(seq_len(M), each = ni)
  d <- data.frame(id = factor(id), x = rnorm(M * ni), trt = rep(rbinom(M, 1, 0.5), each = ni),
                  time = rep(seq_len(ni), M))
  d$y <- rbinom(nrow(d), 1, plogis(-0.5 + 0.7 * d$x - 0.6 * d$trt + rnorm(M, 0, 1)[id]))
  d$count <- rpois(nrow(d), exp(0.3 + 0.4 * d$x + rnorm(M, 0, 0.6)[id]))
  d$zcount <- ifelse(runif(nrow(d)) < 0.3, 0L, d$count)
  d$g2 <- factor((as.integer(d$id) - 1L) %/% 6L)
  d$site <- factor(rep(seq_len(10), length.out = nrow(d)))
  d$cont <- d$y + 0.3 * d$x + rnorm(M, 0, 0.5)[id] + rnorm(nrow(d), 0, 0.7)
  d
}

fixtures <- list(
  agq_binomial = function() {
    data(bacteria, package = "MASS", envir = environment())
    glmmgee::glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
  },
  laplace_binomial_cbind = function() {
    data(cbpp, package = "lme4", envir = environment())
    glmmgee::glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                  family = binomial, nAGQ = 1)
  },
  agq_slope_poisson = function() {
    d <- sim_binary()
    glmmgee::glmm(count ~ x + (1 + x | id), data = d, family = poisson, nAGQ = 3)
  },
  nbinom2 = function() {
    d <- sim_binary()
    glmmgee::glmm(count ~ x + (1 | id), data = d, family = glmmgee::nbinom2())
  },
  lmm_ml_onefactor = function() {
    data(sleepstudy, package = "lme4", envir = environment())
    glmmgee::glmm(Reaction ~ Days + (Days | Subject), data = sleepstudy)
  },
  lmm_reml_onefactor = function() {
    data(sleepstudy, package = "lme4", envir = environment())
    glmmgee::glmm(Reaction ~ Days + (1 | Subject), data = sleepstudy, REML = TRUE)
  },
  lmm_reml_crossed = function() {
    data(Penicillin, package = "lme4", envir = environment())
    glmmgee::glmm(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin, REML = TRUE)
  },
  lmm_ml_nested = function() {
    data(Pastes, package = "lme4", envir = environment())
    glmmgee::glmm(strength ~ 1 + (1 | batch/cask), data = Pastes)
  },
  sparse_crossed_binomial = function() {
    d <- sim_binary()
    glmmgee::glmm(y ~ x + (1 | id) + (1 | site), data = d, family = binomial)
  },
  nested_agq = function() {
    d <- sim_binary()
    glmmgee::glmm(y ~ x + (1 | g2/id), data = d, family = binomial, nAGQ = 5)
  },
  ordinal_onefactor = function() {
    glmmgee::glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine,
                  family = glmmgee::cumulative("logit"), nAGQ = 10)
  },
  ordinal_sparse = function() {
    glmmgee::glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = ordinal::wine,
                  family = glmmgee::cumulative("logit"))
  },
  zi_fixed = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id), ziformula = ~ 1, data = d, family = poisson)
  },
  zi_random = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id), ziformula = ~ 1 + (1 | id), data = d,
                  family = poisson, nAGQ = 1)
  },
  zi_sparse_random = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id), ziformula = ~ 1 + (1 | site), data = d,
                  family = poisson)
  },
  dispformula = function() {
    d <- sim_binary()
    glmmgee::glmm(cont ~ x + (1 | id), dispformula = ~ trt, data = d)
  },
  hurdle = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id), ziformula = ~ 1, data = d,
                  family = glmmgee::truncated_poisson())
  },
  covstruct_ar1 = function() {
    d <- sim_binary()
    d$tf <- factor(d$time)
    glmmgee::glmm(count ~ x + ar1(0 + tf | id), data = d, family = poisson)
  },
  covstruct_cs_reml = function() {
    d <- sim_binary()
    d$tf <- factor(d$time)
    glmmgee::glmm(cont ~ x + cs(0 + tf | id) + (1 | site), data = d, REML = TRUE)
  },
  known_gaussian = function() {
    d <- sim_binary()
    lev <- levels(d$id)
    K <- 0.5 ^ abs(outer(seq_along(lev), seq_along(lev), "-"))
    dimnames(K) <- list(lev, lev)
    glmmgee::glmm(cont ~ x + (1 | id), data = d, covariance = list(id = K))
  },
  known_laplace = function() {
    d <- sim_binary()
    lev <- levels(d$id)
    K <- 0.5 ^ abs(outer(seq_along(lev), seq_along(lev), "-"))
    dimnames(K) <- list(lev, lev)
    glmmgee::glmm(y ~ x + (1 | id), data = d, family = binomial, covariance = list(id = K))
  },
  ranef_bridge = function() {
    data(bacteria, package = "MASS", envir = environment())
    glmmgee::glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial,
                  ranef_dist = "bridge")
  },
  ranef_nonparametric = function() {
    data(epil, package = "MASS", envir = environment())
    glmmgee::glmm(y ~ trt + lbase + (1 | subject), data = epil, family = poisson,
                  ranef_dist = list("nonparametric", k = 3))
  },
  gee_exchangeable = function() {
    data(respiratory, package = "geepack", envir = environment())
    glmmgee::gee(outcome ~ treat + visit, data = respiratory,
                 id = interaction(center, id), family = binomial, corstr = "exchangeable")
  },
  gee_ar1_poisson = function() {
    d <- sim_binary()
    glmmgee::gee(count ~ x, data = d, id = id, waves = time, family = poisson, corstr = "ar1")
  },
  gee_unstructured = function() {
    d <- sim_binary()
    glmmgee::gee(cont ~ x + trt, data = d, id = id, waves = time, corstr = "unstructured")
  },
  gee_ordinal = function() {
    glmmgee::gee(rating ~ temp + contact, data = ordinal::wine, id = judge,
                 family = glmmgee::cumulative("logit"))
  },
  zi_sparse_fixed = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id) + (1 | site), ziformula = ~ 1, data = d,
                  family = poisson)
  },
  zi_correlated = function() {
    d <- sim_binary()
    glmmgee::glmm(zcount ~ x + (1 | id), ziformula = ~ 1 + (1 | id), data = d,
                  family = poisson, zi_correlated = TRUE, nAGQ = 3)
  },
  covstruct_sparse_poisson = function() {
    d <- sim_binary()
    d$tf <- factor(d$time)
    glmmgee::glmm(count ~ x + ar1(0 + tf | id) + (1 | site), data = d, family = poisson)
  },
  penalized_binomial = function() {
    d <- sim_binary()
    glmmgee::glmm(y ~ x + trt + (1 | id), data = d, family = binomial, penalized = TRUE)
  },
  known_gaussian_two_terms = function() {
    d <- sim_binary()
    lev <- levels(d$id)
    K <- 0.5 ^ abs(outer(seq_along(lev), seq_along(lev), "-"))
    dimnames(K) <- list(lev, lev)
    glmmgee::glmm(cont ~ x + (1 | id) + (1 | site), data = d, covariance = list(id = K))
  },
  sparse_known_binomial = function() {
    d <- sim_binary()
    lev <- levels(d$id)
    K <- Matrix::Diagonal(length(lev), 2)
    dimnames(K) <- list(lev, lev)
    glmmgee::glmm(y ~ x + (1 | g2) + (1 | id), data = d, family = binomial,
                  covariance = list(id = K))
  },
  agq_workers = function() {
    cl <- parallel::makeCluster(1L)
    on.exit(parallel::stopCluster(cl))
    d <- sim_binary()
    glmmgee::glmm(y ~ x + (1 | id), data = d, family = binomial,
                  control = glmmgee::glmm_control(workers = cl, shards = 2L))
  }
)

# VarCorr()'s numbers: a table's numeric columns, or each block's
# covariance matrix and standard deviations.
varcorr_numbers <- function(vc) {
  if (is.data.frame(vc)) return(unlist(Filter(is.numeric, unclass(vc)), use.names = FALSE))
  unlist(lapply(vc, function(v)
    if (is.numeric(v)) c(as.numeric(v), attr(v, "stddev")) else NULL), use.names = FALSE)
}

# The numbers of a fit a user sees, as plain data.
fit_numbers <- function(fit) {
  num <- function(f) tryCatch(f(), error = function(e) structure(conditionMessage(e), class = "fx_error"))
  list(class = class(fit),
       coef = num(function() coef(fit)),
       vcov = num(function() as.matrix(vcov(fit))),
       logLik = num(function() if (inherits(fit, "glmmgee_gee")) NA_real else as.numeric(logLik(fit))),
       varcorr = num(function() if (inherits(fit, "glmmgee_gee")) NULL else
         varcorr_numbers(glmmgee::VarCorr(fit))),
       ranef = num(function() if (inherits(fit, "glmmgee_gee")) NULL else
         unlist(lapply(glmmgee::ranef(fit), function(r) as.matrix(r)))),
       fitted = num(function() as.numeric(fitted(fit))),
       warnings = num(function() fit$optinfo$warnings))
}

if (args[1L] == "save") {
  out <- args[2L]
  which <- Sys.getenv("FIXTURES")
  names_run <- if (nzchar(which)) strsplit(which, ",")[[1L]] else names(fixtures)
  res <- list()
  for (nm in names_run) {
    t0 <- proc.time()[["elapsed"]]
    fit <- tryCatch(suppressWarnings(fixtures[[nm]]()), error = function(e) e)
    res[[nm]] <- if (inherits(fit, "error"))
      list(error = conditionMessage(fit)) else fit_numbers(fit)
    cat(sprintf("%-26s %6.2f s %s\n", nm, proc.time()[["elapsed"]] - t0,
                if (inherits(fit, "error")) paste("ERROR:", conditionMessage(fit)) else ""))
  }
  attr(res, "glmmgee_version") <- as.character(utils::packageVersion("glmmgee"))
  saveRDS(res, out)
  quit(status = 0)
}

# compare
old <- readRDS(args[2L]); new <- readRDS(args[3L])
rel_diff <- function(a, b) {
  if (is.null(a) && is.null(b)) return(0)
  if (inherits(a, "fx_error") || inherits(b, "fx_error"))
    return(if (identical(a, b)) 0 else Inf)
  if (!is.numeric(a) || !is.numeric(b)) return(if (identical(a, b)) 0 else Inf)
  a <- as.numeric(a); b <- as.numeric(b)
  if (length(a) != length(b)) return(Inf)
  if (!length(a)) return(0)
  if (!identical(is.na(a), is.na(b))) return(Inf)
  ok <- !is.na(a)
  max(c(0, abs(a[ok] - b[ok]) / pmax(abs(a[ok]), 1e-8)))
}
bad <- 0L
for (nm in union(names(old), names(new))) {
  a <- old[[nm]]; b <- new[[nm]]
  if (is.null(a) || is.null(b)) {
    cat(sprintf("%-26s %s\n", nm, "missing in one build")); next
  }
  if (!is.null(a$error) || !is.null(b$error)) {
    same <- identical(a$error, b$error)
    if (!same) bad <- bad + 1L
    cat(sprintf("%-26s %s\n", nm, if (same) "identical (both fail)" else
      sprintf("DIFFERENT: old %s / new %s", a$error %||% "fits", b$error %||% "fits")))
    next
  }
  if (identical(a, b)) { cat(sprintf("%-26s identical\n", nm)); next }
  d <- vapply(c("coef", "vcov", "varcorr", "ranef", "fitted"), function(f) rel_diff(a[[f]], b[[f]]), 1)
  dll <- if (is.numeric(a$logLik) && is.numeric(b$logLik) && !is.na(a$logLik))
    b$logLik - a$logLik else 0
  close <- identical(a$class, b$class) && d[["coef"]] <= 1e-8 && d[["varcorr"]] <= 1e-8 &&
    dll >= -1e-10
  if (!close) bad <- bad + 1L
  cat(sprintf("%-26s %s  max rel diff: coef %.1e vcov %.1e varcorr %.1e ranef %.1e; dlogLik %+.1e%s%s\n",
              nm, if (close) "close    " else "DIFFERENT", d[["coef"]], d[["vcov"]], d[["varcorr"]],
              d[["ranef"]], dll,
              if (!identical(a$class, b$class)) "; class changed" else "",
              if (!identical(a$warnings, b$warnings)) "; warnings changed" else ""))
}
quit(status = if (bad > 0L) 1L else 0L)
