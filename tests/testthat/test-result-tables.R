# The package's table-like results behave as data frames under subset(),
# `[`, head(), as.data.frame() and print(): a selection of rows keeps the
# table's class and description (and prints with them), a selection of
# columns is a plain data frame.

rt_env <- new.env(parent = emptyenv())
rt_tables <- function() {
  if (!is.null(rt_env$tabs)) return(rt_env$tabs)
  set.seed(12)
  M <- 30; ni <- 5
  g <- factor(rep(seq_len(M), each = ni))
  trt <- factor(rep(sample(c("ctl", "trt"), M, TRUE), each = ni))
  x <- rnorm(M * ni)
  b <- rnorm(M, 0, 0.7)
  eta <- -0.2 + 0.7 * (trt == "trt") + 0.4 * x + b[g]
  d <- data.frame(g = g, trt = trt, x = x, y = rbinom(M * ni, 1, plogis(eta)),
                  cnt = rpois(M * ni, exp(0.2 + 0.3 * x + b[g] / 2)))
  d$ord <- cut(eta + rlogis(M * ni), c(-Inf, -0.5, 0.6, Inf), labels = c("lo", "mid", "hi"),
               ordered_result = TRUE)
  q <- function(e) suppressWarnings(suppressMessages(e))
  fit <- q(glmm(y ~ trt + x + (1 | g), data = d, family = binomial))
  pfit <- q(glmm(cnt ~ trt + x + (1 | g), data = d, family = poisson))
  ofit <- q(glmm(ord ~ trt + x + (1 | g), data = d, family = cumulative()))
  rt_env$tabs <- list(
    standardize = q(standardize(fit, "trt")),
    standardize_gee = q(standardize(gee(y ~ trt + x, data = d, id = g, family = binomial), "trt")),
    standardize_ordinal = q(standardize(ofit, "trt")),
    odds_ratios = odds_ratios(fit),
    odds_ratios_ordinal = odds_ratios(ofit),
    rate_ratios = rate_ratios(pfit),
    compare_views = q(compare_views(y ~ trt + x + (1 | g), data = d, family = binomial)),
    variance_shares = q(variance_shares(fit)),
    ranef_new = q(ranef_new(fit, d[d$g %in% c("1", "2"), ])),
    rank_intervals = q(rank_intervals(fit, n_draws = 200L)),
    VarCorr_ordinal = VarCorr(ofit),
    anova = anova(fit))
  rt_env$tabs
}

test_that("subset(), `[`, head() of standardize() print (the reported failure)", {
  s <- rt_tables()$standardize
  d <- subset(s, quantity == "difference")
  expect_s3_class(d, "glmmgee_standardized")
  expect_identical(nrow(d), 1L)
  expect_identical(attr(d, "view"), attr(s, "view"))
  expect_output(print(d), "Standardized means")
  expect_output(print(d), "difference")
  cols <- c("quantity", "estimate", "conf.low")
  sc <- s[, cols]
  expect_identical(class(sc), "data.frame")
  expect_identical(names(sc), cols)
  expect_equal(sc$estimate, s$estimate)
  expect_output(print(sc), "conf.low")
  expect_output(print(head(s, 2)), "Standardized means")
  expect_identical(nrow(head(s, 2)), 2L)
  df <- as.data.frame(s)
  expect_identical(class(df), "data.frame")
  expect_equal(df$estimate, s$estimate)
  expect_equal(s[s$quantity == "mean", "estimate"], s$estimate[s$quantity == "mean"])
})

test_that("every table-like result subsets, heads and prints as a data frame", {
  tabs <- rt_tables()
  for (nm in names(tabs)) {
    tb <- tabs[[nm]]
    expect_true(is.data.frame(tb), info = nm)
    expect_output(print(tb), info = nm)
    r <- tb[seq_len(min(2L, nrow(tb))), , drop = FALSE]
    expect_identical(class(r), class(tb), info = nm)
    expect_output(print(r), info = nm)
    expect_output(print(head(tb, 1)), info = nm)
    expect_output(print(subset(tb, rep(c(TRUE, FALSE), length.out = nrow(tb)))), info = nm)
    cols <- names(tb)[seq_len(min(2L, ncol(tb)))]
    cc <- tb[, cols, drop = FALSE]
    expect_true(is.data.frame(cc), info = nm)
    expect_identical(names(cc), cols, info = nm)
    expect_output(print(cc), info = nm)
    expect_output(print(tb[, cols[1L], drop = FALSE]), info = nm)
    expect_output(print(subset(tb, select = cols)), info = nm)
    ad <- as.data.frame(tb)
    expect_true(is.data.frame(ad), info = nm)
    expect_equal(unclass(ad)[[cols[1L]]], tb[[cols[1L]]], info = nm)
  }
})
