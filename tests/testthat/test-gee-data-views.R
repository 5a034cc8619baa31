# The GEE engine's views of its data: weights and offset left out (NULL)
# are read as 1 and 0, rows that come cluster by cluster without waves are
# read in place (no row order or positions kept), and without a start the
# engine forms glm's starting linear predictor itself. Each view must give
# the numbers of the explicit data, bit for bit.

gee_view_data <- function(n_cl = 40, m = 5, family = "binomial", seed = 1) {
  set.seed(seed)
  id <- rep(seq_len(n_cl), each = m)
  x <- rnorm(n_cl * m)
  u <- rep(rnorm(n_cl, sd = 0.5), each = m)
  eta <- 0.3 + 0.5 * x + u
  y <- switch(family,
              binomial = rbinom(length(eta), 1, plogis(eta)),
              poisson = rpois(length(eta), exp(eta)),
              Gamma = rgamma(length(eta), shape = 3, rate = 3 / exp(eta)),
              gaussian = eta + rnorm(length(eta)))
  list(X = cbind("(Intercept)" = 1, x = x), y = as.numeric(y), id = id)
}

gee_view_spec <- function(family, corstr, vflags = 31L, mdep = 1L) {
  list(family = family$family_code, link = family$link_code,
       corstr = match(corstr, gee_corstrs()) - 1L, mdep = as.integer(mdep), Rfixed = NULL,
       scale_fix = FALSE, scale_value = 1, epsilon = 1e-10, maxit = 50L, trace = FALSE,
       threads = 1L, vflags = vflags)
}

gee_view_list <- function(d, weights = NULL, offset = NULL, wave = NULL, eta_start = NULL) {
  list(X = d$X, y = d$y, weights = weights, offset = offset, id = as.integer(d$id),
       M = max(d$id), wave = wave, eta_start = eta_start, beta_start = NULL)
}

test_that("NULL weights and offset give the fit of explicit ones and zeros, bit for bit", {
  fams <- list(binomial = binomial(), poisson = poisson(), Gamma = Gamma("log"),
               gaussian = gaussian())
  for (fn in names(fams)) {
    fam <- resolve_family(fams[[fn]])
    d <- gee_view_data(family = fn)
    n <- nrow(d$X)
    for (cs in c("independence", "exchangeable", "ar1", "unstructured", "mdep")) {
      spec <- gee_view_spec(fam, cs)
      a <- cpp_gee_fit(gee_view_list(d), spec)
      b <- cpp_gee_fit(gee_view_list(d, rep(1, n), rep(0, n)), spec)
      if (cs %in% c("independence", "exchangeable")) expect_true(a$converged, info = paste(fn, cs))
      expect_identical(a, b, info = paste(fn, cs))
      # The fitted values and variances of a fitted object's later requests.
      expect_identical(cpp_gee_fitted(gee_view_list(d), spec, a$beta),
                       cpp_gee_fitted(gee_view_list(d, rep(1, n), rep(0, n)), spec, a$beta),
                       info = paste(fn, cs))
    }
  }
})

test_that("the engine's own start is R's glm start, for every link", {
  cases <- list(list("binomial", binomial("logit")), list("binomial", binomial("probit")),
                list("binomial", binomial("cloglog")), list("binomial", binomial("cauchit")),
                list("poisson", poisson()), list("Gamma", Gamma("identity")),
                list("Gamma", Gamma("inverse")), list("Gamma", Gamma("log")),
                list("gaussian", gaussian()))
  for (cc in cases) {
    fam <- resolve_family(cc[[2]])
    d <- gee_view_data(family = cc[[1]], seed = 2)
    # Binomial proportions with trials, so that the start's (w y + 0.5) /
    # (w + 1) sees weights other than 1; then fractional proportions with
    # fractional weights, where w y is not exact and a compiler that fused
    # w y + 0.5 into one multiply-add would move the start's last bit.
    ws <- if (cc[[1]] == "binomial") list(rep(c(1, 3), length.out = length(d$y)),
                                          rep(c(1.7, 3.3), length.out = length(d$y))) else list(NULL)
    for (k in seq_along(ws)) {
      w <- ws[[k]]
      if (k == 2L) d$y <- (d$y + 0.1) / 1.3
      spec <- gee_view_spec(fam, "exchangeable", vflags = 0L)
      own <- cpp_gee_fit(gee_view_list(d, w), spec)
      from_r <- cpp_gee_fit(gee_view_list(d, w, eta_start = as.numeric(
        gee_eta_start(fam, d$y, w %||% rep(1, length(d$y))))), spec)
      # (Gamma with the identity link need not converge on these data: the
      # comparison is of the start, whatever the iterations then do.)
      if (!identical(fam$link, "identity")) expect_true(own$converged, info = fam$link)
      expect_identical(own, from_r, info = paste(cc[[1]], fam$link, k))
    }
  }
})

