# The cost of cluster-robust covariances of glmm() fits next to the fit:
# seconds of one fit and of vcov(type = "CR0"), "CR2" and "CR3" on it, and
# the same as multiples of one evaluation of the log-likelihood with its
# gradient (the unit of the fit's own work). For fits that keep their
# clusters' curvature (one grouping factor), also CR2 from a rebuilt engine
# (the fit with its curvature removed), as every fit took it before.
#
#   Rscript bench/bench-robust-vcov.R [clusters]
#
# A binary random-intercept model (AGHQ, 7 points), 10 rows per cluster
# (default 5,000 clusters); the same data with two classes of 5 rows in
# each cluster, (1 | g/class), by Laplace (the sparse engine, split by
# cluster) and by nested quadrature (5 points); and a linear mixed model
# with a random slope on the same design (clubSandwich's estimators, for
# comparison with clubSandwich::vcovCR() on lmer when both are installed).
# The evaluations of the nested quadrature fit are of its log-likelihood
# with the gradient by central differences, as its profile engine takes it.
# Three more models on the same design: a zero-inflated Poisson random
# intercept (the two-part engine), a cumulative logit random intercept
# (the ordinal engine, its evaluation the log-likelihood with its
# gradient) and a binary model with an AR(1) covariance over five visits
# of two rows each, ar1(0 + visit | g) (the one-factor engine through the
# structure's Jacobian; its evaluation the engine's in Lambda's entries).

suppressPackageStartupMessages(library(glmmgee))
args <- commandArgs(TRUE)
G <- if (length(args)) as.integer(args[1L]) else 5000L
set.seed(1)
m <- 10L
g <- rep(seq_len(G), each = m)
x <- rnorm(G * m)
trt <- rep(0:1, length.out = G * m)
b <- rnorm(G, 0, 0.8)[g]
class <- rep(rep(1:2, each = m / 2), G)
d <- data.frame(g, class, x, trt,
                y = rbinom(G * m, 1, plogis(-0.3 + 0.5 * trt + 0.3 * x + b)),
                z = 1 + 0.5 * trt + 0.3 * x + b + rnorm(G, 0, 0.3)[g] * x + rnorm(G * m))
secs <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  force(expr)
  proc.time()[["elapsed"]] - t0
}
# Seconds per call of f(): repeated until a run takes about 0.1 s (the
# clock counts milliseconds), the best of three runs (the first call also
# compiles R code).
per_call <- function(f) {
  reps <- min(200L, max(1L, ceiling(0.1 / max(secs(f()), 1e-4))))
  min(replicate(3L, secs(for (i in seq_len(reps)) f()) / reps))
}
# One evaluation of a fit's log-likelihood and gradient (its profile
# engine's), as a function of no argument, and the engine's clean-up.
profile_eval <- function(fit) {
  pe <- glmmgee:::profile_engine(fit)
  th <- glmmgee:::theta_star(as.numeric(fit$theta), pe$Tx)
  list(eval = function() pe$eval(th), free = pe$free)
}
# The same for a cumulative link random intercept: its engine's
# evaluation, on the fit's data in the engine's order.
ordinal_eval <- function(fit) {
  od <- glmmgee:::ordinal_fit_data(fit)
  th <- as.numeric(fit$theta)
  p <- length(fit$coefficients)
  J <- length(fit$y_levels)
  list(eval = function()
         glmmgee:::cpp_ordinal_loglik(od$y, od$X, od$offset, od$w, od$starts, J,
                                      th[p + 1L + seq_len(J - 1L)], th[seq_len(p)],
                                      log(th[p + 1L]), fit$nAGQ, fit$family$link_code, TRUE),
       free = function() NULL)
}
time_fit <- function(label, fit_call, d, evaluator = profile_eval) {
  tf <- secs(fit <- fit_call())
  pe <- evaluator(fit)
  te <- per_call(pe$eval)
  pe$free()
  out <- data.frame(model = label, fit_s = tf, eval_s = te)
  for (ty in c("CR0", "CR2", "CR3")) {
    ts <- per_call(function() vcov(fit, type = ty))
    out[[paste0(ty, "_s")]] <- ts
    out[[paste0(ty, "_evals")]] <- round(ts / te, 1)
  }
  # the same fit without the clusters' curvature it kept: the informations
  # by central differences of a rebuilt engine's scores
  if (!is.null(fit$cluster_curvature)) {
    bare <- fit
    bare$cluster_curvature <- NULL
    ts <- per_call(function() vcov(bare, type = "CR2"))
    out$CR2_rebuilt_evals <- round(ts / te, 1)
  } else out$CR2_rebuilt_evals <- NA
  out$CR2_of_fit <- round(out$CR2_s / tf, 3)
  out
}
d$y2 <- rbinom(G * m, 1, plogis(-0.3 + 0.5 * trt + 0.3 * x + b +
                                   rnorm(2 * G, 0, 0.5)[(g - 1L) * 2L + class]))
