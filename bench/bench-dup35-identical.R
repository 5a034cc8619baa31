# Round 35's duplicate removal (dup35) must not move any result: fits on
# every route its changes touch, made with two builds, compared by
# identical() (the call removed; environments, which differ between two
# processes, set aside).
#
# Routes: the one-factor engine with nAGQ > 1 (set_nagq()), the two-part
# engine with random effects in both parts (its set_nagq()), the Poisson,
# NB1 and NB2 families (GLMM and GEE with QIC), the known-covariance
# Laplace fits (dense K, a factor wider than 200 columns: the moment start
# and its Hessian; the forward-difference Hessian called directly), the
# Gaussian fits with two known covariances (dense and sparse, ML and
# REML), and the covariance structures ar1()/cs() (also with a Newton
# budget of 2 steps, which sends the search through its nlminb fallback),
# the ordinal fits searched in R (penalized; random slopes), also with that
# budget, and the score scans over the known-covariance fits.
#
# Usage (two installed builds, each in its own library):
#   BASE_LIB=<library of the base build> NEW_LIB=<library of this build> \
#     OMP_NUM_THREADS=1 Rscript bench/bench-dup35-identical.R
# With the argument `fit <file>` it only fits, in the library R_LIBS names,
# and saves the results to <file>.

fit_all <- function(out) {
  suppressPackageStartupMessages(library(glmmgee))
  set.seed(35)
  M <- 60; ni <- 6
  g <- factor(rep(seq_len(M), each = ni))
  x <- rnorm(M * ni); w <- rbinom(M * ni, 1, 0.5)
  b <- rnorm(M, 0, 0.7); b2 <- rnorm(M, 0, 0.3)
  eta <- 0.3 + 0.5 * x + b[g] + b2[g] * x
  d <- data.frame(g = g, x = x, w = w, h = factor(rep(rep(1:6, length.out = M), each = ni)),
                  yb = rbinom(M * ni, 1, plogis(eta)), yp = rpois(M * ni, exp(eta)),
                  yn = rnbinom(M * ni, size = 2, mu = exp(eta)),
                  time = factor(rep(seq_len(ni), M)))
  d$yz <- ifelse(runif(M * ni) < plogis(-0.7 + 0.8 * w + rnorm(M, 0, 0.8)[g]), 0, d$yp)
  d$yg <- eta + rnorm(M * ni)
  # ar1 data
  R <- 0.6^as.matrix(stats::dist(seq_len(ni)))
  B <- matrix(rnorm(M * ni), M) %*% chol(R) * 0.8
  d$ya <- as.vector(t(B)) + 0.3 * x + rnorm(M * ni)
  d$yap <- rpois(M * ni, exp(0.2 + 0.3 * x + as.vector(t(B))))
  d$yab <- rbinom(M * ni, 1, plogis(-0.2 + 0.4 * x + as.vector(t(B))))

  # known covariances: a dense K (120 levels) and a wide factor (r = 300)
  nl <- 120
  G <- matrix(rbinom(nl * 40, 2, 0.3), nl, 40)
  L <- scale(G) / sqrt(40); rownames(L) <- paste0("id", seq_len(nl))
  K <- tcrossprod(L) + diag(0.05, nl)
  dk <- data.frame(id = factor(rep(rownames(L), each = 3), levels = rownames(L)), x = rnorm(3 * nl))
  bk <- drop(t(chol(K)) %*% rnorm(nl)) * 0.9
  dk$yb <- rbinom(nrow(dk), 1, plogis(-0.3 + 0.6 * dk$x + bk[as.integer(dk$id)]))
  dk$yp <- rpois(nrow(dk), exp(0.2 + 0.4 * dk$x + 0.8 * bk[as.integer(dk$id)]))
  dk$y0 <- rbinom(nrow(dk), 1, plogis(-0.3 + 0.6 * dk$x))  # no random effect: s near 0
  nw <- 600; mw <- 300
  Gw <- vapply(runif(mw, 0.05, 0.5), function(pj) rbinom(nw, 2, pj), numeric(nw))
  Lw <- scale(Gw) / sqrt(mw); rownames(Lw) <- paste0("p", seq_len(nw))
  dw <- data.frame(id = factor(rownames(Lw), levels = rownames(Lw)), x = rnorm(nw))
  dw$y <- rbinom(nw, 1, plogis(-0.5 + 0.5 * dw$x + 0.8 * drop(Lw %*% rnorm(mw))))
  dw$yp <- rpois(nw, exp(0.1 + 0.3 * dw$x + 0.6 * drop(Lw %*% rnorm(mw))))

  # two known covariances on the same cells (families of five, banded)
  n2 <- 150; nm <- paste0("c", seq_len(n2)); f5 <- (seq_len(n2) - 1L) %/% 5
  K1 <- 0.5 * outer(f5, f5, "==") + diag(0.5, n2)
  pos <- sort(runif(n2)); D <- abs(outer(pos, pos, "-")) / 0.15
  K2 <- ifelse(D < 1, (1 - D)^4 * (1 + 4 * D), 0)
  dimnames(K1) <- dimnames(K2) <- list(nm, nm)
  sp <- function(K) Matrix::forceSymmetric(methods::as(Matrix::Matrix(K, sparse = TRUE),
                                                       "CsparseMatrix"))
  d2 <- data.frame(cell = factor(rep(nm, 2), levels = nm), x = rnorm(2 * n2))
  d2$space <- d2$cell
  g1 <- drop(t(chol(K1)) %*% rnorm(n2)); g2 <- drop(t(chol(K2 + diag(1e-9, n2))) %*% rnorm(n2))
  d2$y <- 0.3 + 0.5 * d2$x + 1.2 * g1[as.integer(d2$cell)] + 0.9 * g2[as.integer(d2$cell)] +
    rnorm(2 * n2)
  f2 <- y ~ x + (1 | cell) + (1 | space)
  short <- glmm_control(iter.max = 2L)
  # ordinal: four categories from a latent logistic with intercept and slope
  # random effects
  lat <- 0.6 * x + b[g] + b2[g] * x + rlogis(M * ni)
  d$yo <- factor(cut(lat, c(-Inf, -1, 0, 1.2, Inf), labels = FALSE), ordered = TRUE)
  d$ys <- d$yo
  d$ys[d$w == 1 & d$yo == 1] <- 2  # w separates the lowest category

  q <- function(e) suppressWarnings(e)
  cases <- list(
    agq_binomial_5 = function() q(glmm(yb ~ x + (1 | g), d, family = binomial, nAGQ = 5)),
    agq_poisson_slope_3 = function() q(glmm(yp ~ x + (1 + x | g), d, family = poisson, nAGQ = 3)),
    agq_nbinom2_5 = function() q(glmm(yn ~ x + (1 | g), d, family = nbinom2, nAGQ = 5)),
    agq_nbinom1_5 = function() q(glmm(yn ~ x + (1 | g), d, family = nbinom1, nAGQ = 5)),
    agq_poisson_laplace = function() q(glmm(yp ~ x + (1 | g), d, family = poisson)),
    agq_nbinom1_laplace = function() q(glmm(yn ~ x + (1 | g), d, family = nbinom1)),
    agq_nbinom2_laplace = function() q(glmm(yn ~ x + (1 | g), d, family = nbinom2)),
    sparse_poisson = function() q(glmm(yp ~ x + (1 | g) + (1 | h), d, family = poisson)),
    sparse_nbinom1 = function() q(glmm(yn ~ x + (1 | g) + (1 | h), d, family = nbinom1)),
    sparse_nbinom2 = function() q(glmm(yn ~ x + (1 | g) + (1 | h), d, family = nbinom2)),
    zire_poisson_3 = function() q(glmm(yz ~ x + (1 | g), d, ziformula = ~ w + (1 | g),
                                       family = poisson, nAGQ = 3)),
    zire_poisson_laplace = function() q(glmm(yz ~ x + (1 | g), d, ziformula = ~ w + (1 | g),
                                             family = poisson)),
    zire_nbinom2 = function() q(glmm(yz ~ x + (1 | g), d, ziformula = ~ w + (1 | g),
                                     family = nbinom2)),
    zi_nbinom1_fixed_zi = function() q(glmm(yz ~ x + (1 | g), d, ziformula = ~ w,
                                            family = nbinom1, nAGQ = 3)),
    gee_poisson_exch = function() gee(yp ~ x, d, id = g, family = poisson, corstr = "exchangeable"),
    gee_poisson_ar1 = function() gee(yp ~ x, d, id = g, family = poisson, corstr = "ar1"),
    gee_poisson_ind = function() gee(yn ~ x, d, id = g, family = poisson, corstr = "independence"),
    gee_nbinom1_exch = function() gee(yn ~ x, d, id = g, family = nbinom1, corstr = "exchangeable"),
    gee_nbinom2_ar1 = function() gee(yn ~ x, d, id = g, family = nbinom2, corstr = "ar1"),
    known_binomial_dense = function() q(glmm(yb ~ x + (1 | id), dk, family = binomial,
                                             covariance = list(id = K))),
    known_poisson_dense = function() q(glmm(yp ~ x + (1 | id), dk, family = poisson,
                                            covariance = list(id = K))),
    known_binomial_null = function() q(glmm(y0 ~ x + (1 | id), dk, family = binomial,
                                            covariance = list(id = K))),
    known_binomial_wide = function() q(glmm(y ~ x + (1 | id), dw, family = binomial,
                                            covariance = list(id = kfactor(Lw)))),
    known_poisson_wide = function() q(glmm(yp ~ x + (1 | id), dw, family = poisson,
                                           covariance = list(id = kfactor(Lw)))),
    known2_dense_ml = function() q(glmm(f2, d2, covariance = list(cell = K1, space = K2))),
    known2_dense_reml = function() q(glmm(f2, d2, covariance = list(cell = K1, space = K2),
                                          REML = TRUE)),
    known2_sparse_ml = function() q(glmm(f2, d2, covariance = list(cell = sp(K1), space = sp(K2)))),
    known2_sparse_reml = function() q(glmm(f2, d2, covariance = list(cell = sp(K1), space = sp(K2)),
                                           REML = TRUE)),
    known2_sparse_plain = function() q(glmm(y ~ x + (1 | cell) + (1 | space), d2,
                                            covariance = list(cell = sp(K1)))),
    ord_penalized = function() q(glmm(yo ~ x + w + (1 | g), d, family = cumulative(),
                                      penalized = TRUE)),
    ord_penalized_sep = function() q(glmm(ys ~ x + w + (1 | g), d, family = cumulative(),
                                          penalized = TRUE)),
    ord_penalized_short = function() q(glmm(yo ~ x + w + (1 | g), d, family = cumulative(),
                                            penalized = TRUE, control = short)),
    ord_slope = function() q(glmm(yo ~ x + (1 + x | g), d, family = cumulative(), nAGQ = 1)),
    ord_slope_probit = function() q(glmm(yo ~ x + (1 + x | g), d, family = cumulative("probit"),
                                         nAGQ = 1)),
    ord_slope_short = function() q(glmm(yo ~ x + (1 + x | g), d, family = cumulative(), nAGQ = 1,
                                        control = short)),
    cs_ar1_gaussian = function() q(glmm(ya ~ x + ar1(time + 0 | g), d)),
    cs_ar1_poisson = function() q(glmm(yap ~ x + ar1(0 + time | g), d, family = poisson)),
    cs_cs_binomial = function() q(glmm(yab ~ x + cs(0 + time | g), d, family = binomial)),
    cs_ar1_gaussian_short = function() q(glmm(ya ~ x + ar1(time + 0 | g), d, control = short)),
    cs_ar1_poisson_short = function() q(glmm(yap ~ x + ar1(0 + time | g), d, family = poisson,
                                             control = short)),
    cs_cs_binomial_short = function() q(glmm(yab ~ x + cs(0 + time | g), d, family = binomial,
                                             control = short)),
    cs_cs_poisson_short = function() q(glmm(yap ~ x + cs(0 + time | g), d, family = poisson,
                                            control = short))
  )
  fits <- lapply(cases, function(case) tryCatch(case(), error = function(e) e))
  res <- lapply(names(cases), function(nm) {
    f <- fits[[nm]]
    if (inherits(f, "error")) return(list(error = conditionMessage(f)))
    parts <- list(fit = f, vcov = tryCatch(vcov(f), error = conditionMessage),
                  predict = tryCatch(predict(f), error = conditionMessage))
    if (inherits(f, "glmmgee_gee")) {
      parts$QIC <- tryCatch(QIC(f), error = conditionMessage)
    } else {
      parts$ranef <- tryCatch(ranef(f), error = conditionMessage)
      parts$logLik <- tryCatch(logLik(f), error = conditionMessage)
    }
    parts$fit$call <- NULL
    parts$optimizer <- f$optinfo$optimizer %||% ""
    parts
  })
  names(res) <- names(cases)
  # score scans over the known-covariance fits (assoc-scan*.R's block loop)
  Gk <- matrix(rbinom(nrow(dk) * 25, 2, 0.3), nrow(dk))
  G2 <- matrix(rbinom(nrow(d2) * 25, 2, 0.3), nrow(d2))
  one <- q(glmm(y ~ x + (1 | cell), d2, covariance = list(cell = K1)))
  scans <- list(
    scan_binomial_saige = function() assoc_scan(fits$known_binomial_dense, Gk, block_size = 7,
                                                 progress = FALSE),
    scan_binomial_exact = function() assoc_scan(fits$known_binomial_dense, Gk, exact_p = 1,
                                                progress = FALSE),
    scan_poisson = function() assoc_scan(fits$known_poisson_dense, Gk, block_size = 10,
                                         progress = FALSE),
    scan_gaussian_one = function() assoc_scan(one, G2, block_size = 6, progress = FALSE),
    scan_gaussian_two_dense = function() assoc_scan(fits$known2_dense_ml, G2, progress = FALSE),
    scan_gaussian_two_sparse = function() assoc_scan(fits$known2_sparse_reml, G2, block_size = 4,
                                                     progress = FALSE))
  for (nm in names(scans))
    res[[nm]] <- list(fit = tryCatch(scans[[nm]](), error = function(e) list(error = conditionMessage(e))),
                      optimizer = "assoc_scan")
  # the forward-difference Hessian of the known-covariance engine (used
  # when its exact Hessian is refused for memory), called directly
  X <- stats::model.matrix(~ x, dk)
  eng <- glmmgee:::known_laplace_engine(X, dk$yb, rep(1, nrow(dk)), rep(0, nrow(dk)),
                                        as.integer(dk$id), t(chol(K)),
                                        glmmgee:::known_laplace_family(binomial()), 1L)
  res$known_hessian_fd <- list(fit = glmmgee:::known_laplace_hessian_fd(eng, c(-0.3, 0.6, log(0.8))),
                               optimizer = "")
  saveRDS(res, out)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# Environments (formulas', closures') differ between two processes: set
# aside, and closures compared by formals and body.
strip_env <- function(x) {
  if (is.environment(x)) return("<environment>")
  if (is.function(x)) return(if (is.primitive(x)) deparse(x) else list(formals(x), body(x)))
  if (isS4(x)) return(x)
  a <- attributes(x)
  if (is.list(x) && !is.null(x)) {
    attributes(x) <- NULL
    x <- lapply(x, strip_env)
  }
  if (!is.null(a)) {
    a$.Environment <- NULL
    a <- lapply(a, strip_env)
    if (is.list(x) || is.atomic(x)) {
      attributes(x) <- a
    } else {
      attr(x, ".Environment") <- NULL
      for (k in names(a)) attr(x, k) <- a[[k]]
    }
  }
  x
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) == 2L && args[1L] == "fit") {
  fit_all(args[2L])
} else {
  libs <- c(base = Sys.getenv("BASE_LIB"), new = Sys.getenv("NEW_LIB"))
  if (any(libs == "")) stop("set BASE_LIB and NEW_LIB to the two builds' libraries")
  self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  out <- c(base = tempfile(fileext = ".rds"), new = tempfile(fileext = ".rds"))
  for (k in names(libs)) {
    t0 <- proc.time()[["elapsed"]]
    st <- system2(file.path(R.home("bin"), "Rscript"), c(self, "fit", out[[k]]),
                  env = c(paste0("R_LIBS=", libs[[k]]), "OMP_NUM_THREADS=1"))
    if (st != 0) stop("the fits with the ", k, " build failed")
    cat(sprintf("%s build: %.0f s\n", k, proc.time()[["elapsed"]] - t0))
  }
  a <- readRDS(out[["base"]]); b <- readRDS(out[["new"]])
  stopifnot(identical(names(a), names(b)))
  # the comparison sees a change in the last bit of a coefficient
  z <- a[[1L]]
  z$fit$coefficients[1L] <- z$fit$coefficients[1L] * (1 + 2 * .Machine$double.eps)
  stopifnot(!identical(strip_env(z), strip_env(a[[1L]])))
  same <- vapply(names(a), function(nm) identical(strip_env(a[[nm]]), strip_env(b[[nm]])), TRUE)
  err <- vapply(a, function(r) !is.null(r$error), TRUE)
  tab <- data.frame(case = names(a), identical = same, error = err,
                    optimizer = vapply(a, function(r) r$optimizer %||% "", ""), row.names = NULL)
  print(tab, right = FALSE)
  cat(sprintf("%d of %d cases identical (%d ended in an error with both builds)\n",
              sum(same), length(same), sum(err & same)))
  cat("load:", system("uptime", intern = TRUE), "\n")
}
