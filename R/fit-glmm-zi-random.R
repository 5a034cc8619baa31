# Matrix-level fitter for a zero-inflated or hurdle GLMM with random
# effects in both parts and one grouping factor (src/engines/agq/agq-zero-re.h): Laplace
# (nAGQ = 1) or adaptive Gauss-Hermite quadrature over the q = qc + qz
# random effects of a cluster jointly. With kind "zi_both_re" or
# "hurdle_both_re" the dispersion part has random effects too (`Zd`, its
# terms' sizes `cov_blocks_d`), after the zero part's: q = qc + qz + qd.
#   theta = (beta [p], Lambda's free entries [nl], gamma [pz], delta [pd]),
# the order of glmm_zi_fit(), so the fitted object is read the same way.
# Lambda is lower triangular over (count part's effects, zero part's
# effects); `correlated = FALSE` keeps it block-diagonal over the two parts
# (glmmTMB's model: separate terms), TRUE makes it full (GLMMadaptive's
# model: one unstructured covariance over both parts).
glmm_zi_random_fit <- function(X, y, Zc, Zz, group, family, kind, Xz, Xd = NULL,
                          weights = NULL, offset = NULL, offz = NULL, offd = NULL,
                          nAGQ = 1L, cov_blocks_c = ncol(Zc), cov_blocks_z = ncol(Zz),
                          correlated = FALSE, control = glmm_control(), start = NULL,
                          penalty = NULL, Zd = NULL, cov_blocks_d = NULL) {
  n <- nrow(X)
  storage.mode(X) <- "double"; storage.mode(Zc) <- "double"; storage.mode(Zz) <- "double"
  if (is.null(weights)) weights <- rep(1, n)
  if (is.null(offset)) offset <- rep(0, n)
  if (is.null(offz)) offz <- rep(0, n)
  if (is.null(offd)) offd <- rep(0, n)
  # A zero part beside a random dispersion (kinds zi_disp_re and
  # hurdle_disp_re): the engine's second random predictor is the log
  # dispersion (Xz's slot holds the dispersion's design) and its third the
  # zero part's logit (Xd's slot holds the zero part's design, none for a
  # zero-truncated model).
  swap <- kind %in% c("zi_disp_re", "hurdle_disp_re")
  disp <- has_dispersion(family) && kind != "disp_re" && !swap
  if (disp && is.null(Xd)) Xd <- matrix(1, n, 1L, dimnames = list(NULL, "(Intercept)"))
  if (!disp && !swap) Xd <- NULL
  for (M in list(Xz, Xd)) if (!is.null(M) && !all_finite(M))
    stop("the zero-inflation or dispersion model matrix contains NA, NaN or infinite values",
         call. = FALSE)
  su <- zi_random_engine_setup(X, y, Zc, Zz, group, family, kind, Xz, Xd, weights, offset, offz, offd,
                          cov_blocks_c, cov_blocks_z, correlated, control$nthreads, Zd,
                          cov_blocks_d)
  nAGQ <- check_nAGQ(nAGQ, su$q)
  cl <- su$cl; pat <- su$pat; blocks <- su$blocks; rz <- su$rz; rp <- su$rp; eng <- su$eng
  qc <- ncol(Zc); qz <- ncol(Zz)
  p <- ncol(X); pz <- ncol(Xz); pd <- if (is.null(Xd)) 0L else ncol(Xd)
  nb <- p + length(pat$row)
  Xzs <- su$Xzs; XdS <- su$XdS
  cpp_two_part_set_nagq(eng, nAGQ)
  cpp_two_part_set_nagq(eng, 1L)
  # (swapped: the start and the names in the usual order, zero part then
  # dispersion, and then in the engine's)
  swapped <- c(seq_len(nb), nb + pd + seq_len(pz), nb + seq_len(pd))
  st <- if (!swap) zi_start_values(NULL, rp$X, y, weights, offset, family,
                                   sub("_both_re$", "", kind), Xzs, offz, pd, pat, XdS, offd)
        else zi_start_values(NULL, rp$X, y, weights, offset, family, sub("_disp_re$", "", kind),
                             if (pd) XdS, offd, pz, pat, Xzs, offz)[swapped]
  if (!is.null(start))
    st <- zi_search_start(start, length(st), rp$to_star,
                          function(t) cpp_two_part_eval(eng, t, FALSE)$loglik)
  # No Laplace stage before quadrature: the two-part likelihood is not
  # concave in (eta, logit pi), and in clusters of zeros the Laplace
  # approximation can exceed the probability one (a positive cluster
  # log-likelihood) and lead the search away from the quadrature optimum.
  # A pilot stage on 3 points per effect instead (3^q nodes, 9 for two
  # intercepts against nAGQ^q = 121 for nAGQ = 11), whose optimum the full
  # rule refines from the pilot's BFGS matrix (kept only if the full rule
  # finds it better than the start); Newton-BFGS runs that stop short get
  # fresh curvatures before nlminb. Salamanders, ZIP and hurdle Poisson
  # with correlated intercepts, nAGQ = 11: 57-58 evaluations of the full
  # rule before, 13-16 now, the same logLik to 1e-11.
  pen <- if (swap) aux_penalty(penalty, p, pd, nb + pz + seq_len(pd), rp$Tx, rp$Td)
         else aux_penalty(penalty, p, pz, nb + seq_len(pz), rp$Tx, rp$Tz)
  names_st <- if (!swap) zi_param_names(X, pat, Xz, Xd)
              else structure(zi_param_names(X, pat, Xd, Xz)[swapped],
                             sizes = c(p = p, nl = length(pat$row), pz = pz, pd = pd))
  fit <- zi_engine_fit(penalized_engine(eng, pen), st, rp, pat, names_st, nAGQ, control,
                       laplace_stage = nAGQ > 3L, pilot = 3L, retries = 2L,
                       # (a random dispersion has no limit judged, as without
                       # a zero part)
                       dlim = aux_dispersion_limit(family, if (!swap) Xd, offd,
                                                   nb + pz + seq_len(pd), length(st), rp$Xd,
                                                   rp$Td, limit_zero_rows(y, kind)),
                       summaries = function(theta, theta_s) {
                         s <- cpp_two_part_summaries(eng, theta_s)
                         if (is.null(rz)) s else rotate_summaries(s, rp$rotation(theta, theta_s))
                       })
  # The same non-concavity with independent parts: a cluster's Laplace
  # probability above one (its log-likelihood, constants included, above
  # 0) is a sign that the approximation has failed there.
  over <- if (nAGQ == 1L) sum(fit$modes$loglik > 1e-8)
  if (isTRUE(over > 0))
    fit$warn <- c(fit$warn, sprintf("the Laplace approximation gives %d cluster(s) a probability above one (the two-part likelihood is not concave there); refit with nAGQ > 1 (adaptive quadrature)",
                                    over))
  # A Laplace fit that did not converge or lost a cluster's mode: the same
  # failure without a cluster above one (Salamanders ZINB mined + (1 | site),
  # zi ~ mined + (1 | site): false convergence with a gradient of 7e4 by
  # Laplace, where nAGQ = 7 converges cleanly; glmmTMB fails there too).
  trouble <- nAGQ == 1L && !isTRUE(over > 0) &&
    (fit$run$opt$convergence != 0L || fit$modes$newton_failures > 0L ||
       any(grepl("^doubtful convergence", fit$warn)))
  if (trouble)
    fit$warn <- c(fit$warn, "with random effects in the zero part the Laplace approximation can fail (the two-part likelihood is not concave); refit with nAGQ > 1 (adaptive quadrature, e.g. nAGQ = 7)")
  res <- zi_fit_result(fit, fit$warn, kind, cl, pat, blocks,
                       list(qc = qc, qz = qz, correlated = correlated,
                            penalty = aux_penalty_record(penalty, fit$final)), FALSE, control)
  res$optinfo <- zi_note_logseries(res$optinfo, kind, family, X, offset, Xd, offd, res$theta,
                                   nb + pz + seq_len(pd))
  res$engine <- "agq_zero_re"
  res
}

