# REML for gaussian identity-link GLMMs (glmm(..., REML = TRUE)): what the
# one-factor route (fit-lmm-onefactor.R) and the several-terms route
# (fit-lmm-sparse.R) share.
#
# The restricted likelihood integrates the marginal likelihood over beta
# under a flat prior (Harville 1977): for a linear mixed model it is the ML
# log-likelihood at the GLS beta plus p/2 log(2 pi) - 1/2 log det(X'V^-1 X).
# With sigma profiled out it is the criterion lmer minimizes (Bates, Maechler,
# Bolker & Walker 2015, J. Stat. Softw. 67(1), section 3.4), written here on
# the user's X so that the reported value is lmer's; rescaling X changes it by
# a constant log|det|, so its optimum does not depend on the coding.

reml_singular_message <- paste0("singular fit: a random-effect variance is estimated at zero ",
                                "(or a correlation at +/-1) by REML")
