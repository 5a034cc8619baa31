# Cluster-robust (sandwich) covariances of a GLMM fitted by maximum
# likelihood of its marginal log-likelihood (adaptive quadrature or Laplace,
# one grouping factor), built from each cluster's contribution to the score.
#
# theta-hat solves sum_i psi_i(theta) = 0, psi_i the gradient of cluster i's
# marginal log-likelihood (exact for the approximation the fit used: the
# engine's analytic gradient, cluster by cluster). As an M-estimator its
# covariance is A^-1 B A^-1 with A the observed information (the fit's
# model-based cov_theta inverted) and B = sum_i psi_i psi_i'. All free
# parameters enter, the variance parameters too, since in a GLMM their
# estimation moves the fixed effects; the fixed-effect block is reported, and
# it does not depend on how the variance parameters are parameterized.
# Parameters on a boundary (a variance estimated as zero) are held there.
#
# Engines that return only each cluster's log-likelihood (bridge and
# ordinal random intercepts, nested quadrature; vcov-robust-engines.R) have
# their scores by central differences of it.
#
# The small-sample types work in the same score space, with A_i the
# cluster's own information (its negative Hessian, by central differences of
# the per-cluster scores: 2 x parameters evaluations of the engine; or by
# second differences of the log-likelihoods):
#   CR1: CR0 times G / (G - 1);
#   CR2: each psi_i replaced by A^(1/2) (I - L_i)^(-1/2) A^(-1/2) psi_i with
#        L_i = A^(-1/2) A_i A^(-1/2), the cluster's leverage; with a correct
#        working model E[psi_i psi_i'] is about A_i - A_i A^-1 A_i at the
#        estimate, which the factor undoes (Kauermann and Carroll 2001 for
#        GEE, where L_i is the cluster's block of the hat matrix);
#   CR3: sum_i d_i d_i' with d_i = (A - A_i)^-1 psi_i, one Newton step from
#        theta-hat with cluster i left out (the jackknife's form; Mancl and
#        DeRouen 2001 for GEE), i.e. A^-1 A^(1/2) (I - L_i)^-1 A^(-1/2) psi_i.
# The leverages are taken from the positive semi-definite parts of the
# L_i (score_cluster_vcov()): a cluster's log-likelihood need not be concave
# in the variance parameters, and its negative part would push other
# clusters' leverages past 1. When every A_i is positive semi-definite, the
# forms above hold exactly.

# The coordinates of a sandwich for `fit` with parameters `th`, their
# model-based covariance `V` and `jac` (d theta / d th, or NULL): list(th,
# free (the free positions in th), V, se, jac, Ts). Where the fit kept its
# covariance on the optimizer's standardized scale (cov_star: theta =
# theta(theta*), V = T V* T' over the free parameters) and `star_ok` (the
# scores come in theta, from the engine or by differences of the value
# along T's columns, not through a reparameterized engine's parameters),
# the sandwich is formed there,
# in theta*, and carried back by T (Ts, and as `jac`): in the user's theta
# a slope far from zero (calendar years, x * 1e-6 - 5) makes V's condition
# 1e24, and CR2 moved by 0.1% with the year's origin or the information
# could not be inverted. `star` (T, V, index) is that covariance: the
# fit's own (cov_star_of()) where th is fit$theta (`jac` NULL), or one
# given in coordinates of th (a structured fit's kept curvature's, whose
# map to the covariance entries `jac` then starts from them).
robust_frame <- function(fit, th, V, jac, star_ok, star = NULL) {
  free <- which(!is.na(diag(V)))
  p <- length(fit$coefficients)
  # the parameters the fixed effects depend on must all be free
  needed <- if (is.null(jac)) seq_len(p) else
    which(colSums(abs(jac[seq_len(p), , drop = FALSE])) > 0)
  if (!all(needed %in% free))
    stop("vcov(): the fixed effects' model-based covariance is not available (",
         "the information matrix is singular), so no sandwich can be formed", call. = FALSE)
  Ts <- NULL
  if (is.null(star) && is.null(jac)) star <- cov_star_of(fit)
  if (!is.null(star) && star_ok &&
      identical(as.integer(star$index), as.integer(free)) && nrow(star$T) == length(free) &&
      star_in_theta(star, V[free, free, drop = FALSE])) {
    Ts <- star$T
    V <- matrix(0, length(th), length(th))
    V[free, free] <- star$V
    Tf <- diag(1, length(th))
    Tf[free, free] <- Ts
    jac <- if (is.null(jac)) Tf else jac %*% Tf
  }
  list(th = th, free = free, V = V, se = sqrt(diag(V)[free]), jac = jac, Ts = Ts)
}

