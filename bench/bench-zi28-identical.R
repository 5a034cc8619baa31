# Two-part and binomial fits saved whole (saveRDS) for a field-by-field
# identical() comparison of two builds of glmmgee: run once per build with
# R_LIBS pointing at it, then compare the two files.
#
# Usage: Rscript bench/bench-zi28-identical.R OUT.rds
#        Rscript bench/bench-zi28-identical.R --compare A.rds B.rds
args <- commandArgs(TRUE)
if (identical(args[1], "--compare")) {
  # logLik() of the saved fits needs glmmgee's methods (either build)
  suppressPackageStartupMessages(library(glmmgee))
  a <- readRDS(args[2]); b <- readRDS(args[3])
  # formulas and terms carry the environment they were made in (one per
  # session): set to the global one, recursively
  unenv <- function(x) {
    if (!is.null(attr(x, ".Environment"))) attr(x, ".Environment") <- globalenv()
    if (is.list(x) && !is.data.frame(x)) for (i in seq_along(x)) if (!is.null(x[[i]])) x[[i]] <- unenv(x[[i]])
    x
  }
  strip <- function(f) { f$call <- NULL; f$data <- NULL; f$frame <- NULL; unenv(f) }
  for (nm in names(a)) {
    # closures (the family's functions) live in each build's namespace
    same <- identical(strip(a[[nm]]), strip(b[[nm]]), ignore.environment = TRUE)
    ev <- function(f) if (is.null(f$optinfo$evaluations)) NA else f$optinfo$evaluations
    cat(sprintf("%-28s identical %-5s logLik %.10f / %.10f  evaluations %s / %s\n", nm, same,
                as.numeric(logLik(a[[nm]])), as.numeric(logLik(b[[nm]])), ev(a[[nm]]), ev(b[[nm]])))
  }
  quit(save = "no")
}
suppressPackageStartupMessages(library(glmmgee))
data("Salamanders", package = "glmmTMB")
data("Owls", package = "glmmTMB")
data("cbpp", package = "lme4")
data("grouseticks", package = "lme4")
S <- Salamanders
set.seed(28)
n <- 600; g <- factor(rep(1:60, each = 10)); x <- rnorm(n); w <- rnorm(n)
b <- rnorm(60, 0, 0.6)[g]
mu <- exp(0.3 + 0.5 * x + b)
zi <- rbinom(n, 1, plogis(-1 + 0.5 * w))
sim <- data.frame(y = ifelse(zi == 1, 0, rpois(n, mu)), ynb = ifelse(zi == 1, 0, rnbinom(n, mu = mu, size = 1.5)),
                  x = x, w = w, g = g, h = factor(sample(1:15, n, TRUE)))
sim$yb <- rbinom(n, 1, plogis(-0.3 + 0.8 * x + b))
f <- function(fit) suppressWarnings(fit)
fits <- list(
  zip_sppmined = f(glmm(count ~ spp + mined + (1 | site) + (1 | spp:mined), data = S, family = poisson,
                   ziformula = ~ spp + (1 | site))),
  zinb_hard = f(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  hurdle_pois = f(glmm(count ~ mined + (1 | site), data = S, family = truncated_poisson, ziformula = ~ mined + (1 | spp))),
  zinb_minedspp = f(glmm(count ~ mined + spp + (1 | site), data = S, family = nbinom2, ziformula = ~ mined + (1 | site))),
  zip_two = f(glmm(count ~ mined + (1 | site), data = S, family = poisson, ziformula = ~ mined + (1 | site) + (1 | spp))),
  hurdle_nb2 = f(glmm(count ~ mined + (1 | site), data = S, family = truncated_nbinom2, ziformula = ~ mined + (1 | spp))),
  zinb1 = f(glmm(count ~ mined + (1 | site), data = S, family = nbinom1, ziformula = ~ mined)),
  zip_fixedzi = f(glmm(count ~ spp + mined + (1 | site), data = S, family = poisson, ziformula = ~ mined)),
  zinb_fixedzi = f(glmm(count ~ mined + (1 | site), data = S, family = nbinom2, ziformula = ~ mined)),
  hurdle_pois_fz = f(glmm(count ~ mined + (1 | site), data = S, family = truncated_poisson, ziformula = ~ mined)),
  zip_agq = f(glmm(count ~ mined + (1 | site), data = S, family = poisson, ziformula = ~ mined, nAGQ = 7)),
  owls_zinb = f(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), data = Owls, family = nbinom2,
                ziformula = ~ 1, offset = log(BroodSize))),
  sim_zip = f(glmm(y ~ x + (1 | g), data = sim, family = poisson, ziformula = ~ w)),
  sim_zinb = f(glmm(ynb ~ x + (1 | g), data = sim, family = nbinom2, ziformula = ~ w)),
  sim_zip_re = f(glmm(y ~ x + (1 | g) + (1 | h), data = sim, family = poisson, ziformula = ~ w + (1 | h))),
  sim_zinb_re = f(glmm(ynb ~ x + (1 | g), data = sim, family = nbinom2, ziformula = ~ w + (1 | g))),
  sim_zip_disp = f(glmm(ynb ~ x + (1 | g), data = sim, family = nbinom2, ziformula = ~ w, dispformula = ~ w)),
  sim_hurdle_nb = f(glmm(ynb ~ x + (1 | g), data = sim, family = truncated_nbinom2, ziformula = ~ w + (1 | h))),
  cbpp_binom = f(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)),
  cbpp_agq = f(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial, nAGQ = 9)),
  sim_binom2 = f(glmm(yb ~ x + (1 | g) + (1 | h), data = sim, family = binomial)),
  sim_binom_slope = f(glmm(yb ~ x + (x | g), data = sim, family = binomial)),
  grouse_pois = f(glmm(TICKS ~ YEAR + (1 | LOCATION) + (1 | INDEX), data = grouseticks, family = poisson)),
  sim_zib = f(glmm(yb ~ x + (1 | g), data = sim, family = binomial, ziformula = ~ w))
)
saveRDS(fits, args[1])
