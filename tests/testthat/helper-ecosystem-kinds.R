# Small fits of the model kinds beyond the basic ones, for the ecosystem
# integration tests (car, emmeans, marginaleffects, insight, performance,
# broom, multcomp, lmtest, MuMIn, ggplot2): cumulative link (glmm and gee),
# zero-inflated, REML, structured covariance (ar1, cs), known covariance and
# nested quadrature. Each is fitted once per session (cached() is in
# helper-glmm-fits.R); the data are small so that every integration runs
# in a second or two.

kinds_wine <- function() {
  cached("kinds_wine", {
    e <- new.env()
    utils::data("wine", package = "ordinal", envir = e)
    e$wine
  })
}

# A panel: 30 subjects, 5 times, a binary treatment, a count, a gaussian
# response with an AR(1) within-subject error, a site above the subjects.
kinds_panel <- function() {
  cached("kinds_panel", {
    set.seed(47)
    n <- 30L
    nt <- 5L
    d <- data.frame(id = factor(rep(seq_len(n), each = nt)), time = rep(seq_len(nt), n))
    d$site <- factor((as.integer(d$id) - 1L) %/% 5L + 1L)
    d$trt <- factor(rep(rep(c("a", "b"), length.out = n), each = nt))
    d$x <- rnorm(nrow(d))
    b <- rnorm(n, sd = 0.6)[d$id] + rnorm(6, sd = 0.4)[d$site]
    e <- as.vector(vapply(seq_len(n), function(i) stats::arima.sim(list(ar = 0.6), nt), numeric(nt)))
    d$y <- 1 + 0.5 * (d$trt == "b") + 0.3 * d$x + b + e
    d$count <- rpois(nrow(d), exp(0.3 + 0.4 * (d$trt == "b") + 0.2 * d$x + b))
    d$bin <- rbinom(nrow(d), 1, stats::plogis(-0.2 + 0.8 * (d$trt == "b") + 0.4 * d$x + b))
    d$timef <- factor(d$time)
    # zero-inflated counts: a quarter structural zeros, counts of mean ~3
    # (glmmTMB's logLik of the zi fit below: -335.6435; ours -335.6418)
    set.seed(5)
    bz <- rnorm(n, sd = 0.5)[d$id]
    d$zcount <- ifelse(runif(nrow(d)) < 0.25, 0L,
                       rpois(nrow(d), exp(1.2 + 0.4 * (d$trt == "b") + 0.2 * d$x + bz)))
    d
  })
}

# A known covariance between the 30 subjects (a kinship-like K: two
# families of correlated subjects), for covariance = list(id = K).
kinds_K <- function() {
  cached("kinds_K", {
    n <- 30L
    fam <- rep(1:6, each = 5L)
    K <- 0.5 * outer(fam, fam, "==") + diag(0.5, n)
    dimnames(K) <- list(as.character(seq_len(n)), as.character(seq_len(n)))
    K
  })
}

kinds_fits <- function() {
  cached("kinds_fits", {
    w <- kinds_wine()
    d <- kinds_panel()
    K <- kinds_K()
    list(
      ordinal = glmm(rating ~ temp + contact + (1 | judge), data = w,
                     family = cumulative("logit"), nAGQ = 5),
      ordinal_gee = gee(rating ~ temp + contact, data = w, id = judge,
                        family = cumulative("logit")),
      zi = glmm(zcount ~ trt + x + (1 | id), data = d, family = poisson, ziformula = ~ 1),
      reml = glmm(y ~ trt + x + (1 | id), data = d, REML = TRUE),
      ar1 = suppressWarnings(glmm(y ~ trt + x + ar1(0 + timef | id), data = d)),
      cs = suppressWarnings(glmm(y ~ trt + x + cs(0 + timef | id), data = d)),
      known = glmm(y ~ trt + x + (1 | id), data = d, covariance = list(id = K)),
      nested = glmm(bin ~ trt + x + (1 | site/id), data = d, family = binomial, nAGQ = 3))
  })
}
