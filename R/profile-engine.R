# The likelihood surface of a fitted glmm, for profiling: the engine the fit
# came from, rebuilt from the stored data, and the parameters that can be
# profiled (fixed effects, random-effect standard deviations, the residual
# standard deviation of gaussian models), each with a map from
# (value, free parameters) to the engine's parameter vector theta.

# The engine of `fit`: a function of theta giving list(loglik, gradient),
# (one grouping factor) `scores`, a function of theta giving each cluster's
# gradient (clusters x parameters, cluster_score_vcov()),
# the lower bounds of theta, `free()` releasing it and `Tx`. One grouping
# factor: the AGQ engine at the fit's nAGQ (with random effects in the zero
# part, the engine of both parts' random effects, src/engines/agq/agq-zero-re.h); several
# terms: the sparse Laplace engine (the random-effects design rebuilt from
# the model frame, a known covariance the one stored in the fit; with
# random effects in the zero part the two-part sparse engine,
# src/engines/laplace/laplace-zero-re.h). Zero-inflated, hurdle and dispersion-formula fits get
# their auxiliary predictors (profile_aux_inputs()); theta is the vector the
# fit reports. Only the engines' evaluations are called, never their
# searches: each profile point is a fit with one parameter held, by
# profile_point().
#
# Every engine runs on profile_aux_design()'s X* (each part's design): the
# profile's searches then work on beta* = T beta (star_target_map()), as
# the fit's did.
# `zbasis` (profile_basis_setup()): list(G, zb), the engine on Z G, G block
# diagonal over the far blocks zb of profile_z_blocks() (the rows of G after
# the conditional part's are the zero part's). `caller` names the method
# in the message when the rebuilt engine is not the fit's.
profile_engine <- function(fit, zbasis = NULL, caller = "profile()") {
  a <- fit$aux
  if (!is.null(a) && !is.null(fit$penalty))
    stop("profile likelihoods are not available for penalized fits (the profile would drop the prior); use confint(method = \"Wald\")",
         call. = FALSE)
  if (is.null(a) && inherits(fit, "glmmgee_glmm_nested")) return(nested_profile_engine(fit))
  if (is.null(a) && uses_known_profile(fit)) return(known_profile_engine(fit))
  fam <- fit$family
  n <- length(fit$y)
  p <- length(fit$coefficients)
  y <- as.numeric(fit$y)
  w <- as.numeric(fit$prior.weights %||% rep(1, n))
  off <- as.numeric(fit$offset %||% rep(0, n))
  ax <- profile_aux_inputs(fit)
  X <- ax$X
  zr <- a$zi$re %||% a$disp$re
  sparse <- if (is.null(a)) inherits(fit, "glmmgee_glmm_sparse") else isTRUE(a$sparse)
  split <- scores <- rotated <- NULL
  if (sparse) {
    covariance <- if (is.null(a)) fit_known_covariance(fit, "profile()")
    re <- sparse_re_terms(fit$formula, fit$model, covariance, empty = isTRUE(zr$sparse))
    if (isTRUE(zr$sparse)) {
      # (random effects in both other parts: the zero part's second, the
      # dispersion's third, rd)
      three <- length(random_aux_parts(fit)) == 2L
      dre <- !is.null(a$disp$re) && !three
      part_terms <- function(pt) sparse_re_terms(zi_bars_formula(find_bars(pt$formula)),
                                                 fit$model, NULL)
      rz <- part_terms(if (dre) a$disp else a$zi)
      rd <- if (three) part_terms(a$disp)
      rc <- re
      re <- zi_random_combined_re(rc, rz, if (dre) "disp~" else "zi~", rd)
      sp <- function(M) methods::as(methods::as(M, "CsparseMatrix"), "generalMatrix")
      Zz <- sp(if (three) cbind(rz$Z, rd$Z) else rz$Z)
      if (fit_engine(fit)$name == "agq_zero_re") {
        # A location-scale fit by quadrature (glmm_dispre_agq_fit()): the
        # one-factor two-part engine at the fit's rule.
        ag <- if (three) dispre_agq_engine(fit, rc, rd, y, w, ax, fam, rzero = rz)
              else dispre_agq_engine(fit, rc, rz, y, w, ax, fam)
        ev <- ag$eval
        split <- ag$split
        rotated <- ag$rotated
      } else {
        eng <- cpp_sparse_two_part_new(X, ax$Xz0, ax$Xd0, sp(rc$Z), Zz, y, w, ax$off3,
                              re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                              fam$family_code, fam$link_code, ax$kind, re$Qz)
        ev <- sparse_two_part_evaluator(eng)
        attr(ev, "edge") <- sparse_two_part_profile_edge(eng)
        if (is.null(zbasis))
          split <- sparse_two_part_cluster_split(X, sp(rc$Z), Zz, y, w, ax, re, fam)
      }
    } else {
      if (!is.null(zbasis)) re$Z <- basis_z_sparse(re, zbasis)
      eng <- cpp_sparse_new(X, re$Z, y, w, off, re$lam_row - 1L, re$lam_col - 1L,
                            re$lam_k - 1L, re$ntheta, fam$family_code, fam$link_code)
      if (!is.null(a)) cpp_sparse_set_aux(eng, ax$kind, ax$XA, ax$pred, ax$aoff)
      ev <- function(th) sparse_eval(eng, th, TRUE)
      # (a basis mixes columns within a level: each effect keeps its cluster)
      split <- sparse_cluster_split(eng, re$Z, re, w)
    }
    lam_lower <- re$lower
    free <- function() NULL
  } else {
    Z <- as.matrix(fit$Z %||% matrix(1, n, 1L))
    storage.mode(Z) <- "double"
    q1 <- seq_len(ncol(Z))
    if (!is.null(zbasis)) Z <- Z %*% zbasis$G[q1, q1, drop = FALSE]
    M <- length(fit$group_levels)
    if (!is.null(zr)) {
      pat <- zr$pattern_full
      Zz <- zr$Z * 1
      if (!is.null(zbasis)) Zz <- Zz %*% zbasis$G[-q1, -q1, drop = FALSE]
      eng <- cpp_two_part_new(X, Z, Zz, ax$Xz * 1, ax$Xd0, y, w, ax$off3, fit$group, M,
                          pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                          ax$kind, 1L, 1L)
      cpp_two_part_set_nagq(eng, as.integer(fit$nAGQ))
      ev <- function(th) cpp_two_part_eval(eng, th, TRUE)
      scores <- function(th) cpp_two_part_scores(eng, th)
      free <- function() NULL
    } else {
      pat <- fit$pattern
      # (every level of the factor, as the fit's engine: $ngroups counts
      # those with positive weight, and with a cluster of weight 0 the
      # codes ran past it, "cluster code out of range")
      eng <- cpp_agq_new(X, Z, y, w, off, fit$group, as.integer(if (M) M else fit$ngroups),
                         pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                         as.integer(fit$nAGQ), 1L)
      if (!is.null(a)) cpp_agq_set_aux(eng, ax$kind, ax$XA, ax$pred, ax$aoff)
      ev <- function(th) cpp_agq_eval(eng, th, TRUE)
      scores <- function(th) cpp_agq_scores(eng, th)
      free <- function() cpp_agq_free(eng)
    }
    lam_lower <- ifelse(pat$row == pat$col, 0, -Inf)
  }
  if (!is.null(a)) {
    # with `zbasis` the engine runs on Z G: its Lambda is the factor of
    # G^-1 D G^-T (basis_theta())
    th <- unname(fit$theta)
    if (!is.null(zbasis))
      th <- basis_theta(th, zbasis$zb, lapply(zbasis$zb$blocks, function(bl)
        solve(zbasis$G[bl$rows, bl$rows, drop = FALSE])))
    check_rebuilt_engine(ev(theta_star(th, ax$Tx))$loglik, fit, free, caller)
  }
  # (the two-part sparse engine's state at the estimates, just evaluated
  # there: each side of a profile starts from it)
  if (!is.null(attr(ev, "edge"))) attr(ev, "reset") <- sparse_two_part_profile_reset(eng)
  list(eval = ev, free = free, Tx = ax$Tx, scores = scores, split = split, rotated = rotated,
       lower = c(rep(-Inf, p), lam_lower,
                 rep(-Inf, length(fit$theta) - p - length(lam_lower))))
}