# Whether a kept standardized covariance (T, V*) is of fit$theta's
# parameters, V = T V* T' (`V` over the free ones): a cumulative link
# random-intercept fit keeps it in its own psi = (thresholds, beta, log
# sigma), another order and scale, which must not be read as theta's.
star_in_theta <- function(star, V) {
  d <- diag(V)
  ds <- rowSums((star$T %*% star$V) * star$T)
  all(is.finite(ds)) && all(abs(ds - d) <= 1e-6 * abs(d))
}

# The bread of the sandwich: the information, V inverted over the free
# parameters of robust_frame()'s `fr`.
frame_information <- function(fr) {
  tryCatch(solve(fr$V[fr$free, fr$free, drop = FALSE]), error = function(e)
    stop("vcov(): the information matrix of the fit cannot be inverted (",
         conditionMessage(e), ")", call. = FALSE))
}

# Each user cluster's score and the information of `fit` on its free
# parameters: list(S (G x P), A (P x P), free (their positions in
# fit$theta, or in a reparameterized engine's phi), G, levels, npar
# (length of theta or phi), jac (d theta / d phi, or NULL), hessians (the
# G clusters' A_i as a P x P x G array, when `hessians`, or as k x k x G
# in other coordinates with hessian_map (k x P): A_i = map' H_i map)).
cluster_score_parts <- function(fit, cluster, hessians = FALSE) {
  cl <- resolve_vcov_cluster(fit, cluster)
  # kept by the fit from the evaluations of its Hessian (cluster-curvature.R)
  kept <- curvature_score_parts(fit, cl, hessians)
  if (!is.null(kept)) return(kept)
  eng <- robust_score_engine(fit)
  on.exit(eng$free(), add = TRUE)
  if (is.null(eng$scores) && is.null(eng$split) && is.null(eng$loglik))
    require_capability(fit, "robust_vcov")
  # A reparameterized engine (structured covariances) works in eng$par's
  # phi; `to_engine` maps it to the engine's theta, `jac` is d theta / d phi
  # (theta: fit$theta; NULL where phi is fit$theta) and `engine_jac` d
  # theta_engine / d phi where the engine's theta is not fit$theta (a fit
  # whose quadrature ran on its own basis, fit_basis_engine()): the scores
  # are carried by it, and the clusters' informations are taken in the
  # engine's parameters.
  par <- eng$par
  th <- if (is.null(par)) as.numeric(fit$theta) else par$theta
  V <- if (is.null(par)) fit$cov_theta else par$V
  to_engine <- if (is.null(par)) identity else par$to_engine
  jac <- if (!is.null(par$jac)) par$jac(th)
  ejac <- if (!is.null(par$engine_jac)) par$engine_jac(th) else jac
  G <- length(cl$levels)
  # The engine's clusters (fit$group) each lie in one user cluster (read
  # from rows of positive weight: the others may carry a stand-in code);
  # engines of several terms are split by user cluster
  # (vcov-robust-engines.R).
  src <- eng
  if (!is.null(eng$split)) {
    src <- eng$split(cl$code, G, cl$levels)
    to_user <- seq_len(G)
  } else {
    w <- fit$prior.weights
    rows <- if (is.null(w)) seq_along(fit$group) else which(w > 0)
    to_user <- rep(1L, length(fit$group_levels))
    to_user[fit$group[rows]] <- cl$code[rows]
  }
  fr <- robust_frame(fit, th, V, jac, star_ok = !is.null(src$scores) || is.null(par))
  free <- fr$free
  Ts <- fr$Ts
  jac <- fr$jac
  V <- fr$V
  A <- frame_information(fr)
  se <- fr$se
  # the clusters' informations the fit kept where its engine's scores are
  # not the value's (nested quadrature) or come from the engine at no cost
  # (a cumulative link random intercept), in the same coordinates
  kc <- if (hessians && is.null(par)) kept_curvature(fit, cl, fr)
  ki <- if (!is.null(kc)) kept_informations(kc, G)
  info_parts <- NULL
  if (!is.null(src$curvature)) {
    # Engines that give each cluster's exact score and Hessian in one pass
    # (the cumulative link random-intercept engine), in fit$theta: nothing
    # by differences. The informations stay in those coordinates with their
    # map into the sandwich's.
    cv <- src$curvature(th, hessians && is.null(ki))
    D <- if (is.null(Ts)) diag(1, length(free)) else Ts
    S <- rowsum(cv$scores[, free, drop = FALSE] %*% D, to_user, reorder = TRUE)
    if (!is.null(Ts)) check_scores_vanish(S, A, se)
    info_parts <- function() {
      H <- sum_informations(cv$informations[free, free, , drop = FALSE], to_user, G)
      if (is.null(H))
        stop("vcov(): a cluster has no observation of positive weight", call. = FALSE)
      list(hessians = H, hessian_map = D)
    }
  } else if (!is.null(src$scores)) {
    # The engine runs on the fit's scaled fixed-effect design
    # (profile_engine()): its scores in theta* = (T beta, ...) map back by
    # the chain rule.
    # in the engine's parameters (and, reparameterized, carried by the
    # Jacobian at the estimate)
    score_at <- function(t) gradient_unstar(src$scores(theta_star(t, eng$Tx)), eng$Tx)
    th_e <- to_engine(th)
    D <- if (is.null(ejac)) diag(1, length(th)) else ejac
    D <- D[, free, drop = FALSE]
    if (!is.null(Ts)) D <- D %*% Ts
    S <- rowsum(score_at(th_e) %*% D, to_user, reorder = TRUE)
    if (!is.null(Ts) || !is.null(par$engine_jac)) check_scores_vanish(S, A, se)
    info <- function() cluster_informations(score_at, th_e, D, to_user, G, se)
  } else {
    # Engines that give each cluster's log-likelihood only: its gradient
    # and Hessian by differences, in the user's parameters with steps in
    # units of their standard errors, summed into the user's clusters; with
    # `engine_jac`, both in the engine's parameters, the scores carried back
    # by the chain rule and the informations as D' A_i D
    # (cluster_informations()): differences in the user's coefficients of
    # a covariate far from zero (x + 2010) moved a cumulative fit's CR0 by 1%.
    loglik_at <- function(t) rowsum(src$loglik(theta_star(to_engine(t), eng$Tx)), to_user,
                                    reorder = TRUE)
    if (!is.null(Ts)) {
      # along the standardized coordinates, steps in their standard errors:
      # steps in the user's ones, each alone, moved the linear predictor
      # by whole units where the intercept and a slope of x + 50 are
      # correlated near 1 (nested quadrature: CR0 6% off, scores not
      # summing to zero)
      star_at <- function(t) loglik_at(replace(th, free, th[free] + drop(Ts %*% t)))
      k <- length(free)
      S <- fd_jacobian(star_at, numeric(k), 1e-4 * se)
      check_scores_vanish(S, A, se)
      info <- function() cluster_informations_by_values(star_at, numeric(k), seq_len(k), G, se)
    } else if (is.null(par$engine_jac)) {
      S <- fd_jacobian(function(t) loglik_at(replace(th, free, t)), th[free], 1e-4 * se)
      info <- function() cluster_informations_by_values(loglik_at, th, free, G, se)
    } else {
      D <- ejac[, free, drop = FALSE]
      fe <- which(rowSums(abs(D)) > 0)
      D <- D[fe, , drop = FALSE]
      se_e <- sqrt(pmax(diag(D %*% V[free, free, drop = FALSE] %*% t(D)), 0))
      th_e <- to_engine(th)
      at_e <- function(te) rowsum(src$loglik(theta_star(te, eng$Tx)), to_user, reorder = TRUE)
      S <- fd_jacobian(function(t) at_e(replace(th_e, fe, t)), th_e[fe], 1e-4 * se_e) %*% D
      info <- function() {
        He <- cluster_informations_by_values(at_e, th_e, fe, G, se_e)
        array(apply(He, 3L, function(h) crossprod(D, h %*% D)), c(ncol(D), ncol(D), G))
      }
    }
  }
  out <- list(S = S, A = A, free = free, G = G,
              levels = cl$levels, npar = length(th), jac = jac)
  rownames(out$S) <- cl$levels
  if (hessians)
    out <- c(out, ki %||% (if (!is.null(info_parts)) info_parts()) %||% list(hessians = info()))
  out
}

