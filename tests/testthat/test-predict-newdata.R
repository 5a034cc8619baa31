# predict(newdata =) with what the fit did not see: a level not in the fit,
# a new level of a factor made in the formula or in a random-effect term, a
# missing variable: the package's error naming the variable, part and
# level.

test_that("predict(newdata) with a level not in the fit: the package's error naming variable, part and level", {
  set.seed(5)
  n <- 400
  d <- data.frame(g = factor(rep(1:20, each = 20)), f = factor(sample(c("a", "b", "c"), n, TRUE)),
                  h = factor(sample(c("u", "v"), n, TRUE)), x = rnorm(n))
  d$y <- ifelse(runif(n) < plogis(-1 + (d$f == "b")), 0,
                rpois(n, exp(0.5 + 0.3 * d$x + rnorm(20, 0, 0.4)[d$g])))
  m <- glmm(y ~ x + h + (1 | g), ziformula = ~ f, data = d, family = poisson())
  nd <- d[1:3, ]
  expect_equal(unname(predict(m, nd)), unname(predict(m)[1:3]), tolerance = 1e-10)
  nd$f <- factor(c("a", "zz", "b"))
  expect_error(predict(m, nd), "level\\(s\\) of the factor 'f' \\(ziformula\\) not in the fit: 'zz'")
  nd <- d[1:3, ]
  nd$h <- c("u", "w", "v")
  expect_error(predict(m, nd), "factor 'h' \\(fixed effects of the conditional part\\) not in the fit: 'w'")
  md <- glmm(y ~ x + (1 | g), dispformula = ~ f, data = d, family = nbinom2())
  nd <- d[1:3, ]
  nd$f <- c("a", "b", "q")
  expect_error(predict(md, nd), "factor 'f' \\(dispformula\\) not in the fit: 'q'")
})