# The fixed-effect design a rebuilt profile engine runs on: the centred and
# scaled X* = X T^-1 where the user's X loses digits (lmm_design_transform(),
# the rule of the fits), with `Tx` = T for star_target_map() (NULL when X is
# used as it is). On the user's X the searches at each profile point stopped
# short with x * 1e-6 - 5: the slope's interval came out a fraction of its
# width, and the standard deviations' moved.
profile_design <- function(fit) {
  tx <- lmm_design_transform(fit$X)
  list(X = tx$M, Tx = if (!isTRUE(tx$identity)) tx$T)
}

# The designs and offsets of an engine for profile_engine(): the
# conditional part's X and, for a zero-inflated, hurdle or
# dispersion-formula fit, the zero part's Xz and the dispersion part's Xd,
# each on profile_aux_design()'s scale (with `Tx`), their 0-column stand-ins
# Xz0 and Xd0, the auxiliary predictors as the one-part engines take them
# (XA, pred, aoff) and the three parts' offsets `off3` as the two-part
# engines take them.
profile_aux_inputs <- function(fit) {
  a <- fit$aux
  n <- length(fit$y)
  X <- fit$X
  storage.mode(X) <- "double"
  disp <- !is.null(a$disp_index)
  ad <- profile_aux_design(fit, X, a$zi$X, if (disp) a$disp$X %||% matrix(1, n, 1L))
  if (is.null(a)) return(ad)
  dbl <- function(M) { M <- M %||% matrix(0, n, 0L); storage.mode(M) <- "double"; M }
  if (!is.null(a$disp$re) && !isTRUE(a$zi$re$sparse)) {
    # A dispersion formula with random effects: the two-part engine's second
    # part is the dispersion's (kind disp_re, fit-dispersion-random.R); a
    # zero part beside it is the engine's third predictor (kind zi_disp_re).
    # (a zero-truncated fit, a hurdle without 'ziformula', has the zero
    # probability 0: offset -Inf on its logit)
    zi <- !is.null(a$zi_index)
    ad$Xz0 <- dbl(ad$Xd)
    ad$Xd0 <- dbl(if (zi) ad$Xz)
    ad$off3 <- cbind(as.numeric(fit$offset %||% rep(0, n)), a$disp$offset %||% 0,
                     if (zi) a$zi$offset %||% 0 else if (a$kind == "hurdle") -Inf else 0)
    ad$kind <- aux_kind_code(if (a$kind == "disp") "disp_re" else paste0(a$kind, "_disp_re"),
                             fit$family)
    return(ad)
  }
  ad$Xz0 <- dbl(ad$Xz)
  ad$Xd0 <- dbl(ad$Xd)
  pz <- ncol(ad$Xz0)
  ad$XA <- dbl(cbind(ad$Xz, ad$Xd))
  ad$pred <- c(rep(0L, pz), rep(if (a$kind == "disp") 0L else 1L, ncol(ad$Xd0)))
  # A zero-truncated fit without a ziformula has zero probability 0
  # (offset -Inf on the logit scale), as glmm_zi() fits it.
  offz <- if (a$kind == "hurdle" && !pz) rep(-Inf, n)
          else if (a$kind != "disp") a$zi$offset %||% rep(0, n)
  ad$aoff <- dbl(cbind(offz, if (disp) a$disp$offset %||% rep(0, n)))
  ad$off3 <- cbind(as.numeric(fit$offset %||% rep(0, n)), a$zi$offset %||% 0,
                   if (disp) a$disp$offset %||% 0 else 0)
  # (random effects in the zero and the dispersion parts both: kinds 7, 8)
  ad$kind <- aux_kind_code(if (!is.null(a$disp$re)) paste0(a$kind, "_both_re") else a$kind,
                           fit$family)
  ad
}

