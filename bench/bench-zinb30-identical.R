# Two-part fits with random effects in both parts (the two-part sparse
# engine, glmm_sparse_zire_fit()) saved whole for an identical() comparison
# of two builds: the models whose first search refuses points and runs the
# refused-region restarts (Salamanders, Owls, simulated), beside ones that
# do not. Run once per build with R_LIBS pointing at it, then compare the
# two files with bench-zi28-identical.R's --compare.
#
# Usage: Rscript bench/bench-zinb30-identical.R OUT.rds
#        Rscript bench/bench-zi28-identical.R --compare A.rds B.rds
suppressPackageStartupMessages(library(glmmgee))
data("Salamanders", package = "glmmTMB")
data("Owls", package = "glmmTMB")
S <- Salamanders
O <- Owls
O$NestFood <- interaction(O$Nest, O$FoodTreatment)
# bench-zinb30-restarts.R's simulation (ZINB, wide count-part site effects)
sim <- function(seed, z0, size) {
  set.seed(seed)
  n <- 644
  site <- sample(23, n, TRUE)
  sp <- sample(7, n, TRUE)
  x <- rnorm(n)
  mu <- exp(0.5 * x + rnorm(23, 0, 1.5)[site] + rnorm(7, 0, 1)[sp])
  pz <- plogis(z0 + rnorm(23, 0, 2)[site])
  y <- rnbinom(n, size = size, mu = mu)
  data.frame(site = factor(site), sp = factor(sp), x = x, y = ifelse(runif(n) < pz, 0, y))
}
f <- function(fit) suppressWarnings(fit)
fits <- list(
  zinb_hard = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  zinb_sppmined = f(glmm(count ~ mined + (1 | site) + (1 | spp:mined), data = S, family = nbinom2,
                         ziformula = ~ (1 | site))),
  zinb_cover = f(glmm(count ~ cover + mined + (1 | site) + (1 | spp), data = S, family = nbinom2,
                      ziformula = ~ (1 | site))),
  zinb1_hard = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom1, ziformula = ~ (1 | site))),
  zinb_zispp = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | spp))),
  zinb_zi2 = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2,
                    ziformula = ~ (1 | site) + (1 | spp))),
  zip_hard = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = poisson, ziformula = ~ (1 | site))),
  zinb_minedspp = f(glmm(count ~ mined + spp + (1 | site), data = S, family = nbinom2, ziformula = ~ mined + (1 | site))),
  owls_zip_two = f(glmm(SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(logBroodSize) + (1 | Nest) +
                          (1 | NestFood), data = O, family = poisson, ziformula = ~ (1 | Nest))),
  owls_zinb_two = f(glmm(SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(logBroodSize) + (1 | Nest) +
                           (1 | NestFood), data = O, family = nbinom2, ziformula = ~ (1 | Nest))),
  owls_zinb_nestfood = f(glmm(SiblingNegotiation ~ FoodTreatment * SexParent + offset(logBroodSize) + (1 | Nest),
                              data = O, family = nbinom2, ziformula = ~ (1 | NestFood))),
  sim_wide_5 = f(glmm(y ~ x + (1 | site) + (1 | sp), data = sim(5, 0, 0.7), family = nbinom2,
                      ziformula = ~ (1 | site))),
  sim_wide_7 = f(glmm(y ~ x + (1 | site) + (1 | sp), data = sim(7, -1, 1.5), family = nbinom2,
                      ziformula = ~ (1 | site))),
  sim_wide_10 = f(glmm(y ~ x + (1 | site) + (1 | sp), data = sim(10, -1, 1.5), family = nbinom2,
                       ziformula = ~ (1 | site))),
  sim_wide_1 = f(glmm(y ~ x + (1 | site) + (1 | sp), data = sim(1, -1, 0.7), family = nbinom2,
                      ziformula = ~ (1 | site)))
)
saveRDS(fits, commandArgs(TRUE)[1])
