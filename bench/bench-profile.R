# Profile-likelihood confidence intervals: glmmgee's confint(method =
# "profile") against lme4's and glmmTMB's on the same models and
# approximations (Laplace for binomial, ML for gaussian), one R session.
# Prints elapsed seconds (median of `reps` runs), the ratio peer / glmmgee
# and the largest absolute difference between the 95% limits of the
# parameters both report (glmmTMB's standard deviations are on the log
# scale and are compared after exp()).
suppressPackageStartupMessages({
  library(glmmgee); library(lme4); library(glmmTMB)
})
reps <- 3L
timed <- function(f) {
  t <- numeric(reps)
  for (r in seq_len(reps)) t[r] <- system.time(res <- f())[["elapsed"]]
  list(value = res, seconds = median(t))
}
data(cbpp, package = "lme4")
data(sleepstudy, package = "lme4")
data(Penicillin, package = "lme4")
cases <- list(
  cbpp = list(f = cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
              family = binomial),
  sleepstudy = list(f = Reaction ~ Days + (Days | Subject), data = sleepstudy,
                    family = gaussian),
  Penicillin = list(f = diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin,
                    family = gaussian))
rows <- list()
for (nm in names(cases)) {
  cs <- cases[[nm]]
  ours_fit <- glmm(cs$f, data = cs$data, family = cs$family, nAGQ = 1)
  ours <- timed(function() confint(ours_fit, method = "profile"))
  lfit <- if (identical(cs$family, gaussian)) lmer(cs$f, cs$data, REML = FALSE)
          else glmer(cs$f, cs$data, family = cs$family)
  l4 <- timed(function() suppressMessages(confint(lfit, method = "profile", oldNames = FALSE)))
  tfit <- glmmTMB(cs$f, data = cs$data, family = cs$family, REML = FALSE)
  tm <- timed(function() confint(tfit, method = "profile"))
  common <- intersect(rownames(l4$value), rownames(ours$value))
  d_l4 <- max(abs(ours$value[common, ] - l4$value[common, ]))
  p <- length(fixef(ours_fit))
  d_tm <- max(abs(ours$value[seq_len(p), ] - tm$value[seq_len(p), 1:2]))
  rows[[nm]] <- data.frame(model = nm, glmmgee_s = ours$seconds, lme4_s = l4$seconds,
                           glmmTMB_s = tm$seconds,
                           ratio_lme4 = l4$seconds / ours$seconds,
                           ratio_glmmTMB = tm$seconds / ours$seconds,
                           maxdiff_lme4 = d_l4, maxdiff_glmmTMB_fixed = d_tm)
}
print(do.call(rbind, rows), digits = 3, row.names = FALSE)
