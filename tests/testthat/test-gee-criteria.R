# Criteria for choosing a GEE's working correlation (gee_criteria()):
# against a computation from their definitions written here, and against
# glmtoolbox's QIC(), CIC(), RJC(), GHYC(), PAC(), AGPC() and SGPC().

test_that("the criteria equal their definitions on the seizure counts", {
  skip_if_not_installed("MASS")
  d <- MASS::epil
  d <- d[order(d$subject, d$period), ]
  X <- model.matrix(~ lbase + trt + lage + V4, d)
  fits <- lapply(c("independence", "exchangeable", "ar1"), function(cs)
    gee(y ~ lbase + trt + lage + V4, data = d, id = subject, family = poisson, corstr = cs))
  tab <- do.call(gee_criteria, fits)
  expect_identical(colnames(tab), c("QIC", "QICu", "CIC", "RJC", "GHYC", "PAC", "GPL", "AGPC",
                                    "SGPC", "params"))
  for (k in seq_along(fits)) {
    f <- fits[[k]]
    expect_equal(tab[k, c("QIC", "QICu", "CIC")], QIC(f)[c("QIC", "QICu", "CIC")])
    a <- if (length(f$alpha)) unname(f$alpha) else 0
    R <- switch(f$corstr, independence = diag(4),
                exchangeable = { m <- matrix(a, 4, 4); diag(m) <- 1; m },
                ar1 = a^abs(outer(1:4, 1:4, "-")))
    mu <- drop(exp(X %*% coef(f)))
    phi <- f$scale
    S <- Vb <- matrix(0, 4, 4); gpl <- 0
    for (r in split(seq_len(nrow(d)), d$subject)) {
      e <- d$y[r] - mu[r]
      V <- phi * diag(sqrt(mu[r])) %*% R %*% diag(sqrt(mu[r]))
      S <- S + e %*% t(e) / 59; Vb <- Vb + V / 59
      gpl <- gpl + 4 * log(2 * pi) + drop(t(e) %*% solve(V) %*% e) + log(det(V))
    }
    A <- S %*% solve(Vb) - diag(4)
    C <- solve(vcov(f, type = "model")) %*% vcov(f, type = "san.se")
    q <- 5 + length(f$alpha)
    ref <- c(RJC = sqrt((1 - sum(diag(C)) / 5)^2 + (1 - sum(diag(C %*% C)) / 5)^2),
             GHYC = sum(diag(A %*% A)), PAC = abs(det(S) / det(Vb) - 1), GPL = gpl,
             AGPC = gpl + 2 * q, SGPC = gpl + log(59) * q, params = q)
    expect_equal(tab[k, names(ref)], ref, tolerance = 1e-10, info = f$corstr)
  }
  expect_equal(unname(gee_criteria(fits[[2]], k = 3)[, "AGPC"]), unname(tab[2, "GPL"] + 3 * 6))
  expect_error(gee_criteria(fits[[1]], K = 3), "'K' is not a fitted model")
  expect_error(gee_criteria(fits[[1]], k = -1), "'k' must be")
})

test_that("the criteria equal glmtoolbox's on its examples", {
  skip_if_not_installed("glmtoolbox")
  for (nm in names(cs <- gtb_cases())) {
    pr <- gtb_pair(cs[[nm]])
    ref <- pr$ref
    ours <- gee_criteria(pr$fit, scale = "estimated")
    # gee()'s fixed working correlation has no parameters, glmtoolbox's fit
    # one: AGPC and SGPC compared through the pseudo-likelihood.
    npar <- pr$p + cs[[nm]]$q
    g <- c(RJC = glmtoolbox::RJC(ref, verbose = FALSE, digits = 15),
           GHYC = glmtoolbox::GHYC(ref, verbose = FALSE, digits = 15),
           PAC = glmtoolbox::PAC(ref, verbose = FALSE, digits = 15),
           GPL = glmtoolbox::AGPC(ref, verbose = FALSE, digits = 15) - 2 * npar,
           # (glmtoolbox's QIC() rounds to three decimals: from its parts)
           QIC = -2 * ref$logLik + 2 * ref$CIC, QICu = -2 * ref$logLik + 2 * pr$p, CIC = ref$CIC)
    expect_equal(ours[1, names(g)], g, tolerance = 1e-6, info = nm)
    expect_equal(unname(glmtoolbox::SGPC(ref, verbose = FALSE, digits = 15)),
                 unname(ours[1, "GPL"] + log(pr$K) * npar), tolerance = 1e-6, info = nm)
    if (!(cs[[nm]]$fam$family %in% c("binomial", "poisson")))
      expect_equal(gee_criteria(pr$fit), ours)
  }
})

test_that("QIC() of several fits with an estimated scale uses one scale, the largest model's", {
  data(dietox, package = "geepack", envir = environment())
  dietox <- dietox[order(dietox$Pig, dietox$Time), ]
  f0 <- gee(Weight ~ 1, id = Pig, data = dietox, corstr = "exchangeable")
  f1 <- gee(Weight ~ Time, id = Pig, data = dietox, corstr = "exchangeable")
  q <- QIC(f0, f1)
  # each fit's own scale made both quasi-likelihoods -N/2 = -430.5, and
  # QIC chose Weight ~ 1 over Weight ~ Time (Wald chi-square 7,604)
  expect_lt(q["f1", "QIC"], q["f0", "QIC"])
  expect_equal(unname(q[, "QuasiLik"]),
               -c(sum((dietox$Weight - fitted(f0))^2), sum((dietox$Weight - fitted(f1))^2)) /
                 (2 * f1$scale), tolerance = 1e-10)
  # one fit alone keeps its own scale
  expect_equal(unname(QIC(f0)["QuasiLik"]), -nrow(dietox) / 2, tolerance = 1e-10)
  expect_equal(q["f1", ], QIC(f1), tolerance = 1e-12)
  # Gamma: a quadratic time trend (Wald chi-square 554) beats pure noise
  set.seed(1)
  dietox$noise <- rnorm(nrow(dietox))
  h <- lapply(list(Weight ~ Time, Weight ~ Time + I(Time^2), Weight ~ Time + noise), function(fo)
    gee(fo, id = Pig, data = dietox, corstr = "exchangeable", family = Gamma("log")))
  qh <- do.call(QIC, h)
  expect_identical(unname(which.min(qh[, "QIC"])), 2L)
  expect_gt(qh[3, "QIC"], qh[1, "QIC"])
})
