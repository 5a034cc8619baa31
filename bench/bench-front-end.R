# glmm()'s CPU time per fit on small data, where the formula front end (model
# frame, random-effect terms, designs, checks, the fitted object) is a large
# share of the whole call: sleepstudy REML and ML, Penicillin and Pastes
# REML (several terms), ordinal's wine (cumulative link), glmmTMB's
# Salamanders (zero-inflated Poisson) and a sleepstudy ar1() structure.
# Prints one line of milliseconds of CPU (user + system) per fit. To compare
# two builds, run it alternately with each on R_LIBS, in separate processes:
#   R_LIBS=<lib A> Rscript bench/bench-front-end.R; R_LIBS=<lib B> Rscript bench/bench-front-end.R
suppressPackageStartupMessages(library(glmmgee))
data(sleepstudy, Penicillin, Pastes, package = "lme4")
d <- sleepstudy; d$t <- factor(d$Days)
sal <- glmmTMB::Salamanders; wine <- ordinal::wine
cases <- list(
 sleepREML = list(function() glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE), 100),
 sleepML = list(function() glmm(Reaction ~ Days + (Days | Subject), sleepstudy), 40),
 PenicillinREML = list(function() glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE), 50),
 PastesREML = list(function() glmm(strength ~ 1 + (1 | batch/cask), Pastes, REML = TRUE), 50),
 wine = list(function() glmm(rating ~ temp + contact + (1 | judge), wine, family = cumulative()), 50),
 zipSal = list(function() glmm(count ~ mined + (1 | site), sal, family = poisson, ziformula = ~ mined), 20),
 ar1 = list(function() glmm(Reaction ~ Days + ar1(t + 0 | Subject), d), 10))
out <- vapply(cases, function(cs) {
  f <- cs[[1]]; suppressWarnings({f(); f()})
  st <- system.time(suppressWarnings(for (i in seq_len(cs[[2]])) f()))
  1000 * (st[["user.self"]] + st[["sys.self"]]) / cs[[2]]
}, 1)
cat(paste(names(out), collapse = " "), "\n", paste(round(out, 2), collapse = " "), "\n")
