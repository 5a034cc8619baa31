# gee() and QIC(): a covariate in extreme units or far from zero (x * 1e-6
# - 5, no intercept with a factor spanning the constant) fits as the
# covariate near zero, and as geepack.

test_that("gee() takes x * 1e-6 - 5 (was 'linearly dependent') and its fit is the fit on x", {
  # The rank check read X'X, where such a column equals a multiple of the
  # intercept's to 1e-13; then the sandwich was up to 3% off. geepack
  # fits the column; on x its figures are gee()'s.
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$yb <- rbinom(nrow(s), 1, plogis((s$Reaction - 300) / 50 + 0.5 * s$x))
  s$x2 <- s$x * 1e-6 - 5
  s$wave <- s$Days + 1
  for (fam in c("gaussian", "binomial")) for (cs in c("independence", "exchangeable", "ar1")) {
    yv <- if (fam == "gaussian") "Reaction" else "yb"
    fit <- function(v) gee(as.formula(paste(yv, "~ Days +", v)), id = Subject, data = s,
                           family = get(fam)(), corstr = cs, waves = wave)
    a <- fit("x")
    b <- fit("x2")
    expect_equal(unname(coef(b)["x2"]) * 1e-6, unname(coef(a)["x"]), tolerance = 1e-8)
    expect_equal(unname(sqrt(vcov(b)["x2", "x2"])) * 1e-6, unname(sqrt(vcov(a)["x", "x"])),
                 tolerance = 1e-8)
    expect_equal(unname(b$alpha), unname(a$alpha), tolerance = 1e-8)
    skip_if_not_installed("geepack")
    pk <- geepack::geeglm(as.formula(paste(yv, "~ Days + x")), id = Subject, data = s,
                          family = get(fam)(), corstr = cs, waves = wave)
    expect_equal(unname(sqrt(vcov(b)["x2", "x2"])) * 1e-6,
                 unname(summary(pk)$coefficients["x", 2]), tolerance = 1e-5)
  }
  # A column that is a multiple of another is still refused.
  s$x5 <- 2 * s$Days
  expect_error(gee(Reaction ~ Days + x5, id = Subject, data = s), "'x5' is linearly dependent")
})

test_that("QIC() of a gee() fit does not move with a covariate's units and location", {
  # CIC = trace(Omega_I V_R) was taken from the user-scale matrices, where
  # it cancels: with x + 1e4 it was 1.3e-5 relative off.
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  set.seed(5)
  s$x <- rnorm(nrow(s))
  s$cnt <- rpois(nrow(s), exp(1 + 0.3 * s$x))
  s$x2 <- s$x * 1e-6 - 5
  s$x3 <- s$x + 1e4
  q <- lapply(c("x", "x2", "x3"), function(v)
    QIC(gee(as.formula(paste("cnt ~ Days +", v)), id = Subject, data = s, family = poisson,
            corstr = "exchangeable")))
  expect_equal(q[[2]], q[[1]], tolerance = 1e-8)
  expect_equal(q[[3]], q[[1]], tolerance = 1e-8)
  # On x it is trace(Omega_I V_R) from the stored matrices, as before.
  a <- gee(cnt ~ Days + x, id = Subject, data = s, family = poisson, corstr = "exchangeable")
  expect_equal(unname(q[[1]]["CIC"]), sum(diag(a$info.indep %*% vcov(a))), tolerance = 1e-12)
})

test_that("gee() without an intercept, a factor spanning the constant: x * 1e-6 - 5 fits as x does, and as geepack", {
  # Refused before ("'x2' is linearly dependent on the other columns"): the
  # centring of x2 needed a constant column.
  set.seed(285)
  n <- 300
  d <- data.frame(id = rep(1:60, each = 5), f = factor(sample(c("a", "b", "c"), n, TRUE)),
                  x = rnorm(n))
  d$y <- rbinom(n, 1, plogis(0.3 * d$x + c(a = -0.5, b = 0, c = 0.5)[d$f]))
  d$x2 <- d$x * 1e-6 - 5
  for (fm in list(y ~ 0 + f + X, y ~ 0 + X + f)) {
    g1 <- gee(as.formula(sub("X", "x", deparse(fm))), d, id = id, family = binomial,
              corstr = "exchangeable")
    g2 <- gee(as.formula(sub("X", "x2", deparse(fm))), d, id = id, family = binomial,
              corstr = "exchangeable")
    j <- match(c("x", "x2"), c(names(coef(g1)), names(coef(g2))))
    fs <- grep("^f", names(coef(g1)))
    b1 <- coef(g1)
    # x2 = x 1e-6 - 5: the slope times 1e6, each level's coefficient the
    # value at x = 5e6.
    expect_equal(unname(coef(g2)["x2"]) * 1e-6, unname(b1["x"]), tolerance = 1e-8)
    expect_equal(unname(coef(g2)[fs]), unname(b1[fs] + 5e6 * b1["x"]), tolerance = 1e-9)
    A <- diag(1, 4)
    A[fs, names(b1) == "x"] <- 5e6
    A[names(b1) == "x", names(b1) == "x"] <- 1e6
    expect_equal(unname(vcov(g2)), unname(A %*% vcov(g1) %*% t(A)), tolerance = 1e-7)
    expect_equal(g2$alpha, g1$alpha, tolerance = 1e-8)
    skip_if_not_installed("geepack")
    gp <- geepack::geeglm(as.formula(sub("X", "x", deparse(fm))), data = d, id = id,
                          family = binomial, corstr = "exchangeable",
                          control = geepack::geese.control(epsilon = 1e-12, maxit = 100))
    expect_equal(unname(b1), unname(coef(gp)), tolerance = 1e-7)
    expect_equal(unname(coef(g2)[fs]), unname(coef(gp)[fs] + 5e6 * coef(gp)["x"]),
                 tolerance = 1e-6)
    expect_equal(sqrt(diag(vcov(g1))), sqrt(diag(vcov(gp))), tolerance = 1e-5)
  }
})
