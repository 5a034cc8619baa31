# Separation in cumulative link models (separation-ordinal.R): glmm() with
# one grouping factor, random slopes and several random intercepts, and the
# ordinal gee(), against ordinal::clm() (whose estimates run off to large
# values with a singular Hessian on the same data) and against the exact
# linear program; no false alarm on wine, soup and sparse categories.

# Simulated clusters: 30 clusters of 6. `s` is a binary covariate and `x`
# a continuous one.
ordsep_data <- function(seed = 1) {
  set.seed(seed)
  M <- 30
  m <- 6
  n <- M * m
  g <- factor(rep(seq_len(M), each = m))
  x <- stats::rnorm(n)
  z <- stats::rnorm(n)
  u <- stats::rnorm(M, sd = 0.7)[g]
  lat <- 0.8 * x + 0.5 * z + u + stats::rlogis(n)
  y <- as.integer(cut(lat, c(-Inf, -1, 0.2, 1.3, Inf)))
  data.frame(y = y, x = x, z = z, s = as.numeric(x > 0), g = g,
             h = factor(rep(seq_len(n / 4), 4)))
}

# Complete separation between {1, 2} and {3, 4} by the binary `s`; the
# same split by the continuous `x` (with categories 1 and 2, and 3 and 4,
# interleaved along x), for which the MLE exists.
complete_sep <- function(seed = 1) {
  d <- ordsep_data(seed)
  set.seed(seed + 100)
  d$y <- ifelse(d$s == 1, sample(3:4, nrow(d), TRUE), sample(1:2, nrow(d), TRUE))
  d$y <- factor(d$y, ordered = TRUE)
  d
}

# Quasi-complete separation: `s = 1` only in the top category (an empty
# cell at the extreme), the others anywhere.
quasi_sep <- function(seed = 2) {
  d <- ordsep_data(seed)
  d$y[d$s == 1] <- 4L
  d$y <- factor(d$y, ordered = TRUE)
  d
}

# The fit warns with the separation message naming `term` first, and with
# no optimizer warning that separation explains; the record says so.
expect_separation_fit <- function(res, term, model = "glmm") {
  w <- res$warnings
  expect_true(length(w) >= 1L)
  expect_match(w[1L], "^separation: the covariate\\(s\\)")
  expect_match(w[1L], sprintf("'%s'", term), fixed = TRUE)
  expect_match(w[1L], if (model == "gee") "no finite solution" else "does not exist")
  expect_match(w[1L], "merge adjacent response categories", fixed = TRUE)
  expect_false(any(grepl("singular fit|did not report convergence|did not converge|gradient|not negative definite",
                         w)))
  sep <- res$value$separation
  expect_true(sep$separated)
  expect_true(sep$checked)
  expect_identical(sep$terms, term)
  expect_gt(sep$nobs, 0L)
  expect_identical(sep$screen, "linear program")
}

test_that("the linear program: separated, quasi-separated and not, with directions checked", {
  sep_of <- function(d, form = ~ s + z) {
    X <- stats::model.matrix(form, d)[, -1L, drop = FALSE]
    J <- nlevels(d$y)
    glmmgee:::ordinal_separation(X, as.integer(d$y), J, rep(1, nrow(d)),
                                 glmmgee:::threshold_names(levels(d$y)))
  }
  for (d in list(complete_sep(), quasi_sep())) {
    r <- sep_of(d)
    expect_true(r$separated)
    expect_identical(r$terms, "s")
    # The direction (a, b) on (thresholds, beta) satisfies every inequality
    # (the contribution of no observation falls along it), one strictly.
    y <- as.integer(d$y)
    J <- nlevels(d$y)
    a <- r$direction[seq_len(J - 1L)]
    xb <- drop(cbind(d$s, d$z) %*% r$direction[c("s", "z")])
    upper <- ifelse(y < J, c(a, 0)[y] - xb, 0)
    lower <- ifelse(y > 1L, xb - c(0, a)[y], 0)
    tol <- 1e-8 * max(abs(r$direction))
    expect_true(all(upper >= -tol) && all(lower >= -tol))
    expect_gt(max(upper, lower), 1e-3)
    expect_equal(r$nobs, sum(upper > tol | lower > tol))
    expect_gt(r$direction[["s"]], 0)
  }
  # The whole response split by s between 2 and 3: the distances between
  # the thresholds either side of the split widen, not the split itself.
  r <- sep_of(complete_sep())
  expect_identical(r$thresholds, c("'1|2' and '2|3'", "'2|3' and '3|4'"))
  expect_identical(sep_of(quasi_sep())$thresholds, character())
  # Responses ordered completely by x alone: x is named, not the noise z
  # that a vertex of the linear program may also involve; ordered by x + z
  # jointly: both are.
  d <- ordsep_data(3)
  cuts <- c(-Inf, -0.5, 0, 0.6, Inf)
  d$y <- factor(cut(d$x, cuts, labels = FALSE), ordered = TRUE)
  r <- sep_of(d, ~ x + z)
  expect_identical(r$terms, "x")
  expect_identical(r$nobs, nrow(d))
  d$y <- factor(cut(d$x + d$z, cuts, labels = FALSE), ordered = TRUE)
  d$w <- stats::rnorm(nrow(d))
  r <- sep_of(d, ~ x + z + w)
  expect_identical(r$terms, c("x", "z"))
  expect_identical(r$nobs, nrow(d))
  # The split {1, 2} | {3, 4} by the continuous x, with 1 and 2 (and 3
  # and 4) interleaved along x, is no separation: the MLE exists (clm).
  d <- complete_sep()
  d$y <- factor(ifelse(d$x > 0, sample(3:4, nrow(d), TRUE), sample(1:2, nrow(d), TRUE)), ordered = TRUE)
  expect_false(sep_of(d, ~ x + z)$separated)
  skip_if_not_installed("ordinal")
  m <- ordinal::clm(y ~ x + z, data = d)
  expect_identical(m$convergence$code, 0L)
  expect_lt(max(abs(coef(m))), 10)
})