test_that("rows read in place equal rows given an explicit order and positions", {
  # Waves 1..m in data order make the engine keep its row order and
  # positions; without waves, on rows sorted by cluster, it keeps neither.
  fam <- resolve_family(binomial())
  d <- gee_view_data(n_cl = 60, m = 6)
  wave <- as.integer(ave(d$id, d$id, FUN = seq_along))
  for (cs in c("independence", "exchangeable", "ar1", "unstructured", "mdep")) {
    spec <- gee_view_spec(fam, cs, mdep = 2L)
    a <- cpp_gee_fit(gee_view_list(d), spec)
    b <- cpp_gee_fit(gee_view_list(d, wave = wave), spec)
    expect_identical(a[names(a) != "clusters"], b[names(b) != "clusters"], info = cs)
    expect_identical(a$clusters$sizes, b$clusters$sizes, info = cs)
  }
  # Clusters of unequal size, and a long ar1 cluster whose lag sums are
  # taken by the Fourier transform.
  set.seed(3)
  sz <- c(sample(1:8, 30, TRUE), 2500)
  id <- rep(seq_along(sz), sz)
  x <- rnorm(length(id))
  y <- rbinom(length(id), 1, plogis(0.2 * x))
  d2 <- list(X = cbind(1, x), y = as.numeric(y), id = id)
  wave2 <- as.integer(ave(id, id, FUN = seq_along))
  spec <- gee_view_spec(fam, "ar1", vflags = 0L)
  a <- cpp_gee_fit(gee_view_list(d2), spec)
  b <- cpp_gee_fit(gee_view_list(d2, wave = wave2), spec)
  expect_identical(a$beta, b$beta)
  expect_identical(a$alpha, b$alpha)
  expect_identical(a$variance$robust, b$variance$robust)
})

test_that("rows out of cluster order, or with zero weights, still read through their order", {
  fam <- resolve_family(poisson())
  d <- gee_view_data(family = "poisson", seed = 4)
  n <- nrow(d$X)
  o <- sample(n)
  shuffled <- list(X = d$X[o, ], y = d$y[o], id = d$id[o])
  spec <- gee_view_spec(fam, "exchangeable")
  a <- cpp_gee_fit(gee_view_list(d), spec)
  b <- cpp_gee_fit(gee_view_list(shuffled), spec)
  expect_equal(b$beta, a$beta, tolerance = 1e-10)
  expect_equal(b$variance$robust, a$variance$robust, tolerance = 1e-9)
  # A zero weight drops its row: the fit on the other rows.
  w <- rep(1, n); w[c(3, 50)] <- 0
  z <- cpp_gee_fit(gee_view_list(d, w), spec)
  keep <- w > 0
  r <- cpp_gee_fit(list(X = d$X[keep, ], y = d$y[keep], weights = NULL, offset = NULL,
                        id = as.integer(d$id[keep]), M = max(d$id), wave = NULL,
                        beta_start = NULL), spec)
  expect_equal(z$beta, r$beta, tolerance = 1e-10)
  expect_identical(z$clusters$nactive, sum(keep))
})

test_that("gee() without weights equals gee() with unit weights, and keeps its vectors", {
  d <- gee_view_data(seed = 5)
  df <- data.frame(y = d$y, x = d$X[, 2], id = d$id)
  f0 <- gee(y ~ x, data = df, id = id, family = binomial, corstr = "exchangeable",
            std.err = "fij")
  f1 <- gee(y ~ x, data = df, id = id, family = binomial, corstr = "exchangeable",
            std.err = "fij", weights = rep(1, nrow(df)), offset = rep(0, nrow(df)))
  expect_identical(coef(f0), coef(f1))
  expect_identical(f0$vcov, f1$vcov)
  expect_identical(f0$alpha, f1$alpha)
  # The fitted object's layout is as before: weights and offset as vectors.
  expect_identical(f0$prior.weights, rep(1, nrow(df)))
  expect_identical(f0$offset, rep(0, nrow(df)))
  expect_identical(f0$engine$data$weights, rep(1, nrow(df)))
  expect_identical(fitted(f0), fitted(f1))
  expect_identical(residuals(f0, "pearson"), residuals(f1, "pearson"))
  # The matrix-level fitter, and the nbinom2 alternation with NULL weights.
  X <- d$X
  expect_identical(coef(gee_fit(X, d$y, d$id, binomial, "ar1")),
                   coef(gee_fit(X, d$y, d$id, binomial, "ar1", weights = rep(1, nrow(X)))))
  set.seed(6)
  yc <- rnbinom(nrow(X), mu = exp(0.5 + 0.3 * X[, 2]), size = 2)
  nb0 <- gee_fit(X, yc, d$id, nbinom2(), "exchangeable")
  nb1 <- gee_fit(X, yc, d$id, nbinom2(), "exchangeable", weights = rep(1, nrow(X)))
  expect_identical(coef(nb0), coef(nb1))
  expect_identical(nb0$nb_theta, nb1$nb_theta)
})

test_that("the engine refuses weights or offsets of the wrong length", {
  fam <- resolve_family(binomial())
  d <- gee_view_data()
  spec <- gee_view_spec(fam, "exchangeable")
  expect_error(cpp_gee_fit(gee_view_list(d, weights = rep(1, 3)), spec), "'weights'")
  expect_error(cpp_gee_fit(gee_view_list(d, offset = rep(0, 3)), spec), "'offset'")
  lst <- gee_view_list(d)
  lst$weights <- NULL
  lst$offset <- NULL
  expect_identical(cpp_gee_fit(lst, spec), cpp_gee_fit(gee_view_list(d), spec))
})
