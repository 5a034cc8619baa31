# Hostile testing of REML/ML linear mixed models, GEE and penalized fits
# against lmer, geepack and GLMMadaptive (round 23): reproducers of what
# was fixed, and peer comparisons on the peers' own data.

sleep_data <- function() {
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy
}

test_that("an integer64 covariate is refused with the conversion to use, not read as its raw bits", {
  # model.matrix() reads an integer64 column's bits as doubles (4.9e-323
  # for 10): gee() returned a slope of 0 and an intercept of 298.5 (the
  # mean) without a word, glmm() stopped with "gradient function must
  # return a numeric vector of length 1".
  skip_if_not_installed("bit64")
  s <- sleep_data()
  s$d64 <- bit64::as.integer64(s$Days)
  msg <- "'d64' is an integer64 \\(bit64\\) vector.*as.numeric\\(\\).*factor\\(\\)"
  expect_error(glmm(Reaction ~ d64 + (1 | Subject), s), msg)
  expect_error(glmm(Reaction ~ d64 + (1 | Subject), s, REML = TRUE), msg)
  expect_error(glmm(Reaction ~ Days + (d64 | Subject), s), "'d64' is an integer64")
  expect_error(gee(Reaction ~ d64, id = Subject, data = s), msg)
  # The conversion the message asks for gives the fit on the numbers.
  a <- gee(Reaction ~ as.numeric(d64), id = Subject, data = s)
  b <- gee(Reaction ~ Days, id = Subject, data = s)
  expect_equal(unname(coef(a)), unname(coef(b)), tolerance = 1e-12)
  # An integer64 response is read through as.numeric()'s method, as before.
  s$r64 <- bit64::as.integer64(round(s$Reaction))
  s$rr <- round(s$Reaction)
  expect_equal(unname(fixef(glmm(r64 ~ Days + (1 | Subject), s))),
               unname(fixef(glmm(rr ~ Days + (1 | Subject), s))), tolerance = 1e-12)
})

test_that("anova() of REML fits made inside a function refits them by ML on their own data", {
  # update(fit, REML = FALSE) could not find the function's local data
  # (and with anova(fits in lapply) its formula variable 'f' named the fit
  # itself: "'formula' must be a two-sided formula"). Worse, a global
  # object of the same name as the local data was used silently: a
  # likelihood-ratio test on other rows. lme4's refitML() works from the
  # stored frame; so does the refit now when the data are not the fit's.
  s <- sleep_data()
  mk <- function(f) {
    dd <- s
    glmm(f, dd, REML = TRUE)
  }
  fa <- mk(Reaction ~ Days + (Days | Subject))
  fb <- mk(Reaction ~ 1 + (Days | Subject))
  ml_a <- glmm(Reaction ~ Days + (Days | Subject), s)
  ml_b <- glmm(Reaction ~ 1 + (Days | Subject), s)
  check <- function(tab) {
    expect_equal(tab$logLik, c(as.numeric(logLik(ml_b)), as.numeric(logLik(ml_a))), tolerance = 1e-7)
    expect_equal(tab$Chisq[2], 2 * as.numeric(logLik(ml_a) - logLik(ml_b)), tolerance = 1e-6)
  }
  expect_message(tab <- anova(fb, fa), "refitting model\\(s\\) with ML")
  check(tab)
  # A 'dd' with other rows where the formulas were made is not the fits'
  # data (it was used before).
  dd <- s[s$Days < 5, ]
  check(suppressMessages(anova(fb, fa)))
  # Fits made in lapply(): the call's formula is the variable 'f'.
  fl <- lapply(list(Reaction ~ 1 + (Days | Subject), Reaction ~ Days + (Days | Subject)),
               function(f) glmm(f, s, REML = TRUE))
  tab <- suppressMessages(do.call(anova, fl))
  check(tab)
  expect_equal(rownames(tab), c("model1", "model2"))
  # Weights, subset and na.exclude are carried by the stored frame.
  mkw <- function(form) {
    dw <- s
    dw$w <- 1 + dw$Days / 10
    dw$Reaction[5] <- NA
    glmm(form, dw, weights = w, subset = Days > 0, na.action = na.exclude, REML = TRUE)
  }
  tw <- suppressMessages(anova(mkw(Reaction ~ 1 + (Days | Subject)),
                               mkw(Reaction ~ Days + (Days | Subject))))
  s$w <- 1 + s$Days / 10
  s$Reaction[5] <- NA
  expect_equal(tw$logLik[2], as.numeric(logLik(glmm(Reaction ~ Days + (Days | Subject), s, weights = w,
                                                    subset = Days > 0))), tolerance = 1e-7)
  # A transformed response inside a function, data gone: a clear error.
  mkl <- function(form) {
    dl <- sleep_data()
    glmm(form, dl, REML = TRUE)
  }
  expect_error(suppressMessages(anova(mkl(log(Reaction) ~ 1 + (Days | Subject)),
                                     mkl(log(Reaction) ~ Days + (Days | Subject)))),
               "could not be refitted by maximum likelihood.*where its data are visible")
})

