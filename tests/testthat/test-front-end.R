# The formula front end's shortcuts must give what the general code gives:
# find_bars() (findbars() remembered) the same bars as reformulas, whatever
# formulas came before; block_pattern() the lower-triangle pairs in the
# order which(lower.tri()) gives; with_predvars() the same terms with and
# without data-dependent transformations; has_covstruct() the same answer as
# reformulas::anySpecial().

test_that("find_bars() gives reformulas::findbars()' bars, also after other formulas", {
  forms <- list(y ~ x + (1 | g), y ~ x + (x | g), y ~ x + (x || g), y ~ (1 | a/b),
                y ~ (1 | a:b) + (0 + x | c), y ~ x + (1 | I(g %% 5)), ~ x + (1 | g),
                y ~ x, y ~ (1 + x | a/b/c) + (1 | d), cbind(s, f) ~ (1 | g),
                y ~ (x + z || g) + (1 | h))
  # Three passes in a shuffled order: more formulas than the cache keeps,
  # so entries are both found and evicted.
  set.seed(3)
  for (f in sample(rep(forms, 3))) {
    expect_identical(glmmgee:::find_bars(f), reformulas::findbars(f), info = deparse(f))
  }
  # The same expression in another environment: the same bars, and the cache
  # keeps no environment (it would keep the data captured by one alive).
  local({
    big <- numeric(1e5)
    f <- y ~ x + (x | g)
    expect_identical(glmmgee:::find_bars(f), reformulas::findbars(f))
  })
  keys <- get("front_cache", envir = asNamespace("glmmgee"))$bars$keys
  expect_true(length(keys) > 0L)
  expect_true(all(vapply(keys, function(k) is.null(attributes(k)), TRUE)))
})

test_that("sub_bars() and no_bars() give reformulas' subbars() and nobars(), also after other formulas", {
  forms <- list(y ~ x + (1 | g), y ~ x + (x | g), y ~ x + (x || g), y ~ (1 | a/b),
                y ~ (1 | a:b) + (0 + x | c), y ~ x + (1 | I(g %% 5)), ~ x + (1 | g),
                y ~ x, y ~ (1 + x | a/b/c) + (1 | d), cbind(s, f) ~ (1 | g),
                y ~ (x + z || g) + (1 | h), y ~ log(x) + offset(z) + (1 | g))
  set.seed(4)
  for (f in sample(rep(forms, 3))) {
    expect_identical(glmmgee:::sub_bars(f), reformulas::subbars(f), info = deparse(f))
    rhs <- f[[length(f)]]
    expect_identical(glmmgee:::no_bars(rhs), reformulas::nobars(rhs), info = deparse(f))
  }
  # The formula's own environment comes back, not the first caller's.
  e <- new.env()
  f <- y ~ x + (x | g)
  environment(f) <- e
  expect_identical(environment(glmmgee:::sub_bars(f)), e)
  cache <- get("front_cache", envir = asNamespace("glmmgee"))
  for (kind in c("subbars", "nobars")) for (part in c("keys", "values")) {
    if (kind == "nobars" && part == "values") next
    expect_true(all(vapply(cache[[kind]][[part]], function(k) is.null(attributes(k)), TRUE)),
                info = paste(kind, part))
  }
})

test_that("block_pattern() lists each block's lower triangle column by column", {
  ref <- function(sizes) {
    out <- list(row = integer(), col = integer())
    off <- 0L
    for (s in sizes) {
      lt <- which(lower.tri(diag(s), diag = TRUE), arr.ind = TRUE)
      lt <- lt[order(lt[, 2L], lt[, 1L]), , drop = FALSE]
      out$row <- c(out$row, off + unname(lt[, 1L]))
      out$col <- c(out$col, off + unname(lt[, 2L]))
      off <- off + s
    }
    out
  }
  for (sizes in list(1L, 2L, 3L, 6L, c(2L, 1L, 3L), c(1L, 1L), integer()))
    expect_identical(glmmgee:::block_pattern(sizes), ref(sizes), info = toString(sizes))
})

test_that("with_predvars() gives the same terms with and without transformations", {
  data(sleepstudy, package = "lme4")
  d <- sleepstudy
  d$z <- d$Days^2
  for (f in list(Reaction ~ Days + (Days | Subject),
                 Reaction ~ poly(Days, 2) + log(z + 1) + (1 | Subject),
                 Reaction ~ scale(Days) + (1 | Subject))) {
    mf <- model.frame(reformulas::subbars(f), d)
    fixed <- f
    fixed[[3L]] <- reformulas::nobars(f[[3L]])
    tt <- glmmgee:::with_predvars(terms(fixed, data = mf), mf)
    # predict() on new rows rebuilds the design from these predvars: it must
    # equal the design of the same rows in the fit.
    X <- model.matrix(tt, mf)
    Xnew <- model.matrix(delete.response(tt), model.frame(delete.response(tt), d[1:7, ]))
    expect_equal(as.vector(Xnew), as.vector(X[1:7, , drop = FALSE]), tolerance = 1e-12,
                 info = deparse(f))
    expect_identical(length(attr(tt, "predvars")), length(attr(tt, "variables")))
  }
})

