# Models drawn at random from the grammar family x random-effect structure
# x zero part x dispersion part, with data simulated from a model of that
# kind (test-model-grammar.R): glmmgee and glmmTMB fit each draw by the
# Laplace approximation.

grammar_families <- c("gaussian", "binomial", "poisson", "nbinom2", "nbinom1", "Gamma", "beta",
                      "betabinomial")
grammar_re_terms <- c("(1 | g)", "(1 + x | g)", "(1 + x || g)", "(1 | g) + (1 | h)", "(1 | h/g)",
                      "ar1(0 + tf | g)", "cs(0 + tf | g)", "diag(0 + tf | g)", "toep(0 + tf | g)",
                      "ar1(0 + tf | g) + (1 | h)")
grammar_zero_parts <- list(none = ~ 0, fixed = ~ z, random = ~ z + (1 | g),
                           structured = ~ z + ar1(0 + tf | g))

# The structures of glmmTMB 1.1.10 and later (the second grammar): over
# the occasions tf of g, or their uneven times tt (0, 1, 2.5, 4), or with a
# known matrix (Kt, Vt: grammar_matrices()).
grammar_structures <- c("homcs(0 + tf | g)", "hetar1(0 + tf | g)", "homtoep(0 + tf | g)",
                        "homdiag(0 + tf | g)", "ou(0 + tt | g)", "exp(0 + tt | g)",
                        "gau(0 + tt | g)", "mat(0 + tt | g)", "rr(0 + tf | g, d = 1)",
                        "propto(0 + tf | g, Kt)", "equalto(0 + tf | g, Vt)")

# Draw k of the second grammar: a family, one of grammar_structures, the
# part it goes in (the conditional part; the zero part of count and binary
# families; the dispersion part of families with one), and the other
# parts as grammar_draw() draws them (a zero part, a dispersion part).
grammar_structure_draw <- function(k) {
  set.seed(5000 + k)
  fam <- sample(grammar_families, 1L)
  st <- sample(grammar_structures, 1L)
  counts <- fam %in% c("binomial", "poisson", "nbinom2", "nbinom1")
  disp_fam <- fam %in% c("gaussian", "nbinom2", "nbinom1", "Gamma", "beta", "betabinomial")
  part <- sample(c("cond", if (counts) "zi", if (disp_fam) "disp"), 1L)
  zero <- if (part == "zi") "structured" else if (counts) sample(c("none", "fixed", "random"), 1L)
          else "none"
  disp <- if (part == "disp") "structured" else if (disp_fam) sample(c("none", "fixed", "random"), 1L)
          else "none"
  list(k = k, family = fam, re = if (part == "cond") st else "(1 | g)", zero = zero,
       disp = disp, structure = st, part = part)
}

# The known matrices of propto() and equalto() over the four occasions.
grammar_matrices <- function() {
  K <- 0.5^abs(outer(1:4, 1:4, "-"))
  dimnames(K) <- list(as.character(1:4), as.character(1:4))
  list(Kt = K, Vt = 0.3 * K)
}

# Draw k: a family, a random-effect structure, a zero part (count and
# binary families) and a dispersion part (families with a dispersion):
# none, fixed (~ z), or for half of the fixed ones random (~ z + (1 | g),
# drawn last, so that the other draws stay as they were).
grammar_draw <- function(k) {
  set.seed(1000 + k)
  fam <- sample(grammar_families, 1L)
  re <- sample(grammar_re_terms, 1L)
  zero <- if (fam %in% c("binomial", "poisson", "nbinom2", "nbinom1"))
    sample(names(grammar_zero_parts), 1L) else "none"
  disp <- if (fam %in% c("gaussian", "nbinom2", "nbinom1", "Gamma", "beta", "betabinomial"))
    sample(c("none", "fixed"), 1L) else "none"
  if (disp == "fixed" && stats::runif(1) < 0.5) disp <- "random"
  list(k = k, family = fam, re = re, zero = zero, disp = disp)
}

# 30 clusters g of 4 occasions tf, a crossed factor h of 6 levels,
# covariates x and z; an AR(1) of the occasions within g, a random slope
# of x, h effects, and (count and binary families) structural zeros with a
# random intercept of g; a dispersion part with random effects gets a g
# effect of SD 0.5 on the log dispersion.
grammar_data <- function(m) {
  ng <- 30
  pd <- panel_data(m$k, ng, 4L, 6L, 0.4)
  d <- pd$d
  d$tt <- numFactor(c(0, 1, 2.5, 4)[d$t])
  u <- pd$u
  eta <- 0.3 + 0.4 * d$x + u[cbind(d$t, as.integer(d$g))] + rnorm(6, 0, 0.3)[d$h] +
    rnorm(ng, 0, 0.3)[d$g] * d$x
  n <- nrow(d)
  zi <- rbinom(n, 1, plogis(-1.2 + 0.7 * d$z + rnorm(ng, 0, 0.7)[d$g]))
  # (0, and no draw, unless the dispersion part has random effects)
  v <- if (m$disp %in% c("random", "structured")) rnorm(ng, 0, 0.5)[d$g] else 0
  ev <- exp(v)
  d$y <- switch(m$family,
    gaussian = eta + rnorm(n, 0, exp(-0.5 + 0.3 * d$z + v)),
    binomial = rbinom(n, 1, plogis(eta)) * (1 - zi),
    poisson = rpois(n, exp(eta)) * (1 - zi),
    nbinom2 = rnbinom(n, mu = exp(eta), size = exp(1 + 0.3 * d$z + v)) * (1 - zi),
    nbinom1 = rnbinom(n, mu = exp(eta), size = exp(eta) / (1.5 * ev)) * (1 - zi),
    Gamma = rgamma(n, shape = 3 * ev, rate = 3 * ev / exp(eta)),
    beta = rbeta(n, plogis(eta) * 8 * ev, (1 - plogis(eta)) * 8 * ev),
    betabinomial = rbinom(n, 5, rbeta(n, plogis(eta) * 6 * ev, (1 - plogis(eta)) * 6 * ev)))
  if (m$family == "betabinomial") d$yy <- cbind(d$y, 5 - d$y)
  d
}

