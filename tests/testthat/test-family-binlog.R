# Binomial with the log link (relative risks): the family class against
# dbinom and numerical derivatives, the mixed model against glmmTMB and
# GLMMadaptive, gee() against stats::glm and geepack, and the boundary of
# the parameter space (exp(eta) <= 1).

binlog_eval <- function(y, wt, eta) {
  f <- glmmgee:::resolve_family(binomial("log"))
  glmmgee:::cpp_family_eval(f$family_code, f$link_code, y, wt, eta, 0)
}

binlog_sim <- function(seed = 1, M = 40, ni = 6, trials = 5) {
  set.seed(seed)
  d <- data.frame(g = rep(seq_len(M), each = ni), x = runif(M * ni))
  d$n <- trials
  eta <- -1.5 + 0.6 * d$x + rnorm(M, 0, 0.3)[d$g]
  d$s <- rbinom(nrow(d), d$n, exp(eta))
  d
}

test_that("the log-binomial log-likelihood is dbinom's and its derivatives are numerical ones", {
  n <- c(1, 5, 12, 40, 3, 7)
  s <- c(0, 2, 12, 7, 1, 0)
  eta <- c(-4, -1.3, -0.05, -2.2, -0.7, -1e-3)
  r <- binlog_eval(s / n, n, eta)
  expect_equal(r$loglik, dbinom(s, n, exp(eta), log = TRUE), tolerance = 1e-10)
  expect_equal(r$mu, exp(eta))
  h <- 1e-6
  l <- function(e) binlog_eval(s / n, n, e)
  num <- function(k) (l(eta + h)[[k]] - l(eta - h)[[k]]) / (2 * h)
  expect_equal(r$d1, num("loglik"), tolerance = 1e-6)
  expect_equal(r$d2, num("d1"), tolerance = 1e-6)
  expect_equal(r$d3, num("d2"), tolerance = 1e-5)
  # Outside the parameter space an observation with a failure is impossible;
  # one with all successes is possible up to eta = 0 only.
  out <- binlog_eval(c(0.5, 1, 1), c(2, 3, 3), c(0, 0, 0.1))
  expect_identical(out$loglik[c(1, 3)], c(-Inf, -Inf))
  expect_equal(out$loglik[2], 0)
})

test_that("the log-binomial GLMM matches glmmTMB (Laplace), its AGHQ matches integrate(); gradient is numerical", {
  skip_if_not_installed("glmmTMB")
  skip_if_not_installed("numDeriv")
  d <- binlog_sim()
  f <- cbind(s, n - s) ~ x + (1 | g)
  ours <- glmm(f, data = d, family = binomial("log"), nAGQ = 1)
  # glmmTMB's default start (eta = 0, probability 1) has a NaN likelihood.
  tmb <- glmmTMB::glmmTMB(f, data = d, family = binomial("log"), start = list(beta = c(-1, 0)))
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_equal(unname(sqrt(ours$D[1, 1])),
               unname(attr(glmmTMB::VarCorr(tmb)$cond$g, "stddev")), tolerance = 1e-3)
  expect_equal(unname(sqrt(diag(vcov(ours)))), unname(sqrt(diag(vcov(tmb)$cond))),
               tolerance = 2e-3)
  dl <- as.numeric(logLik(ours)) - as.numeric(logLik(tmb))
  expect_gt(dl, -1e-4)
  expect_lt(abs(dl), 1e-3)
  expect_length(ours$optinfo$warnings, 0L)
  # The engine's analytic gradient at a point off the optimum.
  X <- cbind(1, d$x)
  fam <- glmmgee:::resolve_family(binomial("log"))
  for (nagq in c(1L, 7L)) {
    eng <- glmmgee:::cpp_agq_new(X, matrix(1, nrow(d), 1), d$s / d$n, as.numeric(d$n),
                                 rep(0, nrow(d)), d$g, max(d$g), 0L, 0L, fam$family_code,
                                 fam$link_code, nagq, 1L)
    th <- c(-1.4, 0.5, 0.35)
    an <- glmmgee:::cpp_agq_eval(eng, th, TRUE)
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_agq_eval(eng, t, FALSE)$loglik, th)
    expect_equal(an$gradient, nu, tolerance = 1e-5, label = sprintf("nAGQ %d", nagq))
    glmmgee:::cpp_agq_free(eng)
  }
  # GLMMadaptive's binomial("log") evaluates dbinom at probabilities above 1
  # at its quadrature nodes and stops; our quadrature cuts the integrand
  # there, and 9 and 15 nodes agree.
  # there. A cut integrand needs more nodes than a smooth one: the
  # log-likelihood at 25 nodes is checked against integrate() at its
  # estimates.
  q25 <- glmm(f, data = d, family = binomial("log"), nAGQ = 25)
  sd_u <- sqrt(q25$D[1, 1])
  eta <- drop(cbind(1, d$x) %*% fixef(q25))
  brute <- sum(vapply(split(seq_len(nrow(d)), d$g), function(r) {
    cut <- -max(eta[r]) / sd_u
    dens <- function(z) vapply(z, function(zz)
      exp(sum(dbinom(d$s[r], d$n[r], exp(eta[r] + sd_u * zz), log = TRUE))), 0) * dnorm(z)
    log(integrate(dens, -Inf, cut, rel.tol = 1e-10)$value)
  }, 0))
  # The cut makes Gauss-Hermite converge slowly in the number of nodes
  # (measured: 0.004 off at 25 nodes on these data, 0.02 between 9 and 15),
  # unlike a smooth integrand; the bound says so rather than hiding it.
  expect_lt(abs(as.numeric(logLik(q25)) - brute), 0.01)
  expect_equal(unname(fixef(q25)), unname(fixef(ours)), tolerance = 0.05)
})

