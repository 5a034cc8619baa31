# glmtoolbox's GEE examples (spruces, depression, Seizures) fitted by
# glmtoolbox::glmgee() and by gee() at glmtoolbox's estimates: glmtoolbox's
# moment estimators of the scale and of the correlations use other
# degrees-of-freedom corrections than geepack's (which gee() follows), so
# the post-fit quantities are compared at one set of estimates: gee() with
# glmtoolbox's working correlation as a fixed one and its scale fixed, which
# solves the same estimating equations.
gtb_cases <- function() {
  e <- new.env()
  utils::data("spruces", "depression", "Seizures", package = "glmtoolbox", envir = e)
  list(
    spruces = list(f = size ~ poly(days, 4) + treat, d = e$spruces, id = "tree",
                   fam = Gamma("log"), cs = "Exchangeable", q = 1),
    depression_binary = list(f = depressd ~ visit + group, d = e$depression, id = "subj",
                             fam = binomial("logit"), cs = "AR-M-dependent(1)", q = 1),
    depression = list(f = dep ~ visit * group, d = e$depression, id = "subj",
                      fam = gaussian(), cs = "AR-M-dependent(1)", q = 1),
    seizures = list(f = seizures ~ treatment + log(base) + log(age) + time, d = e$Seizures,
                    id = "id", fam = poisson("log"), cs = "Exchangeable", q = 1))
}

gtb_pair <- function(cc) {
  d <- cc$d[!is.na(cc$d[[all.vars(cc$f)[1]]]), ]
  d$.id <- d[[cc$id]]
  ref <- glmtoolbox::glmgee(cc$f, id = .id, family = cc$fam, corstr = cc$cs, data = d,
                            toler = 1e-12, maxit = 200)
  fit <- gee(cc$f, data = d, id = .id, family = cc$fam, corstr = "fixed", R = unname(ref$corr),
             scale.fix = TRUE, scale.value = ref$phi,
             control = gee_control(epsilon = 1e-12, maxit = 200))
  list(ref = ref, fit = fit, K = length(ref$ids), p = length(coef(ref)))
}
