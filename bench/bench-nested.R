# Cost of multilevel adaptive quadrature for nested random intercepts
# (glmm(nAGQ > 1), src/engines/agq/agq-nested.cpp) against the Laplace fits of glmmgee
# (sparse engine), lme4::glmer and glmmTMB on the same data, in one R
# session; no peer integrates nested effects by quadrature, so the peers
# are timed at their Laplace fits. Binary outcomes, wards within
# hospitals; also three levels (patients' visits within wards within
# hospitals). Prints elapsed seconds, the ratio to glmmgee's quadrature fit,
# and each fit's log-likelihood (the quadrature value is the more accurate
# integral; the Laplace values agree with each other). For the quadrature
# fits also the number of passes of the quadrature engine (calls of its
# evaluation entry point, counted from outside, so builds with and without
# the engine's gradient are counted alike).
#
# Usage: Rscript bench/bench-nested.R [hospitals wards/hospital patients/ward [threads]]
#        (default: 100 10 5 1)
suppressPackageStartupMessages({
  library(glmmgee)
  have <- vapply(c("lme4", "glmmTMB"), requireNamespace, TRUE, quietly = TRUE)
})
args <- as.integer(commandArgs(TRUE))
if (length(args) < 3L) args <- c(100L, 10L, 5L)
nth <- if (length(args) >= 4L) args[4] else 1L
cat(sprintf("glmmgee %s, R %s, %d core(s) detected, %s, glmmgee threads %d\n",
            packageVersion("glmmgee"), getRversion(), parallel::detectCores(),
            format(Sys.time(), "%Y-%m-%d %H:%M"), nth))

passes <- 0L
ns <- asNamespace("glmmgee")
counted <- local({
  orig <- get("cpp_nested_eval", ns)
  function(...) { passes <<- passes + 1L; orig(...) }
})
unlockBinding("cpp_nested_eval", ns)
assign("cpp_nested_eval", counted, envir = ns)

timeit <- function(expr) {
  gc()
  passes <<- 0L
  t <- system.time(val <- force(expr))[["elapsed"]]
  list(time = t, value = val, passes = passes)
}

run <- function(label, f, d, nAGQ) {
  ctl <- glmm_control(nthreads = nth)
  fits <- list()
  for (k in nAGQ)
    fits[[sprintf("glmmgee AGHQ %d", k)]] <- timeit(suppressWarnings(
      glmm(f, d, family = binomial, nAGQ = k, control = ctl)))
  fits[["glmmgee Laplace"]] <- timeit(glmm(f, d, family = binomial, control = ctl))
  if (have[["lme4"]])
    fits[["glmer Laplace"]] <- timeit(lme4::glmer(f, d, family = binomial))
  if (have[["glmmTMB"]])
    fits[["glmmTMB Laplace"]] <- timeit(glmmTMB::glmmTMB(f, d, family = binomial))
  ref <- fits[[1L]]$time
  tab <- data.frame(fit = names(fits),
                    seconds = vapply(fits, `[[`, 1, "time"),
                    ratio_to_first = vapply(fits, function(r) r$time / ref, 1),
                    logLik = vapply(fits, function(r) as.numeric(logLik(r$value)), 1),
                    engine_passes = vapply(fits, `[[`, 1L, "passes"))
  cat(sprintf("\n%s: n = %d\n", label, nrow(d)))
  print(tab, row.names = FALSE, digits = 6)
  q <- fits[[1L]]$value$optinfo
  cat(sprintf("first fit: optimizer %s; logLik %.8f\n", q$optimizer,
              as.numeric(logLik(fits[[1L]]$value))))
  invisible(tab)
}

set.seed(20261122)
H <- args[1]; W <- args[2]; P <- args[3]
d <- expand.grid(patient = seq_len(P), ward = seq_len(W), hospital = seq_len(H))
d$x <- rnorm(nrow(d))
hw <- (d$hospital - 1L) * W + d$ward
eta <- -0.5 + 0.6 * d$x + rnorm(H)[d$hospital] + 1.5 * rnorm(H * W)[hw]
d$y <- rbinom(nrow(d), 1, plogis(eta))
d$hospital <- factor(d$hospital)
d$ward <- factor(d$ward)
run(sprintf("two levels (1 | hospital/ward), %d x %d wards x %d patients", H, W, P),
    y ~ x + (1 | hospital/ward), d, c(5L, 11L))

# Three levels: two visits per patient.
d3 <- d[rep(seq_len(nrow(d)), each = 2L), ]
d3$patient <- factor(d3$patient)
hwp <- (rep(hw, each = 2L) - 1L) * P + as.integer(d3$patient)
d3$x <- rnorm(nrow(d3))
eta3 <- -0.5 + 0.6 * d3$x + rnorm(H)[as.integer(d3$hospital)] + rnorm(H * W)[rep(hw, each = 2L)] +
  rnorm(H * W * P)[hwp]
d3$y <- rbinom(nrow(d3), 1, plogis(eta3))
run(sprintf("three levels (1 | hospital/ward/patient), %d x %d x %d x 2 visits", H, W, P),
    y ~ x + (1 | hospital/ward/patient), d3, 5L)
