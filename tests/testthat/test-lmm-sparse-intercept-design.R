# Several-term random intercepts read at once from the factor codes
# (intercept_re_terms(), cpp_indicator_dgc()) must give exactly what the
# per-term direct route and reformulas::mkReTrms() give, so that fits do
# not depend on the route.

# sparse_re_terms() with the all-intercepts shortcut switched off: the
# per-term direct route (direct_re_trms()) and the general loop.
per_term_re_terms <- function(f, mf) {
  ns <- asNamespace("glmmgee")
  real <- ns$intercept_re_terms
  unlockBinding("intercept_re_terms", ns)
  on.exit({
    assign("intercept_re_terms", real, ns)
    lockBinding("intercept_re_terms", ns)
  })
  assign("intercept_re_terms", function(bars, mf, ...) NULL, ns)
  glmmgee:::sparse_re_terms(f, mf)
}

test_that("all-intercept terms equal the per-term route and mkReTrms()'", {
  set.seed(28)
  n <- 500
  d <- data.frame(a = factor(sample(12, n, TRUE)), b = factor(sample(9, n, TRUE)),
                  c = sample(letters[1:6], n, TRUE), id = sample(c(3.5, 10, 200), n, TRUE),
                  x = rnorm(n), y = rnorm(n), stringsAsFactors = FALSE)
  d$a2 <- factor(d$a, levels = c("q", levels(d$a), "zz"))  # unused levels
  d$x[c(4, 40)] <- NA  # rows dropped: row names with gaps
  forms <- list(y ~ x + (1 | a) + (1 | b), y ~ (1 | a/b), y ~ (1 | b:a) + (1 | c:b),
                y ~ x + (1 | a) + (1 | b) + (1 | c), y ~ (1 | a:b:c) + (1 | a),
                y ~ (1 | id/c) + (1 | b), y ~ (1 | a) + (1 | a) + (1 | b),
                y ~ (1 | a2) + (1 | c), y ~ (1 | c/a2))
  for (f in forms) {
    mf <- glmmgee:::drop_unused_levels(model.frame(reformulas::subbars(f), d))
    fast <- glmmgee:::sparse_re_terms(f, mf)
    expect_false(is.null(glmmgee:::intercept_re_terms(glmmgee:::find_bars(f), mf)))
    expect_identical(fast, per_term_re_terms(f, mf), info = deparse(f))
    general <- glmmgee:::sparse_re_terms(f, mf, direct = FALSE)
    keep <- setdiff(names(fast), "flist")
    expect_identical(fast[keep], general[keep], info = deparse(f))
    expect_identical(lapply(fast$flist, levels), lapply(general$flist, levels), info = deparse(f))
  }
})

test_that("the shortcut leaves slopes and expressions to the general route", {
  set.seed(5)
  d <- data.frame(a = factor(sample(8, 200, TRUE)), b = factor(sample(5, 200, TRUE)),
                  x = rnorm(200), y = rnorm(200))
  for (f in list(y ~ (x | a) + (1 | b), y ~ (1 | a) + (0 + x | b), y ~ (1 | I(as.integer(a) %% 3)) + (1 | b))) {
    mf <- model.frame(reformulas::subbars(f), d)
    expect_null(glmmgee:::intercept_re_terms(glmmgee:::find_bars(f), mf))
  }
  # a grouping factor with one level is still refused, naming it
  d$one <- "k"
  expect_error(glmm(y ~ (1 | a) + (1 | one), d), "grouping factor 'one' has only 1 level")
})

test_that("interactions of many possible combinations are read as by sorting", {
  # About 600 x 550 observed levels: more combinations than the count's
  # limit (1e5 or four per row), so the observed ones are found by
  # sort(unique()); on 30 rows by the count. Both agree with interaction().
  set.seed(9)
  n <- 1000
  d <- data.frame(a = factor(sample(900, n, TRUE)), b = factor(sample(800, n, TRUE)),
                  y = rnorm(n))
  expect_gt(nlevels(droplevels(d$a)) * nlevels(droplevels(d$b)), 4 * n + 1e5)
  big <- glmmgee:::grouping_codes(quote(a:b), d)
  ref <- droplevels(interaction(d$a, d$b, sep = ":", lex.order = TRUE))
  expect_identical(levels(big), levels(ref))
  expect_identical(as.integer(big), as.integer(ref))
  small <- glmmgee:::grouping_codes(quote(a:b), d[1:30, ])
  first30 <- droplevels(interaction(d$a[1:30], d$b[1:30], sep = ":", lex.order = TRUE))
  expect_identical(levels(small), levels(first30))
  expect_identical(as.integer(small), as.integer(first30))
})

test_that("cpp_indicator_dgc() is the column-bound indicator design and checks its input", {
  set.seed(3)
  f1 <- sample(4, 25, TRUE)
  f2 <- sample(6, 25, TRUE)
  f1[1:4] <- 1:4
  f2[1:6] <- 1:6
  Z <- glmmgee:::cpp_indicator_dgc(list(f1, f2), c(4L, 6L), list(NULL, NULL))
  expect_s4_class(Z, "dgCMatrix")
  expect_true(methods::validObject(Z))
  ref <- cbind(outer(f1, 1:4, "=="), outer(f2, 1:6, "==")) * 1
  expect_identical(as.matrix(Z), ref)
  expect_identical(Z, methods::as(methods::as(Matrix::Matrix(ref, sparse = TRUE), "generalMatrix"),
                                  "CsparseMatrix"))
  expect_error(glmmgee:::cpp_indicator_dgc(list(c(1L, 5L)), 4L, NULL), "outside 1..4")
  expect_error(glmmgee:::cpp_indicator_dgc(list(c(1L, 2L), 1L), c(2L, 2L), NULL), "length 2")
  expect_error(glmmgee:::cpp_indicator_dgc(list(c(1, 2)), 2L, NULL), "integer vector")
})
