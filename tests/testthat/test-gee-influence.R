# Influence diagnostics of gee fits: leverage, dfbeta and Cook's distance per
# cluster and per observation. Under an independence working correlation
# they are the glm's (stats::influence.measures()); with a correlation they
# equal an exact deletion computation written here and glmtoolbox's.

test_that("with an independence working correlation the measures are the glm's", {
  skip_if_not_installed("MASS")
  ctl <- gee_control(epsilon = 1e-13, maxit = 100)
  # gaussian: Pearson and deviance residuals coincide, so dfbeta is the glm's too
  d <- MASS::epil
  fg <- gee(log(y + 1) ~ lbase + trt + lage + V4, data = d, id = subject, control = ctl)
  g <- glm(log(y + 1) ~ lbase + trt + lage + V4, data = d)
  im <- influence.measures(g)$infmat
  expect_equal(unname(hatvalues(fg, level = "observation")), unname(im[, "hat"]), tolerance = 1e-10)
  expect_equal(unname(dfbeta(fg, level = "observation")), unname(dfbeta(g)), tolerance = 1e-10)
  # Cook's distance with the model-based variance, the glm's dispersion
  # (residual df) in place of the GEE's moment scale (n)
  cd <- cooks.distance(fg, level = "observation", type = "model") * fg$scale / summary(g)$dispersion
  expect_equal(unname(cd), unname(im[, "cook.d"]), tolerance = 1e-10)
  # poisson: the glm's dfbeta takes deviance residuals, these Pearson ones
  fp <- gee(y ~ lbase + trt + lage + V4, data = d, id = subject, family = poisson, control = ctl)
  gp <- glm(y ~ lbase + trt + lage + V4, data = d, family = quasipoisson,
            control = glm.control(epsilon = 1e-14, maxit = 100))
  expect_equal(unname(hatvalues(fp, level = "observation")), unname(hatvalues(gp)), tolerance = 1e-9)
  ratio <- residuals(gp, "deviance") / residuals(gp, "pearson")
  expect_equal(unname(dfbeta(fp, level = "observation") * ratio), unname(dfbeta(gp)),
               tolerance = 1e-8)
  cdp <- cooks.distance(fp, level = "observation", type = "model") * fp$scale / summary(gp)$dispersion
  expect_equal(unname(cdp), unname(cooks.distance(gp)), tolerance = 1e-8)
  expect_equal(names(cdp), rownames(d))
  # cluster level: leverage is the sum of the cluster's observations'
  expect_equal(unname(hatvalues(fp)),
               as.vector(tapply(hatvalues(fp, level = "observation"), d$subject, sum)), tolerance = 1e-12)
  expect_equal(sum(hatvalues(fp)), 5, tolerance = 1e-10)
})

test_that("with a working correlation dfbeta is the one-step deletion of Preisser and Qaqish", {
  skip_if_not_installed("MASS")
  d <- MASS::epil
  d <- d[order(d$subject, d$period), ]
  fit <- gee(y ~ lbase + trt + lage + V4, data = d, id = subject, family = poisson,
             corstr = "exchangeable", control = gee_control(epsilon = 1e-12))
  # One scoring step from beta without cluster i (alpha, phi held), where
  # the full estimating function is zero: beta - beta_(i) = (H - H_i)^-1 U_i.
  X <- model.matrix(~ lbase + trt + lage + V4, d)
  b <- coef(fit); a <- unname(fit$alpha)
  mu <- drop(exp(X %*% b))
  pieces <- lapply(split(seq_len(nrow(d)), d$subject), function(r) {
    R <- matrix(a, 4, 4); diag(R) <- 1
    A <- diag(mu[r])
    Vi <- solve(sqrt(A) %*% R %*% sqrt(A))
    D <- A %*% X[r, ]
    list(H = t(D) %*% Vi %*% D, U = t(D) %*% Vi %*% (d$y[r] - mu[r]))
  })
  H <- Reduce(`+`, lapply(pieces, `[[`, "H"))
  onestep <- t(vapply(pieces, function(pc) drop(solve(H - pc$H, pc$U)), numeric(5)))
  expect_equal(unname(dfbeta(fit)), unname(onestep), tolerance = 1e-10)
  expect_equal(rownames(dfbeta(fit)), as.character(sort(unique(d$subject))))
  # Cook's distance from dfbeta and the chosen variance
  V <- vcov(fit, type = "md")
  dd <- dfbeta(fit)
  expect_equal(unname(cooks.distance(fit, type = "md")),
               unname(rowSums((dd %*% solve(V)) * dd) / 5), tolerance = 1e-12)
  # observation level: the deletion of one observation, by the same formula
  # with its residual and derivative conditional on the rest of the cluster
  r <- which(d$subject == d$subject[1])
  R <- matrix(a, 4, 4); diag(R) <- 1
  A <- diag(mu[r]); V1 <- sqrt(A) %*% R %*% sqrt(A); D1 <- A %*% X[r, ]; e1 <- d$y[r] - mu[r]
  Hinv <- solve(H)
  j <- 2
  w <- V1[j, -j] %*% solve(V1[-j, -j])
  Dt <- D1[j, ] - w %*% D1[-j, ]; rt <- e1[j] - w %*% e1[-j]; vt <- drop(V1[j, j] - w %*% V1[-j, j])
  ht <- drop(Dt %*% Hinv %*% t(Dt)) / vt
  ref <- drop(Hinv %*% t(Dt)) * drop(rt) / (vt * (1 - ht))
  expect_equal(unname(dfbeta(fit, level = "observation")[r[j], ]), unname(ref), tolerance = 1e-10)
})

test_that("the measures equal glmtoolbox's on its examples", {
  skip_if_not_installed("glmtoolbox")
  for (nm in names(cs <- gtb_cases())) {
    pr <- gtb_pair(cs[[nm]])
    for (lv in c("cluster", "observation")) {
      glv <- paste0(lv, "s")
      expect_equal(unname(hatvalues(pr$fit, level = lv)),
                   unname(drop(glmtoolbox::leverage(pr$ref, level = glv))), tolerance = 1e-6,
                   info = paste(nm, lv))
      expect_equal(unname(dfbeta(pr$fit, level = lv)), unname(dfbeta(pr$ref, level = glv)),
                   tolerance = 1e-6, info = paste(nm, lv))
      expect_equal(unname(cooks.distance(pr$fit, level = lv, type = "san.se")),
                   unname(drop(cooks.distance(pr$ref, level = glv))), tolerance = 1e-6,
                   info = paste(nm, lv))
    }
  }
})

test_that("levels and arguments are checked, and the plot draws", {
  skip_if_not_installed("MASS")
  fit <- gee(y ~ lbase + trt, data = MASS::epil, id = subject, family = poisson,
             corstr = "exchangeable")
  expect_error(hatvalues(fit, level = "clust"), "'level' = \"clust\"")
  expect_error(cooks.distance(fit, type = "HC0"), "'type' must be one of")
  expect_error(dfbeta(fit, bogus = 1), "bogus")
  expect_identical(hatvalues(fit, level = "clusters"), hatvalues(fit))
  pdf(NULL)
  on.exit(grDevices::dev.off())
  v <- plot_influence(fit)
  expect_equal(v, cooks.distance(fit))
  expect_equal(plot_influence(fit, "dfbeta", coef = "lbase", level = "observation"),
               dfbeta(fit, level = "observation")[, "lbase"])
  expect_error(plot_influence(fit, "dfbeta", coef = "nope"), "nope")
  expect_error(plot_influence(MASS::epil), "must be a fit from gee")
})