# theta on the scale of an engine on X* (beta* = Tx beta, the rest as is).
# Tx acts on theta's first ncol(Tx) entries, or on those its attribute
# "pos" names (a two-part fit's coefficients of every part,
# profile_aux_design()).
theta_star <- function(th, Tx) {
  if (is.null(Tx)) return(th)
  ip <- star_positions(Tx)
  th[ip] <- drop(Tx %*% th[ip])
  th
}

star_positions <- function(Tx) attr(Tx, "pos") %||% seq_len(ncol(Tx))

# Gradients in an engine's theta* (a vector, or a matrix with one gradient
# per row) carried to theta by the chain rule: d/d beta = Tx' d/d beta*.
gradient_unstar <- function(G, Tx) {
  if (is.null(Tx)) return(G)
  ip <- star_positions(Tx)
  if (is.matrix(G)) G[, ip] <- G[, ip, drop = FALSE] %*% Tx
  else G[ip] <- drop(G[ip] %*% Tx)
  G
}

# The parameters that can be profiled, in the order confint() reports
# them: fixed effects (a two-part fit's zero part after the conditional
# part's), the standard deviation of each random effect, the
# correlation of the first effect of each covariance block with each other
# effect of the block, then the residual standard deviation (gaussian) or
# the dispersion coefficients of a two-part or dispersion-formula fit.
# Each target has its name, estimate, an approximate standard error (delta
# method; NA on a boundary), the closed bounds of its range (`closed`: the
# profile may stop there, e.g. a standard deviation at 0), the positions
# `pos` in theta it moves (one row of Lambda, diagonal last, for "sd" and
# "cor"), and `kind`:
#   "coef"  theta[pos] = value (fixed effect), log(value) (sigma) or
#           to_theta(value) (a bridge fit's sd, dist_profile_targets());
#   "sd"    the row set to value * (v, 1) / |(v, 1)|, with the direction v
#           free, so the standard deviation |row| is the value and the
#           correlations are profiled out;
#   "cor"   the row (first entry in the block's first column) set to
#           s * (value, sqrt(1 - value^2) (w, 1) / |(w, 1)|), with its
#           standard deviation s and the direction w free: the
#           correlation with the block's first effect is the value.
profile_targets <- function(fit) {
  th <- unname(fit$theta)
  V <- fit$cov_theta
  p <- length(fit$coefficients)
  re <- profile_re_structure(fit)
  se_of <- function(grad, pos) {
    v <- drop(crossprod(grad, V[pos, pos, drop = FALSE] %*% grad))
    if (is.finite(v) && v >= 0) sqrt(v) else NA_real_
  }
  target <- function(name, kind, pos, estimate, se, closed = c(NA_real_, NA_real_), log = FALSE)
    list(name = name, kind = kind, pos = pos, estimate = estimate, se = se, closed = closed,
         log = log)
  # A coefficient carries its column of the covariance (`cov`), for
  # target_map()'s `lean`.
  coef_target <- function(name, j)
    c(target(name, "coef", j, th[j], sqrt(max(V[j, j], 0))), list(cov = unname(V[, j])))
  out <- lapply(seq_len(p), function(j) coef_target(names(fit$coefficients)[j], j))
  # The zero part of a zero-inflated or hurdle fit: its coefficients after
  # the conditional ones, with glmmTMB's prefix "zi."; with random effects
  # in the zero part, Lambda's rows cover both parts (joint pattern).
  zi_idx <- fit$aux$zi_index
  out <- c(out, lapply(zi_idx, function(j)
    coef_target(paste0("zi.", sub("^zi~", "", names(fit$theta)[j])), j)))
  labels <- effect_labels(fit)
  estimated <- estimated_correlation(fit)
  cors <- list()
  for (k in seq_len(re$q)) {
    at <- which(re$pattern$row == k)
    pos <- re$lambda_index[at][order(re$pattern$col[at])]
    l <- th[pos]
    s <- sqrt(sum(l^2))
    out[[length(out) + 1L]] <- target(ran_sd_name(labels$effect[k], labels$group[k]),
                                      "sd", pos, s, if (s > 0) se_of(l / s, pos) else NA_real_,
                                      closed = c(0, NA_real_))
    j0 <- min(re$pattern$col[at])
    if (length(pos) > 1L && estimated(k, j0)) {
      rho <- if (s > 0) max(-1, min(1, l[1L] / s)) else 0
      grad <- if (s > 0) replace(numeric(length(l)), 1L, 1 / s) - l[1L] * l / s^3 else l
      cors[[length(cors) + 1L]] <- target(
        ran_cor_name(labels$effect[k], labels$effect[j0], labels$group[k]),
        "cor", pos, rho, if (s > 0) se_of(grad, pos) else NA_real_, closed = c(-1, 1))
    }
  }
  out <- c(out, cors)
  # The dispersion coefficients of a two-part or dispersion-formula fit
  # (log sigma, log theta, log shape), glmmTMB's prefix "disp.".
  # They are variance parameters for confint(parm = "theta_"), as sigma.
  out <- c(out, lapply(fit$aux$disp_index, function(j)
    c(target(paste0("disp.", sub("^disp~", "", names(fit$theta)[j])), "coef", j, th[j],
             sqrt(max(V[j, j], 0))), keyword = "theta_")))
  if (fit$family$family == "gaussian" && is.null(fit$aux)) {
    j <- length(th)
    out[[length(out) + 1L]] <- target("sigma", "coef", j, exp(th[j]),
                                      exp(th[j]) * sqrt(max(V[j, j], 0)), log = TRUE)
  }
  if (is_dist_fit(fit)) out <- dist_sd_targets(out, fit, V)
  names(out) <- make.unique(vapply(out, `[[`, "", "name"))
  for (nm in names(out)) out[[nm]]$name <- nm
  out
}

