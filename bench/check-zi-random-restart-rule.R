# The two-part sparse engine's refused-region restarts (zi_random_refused_restarts(),
# fit-sparse-zi-random.R) stop at the first that converges. This script checks
# that rule on Salamanders and Owls models (nest random effects in both
# parts) and on simulated ZIP, ZINB and hurdle data with known truth and
# zero-part random effects, several seeds. Run it after a change to the
# two-part sparse engine's search or restarts.
# Each model is fitted twice: as glmm() does (the rule), and with every
# restart run and the highest converged one kept (`all = TRUE`, set by
# trace()). Per model: whether the first search refused points (restarts
# ran), each restart's log-likelihood (NA: abandoned or not converged), the
# fit's logLik under the rule and with all restarts, and whether any later
# restart ended higher than the first converged one (by more than 1e-6).
#
# Usage: Rscript bench/check-zi-random-restart-rule.R [seeds]   (default 1:8)
suppressPackageStartupMessages(library(glmmgee))
ns <- asNamespace("glmmgee")
args <- commandArgs(TRUE)
seeds <- if (length(args)) eval(parse(text = args[1])) else 1:8
data("Salamanders", package = "glmmTMB")
data("Owls", package = "glmmTMB")
S <- Salamanders
O <- Owls
O$NestFood <- interaction(O$Nest, O$FoodTreatment)

# Counts by site (count part, SD `sd_c`) and a second factor (SD 1), zeros
# by site (logit SD 2 around `z0`): ZIP, ZINB (`size`) or hurdle Poisson;
# 644 rows, 23 sites and 7 of the second factor as in Salamanders, where the
# count part's and the zero part's site effects can carry the same zeros.
sim_two_part <- function(seed, kind = c("zip", "zinb", "hurdle"), sd_c = 1.2, z0 = -1, size = 1,
                         n = 644, nsite = 23, nsp = 7) {
  kind <- match.arg(kind)
  set.seed(seed)
  site <- sample(nsite, n, TRUE)
  sp <- sample(nsp, n, TRUE)
  x <- rnorm(n)
  mu <- exp(0.5 * x + rnorm(nsite, 0, sd_c)[site] + rnorm(nsp, 0, 1)[sp])
  pz <- plogis(z0 + rnorm(nsite, 0, 2)[site])
  y <- if (kind == "zinb") rnbinom(n, size = size, mu = mu) else rpois(n, mu)
  if (kind == "hurdle") {
    u <- runif(n, dpois(0, mu), 1)
    y <- pmax(1, qpois(u, mu))
  }
  data.frame(site = factor(site), sp = factor(sp), x = x, y = ifelse(runif(n) < pz, 0, y))
}

fits <- list(
  sal_zinb_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  sal_zinb_minedspp = quote(glmm(count ~ mined + spp + (1 | site), data = S, family = nbinom2, ziformula = ~ mined + (1 | site))),
  sal_zinb_sppmined = quote(glmm(count ~ mined + (1 | site) + (1 | spp:mined), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  sal_zinb_cover = quote(glmm(count ~ cover + mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  sal_zinb1_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom1, ziformula = ~ (1 | site))),
  sal_zip_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = poisson, ziformula = ~ (1 | site))),
  sal_zinb_zispp = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | spp))),
  sal_zinb_zi2 = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site) + (1 | spp))),
  sal_hurdle_nb = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = truncated_nbinom2, ziformula = ~ mined + (1 | site))),
  owls_zip_nestfood = quote(glmm(SiblingNegotiation ~ FoodTreatment * SexParent + offset(logBroodSize) + (1 | Nest), data = O,
                                 family = poisson, ziformula = ~ (1 | NestFood))),
  owls_zinb_nestfood = quote(glmm(SiblingNegotiation ~ FoodTreatment * SexParent + offset(logBroodSize) + (1 | Nest), data = O,
                                  family = nbinom2, ziformula = ~ (1 | NestFood))),
  owls_zinb1_nestfood = quote(glmm(SiblingNegotiation ~ FoodTreatment * SexParent + offset(logBroodSize) + (1 | Nest), data = O,
                                   family = nbinom1, ziformula = ~ (1 | NestFood))),
  owls_zinb_two = quote(glmm(SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(logBroodSize) + (1 | Nest) + (1 | NestFood),
                             data = O, family = nbinom2, ziformula = ~ (1 | Nest))),
  owls_zip_two = quote(glmm(SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(logBroodSize) + (1 | Nest) + (1 | NestFood),
                            data = O, family = poisson, ziformula = ~ (1 | Nest))),
  owls_zinb_zi2 = quote(glmm(SiblingNegotiation ~ FoodTreatment + offset(logBroodSize) + (1 | Nest), data = O,
                             family = nbinom2, ziformula = ~ FoodTreatment + (1 | Nest) + (1 | NestFood))),
  owls_hurdle_nb = quote(glmm(SiblingNegotiation ~ FoodTreatment + offset(logBroodSize) + (1 | Nest), data = O,
                              family = truncated_nbinom2, ziformula = ~ FoodTreatment + (1 | NestFood))))