grammar_family <- function(name, peer = FALSE) {
  tmb <- function(f) getExportedValue("glmmTMB", f)
  switch(name, gaussian = gaussian(), binomial = binomial(), poisson = poisson(),
         Gamma = Gamma(link = "log"),
         nbinom2 = if (peer) tmb("nbinom2")() else nbinom2(),
         nbinom1 = if (peer) tmb("nbinom1")() else nbinom1(),
         beta = if (peer) tmb("beta_family")() else beta_family(),
         betabinomial = if (peer) tmb("betabinomial")() else betabinomial())
}

# The draw's model: list(formula, ziformula, dispformula), in an
# environment that holds grammar_matrices().
grammar_model <- function(m) {
  lhs <- if (m$family == "betabinomial") "yy" else "y"
  env <- list2env(grammar_matrices(), parent = globalenv())
  f <- function(txt) stats::as.formula(txt, env = env)
  list(formula = f(paste(lhs, "~ x +", m$re)),
       ziformula = if (m$zero == "structured" && !is.null(m$structure))
                     f(paste("~ z +", m$structure)) else grammar_zero_parts[[m$zero]],
       dispformula = switch(m$disp, fixed = ~ z, random = ~ z + (1 | g),
                            structured = f(paste("~ z +", m$structure)), ~ 1))
}

# Draw m fitted by glmmTMB and glmmgee (Laplace both): wherever glmmTMB
# converges (its optimizer's code 0 and a positive definite Hessian; with
# "false convergence" at a correlation of 1 it reported 1.4e-4 above the
# value of that limit, the nested model's, where glmmgee ends), glmmgee fits, with a
# log-likelihood not below glmmTMB's by more than 1e-4 and the coefficients
# within 1e-3 (relative, floor 1) unless its log-likelihood is higher, and
# the methods work; where glmmTMB fails, a fit or an error that says why.
# Returns whether the draw was compared.
expect_grammar_draw <- function(m) {
  d <- grammar_data(m)
  g <- grammar_model(m)
  label <- sprintf("draw %d: %s, %s, zero part %s, dispersion %s%s", m$k, m$family, m$re, m$zero,
                   m$disp, if (!is.null(m$structure)) paste0(" (", m$structure, ")") else "")
  tm <- tryCatch(suppressWarnings(glmmTMB::glmmTMB(
    g$formula, ziformula = g$ziformula, dispformula = g$dispformula,
    family = grammar_family(m$family, peer = TRUE), data = d)), error = function(e) NULL)
  converged <- !is.null(tm) && isTRUE(tm$sdr$pdHess) && identical(tm$fit$convergence, 0L) &&
    is.finite(tmb_loglik(tm))
  f <- tryCatch(suppressWarnings(glmm(g$formula, ziformula = g$ziformula,
                                      dispformula = g$dispformula,
                                      family = grammar_family(m$family), data = d, nAGQ = 1)),
                error = function(e) e)
  if (!converged) {
    if (inherits(f, "error")) expect_true(nzchar(conditionMessage(f)), label = label)
    return(FALSE)
  }
  if (inherits(f, "error")) {
    fail(paste(label, "failed:", conditionMessage(f)))
    return(FALSE)
  }
  expect_s3_class(f, "glmmgee_glmm")
  lt <- tmb_loglik(tm)
  # glmmTMB's nbinom2 log-likelihood loses digits far in the Poisson
  # limit (theta = exp(23): 1.6e-3 above its value at the same limit by
  # its own Poisson fit): there its Poisson fit is the reference.
  if (m$family == "nbinom2" && m$disp == "none" && isTRUE(glmmTMB::fixef(tm)$disp[[1L]] > 10)) {
    tp <- tryCatch(suppressWarnings(glmmTMB::glmmTMB(g$formula, ziformula = g$ziformula,
                                                     family = poisson(), data = d)),
                   error = function(e) NULL)
    if (!is.null(tp) && isTRUE(tp$sdr$pdHess)) lt <- tmb_loglik(tp)
  }
  lo <- as.numeric(stats::logLik(f))
  expect_gte(lo, lt - 1e-4, label = sprintf("%s: logLik %.7f (glmmTMB %.7f)", label, lo, lt))
  if (lo < lt + 1e-4) {
    ours <- c(fixef(f), if (m$zero != "none") f$aux$zi$coef,
              if (m$disp %in% c("random", "structured")) f$aux$disp$coef)
    peer <- c(glmmTMB::fixef(tm)$cond, if (m$zero != "none") glmmTMB::fixef(tm)$zi,
              if (m$disp %in% c("random", "structured")) glmmTMB::fixef(tm)$disp)
    expect_lte(max(abs(unname(ours) - unname(peer)) / pmax(1, abs(unname(peer)))), 1e-3,
               label = paste(label, "coefficients"))
  }
  # The methods on every fit.
  expect_output(print(summary(f)), "Random effects|Conditional model", label = label)
  expect_length(stats::predict(f, type = "response"), nrow(d))
  expect_true(all(is.finite(stats::fitted(f))), label = label)
  expect_identical(nrow(stats::vcov(f)), length(fixef(f)))
  expect_true(is.list(ranef(f)), label = label)
  expect_identical(dim(stats::simulate(f, nsim = 1, seed = 1)), c(nrow(d), 1L))
  TRUE
}