test_that("the certificate of existence never contradicts the linear program", {
  skip_if_not_installed("ordinal")
  fam <- cumulative("logit")
  set.seed(7)
  used <- 0L
  for (r in 1:60) {
    n <- sample(15:60, 1L)
    J <- sample(2:5, 1L)
    X <- cbind(a = stats::rnorm(n), b = stats::rbinom(n, 1, 0.5))
    y <- sample.int(J, n, TRUE)
    if (r %% 2L == 0L) y <- pmin(J, pmax(1L, y + round(3 * X[, 1L])))
    y <- as.integer(factor(y))
    J <- max(y)
    if (J < 2L || length(unique(X[, 2L])) < 2L) next
    tn <- glmmgee:::threshold_names(seq_len(J))
    lp <- glmmgee:::ordinal_separation(X, y, J, rep(1, n), tn)
    m <- tryCatch(suppressWarnings(ordinal::clm(factor(y, ordered = TRUE) ~ X)),
                  error = function(e) NULL)
    if (is.null(m)) next
    cf <- coef(m)
    ce <- glmmgee:::ordinal_separation(X, y, J, rep(1, n), tn,
                                       cert = list(theta = unname(cf[seq_len(J - 1L)]),
                                                   eta = drop(X %*% cf[J - 1L + 1:2]), family = fam))
    expect_identical(ce$separated, lp$separated)
    if (identical(ce$screen, "certificate")) {
      used <- used + 1L
      expect_false(lp$separated)
    }
    # Separation as clm sees it: a singular Hessian or estimates running off.
    if (lp$separated) expect_true(m$convergence$code != 0L || max(abs(cf)) > 10)
  }
  expect_gt(used, 20L)
})

test_that("one grouping factor: complete and quasi-complete separation are named, not 'singular fit'", {
  skip_if_not_installed("ordinal")
  for (d in list(complete_sep(), quasi_sep())) {
    res <- collect_warnings(glmm(y ~ s + z + (1 | g), data = d, family = cumulative()))
    expect_separation_fit(res, "s")
    fit <- res$value
    # The optimizer's own warnings are kept, out of the way.
    expect_identical(fit$optinfo$warnings, fit$separation$message)
    expect_true(is.character(fit$optinfo$warnings_separation))
    # print() shows it as a note, as for binomial fits.
    expect_output(print(fit), "Note: separation")
    expect_output(print(summary(fit)), "Note: separation")
    # clm on the same data: the coefficient of s runs off, with a singular
    # Hessian, in the direction the linear program gives.
    m <- suppressWarnings(ordinal::clm(y ~ s + z, data = d))
    expect_true(m$convergence$code != 0L || coef(m)[["s"]] > 10)
    expect_gt(coef(m)[["s"]], 10)
    expect_gt(fit$coefficients[["s"]], 5)
    # odds_ratios() flags the coefficient as unbounded.
    expect_match(collect_warnings(odds_ratios(fit))$warnings, "no finite estimate", all = FALSE)
  }
  # AGHQ too.
  res <- collect_warnings(glmm(y ~ s + z + (1 | g), data = quasi_sep(), family = cumulative(),
                               nAGQ = 5))
  expect_separation_fit(res, "s")
})

