# Side-by-side benchmark: ordinal GEE with local odds ratios structures,
# glmmgee's gee(family = cumulative(), corstr = ) against
# multgee::ordLORgee(LORstr = ) in the same R session. Data: multgee's
# arthritis data, and simulated data with K clusters of 4 times (latent
# correlated normal responses cut into 4 categories, some visits missing).
# multgee runs at its default tolerance (largest relative change 1e-3) and
# at 1e-8; ours solves the equations to a relative step of 1e-8. Prints
# elapsed and CPU seconds, the ratios multgee / glmmgee, and the largest
# absolute difference of the coefficients (sign-matched) and of the robust
# standard errors from multgee's 1e-8 fit. Our times are the mean of 5 fits
# (one fit on the arthritis data is near the CPU clock's resolution),
# multgee's of one.
#
# Part 2 (global odds ratios against geepack::ordgee) is at the end.
#
# Usage: Rscript bench/bench-ordinal-gee.R [--global] [K ...]   (default: 2000)
#   --global  part 2 only
suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
part2_only <- "--global" %in% args
args <- setdiff(args, "--global")
Ks <- if (length(args)) as.integer(args) else 2000L
if (!part2_only) {
for (p in c("multgee", "gnm"))
  if (!requireNamespace(p, quietly = TRUE)) stop("the benchmark needs package '", p, "'")
# multgee's formulas name gnm's MultHomog() without importing it.
suppressPackageStartupMessages(library(gnm))
cat(sprintf("glmmgee %s, multgee %s, R %s, %s; load average %s\n", packageVersion("glmmgee"),
            packageVersion("multgee"), getRversion(), format(Sys.time(), "%Y-%m-%d %H:%M"),
            paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))
}

reps <- 5L
# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

compare <- function(label, data, structure, rhs) {
  fo_ours <- stats::as.formula(paste("factor(y) ~", rhs))
  fo_ref <- stats::as.formula(paste("y ~", rhs))
  fit_ours <- function() gee(fo_ours, data = data, id = id, waves = time, family = cumulative("logit"),
                             corstr = structure, na.action = na.omit)
  fit_ref <- function(tol) suppressMessages(multgee::ordLORgee(
    fo_ref, data = data, id = id, repeated = time, LORstr = structure,
    control = multgee::LORgee_control(tolerance = tol, maxiter = 100)))
  invisible(fit_ours())
  # Our fits take a tenth of a second or less on the arthritis data, near the
  # resolution of the CPU clock: time `reps` of them and report one fit's share.
  ours <- timeit(for (r in seq_len(reps)) val <- fit_ours())
  ours$time <- ours$time / reps
  ours$cpu <- ours$cpu / reps
  ours$value <- val
  ref <- timeit(fit_ref(1e-3))
  tight <- timeit(fit_ref(1e-8))
  k <- length(ours$value$thresholds)
  sgn <- c(rep(1, k), rep(-1, length(coef(tight$value)) - k))
  data.frame(data = label, corstr = structure, clusters = length(unique(data$id)),
             glmmgee_s = ours$time, multgee_s = ref$time,
             ratio = round(ref$time / max(ours$time, 1e-3), 1),
             ratio_cpu = round(ref$cpu / max(ours$cpu, 1e-3), 1),
             multgee_1e8_s = tight$time,
             ratio_1e8 = round(tight$time / max(ours$time, 1e-3), 1),
             max_dcoef = signif(max(abs(coef(ours$value) - sgn * coef(tight$value))), 2),
             max_dse = signif(max(abs(sqrt(diag(vcov(ours$value))) -
                                        sqrt(diag(tight$value$robust.variance)))), 2),
             max_dcoef_default = signif(max(abs(coef(ours$value) - sgn * coef(ref$value))), 2))
}

sim <- function(K, seed, cuts = c(-0.8, 0.2, 1.1)) {
  set.seed(seed)
  T <- 4L
  e <- matrix(stats::rnorm(K * T), K, T) %*% chol(0.4 * diag(T) + 0.6)
  d <- data.frame(id = rep(seq_len(K), each = T), time = rep(seq_len(T), K),
                  x = stats::rnorm(K * T), trt = rep(stats::rbinom(K, 1, 0.5), each = T))
  z <- 0.5 * d$x - 0.4 * d$trt + 0.1 * d$time + as.vector(t(e))
  d$y <- findInterval(z, cuts) + 1L
  d$y[sample(nrow(d), round(0.1 * nrow(d)))] <- NA    # missing visits
  d
}

if (!part2_only) {
data("arthritis", package = "multgee")
rows <- list()
for (s in c("uniform", "category.exch", "time.exch", "RC"))
  rows[[length(rows) + 1L]] <- compare("arthritis", arthritis, s,
                                       "factor(time) + factor(trt) + factor(baseline)")
for (K in Ks) {
  d <- sim(K, 20261123 + K)
  for (s in c("uniform", "time.exch"))
    rows[[length(rows) + 1L]] <- compare(sprintf("simulated K=%d", K), d, s, "x + trt + time")
}
print(do.call(rbind, rows), row.names = FALSE)
}

