# Side-by-side benchmark of the sparse Laplace engine: crossed random
# intercepts (subjects x items, binary) and nested ones (wards within
# hospitals, binary), fitted by glmmgee::glmm, lme4::glmer (Laplace) and
# glmmTMB in the same R session. Prints elapsed seconds, the ratio peer /
# glmmgee and logLik differences (ours minus theirs; lme4 and glmmTMB report
# the full Laplace log-likelihood for these models, as we do).
#
# Usage: Rscript bench/bench-sparse.R [subjects items hospitals wards/hospital]
#        (default: 1000 50 100 20)
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "glmmTMB"), requireNamespace, TRUE, quietly = TRUE)
})
args <- as.integer(commandArgs(TRUE))
if (length(args) < 4L) args <- c(1000L, 50L, 100L, 20L)
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, %s\n", packageVersion("glmmgee"),
            getRversion(), parallel::detectCores(), format(Sys.time(), "%Y-%m-%d")))

timeit <- function(expr) {
  gc()
  t <- system.time(val <- force(expr))[["elapsed"]]
  list(time = t, value = val)
}

run <- function(label, f, d) {
  fits <- list(glmmgee = timeit(glmm(f, d, family = binomial)))
  if (have[["lme4"]])
    fits$glmer <- timeit(lme4::glmer(f, d, family = binomial))
  if (have[["glmmTMB"]])
    fits$glmmTMB <- timeit(glmmTMB::glmmTMB(f, d, family = binomial))
  ours <- fits$glmmgee
  tab <- data.frame(
    package = names(fits),
    seconds = vapply(fits, `[[`, 1, "time"),
    ratio = vapply(fits, function(r) r$time / ours$time, 1),
    logLik = vapply(fits, function(r) as.numeric(logLik(r$value)), 1))
  tab$dlogLik <- as.numeric(logLik(ours$value)) - tab$logLik
  cat(sprintf("\n%s: n = %d\n", label, nrow(d)))
  print(tab, row.names = FALSE, digits = 6)
  invisible(tab)
}

# Crossed: every subject answers every item.
set.seed(20261121)
S <- args[1]; I <- args[2]
d1 <- expand.grid(subject = factor(seq_len(S)), item = factor(seq_len(I)))
d1$x <- rnorm(nrow(d1))
eta <- -0.3 + 0.5 * d1$x + rnorm(S, sd = 1)[d1$subject] + rnorm(I, sd = 0.7)[d1$item]
d1$y <- rbinom(nrow(d1), 1, plogis(eta))
run(sprintf("crossed (1 | subject) + (1 | item), %d x %d", S, I),
    y ~ x + (1 | subject) + (1 | item), d1)

# Nested: wards within hospitals, 10 patients per ward.
H <- args[3]; Wd <- args[4]
d2 <- data.frame(hospital = factor(rep(seq_len(H), each = Wd * 10L)),
                 ward = factor(rep(seq_len(Wd), each = 10L, times = H)))
d2$x <- rnorm(nrow(d2))
hw <- interaction(d2$hospital, d2$ward)
eta <- -0.5 + 0.6 * d2$x + rnorm(H, sd = 0.8)[d2$hospital] + rnorm(nlevels(hw), sd = 0.5)[hw]
d2$y <- rbinom(nrow(d2), 1, plogis(eta))
run(sprintf("nested (1 | hospital/ward), %d hospitals x %d wards", H, Wd),
    y ~ x + (1 | hospital/ward), d2)
