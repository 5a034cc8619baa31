# The main job: the two questions of clustered data on the MASS bacteria
# trial (presence of H. influenzae in children with otitis media, up to 5
# visits each).
library(glmmgee)
data(bacteria, package = "MASS")

# Subject-specific: a random-intercept logistic GLMM by adaptive
# Gauss-Hermite quadrature (the default, 11 points for one random effect)
fit <- glmm(y ~ trt + I(week > 2) + (1 | ID), data = bacteria, family = binomial)
print(fit)

# The Laplace approximation, for comparison: same model, cruder integral
fit_laplace <- update(fit, nAGQ = 1)
cat("\nlogLik, AGHQ (11 points):", format(logLik(fit)[1], digits = 8),
    "\nlogLik, Laplace:         ", format(logLik(fit_laplace)[1], digits = 8), "\n\n")

# Population-averaged: GEE with an exchangeable working correlation
pa <- gee(y ~ trt + I(week > 2), data = bacteria, id = ID, family = binomial,
          corstr = "exchangeable")

# Conditional vs population-averaged odds ratios: the marginal ones are
# closer to 1 (non-collapsibility of the odds ratio)
z <- qnorm(0.975)
or_table <- function(est, se) round(exp(cbind(OR = est, lower = est - z * se,
                                              upper = est + z * se)), 3)
cat("Conditional odds ratios (GLMM):\n")
print(or_table(fixef(fit), sqrt(diag(vcov(fit)))))
cat("\nPopulation-averaged odds ratios (GEE, robust SE):\n")
print(or_table(coef(pa), sqrt(diag(vcov(pa)))))
