# Draws the figures shown in README.md into man/figures/. Run from the
# project root after installing the package: Rscript tools/make-figures.R
library(glmmgee)
data(bacteria, package = "MASS")
bacteria$weeks <- bacteria$week
fit <- glmm(y ~ trt + weeks + (1 | ID), data = bacteria, family = binomial)
png(file.path("man", "figures", "two-views.png"), width = 1600, height = 1100, res = 200)
plot_views(fit, "weeks", at = list(trt = "drug"), n_curves = 30,
           xlab = "Week", ylab = "P(H. influenzae present)",
           main = "MASS::bacteria, drug arm: conditional vs population-averaged")
invisible(dev.off())
