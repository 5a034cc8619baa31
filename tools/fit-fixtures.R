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

# The fixtures (name = function() returning a fit), in a file the tests
# source too.
fixture_file <- file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE),
                                                           value = TRUE)[1L])),
                          "..", "inst", "fixtures", "route-models.R")
source(fixture_file, local = TRUE)

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
       logLik = num(function() if (inherits(fit, "glmmgee_gee")) NA_real_ else as.numeric(logLik(fit))),
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
  # coef() of a GLMM fit: a list of data frames (one per grouping factor)
  if (is.list(a) && is.list(b)) { a <- unlist(a); b <- unlist(b) }
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
