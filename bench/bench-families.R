# Side-by-side benchmark of the families and links added for issue 15:
# nbinom1, beta, beta-binomial, Gamma inverse and identity, gaussian log
# (glmmTMB, the fastest peer that fits them all) and binomial cauchit
# (GLMMadaptive; glmmTMB has no cauchit link). A random intercept, M
# clusters of 10, simulated with known truth; glmmgee by Laplace (nAGQ = 1)
# against the peer's Laplace in the same R session, so the ratio is
# meaningful on a loaded machine. Prints elapsed and CPU (user + system)
# seconds, the ratios peer / glmmgee of both and the logLik difference
# (ours minus the peer's; both full log-likelihoods, so a positive value
# means ours is higher). Each package fits one small model first, untimed,
# so that neither pays for loading its namespace (and glmmgee's formula
# parser's) inside a timed fit. On a shared machine the CPU ratio is the
# steadier figure: elapsed time there includes waiting for a core.
#
# Usage: Rscript bench/bench-families.R [M ...]   (default: 2000 20000)
suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
Ms <- if (length(args)) as.integer(args) else c(2000L, 20000L)
cat(sprintf("glmmgee %s, R %s, %s\n", packageVersion("glmmgee"), getRversion(),
            format(Sys.time(), "%Y-%m-%d")))

# timeit(), peak_kb(), peak_mb(): bench-common.R beside this script (or in
# bench/ of the working directory when it is not run by Rscript).
source(file.path(dirname(c(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)),
                           "bench/.")[1L]), "bench-common.R"))

simulate_family <- function(fam, M) {
  g <- rep(seq_len(M), each = 10L)
  n <- 10L * M
  # Bounded covariates keep the Gamma inverse and identity means positive.
  x <- pmax(pmin(rnorm(n), 2.5), -2.5)
  u <- rnorm(M, sd = 0.5)[g]
  d <- data.frame(x = x, g = factor(g))
  switch(fam,
    nbinom1 = { mu <- exp(0.5 + 0.4 * x + u); d$y <- rnbinom(n, size = mu / 2, mu = mu) },
    beta = { mu <- plogis(-0.3 + 0.7 * x + u); d$y <- rbeta(n, mu * 8, (1 - mu) * 8) },
    betabinomial = , cauchit = {
      mu <- plogis(-0.3 + 0.7 * x + u)
      d$n <- sample(2:15, n, replace = TRUE)
      d$s <- rbinom(n, d$n, if (fam == "cauchit") mu else rbeta(n, mu * 5, (1 - mu) * 5))
    },
    Gamma_inverse = {
      d$y <- rgamma(n, shape = 3, rate = 3 * (1 + 0.2 * x + rnorm(M, sd = 0.1)[g]))
    },
    Gamma_identity = {
      d$y <- rgamma(n, shape = 3, rate = 3 / (2 + 0.3 * x + rnorm(M, sd = 0.3)[g]))
    },
    gaussian_log = { d$y <- rnorm(n, exp(1 + 0.3 * x + u), 0.5) })
  d
}

cases <- list(
  nbinom1 = list(nbinom1(), function() glmmTMB::nbinom1()),
  beta = list(beta_family(), function() glmmTMB::beta_family()),
  betabinomial = list(betabinomial(), function() glmmTMB::betabinomial()),
  Gamma_inverse = list(Gamma("inverse"), function() Gamma("inverse")),
  Gamma_identity = list(Gamma("identity"), function() Gamma("identity")),
  gaussian_log = list(gaussian("log"), function() gaussian("log")),
  cauchit = list(binomial("cauchit"), NULL))

peer_fit <- function(name, f, d, tfam) {
  if (name == "cauchit") {
    if (!requireNamespace("GLMMadaptive", quietly = TRUE)) return(NULL)
    return(timeit(GLMMadaptive::mixed_model(cbind(s, n - s) ~ x, random = ~ 1 | g, data = d,
                                            family = binomial("cauchit"), nAGQ = 1)))
  }
  if (!requireNamespace("glmmTMB", quietly = TRUE)) return(NULL)
  # glmmTMB's default start (beta = 0) lies outside the inverse and
  # identity links' domain; it gets the GLM's coefficients, untimed.
  start <- if (name %in% c("Gamma_inverse", "Gamma_identity"))
    list(beta = coef(glm(y ~ x, data = d, family = tfam(), mustart = rep(mean(d$y), nrow(d)))))
  # glmmTMB runs the family's initializer, which refuses a gaussian(log)
  # response with values <= 0: that row then reports no peer.
  tryCatch(timeit(suppressWarnings(glmmTMB::glmmTMB(f, data = d, family = tfam(), start = start))),
           error = function(e) { message(name, ": glmmTMB failed: ", conditionMessage(e)); NULL })
}

# BENCH_FAMILIES="beta nbinom1" runs a subset.
only <- strsplit(Sys.getenv("BENCH_FAMILIES"), "[ ,]+")[[1]]
if (length(only)) cases <- cases[intersect(names(cases), only)]
# Warm-up, untimed: namespaces, the formula parser, compiled code.
local({
  set.seed(1)
  d <- simulate_family("beta", 30L)
  invisible(glmm(y ~ x + (1 | g), data = d, family = beta_family(), nAGQ = 1))
  if (requireNamespace("glmmTMB", quietly = TRUE))
    invisible(glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = glmmTMB::beta_family()))
  d <- simulate_family("cauchit", 30L)
  if (requireNamespace("GLMMadaptive", quietly = TRUE))
    invisible(GLMMadaptive::mixed_model(cbind(s, n - s) ~ x, random = ~ 1 | g, data = d,
                                        family = binomial("cauchit"), nAGQ = 1))
})
out <- list()
for (M in Ms) for (name in names(cases)) {
  set.seed(20261122 + M)
  d <- simulate_family(name, M)
  f <- if (name %in% c("betabinomial", "cauchit")) cbind(s, n - s) ~ x + (1 | g) else y ~ x + (1 | g)
  ours <- timeit(glmm(f, data = d, family = cases[[name]][[1]], nAGQ = 1))
  peer <- peer_fit(name, f, d, cases[[name]][[2]])
  row <- data.frame(family = name, M = M, n = nrow(d), glmmgee_s = ours$time,
                    glmmgee_cpu = ours$cpu,
                    peer = if (name == "cauchit") "GLMMadaptive" else "glmmTMB",
                    peer_s = NA_real_, peer_cpu = NA_real_, ratio = NA_real_,
                    ratio_cpu = NA_real_, dlogLik = NA_real_)
  if (!is.null(peer)) {
    row$peer_s <- peer$time
    row$peer_cpu <- peer$cpu
    row$ratio <- round(peer$time / ours$time, 1)
    row$ratio_cpu <- round(peer$cpu / ours$cpu, 1)
    row$dlogLik <- signif(as.numeric(logLik(ours$value)) - as.numeric(logLik(peer$value)), 3)
  }
  print(row, row.names = FALSE)
  out[[length(out) + 1L]] <- row
}
cat("\nSummary (ratio: peer seconds / glmmgee seconds, elapsed and CPU, same run; dlogLik: glmmgee minus peer)\n")
print(do.call(rbind, out), row.names = FALSE)
