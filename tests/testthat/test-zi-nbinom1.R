# Zero-inflated nbinom1 (glmmTMB's family = nbinom1 with a ziformula):
# the engines' generic two-part wrapper (src/families/families-aux.h) around the NB1
# observation model, and the R methods' NB1 zero probability, variance and
# draws.

zinb1_sim <- function(M = 60, ni = 8, seed = 24) {
  set.seed(seed)
  g <- factor(rep(seq_len(M), each = ni))
  x <- stats::rnorm(M * ni)
  w <- stats::rbinom(M * ni, 1, 0.5)
  mu <- exp(0.8 + 0.5 * x + stats::rnorm(M, 0, 0.6)[g])
  phi <- 1.5
  pz <- stats::plogis(-1 + 0.8 * w)
  y <- ifelse(stats::runif(M * ni) < pz, 0, stats::rnbinom(M * ni, size = mu / phi, mu = mu))
  data.frame(g, x, w, y)
}

test_that("the zero-inflated nbinom1 gradient equals numerical differentiation (Laplace, AGHQ and the sparse engine)", {
  skip_if_not_installed("numDeriv")
  d <- zinb1_sim(M = 25, ni = 5)
  nb1_aux_gradient_check(d, 1L)
})

test_that("zero-inflated nbinom1 against glmmTMB: Salamanders, one factor and crossed terms, predict()", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  S <- Salamanders
  nd <- S[rev(seq_len(nrow(S))), ]
  for (f in list(count ~ mined + (1 | site), count ~ mined + (1 | site) + (1 | spp))) {
    ours <- glmm(f, data = S, ziformula = ~ 1, family = glmmgee::nbinom1(), nAGQ = 1)
    ref <- glmmTMB::glmmTMB(f, data = S, ziformula = ~ 1, family = glmmTMB::nbinom1())
    lab <- deparse(f)
    expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6, label = lab)
    expect_equal(attr(logLik(ours), "df"), attr(logLik(ref), "df"))
    th <- ours$theta
    expect_equal(unname(th[seq_len(2)]), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-4,
                 label = lab)
    expect_equal(unname(th[ours$aux$zi_index]), unname(glmmTMB::fixef(ref)$zi), tolerance = 1e-4,
                 label = lab)
    expect_equal(sigma(ours), sigma(ref), tolerance = 1e-4, label = lab)
    for (ty in c("zprob", "conditional", "response")) {
      expect_equal(unname(predict(ours, newdata = nd, type = ty)),
                   unname(predict(ref, newdata = nd, type = ty)), tolerance = 1e-4,
                   label = paste(lab, ty))
      expect_equal(unname(predict(ours, type = ty)), unname(predict(ref, type = ty)),
                   tolerance = 1e-4, label = paste(lab, ty, "fitted"))
    }
    expect_equal(unname(residuals(ours, type = "pearson")),
                 unname(residuals(ref, type = "pearson")), tolerance = 1e-4, label = lab)
    expect_match(ours$aux$family_name, "zero-inflated nbinom1")
    expect_output(print(ours), "log phi")
  }
})

test_that("zero-inflated nbinom1 with a conditional offset (Owls): glmmTMB's fit, offsets in newdata", {
  skip_if_not_installed("glmmTMB")
  data(Owls, package = "glmmTMB", envir = environment())
  f <- SiblingNegotiation ~ FoodTreatment + ArrivalTime + offset(log(BroodSize)) + (1 | Nest)
  ours <- glmm(f, data = Owls, ziformula = ~ 1, family = glmmgee::nbinom1(), nAGQ = 1)
  ref <- glmmTMB::glmmTMB(f, data = Owls, ziformula = ~ 1, family = glmmTMB::nbinom1())
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(ref)), -1e-6)
  expect_equal(unname(ours$theta[1:3]), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-4)
  expect_equal(unname(ours$theta[ours$aux$zi_index]), unname(glmmTMB::fixef(ref)$zi),
               tolerance = 1e-4)
  nd <- Owls[c(5, 50, 300, 599), ]
  nd$BroodSize <- nd$BroodSize + 2
  for (ty in c("conditional", "response", "zprob"))
    expect_equal(unname(predict(ours, newdata = nd, type = ty)),
                 unname(predict(ref, newdata = nd, type = ty)), tolerance = 1e-4, label = ty)
})

