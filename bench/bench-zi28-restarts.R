# The two-part sparse engine's restarts after a search that ran into points
# where the Laplace approximation breaks down (zire_refused_restarts(),
# fit-sparse-zire.R): for Salamanders models with random effects in both
# parts, each restart's log-likelihood (NA: abandoned at a refused point or
# not converged), which was adopted and which were skipped, then the fit's
# logLik, evaluations and CPU seconds. Run with one build, then another
# (R_LIBS), to compare: main's build runs all three restarts, a build with
# the first-converged rule stops at the first that converges.
#
# Usage: Rscript bench/bench-zi28-restarts.R
suppressPackageStartupMessages(library(glmmgee))
ns <- asNamespace("glmmgee")
CUR <- ""
suppressMessages(trace("zire_refused_restarts", where = ns, print = FALSE, exit = quote({
  rr <- returnValue()$refused_restarts
  cat(sprintf("  %-14s restarts loglik %s  abandoned %s  adopted %s  skipped %s\n", CUR,
              paste(sprintf("%.10f", rr$loglik), collapse = ","),
              paste(rr$abandoned, collapse = ","), rr$adopted,
              if (length(rr$skipped)) paste(rr$skipped, collapse = ",") else "-"))
})))
data("Salamanders", package = "glmmTMB")
S <- Salamanders
fs <- list(
  zinb_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  zinb_minedspp = quote(glmm(count ~ mined + spp + (1 | site), data = S, family = nbinom2, ziformula = ~ mined + (1 | site))),
  zinb_spp = quote(glmm(count ~ mined + spp + (1 | site), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  zinb_sppmined = quote(glmm(count ~ mined + (1 | site) + (1 | spp:mined), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  zinb_cover = quote(glmm(count ~ cover + mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site))),
  zinb1_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom1, ziformula = ~ (1 | site))),
  zip_hard = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = poisson, ziformula = ~ (1 | site))),
  zinb_zispp = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | spp))),
  zinb_zi2 = quote(glmm(count ~ mined + (1 | site) + (1 | spp), data = S, family = nbinom2, ziformula = ~ (1 | site) + (1 | spp))),
  zip_sppmined = quote(glmm(count ~ spp + mined + (1 | site) + (1 | spp:mined), data = S, family = poisson,
                            ziformula = ~ spp + (1 | site))),
  hurdle_pois = quote(glmm(count ~ mined + (1 | site), data = S, family = truncated_poisson,
                           ziformula = ~ mined + (1 | spp))))
for (nm in names(fs)) {
  CUR <- nm
  t <- system.time(m <- suppressWarnings(eval(fs[[nm]])))[[1]]
  cat(sprintf("%-14s logLik %.10f  evaluations %d  CPU %.3f s\n", nm, as.numeric(logLik(m)),
              m$optinfo$evaluations, t))
}