test_that("random slopes and several random intercepts: separation is named", {
  d <- quasi_sep()
  res <- collect_warnings(glmm(y ~ s + z + (1 + z | g), data = d, family = cumulative()))
  expect_separation_fit(res, "s")
  res <- collect_warnings(glmm(y ~ s + z + (1 | g) + (1 | h), data = d, family = cumulative()))
  expect_separation_fit(res, "s")
  res <- collect_warnings(glmm(y ~ s + z + (1 | g) + (1 | h), data = complete_sep(),
                               family = cumulative("probit")))
  expect_separation_fit(res, "s")
})

test_that("ordinal gee: separation is named (independence and association structures)", {
  for (d in list(complete_sep(), quasi_sep())) {
    res <- collect_warnings(gee(y ~ s + z, data = d, id = g, family = cumulative()))
    expect_separation_fit(res, "s", "gee")
    expect_identical(res$value$warnings, res$value$separation$message)
    expect_output(print(res$value), "Note: separation")
    expect_match(collect_warnings(odds_ratios(res$value))$warnings, "'s': no finite estimate",
                 all = FALSE)
  }
  res <- collect_warnings(gee(y ~ s + z, data = quasi_sep(), id = g, family = cumulative(),
                              corstr = "global.exchangeable"))
  expect_separation_fit(res, "s", "gee")
  res <- collect_warnings(gee(y ~ s + z, data = quasi_sep(), id = g, family = cumulative(),
                              corstr = "uniform"))
  expect_separation_fit(res, "s", "gee")
})

test_that("no false alarm: wine, soup, simulated data of the same shape, sparse categories", {
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  fit <- glmm(rating ~ temp + contact + (1 | judge), data = w, family = cumulative())
  expect_false(fit$separation$separated)
  expect_identical(fit$separation$screen, "certificate")
  fs <- suppressWarnings(glmm(rating ~ temp + contact + (1 + temp | judge), data = w,
                              family = cumulative()))
  expect_false(fs$separation$separated)
  expect_warning(fc <- glmm(rating ~ temp + contact + (1 | judge) + (1 | bottle), data = w,
                            family = cumulative()), "singular fit")
  expect_false(fc$separation$separated)
  fg <- gee(rating ~ temp + contact, data = w, id = judge, family = cumulative())
  expect_false(fg$separation$separated)
  expect_identical(fg$separation$screen, "certificate")
  soup <- ordinal::soup
  fit <- glmm(SURENESS ~ PROD + (1 | RESP), data = soup, family = cumulative())
  expect_false(fit$separation$separated)
  expect_identical(fit$separation$screen, "certificate")
  fit <- glmm(SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD), data = soup,
              family = cumulative())
  expect_false(fit$separation$separated)
  d <- ordsep_data(3)
  d$y <- factor(d$y, ordered = TRUE)
  fit <- glmm(y ~ s + z + (1 | g), data = d, family = cumulative())
  expect_false(fit$separation$separated)
  # Sparse categories that are not separated: a top category of 3
  # observations at ordinary covariate values, s = 1 everywhere but in one
  # lower category.
  d2 <- ordsep_data(4)
  d2$y <- pmin(d2$y, 3L)
  top <- which(d2$s == 0)[1:3]
  d2$y[top] <- 4L
  d2$y <- factor(d2$y, ordered = TRUE)
  expect_equal(as.integer(table(d2$y)[4]), 3L)
  fit <- glmm(y ~ s + z + (1 | g), data = d2, family = cumulative())
  expect_false(fit$separation$separated)
  m <- ordinal::clm(y ~ s + z, data = d2)
  expect_identical(m$convergence$code, 0L)
  # An empty cell at an extreme that is no separation: s = 1 never in the
  # bottom category but in all the others (proportional odds ties it to
  # the other thresholds: the MLE exists, clm converges).
  d4 <- ordsep_data(6)
  d4$y[d4$s == 1 & d4$y == 1L] <- 2L
  d4$y <- factor(d4$y, ordered = TRUE)
  expect_identical(sum(d4$s == 1 & d4$y == "1"), 0L)
  expect_true(all(table(d4$y[d4$s == 1])[-1] > 0))
  fit <- glmm(y ~ s + z + (1 | g), data = d4, family = cumulative())
  expect_false(fit$separation$separated)
  m <- ordinal::clm(y ~ s + z, data = d4)
  expect_identical(m$convergence$code, 0L)
  expect_lt(abs(coef(m)[["s"]]), 10)
  # An unobserved category is dropped by the model frame (as clm drops
  # it: the thresholds are named across it), and no separation is claimed.
  d3 <- ordsep_data(5)
  d3$y <- factor(ifelse(d3$y == 3L, 4L, d3$y), levels = 1:4, ordered = TRUE)
  fit <- glmm(y ~ s + z + (1 | g), data = d3, family = cumulative())
  expect_identical(names(fit$thresholds), c("1|2", "2|4"))
  expect_false(fit$separation$separated)
  expect_identical(names(coef(ordinal::clm(y ~ s + z, data = d3)))[1:2], c("1|2", "2|4"))
})

