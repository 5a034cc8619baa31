# Shared by test-covstruct-cs-residual.R: a gaussian cs() term with one
# observation per id and time (T times; heterogeneous SDs, correlation 0.5,
# residual SD 0.5), time2 the same factor with its levels reversed.
cs_data <- function(T) {
  set.seed(2)
  n <- 80
  d <- expand.grid(time = factor(1:T), id = factor(1:n))
  sdt <- c(1, 1.3, 0.8, 1.6)[seq_len(T)]
  L <- diag(sdt) %*% (matrix(0.5, T, T) + diag(0.5, T)) %*% diag(sdt)
  b <- t(chol(L)) %*% matrix(rnorm(T * n), T, n)
  d$x <- rnorm(nrow(d))
  d$y <- 1 + 0.5 * d$x + b[cbind(as.integer(d$time), as.integer(d$id))] + rnorm(nrow(d), sd = 0.5)
  d$time2 <- factor(d$time, levels = rev(levels(d$time)))
  d
}

# cs_data(3) with a site factor crossed with the ids, and the ML fit of
# y ~ x + cs(0 + time | id) + (1 | site), whose cs() term takes up the
# residual variance (sigma at its zero limit) while the site variance is
# at zero (test-covstruct-cs-centring.R, test-reml-sigma-limit.R): the data, the fit and the
# warnings it gave.
cs_site_fit <- function() {
  d <- cs_data(3)
  d$site <- factor(rep(1:8, length.out = nrow(d)))
  w <- character()
  f <- withCallingHandlers(glmm(y ~ x + cs(0 + time | id) + (1 | site), d), warning = function(e) {
    w <<- c(w, conditionMessage(e))
    invokeRestart("muffleWarning")
  })
  list(data = d, fit = f, warnings = w)
}