# The scores of an engine rebuilt on another basis or scale must sum to
# about 0 at the estimates (the fit's maximum): one Newton step from there,
# A^-1 sum_i psi_i, must move no parameter by a tenth of its standard error
# `se`. Where the map to that basis loses the digits of the estimates (a
# singular fit of a slope at x * 1e-6 - 5: Lambda's entries near 1e6 and a
# correlation at 1), they did not, and the sandwich had standard errors of
# 1e8; an error is the honest answer there.
check_scores_vanish <- function(S, A, se) {
  step <- tryCatch(solve(A, colSums(S)), error = function(e) rep(Inf, ncol(S)))
  worst <- max(abs(step) / se)
  if (!is.finite(worst) || worst > 0.1)
    stop(sprintf(paste0(
      "vcov(): the cluster scores of the rebuilt approximation do not sum to zero at the ",
      "estimates (a Newton step from them would move a parameter by %.3g standard errors): the ",
      "fit's approximation could not be rebuilt accurately, so no cluster-robust covariance; ",
      "centre or rescale the covariates of the random effects"), worst), call. = FALSE)
  invisible()
}

# Each user cluster's information (minus the Hessian of its log-likelihood)
# on the free parameters from the clusters' log-likelihoods `loglik_at` (a
# function of theta giving G values) by second differences, steps of a
# thousandth of each parameter's standard error `se`: a P x P x G array.
# 2 P^2 + 1 evaluations (the central differences of differenced scores
# would take 4 P^2, with more rounding).
cluster_informations_by_values <- function(loglik_at, th, free, G, se) {
  P <- length(free)
  h <- 1e-3 * se
  at <- function(d) {
    t <- th
    t[free] <- t[free] + d
    loglik_at(t)
  }
  e <- function(k, s) replace(numeric(P), k, s * h[k])
  f0 <- at(numeric(P))
  H <- array(0, c(P, P, G))
  for (k in seq_len(P)) {
    H[k, k, ] <- -(at(e(k, 1)) - 2 * f0 + at(e(k, -1))) / h[k]^2
    for (j in seq_len(k - 1L)) {
      v <- -(at(e(k, 1) + e(j, 1)) - at(e(k, 1) + e(j, -1)) - at(e(k, -1) + e(j, 1)) +
               at(e(k, -1) + e(j, -1))) / (4 * h[k] * h[j])
      H[k, j, ] <- v
      H[j, k, ] <- v
    }
  }
  H
}

