# The fit checked against the estimating equations and published formulas,
# computed independently here with plain R matrix algebra.

# Per-cluster pieces at the fit's estimates: D_i, V_i (with phi), residuals.
ref_clusters <- function(f, pos) {
  X <- model.matrix(f); fam <- family(f)
  eta <- f$linear.predictors; mu <- f$fitted.values
  w <- f$prior.weights; y <- f$y
  keep <- w > 0
  ids <- split(which(keep), f$id[keep])
  lapply(ids, function(r) {
    r <- r[order(pos[r])]
    A <- fam$variance(mu[r]) / w[r]
    Rw <- f$working.correlation[pos[r], pos[r], drop = FALSE]
    list(D = fam$mu.eta(eta[r]) * X[r, , drop = FALSE],
         V = f$scale * sqrt(A) * t(sqrt(A) * Rw),  # phi A^1/2 R A^1/2
         res = y[r] - mu[r],
         e = (y[r] - mu[r]) / sqrt(A),              # weighted Pearson residual
         pos = pos[r])
  })
}

ref_sandwich <- function(cls) {
  H <- Reduce(`+`, lapply(cls, function(c) crossprod(c$D, solve(c$V, c$D))))
  U <- lapply(cls, function(c) crossprod(c$D, solve(c$V, c$res)))
  B <- Reduce(`+`, lapply(U, tcrossprod))
  Hi <- solve(H)
  list(H = H, Hinv = Hi, U = Reduce(`+`, U), robust = Hi %*% B %*% Hi)
}

test_that("unstructured and m-dependent fits with missing visits solve their equations", {
  d <- sim_gee_data(M = 200, family = "binomial", seed = 21)
  d$w <- 1
  for (cs in c("unstructured", "mdep", "ar1", "exchangeable")) {
    f <- gee(y ~ x1 + x2, id = id, waves = wave, data = shuffle_rows(d), family = binomial,
             corstr = cs, Mv = if (cs == "mdep") 2 else 1, epsilon = 1e-12)
    pos <- f$engine$data$wave
    cls <- ref_clusters(f, pos)
    s <- ref_sandwich(cls)
    # the scoring step at the solution is nil
    expect_lt(max(abs(s$Hinv %*% s$U)), 1e-8)
    expect_equal(unname(vcov(f)), unname(s$robust), tolerance = 1e-8, info = cs)
    expect_equal(unname(vcov(f, type = "model")), unname(s$Hinv), tolerance = 1e-8, info = cs)
    # scale: mean squared Pearson residual
    e <- unlist(lapply(cls, `[[`, "e"))
    expect_equal(f$scale, sum(e^2) / length(e), tolerance = 1e-10)
    # correlation moments over within-cluster pairs
    pr <- do.call(rbind, lapply(cls, function(c) {
      if (length(c$e) < 2) return(NULL)
      ij <- t(utils::combn(length(c$e), 2))
      data.frame(a = c$pos[ij[, 1]], b = c$pos[ij[, 2]], z = c$e[ij[, 1]] * c$e[ij[, 2]] / f$scale)
    }))
    lag <- pr$b - pr$a
    if (cs == "unstructured") {
      m <- c(tapply(pr$z, paste0("alpha.", pr$a, ":", pr$b), mean))
      expect_equal(unname(f$alpha[names(m)]), unname(m), tolerance = 1e-10)
      expect_true(all(is.na(f$alpha[setdiff(names(f$alpha), names(m))])))
    } else if (cs == "mdep") {
      expect_equal(unname(f$alpha), unname(c(tapply(pr$z, lag, mean))[c("1", "2")]),
                   tolerance = 1e-10)
    } else if (cs == "exchangeable") {
      expect_equal(unname(f$alpha), mean(pr$z), tolerance = 1e-10)
    } else {
      g <- function(a) sum(lag * a^(lag - 1) * (pr$z - a^lag))
      root <- uniroot(g, f$alpha + c(-0.2, 0.2), tol = 1e-14)$root
      expect_equal(unname(f$alpha), root, tolerance = 1e-8)
    }
  }
})

