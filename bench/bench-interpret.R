# marginal_coefs() against GLMMadaptive::marginal_coefs() on the same fit
# (same parameters), side by side in one run: time and the difference.
# Run after installing: Rscript bench/bench-interpret.R
suppressMessages({ library(glmmgee); library(GLMMadaptive) })
data(bacteria, package = "MASS")
bacteria$late <- bacteria$week > 2
fit <- glmm(y ~ trt + late + (1 | ID), data = bacteria, family = binomial)
gm <- mixed_model(y ~ trt + late, random = ~ 1 | ID, data = bacteria,
                  family = binomial, nAGQ = 11)
t_ours <- system.time(for (i in 1:20) mc <- glmmgee::marginal_coefs(fit))[["elapsed"]] / 20
t_theirs <- system.time(g <- GLMMadaptive::marginal_coefs(gm, std_errors = TRUE,
                                                          cores = 1L))[["elapsed"]]
cat(sprintf("marginal_coefs with SEs: glmmgee %.4f s (exact integral, delta method), GLMMadaptive %.3f s (Monte Carlo, M = 3000, 100 simulated SE draws); ratio %.0fx\n",
            t_ours, t_theirs, t_theirs / t_ours))
print(rbind(glmmgee = coef(mc), GLMMadaptive = g$betas))