# Each user cluster's information -d psi_i / d theta on the free parameters,
# by central differences of the per-cluster scores (engine clusters summed
# into user clusters): a P x P x G array of the G clusters' matrices,
# symmetrized. The free parameters are the columns of `D` (the engine's
# parameters x the free ones: columns of the identity, or the Jacobian of a
# reparameterized engine at the estimate, so that its clusters' information
# is D' A_i D, the same as in the engine's own parameters: a cluster's
# Hessian is not invariant under a nonlinear change of parameters, and
# diag(1 + x | g) on log standard deviations gave a CR2 6% away from
# (1 + x || g)'s). Each step is a thousandth of the parameter's standard
# error `se`, so the result does not depend on the units or centring of
# the covariates.
cluster_informations <- function(score_at, th, D, to_user, G, se) {
  P <- ncol(D)
  H <- array(0, c(P, P, G))
  for (k in seq_len(P)) {
    h <- 1e-3 * se[k]
    d <- (score_at(th + h * D[, k]) - score_at(th - h * D[, k])) %*% D / (2 * h)
    H[, k, ] <- -t(rowsum(d, to_user, reorder = TRUE))
  }
  (H + aperm(H, c(2L, 1L, 3L))) / 2
}

# The cluster-robust covariance of the fixed effects of `fit` (type "CR0",
# "CR1", "CR2" or "CR3"), from cluster_score_parts(); with `df`, the
# Satterthwaite degrees of freedom of each as attribute "df".
score_cluster_vcov <- function(fit, type, cluster, df = FALSE) {
  s <- score_cluster_sandwich(fit, type, cluster, df)
  p <- length(fit$coefficients)
  V <- s$V[seq_len(p), seq_len(p), drop = FALSE]
  dimnames(V) <- list(names(fit$coefficients), names(fit$coefficients))
  if (df) attr(V, "df") <- stats::setNames(s$df(diag(1, p, length(fit$theta))),
                                           names(fit$coefficients))
  V
}

