# Fuzz test over families, links, working correlations, sizes, extreme
# values and odd inputs. The fits run in child processes (helper-child.R),
# several per child, each child with a time limit: a crash or a hang fails
# the test. Every fit must end in an object or an R error, and an error must
# be a worded one, not an internal failure of R or C++ leaking through.

# Messages that mean the input reached code that did not check it.
internal_failure <- paste(c(
  "std::", "bad_alloc", "cannot allocate vector", "subscript out of bounds",
  "missing value where TRUE/FALSE needed", "argument is of length zero",
  "non-conformable", "NA/NaN/Inf in foreign function call", "object of type",
  "Evaluation error", "c stack", "unused argument", "invalid 'times'"),
  collapse = "|")

fuzz_setup <- c(
  "set.seed(20261122)",
  "mk <- function(M = 12, m = 5, big = 0) {",
  "  sizes <- c(rep(m, M), if (big > 0) big)",
  "  d <- data.frame(g = rep(seq_along(sizes), sizes))",
  "  n <- nrow(d); d$t <- ave(d$g, d$g, FUN = seq_along)",
  "  d$x <- rnorm(n); d$z <- runif(n); b <- rnorm(length(sizes))[d$g]",
  "  eta <- 0.3 + 0.5 * d$x + b",
  "  d$yb <- rbinom(n, 1, plogis(eta)); d$yp <- rpois(n, exp(eta))",
  "  d$yn <- eta + rnorm(n); d$yg <- rgamma(n, shape = 2, rate = 2 / exp(eta))",
  "  d$w <- 1; d$o <- 0; d }",
  "d0 <- mk(); d1 <- mk(M = 1, m = 8); d2 <- mk(M = 2, m = 3); ds <- mk(M = 40, m = 1)",
  "dbig <- mk(M = 10, m = 3, big = 3000)",
  "dx <- d0; dx$x <- dx$x * 1e9",
  "dc <- d0; dc$yn <- 3; dc$yb <- 1; dc$yp <- 0; dc$yg <- 2",
  "dext <- d0; dext$yp[1] <- 1e9; dext$yg[1] <- 1e300; dext$yn[1] <- 1e300",
  "do <- d0; do$o <- 700",
  "dw <- d0; dw$w[dw$g == 1] <- 0",
  "dwneg <- d0; dwneg$w[1] <- -1",
  "dna <- d0; dna$g[3] <- NA; dna$x[5] <- NA",
  "dinf <- d0; dinf$x[2] <- Inf",
  "dchr <- d0; dchr$yb <- as.character(dchr$yb)",
  "dwave <- d0; dwave$t[2] <- dwave$t[1]",
  "dday <- d0; dday$t <- dday$t * 997")

# Families and links with the response each needs.
fuzz_families <- c(
  "gaussian()" = "yn", "gaussian(link = 'log')" = "yg", "binomial()" = "yb",
  "binomial(link = 'probit')" = "yb", "binomial(link = 'cloglog')" = "yb",
  "poisson()" = "yp", "Gamma(link = 'log')" = "yg", "Gamma(link = 'identity')" = "yg",
  "nbinom2()" = "yp")
fuzz_data_sets <- c("d0", "d1", "d2", "ds", "dbig", "dx", "dc", "dext", "do", "dw",
                    "dwneg", "dna", "dinf")

fuzz_cases <- function(kind, n, seed) {
  set.seed(seed)
  fam <- sample(names(fuzz_families), n, replace = TRUE)
  dat <- sample(fuzz_data_sets, n, replace = TRUE)
  y <- fuzz_families[fam]
  if (kind == "glmm") {
    re <- sample(c("(1 | g)", "(1 + x | g)", "(1 | g) + (1 | t)", "(x || g)"), n, replace = TRUE)
    nagq <- sample(c("1", "3", "9", "0", "NA", "1e6", "2.5"), n, replace = TRUE,
                   prob = c(4, 3, 2, 1, 1, 1, 1))
    nagq[grepl("\\+ \\(1 \\| t\\)", re)] <- "1"
    code <- sprintf("glmm(%s ~ x + z + %s, data = %s, family = %s, weights = w, offset = o, nAGQ = %s)",
                    y, re, dat, fam, nagq)
  } else {
    cs <- sample(c("'independence'", "'exchangeable'", "'ar1'", "'unstructured'",
                   "'mdep', Mv = 2", "'fixed', R = diag(8)", "'toeplitz'"), n, replace = TRUE)
    wv <- sample(c("", ", waves = t"), n, replace = TRUE)
    se <- sample(c("'san.se'", "'md'", "'kc'", "'jack'", "'fij'", "'bogus'"), n,
                 replace = TRUE, prob = c(5, 1, 1, 1, 1, 1))
    dat[dat == "d0" & wv != ""] <- sample(c("dwave", "dday", "d0"), sum(dat == "d0" & wv != ""),
                                          replace = TRUE)
    # The bias-corrected and jackknife variances of a 3,000-row cluster take
    # minutes (an n x n eigendecomposition; one refit per cluster): bounded,
    # but beyond a CI time limit.
    se[dat == "dbig"] <- "'san.se'"
    code <- sprintf("gee(%s ~ x + z, data = %s, id = g, family = %s, corstr = %s%s, weights = w, offset = o, std.err = %s)",
                    y, dat, fam, cs, wv, se)
  }
  stats::setNames(code, sprintf("%s%02d", kind, seq_len(n)))
}

run_fuzz_batch <- function(cases) {
  body <- vapply(names(cases), function(tag)
    sprintf("child_try('%s', suppressWarnings(suppressMessages(%s)))", tag, cases[[tag]]), "")
  res <- run_child(c(fuzz_setup, body), timeout = 120)
  expect_child_ok(res, names(cases))
  for (tag in intersect(names(cases), names(res$reports))) {
    msg <- res$reports[[tag]]
    expect_true(msg == "OK" || startsWith(msg, "ERROR: "), info = paste(tag, msg))
    expect_false(grepl(internal_failure, msg, ignore.case = TRUE),
                 info = paste(tag, cases[[tag]], "->", msg))
  }
  res
}

test_that("fuzz: glmm fits end in an object or a worded R error, never a crash or a hang", {
  for (b in 1:3) run_fuzz_batch(fuzz_cases("glmm", 40, 100 + b))
})

test_that("fuzz: gee fits end in an object or a worded R error, never a crash or a hang", {
  for (b in 1:3) run_fuzz_batch(fuzz_cases("gee", 40, 200 + b))
})
