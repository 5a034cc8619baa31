# Shared fits for the car, multcomp, lmtest, confint and stats-generics
# tests: one binomial GLMM on lme4's cbpp data
# fitted by glmmgee, lme4 and glmmTMB with the same (Laplace)
# approximation. lme4's default optimizer stops about 5e-4 short of the
# maximum of this likelihood (fixed effects ~4e-4 off); with bobyqa at a
# tight tolerance it reaches the same optimum as ours and glmmTMB's (1e-7),
# so differences in the tests below are the methods', not the optimizers'.

# The cbpp data frame, loaded once for every ecosystem test
# (helper-ecosystem.R).
eco_cbpp <- function() cbpp_data()

eco_glmm <- function() {
  cached("eco_cbpp_glmm", glmm(cbind(incidence, size - incidence) ~ period + (1 | herd),
                               data = eco_cbpp(), family = binomial, nAGQ = 1))
}

eco_glmer <- function() {
  cached("eco_cbpp_glmer",
         lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                     data = eco_cbpp(), family = binomial,
                     control = lme4::glmerControl(optimizer = "bobyqa",
                                                  optCtrl = list(rhoend = 1e-10),
                                                  tolPwrss = 1e-12)))
}

eco_glmmtmb <- function() {
  cached("eco_cbpp_glmmtmb",
         glmmTMB::glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd),
                          data = eco_cbpp(), family = binomial))
}