# Part 2: global odds ratios against geepack::ordgee (its corstr =
# "exchangeable" / "unstructured") on its ohio example (binary wheeze, 537
# children at 4 ages), its respdis example (3 categories, 111 patients at 4
# visits) and on simulated data (the latent model above, rows sorted by
# cluster as ordgee needs, missing visits dropped: both then pair the visits
# in data order), cut into 2 categories (where ordgee's estimates are ours)
# and into 4. With 3 or more categories ordgee's estimates differ from ours
# by construction (its within-time covariance, see ?ordinal-gee); the
# differences show by how much. ordgee runs at its default tolerance
# (largest absolute step 1e-4) for the ratio and at 1e-10 for the
# differences (intercepts sign-flipped); ordgee_error is its error flag (1:
# no convergence, NaN estimates). CPU times per fit: ours and ordgee's
# alternately in 3 rounds (1 when an ordgee fit takes over a second), each
# round timing as many fits as take about 0.2 s (a respdis fit is near the
# CPU clock's resolution), after warm-up fits; the ratio is the median over
# the rounds.
if (requireNamespace("geepack", quietly = TRUE)) {
  cat(sprintf("glmmgee %s, geepack %s, R %s, %s; load average %s\n", packageVersion("glmmgee"),
              packageVersion("geepack"), getRversion(), format(Sys.time(), "%Y-%m-%d %H:%M"),
              paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))
  per_fit <- function(f, n) {
    gc()
    tm <- system.time(for (r in seq_len(n)) val <- f())
    list(cpu = (tm[["user.self"]] + tm[["sys.self"]]) / n, time = tm[["elapsed"]] / n, value = val)
  }
  fits_for <- function(cpu) max(1L, as.integer(ceiling(0.2 / max(cpu, 1e-3))))
  compare_global <- function(label, data, structure, fo) {
    fit_ours <- function() gee(fo, data = data, id = id, family = cumulative("logit"),
                               corstr = paste0("global.", structure))
    fit_ref <- function(tol) geepack::ordgee(fo, id = id, data = data, corstr = structure,
                                             control = geepack::geese.control(epsilon = tol, maxit = 200))
    # Warm-up: the first fits of a session also load and compile code.
    for (w in 1:3) first <- per_fit(fit_ours, 1)
    first_ref <- per_fit(function() fit_ref(1e-4), 1)
    if (first_ref$cpu < 1) first_ref <- per_fit(function() fit_ref(1e-4), 1)
    n_ours <- fits_for(first$cpu)
    n_ref <- fits_for(first_ref$cpu)
    rounds <- if (first_ref$cpu > 1) 1L else 3L
    tab <- t(vapply(seq_len(rounds), function(r) {
      a <- per_fit(fit_ours, n_ours)
      b <- if (rounds == 1L) first_ref else per_fit(function() fit_ref(1e-4), n_ref)
      c(a$cpu, b$cpu, a$time, b$time)
    }, numeric(4)))
    ours <- first$value
    tight <- per_fit(function() fit_ref(1e-10), 1)
    b <- tight$value$beta
    k <- length(ours$thresholds)
    data.frame(data = label, corstr = structure, clusters = length(unique(data$id)),
               glmmgee_cpu_s = signif(stats::median(tab[, 1]), 2),
               ordgee_cpu_s = signif(stats::median(tab[, 2]), 2),
               ratio_cpu = round(stats::median(tab[, 2] / tab[, 1]), 1),
               ratio_elapsed = round(stats::median(tab[, 4] / pmax(tab[, 3], 1e-4)), 1),
               fits = sprintf("%d/%d x %d", n_ours, n_ref, rounds),
               max_dcoef = signif(max(abs(coef(ours) - c(-b[seq_len(k)], b[-seq_len(k)]))), 2),
               max_dalpha = signif(max(abs(ours$association$parameters - tight$value$alpha)), 2),
               max_dse = signif(max(abs(sqrt(diag(vcov(ours))) - sqrt(diag(tight$value$vbeta)))), 2),
               ordgee_error = tight$value$error)
  }
  data("ohio", package = "geepack")
  ohio$resp <- ordered(ohio$resp)
  grows <- list()
  for (s in c("exchangeable", "unstructured"))
    grows[[length(grows) + 1L]] <- compare_global("ohio", ohio, s, resp ~ age + smoke + age:smoke)
  data("respdis", package = "geepack")
  resp <- reshape(respdis, varying = list(c("y1", "y2", "y3", "y4")), v.names = "resp",
                  direction = "long")
  resp <- resp[order(resp$id, resp$time), ]
  resp$resp <- ordered(resp$resp)
  for (s in c("exchangeable", "unstructured"))
    grows[[length(grows) + 1L]] <- compare_global("respdis", resp, s, resp ~ trt)
  for (K in Ks) {
    for (J in c(2L, 4L)) {
      d <- sim(K, 20261123 + K, if (J == 2L) 0.2 else c(-0.8, 0.2, 1.1))
      d <- d[!is.na(d$y), ]
      d$y <- ordered(d$y)
      for (s in c("exchangeable", "unstructured"))
        grows[[length(grows) + 1L]] <- compare_global(sprintf("simulated K=%d, %d categories", K, J), d, s,
                                                      y ~ x + trt + time)
    }
  }
  print(do.call(rbind, grows), row.names = FALSE)
  cat(sprintf("load average %s\n", paste(readLines("/proc/loadavg", warn = FALSE), collapse = " ")))
}
