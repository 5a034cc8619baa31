# predict() of cumulative link mixed models: standard errors by the delta
# method against numerical derivatives and clmm, free of a covariate's
# units; unavailable types refused.

test_that("predict(se.fit = TRUE) of a cumulative link mixed model: delta method, numerical derivatives, clmm, units", {
  # se.fit went into '...' and was ignored: a plain matrix came back.
  f <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine, family = cumulative())
  nd <- ordinal::wine[c(1, 5, 20, 40), ]
  p <- predict(f, nd, type = "prob", re.form = NA, se.fit = TRUE)
  l <- predict(f, nd, type = "linear", re.form = NA, se.fit = TRUE)
  expect_named(p, c("fit", "se.fit"))
  expect_equal(p$fit, predict(f, nd, type = "prob", re.form = NA))
  expect_equal(l$fit, predict(f, nd, type = "linear", re.form = NA))
  expect_identical(dim(p$se.fit), dim(p$fit))
  # Numerical derivatives of the probabilities in (thresholds, beta).
  k <- length(f$thresholds) + length(f$coefficients)
  V <- f$cov_psi[seq_len(k), seq_len(k)]
  X <- model.matrix(~ temp + contact, nd)[, -1]
  # P(Y <= j) = plogis(theta_j - x'beta), written out here.
  probs <- function(par) {
    cum <- cbind(0, plogis(outer(-drop(X %*% par[5:6]), par[1:4], "+")), 1)
    as.vector(cum[, -1] - cum[, -6])
  }
  par <- c(f$thresholds, f$coefficients)
  G <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(par[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(par + e) - probs(par - e)) / (2 * h)
  })
  expect_equal(unname(as.vector(p$se.fit)), sqrt(rowSums((G %*% V) * G)), tolerance = 1e-6)
  expect_equal(unname(l$se.fit), unname(sqrt(rowSums((X %*% V[5:6, 5:6]) * X))), tolerance = 1e-10)
  # Against ordinal::clmm: the same delta method from its estimates and
  # covariance (its vcov agrees with ours to about 1e-4).
  skip_if_not_installed("ordinal")
  m <- ordinal::clmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine)
  pm <- c(m$alpha, m$beta)
  Vm <- vcov(m)[seq_len(k), seq_len(k)]
  Gm <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(pm[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(pm + e) - probs(pm - e)) / (2 * h)
  })
  expect_equal(unname(as.vector(p$se.fit)), sqrt(rowSums((Gm %*% Vm) * Gm)), tolerance = 2e-3)
  # Several terms (the sparse route) hand se.fit to the same delta method,
  # over their own covariance.
  f2 <- suppressWarnings(glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = ordinal::wine,
                              family = cumulative()))
  p2 <- predict(f2, nd, type = "prob", re.form = NA, se.fit = TRUE)
  expect_equal(p2$fit, predict(f2, nd, type = "prob", re.form = NA))
  par2 <- c(f2$thresholds, f2$coefficients)
  G2 <- sapply(seq_len(k), function(i) {
    h <- 1e-6 * max(1, abs(par2[[i]]))
    e <- replace(numeric(k), i, h)
    (probs(par2 + e) - probs(par2 - e)) / (2 * h)
  })
  V2 <- vcov(f2)
  expect_equal(unname(as.vector(p2$se.fit)), sqrt(rowSums((G2 %*% V2) * G2)), tolerance = 1e-6)
})

test_that("ordinal predict() standard errors do not depend on a covariate's units; unavailable types are refused", {
  set.seed(27)
  M <- 40; n <- 6
  g <- factor(rep(seq_len(M), each = n))
  x <- rnorm(M * n)
  eta <- 0.8 * x + rnorm(M, 0, 0.7)[g]
  y <- cut(eta + rlogis(M * n), c(-Inf, -1, 0.5, 2, Inf), ordered_result = TRUE)
  d <- data.frame(y, x, g, xs = x * 1e-6 - 5)
  f1 <- glmm(y ~ x + (1 | g), data = d, family = cumulative())
  f2 <- glmm(y ~ xs + (1 | g), data = d, family = cumulative())
  nd <- d[c(2, 50, 100, 200), ]
  for (ty in c("prob", "linear")) {
    s1 <- predict(f1, nd, type = ty, se.fit = TRUE)$se.fit
    s2 <- predict(f2, nd, type = ty, se.fit = TRUE)$se.fit
    if (ty == "prob") expect_equal(s2, s1, tolerance = 1e-6)
    # (x'beta differs by a constant between the two: its standard error is
    # the one of -5e6 beta_xs + ..., not comparable; the probabilities are.)
    else expect_true(all(is.finite(s2)))
  }
  # (prob_marginal and re.form = NULL have standard errors since
  # test-ordinal-penalized.R; a class has none.)
  expect_error(predict(f1, nd, type = "class", se.fit = TRUE), "'se.fit'")
  expect_error(predict(f1, nd, se.fit = NA), "se.fit")
})