# The names of the Wald intervals' (and the unstructured profiles')
# variance parameters, lme4's with oldNames = FALSE: "sd_(Intercept)|herd",
# "cor_Days.(Intercept)|Subject" (`effect` with the part's prefix, "zi.x").
# covstruct_wald_aliases() reads them back for a structured fit's profile.
ran_sd_name <- function(effect, group) sprintf("sd_%s|%s", effect, group)
ran_cor_name <- function(effect, first, group) sprintf("cor_%s.%s|%s", effect, first, group)

# Whether the correlation of rows k and j of Lambda (profile_re_structure()'s
# order) is a parameter of the fit: FALSE where a diag() or homdiag() term
# fixes it at 0, as VarCorr() and tidy() leave it out (ran_par_map(): the
# pairs they report, in the same order of the random effects). Only a fit
# with covariance structures has such pairs inside a block of Lambda.
estimated_correlation <- function(fit) {
  if (!inherits(fit, "glmmgee_glmm_covstruct")) return(function(k, j) TRUE)
  m <- ran_par_map(fit)
  cor_row <- !is.na(m$j)
  reported <- paste(pmin(m$i, m$j), pmax(m$i, m$j))[cor_row]
  function(k, j) paste(min(k, j), max(k, j)) %in% reported
}

# re_structure(fit, "profile") with, for random effects in the zero part
# (or the dispersion formula), the pattern, rows and positions of Lambda
# over both parts (`Z` stays the
# conditional part's). With the two-part sparse engine the zero part's
# terms come after the count part's rows (their parameters after the count
# part's); with one factor the joint pattern is the fit's.
profile_re_structure <- function(fit) {
  re <- re_structure(fit, "profile")
  zr <- fit$aux$zi$re %||% fit$aux$disp$re
  p <- length(fit$coefficients)
  if (isTRUE(zr$sparse)) {
    # (each part's terms in turn: the zero part's, then a dispersion formula's)
    for (nm in names(random_aux_parts(fit))) {
      rz <- re_structure_sparse(zi_random_sparse_shadow(fit, nm), p + length(re$lambda_index))
      re$pattern <- list(row = c(re$pattern$row, rz$pattern$row + re$q),
                         col = c(re$pattern$col, rz$pattern$col + re$q))
      re$lambda_index <- c(re$lambda_index, rz$lambda_index)
      re$q <- re$q + rz$q
    }
  } else if (!is.null(zr)) {
    re$pattern <- zr$pattern_full
    re$q <- max(zr$pattern_full$row)
    re$lambda_index <- p + seq_along(zr$pattern_full$row)
  }
  re
}