test_that("predict(newdata) with numbers for a factor names the variable and says the fit has a factor", {
  # it stopped with model.frame()'s "contrasts apply only to factors"
  data(cbpp, package = "lme4", envir = environment())
  f <- glmm(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
  msg <- "'newdata' has 'period' as numbers; the fit has it as a factor \\(fixed effects[^)]*\\) with levels '1', '2', '3', '4'"
  expect_error(predict(f, data.frame(period = c(2, 4), herd = c(1, 3))), msg)
  g <- gee(cbind(incidence, size - incidence) ~ period, id = herd, data = cbpp, family = binomial)
  expect_error(predict(g, data.frame(period = c(2, 4))), msg)
  # the levels as labels still predict
  expect_equal(unname(predict(f, data.frame(period = c("2", "4"), herd = c("1", "3")))),
               unname(predict(f)[c(2, 11)]))
})

test_that("predict(newdata) with a new level of factor(z) names the factor and the level", {
  data("sleepstudy", package = "lme4", envir = environment())
  s <- sleepstudy
  s$z <- rep(1:3, length.out = nrow(s))
  nd <- s[1:3, ]
  nd$z <- c(1, 4, 5)
  msg <- "'newdata' has 2 level\\(s\\) of the factor 'factor\\(z\\)' .*not in the fit: '4', '5'"
  expect_error(predict(glmm(Reaction ~ Days + factor(z) + (1 | Subject), s), newdata = nd), msg)
  expect_error(predict(gee(Reaction ~ Days + factor(z), id = Subject, data = s), newdata = nd), msg)
  s$zc <- letters[s$z]
  nd$zc <- c("a", "q", "a")
  expect_error(predict(gee(Reaction ~ Days + zc, id = Subject, data = s), newdata = nd),
               "level\\(s\\) of the factor 'zc' .*'q'")
  # Levels in the fit still predict, equal to the fitted values.
  f <- glmm(Reaction ~ Days + factor(z) + (1 | Subject), s)
  expect_equal(unname(predict(f, newdata = s[1:5, ])), unname(fitted(f)[1:5]), tolerance = 1e-10)
  skip_if_not_installed("ordinal")
  data("wine", package = "ordinal", envir = environment())
  w <- wine
  w$k <- rep(1:2, length.out = nrow(w))
  fo <- glmm(rating ~ temp + factor(k) + (1 | judge), w, family = cumulative())
  nw <- w[1:2, ]
  nw$k <- c(1, 3)
  expect_error(predict(fo, newdata = nw, re.form = NA),
               "level\\(s\\) of the factor 'factor\\(k\\)' .*'3'")
})

test_that("predict(newdata) without a variable of the model names it", {
  # Was model.frame()'s or eval()'s "object 'tr' not found".
  set.seed(8)
  d <- data.frame(g = factor(rep(1:20, each = 6)), x = rnorm(120), tr = rbinom(120, 1, 0.5))
  d$y <- rbinom(120, 1, plogis(-0.3 + d$x + d$tr + rnorm(20)[d$g]))
  d$off <- 0.1
  f <- glmm(y ~ x + tr + (1 | g), d, binomial)
  expect_error(predict(f, newdata = d[1:3, c("x", "g")]), "'newdata' lacks the variable 'tr'")
  expect_error(predict(f, newdata = d[1:3, c("x", "tr")]),
               "'newdata' lacks the grouping variable 'g' .*re.form = NA")
  # Without the grouping variable at re.form = NA: X beta, as glm's predict().
  expect_equal(unname(predict(f, newdata = d[1:3, c("x", "tr")], re.form = NA)),
               unname(drop(cbind(1, as.matrix(d[1:3, c("x", "tr")])) %*% fixef(f))), tolerance = 1e-12)
  fo <- glmm(y ~ x + tr + offset(off) + (1 | g), d, binomial)
  expect_error(predict(fo, newdata = d[1:3, c("x", "tr", "g")]), "lacks the variable 'off'")
  gg <- gee(y ~ x + tr, id = g, data = d, family = binomial)
  expect_error(predict(gg, newdata = d[1:3, c("x", "g")]), "'newdata' lacks the variable 'tr'")
  # A variable of the formula's environment, not of the data, is still found.
  k <- 2
  fk <- glmm(y ~ I(x * k) + (1 | g), d, binomial)
  expect_equal(unname(predict(fk, newdata = d[1:4, ])), unname(predict(fk)[1:4]),
               tolerance = 1e-10)
})

test_that("predict(newdata) with a new level of a factor in a random-effect term names the term", {
  # Was R's "factor z has new levels c" (one-factor, several-term and
  # structured routes alike).
  set.seed(1)
  d <- data.frame(id = factor(rep(1:30, each = 6)), time = factor(rep(1:6, 30)),
                  site = factor(rep(1:6, each = 30)))
  d$x <- rnorm(nrow(d))
  d$z <- factor(rep(c("a", "b"), length.out = nrow(d)))
  d$y <- 1 + 0.5 * d$x + rnorm(30)[as.integer(d$id)] + rnorm(nrow(d))
  nd <- d[1:3, ]
  nd$z <- c("a", "c", "b")
  f1 <- suppressWarnings(glmm(y ~ x + (0 + z | id), d))
  expect_error(predict(f1, newdata = nd),
               "level\\(s\\) of the factor 'z' \\(random-effect term \\(0 \\+ z \\| id\\)\\) not in the fit: 'c'")
  f2 <- suppressWarnings(glmm(y ~ x + (0 + z | id) + (1 | site), d))
  expect_error(predict(f2, newdata = nd), "factor 'z' \\(random-effect term \\(0 \\+ z \\| id\\)\\)")
  f3 <- suppressWarnings(glmm(y ~ x + ar1(time + 0 | id) + (1 | site), d))
  nt <- d[1:3, ]
  nt$time <- factor(c("1", "7", "2"))
  expect_error(predict(f3, newdata = nt), "factor 'time' \\(random-effect term .*'7'")
  # Known levels predict as the fitted rows.
  expect_equal(unname(predict(f3, newdata = d[1:3, ])), unname(predict(f3)[1:3]), tolerance = 1e-10)
  expect_equal(unname(predict(f1, newdata = d[1:3, ])), unname(predict(f1)[1:3]), tolerance = 1e-10)
})

test_that("a missing grouping label in newdata is an error naming the variable unless allow.new.levels = TRUE", {
  # (It was predicted silently as a typical cluster, b = 0, on every route.)
  fc <- glmm(incidence ~ period + (1 | herd), data = lme4::cbpp, family = poisson, nAGQ = 1)
  nd <- data.frame(period = factor(1:2), herd = factor(c(NA, "1")))
  msg <- "missing value\\(s\\) of the grouping variable 'herd'.*allow.new.levels = TRUE"
  expect_error(predict(fc, nd), msg)
  expect_error(predict(fc, nd, type = "response", re.form = ~ (1 | herd)), msg)
  expect_equal(unname(predict(fc, nd, allow.new.levels = TRUE)),
               c(unname(predict(fc, nd[1, ], re.form = NA)), unname(predict(fc, nd[2, ]))))
  # na.omit drops the row, as any row with a missing value of the prediction.
  expect_identical(names(predict(fc, nd, na.action = na.omit)), "2")
  # Several terms (the sparse engine).
  cb <- lme4::cbpp
  cb$obs <- factor(seq_len(nrow(cb)))
  fs <- suppressWarnings(glmm(incidence ~ period + (1 | herd) + (1 | obs), data = cb, family = poisson))
  nds <- data.frame(period = factor(1:2), herd = factor(c("2", "1")), obs = factor(c(NA, "3")))
  expect_error(predict(fs, nds), "grouping variable 'obs'")
  expect_equal(unname(predict(fs, nds, allow.new.levels = TRUE)[1L]),
               unname(predict(fs, nds[1L, ], re.form = ~ (1 | herd))))
  # Nested grouping factors (the nested quadrature engine).
  set.seed(4)
  d <- expand.grid(patient = 1:4, ward = 1:4, hospital = 1:20)
  d$x <- rnorm(nrow(d))
  u <- rnorm(20)[d$hospital] + 1.5 * rnorm(80)[(d$hospital - 1) * 4 + d$ward]
  d$y <- rbinom(nrow(d), 1, plogis(-0.5 + d$x + u))
  fn <- glmm(y ~ x + (1 | hospital/ward), data = d, family = binomial, nAGQ = 3)
  ndn <- data.frame(x = 0, hospital = c(1, 2), ward = c(NA, 1))
  expect_error(predict(fn, ndn), "missing value\\(s\\) of the grouping variable 'ward:hospital'")
  expect_true(all(is.finite(predict(fn, ndn, allow.new.levels = TRUE))))
  # A known covariance matrix over the levels.
  set.seed(2)
  L <- matrix(rnorm(30 * 5), 30, 5) / sqrt(5)
  rownames(L) <- paste0("id", 1:30)
  K <- tcrossprod(L) + diag(0.2, 30)
  dk <- data.frame(id = factor(rep(rownames(L), each = 4), levels = rownames(L)), x = rnorm(120))
  dk$y <- rpois(120, exp(0.2 + 0.4 * dk$x + drop(t(chol(K)) %*% rnorm(30))[as.integer(dk$id)]))
  fk <- glmm(y ~ x + (1 | id), dk, family = poisson, covariance = list(id = K))
  ndk <- data.frame(x = 0, id = c(NA, "id1"))
  expect_error(predict(fk, ndk), "missing value\\(s\\) of the grouping variable 'id'")
  expect_equal(unname(predict(fk, ndk, allow.new.levels = TRUE)[1L]),
               unname(predict(fk, ndk, re.form = NA)[1L]))
})