test_that("non-unit weights follow the documented weighted-residual moments", {
  d <- sim_gee_data(M = 150, family = "poisson", seed = 31)
  d$w <- runif(nrow(d), 0.5, 3)
  f <- gee(y ~ x1 + x2, id = id, waves = wave, data = d, family = poisson, weights = w,
           corstr = "exchangeable", epsilon = 1e-12)
  cls <- ref_clusters(f, f$engine$data$wave)
  s <- ref_sandwich(cls)
  expect_lt(max(abs(s$Hinv %*% s$U)), 1e-8)
  expect_equal(unname(vcov(f)), unname(s$robust), tolerance = 1e-8)
  e <- unlist(lapply(cls, `[[`, "e"))
  expect_equal(f$scale, mean(e^2), tolerance = 1e-10)
  z <- unlist(lapply(cls, function(c) { if (length(c$e) < 2) return(NULL)
    ij <- t(utils::combn(length(c$e), 2)); c$e[ij[, 1]] * c$e[ij[, 2]] }))
  expect_equal(unname(f$alpha), mean(z) / f$scale, tolerance = 1e-10)
})

test_that("Mancl-DeRouen and Kauermann-Carroll sandwiches match their formulas", {
  d <- sim_gee_data(M = 25, T = 5, family = "binomial", seed = 41)
  for (cs in c("exchangeable", "ar1", "independence")) {
    f <- gee(y ~ x1 + x2, id = id, waves = wave, data = shuffle_rows(d), family = binomial,
             corstr = cs, std.err = "md", epsilon = 1e-12)
    cls <- ref_clusters(f, f$engine$data$wave)
    s <- ref_sandwich(cls)
    meat <- function(pow) Reduce(`+`, lapply(cls, function(c) {
      Vi <- solve(c$V)
      Hii <- c$D %*% s$Hinv %*% t(c$D) %*% Vi   # leverage, not symmetric
      M <- diag(nrow(Hii)) - Hii
      if (pow == 1) {
        Fi <- solve(M)
      } else {                                   # principal inverse square root
        ev <- eigen(M)
        Fi <- Re(ev$vectors %*% diag(1 / sqrt(ev$values), length(ev$values)) %*% solve(ev$vectors))
      }
      u <- t(c$D) %*% Vi %*% Fi %*% c$res
      tcrossprod(u)
    }))
    md <- s$Hinv %*% meat(1) %*% s$Hinv
    kc <- s$Hinv %*% meat(0.5) %*% s$Hinv
    expect_equal(unname(vcov(f)), unname(md), tolerance = 1e-8, info = cs)
    expect_equal(unname(vcov(f, type = "kc")), unname(kc), tolerance = 1e-8, info = cs)
    # corrections inflate the sandwich here
    expect_true(all(diag(vcov(f, type = "kc")) > diag(vcov(f, type = "san.se"))))
    expect_true(all(diag(vcov(f, type = "md")) > diag(vcov(f, type = "kc"))))
  }
})

test_that("independence GEE equals glm, with weights, cbind() and offsets", {
  tight_glm <- glm.control(epsilon = 1e-14, maxit = 100)  # glm's default stops early
  d <- sim_gee_data(M = 100, family = "poisson", seed = 51)
  ds <- shuffle_rows(d)
  g <- glm(y ~ x1 + x2 + offset(log(expo)), family = poisson, data = d, control = tight_glm)
  f <- gee(y ~ x1 + x2 + offset(log(expo)), id = id, data = ds, family = poisson)
  expect_equal(coef(f), coef(g), tolerance = 1e-8)
  expect_equal(unname(vcov(f, type = "model")),
               unname(summary(g)$cov.unscaled * f$scale), tolerance = 1e-8)
  # offset argument instead of an offset() term
  f2 <- gee(y ~ x1 + x2, id = id, data = ds, family = poisson, offset = log(expo))
  expect_equal(coef(f2), coef(g), tolerance = 1e-8)

  set.seed(2)
  b <- data.frame(id = rep(1:60, each = 3), x = rnorm(180), n = sample(2:9, 180, TRUE))
  b$s <- rbinom(180, b$n, plogis(-0.2 + 0.7 * b$x))
  for (lk in c("logit", "probit", "cloglog")) {
    g <- glm(cbind(s, n - s) ~ x, family = binomial(lk), data = b, control = tight_glm)
    f <- gee(cbind(s, n - s) ~ x, id = id, data = shuffle_rows(b), family = binomial(lk))
    expect_equal(coef(f), coef(g), tolerance = 1e-8, info = lk)
    fw <- gee(s / n ~ x, id = id, weights = n, data = b, family = binomial(lk))
    expect_equal(coef(fw), coef(g), tolerance = 1e-8, info = lk)
  }
  dg <- sim_gee_data(family = "gaussian", seed = 52)
  dg$w <- runif(nrow(dg), 0.2, 2)
  g <- lm(y ~ x1 * x2, weights = w, data = dg)
  f <- gee(y ~ x1 * x2, id = id, weights = w, data = shuffle_rows(dg))
  expect_equal(coef(f), coef(g), tolerance = 1e-8)
  # zero weights drop rows, as subset does
  dg$w[1:30] <- 0
  f0 <- gee(y ~ x1, id = id, weights = w, data = dg, corstr = "exchangeable")
  f1 <- gee(y ~ x1, id = id, weights = w, data = dg, subset = w > 0, corstr = "exchangeable")
  expect_equal(coef(f0), coef(f1), tolerance = 1e-10)
  expect_equal(nobs(f0), sum(dg$w > 0))
})