test_that("na.exclude: predictions and fitted values come back on every row of the data", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$temp[c(3, 40)] <- NA
  forms <- list(rating ~ temp + contact + (1 | judge),
                rating ~ temp + contact + (1 + temp | judge),
                rating ~ temp + contact + (1 | judge) + (1 | bottle))
  for (fo in forms) {
    fe <- glmm(fo, data = w, family = cumulative(), na.action = na.exclude)
    fo_ <- glmm(fo, data = w, family = cumulative(), na.action = na.omit)
    lab <- deparse(fo)
    p <- predict(fe, type = "response")
    expect_identical(dim(p), c(nrow(w), 5L), label = lab)
    expect_true(all(is.na(p[c(3, 40), ])), label = lab)
    expect_equal(unname(p[-c(3, 40), ]), unname(predict(fo_, type = "response")), label = lab)
    expect_length(predict(fe, type = "link"), nrow(w))
    expect_length(predict(fe, type = "class"), nrow(w))
    s <- predict(fe, type = "link", se.fit = TRUE)
    expect_length(s$fit, nrow(w))
    expect_length(s$se.fit, nrow(w))
    f <- fitted(fe)
    expect_length(f, nrow(w))
    expect_true(all(is.na(f[c(3, 40)])))
    expect_equal(unname(f[-c(3, 40)]), unname(fitted(fo_)), label = lab)
  }
})

test_that("predict() of a cumulative link mixed model is conditional on the clusters by default, as fitted()", {
  f <- glmm(rating ~ temp + contact + (1 | judge), data = ordinal::wine, family = cumulative(),
            nAGQ = 5)
  P <- predict(f, type = "prob")
  # the default was re.form = NA (b = 0), so that predict() and fitted()
  # disagreed on the same row
  expect_equal(unname(P[cbind(seq_len(nrow(P)), as.integer(ordinal::wine$rating))]),
               unname(fitted(f)), tolerance = 1e-12)
  expect_equal(P, predict(f, type = "prob", re.form = NULL))
  expect_equal(predict(f, type = "prob", re.form = ~ 0), predict(f, type = "prob", re.form = NA))
  expect_equal(predict(f, type = "prob", re.form = ~ (1 | judge)), P)
  expect_error(predict(f, re.form = ~ (1 | bottle)), "not in the model")
  nd <- ordinal::wine[1:3, ]
  nd$judge <- factor("new")
  expect_error(predict(f, nd), "allow.new.levels")
  # The population average's nodes: a whole number from 10 to 200 (one node
  # returned the b = 0 probabilities, 1.5 was truncated, 0 stopped in C++),
  # and an error where the type does not use them.
  for (bad in list(1, 1.5, 0, -3, 201, NA, "a"))
    expect_error(predict(f, type = "prob_marginal", nAGQ = bad), "'nAGQ'.*from 10 to 200")
  expect_error(predict(f, type = "prob", nAGQ = 20), "'nAGQ'.*\"prob_marginal\" only")
  # 30 nodes (the default) against an adaptive one-dimensional integral
  s <- f$sigma_re
  eta <- predict(f, type = "linear", re.form = NA)[1]
  ref <- vapply(1:5, function(k) stats::integrate(function(b) {
    cp <- plogis(outer(f$thresholds, eta + b, "-"))
    (rbind(cp, 1)[k, ] - rbind(0, cp)[k, ]) * dnorm(b, 0, s)
  }, -Inf, Inf, rel.tol = 1e-12)$value, 0)
  expect_equal(unname(predict(f, type = "prob_marginal")[1, ]), ref, tolerance = 1e-9)
  expect_equal(unname(predict(f, type = "prob_marginal", nAGQ = 60)[1, ]), ref, tolerance = 1e-12)
})