for (s in seeds) for (k in c("zip", "zinb", "hurdle")) for (z0 in c(-1, 0.5)) {
  fam <- switch(k, zip = "poisson", zinb = "nbinom2", hurdle = "truncated_poisson")
  fits[[sprintf("sim_%s_z%+.1f_%d", k, z0, s)]] <- bquote(glmm(y ~ x + (1 | site) + (1 | sp),
    data = sim_two_part(.(s), .(k), z0 = .(z0)), family = .(as.name(fam)), ziformula = ~ (1 | site)))
  fits[[sprintf("sim_%s_z%+.1f_zisp_%d", k, z0, s)]] <- bquote(glmm(y ~ x + (1 | site),
    data = sim_two_part(.(s), .(k), z0 = .(z0)), family = .(as.name(fam)), ziformula = ~ (1 | sp) + (1 | site)))
}
# Wider count-part site effects, more or less overdispersion: the first
# search refuses points more often.
for (s in seeds) for (z0 in c(-1, 0)) for (size in c(0.7, 1.5)) {
  fits[[sprintf("sim_zinb_wide_z%+.1f_s%.1f_%d", z0, size, s)]] <- bquote(glmm(y ~ x + (1 | site) + (1 | sp),
    data = sim_two_part(.(s), "zinb", sd_c = 1.5, z0 = .(z0), size = .(size)), family = nbinom2,
    ziformula = ~ (1 | site)))
}

# Which stage each engine evaluation belongs to (a stack: the restarts run
# inside the first search or after the second), and H's smallest
# eigenvalue at the joint mode of each evaluation of the first search from
# the default start (cpp_sparse_two_part_grad()'s hmin): how near a first search
# that refuses no point comes to the refused region (hmin below 1e-3).
ALL <- FALSE
STAGE <- character()
HMIN <- numeric()
push <- function(x) assign("STAGE", c(STAGE, x), envir = globalenv())
pop <- function() assign("STAGE", head(STAGE, -1L), envir = globalenv())
suppressMessages({
  trace("zi_random_refused_restarts", where = ns, print = FALSE,
        tracer = quote({all <- get("ALL", envir = globalenv()); get("push", envir = globalenv())("restarts")}),
        exit = quote(get("pop", envir = globalenv())()))
  trace("zi_random_first_search", where = ns, print = FALSE,
        tracer = quote(get("push", envir = globalenv())("first")), exit = quote(get("pop", envir = globalenv())()))
})
grad_real <- get("cpp_sparse_two_part_grad", ns)
unlockBinding("cpp_sparse_two_part_grad", ns)
assign("cpp_sparse_two_part_grad", function(ptr, theta) {
  r <- grad_real(ptr, theta)
  if (identical(tail(STAGE, 1L), "first") && is.finite(r$loglik)) HMIN <<- c(HMIN, r$hmin)
  r
}, envir = ns)
one <- function(ex, all) {
  ALL <<- all
  HMIN <<- numeric()
  t <- system.time(m <- tryCatch(suppressWarnings(eval(ex)), error = function(e) conditionMessage(e)))[[1]]
  if (is.character(m)) return(list(error = m))
  list(ll = as.numeric(logLik(m)), rr = m$optinfo$laplace_validity$restarts, t = t,
       hmin = if (length(HMIN)) min(HMIN) else NA_real_)
}
cat(sprintf("glmmgee %s, %s\n", packageVersion("glmmgee"), format(Sys.time(), "%Y-%m-%d %H:%M")))
later_higher <- 0L
ran <- 0L
hmin_clean <- Inf
for (nm in names(fits)) {
  a <- one(fits[[nm]], FALSE)
  if (!is.null(a$error)) {
    cat(sprintf("%-24s error: %s\n", nm, a$error))
    next
  }
  if (is.null(a$rr)) {
    cat(sprintf("%-24s logLik %.10f  no refused point, no restarts  first search min hmin %.3g  (%.2f s)\n",
                nm, a$ll, a$hmin, a$t))
    hmin_clean <- min(hmin_clean, a$hmin, na.rm = TRUE)
    next
  }
  b <- one(fits[[nm]], TRUE)
  ran <- ran + 1L
  lls <- b$rr$loglik
  first <- which(!is.na(lls))[1L]
  higher <- !is.na(first) && any(lls[-seq_len(first)] > lls[first] + 1e-6, na.rm = TRUE)
  later_higher <- later_higher + higher
  cat(sprintf("%-24s rule %.10f  all %.10f  restarts %s  first converged %s  later higher %s  first search min hmin %.3g  (%.2f s, %.2f s)\n",
              nm, a$ll, b$ll, paste(ifelse(is.na(lls), "NA", sprintf("%.8f", lls)), collapse = ","),
              if (is.na(first)) "-" else b$rr$zero_sd[first], higher, a$hmin, a$t, b$t))
}
cat(sprintf("%d of %d models ran restarts; in %d a later restart ended higher than the first converged\n",
            ran, length(fits), later_higher))
cat(sprintf("lowest hmin in a first search that refused no point: %.3g\n", hmin_clean))