# The (beta, Lambda) block of the reparameterization: X centred and scaled
# (beta* = T beta), Lambda's entries unchanged.
zi_random_base_reparam <- function(X, nl) {
  tx <- design_transform(X)
  p <- ncol(X)
  Ti <- backsolve(tx$T, diag(1, p))
  ib <- seq_len(p)
  map <- function(theta, T) { theta[ib] <- drop(T %*% theta[ib]); theta }
  list(identity = tx$identity, X = tx$M, Tx = tx$T,
       to_star = function(theta) map(theta, tx$T),
       from_star = function(theta) map(theta, Ti),
       jacobian = function(theta, free = rep(TRUE, length(theta))) {
         J <- diag(1, length(theta))
         J[ib, ib] <- tx$T
         J[, !free] <- 0
         J
       },
       typical = c(1 / tx$scale, rep(1, nl)))
}

# The reparameterization of glmm_reparam() over both parts' random-effect
# designs, Z = (Zc, Zz) = Z* Tz with each part's columns centred by its own
# intercept (z_blocks) and scaled, when a slope lies more than 100 standard
# deviations from zero (its map then goes by the LQ factorization,
# glmm_reparam()); otherwise NULL and the fit runs on the user's Z as
# before (bitwise; a slope in units far from 1 but near zero, cover * 1e4
# or * 1e-4, reached the optimum there). Salamanders, zi ~ c2 + (c2 | site)
# with c2 = cover * 1e-6 - 5 stopped with false convergence 1.8 below the
# optimum found with cover.
zi_random_z_reparam <- function(X, Zc, Zz, pat, cov_blocks, z_blocks, p) {
  if (ncol(Zc) + ncol(Zz) < 2L) return(NULL)
  rz <- glmm_reparam(X, cbind(Zc, Zz), pat, cov_blocks, p, FALSE, z_blocks = z_blocks)
  if (!rz$far) return(NULL)
  rz
}