test_that("QIC, QICu and CIC follow Pan (2001) and Hin & Wang (2009)", {
  d <- sim_gee_data(M = 80, family = "binomial", seed = 61)
  f <- gee(y ~ x1 + x2, id = id, waves = wave, data = d, family = binomial, corstr = "ar1")
  mu <- fitted(f); y <- d$y
  Q <- sum(y * log(mu) + (1 - y) * log(1 - mu))
  X <- model.matrix(f)
  OmegaI <- crossprod(X, mu * (1 - mu) * X)
  cic <- sum(diag(OmegaI %*% vcov(f, type = "san.se")))
  q <- QIC(f)
  expect_equal(unname(q["QuasiLik"]), Q, tolerance = 1e-10)
  expect_equal(unname(q["CIC"]), cic, tolerance = 1e-8)
  expect_equal(unname(q["QIC"]), -2 * Q + 2 * cic, tolerance = 1e-8)
  expect_equal(unname(q["QICu"]), -2 * Q + 2 * 3, tolerance = 1e-10)
  fi <- gee(y ~ x1 + x2, id = id, waves = wave, data = d, family = binomial)
  tab <- QIC(fi, f)
  expect_equal(dim(tab), c(2L, 5L))
  expect_equal(unname(tab[2, ]), unname(q))
  # gaussian: the quasi-likelihood is scaled by the fit's scale
  dg <- sim_gee_data(family = "gaussian", seed = 62)
  fg <- gee(y ~ x1, id = id, data = dg, corstr = "exchangeable")
  expect_equal(unname(QIC(fg)["QuasiLik"]),
               -sum((dg$y - fitted(fg))^2) / (2 * fg$scale), tolerance = 1e-10)
})

test_that("generalized score test matches its formula (Boos 1992)", {
  d <- sim_gee_data(M = 120, family = "poisson", seed = 71)
  f0 <- gee(y ~ x1, id = id, data = d, family = poisson)
  f1 <- gee(y ~ x1 + x2 + wave, id = id, data = d, family = poisson)
  a <- anova(f0, f1, test = "score")
  # reference: independence poisson, U_i = X_i'(y_i - mu_i) at the restricted fit
  X <- model.matrix(f1); mu <- fitted(f0)
  Ui <- rowsum(X * (d$y - mu), d$id)
  H <- crossprod(X, mu * X) / f0$scale
  Hinv <- solve(H)
  U <- colSums(Ui) / f0$scale; B <- crossprod(Ui) / f0$scale^2
  j <- 3:4
  aa <- (Hinv %*% U)[j]
  Tref <- drop(crossprod(aa, solve((Hinv %*% B %*% Hinv)[j, j], aa)))
  expect_equal(a$Chisq[2], Tref, tolerance = 1e-8)
  expect_equal(a$Df[2], 2)
  # generalized Wald test: b2' V22^-1 b2 from the larger fit
  w <- anova(f0, f1)
  b <- coef(f1)[j]; V <- vcov(f1)[j, j]
  expect_equal(w$Chisq[2], drop(crossprod(b, solve(V, b))), tolerance = 1e-10)
  expect_equal(w[["Pr(>Chisq)"]][2], pchisq(w$Chisq[2], 2, lower.tail = FALSE))
})

test_that("m-dependent fits of long clusters with gaps (the banded factorization) solve their equations", {
  set.seed(77)
  d <- do.call(rbind, lapply(1:6, function(i) {
    t <- sort(sample(400, 300))
    data.frame(id = i, wave = t, x = rnorm(300))
  }))
  b <- rnorm(6, sd = 0.5)[d$id]
  d$y <- rpois(nrow(d), exp(0.2 + 0.4 * d$x + b))
  for (m in c(1, 3)) {
    f <- gee(y ~ x, id = id, waves = wave, data = d, family = poisson, corstr = "mdep",
             Mv = m, epsilon = 1e-12)
    s <- ref_sandwich(ref_clusters(f, f$engine$data$wave))
    expect_lt(max(abs(s$Hinv %*% s$U)), 1e-8)
    expect_equal(unname(vcov(f)), unname(s$robust), tolerance = 1e-8, info = m)
  }
})
