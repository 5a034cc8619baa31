# The cost of loglik_check() next to the fit it checks: a crossed binary
# design (raters x items, one observation per cell), fitted by Laplace
# (the sparse engine), then checked by importance sampling with 2,000
# draws (its value and the Newton step's gradient, 2 x parameters + 1
# evaluations of the sampled log-likelihood).
#
#   Rscript bench/bench-loglik-check.R [levels per factor]
#
# Default 120 x 120 levels: 14,400 rows, 240 random effects. Then the
# importance-sampling fit (glmm_control(importance_draws = 2000)) and the
# second-order Laplace fit (glmm_control(laplace_order = 2)) of the same
# model against the Laplace fit.

suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
L <- if (length(args)) as.integer(args[1L]) else 120L
set.seed(1)
d <- expand.grid(rater = seq_len(L), item = seq_len(L))
d$x <- rnorm(nrow(d))
d$y <- rbinom(nrow(d), 1, plogis(-0.2 + 0.5 * d$x + rnorm(L)[d$rater] + rnorm(L)[d$item]))
secs <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}
t_fit <- secs(fit <- glmm(y ~ x + (1 | rater) + (1 | item), data = d, family = binomial))
t_check <- secs(ck <- loglik_check(fit, draws = 2000, seed = 1))
print(ck)
cat(sprintf("\n%d rows, %d x %d levels: Laplace fit %.2f s, loglik_check() %.2f s (%.1f fits)\n",
            nrow(d), L, L, t_fit, t_check, t_check / t_fit))

# The fit that removes the approximation's error: maximum likelihood of the
# importance-sampled log-likelihood, 2,000 draws, started from the Laplace
# fit (its time includes that fit).
t_is <- secs(fi <- glmm(y ~ x + (1 | rater) + (1 | item), data = d, family = binomial,
                        control = glmm_control(importance_draws = 2000, importance_seed = 1)))
# The second-order Laplace approximation of the same model.
t_so <- secs(fs <- glmm(y ~ x + (1 | rater) + (1 | item), data = d, family = binomial,
                        control = glmm_control(laplace_order = 2)))
est <- rbind(Laplace = fit$theta, `second-order Laplace` = fs$theta, importance = fi$theta,
             `Monte Carlo SE` = sqrt(diag(fi$importance$mc_cov)))
print(est, digits = 4)
cat(sprintf("log-likelihood: Laplace %.3f, second-order %.3f, importance sampling %.3f (Monte Carlo SE %.3f, effective sample size %.0f)\n",
            fit$loglik, fs$loglik, fi$loglik, fi$importance$loglik_se, fi$importance$ess))
cat(sprintf("importance-sampling fit %.2f s (%.1f Laplace fits); second-order fit %.2f s (%.1f)\n",
            t_is, t_is / t_fit, t_so, t_so / t_fit))
