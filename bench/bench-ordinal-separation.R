# Cost of the separation check of cumulative link models
# (separation-ordinal.R) beside the fits it accompanies, in one session:
# the glmm() fit (which includes the check), the check alone as the front
# end runs it (the linear predictors at the random effects' modes and the
# certificate of existence from the fitted values), and
# the linear program alone (what every fit would pay without the
# certificate). Cases: wine `rating ~ temp + contact + (1 | judge)`
# (Laplace), the same as an ordinal GEE, and 15,000 simulated rows
# (300 clusters of 50, five categories, two covariates). The pieces are
# timed in alternating blocks (CPU seconds, user + system; medians and
# ranges over `rounds` blocks), so that a burst of load on the shared
# machine falls on all of them.
#
# Usage: Rscript bench/bench-ordinal-separation.R [rounds]   (default 5)
suppressPackageStartupMessages(library(glmmgee))
if (!requireNamespace("ordinal", quietly = TRUE)) stop("the benchmark needs package 'ordinal'")
args <- commandArgs(TRUE)
rounds <- if (length(args)) as.integer(args[1L]) else 5L
cat(sprintf("glmmgee %s, R %s, %s; load: %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d %H:%M"), paste(readLines("/proc/loadavg"), collapse = "")))

cpu_per_call <- function(f, reps) {
  tm <- system.time(for (i in seq_len(reps)) f())
  (tm[["user.self"]] + tm[["sys.self"]]) / reps
}

# The check's inputs as the front end builds them from a fit.
check_args <- function(fit, X, y, off = 0) {
  b <- fit$ranef$mode
  eta <- drop(X %*% fit$coefficients) + off + if (!is.null(b)) b[fit$group] else 0
  list(X = X, y = y, J = max(y), w = rep(1, length(y)),
       tn = glmmgee:::threshold_names(seq_len(max(y))),
       cert = list(theta = unname(fit$thresholds), eta = eta, family = fit$family))
}

run_case <- function(label, fit_fun, reps_fit, reps_check, reps_lp) {
  fit <- fit_fun()
  a <- check_args(fit, fit$X, as.integer(fit[["y"]] %||% fit$model[[1L]]))
  # The check as the front end adds it: the linear predictors at the modes,
  # then the certificate.
  check <- function() {
    b <- check_args(fit, fit$X, a$y)
    glmmgee:::ordinal_separation(b$X, b$y, b$J, b$w, b$tn, cert = b$cert)
  }
  lp <- function() glmmgee:::ordinal_separation(a$X, a$y, a$J, a$w, a$tn)
  stopifnot(identical(check()$screen, "certificate"), !lp()$separated)
  res <- matrix(NA_real_, rounds, 3L, dimnames = list(NULL, c("fit", "check", "lp")))
  for (r in seq_len(rounds)) {
    res[r, "fit"] <- cpu_per_call(fit_fun, reps_fit)
    res[r, "check"] <- cpu_per_call(check, reps_check)
    res[r, "lp"] <- cpu_per_call(lp, reps_lp)
  }
  med <- apply(res, 2L, stats::median) * 1e3
  rng <- apply(res, 2L, function(v) paste(format(range(v) * 1e3, digits = 3), collapse = "-"))
  data.frame(case = label, n = length(a$y),
             fit_ms = sprintf("%.3g (%s)", med[["fit"]], rng[["fit"]]),
             check_ms = sprintf("%.3g (%s)", med[["check"]], rng[["check"]]),
             check_share = sprintf("%.1f%%", 100 * med[["check"]] / med[["fit"]]),
             lp_ms = sprintf("%.3g (%s)", med[["lp"]], rng[["lp"]]))
}
`%||%` <- function(a, b) if (is.null(a)) b else a

wine <- ordinal::wine
set.seed(11)
n <- 15000
big <- data.frame(x1 = stats::rnorm(n), x2 = stats::rbinom(n, 1, 0.5),
                  g = factor(rep(1:300, each = 50)))
big$y <- factor(cut(big$x1 - 0.5 * big$x2 + stats::rnorm(300)[big$g] + stats::rlogis(n),
                    c(-Inf, -1, 0, 1, 2, Inf), labels = FALSE), ordered = TRUE)
out <- rbind(
  run_case("wine glmm (1 | judge)", function()
    glmm(rating ~ temp + contact + (1 | judge), data = wine, family = cumulative()),
    200L, 2000L, 50L),
  run_case("wine gee independence", function()
    gee(rating ~ temp + contact, data = wine, id = judge, family = cumulative()),
    200L, 2000L, 50L),
  run_case("15,000 rows glmm (1 | g)", function()
    glmm(y ~ x1 + x2 + (1 | g), data = big, family = cumulative()), 2L, 50L, 2L))
print(out, row.names = FALSE)
cat(sprintf("load after: %s\n", paste(readLines("/proc/loadavg"), collapse = "")))