test_that("has_covstruct() agrees with reformulas::anySpecial()", {
  kinds <- c("diag", "homdiag", "ar1", "cs")
  for (f in list(y ~ x + (1 | g), y ~ ar1(t + 0 | g), y ~ x + cs(1 | g) + (1 | h),
                 y ~ diag(x | g), ar1 ~ x + (1 | g), y ~ cs + (1 | g)))
    expect_identical(glmmgee:::has_covstruct(f),
                     isTRUE(reformulas::anySpecial(f, kinds)), info = deparse(f))
})

test_that("the fitted object of a repeated fit is the same as the first", {
  data(sleepstudy, package = "lme4")
  f1 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  f2 <- glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)
  f1$call <- f2$call <- NULL
  expect_identical(unclass(f1)[setdiff(names(f1), c("formula", "terms", "model"))],
                   unclass(f2)[setdiff(names(f2), c("formula", "terms", "model"))])
  expect_equal(as.numeric(logLik(f1)),
               as.numeric(logLik(lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy))),
               tolerance = 1e-8)
})

test_that("the direct numeric designs are model.matrix()'s, attributes and names included", {
  set.seed(5)
  d <- data.frame(y = rnorm(40), x = rnorm(40), k = rep(1:4, 10), g = rep(letters[1:8], 5),
                  f = factor(rep(c("u", "v"), 20)), lg = rep(c(TRUE, FALSE), 20))
  d$x[3] <- NA
  forms <- list(y ~ x, y ~ x - 1, y ~ 1, y ~ k + x, y ~ 0 + k, y ~ x + offset(k),
                y ~ x + f, y ~ x:k, y ~ log(k), y ~ lg, y ~ poly(k, 2), y ~ x * k)
  for (f in forms) for (drop in c(FALSE, TRUE)) {
    mf <- model.frame(f, d, subset = k > 1)
    mt <- terms(mf)
    ref <- model.matrix(mt, mf)
    if (drop) rownames(ref) <- NULL
    fx <- glmmgee:::fixed_design(f, mf, environment(f), drop_rownames = drop)
    expect_identical(fx$X, ref, info = paste(deparse(f), drop))
  }
  mf <- model.frame(y ~ x + k + g + f + lg, d)
  for (lhs in list(quote(x), quote(1 + x), quote(0 + x), quote(x + 0), quote(x - 1), quote(k),
                   quote(0 + k), quote(f), quote(lg), quote(x + k), quote(1 + g))) {
    ref <- model.matrix(as.formula(call("~", lhs)), mf)
    rownames(ref) <- NULL
    got <- glmmgee:::lhs_numeric_design(lhs, mf)
    if (!is.null(got)) expect_identical(got, ref, info = deparse(lhs))
  }
  # The shortcut takes exactly the plain numeric left sides.
  expect_false(is.null(glmmgee:::lhs_numeric_design(quote(1 + k), mf)))
  expect_null(glmmgee:::lhs_numeric_design(quote(f), mf))
  expect_null(glmmgee:::lhs_numeric_design(quote(x + k), mf))
})

test_that("a grouping variable is read as the general evaluation reads it", {
  d <- data.frame(g = rep(c("b", "a", "c"), 4), n = rep(c(2.5, 1, 3), 4),
                  f = factor(rep(c("u", "v", "w"), 4), levels = c("w", "v", "u", "z")),
                  stringsAsFactors = FALSE)
  general <- function(expr, data, env) {
    chr <- vapply(data, is.character, TRUE)
    if (is.data.frame(data) && any(chr)) data[chr] <- lapply(data[chr], factor)
    eval(expr, data, env)
  }
  for (v in c("g", "n", "f")) {
    e <- as.name(v)
    expect_identical(glmmgee:::eval_grouping(e, d, globalenv()), general(e, d, globalenv()),
                     info = v)
  }
  # A list (new data given as one) keeps a character id as it is.
  expect_identical(glmmgee:::eval_grouping(quote(g), as.list(d), globalenv()), d$g)
})

test_that("differs_from() is any(v != a)", {
  for (a in c(0, 1)) for (v in list(numeric(), 0, 1, c(1, 1), c(0, 0), c(1, 2), c(0, 1e-300),
                                     c(1, 1 + 1e-15), rep(a, 1000), c(-1, 1)))
    expect_identical(glmmgee:::differs_from(v, a), any(v != a),
                     info = paste(a, ":", paste(format(v), collapse = " ")))
})

