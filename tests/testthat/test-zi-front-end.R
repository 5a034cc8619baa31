# The zero-inflated fit's front end after the speed work of issue 15: the
# count part's start by a lean poisson iteration (poisson_irls()), the
# separation check's shortcut for equality rows of full rank, and the
# standard errors against numerical differentiation of the log-likelihood.

test_that("the count part's start is glm.fit()'s poisson fit of the positive counts", {
  set.seed(31)
  n <- 400
  X <- cbind(1, rnorm(n), rbinom(n, 1, 0.4))
  y <- rpois(n, exp(drop(X %*% c(0.4, 0.3, -0.5))))
  w <- runif(n, 0.5, 2)
  off <- rnorm(n, 0, 0.2)
  pos <- y > 0
  g <- suppressWarnings(glm.fit(X[pos, ], y[pos], weights = w[pos], offset = off[pos],
                                family = poisson(), control = glm.control(maxit = 10L)))
  expect_equal(glmmgee:::count_start(X, y, w, off), unname(g$coefficients), tolerance = 1e-8)
  # A rank-deficient design goes to glm.fit(), whose aliased coefficient is set to 0.
  Xd <- cbind(X, X[, 2])
  b <- glmmgee:::count_start(Xd, y, w, off)
  expect_equal(b[4], 0)
  expect_equal(b[1:3], unname(g$coefficients), tolerance = 1e-8)
})

test_that("the separation check's full-rank shortcut agrees with the linear program", {
  set.seed(32)
  n <- 300
  X <- cbind(1, rnorm(n), rbinom(n, 1, 0.5))
  y <- rpois(n, exp(0.2 + 0.4 * X[, 2]))
  fam <- poisson()
  expect_true(glmmgee:::full_column_rank(X, which(y > 0), rep(1, 3)))
  expect_false(glmmgee:::detect_separation(X, y, rep(1, n), fam)$separated)
  sc <- apply(abs(X), 2, max)
  A <- glmmgee:::row_view(X, which(y == 0), rep(-1, sum(y == 0)), sc)
  E <- glmmgee:::row_view(X, which(y > 0), NULL, sc)
  expect_false(glmmgee:::lp_separating_direction(A, E)$separated)
  # All positive counts in one level of a factor: the positive rows are
  # rank deficient, the shortcut declines and the program finds the direction.
  f <- factor(rep(c("a", "b", "c"), length.out = n))
  y2 <- ifelse(f == "c", 0L, rpois(n, 2) + 1L)
  X2 <- model.matrix(~ f)
  expect_false(glmmgee:::full_column_rank(X2, which(y2 > 0), rep(1, 3)))
  sep <- glmmgee:::detect_separation(X2, y2, rep(1, n), fam)
  expect_true(sep$separated)
  expect_true("fc" %in% sep$terms)
})

test_that("Salamanders ZIP: standard errors agree with numDeriv's Hessian of the log-likelihood", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("numDeriv")
  data("Salamanders", package = "glmmTMB", envir = environment())
  fit <- glmm(count ~ spp * mined + (1 | site), data = Salamanders, family = poisson,
              ziformula = ~ spp * mined, nAGQ = 1)
  X <- model.matrix(~ spp * mined, Salamanders)
  n <- nrow(X)
  g <- as.integer(factor(Salamanders$site))
  fam <- glmmgee:::resolve_family(poisson())
  eng <- glmmgee:::cpp_agq_new(X, matrix(1, n, 1), as.numeric(Salamanders$count), rep(1, n),
                               rep(0, n), g, max(g), 0L, 0L, fam$family_code, fam$link_code,
                               1L, 1L)
  on.exit(glmmgee:::cpp_agq_free(eng))
  glmmgee:::cpp_agq_set_aux(eng, 1L, X, rep(0L, ncol(X)), matrix(0, n, 1))
  th <- unname(fit$theta)
  expect_equal(glmmgee:::cpp_agq_eval(eng, th, FALSE)$loglik, fit$loglik, tolerance = 1e-12)
  Hl <- numDeriv::hessian(function(t) glmmgee:::cpp_agq_eval(eng, t, FALSE)$loglik, th)
  Hg <- numDeriv::jacobian(function(t) glmmgee:::cpp_agq_eval(eng, t, TRUE)$gradient, th)
  se <- sqrt(diag(fit$cov_theta))
  # Forward differences of the exact gradient (the finish's Hessian) are
  # accurate to about 1e-4 relative in these standard errors (the least
  # determined, zi~sppEC-L's, SE 3.4); the two numerical references differ
  # from each other by 5e-5 there.
  expect_lt(max(abs(se / sqrt(diag(solve(-Hl))) - 1)), 3e-4)
  expect_lt(max(abs(se / sqrt(diag(solve(-(Hg + t(Hg)) / 2))) - 1)), 3e-4)
})


