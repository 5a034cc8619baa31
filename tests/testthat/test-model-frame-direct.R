# The model frame built directly from the data's columns (direct_frame())
# for the commonest call, and the one function for the several-term routes'
# checks (several_term_checks()).

ns <- asNamespace("glmmgee")

frame_pair <- function(fo, dat, env, ..., frame = TRUE) {
  mc <- match.call(glmm, as.call(c(list(as.name("glmm"), fo, as.name(dat)), list(...))))
  ff <- ns$sub_bars(fo)
  environment(ff) <- env
  list(direct = ns$direct_frame(mc, ff, env, c("weights", "offset")),
       frame = if (frame) ns$model_frame_call(mc, ff, env, c("weights", "offset"), list(fo)))
}

test_that("direct_frame() gives model.frame()'s frame for plain columns of the data", {
  set.seed(3)
  n <- 30
  e <- new.env()
  e$d <- data.frame(y = rnorm(n), x = 1:n, s = sample(letters[1:3], n, TRUE),
                    l = rep(c(TRUE, FALSE), n / 2), f = factor(sample(c("u", "v"), n, TRUE)),
                    o = factor(sample(1:3, n, TRUE), ordered = TRUE), w = runif(n),
                    stringsAsFactors = FALSE)
  e$two <- e$d[1:2, ]                       # compact row names of length 2
  e$picked <- e$d[c(9, 2, 5), ]             # integer row names
  e$named <- e$d
  rownames(e$named) <- paste0("r", seq_len(n))
  cases <- list(list(y ~ x + s + l + (1 | f)), list(y ~ x + o + (1 | f) + (1 | s), weights = quote(w)),
                list(y ~ 1 + (x | f), offset = quote(w)),
                list(y ~ x + (1 | f), weights = quote(w), offset = quote(x)))
  for (dat in c("d", "two", "picked", "named")) for (cs in cases) {
    p <- do.call(frame_pair, c(list(cs[[1L]], dat, e), cs[-1L]), quote = TRUE)
    expect_false(is.null(p$direct))
    expect_identical(p$direct, p$frame)
  }
  data(Penicillin, Pastes, package = "lme4", envir = e)
  p <- frame_pair(diameter ~ 1 + (1 | plate) + (1 | sample), "Penicillin", e)
  expect_identical(p$direct, p$frame)
  p <- frame_pair(strength ~ 1 + (1 | batch/cask), "Pastes", e)
  expect_identical(p$direct, p$frame)
})

test_that("direct_frame() leaves every other call to model.frame()", {
  set.seed(4)
  e <- new.env()
  e$d <- data.frame(y = rnorm(20), x = rnorm(20), g = factor(rep(1:4, 5)), w = runif(20))
  e$dna <- e$d; e$dna$x[3] <- NA
  e$ddate <- e$d; e$ddate$x <- as.Date("2020-01-01") + 1:20
  e$dmat <- e$d; e$dmat$x <- cbind(1:20, 2:21)
  e$ddup <- cbind(e$d, y = 1)
  e$xs <- rnorm(20)
  none <- function(fo, dat, ...) expect_null(frame_pair(fo, dat, e, ..., frame = FALSE)$direct)
  none(log(y + 10) ~ x + (1 | g), "d")            # a transformation
  none(y ~ . + (1 | g), "d")                      # `.`
  none(y ~ xs + (1 | g), "d")                     # a variable not in 'data'
  none(y ~ x + (1 | g), "d", subset = quote(x > 0))
  none(y ~ x + (1 | g), "d", na.action = quote(na.exclude))
  none(y ~ x + (1 | g), "d", weights = quote(w^2))  # an extra that is not a column
  none(y ~ x + (1 | g), "dna")                    # missing values
  none(y ~ x + (1 | g), "ddate")                  # a column with attributes
  none(y ~ x + (1 | g), "dmat")                   # a matrix column
  none(y ~ x + (1 | g), "ddup")                   # a repeated column name
  old <- options(na.action = "na.fail")
  on.exit(options(old))
  none(y ~ x + (1 | g), "d")                      # another default na.action
})

test_that("a formula's local variables and functions are read anew on every call", {
  skip_if_not_installed("lme4")
  set.seed(5)
  d <- data.frame(a = factor(sample(8, 200, TRUE)), b = factor(sample(6, 200, TRUE)), x = rnorm(200))
  d$y <- d$x + rnorm(8)[d$a] + rnorm(6)[d$b] + rnorm(200)
  fit_k <- function(k) {
    xs <- d$x * k
    list(glmm(y ~ xs + (1 | a) + (1 | b), d, REML = TRUE),
         lme4::lmer(y ~ xs + (1 | a) + (1 | b), d, REML = TRUE))
  }
  for (k in c(1, 4, 0.5)) {
    f <- fit_k(k)
    expect_equal(unname(fixef(f[[1L]])), unname(lme4::fixef(f[[2L]])), tolerance = 1e-6)
    expect_equal(unname(fixef(f[[1L]])[2L]) * k, unname(fixef(fit_k(1)[[1L]])[2L]), tolerance = 1e-6)
  }
  tr_fit <- function(tr) glmm(y ~ tr(x) + (1 | a) + (1 | b), d)
  sq <- tr_fit(function(v) v^2)
  ab <- tr_fit(function(v) abs(v))
  expect_equal(as.numeric(logLik(sq)),
               as.numeric(logLik(lme4::lmer(y ~ I(x^2) + (1 | a) + (1 | b), d, REML = FALSE))),
               tolerance = 1e-7)
  expect_equal(as.numeric(logLik(ab)),
               as.numeric(logLik(lme4::lmer(y ~ abs(x) + (1 | a) + (1 | b), d, REML = FALSE))),
               tolerance = 1e-7)
  # the data frame given by the same name in two frames
  in_fun <- function() { d$y <- d$y * 3; glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE) }
  expect_equal(sigma(in_fun()), 3 * sigma(glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)),
               tolerance = 1e-6)
})

