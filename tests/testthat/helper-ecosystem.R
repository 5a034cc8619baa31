# Shared fixtures for the ecosystem tests (broom, emmeans, marginaleffects,
# insight family): the same models fitted by glmmgee and by the peers, each
# fitted once per session (cached() is in helper-glmm-fits.R).

# marginaleffects' CRAN release calls base R's `%||%`, which R < 4.4 lacks.
# A namespace's lookups fall through base to the global environment, so
# defining it there (only in the test session, and only when R has none)
# lets marginaleffects find it; the package itself neither needs nor
# defines it.
if (!exists("%||%", envir = baseenv(), inherits = FALSE) &&
    !exists("%||%", envir = globalenv(), inherits = FALSE)) {
  assign("%||%", function(x, y) if (is.null(x)) y else x, envir = globalenv())
}

cbpp_data <- function() {
  cached("eco_cbpp", {
    e <- new.env()
    utils::data("cbpp", package = "lme4", envir = e)
    e$cbpp
  })
}

# Binomial random-intercept model: glmmgee (Laplace), glmmTMB, glmer; and
# with an observation-level random effect besides (two terms: the sparse
# engine).
eco_binomial <- function() {
  cached("eco_binomial", {
    d <- cbpp_data()
    d$obs <- factor(seq_len(nrow(d)))
    f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
    f2 <- update(f, . ~ . + (1 | obs))
    list(data = d,
         ours = glmm(f, data = d, family = binomial, nAGQ = 1),
         tmb = glmmTMB::glmmTMB(f, data = d, family = binomial),
         lme4 = lme4::glmer(f, data = d, family = binomial),
         obs_level = glmm(f2, data = d, family = binomial),
         obs_level_tmb = glmmTMB::glmmTMB(f2, data = d, family = binomial))
  })
}

# Gaussian random intercept and slope (ML): glmmgee, glmmTMB, lmer.
eco_gaussian <- function() {
  cached("eco_gaussian", {
    e <- new.env()
    utils::data("sleepstudy", package = "lme4", envir = e)
    d <- e$sleepstudy
    f <- Reaction ~ Days + (Days | Subject)
    list(data = d, ours = glmm(f, data = d),
         tmb = glmmTMB::glmmTMB(f, data = d),
         lme4 = lme4::lmer(f, data = d, REML = FALSE))
  })
}

# Poisson counts with an offset and a random intercept (one factor), and
# the same with a second, crossed term (sparse engine).
eco_poisson <- function() {
  cached("eco_poisson", {
    d <- sim_counts_offset()
    d$grp <- factor(d$x > 0, labels = c("low", "high"))
    f <- count ~ grp + offset(log(expo)) + (1 | id)
    list(data = d,
         ours = glmm(f, data = d, family = poisson, nAGQ = 1),
         tmb = glmmTMB::glmmTMB(f, data = d, family = poisson))
  })
}

# Epileptic seizures (MASS::epil): gee and geeglm, exchangeable.
eco_gee <- function() {
  cached("eco_gee", {
    e <- new.env()
    utils::data("epil", package = "MASS", envir = e)
    d <- e$epil
    f <- y ~ lbase + trt + lage + V4
    list(data = d,
         ours = gee(f, data = d, id = subject, family = poisson, corstr = "exchangeable"),
         peer = geepack::geeglm(f, data = d, id = subject, family = poisson,
                                corstr = "exchangeable"))
  })
}

# lme4 fits at a tight tolerance and cbpp as 0/1 rows, for the performance
# and MuMIn tests.
# The data go into the call itself: insight refits the null model by
# update(), which must find them wherever it is evaluated.
tight_glmer <- function(f, data, family) {
  do.call(lme4::glmer, list(f, data = data, family = family,
                            control = lme4::glmerControl(optimizer = "bobyqa",
                                                         optCtrl = list(rhoend = 1e-10),
                                                         tolPwrss = 1e-12)))
}

# cbpp as one 0/1 row per animal: the same likelihood as the aggregated
# binomial, and a response insight takes as Bernoulli (see below).
cbpp_bernoulli <- function() {
  cached("perf_cbpp_bernoulli", {
    d <- cbpp_data()
    idx <- rep(seq_len(nrow(d)), d$size)
    y <- unlist(lapply(seq_len(nrow(d)), function(i)
      rep(1:0, c(d$incidence[i], d$size[i] - d$incidence[i]))))
    data.frame(herd = d$herd[idx], period = d$period[idx], y = y)
  })
}