# The cluster-robust covariance of all the parameters of `fit` (fit$theta's
# order; rows and columns of parameters held on a boundary are zero), and,
# with `df`, a function giving the Satterthwaite degrees of freedom of the
# linear combinations C theta (C a K x length(theta) matrix).
score_cluster_sandwich <- function(fit, type, cluster, df = FALSE) {
  parts <- cluster_score_parts(fit, cluster, hessians = df || type %in% c("CR2", "CR3"))
  G <- parts$G
  if (G < 2L) stop("vcov(): a cluster-robust covariance needs at least 2 clusters", call. = FALSE)
  # Whitened by A (symmetric roots): u_i = A^(-1/2) psi_i, and the clusters'
  # informations W_i = A^(-1/2) A_i A^(-1/2), which sum to I. Everything
  # below changes by an orthogonal matrix under a change of parameters, so
  # the fixed effects' block does not depend on units or coding.
  e <- eigen(parts$A, symmetric = TRUE)
  if (min(e$values) <= 0)
    stop("vcov(): the information matrix of the fit is not positive definite", call. = FALSE)
  Aih <- eigen_apply(e, function(l) 1 / sqrt(l))
  U <- parts$S %*% Aih
  Th <- L <- adj <- NULL
  if (df || type %in% c("CR2", "CR3")) {
    # The leverages from the positive semi-definite parts P_i of the W_i,
    # L_i = T^(-1/2) P_i T^(-1/2), T = sum P_i: a cluster's log-likelihood
    # need not be concave in the variance parameters, and its negative part
    # would push other clusters' leverages past 1. Where every W_i is
    # positive semi-definite, T = I and L_i = W_i. The adjustments are
    # adj_i = (I - L_i)^(-power) and the scores become
    # T^(1/2) adj_i T^(-1/2) u_i, all in one pass over the clusters (C++).
    # The informations may come in other coordinates with their map into
    # the sandwich's (parts$hessian_map), folded into the whitening.
    M <- if (is.null(parts$hessian_map)) Aih else parts$hessian_map %*% Aih
    power <- switch(type, CR2 = 1 / 2, CR3 = 1, 0)
    lev <- cpp_cluster_leverage(parts$hessians, M, U, power)
    if (!lev$finite) stop("vcov(): a cluster's information matrix is not finite", call. = FALSE)
    if (lev$one > 0L)
      stop(sprintf("vcov(type = \"%s\"): cluster %s alone determines a parameter (leverage 1); use type = \"CR0\" or \"CR1\"",
                   type, sQuote(parts$levels[lev$one], FALSE)), call. = FALSE)
    L <- lev$L
    adj <- lev$adj
    Th <- lev$Th
    U <- lev$U
  }
  D <- U %*% Aih
  Vf <- crossprod(D)
  if (type == "CR1") Vf <- Vf * G / (G - 1)
  free <- parts$free
  V <- matrix(0, parts$npar, parts$npar)
  V[free, free] <- Vf
  # in fit$theta's coordinates (a reparameterized engine's phi carried by
  # its Jacobian)
  J <- parts$jac
  if (!is.null(J)) V <- J %*% V %*% t(J)
  cross <- function(C) {
    C <- matrix(C, ncol = length(fit$theta))
    if (!is.null(J)) C <- C %*% J
    parts <- lapply(seq_len(nrow(C)), function(k) score_w_parts(L, adj, Th %*% Aih %*% C[k, free]))
    robust_cross(parts, score_w_cross)
  }
  list(V = V, cross = if (!is.null(L)) cross, df = if (df) function(C) robust_df(cross(C)))
}

