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

# Adaptive quadrature profiles with two effects per group (binomial,
# (x | a), 30 groups; 240 rows at nAGQ = 3 and 800 at nAGQ = 5; x itself
# and x * 1e-6 - 5): the rotated block's map (profile-z-basis.R,
# rotated_eval()) runs at every evaluation. Each build runs in its own R
# process, alternating, `reps_aghq` times: this one (the library path of
# this session) against the build in the environment variable
# GLMMGEE_BASE_LIB (another checkout's installed library; the section is
# skipped without it). Prints CPU seconds of confint() (user time, the
# steadier figure on a shared machine; medians), the ratio base / this
# build and the largest relative difference between the two builds' 95%
# limits. lme4's profile of the same model at the Laplace approximation
# (glmer cannot integrate two effects by adaptive quadrature) is timed
# beside ours at nAGQ = 1 for scale.
aghq_data <- function(n) {
  set.seed(30)
  a <- factor(sample(1:30, n, TRUE))
  x <- rnorm(n)
  b0 <- rnorm(30, sd = 0.8)
  b1 <- rnorm(30, sd = 0.6)
  d <- data.frame(a, x, yb = rbinom(n, 1, plogis(-0.3 + 0.8 * x + b0[a] + b1[a] * x)))
  d$x2 <- d$x * 1e-6 - 5
  d
}
aghq_profile_one <- function(lib, v, n, nagq) {
  code <- c(sprintf("suppressPackageStartupMessages(library(glmmgee, lib.loc = c(%s, .libPaths())))",
                    if (is.null(lib)) "NULL" else deparse(lib)),
            deparse(aghq_data), sprintf("d <- aghq_data(%d)", n),
            sprintf("fit <- glmm(yb ~ %s + (%s | a), data = d, family = binomial, nAGQ = %d)",
                    v, v, nagq),
            "t <- system.time(ci <- suppressWarnings(suppressMessages(confint(fit, method = 'profile'))))[['user.self']]",
            "dput(list(t = t, ci = unname(ci)))")
  code[2L] <- paste("aghq_data <-", code[2L])
  f <- tempfile(fileext = ".R")
  writeLines(code, f)
  out <- system2(file.path(R.home("bin"), "Rscript"), f, stdout = TRUE,
                 env = c("OMP_NUM_THREADS=1", sprintf("R_LIBS=%s", paste(.libPaths(), collapse = ":"))))
  unlink(f)
  eval(parse(text = out))
}
base_lib <- Sys.getenv("GLMMGEE_BASE_LIB")
if (nzchar(base_lib)) {
  reps_aghq <- 3L
  rows <- list()
  for (sz in list(c(240L, 3L), c(800L, 5L))) for (v in c("x", "x2")) {
    tt <- list(new = numeric(), base = numeric())
    for (r in seq_len(reps_aghq)) {
      new <- aghq_profile_one(NULL, v, sz[1L], sz[2L])
      base <- aghq_profile_one(base_lib, v, sz[1L], sz[2L])
      tt$new[r] <- new$t
      tt$base[r] <- base$t
    }
    rows[[length(rows) + 1L]] <- data.frame(
      rows = sz[1L], nAGQ = sz[2L], covariate = v, this_cpu = median(tt$new),
      base_cpu = median(tt$base), ratio_base = median(tt$base) / median(tt$new),
      max_rel_diff = max(abs(new$ci - base$ci) / pmax(abs(base$ci), 1e-300)))
  }
  cat("\nAGHQ profiles, (x | a), this build vs GLMMGEE_BASE_LIB (CPU seconds):\n")
  print(do.call(rbind, rows), digits = 3, row.names = FALSE)
  d30 <- aghq_data(800L)
  lap <- timed(function() suppressWarnings(confint(glmm(yb ~ x + (x | a), data = d30,
                                                        family = binomial, nAGQ = 1),
                                                   method = "profile")))
  l4 <- timed(function() suppressWarnings(suppressMessages(confint(
    glmer(yb ~ x + (x | a), data = d30, family = binomial), method = "profile", oldNames = FALSE))))
  cat(sprintf("Laplace (x | a), 800 rows, fit + profile: glmmgee %.2f s, lme4 %.2f s, ratio lme4 / glmmgee %.1f (elapsed)\n",
              lap$seconds, l4$seconds, l4$seconds / lap$seconds))
}