test_that("gee() with the log link gives glm's estimates (independence) and geepack's (exchangeable)", {
  skip_if_not_installed("geepack")
  d <- binlog_sim(seed = 3)
  gi <- gee(cbind(s, n - s) ~ x, data = d, id = g, family = binomial("log"))
  gl <- glm(cbind(s, n - s) ~ x, data = d, family = binomial("log"))
  expect_equal(unname(coef(gi)), unname(coef(gl)), tolerance = 1e-6)
  ge <- gee(cbind(s, n - s) ~ x, data = d, id = g, family = binomial("log"),
            corstr = "exchangeable")
  gp <- geepack::geeglm(cbind(s, n - s) ~ x, data = d, id = g, family = binomial("log"),
                        corstr = "exchangeable")
  expect_equal(unname(coef(ge)), unname(coef(gp)), tolerance = 1e-4)
  expect_equal(unname(sqrt(diag(vcov(ge)))), unname(sqrt(diag(vcov(gp)))), tolerance = 1e-4)
})

test_that("a log-binomial fit on the boundary exp(eta) = 1 warns and records it", {
  set.seed(4)
  M <- 30
  d <- data.frame(g = rep(seq_len(M), each = 4), x = rep(0:1, M * 2))
  # Every trial at x = 1 succeeds: the maximum puts P(success | x = 1) at 1.
  d$y <- ifelse(d$x == 1, 1, rbinom(nrow(d), 1, 0.4))
  # The fit also warns about separation and the search; collect them all.
  msgs <- character()
  fit <- withCallingHandlers(
    glmm(y ~ x + (1 | g), data = d, family = binomial("log"), nAGQ = 1),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("boundary of the parameter space", msgs)))
  expect_true(any(grepl("boundary of the parameter space", fit$optinfo$warnings)))
  expect_lte(max(predict(fit, type = "link")), 1e-6)
  # gee() (independence: glm's estimating equations): their root lies
  # beyond probability 1; the scoring steps are halved to stay inside, the
  # fit ends on the boundary and says so (not separation, which these data
  # do not have under the log link).
  gmsgs <- character()
  gf <- withCallingHandlers(
    tryCatch(gee(y ~ x, data = d, id = g, family = binomial("log")),
             error = function(e) { gmsgs <<- c(gmsgs, conditionMessage(e)); NULL }),
    warning = function(w) { gmsgs <<- c(gmsgs, conditionMessage(w)); invokeRestart("muffleWarning") })
  expect_true(any(grepl("boundary", gmsgs)))
  expect_false(any(grepl("separation", gmsgs)))
})

