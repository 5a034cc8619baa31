# The likelihood surface of a fitted glmm, for profiling: the engine the fit
# came from, rebuilt from the stored data, and the parameters that can be
# profiled (fixed effects, random-effect standard deviations, the residual
# standard deviation of gaussian models), each with a map from
# (value, free parameters) to the engine's parameter vector theta.

# The engine of `fit`: a function of theta giving list(loglik, gradient),
# and the lower bounds of theta. One grouping factor: the AGQ engine at the
# fit's nAGQ; several terms: the sparse Laplace engine (the random-effects
# design rebuilt from the model frame, a known covariance re-evaluated from
# the call).
profile_engine <- function(fit) {
  fam <- fit$family
  p <- length(fit$coefficients)
  disp <- has_dispersion(fam)
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    cov_arg <- fit$call$covariance
    covariance <- if (!is.null(cov_arg))
      tryCatch(eval(cov_arg, environment(fit$formula) %||% globalenv()),
               error = function(e) stop("profile(): cannot find the 'covariance' of the fit (",
                                        conditionMessage(e), ")", call. = FALSE))
    re <- sparse_re_terms(fit$formula, fit$model, covariance)
    eng <- cpp_sparse_new(fit$X, re$Z, as.numeric(fit$y), as.numeric(fit$prior.weights),
                          as.numeric(fit$offset), re$lam_row - 1L, re$lam_col - 1L,
                          re$lam_k - 1L, re$ntheta, fam$family_code, fam$link_code)
    return(list(eval = function(th) cpp_sparse_eval(eng, th, TRUE),
                lower = c(rep(-Inf, p), re$lower, if (disp) -Inf), free = function() NULL))
  }
  pat <- fit$pattern
  Z <- fit$Z
  eng <- cpp_agq_new(fit$X, as.matrix(Z), as.numeric(fit$y), as.numeric(fit$prior.weights),
                     as.numeric(fit$offset), fit$group, as.integer(fit$ngroups),
                     pat$row - 1L, pat$col - 1L, fam$family_code, fam$link_code,
                     as.integer(fit$nAGQ), 1L)
  list(eval = function(th) cpp_agq_eval(eng, th, TRUE),
       lower = c(rep(-Inf, p), ifelse(pat$row == pat$col, 0, -Inf), if (disp) -Inf),
       free = function() cpp_agq_free(eng))
}

# The parameters that can be profiled, in the order confint() reports
# them: fixed effects, then one standard deviation per random effect, then
# the residual standard deviation (gaussian). Each target has its name,
# estimate, an approximate standard error (delta method; NA on a boundary),
# the positions `pos` in theta it moves, and `kind`:
#   "coef"  theta[pos] = value (fixed effect) or log(value) (sigma);
#   "sd"    the row of Lambda at theta[pos] (diagonal last) set to
#           value * (v, 1) / |(v, 1)|, with the direction v free, so the
#           standard deviation |row| is the value and the correlations are
#           profiled out.
profile_targets <- function(fit) {
  th <- unname(fit$theta)
  V <- fit$cov_theta
  p <- length(fit$coefficients)
  re <- re_structure(fit, "profile")
  se_of <- function(grad, pos) {
    v <- drop(crossprod(grad, V[pos, pos, drop = FALSE] %*% grad))
    if (is.finite(v) && v >= 0) sqrt(v) else NA_real_
  }
  out <- lapply(seq_len(p), function(j)
    list(name = names(fit$coefficients)[j], kind = "coef", pos = j, log = FALSE,
         estimate = th[j], se = sqrt(max(V[j, j], 0))))
  sd_names <- sd_parameter_names(fit)
  for (k in seq_len(re$q)) {
    at <- which(re$pattern$row == k)
    pos <- re$lambda_index[at][order(re$pattern$col[at])]
    l <- th[pos]
    s <- sqrt(sum(l^2))
    out[[length(out) + 1L]] <- list(name = sd_names[k], kind = "sd", pos = pos, log = FALSE,
                                    estimate = s, se = if (s > 0) se_of(l / s, pos) else NA_real_)
  }
  if (fit$family$family == "gaussian") {
    j <- length(th)
    out[[length(out) + 1L]] <- list(name = "sigma", kind = "coef", pos = j, log = TRUE,
                                    estimate = exp(th[j]), se = exp(th[j]) * sqrt(max(V[j, j], 0)))
  }
  stats::setNames(out, vapply(out, `[[`, "", "name"))
}

# "sd_(Intercept)|herd": lme4's names for standard deviations with
# oldNames = FALSE.
sd_parameter_names <- function(fit) {
  if (inherits(fit, "glmmgee_glmm_sparse")) {
    nm <- unlist(lapply(fit$reterms, function(tm) sprintf("sd_%s|%s", tm$cnames, tm$group)))
    return(make.unique(nm))
  }
  sprintf("sd_%s|%s", fit$cnames, fit$group_name)
}

# The free parameters z at a point theta, the theta for (value, z) and the
# gradient in z from the gradient in theta.
target_map <- function(tg, lower) {
  pos <- tg$pos
  m <- length(pos)
  if (tg$kind == "coef") {
    return(list(
      free = function(th) th[-pos],
      theta = function(x, z) { th <- numeric(length(z) + 1L); th[-pos] <- z
                               th[pos] <- if (tg$log) log(x) else x; th },
      grad = function(g, x, z) g[-pos],
      lower = lower[-pos]))
  }
  nv <- m - 1L
  rest <- function(v) c(v, 1) / sqrt(1 + sum(v^2))
  list(
    free = function(th) {
      l <- th[pos]
      v <- if (l[m] > 1e-12) l[-m] / l[m] else numeric(nv)
      c(th[-pos], v)
    },
    theta = function(x, z) {
      nz <- length(z) - nv
      th <- numeric(nz + m)
      th[-pos] <- z[seq_len(nz)]
      th[pos] <- x * rest(z[nz + seq_len(nv)])
      th
    },
    grad = function(g, x, z) {
      nz <- length(z) - nv
      if (!nv) return(g[-pos])
      v <- z[nz + seq_len(nv)]
      r <- sqrt(1 + sum(v^2))
      w <- c(v, 1)
      gp <- g[pos]
      # d(w_i / r) / d v_j = [i == j] / r - w_i v_j / r^3
      gv <- x * (gp[seq_len(nv)] / r - sum(gp * w) * v / r^3)
      c(g[-pos], gv)
    },
    lower = c(lower[-pos], rep(-Inf, nv)))
}

# The maximum of the log-likelihood with the target at x, from the free
# parameters z0: list(loglik, z).
profile_point <- function(eval, map, x, z0, control) {
  cache <- new.env()
  ev <- function(z) {
    if (!identical(z, cache$z)) { cache$r <- eval(map$theta(x, z)); cache$z <- z }
    cache$r
  }
  obj <- function(z) { v <- -ev(z)$loglik; if (is.finite(v)) v else Inf }
  gr <- function(z) { g <- -map$grad(ev(z)$gradient, x, z); g[!is.finite(g)] <- 0; g }
  z0 <- pmax(z0, map$lower)
  if (!length(z0)) return(list(loglik = eval(map$theta(x, z0))$loglik, z = z0))
  opt <- stats::nlminb(z0, obj, gr, lower = map$lower,
                       control = list(rel.tol = control$rel.tol, iter.max = 200L,
                                      eval.max = 400L))
  list(loglik = -opt$objective, z = opt$par, convergence = opt$convergence)
}