test_that("zero-inflated nbinom1 on simulated data: truth recovered, glmmTMB's optimum, AGHQ equals direct integration", {
  d <- zinb1_sim()
  fit <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = glmmgee::nbinom1(), nAGQ = 1)
  est <- c(fit$theta[1:2], fit$theta[fit$aux$zi_index], log(sigma(fit)))
  se <- sqrt(diag(fit$cov_theta))[c(1:2, fit$aux$zi_index, fit$aux$disp_index)]
  truth <- c(0.8, 0.5, -1, 0.8, log(1.5))
  expect_true(all(abs(est - truth) < 4 * se))
  if (requireNamespace("glmmTMB", quietly = TRUE)) {
    ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, ziformula = ~ w,
                            family = glmmTMB::nbinom1())
    expect_gt(as.numeric(logLik(fit)) - as.numeric(logLik(ref)), -1e-6)
    expect_equal(unname(est), unname(c(glmmTMB::fixef(ref)$cond, glmmTMB::fixef(ref)$zi,
                                       log(sigma(ref)))), tolerance = 1e-4)
  }
  # AGHQ: the marginal log-likelihood at its estimates by a fine trapezoid
  # rule over each group's random intercept, from dnbinom() directly
  # (integrate() over a wide range misses the mass of a far mode).
  fa <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = glmmgee::nbinom1(), nAGQ = 9)
  expect_gt(as.numeric(logLik(fa)), as.numeric(logLik(fit)) - 0.05)
  th <- fa$theta
  s <- abs(th[["lambda[1,1]"]])
  pz <- stats::plogis(th[fa$aux$zi_index][1] + th[fa$aux$zi_index][2] * d$w)
  ph <- sigma(fa)
  b <- seq(-8 * s, 8 * s, length.out = 8001)
  ll <- sum(vapply(split(seq_len(nrow(d)), d$g), function(i) {
    mu <- exp(outer(th[1] + th[2] * d$x[i], b, "+"))
    dens <- (1 - pz[i]) * stats::dnbinom(d$y[i], size = mu / ph, mu = mu) + pz[i] * (d$y[i] == 0)
    v <- exp(colSums(log(dens))) * stats::dnorm(b, 0, s)
    log(sum((v[-1] + v[-length(v)]) / 2) * (b[2] - b[1]))
  }, 0))
  expect_equal(as.numeric(logLik(fa)), ll, tolerance = 1e-6)
})

test_that("simulate() of zero-inflated nbinom1 draws the fitted mean and variance", {
  d <- zinb1_sim(M = 40, ni = 6, seed = 7)
  fit <- glmm(y ~ x + (1 | g), data = d, ziformula = ~ 1, family = glmmgee::nbinom1(), nAGQ = 1)
  Y <- as.matrix(simulate(fit, nsim = 2000, seed = 3, re.form = NULL))
  expect_identical(Y, as.matrix(simulate(fit, nsim = 2000, seed = 3, re.form = NULL)))
  m <- exp(predict(fit, type = "link"))
  pz <- predict(fit, type = "zprob")
  ph <- sigma(fit)
  v <- (1 - pz) * m * (1 + ph + pz * m)
  mf <- predict(fit, type = "response")
  expect_equal(unname(mf), unname((1 - pz) * m), tolerance = 1e-12)
  z <- (rowMeans(Y) - mf) / sqrt(v / ncol(Y))
  expect_lt(abs(mean(z)), 4 / sqrt(length(z)))
  expect_lt(abs(stats::sd(z) - 1), 0.2)
  expect_lt(abs(mean(apply(Y, 1, stats::var) / v) - 1), 0.03)
  expect_equal(mean(Y == 0), mean(pz + (1 - pz) * (1 + ph)^(-m / ph)), tolerance = 0.02)
  # New random effects: the right size, whole non-negative numbers.
  Y2 <- as.matrix(simulate(fit, nsim = 3, seed = 1))
  expect_equal(dim(Y2), c(nrow(d), 3L))
  expect_true(all(Y2 >= 0 & Y2 == round(Y2)))
})