# The engine of glmm_zi_random_fit() on its search scale: the designs centred and
# scaled (aux_reparam()), Z rotated where a random slope lies far from zero
# (zi_random_z_reparam()); `rp` maps the user's parameters to the engine's
# (to_star(), jacobian()). Also rebuilds a fit's engine exactly for its
# profile and robust covariances (dispre_agq_engine()): at a finite rule
# the quadrature depends on the basis of the random effects. `Zd`: the
# dispersion's random-effect design after the zero part's (kinds
# zi_both_re, hurdle_both_re), or NULL.
zi_random_engine_setup <- function(X, y, Zc, Zz, group, family, kind, Xz, Xd, weights, offset, offz,
                              offd, cov_blocks_c, cov_blocks_z, correlated, nthreads,
                              Zd = NULL, cov_blocks_d = NULL) {
  n <- nrow(X)
  cl <- cluster_index(group, "group")
  qd <- if (is.null(Zd)) 0L else ncol(Zd)
  # (the engine's second design holds the zero part's columns, then the
  # dispersion's; nsecond says where they split)
  nsecond <- if (qd) ncol(Zz) else -1L
  if (qd) Zz <- cbind(Zz, Zd)
  qc <- ncol(Zc); qz <- ncol(Zz); q <- qc + qz
  blocks <- if (correlated) q else c(cov_blocks_c, cov_blocks_z, if (qd) cov_blocks_d)
  pat <- block_pattern(blocks)
  check_full_rank(X)
  # (kind disp_re: the dispersion's design is in the zero part's slot;
  # zi_disp_re and hurdle_disp_re: the two slots swapped, glmm_zi_random_fit())
  if (kind == "disp_re") check_aux_rank(NULL, Xz)
  else if (kind %in% c("zi_disp_re", "hurdle_disp_re")) check_aux_rank(Xd, Xz)
  else check_aux_rank(Xz, Xd)
  p <- ncol(X); pd <- if (is.null(Xd)) 0L else ncol(Xd)
  nl <- length(pat$row)
  nb <- p + nl
  # The search runs on centred and scaled fixed-effect designs of all three
  # parts (reparam-zi.R). Lambda is left as it is, unless a random slope of
  # either part lies far from zero (zi_random_z_reparam()).
  rz <- zi_random_z_reparam(X, Zc, Zz, pat, blocks, c(cov_blocks_c, cov_blocks_z, cov_blocks_d), p)
  rp <- aux_reparam(rz %||% zi_random_base_reparam(X, nl), nb, Xz, Xd, X)
  if (!is.null(rz)) {
    Zc <- rz$Z[, seq_len(qc), drop = FALSE]
    Zz <- rz$Z[, qc + seq_len(qz), drop = FALSE]
  }
  XdS <- if (pd) rp$Xd else matrix(0, n, 0L)
  storage.mode(XdS) <- "double"
  Xzs <- rp$Xz
  storage.mode(Xzs) <- "double"
  eng <- cpp_two_part_new(rp$X, Zc, Zz, Xzs, XdS, as.numeric(y), as.numeric(weights),
                      cbind(as.numeric(offset), as.numeric(offz), as.numeric(offd)),
                      cl$index, length(cl$levels), pat$row - 1L, pat$col - 1L,
                      family$family_code, family$link_code,
                      aux_kind_code(kind, family), 1L, nthreads, as.integer(nsecond))
  list(eng = eng, rp = rp, rz = rz, cl = cl, pat = pat, blocks = blocks, q = q, Xzs = Xzs,
       XdS = XdS)
}