# The effect and grouping factor of each row of Lambda (as re_structure()
# orders them), for lme4's names with oldNames = FALSE: "sd_(Intercept)|herd",
# "cor_Days.(Intercept)|Subject".
effect_labels <- function(fit) {
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    tms <- c(fit$reterms, if (isTRUE(fit$aux$zi$re$sparse))
      lapply(fit$aux$zi$re$terms, function(tm) { tm$cnames <- paste0("zi.", tm$cnames); tm }),
      lapply(fit$aux$disp$re$terms, function(tm) { tm$cnames <- paste0("disp.", tm$cnames); tm }))
    return(list(effect = unlist(lapply(tms, `[[`, "cnames"), use.names = FALSE),
                group = unlist(lapply(tms, function(tm) rep(tm$group, length(tm$cnames))),
                               use.names = FALSE)))
  }
  eff <- c(fit$cnames, if (!is.null(fit$aux$zi$re)) paste0("zi.", fit$aux$zi$re$cnames))
  list(effect = eff, group = rep(fit$group_name, length(eff)))
}

# The free parameters z at a point theta, the theta for (value, z) and the
# gradient in z from the gradient in theta. A coefficient's map also has
# `lean`: the change of z per unit of the coefficient by the fit's
# covariance (the regression of the other estimates on it), for a start
# that moves the other parameters with it (profile_point()).
target_map <- function(tg, lower, upper = NULL) {
  pos <- tg$pos
  m <- length(pos)
  if (tg$kind == "coef") {
    to_theta <- tg$to_theta %||% if (tg$log) log else identity
    return(list(
      lean = cov_lean(tg$cov, pos),
      free = function(th) th[-pos],
      theta = function(x, z) { th <- numeric(length(z) + 1L); th[-pos] <- z
                               th[pos] <- to_theta(x); th },
      grad = function(g, x, z) g[-pos],
      lower = lower[-pos], upper = upper[-pos]))
  }
  if (tg$kind == "cor") return(cor_map(pos, lower))
  nv <- m - 1L
  row_map(pos, lower, nv,
          extra = function(l) if (l[m] > 1e-12) l[-m] / l[m] else numeric(nv),
          row = function(x, v) x * (c(v, 1) / sqrt(1 + sum(v^2))),
          # d(w_i / r) / d v_j = [i == j] / r - w_i v_j / r^3
          grad_extra = function(gp, x, v) {
            if (!nv) return(NULL)
            r <- sqrt(1 + sum(v^2))
            x * (gp[seq_len(nv)] / r - sum(gp * c(v, 1)) * v / r^3)
          },
          lower_extra = rep(-Inf, nv))
}

