# The one-factor fit on shards held by workers (workers-engine.R): the same
# optimizer, boundary verification, Hessian and warnings as glmm_fit(), with
# the engine's sums taken over shards. `mod` describes the model as
# glmm_fit() sets it up (see model_spec()); `eng` is a loaded shard engine.

glmm_fit_shards <- function(eng, mod, control, start = NULL) {
  rp <- mod$rp; pat <- mod$pat; p <- mod$p; q <- mod$q; disp <- mod$disp
  family <- mod$family; nAGQ <- mod$nAGQ; lower <- mod$lower; pnames <- mod$pnames
  shard_round(eng, "check_nagq", list(nAGQ = nAGQ))
  eng$nagq_now <- if (control$laplace_start) 1L else nAGQ
  st <- if (is.null(start)) shard_start_values(eng, mod)
        else rp$to_star(start_values(matrix(0, 0L, p), numeric(), NULL, NULL, family, q, pat, start))
  search <- function(from, ctl) {
    sv <- search_verified(eng, from, lower, nAGQ, p, pat, disp, ctl, pnames)
    list(sv = sv, m = glmm_map_optimum(eng, sv, rp, p, pat, disp, family, lower, ctl, pnames,
                                       Tx = mod$star_tx))
  }
  moves <- length(eng$moved)
  r <- search(st, control)
  # A worker died during the search or the Hessian: its shards were
  # reloaded with their modes started afresh, so the evaluations before and
  # after the move come from engines in different states (a line search or
  # a finite-difference Hessian across the move compares them), and the
  # search could stop short of the optimum. So the search runs again from
  # the last point it reached, with every shard's modes reset (one state for
  # all engines), straight on quadrature; a death during that search starts
  # it once more (each death leaves one worker fewer, so this ends).
  while (length(eng$moved) > moves) {
    moves <- length(eng$moved)
    shard_round(eng, "reset")
    from <- if (all(is.finite(r$m$theta_s)) && is.finite(r$m$final$loglik)) r$m$theta_s else st
    ctl <- control
    ctl$laplace_start <- FALSE
    r <- search(from, ctl)
    eng$moved[moves] <- paste0(eng$moved[moves],
                               "; the search then ran again from the last point it had reached")
  }
  sv <- r$sv
  m <- r$m
  summ <- rotate_summaries(shard_summaries(eng, m$theta_s, mod$M, q),
                           rp$rotation(m$theta, m$theta_s))
  unbounded <- shard_pure_message(eng, m$family) %||%
    large_sd_message(m$sd_star, mod$znames, m$family)
  fit <- glmm_fit_object(m, summ, nAGQ, q, pat, mod$cov_blocks, p, disp, sv$verification, rp,
                         control, c(unbounded, eng$moved))
  fit$distributed <- shard_record(eng)
  fit
}

# What a distributed fit records about its cluster (no connections: the
# object stays plain data).
shard_record <- function(eng) {
  list(workers = eng$W, shards = eng$S, rounds = eng$rounds,
       bytes_sent = eng$bytes_out, bytes_received = eng$bytes_in,
       traffic = do.call(rbind, eng$traffic), worker_info = eng$info, moved = eng$moved)
}


# start_values() on shards: the GLM without random effects by the engine's
# damped Newton iteration (families without a dispersion, gaussian) or by
# glm.fit()'s IRLS (nbinom2: Poisson; Gamma), each iteration one round; the
# same steps and stopping rules as the in-memory start, on sums taken in
# shard order.
shard_start_values <- function(eng, mod) {
  family <- mod$family; p <- mod$p; pat <- mod$pat; disp <- mod$disp
  scale_disp <- isTRUE(attr(disp, "scale"))
  beta <- if (!disp || scale_disp) shard_glm_start(eng, p, 25L)
          else shard_irls(eng, start_family(family), p)
  beta[!is.finite(beta)] <- 0
  fam0 <- start_family(family)
  scale <- 1
  if (scale_disp) {
    rss <- dd_total(lapply(shard_round(eng, "rss", list(beta = beta, family = fam0)),
                           function(v) list(hi = v[[1L]], lo = v[[2L]])))
    scale <- sqrt(max(rss / max(mod$n - p, 1), 1e-8)) / sqrt(2)
  }
  lam <- ifelse(pat$row == pat$col, scale, 0)
  phi <- if (disp && !scale_disp) shard_dispersion_start(eng, family, fam0, beta, mod$n - p)
         else if (disp) log(scale)
  round_glm_start(c(beta, lam, phi), disp)
}

shard_glm_start <- function(eng, p, maxit) {
  glm_newton_start(function(b) glm_sums_unpack(dd_total(shard_round(eng, "glm", list(beta = b))), p),
                   p, maxit)
}

# The GLM without random effects by damped Newton steps from zero, on the
# sums `sums(beta)` gives (loglik, gradient, information): the engine's
# rows in memory (start_values()) or the shards' sums added in
# order-independent pairs, which are bitwise the same.
glm_newton_start <- function(sums, p, maxit) {
  beta <- numeric(p)
  cur <- sums(beta)
  ll <- cur$loglik
  for (it in seq_len(maxit)) {
    step <- tryCatch(solve(cur$information, cur$gradient), error = function(e) NULL)
    if (is.null(step)) break
    dec <- sum(step * cur$gradient)
    if (!is.finite(dec) || !is.finite(ll) || dec < 1e-7 * (1 + abs(ll))) break
    t <- 1
    ok <- FALSE
    for (half in 1:30) {
      bnew <- beta + t * step
      nxt <- sums(bnew)
      if (is.finite(nxt$loglik) && nxt$loglik >= ll) { ok <- TRUE; break }
      t <- t / 2
    }
    if (!ok) break
    beta <- bnew
    ll <- nxt$loglik
    cur <- nxt
  }
  beta
}