test_that("simulate() and print() of a log-binomial GLMM", {
  d <- binlog_sim(seed = 5, M = 25)
  fit <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, family = binomial("log"), nAGQ = 5)
  sim <- simulate(fit, nsim = 2, seed = 1)
  expect_equal(dim(sim[[1]]), c(nrow(d), 2L))
  expect_true(all(sim[[1]][, 1] <= d$n))
  out <- capture.output(print(fit))
  expect_true(any(grepl("log", out)))
  expect_true(any(grepl("conditional", out, ignore.case = TRUE)))
})

test_that("the log-binomial GLMM with crossed factors (sparse Laplace) matches glmmTMB", {
  skip_if_not_installed("glmmTMB")
  set.seed(7)
  M <- 40
  n <- M * 6
  d <- data.frame(g = rep(seq_len(M), each = 6), h = sample(1:8, n, TRUE), x = runif(n), n = 5)
  d$s <- rbinom(n, 5, exp(-1.5 + 0.6 * d$x + rnorm(M, 0, 0.3)[d$g] + rnorm(8, 0, 0.2)[d$h]))
  f <- cbind(s, n - s) ~ x + (1 | g) + (1 | h)
  ours <- glmm(f, data = d, family = binomial("log"))
  tmb <- suppressWarnings(glmmTMB::glmmTMB(f, data = d, family = binomial("log"),
                                           start = list(beta = c(-1, 0))))
  expect_s3_class(ours, "glmmgee_glmm_sparse")
  expect_equal(unname(fixef(ours)), unname(glmmTMB::fixef(tmb)$cond), tolerance = 1e-4)
  expect_gt(as.numeric(logLik(ours)) - as.numeric(logLik(tmb)), -1e-4)
})

test_that("log-binomial predictions above 1 are kept and warned about, naming the rows", {
  d <- binlog_sim(seed = 4)
  f <- cbind(s, n - s) ~ x + (1 | g)
  fit <- glmm(f, data = d, family = binomial("log"), nAGQ = 1)
  nd <- data.frame(x = c(0.5, 4, 1, 6), n = 5, g = d$g[1], row.names = c("a", "b", "c", "d"))
  eta <- suppressWarnings(predict(fit, nd, re.form = NA, type = "link"))
  expect_gt(eta[["b"]], 0)
  expect_warning(p <- predict(fit, nd, re.form = NA, type = "response"),
                 "2 of the predicted probabilities exceed 1 .*rows b, d.*not capped")
  # Kept as computed: exp(eta), as glm's predict() does; simulate() caps.
  expect_equal(unname(p), exp(unname(eta)))
  expect_warning(predict(fit, nd, re.form = NA, type = "link"), "rows b, d")
  expect_warning(ps <- predict(fit, nd, re.form = NA, type = "response", se.fit = TRUE),
                 "rows b, d")
  expect_equal(unname(ps$fit), unname(p))
  # Inside the parameter space: no warning (training data, small x).
  expect_no_warning(predict(fit, type = "response"))
  expect_no_warning(fitted(fit))
  expect_no_warning(predict(fit, nd[c("a", "c"), ], re.form = NA, type = "response"))
  # The same for gee() and for standardized risks at x = 6.
  gf <- gee(cbind(s, n - s) ~ x, data = d, id = g, family = binomial("log"))
  expect_warning(pg <- predict(gf, nd, type = "response"), "2 of the predicted probabilities exceed 1.*rows b, d")
  expect_equal(unname(pg), unname(exp(coef(gf)[1] + coef(gf)[2] * nd$x)))
  expect_no_warning(predict(gf, type = "response"))
  expect_warning(st <- standardize(gf, "x", values = c(0, 6)), "predicted risks averaged for 6")
  expect_gt(st$estimate[2], 1)
  expect_warning(standardize(fit, "x", values = c(0, 6)), "predicted risks averaged for 6")
  expect_no_warning(standardize(fit, "x", values = c(0, 1)))
  # glm's own predict() returns the same numbers, silently.
  gl <- glm(cbind(s, n - s) ~ x, data = d, family = binomial("log"),
            start = unname(coef(gf)))
  expect_equal(unname(predict(gl, nd, type = "response")),
               unname(exp(predict(gl, nd))))
})

