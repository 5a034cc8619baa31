# Profile-likelihood intervals of a two-part fit with several random-effect
# terms, glmmgee against glmmTMB in one R session: CPU time (user + system)
# of confint(method = "profile") for the zero part's two coefficients and
# SD and a count-part SD, on fits already made; the limits side by side.
# Usage: Rscript bench/bench-profile-zi-sparse.R [reps]
reps <- suppressWarnings(as.integer(commandArgs(TRUE)[1L]))
suppressMessages({library(glmmgee); library(glmmTMB)})
if (is.na(reps)) reps <- 3L
data(Salamanders, package = "glmmTMB")
cpu <- function(expr) { t <- system.time(expr); t[[1L]] + t[[2L]] }
ours <- glmmgee::glmm(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ mined + (1 | site),
                      data = Salamanders, family = poisson)
tmb <- glmmTMB(count ~ mined + (1 | site) + (1 | spp), ziformula = ~ mined + (1 | site),
               data = Salamanders, family = poisson)
pars <- c("zi.(Intercept)", "zi.minedno", "sd_zi.(Intercept)|site", "sd_(Intercept)|spp")
t_ours <- t_tmb <- numeric(reps)
for (r in seq_len(reps)) {
  t_ours[r] <- cpu(ci <- confint(ours, parm = pars, method = "profile"))
  # glmmTMB's parameters 3, 4, 7, 6: the same ones (SDs on the log scale).
  t_tmb[r] <- cpu(ref <- confint(tmb, method = "profile", parm = c(3, 4, 7, 6)))
}
ref[3:4, 1:2] <- exp(ref[3:4, 1:2])
print(cbind(ci, ref[, 1:2]))
cat(sprintf("CPU s (median of %d): glmmgee %.3f, glmmTMB %.3f, ratio %.1f\n", reps,
            stats::median(t_ours), stats::median(t_tmb), stats::median(t_tmb) / stats::median(t_ours)))