# cpp_agq_glm_sums()'s packed sums (loglik, gradient, the information's
# upper triangle by rows) as a list.
glm_sums_unpack <- function(v, p) {
  info <- matrix(0, p, p)
  info[lower.tri(info, diag = TRUE)] <- v[-seq_len(1L + p)]
  info[upper.tri(info)] <- t(info)[upper.tri(info)]
  list(loglik = v[[1L]], gradient = v[1L + seq_len(p)], information = info)
}

# stats::glm.fit()'s iteration (its initialization, weighted least squares,
# halving of a step to a non-finite deviance or invalid means, and
# relative-deviance stopping rule) with the normal equations summed over
# shards; where it fails, again from the weighted mean of y, as
# start_glm() retries (Gamma with the identity link: the first step from
# mu = y gave negative means, and the fit started from them was not usable).
shard_irls <- function(eng, fam, p, maxit = 25L, epsilon = 1e-8) {
  rnd <- function(args) {
    r <- shard_round(eng, "irls", c(list(family = fam), args))
    list(r = r, dev = sum(vapply(r, `[[`, 0, "dev")),
         ok = all(vapply(r, `[[`, TRUE, "valid")))
  }
  good <- function(x) x$ok && is.finite(x$dev)
  run <- function(mustart) {
    cur <- rnd(list(beta = NULL, mustart = mustart))
    if (!cur$ok) return(NULL)
    devold <- cur$dev
    beta <- NULL
    for (it in seq_len(maxit)) {
      b <- tryCatch(solve(sum_shards(cur$r, "xtwx"), sum_shards(cur$r, "xtwz")),
                    error = function(e) NULL)
      if (is.null(b) || any(!is.finite(b))) break
      nxt <- rnd(list(beta = b))
      if (!good(nxt)) {
        if (is.null(beta)) return(NULL)
        for (h in seq_len(maxit)) {
          b <- (b + beta) / 2
          nxt <- rnd(list(beta = b))
          if (good(nxt)) break
        }
        if (!good(nxt)) return(NULL)
      }
      beta <- b
      cur <- nxt
      if (abs(cur$dev - devold) / (abs(cur$dev) + 0.1) < epsilon) break
      devold <- cur$dev
    }
    beta %||% rep(0, p)
  }
  beta <- run(NULL)
  if (is.null(beta)) {
    m <- Reduce(`+`, shard_round(eng, "irls", list(op = "mean")))
    beta <- run(m[[1L]] / m[[2L]])
  }
  beta %||% rep(0, p)
}

shard_dispersion_start <- function(eng, family, fam0, beta, df) {
  df <- max(df, 1)
  switch(family$family,
    nbinom2 = {
      pearson <- function(lt)
        sum_shards(shard_round(eng, "nb_pearson", list(beta = beta, family = fam0, log_theta = lt)), 1L) - df
      upper <- 1e8
      th <- if (pearson(log(upper)) <= 0) upper
            else if (pearson(log(1e-8)) >= 0) 1e-8
            else exp(stats::uniroot(pearson, c(log(1e-8), log(upper)), tol = 1e-10)$root)
      log(min(th, 1e3))
    },
    Gamma = {
      d <- sum_shards(shard_round(eng, "gamma_pearson", list(beta = beta, family = fam0)), 1L) / df
      log(min(max(1 / d, 1e-3), 1e4))
    },
    stop("no dispersion start for family ", family$family, call. = FALSE))
}

# The engine's per-cluster summaries, gathered into the fit's cluster order
# (M x q; a table of clusters, not of rows).
shard_summaries <- function(eng, theta, M, q) {
  res <- shard_round(eng, "summaries", list(theta = theta))
  out <- list(mode = matrix(NA_real_, M, q), mode_var = matrix(NA_real_, M, q * q),
              post_mean = matrix(NA_real_, M, q), post_var = matrix(NA_real_, M, q * q),
              loglik = rep(NA_real_, M), newton_failures = 0L)
  for (r in res) {
    k <- r$clusters
    out$mode[k, ] <- r$mode
    out$mode_var[k, ] <- r$mode_var
    out$post_mean[k, ] <- r$post_mean
    out$post_var[k, ] <- r$post_var
    out$loglik[k] <- r$loglik
    out$newton_failures <- out$newton_failures + r$newton_failures
  }
  out
}

shard_pure_message <- function(eng, family) {
  if (family$family != "binomial") return(NULL)
  r <- do.call(rbind, shard_round(eng, "pure", list()))
  used <- r[, "used"] > 0
  if (!any(used) || !all(r[used, "all_pure"] > 0) || !any(r[, "multi"] > 0)) return(NULL)
  pure_clusters_message(c(0, 1, 1), c(1, 1, 1), c(1L, 2L, 2L), family)
}