test_that("simulate() of a log-binomial fit still caps at 1 and says so", {
  d <- binlog_sim(seed = 4)
  fit <- glmm(cbind(s, n - s) ~ x + (1 | g), data = d, family = binomial("log"), nAGQ = 1)
  nd <- data.frame(x = c(0.5, 6), n = 5, g = factor(c("new1", "new2")))
  msgs <- character()
  sim <- withCallingHandlers(simulate(fit, nsim = 5, seed = 1, newdata = nd, allow.new.levels = TRUE),
                             warning = function(w) { msgs <<- c(msgs, conditionMessage(w))
                                                     invokeRestart("muffleWarning") })
  expect_true(any(grepl("simulated probabilities exceeded 1", msgs)))
  # Its own predict() call does not add the predict() warning.
  expect_false(any(grepl("not capped", msgs)))
})

relrisk_data <- function() {
  data(respiratory, package = "geepack", envir = environment())
  respiratory$treat <- relevel(respiratory$treat, ref = "P")
  respiratory$sex <- relevel(respiratory$sex, ref = "M")
  respiratory$center <- as.factor(respiratory$center)
  respiratory
}

test_that("separation under the log link: all-success groups sit on the boundary, all-failure groups separate", {
  set.seed(8)
  d <- data.frame(grp = factor(rep(c("a", "b", "c"), each = 20)), x = runif(60))
  d$y <- rbinom(60, 1, ifelse(d$grp == "a", 0.3, 0.6))
  d$y[d$grp == "c"] <- 1
  X <- model.matrix(~ grp + x, d)
  sep <- function(fam) glmmgee:::detect_separation(X, d$y, rep(1, 60), fam)$separated
  # Logit: every observation of c is a success, its coefficient drifts to +Inf.
  expect_true(sep(binomial()))
  expect_true(sep(binomial("probit")))
  expect_true(sep(binomial("cauchit")))
  # Log: the same data are fitted with a probability of 1 for c, a finite
  # coefficient on the boundary (glm reaches it), not separation.
  expect_false(sep(binomial("log")))
  gl <- suppressWarnings(glm(y ~ grp + x, data = d, family = binomial("log"),
                             start = c(-1, 0.3, 0.5, 0)))
  expect_true(all(is.finite(coef(gl))))
  # All failures in a group: separation for every link, the log link included.
  d2 <- d
  d2$y[d2$grp == "c"] <- 0
  X2 <- model.matrix(~ grp + x, d2)
  s2 <- glmmgee:::detect_separation(X2, d2$y, rep(1, 60), binomial("log"))
  expect_true(s2$separated)
  expect_true("grpc" %in% s2$terms)
  expect_warning(gee(y ~ grp + x, data = d2, id = rep(1:30, each = 2), family = binomial("log")),
                 "separation: .*grpc.*fitted probabilities of 0\\)")
})