# The map of a target that sets theta's entries `pos` (a row of Lambda) to
# row(x, e), with the ne parameters e free after the others: extra(l)
# gives e at a row l, grad_extra(gp, x, e) the gradient in e from the
# row's gradient gp, lower_extra e's lower bounds.
row_map <- function(pos, lower, ne, extra, row, grad_extra, lower_extra) {
  split_z <- function(z) {
    nz <- length(z) - ne
    list(other = z[seq_len(nz)], e = z[nz + seq_len(ne)])
  }
  list(
    free = function(th) c(th[-pos], extra(th[pos])),
    theta = function(x, z) {
      zz <- split_z(z)
      th <- numeric(length(zz$other) + length(pos))
      th[-pos] <- zz$other
      th[pos] <- row(x, zz$e)
      th
    },
    grad = function(g, x, z) c(g[-pos], grad_extra(g[pos], x, split_z(z)$e)),
    lower = c(lower[-pos], lower_extra))
}

# z's change per unit of theta[j] by a covariance column `cv` (its entries
# on z's positions over the variance): NULL without a usable covariance.
cov_lean <- function(cv, j) {
  if (is.null(cv) || !is.finite(cv[j]) || cv[j] <= 0 || anyNA(cv)) return(NULL)
  cv[-j] / cv[j]
}

