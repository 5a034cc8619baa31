# The simulation design behind the coverage table of cluster-robust standard
# errors (bench/robust-coverage.R runs the full grid; the test of robust
# covariances runs a reduced cell). Sourced, it defines functions only.
#
# A multicentre trial: m = 10 patients per centre, treatment randomized
# within centres (half of each), a patient covariate x ~ N(0, 1). Linear
# predictor -0.5 + 0.5 trt + 0.3 x + b_i (+ the misspecification):
#   correct    b_i ~ N(0, 0.7^2), the model fitted: y ~ trt + x + (1 | centre)
#   skewed     b_i a centred, scaled exponential (SD 0.7)
#   slope      an omitted random slope of treatment, trt * a_i, a_i ~ N(0, 0.5^2)
#   arm_var    the intercept's SD 0.4 in the control arm, 1.0 in the treated
# The fitted model is always the random-intercept one. Under
# misspecification its treatment coefficient estimates a pseudo-true value,
# not 0.5 (robust_trial_target()).

robust_trial_models <- c("correct", "skewed", "slope", "arm_var")

robust_trial_simulate <- function(G, outcome, model, m = 10L) {
  centre <- rep(seq_len(G), each = m)
  trt <- rep(rep(0:1, length.out = m), G)
  x <- stats::rnorm(G * m)
  b <- switch(model,
    correct = stats::rnorm(G, 0, 0.7)[centre],
    skewed = (0.7 * (stats::rexp(G) - 1))[centre],
    slope = stats::rnorm(G, 0, 0.7)[centre] + trt * stats::rnorm(G, 0, 0.5)[centre],
    arm_var = ifelse(trt == 1, stats::rnorm(G, 0, 1.0)[centre], stats::rnorm(G, 0, 0.4)[centre]))
  eta <- -0.5 + 0.5 * trt + 0.3 * x + b
  y <- if (outcome == "binomial") stats::rbinom(G * m, 1, stats::plogis(eta))
       else stats::rpois(G * m, exp(eta))
  data.frame(y, trt, x, centre)
}

robust_trial_fit <- function(d, outcome)
  suppressWarnings(glmmgee::glmm(y ~ trt + x + (1 | centre), data = d,
                                 family = if (outcome == "binomial") stats::binomial
                                          else stats::poisson))

# The value the treatment coefficient estimates: 0.5 when the model is
# right; otherwise the mean of `fits` fits to 50,000 centres each (its Monte
# Carlo error, about a fiftieth of the standard error at 100 centres, does
# not move the coverage).
robust_trial_target <- function(outcome, model, fits = 4L) {
  if (model == "correct") return(0.5)
  set.seed(999)
  mean(vapply(seq_len(fits), function(k)
    glmmgee::fixef(robust_trial_fit(robust_trial_simulate(50000L, outcome, model), outcome))[["trt"]],
    0))
}

# `reps` trials of G centres: per interval type (model-based, CR0, CR2,
# CR3; those of confint(fit, method = "Wald", vcov = ), normal for the
# model-based one, t with Satterthwaite df for the robust ones) whether it
# covers `target`, and the estimates and variances.
robust_trial_cell <- function(outcome, model, G, target, reps, seed0 = 1L) {
  types <- c("model", "CR0", "CR2", "CR3")
  hits <- vars <- matrix(NA, reps, 4L, dimnames = list(NULL, types))
  est <- rep(NA_real_, reps)
  for (r in seq_len(reps)) {
    set.seed(seed0 + r + 1e5 * G)
    d <- robust_trial_simulate(G, outcome, model)
    fit <- tryCatch(robust_trial_fit(d, outcome), error = function(e) NULL)
    if (is.null(fit)) next
    est[r] <- glmmgee::fixef(fit)[["trt"]]
    for (ty in types) {
      v <- if (ty == "model") NULL else ty
      ci <- tryCatch(stats::confint(fit, method = "Wald", parm = "trt", vcov = v),
                     error = function(e) NULL)
      if (is.null(ci)) next
      hits[r, ty] <- ci["trt", 1L] <= target && target <= ci["trt", 2L]
      vars[r, ty] <- if (is.null(v)) stats::vcov(fit)["trt", "trt"]
                     else stats::vcov(fit, type = ty)["trt", "trt"]
    }
  }
  list(coverage = 100 * colMeans(hits, na.rm = TRUE), estimates = est, variances = vars)
}
