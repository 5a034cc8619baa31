# Bias of the variance components of crossed binary GLMMs under the Laplace
# approximation, the second-order Laplace approximation
# (glmm_control(laplace_order = 2)) and maximum likelihood of the
# importance-sampled log-likelihood (glmm_control(importance_draws = )):
# L raters x L items,
# each rater paired with 6 items and each item with 6 raters (rater i with
# items i, ..., i + 5, cyclically), one binary observation per pair, as in
# the salamander mating experiment; true standard deviations 1 and 1, a
# covariate with coefficient 0.5.
#
#   Rscript bench/sim-crossed-binary-bias.R [replications] [draws] [levels...]
#
# Defaults: 200 replications, 1,000 draws, designs 20 x 20 and 40 x 40.
# Prints, per design and method, the mean estimate, bias, its Monte Carlo
# standard error and the root mean square error of each standard deviation,
# and the share of Laplace's bias that each refinement removes.

suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
reps <- if (length(args) >= 1L) as.integer(args[1L]) else 200L
draws <- if (length(args) >= 2L) as.integer(args[2L]) else 1000L
levels <- if (length(args) >= 3L) as.integer(args[-(1:2)]) else c(20L, 40L)
truth <- c(rater = 1, item = 1)

one_rep <- function(L, r) {
  set.seed(1000 * L + r)
  d <- data.frame(rater = rep(seq_len(L), each = 6L))
  d$item <- (d$rater - 1L + rep(0:5, L)) %% L + 1L
  d[] <- lapply(d, factor)
  d$x <- rnorm(nrow(d))
  d$y <- rbinom(nrow(d), 1, plogis(0.5 * d$x + truth[["rater"]] * rnorm(L)[d$rater] +
                                     truth[["item"]] * rnorm(L)[d$item]))
  f <- y ~ x + (1 | rater) + (1 | item)
  fl <- suppressWarnings(glmm(f, data = d, family = binomial))
  fs <- suppressWarnings(glmm(f, data = d, family = binomial,
                              control = glmm_control(laplace_order = 2)))
  fi <- suppressWarnings(glmm(f, data = d, family = binomial,
                              control = glmm_control(importance_draws = draws, importance_seed = r)))
  sds <- function(fit) abs(fit$theta[c("rater.(Intercept)", "item.(Intercept)")])
  c(laplace = sds(fl), second_order = sds(fs), importance = sds(fi), ess = fi$importance$ess)
}
methods <- c("laplace", "second_order", "importance")

for (L in levels) {
  t0 <- proc.time()[["elapsed"]]
  res <- t(vapply(seq_len(reps), function(r) one_rep(L, r), numeric(7)))
  secs <- proc.time()[["elapsed"]] - t0
  tab <- do.call(rbind, lapply(methods, function(m) {
    est <- res[, paste0(m, c(".rater.(Intercept)", ".item.(Intercept)")), drop = FALSE]
    data.frame(design = sprintf("%d x %d", L, L), method = m, sd = names(truth),
               mean = colMeans(est), bias = colMeans(est) - truth,
               bias_mcse = apply(est, 2, stats::sd) / sqrt(reps),
               rmse = sqrt(colMeans(sweep(est, 2, truth)^2)), row.names = NULL)
  }))
  print(tab, digits = 3, row.names = FALSE)
  # the share of Laplace's bias removed, over both standard deviations
  lap <- mean(tab$bias[tab$method == "laplace"])
  share <- function(m) 100 * (1 - mean(tab$bias[tab$method == m]) / lap)
  cat(sprintf("%d x %d: %d replications, %d draws; share of Laplace's bias removed: second-order %.0f%%, importance sampling %.0f%%; median effective sample size %.0f; %.0f s\n\n",
              L, L, reps, draws, share("second_order"), share("importance"),
              stats::median(res[, "ess"]), secs))
}