# A correlation target: free are the other parameters, the row's standard
# deviation s (>= 0) and the direction w of the rest of the row.
cor_map <- function(pos, lower) {
  m <- length(pos)
  nw <- m - 2L
  unit <- function(w) c(w, 1) / sqrt(1 + sum(w^2))
  row_map(pos, lower, nw + 1L,
          extra = function(l)
            c(sqrt(sum(l^2)), if (l[m] > 1e-12) l[2:(m - 1L)][seq_len(nw)] / l[m] else numeric(nw)),
          row = function(x, e) e[[1L]] * c(x, sqrt(max(1 - x^2, 0)) * unit(e[-1L])),
          grad_extra = function(gp, x, e) {
            w <- e[-1L]
            c1 <- sqrt(max(1 - x^2, 0))
            gw <- numeric(nw)
            if (nw) {
              r <- sqrt(1 + sum(w^2))
              gr <- gp[-1L]
              gw <- e[[1L]] * c1 * (gr[seq_len(nw)] / r - sum(gr * c(w, 1)) * w / r^3)
            }
            c(sum(gp * c(x, c1 * unit(w))), gw)
          },
          lower_extra = c(0, rep(-Inf, nw)))
}

# The maximum of the log-likelihood with the target at x, from the free
# parameters z0: list(loglik, z). An engine whose approximation can break
# down (the two-part sparse engine, profile-two-part.R) gives `eval` an
# attribute "edge": edge(NULL) arms it before the search, edge(theta) says
# whether the search, which converged or not (`converged`), ended at the
# edge of the region where the approximation holds; the point's
# log-likelihood is then NA (`edge` TRUE).
# z0 are the free parameters of a point at x0; where the log-likelihood is
# not finite there (a coefficient held 1e5 away with the others as they
# were: exp(eta) overflows on a Poisson fit with x * 1e-6 - 5), the search
# starts from z0 moved by the map's `lean` instead. For a coefficient on
# X*'s scale (star_target_map(), `lean_better`) the search runs from both
# and the better end is kept: held alone, a coefficient whose column lies far from zero moves
# every linear predictor by as much, and on a zero-inflated fit the zero
# probabilities then all sit at 0 or 1, where the search finds no slope
# (the zero part's intercept with z * 1e-6 - 5 had zeta 8.28 at every
# held value).
profile_point <- function(eval, map, x, z0, control, x0 = NULL) {
  edge <- attr(eval, "edge")
  if (!is.null(edge)) edge(NULL, TRUE)
  cache <- new.env()
  ev <- function(z) {
    if (!identical(z, cache$z)) { cache$r <- eval(map$theta(x, z)); cache$z <- z }
    cache$r
  }
  obj <- function(z) { v <- -ev(z)$loglik; if (is.finite(v)) v else Inf }
  gr <- function(z) { g <- -map$grad(ev(z)$gradient, x, z); g[!is.finite(g)] <- 0; g }
  upper <- map$upper %||% Inf
  z0 <- pmin(pmax(z0, map$lower), upper)
  if (!length(z0)) return(list(loglik = eval(map$theta(x, z0))$loglik, z = z0))
  # Each free parameter searched in units of its size at the start, or of
  # `control$typical` (1; y's residual scale where that is smaller): with y
  # in units 1e4 of its spread, Lambda's entries near 1e4 beside log sigma
  # near 9 left nlminb's steps so ill-scaled that the refits stopped short,
  # and the profile limits of a fixed effect fell where the likelihood-ratio
  # statistic was 3.27, not 3.84 (in units 1e-4, 3.68).
  sc <- 1 / pmax(abs(z0), control$typical %||% 1)
  search <- function(z) stats::nlminb(z, obj, gr, lower = map$lower, upper = upper, scale = sc,
                                      control = list(rel.tol = control$rel.tol, iter.max = 200L,
                                                     eval.max = 400L))
  z1 <- if (!is.null(map$lean) && !is.null(x0)) pmax(z0 + map$lean * (x - x0), map$lower)
  if (!is.null(z1) && !is.finite(obj(z0)) && is.finite(obj(z1))) z0 <- z1
  opt <- search(z0)
  # (No lean without a usable covariance column, e.g. with a variance on
  # its boundary: then z1 is NULL and there is no second start.)
  if (isTRUE(map$lean_better) && !is.null(z1) && !identical(z0, z1) && is.finite(obj(z1))) {
    opt1 <- search(z1)
    if (opt1$objective < opt$objective) opt <- opt1
  }
  # A second start the map gives from the first fit's end (a structure's
  # standard deviations near zero raised: covstruct_profile_restart()).
  z2 <- if (!is.null(map$restart)) map$restart(opt$par)
  if (!is.null(z2) && is.finite(obj(z2))) {
    opt2 <- search(z2)
    if (opt2$objective < opt$objective) opt <- opt2
  }
  # A free parameter bounded below at 0 (a diagonal entry of Lambda, a
  # row's length: a standard deviation) that ends at 0 is a stationary
  # point of the search, the likelihood depending on its square: started
  # there from a singular fit, it never leaves, although with the target
  # held away from its estimate the optimum may lie inside. A second
  # search from that standard deviation raised keeps the better end. (A
  # binary fit with its SD at 0: the 99% profile interval of the intercept
  # was (-0.694, 0.542), the plain GLM's, against lme4's (-0.748, 0.579),
  # where the SD re-optimises to 0.25.)
  z3 <- zero_bound_restart(opt$par, map$lower, control$typical %||% 1)
  if (!is.null(z3) && is.finite(obj(z3))) {
    opt3 <- search(z3)
    if (opt3$objective < opt$objective) opt <- opt3
  }
  if (!is.null(edge) && edge(map$theta(x, opt$par), opt$convergence == 0L))
    return(list(loglik = NA_real_, z = opt$par, convergence = opt$convergence, edge = TRUE))
  list(loglik = -opt$objective, z = opt$par, convergence = opt$convergence)
}