zi_counts <- function(seed = 1, M = 30, m = 8) {
  set.seed(seed)
  n <- M * m
  d <- data.frame(g = factor(rep(seq_len(M), each = m)), x = rnorm(n))
  mu <- exp(0.5 + 0.4 * d$x + rnorm(M, sd = 0.5)[d$g])
  z <- rbinom(n, 1, plogis(-0.5 + 0.5 * d$x))
  d$y <- ifelse(z == 1, 0, rpois(n, mu))
  d
}

test_that("zero-inflated, hurdle and dispersion fits with na.exclude pad fitted values and residuals", {
  # The count part's predictor came padded and the zero part's not: the
  # stored fitted values were recycled with a warning at fit time, and
  # fitted()/residuals() stopped with a names-length error.
  d <- zi_counts()
  d$x[c(5, 17)] <- NA
  d$y[30] <- NA
  drop <- c(5, 17, 30)
  specs <- list(zip = list(family = poisson, ziformula = ~ x),
                hurdle = list(family = truncated_poisson, ziformula = ~ x),
                penalized = list(family = poisson, ziformula = ~ x, penalized = TRUE),
                disp = list(family = nbinom2, dispformula = ~ x))
  for (info in names(specs)) {
    sp <- specs[[info]]
    ex <- expect_no_warning(do.call(glmm, c(list(y ~ x + (1 | g), d, na.action = na.exclude), sp)))
    om <- do.call(glmm, c(list(y ~ x + (1 | g), d, na.action = na.omit), sp))
    ft <- fitted(ex)
    expect_length(ft, nrow(d))
    expect_equal(unname(which(is.na(ft))), drop, info = info)
    expect_equal(unname(ft[-drop]), unname(fitted(om)), tolerance = 1e-12, info = info)
    r <- residuals(ex)
    expect_length(r, nrow(d))
    expect_equal(unname(r[-drop]), d$y[-drop] - unname(fitted(om)), tolerance = 1e-12, info = info)
    expect_equal(unname(which(is.na(residuals(ex, type = "pearson")))), drop, info = info)
    expect_length(predict(ex, type = "zprob"), nrow(d))
    expect_length(fitted(om), nrow(d) - 3L)
  }
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

test_that("aliased columns in ziformula or dispformula are reported against that formula", {
  # The message spoke of "the fixed-effects model matrix", sending the user
  # to the conditional formula, which was fine.
  data(Owls, package = "glmmTMB")
  O <- Owls
  O$F2 <- O$FoodTreatment
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), ziformula = ~ FoodTreatment + F2,
                    data = O, family = poisson),
               "'ziformula': the zero part's model matrix is rank deficient.*F2Satiated")
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest), dispformula = ~ FoodTreatment + F2,
                    data = O, family = nbinom2()),
               "'dispformula': the dispersion model matrix is rank deficient.*F2Satiated")
  expect_error(glmm(SiblingNegotiation ~ FoodTreatment + (1 | Nest) + (1 | SexParent),
                    ziformula = ~ FoodTreatment + F2, data = O, family = poisson),
               "'ziformula': the zero part's model matrix is rank deficient")
})


test_that("a diverging zero-part coefficient (quasi-separation in ziformula) is named as the cause", {
  # Before: "doubtful convergence" and no standard errors, without a reason
  # (glmmTMB: a non-positive-definite Hessian). Species GP and EC-L need no
  # structural zeros: their zero-inflation probability runs to 0.
  data(Salamanders, package = "glmmTMB")
  w <- character()
  f <- withCallingHandlers(glmm(count ~ mined + (1 | site), ziformula = ~ spp, data = Salamanders,
                                family = nbinom2(), nAGQ = 1),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("zero-inflation probability runs to 0 for 184 of 644 rows: a coefficient of 'ziformula' diverges", w)))
  # An interior zero part says nothing of the kind.
  w <- character()
  f <- withCallingHandlers(glmm(count ~ mined + (1 | site), ziformula = ~ mined, data = Salamanders,
                                family = nbinom2(), nAGQ = 1),
                           warning = function(e) { w <<- c(w, conditionMessage(e)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("diverges", w)))
})