test_that("an integer or logical response column is read as model.response() reads it", {
  d <- data.frame(yi = c(0L, 3L, 1L, 2L), yl = c(TRUE, FALSE, TRUE, TRUE), x = 1:4)
  for (cs in list(list(yi ~ x, poisson()), list(yl ~ x, binomial()), list(yi ~ x, gaussian()))) {
    mf <- model.frame(cs[[1L]], d)
    r <- glmmgee:::model_response(mf, cs[[2L]])
    expect_identical(r$y, unname(as.numeric(model.response(mf))))
    expect_identical(r$weights, rep(1, 4))
  }
  d$yi[2] <- -1L
  expect_error(glmmgee:::model_response(model.frame(yi ~ x, d), poisson()),
               "non-negative whole number; found -1")
})

test_that("positive_weights_one() is all(w[w > 0] == 1)", {
  cases <- list(numeric(), 0, c(0, 0), 1, c(1, 1, 1), c(0, 1, 1), c(1, 2), c(0.5, 1),
                c(0, 0.5), c(2, 0), c(1, 0, 1 + 1e-12), rep(1, 1000))
  for (w in cases)
    expect_identical(glmmgee:::positive_weights_one(w), all(w[w > 0] == 1),
                     info = paste(format(w), collapse = " "))
})

test_that("the checks read NULL weights and offset as ones and zeros", {
  # glmm()'s one-factor route keeps unit weights and a zero offset NULL
  # from the model frame on: every check must decide as it does on the
  # vectors, and explicit weights and a cbind() response keep theirs.
  set.seed(7)
  n <- 200
  d <- data.frame(x = rnorm(n), g = rep(1:40, each = 5))
  d$y <- rbinom(n, 1, plogis(d$x + rnorm(40, sd = 1.5)[d$g]))
  d$s <- rbinom(n, 4, 0.4)
  mf <- model.frame(y ~ x + g, d)
  r0 <- glmmgee:::model_response(mf, binomial(), unit_null = TRUE)
  r1 <- glmmgee:::model_response(mf, binomial())
  expect_null(r0$weights)
  expect_identical(r0$y, r1$y)
  expect_null(glmmgee:::model_offset_total(mf, zero_null = TRUE))
  expect_identical(glmmgee:::model_offset_total(mf), rep(0, n))
  expect_identical(glmmgee:::model_response(model.frame(cbind(s, 4 - s) ~ x, d), binomial(),
                                            unit_null = TRUE)$weights, rep(4, n))
  mfw <- model.frame(y ~ x, d, weights = rep(2, n))
  expect_identical(glmmgee:::model_response(mfw, binomial(), unit_null = TRUE)$weights, rep(2, n))
  X <- cbind(1, d$x)
  g <- factor(d$g)
  expect_identical(glmmgee:::check_cluster_sizes(g, NULL, binomial(), "g", TRUE),
                   glmmgee:::check_cluster_sizes(g, rep(1, n), binomial(), "g", TRUE))
  g1 <- factor(seq_len(n))
  expect_identical(glmmgee:::check_cluster_sizes(g1, NULL, binomial(), "g", TRUE),
                   glmmgee:::check_cluster_sizes(g1, rep(1, n), binomial(), "g", TRUE))
  expect_error(glmmgee:::check_cluster_sizes(g1, NULL, gaussian(), "g", TRUE), "one observation")
  expect_error(glmmgee:::check_fixed_df(cbind(1, diag(2)), NULL, gaussian()), "only 2 observations")
  expect_error(glmmgee:::check_response_varies(rep(1, 5), NULL, binomial(), "y"), "'y'")
  # Separation: a separated and an unseparated design, and one large
  # enough for the check on a subset of rows.
  ysep <- as.numeric(d$x > 0)
  for (yy in list(d$y, ysep))
    expect_identical(glmmgee:::detect_separation(X, yy, NULL, binomial()),
                     glmmgee:::detect_separation(X, yy, rep(1, n), binomial()))
  nb <- 120000
  xb <- rnorm(nb)
  Xb <- cbind(1, xb)
  yb <- as.numeric(rbinom(nb, 1, plogis(xb)))
  expect_identical(glmmgee:::no_separation_on_subset(Xb, yb, NULL, binomial()),
                   glmmgee:::no_separation_on_subset(Xb, yb, rep(1, nb), binomial()))
  expect_true(glmmgee:::no_separation_on_subset(Xb, yb, NULL, binomial()))
  # A one-factor glmm() fit equals the fit with weights given as ones.
  f0 <- glmm(y ~ x + (1 | g), d, family = binomial)
  f1 <- glmm(y ~ x + (1 | g), d, family = binomial, weights = rep(1, n))
  expect_identical(f0$theta, f1$theta)
  expect_identical(nobs(f0), nobs(f1))
})
