# Fixtures for the sparse Laplace engine tests: a direct engine on a
# formula (no optimizer), simulated nested data, and the logLik check used
# against lme4 ("same optimum, or ours higher").

# Engine for formula f on data d, at the model-data stage of glmm().
sparse_engine_for <- function(f, d, family, covariance = NULL) {
  family <- glmmgee:::resolve_family(family)
  mf <- stats::model.frame(reformulas::subbars(f), d)
  re <- glmmgee:::sparse_re_terms(f, mf, covariance)
  X <- stats::model.matrix(reformulas::nobars(f), mf)
  resp <- glmmgee:::model_response(mf, family)
  eng <- glmmgee:::cpp_sparse_new(X, re$Z, as.numeric(resp$y), as.numeric(resp$weights),
                                  rep(0, nrow(X)), re$lam_row - 1L, re$lam_col - 1L,
                                  re$lam_k - 1L, re$ntheta, family$family_code,
                                  family$link_code)
  list(eng = eng, re = re, X = X, y = resp$y, w = resp$weights, family = family)
}

sparse_ll <- function(e, th) glmmgee:::cpp_sparse_eval(e$eng, th, FALSE)$loglik

central_grad <- function(fn, th, h = 1e-5) {
  vapply(seq_along(th), function(j) {
    e <- replace(numeric(length(th)), j, h)
    (fn(th + e) - fn(th - e)) / (2 * h)
  }, 1)
}

# Patients in wards in hospitals, binary outcome, random intercepts per
# hospital and ward and a random slope of x per hospital.
sim_hospital_wards <- function() {
  cached("sim_hospital_wards", {
    set.seed(2024)
    H <- 30; Wd <- 6; m <- 8
    d <- data.frame(hospital = factor(rep(seq_len(H), each = Wd * m)),
                    ward = factor(rep(rep(seq_len(Wd), each = m), H)))
    d$x <- rnorm(nrow(d))
    bh <- rnorm(H, sd = 0.8); sh <- rnorm(H, sd = 0.4)
    hw <- interaction(d$hospital, d$ward)
    bw <- rnorm(nlevels(hw), sd = 0.5)
    eta <- -0.4 + 0.7 * d$x + bh[d$hospital] + sh[d$hospital] * d$x + bw[hw]
    d$y <- rbinom(nrow(d), 1, plogis(eta))
    d
  })
}

# The bars of formula f as sparse_re_terms() hands them on.
frame_bars_of <- function(f, mf) glmmgee:::frame_bars(reformulas::findbars(f), mf)