test_that("the check does not depend on the covariates' units or location", {
  d <- quasi_sep()
  X <- cbind(s = d$s, z = d$z)
  y <- as.integer(d$y)
  tn <- glmmgee:::threshold_names(levels(d$y))
  r0 <- glmmgee:::ordinal_separation(X, y, 4L, rep(1, nrow(d)), tn)
  for (tr in list(function(v) v * 1e7, function(v) v + 1e4, function(v) -3 * v + 50)) {
    Xt <- cbind(s = tr(d$s), z = tr(d$z))
    r <- glmmgee:::ordinal_separation(Xt, y, 4L, rep(1, nrow(d)), tn)
    expect_true(r$separated)
    expect_identical(r$terms, r0$terms)
    expect_identical(r$nobs, r0$nobs)
    expect_identical(r$thresholds, r0$thresholds)
  }
  d$s7 <- d$s * 1e7 + 1e4
  res <- collect_warnings(glmm(y ~ s7 + z + (1 | g), data = d, family = cumulative()))
  expect_separation_fit(res, "s7")
  # Not separated, at any scale: the certificate from the fit holds.
  d <- ordsep_data(3)
  d$y <- factor(d$y, ordered = TRUE)
  d$x7 <- d$x * 1e7 + 1e4
  fit <- glmm(y ~ x7 + z + (1 | g), data = d, family = cumulative())
  expect_false(fit$separation$separated)
  expect_identical(fit$separation$screen, "certificate")
})

test_that("15,000 rows: the certificate settles it without the linear program", {
  set.seed(11)
  n <- 15000
  d <- data.frame(x1 = stats::rnorm(n), x2 = stats::rbinom(n, 1, 0.5), g = factor(rep(1:300, each = 50)))
  lat <- d$x1 - 0.5 * d$x2 + stats::rnorm(300)[d$g] + stats::rlogis(n)
  d$y <- factor(cut(lat, c(-Inf, -1, 0, 1, 2, Inf), labels = FALSE), ordered = TRUE)
  fit <- glmm(y ~ x1 + x2 + (1 | g), data = d, family = cumulative())
  expect_false(fit$separation$separated)
  expect_identical(fit$separation$screen, "certificate")
})

test_that("the certificate's C++ checks its sizes and categories", {
  X <- cbind(a = c(0.1, 0.5, -0.3, 1))
  expect_error(glmmgee:::cpp_ordinal_certificate(1:3, X, numeric(4), c(-1, 1), 0L), "sizes differ")
  expect_error(glmmgee:::cpp_ordinal_certificate(c(1L, 2L, 3L, 4L), X, numeric(4), c(-1, 1), 0L),
               "outside 1..J")
  expect_error(glmmgee:::cpp_ordinal_certificate(c(1L, 2L, 3L, 1L), X, numeric(4), c(-1, 1), 7L),
               "unknown link")
  # Both links' weights certify a clm fit of wine (probit, cloglog).
  skip_if_not_installed("ordinal")
  w <- ordinal::wine
  Xw <- stats::model.matrix(~ temp + contact, w)[, -1L]
  for (link in c("probit", "cloglog")) {
    m <- ordinal::clm(rating ~ temp + contact, data = w, link = link)
    low <- glmmgee:::cpp_ordinal_certificate(as.integer(w$rating), Xw,
                                             drop(Xw %*% m$beta), unname(m$alpha),
                                             cumulative(link)$link_code)
    expect_gt(low, 1e-3)
  }
})

test_that("an engine failure under separation is reported as separation, others unchanged", {
  fail <- function() stop("the engine failed", call. = FALSE)
  d <- quasi_sep()
  X <- cbind(s = d$s, z = d$z)
  resp <- list(code = as.integer(d$y), levels = levels(d$y))
  expect_error(glmmgee:::ordinal_fit_or_separation(fail, X, resp, rep(1, nrow(d)), "glmm"),
               "^separation: the covariate\\(s\\) 's'.*\\[the engine failed\\]$")
  d <- ordsep_data(3)
  X <- cbind(s = d$s, z = d$z)
  resp <- list(code = d$y, levels = as.character(1:4))
  expect_error(glmmgee:::ordinal_fit_or_separation(fail, X, resp, rep(1, nrow(d)), "gee"),
               "^the engine failed$")
})