test_that("gee() on geepack's relRisk example raises no separation alarm", {
  skip_if_not_installed("geepack")
  r <- relrisk_data()
  r$pid <- interaction(r$center, r$id)
  f <- outcome ~ treat + center + sex + age + baseline + visit
  # Not separated under the log link (nor under the logit link).
  X <- model.matrix(f, r)
  for (lk in c("log", "logit"))
    expect_false(glmmgee:::detect_separation(X, r$outcome, rep(1, nrow(r)), binomial(lk))$separated)
  # The scoring equations' root lies beyond probability 1 for some rows:
  # the fit stays inside (halved steps) and reports the boundary, never
  # "separation" (it said "this suggests separation" before).
  for (idv in c("id", "pid")) for (cs in c("independence", "ar1")) {
    msgs <- character()
    withCallingHandlers(
      tryCatch(gee(f, data = r, id = r[[idv]], corstr = cs, family = binomial("log")),
               error = function(e) { msgs <<- c(msgs, conditionMessage(e)); NULL }),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
    expect_false(any(grepl("separation", msgs)), info = paste(idv, cs))
  }
})

test_that("glmm() on the relRisk data says its all-success clusters put the mode on the cut", {
  skip_if_not_installed("geepack")
  r <- relrisk_data()
  r$pid <- droplevels(interaction(r$center, r$id))
  # 37 of the 111 patients have only successes: for them the integrand
  # exp(S b) phi(b / sd) grows up to exp(eta + b) = 1, its mode lies on the
  # cut, and neither Laplace nor quadrature centred there is valid. The
  # search stopped at its start with only "false convergence" before.
  # (glmmTMB: "negative log-likelihood is NaN at starting parameter values";
  # GLMMadaptive::mixed_model(nAGQ = 11): "missing value where TRUE/FALSE needed".)
  allsucc <- tapply(r$outcome == 1, r$pid, all)
  expect_equal(sum(allsucc), 37)
  pat <- paste0("37 of the 111 clusters of 'pid' have only successes.*exp\\(eta \\+ b\\) = 1",
                ".*not a maximum of the likelihood.*standardize\\(\\).*family = poisson.*Zou 2004")
  for (q in c(1, 11)) {
    msgs <- character()
    fit <- withCallingHandlers(
      glmm(outcome ~ treat + visit + (1 | pid), data = r, family = binomial("log"), nAGQ = q),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") })
    expect_true(any(grepl(pat, msgs)), info = q)
    expect_match(fit$optinfo$warnings[1], pat)
  }
})

test_that("gee() says when the log-binomial estimating equations have no root inside the space", {
  skip_if_not_installed("geepack")
  r <- relrisk_data()
  r$pid <- interaction(r$center, r$id)
  f <- outcome ~ treat + center + sex + age + baseline + visit
  # Unique ids: the scoring steps reach probability 1 and the Pearson
  # residuals break down; the error says why and what to use instead.
  expect_error(gee(f, data = r, id = pid, corstr = "exchangeable", family = binomial("log")),
               paste0("no solution inside the parameter space.*fitted probabilities would exceed 1",
                      ".*family = poisson.*Zou 2004, Am J Epidemiol 159:702-706.*standardize\\(\\)"))
  # Ids numbered within centre (geepack's own call): 50 iterations, most of
  # whose steps would take probabilities above 1 and are halved, end without
  # converging. Where they end is decided by rounding: on the boundary, just
  # inside it (1e-3, with Eigen 3.4), or, for age changed in its 13th digit,
  # at an iterate from which no halved step keeps the Pearson residuals
  # finite. The fit then says the same thing as a warning, recorded, or as
  # the error. Each way is checked on such a perturbation of the data.
  no_root <- "log-binomial GEE has no solution inside the parameter space.*Zou 2004"
  set.seed(1)
  ages <- lapply(0:7, function(i) if (i == 0) r$age else r$age * (1 + rnorm(nrow(r), sd = 1e-13)))
  ways <- character()
  for (age in ages) {
    d <- transform(r, age = age)
    msgs <- character()
    fit <- tryCatch(withCallingHandlers(
      suppressMessages(gee(f, data = d, id = id, corstr = "exchangeable", family = binomial("log"))),
      warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") }),
      error = function(e) e)
    if (inherits(fit, "error")) {
      expect_match(conditionMessage(fit), no_root)
      ways <- c(ways, "error")
      next
    }
    ways <- c(ways, "warning")
    expect_false(fit$converged)
    expect_gt(fit$halved, 25L)
    expect_true(any(grepl("gee did not converge", msgs)))
    expect_true(any(grepl(no_root, msgs)))
    expect_true(any(grepl("log-binomial GEE has no solution", fit$warnings)))
  }
  expect_true("warning" %in% ways)
  # The alternative it names: the Poisson GEE converges on the same data,
  # with finite robust standard errors (Zou's modified Poisson regression).
  pf <- gee(f, data = r, id = pid, corstr = "exchangeable", family = poisson)
  expect_true(pf$converged)
  expect_true(all(is.finite(sqrt(diag(vcov(pf))))))
  gp <- geepack::geeglm(f, data = r[order(r$pid), ], id = pid, corstr = "exchangeable", family = poisson)
  expect_equal(unname(coef(pf)), unname(coef(gp)), tolerance = 1e-4)
})
