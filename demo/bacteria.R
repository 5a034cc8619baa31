# The main job: a random-intercept logistic GLMM on the MASS bacteria trial
# (presence of H. influenzae in children with otitis media, 5 visits each).
library(glmmgee)
data(bacteria, package = "MASS")

# Adaptive Gauss-Hermite quadrature (the default: 11 points for one random effect)
fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
print(fit$coefficients)

# The Laplace approximation, for comparison: same model, cruder integral
fit_laplace <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
                    family = binomial, nAGQ = 1)
cat("\nlogLik, AGHQ (11 points):", format(fit$loglik, digits = 8),
    "\nlogLik, Laplace:         ", format(fit_laplace$loglik, digits = 8), "\n")

# Conditional (subject-specific) odds ratios with Wald 95% intervals
est <- fit$coefficients
se <- sqrt(diag(fit$vcov))
print(round(exp(cbind(OR = est, lower = est - qnorm(0.975) * se,
                      upper = est + qnorm(0.975) * se)), 3))