test_that("with a zero-part coefficient at its separation limit the others' standard errors are the limit model's", {
  # Before: a non-negative-definite Hessian along the divergent direction
  # and no standard error at all, or (a coefficient that only drifted)
  # noise from that direction in the others'. The limit model: the zero
  # part with the divergent rows' probabilities held at 0 or 1 (glmmTMB's
  # own fit of the first model, whose automatic Hessian has these SEs; an
  # offset of -40 on the divergent rows in the second).
  skip_if_not_installed("glmmTMB")
  quiet <- function(e) suppressWarnings(e)
  set.seed(1)
  n <- 300
  d <- data.frame(g = gl(30, 10), x = rnorm(n))
  d$y <- rpois(n, exp(0.5 + 0.5 * d$x + rnorm(30, sd = 0.5)[d$g]))
  d$w <- as.integer(d$y == 0 & runif(n) < 0.5)  # 1 only on zeros
  f <- quiet(glmm(y ~ x + (1 | g), data = d, ziformula = ~ w, family = poisson, nAGQ = 1))
  m <- glmmTMB::glmmTMB(y ~ x + (1 | g), data = d, ziformula = ~ w, family = poisson)
  expect_equal(as.numeric(logLik(f)), as.numeric(logLik(m)), tolerance = 1e-6)
  cf <- coef(summary(f))
  expect_equal(unname(cf$cond[, 2]), unname(summary(m)$coefficients$cond[, 2]), tolerance = 1e-4)
  expect_true(all(is.na(cf$zi[, 2])))
  # One factor's levels (1996, 1997) with no zeros: their coefficients run
  # to -Inf; the zero intercept (1995) and the count part keep SEs.
  data(grouseticks, package = "lme4")
  grouseticks$h <- as.numeric(scale(grouseticks$HEIGHT))
  f <- quiet(glmm(TICKS ~ YEAR + h + (1 | BROOD) + (1 | LOCATION), data = grouseticks,
                  ziformula = ~ YEAR, family = nbinom2(), nAGQ = 1))
  grouseticks$o <- ifelse(grouseticks$YEAR != "95", -40, 0)
  m <- glmmTMB::glmmTMB(TICKS ~ YEAR + h + (1 | BROOD) + (1 | LOCATION), data = grouseticks,
                        ziformula = ~ 1 + offset(o), family = glmmTMB::nbinom2())
  cf <- coef(summary(f))
  expect_equal(cf$zi[1, 2], summary(m)$coefficients$zi[1, 2], tolerance = 1e-3)
  expect_equal(unname(cf$cond[, 2]), unname(summary(m)$coefficients$cond[, 2]), tolerance = 1e-3)
  expect_true(all(is.na(cf$zi[-1, 2])))
})

test_that("cumulative() with a ziformula or dispformula is refused for what it is", {
  set.seed(2)
  d <- data.frame(g = factor(rep(1:8, each = 6)), x = rnorm(48))
  d$r <- factor(sample(c("lo", "mid", "hi"), 48, TRUE), levels = c("lo", "mid", "hi"),
                ordered = TRUE)
  for (fam in list(cumulative(), cumulative("probit"), "cumulative", cumulative)) {
    expect_error(glmm(r ~ x + (1 | g), data = d, family = fam, ziformula = ~ 1),
                 "'ziformula': zero-inflation is not defined for ordinal responses")
    expect_error(glmm(r ~ x + (1 | g), data = d, family = fam, dispformula = ~ x),
                 "'dispformula': cumulative link models .* have no dispersion parameter")
  }
  # The old message named a link as unsupported.
  e <- tryCatch(glmm(r ~ x + (1 | g), data = d, family = cumulative(), ziformula = ~ x),
                error = conditionMessage)
  expect_false(grepl("not supported", e))
})

test_that("a 'start' at which the two-part log-likelihood is not finite is named as the cause", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  far <- function(k) c(800, rep(0.5, k - 1L))
  # one grouping factor: Laplace, quadrature, random zero part
  expect_error(glmm(count ~ mined + (1 | site), Salamanders, family = poisson,
                    ziformula = ~ mined, start = far(5)),
               "'start': the log-likelihood is not finite at the given starting values")
  expect_error(glmm(count ~ mined + (1 | site), Salamanders, family = poisson,
                    ziformula = ~ mined, start = far(5), nAGQ = 5),
               "'start': the log-likelihood is not finite at the given")
  expect_error(glmm(count ~ mined + (1 | site), Salamanders, family = poisson,
                    ziformula = ~ mined + (1 | site), start = far(6)),
               "'start': the log-likelihood is not finite at the given")
  # several terms: the sparse engines
  expect_error(glmm(count ~ mined + (1 | site) + (1 | spp), Salamanders, family = poisson,
                    ziformula = ~ mined, start = far(6)),
               "'start': the log-likelihood is not finite at the given")
  expect_error(glmm(count ~ mined + (1 | site) + (1 | spp), Salamanders, family = poisson,
                    ziformula = ~ mined + (1 | site), start = far(7)),
               "'start': the log-likelihood is not finite at the given")
  # a finite start is taken: the fit from the estimates is the fit
  f <- glmm(count ~ mined + (1 | site), Salamanders, family = poisson, ziformula = ~ mined)
  g <- glmm(count ~ mined + (1 | site), Salamanders, family = poisson, ziformula = ~ mined,
            start = unname(f$theta))
  expect_equal(logLik(g), logLik(f), tolerance = 1e-8)
})
