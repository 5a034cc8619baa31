# Turns an ML fit of a gaussian identity-link model by the sparse engine
# (several terms) into the REML fit: the criterion and its optimizer are in
# fit-reml.R. One grouping factor has its own direct route
# (fit-lmm-onefactor.R).

# Where each entry of lme4's theta sits in the fit's parameter vector: the
# slots are matched by grouping factor and the pair of random-effect names,
# so the terms' order and `||` splitting may differ between the two.
reml_slot_map <- function(obj, rt) {
  p <- length(obj$coefficients)
  ours <- do.call(rbind, lapply(obj$reterms, function(tm) {
    q <- length(tm$cnames)
    lt <- which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    data.frame(key = paste(tm$group, tm$cnames[lt[, 1L]], tm$cnames[lt[, 2L]], sep = "\r"),
               pos = p + tm$par)
  }))
  keys <- unlist(lapply(seq_along(rt$cnms), function(k) {
    cn <- rt$cnms[[k]]
    q <- length(cn)
    lt <- which(lower.tri(diag(q), diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    paste(names(rt$cnms)[k], cn[lt[, 1L]], cn[lt[, 2L]], sep = "\r")
  }))
  pos <- ours$pos[match(keys, ours$key)]
  if (anyNA(pos) || length(pos) != nrow(ours))
    stop("REML: the random-effect terms could not be matched to lme4's layout", call. = FALSE)
  pos
}

# Global index into lme4's b of (level, name) for one grouping factor.
reml_b_index <- function(rt, group, levels, cnames) {
  idx <- matrix(NA_integer_, length(levels), length(cnames))
  asg <- attr(rt$flist, "assign")
  for (k in seq_along(rt$cnms)) {
    if (names(rt$cnms)[k] != group) next
    lev <- levels(rt$flist[[asg[k]]])
    q <- length(rt$cnms[[k]])
    for (j in seq_len(q)) {
      col <- match(rt$cnms[[k]][j], cnames)
      if (is.na(col)) next
      at <- match(levels, lev)
      idx[, col] <- ifelse(is.na(at), NA_integer_, rt$Gp[k] + (at - 1L) * q + j)
    }
  }
  idx
}

# Posterior means (= modes) and conditional covariances of the random
# effects at the REML estimates, as lmer's ranef(condVar = TRUE): given beta.
reml_term_modes <- function(idx, b, CV, levels, cnames) {
  q <- length(cnames)
  B <- matrix(b[idx], nrow(idx), q, dimnames = list(levels, cnames))
  V <- array(NA_real_, c(q, q, nrow(idx)), dimnames = list(cnames, cnames, levels))
  if (!is.null(CV))
    for (a in seq_len(q)) for (c in seq_len(q))
      V[a, c, ] <- as.numeric(CV[cbind(idx[, a], idx[, c])])
  list(B = B, V = V)
}

reml_refit <- function(obj, formula, mf, X, y, weights, offset) {
  s <- reml_setup(formula, mf, X, y, weights, offset)
  if (s$n <= s$p) stop("REML needs more observations than fixed effects", call. = FALSE)
  rt <- s$rt
  p <- s$p
  map <- reml_slot_map(obj, rt)
  k <- length(obj$theta)
  sig_ml <- exp(obj$theta[[k]])
  opt <- reml_optimize(s, unname(obj$theta[map]) / sig_ml)
  th <- opt$theta
  pls <- reml_pls(s, th)
  sigma2 <- pls$pwrss / (s$n - p)
  sigma <- sqrt(sigma2)
  theta <- obj$theta
  theta[seq_len(p)] <- pls$beta
  theta[map] <- th * sigma
  theta[[k]] <- log(sigma)
  on_boundary <- rep(FALSE, k)
  on_boundary[map] <- is.finite(s$lower) & th <= s$lower
  # Information: fixed effects from X'V^-1 X (lmer's vcov at the REML
  # estimates), the covariance parameters from the restricted likelihood
  # itself; the two are orthogonal in a linear mixed model.
  ll_cov <- function(par) {
    tt <- theta; tt[c(map, k)] <- par
    ss <- exp(tt[[k]])
    pl <- reml_pls(s, tt[map] / ss)
    if (is.null(pl)) return(-Inf)
    -0.5 * (pl$ldL2 + pl$ldRX2 + (s$n - p) * log(2 * pi * ss^2) + pl$pwrss / ss^2 - s$logw)
  }
  free <- c(map, k)[!on_boundary[c(map, k)]]
  hess <- matrix(0, k, k, dimnames = list(names(theta), names(theta)))
  hess[seq_len(p), seq_len(p)] <- -pls$RXtRX / sigma2
  sub <- !on_boundary[c(map, k)]
  Hc <- stats::optimHess(theta[c(map, k)], ll_cov)
  hess[free, free] <- Hc[sub, sub]
  hess[on_boundary, ] <- NA_real_
  hess[, on_boundary] <- NA_real_
  cov_theta <- invert_information(hess, on_boundary, names(theta))
  vc <- sigma2 * solve(pls$RXtRX)
  dimnames(vc) <- list(names(theta)[seq_len(p)], names(theta)[seq_len(p)])
  cov_theta[seq_len(p), seq_len(p)] <- vc

  b <- as.vector(Matrix::crossprod(pls$Lt, pls$u))
  Q <- length(b)
  CV <- if (Q <= 5000L) {
    Ai <- Matrix::solve(pls$ch, Matrix::Diagonal(Q), system = "A")
    # Kept sparse: with one factor A is block diagonal, and only the blocks
    # of each level are read.
    sigma2 * Matrix::crossprod(pls$Lt, Ai %*% pls$Lt)
  }
  names(theta) <- names(obj$theta)
  obj$theta <- theta
  obj$coefficients <- stats::setNames(pls$beta, names(obj$coefficients))
  obj$vcov <- vc
  obj$cov_theta <- cov_theta
  obj$hessian <- hess
  obj$sigma <- sigma
  obj$singular <- any(on_boundary)
  obj$gradient[] <- 0
  obj$loglik <- -opt$deviance / 2
  obj$loglik_ml <- -ml_deviance_at(s, pls, pls$pwrss / s$n) / 2
  obj$REML <- TRUE
  # Whether a variance is at zero is the REML fit's to say, not the ML start's.
  w <- obj$optinfo$warnings
  obj$optinfo$warnings <- c(w[!grepl("^singular fit", w)], if (obj$singular) reml_singular_message)
  obj$optinfo$reml <- list(criterion = opt$deviance, theta = th,
                           convergence = vapply(opt$runs, `[[`, 1L, "convergence"),
                           evaluations = sum(vapply(opt$runs, function(r) r$evaluations[[1L]], 1)))
  obj$optinfo$method <- paste0("REML (", obj$optinfo$method, " for the ML start)")
  reml_sparse_modes(obj, rt, b, CV)
}

reml_sparse_modes <- function(obj, rt, b, CV) {
  p <- length(obj$coefficients)
  obj$reterms <- lapply(obj$reterms, function(tm) {
    q <- length(tm$cnames)
    Lam <- matrix(0, q, q, dimnames = list(tm$cnames, tm$cnames))
    lt <- which(lower.tri(Lam, diag = TRUE), arr.ind = TRUE)
    lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
    Lam[lt] <- obj$theta[p + tm$par]
    idx <- reml_b_index(rt, tm$group, tm$levels, tm$cnames)
    m <- reml_term_modes(idx, b, CV, tm$levels, tm$cnames)
    tm$Lambda <- Lam
    tm$D <- Lam %*% t(Lam)
    tm$b <- m$B
    tm$condvar <- m$V
    tm
  })
  for (tm in obj$reterms) obj$b[tm$columns] <- as.vector(t(tm$b))
  obj$eta_fixed <- drop(obj$X %*% obj$coefficients) + obj$offset
  obj$linear.predictors <- obj$eta_fixed + as.vector(obj$Z %*% obj$b)
  obj$fitted.values <- obj$linear.predictors
  obj
}

reml_singular_message <- paste0("singular fit: a random-effect variance is estimated at zero ",
                                "(or a correlation at +/-1) by REML")

# The ML start's singular-fit warning is dropped: the REML fit decides.
reml_quiet_ml <- function(expr) {
  withCallingHandlers(expr, warning = function(w)
    if (grepl("^singular fit", conditionMessage(w))) invokeRestart("muffleWarning"))
}
