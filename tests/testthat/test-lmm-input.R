# Hostile inputs to linear mixed models, run in a child process: clear
# errors or the same fit, never a crash.

test_that("hostile inputs in a child process: clear errors or the same fit, no crash", {
  # Responses of the wrong kind, infinite values, grouping variables with
  # decimals, a tibble, very long level names: each ends in an R error
  # naming the problem or in the fit of the plain data.
  res <- run_child(c(
    "data(sleepstudy, package = 'lme4'); s <- sleepstudy",
    "s$ch <- as.character(s$Reaction); s$dt <- as.Date('2020-01-01') + s$Days",
    "s$y2 <- 2 * s$Reaction; s$inf <- s$Days; s$inf[5] <- Inf",
    "child_try('char', glmm(ch ~ Days + (1 | Subject), s, REML = TRUE))",
    "child_try('date', gee(dt ~ Reaction, id = Subject, data = s))",
    "child_try('cbind', glmm(cbind(Reaction, y2) ~ Days + (1 | Subject), s, REML = TRUE))",
    "child_try('inf', glmm(Reaction ~ inf + (1 | Subject), s, REML = TRUE))",
    "s$gd <- as.numeric(as.character(s$Subject)) / 3",
    "a <- glmm(Reaction ~ Days + (1 | gd), s, REML = TRUE); b <- glmm(Reaction ~ Days + (1 | Subject), s, REML = TRUE)",
    "child_say('decimal', format(as.numeric(logLik(a)) - as.numeric(logLik(b))))",
    "s$lg <- factor(paste0(strrep('g', 5000), s$Subject)); s$lf <- factor(paste0(strrep('a', 3000), s$Days %% 3))",
    "f <- glmm(Reaction ~ lf + (1 | lg), s, REML = TRUE); invisible(capture.output(print(f), summary(f), VarCorr(f)))",
    "child_say('long', format(length(fixef(f))))",
    "if (requireNamespace('tibble', quietly = TRUE)) {",
    "  t <- glmm(Reaction ~ Days + (Days | Subject), tibble::as_tibble(s), REML = TRUE)",
    "  u <- glmm(Reaction ~ Days + (Days | Subject), s, REML = TRUE)",
    "  child_say('tibble', format(max(abs(predict(t, newdata = tibble::as_tibble(s[1:5, ])) - predict(u)[1:5]))))",
    "} else child_say('tibble', '0')"), timeout = 120)
  expect_child_ok(res, c("char", "date", "cbind", "inf", "decimal", "long", "tibble"))
  expect_match(res$reports[["char"]], "ERROR: the response for family gaussian must be a numeric vector", fixed = TRUE)
  expect_match(res$reports[["date"]], "ERROR: the response for family gaussian must be a numeric vector", fixed = TRUE)
  expect_match(res$reports[["cbind"]], "ERROR: the response for family gaussian must be a numeric vector", fixed = TRUE)
  expect_match(res$reports[["inf"]], "ERROR: infinite values in 'inf'", fixed = TRUE)
  expect_lt(abs(as.numeric(res$reports[["decimal"]])), 1e-8)
  expect_equal(res$reports[["long"]], "3")
  expect_lt(as.numeric(res$reports[["tibble"]]), 1e-8)
})