# The working-model covariances behind the Satterthwaite degrees of freedom
# in score space, as lmm_w_cross() in residual space: whitened (leverages
# L_i summing to I, adjustments adj_i = (I - L_i)^-power), a combination's
# term is w_i = a_i' z_i with a_i = adj_i ch (ch the combination carried
# into whitened coordinates) and z_i the cluster's fitted whitened score,
# which near the estimate is sum_k ([i = k] I - L_i) xi_k with
# Var(xi_k) = L_k under the working model. So two combinations' terms have
# Cov(w_i(c), w_k(d)) = [i = k] a_i(c)' L_i a_i(d) - (L_i a_i(c))'(L_k a_k(d)).
score_w_parts <- function(L, adj, ch) {
  a <- batch_matvec(adj, matrix(ch, dim(adj)[3L], length(ch), byrow = TRUE))
  list(a = a, B = batch_matvec(L, a))
}

score_w_cross <- function(a, b) {
  Om <- -tcrossprod(a$B, b$B)
  diag(Om) <- diag(Om) + rowSums(a$a * b$B)
  Om
}

# The rows M_i v_i for slices M_i and the rows v_i of v (G x P).
batch_matvec <- function(M, v) {
  P <- dim(M)[1L]
  w <- matrix(0, nrow(v), P)
  for (j in seq_len(P)) for (k in seq_len(P)) w[, j] <- w[, j] + M[j, k, ] * v[, k]
  w
}

# Per-cluster scores of the fixed effects with the variance parameters'
# estimation projected out (the efficient scores Ib Jb A^-1 psi_i, Jb the
# fixed effects' rows of d theta / d phi, Ib = (Jb A^-1 Jb')^-1), so that
# with bread = G Jb A^-1 Jb'
# the sandwich package's sandwich()/vcovCL() give score_cluster_vcov()'s CR0.
score_cluster_estfun <- function(fit, cluster) {
  parts <- cluster_score_parts(fit, cluster)
  Ainv <- solve(parts$A)
  # the fixed effects' rows of d theta / d phi on the free parameters (a
  # reparameterized engine's phi need not hold them as its first entries)
  p <- length(fit$coefficients)
  Jb <- if (is.null(parts$jac)) diag(1, p, parts$npar) else parts$jac[seq_len(p), , drop = FALSE]
  Jb <- Jb[, parts$free, drop = FALSE]
  AJ <- Ainv %*% t(Jb)
  ef <- parts$S %*% AJ %*% solve(Jb %*% AJ)
  dimnames(ef) <- list(parts$levels, names(fit$coefficients))
  ef
}