eta <- -0.3 + 0.5 * trt + 0.3 * x + b
d$k <- ifelse(runif(G * m) < 0.2, 0, rpois(G * m, exp(eta)))
d$o <- factor(cut(eta + rlogis(G * m), c(-Inf, -1, 0, 1, Inf), labels = FALSE), ordered = TRUE)
d$visit <- factor(rep(rep(1:5, each = m / 5), G))
u <- matrix(rnorm(G * 5), G) %*% chol(0.8^2 * 0.6^abs(outer(1:5, 1:5, "-")))
d$y3 <- rbinom(G * m, 1, plogis(-0.3 + 0.5 * trt + 0.3 * x + u[cbind(g, as.integer(d$visit))]))
res <- rbind(
  time_fit("binomial (1 | g), AGHQ 7",
           function() glmm(y ~ trt + x + (1 | g), data = d, family = binomial, nAGQ = 7), d),
  time_fit("binomial (1 | g/class), Laplace",
           function() glmm(y2 ~ trt + x + (1 | g/class), data = d, family = binomial), d),
  time_fit("binomial (1 | g/class), nested AGHQ 5",
           function() glmm(y2 ~ trt + x + (1 | g/class), data = d, family = binomial, nAGQ = 5), d),
  time_fit("zero-inflated Poisson (1 | g), Laplace",
           function() glmm(k ~ trt + x + (1 | g), ziformula = ~ x, data = d, family = poisson), d),
  time_fit("cumulative logit (1 | g), AGHQ 7",
           function() glmm(o ~ trt + x + (1 | g), data = d, family = cumulative(), nAGQ = 7), d,
           ordinal_eval),
  time_fit("binomial ar1(0 + visit | g), Laplace",
           function() glmm(y3 ~ trt + x + ar1(0 + visit | g), data = d, family = binomial), d))
print(res, row.names = FALSE, digits = 3)

# The linear mixed model: glmmgee's CR2 and clubSandwich's on lmer
fl <- glmm(z ~ trt + x + (x | g), data = d, REML = TRUE)
t_ours <- secs(V <- vcov(fl, type = "CR2"))
cat(sprintf("\nLMM (x | g), REML, %d clusters: vcov(type = \"CR2\") %.2f s", G, t_ours))
if (requireNamespace("clubSandwich", quietly = TRUE) && requireNamespace("lme4", quietly = TRUE)) {
  ml <- lme4::lmer(z ~ trt + x + (x | g), data = d)
  t_cs <- secs(Vc <- clubSandwich::vcovCR(ml, type = "CR2"))
  cat(sprintf("; clubSandwich::vcovCR() on lmer %.2f s (ratio %.1f); max relative difference %.1e",
              t_cs, t_cs / t_ours, max(abs(as.matrix(Vc) - V) / abs(V))))
}
cat("\n")