test_that("ordinal predict() on data without rows, and the rows of slope fits", {
  w <- ordinal::wine
  fits <- list(one = glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative()),
               slopes = suppressWarnings(glmm(rating ~ temp + contact + (1 + contact | judge),
                                              data = w, family = cumulative())),
               terms = suppressWarnings(glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle),
                                             data = w, family = cumulative())))
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # no rows stopped with "length of 'dimnames' [2] not equal to array extent"
    for (ty in c("prob", "prob_marginal")) {
      p <- predict(f, w[0, ], type = ty, re.form = NA, se.fit = TRUE)
      expect_identical(dim(p$fit), c(0L, 5L), label = paste(nm, ty))
      expect_identical(dim(p$se.fit), c(0L, 5L), label = paste(nm, ty))
    }
    expect_length(predict(f, w[0, ], type = "linear", re.form = NA), 0L)
    expect_length(predict(f, w[0, ], type = "class", re.form = NA), 0L)
  }
  # the rows of a slope fit's probabilities were named by their cluster
  # ("1", "1", ...): none on the fit's rows, the data's on newdata
  expect_null(rownames(predict(fits$slopes, type = "prob")))
  expect_identical(rownames(predict(fits$slopes, w[3:5, ], type = "prob")), c("3", "4", "5"))
})

test_that("predict(newdata = ) adds the fit's 'offset =' argument on every ordinal route", {
  skip_if_not_installed("ordinal")
  w <- wine_with_offset()
  fits <- wine_offset_fits(w)
  with_term <- wine_offset_fits(w, as_term = TRUE)
  for (nm in names(fits)) {
    f <- fits[[nm]]
    # The fit's own rows as newdata: the argument was dropped (1.7 off on
    # the link scale), an offset() term was not.
    # (predict() of the fitted rows has no row names)
    expect_identical(unname(predict(f, newdata = w, type = "link")), predict(f, type = "link"),
                     label = nm)
    expect_identical(unname(predict(f, newdata = w, type = "prob", re.form = NA)),
                     unname(predict(f, type = "prob", re.form = NA)), label = nm)
    expect_equal(predict(f, newdata = w[1:5, ], type = "link"),
                 predict(with_term[[nm]], newdata = w[1:5, ], type = "link"), tolerance = 1e-6,
                 label = nm)
  }
  # The ordinal GEE builds new data's offset the same way.
  g <- gee(rating ~ temp + contact, offset = off, data = w, id = judge, family = cumulative())
  expect_identical(unname(predict(g, newdata = w, type = "linear")), unname(predict(g, type = "linear")))
})

test_that("random slopes: predict(newdata = ) codes the slopes' design as the fit did", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  w$x <- 50 + 10 * sin(seq_len(nrow(w)))
  s3 <- suppressWarnings(glmm(rating ~ temp + scale(x) + (1 + scale(x) | judge), data = w,
                              family = cumulative(), nAGQ = 1))  # (singular)
  # scale(x) of the slope was recomputed on the new rows (other numbers),
  # and one row gave "non-conformable arrays".
  lp <- predict(s3, type = "link")
  expect_identical(unname(predict(s3, newdata = w[5:6, ], type = "link")), lp[5:6])
  expect_identical(unname(predict(s3, newdata = w[5, ], type = "link")), lp[5])
  expect_identical(predict(s3, newdata = w[5:6, ], type = "prob_marginal"),
                   predict(s3, newdata = w, type = "prob_marginal")[5:6, ])
  expect_equal(unname(predict(s3, newdata = w[5:6, ], type = "prob_marginal")),
               unname(predict(s3, type = "prob_marginal")[5:6, ]), tolerance = 1e-14)
  # A factor slope with one level, or its levels in another order, in
  # newdata: raw errors of model.matrix() before.
  s <- glmm(rating ~ temp + contact + (1 + temp | judge), data = w, family = cumulative(), nAGQ = 1)
  p <- predict(s, type = "link")  # (no names)
  nd <- w[1, ]
  nd$temp <- factor("cold")
  expect_identical(unname(predict(s, newdata = nd, type = "link")), p[1])
  nd <- w[c(9, 12), ]
  nd$temp <- factor(as.character(nd$temp), levels = c("warm", "cold"))
  expect_identical(unname(predict(s, newdata = nd, type = "link")), p[c(9, 12)])
  nd$temp <- factor(c("warm", "hot"))
  expect_error(predict(s, newdata = nd), "level\\(s\\) of the factor 'temp'.*not in the fit: 'hot'")
  # A missing slope variable: an NA prediction, as a missing fixed-effect
  # variable gives ("non-conformable arrays" before).
  nd <- w[9:11, ]
  nd$temp[2] <- NA
  pl <- predict(s, newdata = nd, type = "link")
  expect_identical(unname(pl[-2]), p[c(9, 11)])
  expect_true(is.na(pl[[2]]))
  pm <- predict(s, newdata = nd, type = "prob_marginal")
  expect_true(all(is.na(pm[2, ])))
  expect_identical(pm[-2, ], predict(s, newdata = w[c(9, 11), ], type = "prob_marginal"))
})