# The free parameters z with those bounded below at 0 and ending within
# 1e-4 * `typical` of it raised to 0.3 * `typical`; NULL when there are none.
zero_bound_restart <- function(z, lower, typical) {
  at <- which(lower == 0 & z <= 1e-4 * typical)
  if (!length(at)) return(NULL)
  z[at] <- 0.3 * typical
  z
}

# A target's map for an engine on the centred and scaled X* (its theta
# (beta*, rest), beta* = Tx beta; eng$Tx, nested_profile_engine()): the
# free parameters are on that scale too, where the searches at each point
# are well conditioned. A fixed effect beta_j = a'beta* (a = row j of
# Tx^-1) is held at x by solving for beta*_j from the others
# (a_j = 1 / Tx[j, j] is never 0); every other target's map works on
# theta* as on theta, the rest of theta being the same on both scales.
#
# `to_star` (theta -> the engine's theta) and `cov_star` (the covariance
# column on that scale, for `lean`) are given where the engine's random
# effects run on another basis too (profile_basis_setup()).
star_target_map <- function(map, tg, Tx, lower, to_star = function(th) theta_star(th, Tx),
                            cov_star = if (!is.null(tg$cov)) to_star(tg$cov)) {
  p <- ncol(Tx)
  ip <- star_positions(Tx)
  if (tg$kind != "coef" || !(tg$pos %in% ip)) return(with_free(map, to_star))
  j <- tg$pos
  jj <- match(j, ip)
  a <- backsolve(Tx, diag(1, p))[jj, ]
  ol <- setdiff(seq_len(p), jj)
  others <- ip[ol]
  list(
    lean = if (!is.null(cov_star)) cov_lean(replace(cov_star, j, tg$cov[j]), j),
    lean_better = TRUE,
    free = function(th) to_star(th)[-j],
    theta = function(x, z) {
      th <- numeric(length(z) + 1L)
      th[-j] <- z
      th[j] <- (x - sum(a[ol] * th[others])) / a[jj]
      th
    },
    # z holds theta*[-j]: theta*_k (k != j) at position k - (k > j).
    grad = function(g, x, z) {
      gz <- g[-j]
      kz <- others - (others > j)
      gz[kz] <- gz[kz] - g[j] * a[ol] / a[jj]
      gz
    },
    lower = lower[-j])
}

# A map whose free parameters are read from theta on another scale:
# free(to(theta)).
with_free <- function(map, to) {
  free <- map$free
  map$free <- function(th) free(to(th))
  map
}
