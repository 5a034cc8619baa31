# Coverage of 95% intervals for a treatment effect under model-based and
# cluster-robust (CR0, CR2, CR3) standard errors of glmm() fits, when the
# random-intercept model is right and when it is wrong.
#
#   Rscript bench/robust-coverage.R [reps] [clusters] [outcomes] [seed]
#
# reps: replications per cell (default 1000); clusters: a comma-separated
# list of numbers of clusters (default 20,40,100); outcomes: binomial,
# poisson or both (default); seed: the first seed (default 1).
#
# Design: a multicentre trial, m = 10 patients per centre, treatment
# randomized within centres (half of each), a patient covariate x ~ N(0, 1).
# Linear predictor -0.5 + 0.5 trt + 0.3 x + b_i (+ the misspecification):
#   correct    b_i ~ N(0, 0.7^2), the model fitted: y ~ trt + x + (1 | centre)
#   skewed     b_i a centred, scaled exponential (SD 0.7)
#   slope      an omitted random slope of treatment, trt * a_i, a_i ~ N(0, 0.5^2)
#   arm_var    the intercept's SD 0.4 in the control arm, 1.0 in the treated
# The fitted model is always the random-intercept one. Under misspecification
# its treatment coefficient estimates a pseudo-true value, not 0.5: that
# value is taken from one fit of the same model to 5,000 centres of the
# same design, and coverage is of that value. Intervals: those of
# confint(fit, method = "Wald", vcov = ): the normal quantile for the
# model-based one, the t quantile with the Satterthwaite degrees of freedom
# of the cluster-robust covariance for CR0, CR2 and CR3.
# Output: a table of coverage (%) per outcome, model, G and type, with the
# Monte Carlo standard error of a 95% coverage (about 0.7 points at 1,000
# replications).

suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
reps <- if (length(args) >= 1L) as.integer(args[1L]) else 1000L
Gs <- if (length(args) >= 2L) as.integer(strsplit(args[2L], ",")[[1L]]) else c(20L, 40L, 100L)
outcomes <- if (length(args) >= 3L && args[3L] != "both") args[3L] else c("binomial", "poisson")
seed0 <- if (length(args) >= 4L) as.integer(args[4L]) else 1L
models <- c("correct", "skewed", "slope", "arm_var")
m <- 10L

simulate_trial <- function(G, outcome, model) {
  centre <- rep(seq_len(G), each = m)
  trt <- rep(rep(0:1, length.out = m), G)
  x <- rnorm(G * m)
  b <- switch(model,
    correct = rnorm(G, 0, 0.7)[centre],
    skewed = (0.7 * (rexp(G) - 1))[centre],
    slope = rnorm(G, 0, 0.7)[centre] + trt * rnorm(G, 0, 0.5)[centre],
    arm_var = ifelse(trt == 1, rnorm(G, 0, 1.0)[centre], rnorm(G, 0, 0.4)[centre]))
  eta <- -0.5 + 0.5 * trt + 0.3 * x + b
  y <- if (outcome == "binomial") rbinom(G * m, 1, plogis(eta)) else rpois(G * m, exp(eta))
  data.frame(y, trt, x, centre)
}

fit_trial <- function(d, outcome)
  suppressWarnings(glmm(y ~ trt + x + (1 | centre), data = d,
                        family = if (outcome == "binomial") binomial else poisson))

pseudo_true <- function(outcome, model) {
  set.seed(999)
  unname(fixef(fit_trial(simulate_trial(5000L, outcome, model), outcome))["trt"])
}

one_cell <- function(outcome, model, G, target) {
  hits <- matrix(NA, reps, 4L, dimnames = list(NULL, c("model", "CR0", "CR2", "CR3")))
  for (r in seq_len(reps)) {
    set.seed(seed0 + r + 1e5 * G)
    d <- simulate_trial(G, outcome, model)
    fit <- tryCatch(fit_trial(d, outcome), error = function(e) NULL)
    if (is.null(fit)) next
    est <- fixef(fit)[["trt"]]
    # the intervals confint(fit, method = "Wald", vcov = ) gives
    ci <- vapply(colnames(hits), function(ty) {
      out <- tryCatch(confint(fit, method = "Wald", parm = "trt",
                              vcov = if (ty == "model") NULL else ty),
                      error = function(e) NULL)
      if (is.null(out)) c(NA_real_, NA_real_) else unname(out["trt", ])
    }, numeric(2))
    hits[r, ] <- ci[1, ] <= target & target <= ci[2, ]
  }
  100 * colMeans(hits, na.rm = TRUE)
}

rows <- list()
for (outcome in outcomes) for (model in models) {
  target <- pseudo_true(outcome, model)
  for (G in Gs) {
    cov <- one_cell(outcome, model, G, target)
    rows[[length(rows) + 1L]] <- data.frame(outcome, model, G, target = round(target, 3),
                                            t(round(cov, 1)), check.names = FALSE)
    print(rows[[length(rows)]], row.names = FALSE)
  }
}
tab <- do.call(rbind, rows)
cat(sprintf("\nCoverage (%%) of 95%% intervals for the treatment effect, %d replications per cell\n",
            reps))
print(tab, row.names = FALSE)