test_that("several_term_checks() returns what the separate checks return", {
  data(Penicillin, package = "lme4")
  fo <- diameter ~ 1 + (1 | plate) + (1 | sample)
  mf <- ns$frame_from_call(quote(glmm(formula = fo, data = Penicillin)), ns$sub_bars(fo),
                           environment(), extras = c("weights", "offset"))
  re <- ns$sparse_re_terms(fo, mf, NULL)
  d <- ns$several_term_checks(fo, mf, environment(), gaussian(), re)
  fx <- ns$fixed_design(fo, mf, environment())
  rc <- ns$checked_response(mf, fx$X, gaussian(), fo)
  expect_identical(d$X, fx$X)
  expect_identical(d$resp, rc$resp)
  expect_identical(d$offset, rc$offset)
  expect_identical(d$sep, ns$separation_record(fx$X, rc$resp$y, rc$resp$weights, gaussian(), "glmm"))
  # the terms' names are mkReTrms()' names
  bars <- ns$find_bars(strength ~ 1 + (1 | batch/cask) + (1 | cask:batch))
  data(Pastes, package = "lme4")
  expect_identical(ns$bar_term_names(bars),
                   names(reformulas::mkReTrms(bars, Pastes, reorder.terms = FALSE)$cnms))
})

test_that("grouping_codes() reads plain, ordered, unused-level and character grouping columns as mkReTrms() does", {
  set.seed(6)
  d <- data.frame(y = rnorm(40), g = factor(sample(letters[1:5], 40, TRUE)))
  d$o <- factor(d$g, ordered = TRUE)
  d$u <- factor(d$g, levels = c("zz", letters[1:5]))
  d$s <- as.character(d$g)
  for (v in c("g", "o", "u", "s")) {
    bars <- ns$find_bars(as.formula(sprintf("y ~ 1 + (1 | %s)", v)))
    a <- ns$grouping_codes(as.name(v), d)
    b <- reformulas::mkReTrms(bars, d, reorder.terms = FALSE)$flist[[1L]]
    # the same codes and levels (an ordered column gives a plain factor
    # here, an ordered one in mkReTrms(); as on main's build)
    expect_identical(as.integer(a), as.integer(b))
    expect_identical(levels(a), levels(b))
  }
  expect_identical(ns$grouping_codes(quote(g), d), d$g)
})

test_that("a factor left with one used level is named, on the direct frame and after 'subset'", {
  set.seed(8)
  d <- data.frame(y = rnorm(40), x = rnorm(40), a = factor(rep(1:8, 5)), b = factor(rep(1:5, 8)),
                  f = factor(rep("u", 40), levels = c("u", "v")))
  expect_error(glmm(y ~ x + f + (1 | a) + (1 | b), d), "'f' has a single value \\(\"u\"\\)")
  d$f2 <- factor(ifelse(d$x > 0, "p", "n"))
  expect_error(glmm(y ~ x + f2 + (1 | a) + (1 | b), d, subset = x > 0),
               "'f2' has a single value \\(\"p\"\\)")
  expect_s3_class(glmm(y ~ x + f2 + (1 | a) + (1 | b), d), "glmmgee_glmm")
})

test_that("a formula terms() refuses is worded by the model frame's error handler", {
  set.seed(9)
  d <- data.frame(y = rnorm(40), x = rnorm(40), a = factor(rep(1:8, 5)), b = factor(rep(1:5, 8)))
  expect_error(glmm(y ~ x^-1 + (1 | a) + (1 | b), d), "could not build the model frame: invalid power")
})

test_that("direct_frame() gives model.frame()'s frame for tibbles and data.tables", {
  skip_if_not_installed("lme4")
  e <- new.env()
  data(Penicillin, package = "lme4", envir = e)
  for (pk in c("tibble", "data.table")) {
    if (!requireNamespace(pk, quietly = TRUE)) next
    e$P2 <- if (pk == "tibble") tibble::as_tibble(e$Penicillin) else data.table::as.data.table(e$Penicillin)
    p <- frame_pair(diameter ~ 1 + (1 | plate) + (1 | sample), "P2", e)
    expect_false(is.null(p$direct))
    expect_identical(p$direct, p$frame)
  }
})
