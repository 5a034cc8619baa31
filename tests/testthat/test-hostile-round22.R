# Reproducers from hostile testing of the issue-15 families and model parts
# (round 22): each failed before its fix.

gamma_identity_data <- function() {
  set.seed(2)
  g <- rep(1:30, each = 8)
  x <- runif(240)
  mu <- 5 + 2 * x + rnorm(30, 0, 1)[g]
  data.frame(y = rgamma(240, shape = 4, rate = 4 / mu), x = x, g = g)
}

test_that("Gamma with the identity link: quadrature nodes with a mean <= 0 give Laplace, not an nlminb error", {
  # The default nAGQ (11) switched on at the Laplace optimum put nodes of
  # low clusters at a negative mean: NaN log-likelihood, and nlminb stopped
  # with "NA/NaN gradient evaluation".
  skip_if_not_installed("glmmTMB")
  d <- gamma_identity_data()
  expect_warning(f <- glmm(y ~ x + (1 | g), data = d, family = Gamma("identity")),
                 "outside the family's support.*fitted by Laplace")
  expect_identical(f$nAGQ, 1L)
  ref <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, family = Gamma("identity"))
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(ref)), tolerance = 1e-6)
  expect_equal(unname(fixef(f)), unname(glmmTMB::fixef(ref)$cond), tolerance = 1e-4)
  # Asked for explicitly, quadrature is refused with the reason and the advice.
  expect_error(glmm(y ~ x + (1 | g), data = d, family = Gamma("identity"), nAGQ = 11),
               "nAGQ = 11 puts nodes where the mean is outside.*nAGQ = 1")
})

test_that("predict(newdata =) of a two-part fit keeps the basis of ns() / poly() in ziformula and dispformula", {
  # The zero and dispersion parts' terms had no predvars: on new rows ns()
  # and poly() were recomputed from those rows, and the zero probabilities
  # came out silently different (0.099 instead of 0.131 on the first row).
  data(Owls, package = "glmmTMB")
  nd <- Owls[c(1, 5, 40, 300), ]
  f <- glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest),
            ziformula = ~ splines::ns(ArrivalTime, 2), data = Owls, family = poisson)
  for (type in c("response", "zprob", "zlink"))
    expect_equal(unname(predict(f, newdata = nd, type = type)),
                 unname(predict(f, type = type)[c(1, 5, 40, 300)]), tolerance = 1e-10,
                 info = type)
  data(sleepstudy, package = "lme4")
  g <- glmm(Reaction ~ Days + (1 | Subject), dispformula = ~ poly(Days, 2), data = sleepstudy)
  expect_equal(unname(predict(g, newdata = sleepstudy[c(2, 13, 30), ], type = "disp")),
               unname(predict(g, type = "disp")[c(2, 13, 30)]), tolerance = 1e-10)
})