test_that("profile intervals of a REML fit made inside a function are those of the ML refit", {
  s <- sleep_data()
  mk <- function() {
    dd <- s
    glmm(Reaction ~ Days + (1 | Subject), dd, REML = TRUE)
  }
  ci <- confint(mk(), method = "profile")
  ref <- confint(glmm(Reaction ~ Days + (1 | Subject), s), method = "profile")
  expect_equal(unname(ci), unname(ref), tolerance = 1e-6)
})

test_that("REML and ML against lmer: zero weights, nlme's Machines and Orthodont, a factor in ||", {
  skip_if_not_installed("lme4")
  s <- sleep_data()
  set.seed(1)
  s$w <- stats::runif(180, 0.2, 3)
  s$w[c(3, 50, 77)] <- 0
  for (reml in c(TRUE, FALSE)) {
    # Zero weights drop their rows (lmer keeps them and reports logLik -Inf
    # with other estimates: its own problem, see bench/README.md).
    o <- glmm(Reaction ~ Days + (1 | Subject), s, weights = w, REML = reml)
    l <- lme4::lmer(Reaction ~ Days + (1 | Subject), s[s$w > 0, ], weights = w, REML = reml)
    expect_equal(as.numeric(logLik(o)), as.numeric(logLik(l)), tolerance = 1e-8)
    expect_equal(unname(fixef(o)), unname(lme4::fixef(l)), tolerance = 1e-6)
  }
  skip_if_not_installed("nlme")
  data("Machines", package = "nlme", envir = environment())
  data("Orthodont", package = "nlme", envir = environment())
  M <- as.data.frame(Machines)
  O <- as.data.frame(Orthodont)
  for (reml in c(TRUE, FALSE)) {
    cases <- list(list(score ~ Machine + (1 | Worker / Machine), M),
                  list(score ~ Machine + (Machine | Worker), M),
                  list(distance ~ age * Sex + (age | Subject), O))
    for (cs in cases) {
      o <- glmm(cs[[1]], cs[[2]], REML = reml)
      l <- lme4::lmer(cs[[1]], cs[[2]], REML = reml)
      expect_gte(as.numeric(logLik(o)), as.numeric(logLik(l)) - 1e-7)
      expect_equal(as.numeric(logLik(o)), as.numeric(logLik(l)), tolerance = 1e-7)
      expect_equal(unname(fixef(o)), unname(lme4::fixef(l)), tolerance = 1e-5)
    }
  }
  # (fd || Subject) with a factor is (1 | Subject) + (0 + fd | Subject), in
  # lme4 and here; by REML lmer stops at fd's variances near 0, 0.46 below.
  s$fd <- factor(s$Days %% 3)
  o <- suppressWarnings(glmm(Reaction ~ Days + (fd || Subject), s, REML = TRUE))
  l <- suppressMessages(lme4::lmer(Reaction ~ Days + (fd || Subject), s, REML = TRUE))
  expect_gte(as.numeric(logLik(o)), as.numeric(logLik(l)) - 1e-7)
})

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

test_that("two random-effect terms with the same design are reported, not split silently", {
  # (1 | a) + (1 | b) with b a relabelling of a: the likelihood depends only
  # on the sum of the two variances. The fit reported SDs 0.814 and 0.814
  # with standard errors and no word (lmer: 1.126 and 0.242 with a
  # degenerate-Hessian warning), REML and ML, binomial alike.
  set.seed(2)
  d <- data.frame(a = factor(rep(1:10, each = 6)), x = stats::rnorm(60))
  d$b <- factor(letters[as.integer(d$a)])
  d$y <- stats::rnorm(60) + stats::rnorm(10)[d$a]
  d$z <- stats::rbinom(60, 1, stats::plogis(d$y))
  d$f <- factor(rep(1:10, each = 6))
  msg <- "terms \\(1 \\| a\\) and \\(1 \\| b\\) have the same design.*only the sum of their variances"
  for (reml in c(TRUE, FALSE)) {
    expect_warning(f <- glmm(y ~ x + (1 | a) + (1 | b), d, REML = reml), msg)
    expect_true(any(grepl("same design", f$optinfo$warnings)))
    # The likelihood is that of the single term.
    one <- glmm(y ~ x + (1 | a), d, REML = reml)
    expect_equal(as.numeric(logLik(f)), as.numeric(logLik(one)), tolerance = 1e-6)
  }
  expect_warning(glmm(z ~ x + (1 | a) + (1 | b), d, family = binomial), msg)
  # A nesting with one inner level per outer level.
  expect_warning(glmm(y ~ x + (1 | a / f), d, REML = TRUE), "\\(1 \\| f:a\\) and \\(1 \\| a\\) have the same design")
  # Crossed or properly nested factors are not this.
  data("Pastes", package = "lme4", envir = environment())
  expect_no_warning(glmm(strength ~ 1 + (1 | batch / cask), Pastes, REML = TRUE))
  d$e <- factor(rep(1:3, 20))
  w <- character()
  withCallingHandlers(glmm(y ~ x + (1 | a) + (1 | e), d, REML = TRUE),
                      warning = function(c) { w <<- c(w, conditionMessage(c)); invokeRestart("muffleWarning") })
  expect_false(any(grepl("same design", w)))
})
