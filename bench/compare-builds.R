# Do two builds of glmmgee give the same results? 66 fits through glmm() and gee() (several-term gaussian LMMs by REML and
# ML: random intercepts, slopes, crossed, nested, a:b, a/b, weights,
# offsets, rows with NA, subset, contrasts, unused levels, character and
# numeric grouping variables, an expression; transformations and `.` in
# formulas; formulas built in functions with local variables and local
# functions, each called with two values; logical, ordered and integer
# columns, row names, reordered rows; nested quadrature, covariance
# structures, known covariances, zero-inflated and ordinal fits and a
# few other routes), saved with
# environments and closures replaced by text (and call/time dropped), for
# an identical() comparison between two builds:
#   R_LIBS=<lib A> Rscript bench/compare-builds.R a.rds
#   R_LIBS=<lib B> Rscript bench/compare-builds.R b.rds
#   Rscript bench/compare-builds.R a.rds b.rds
args <- commandArgs(TRUE)
if (length(args) == 2L) {
  a <- readRDS(args[[1L]]); b <- readRDS(args[[2L]])
  suppressPackageStartupMessages(library(Matrix))
  ok <- mapply(identical, a, b)
  cat(sum(ok), "of", length(ok), "fits identical()\n")
  for (k in names(a)[!ok]) {
    x <- a[[k]]; y <- b[[k]]
    cat(k, ":", if (is.list(x)) names(x)[!mapply(identical, x[names(x)], y[names(x)])] else "", "\n")
  }
  quit(save = "no")
}
out <- args[[1L]]
suppressPackageStartupMessages(library(glmmgee))
data(Penicillin, Pastes, sleepstudy, cbpp, package = "lme4")
set.seed(7)
n <- 600
d <- data.frame(a = factor(sample(12, n, TRUE)), b = factor(sample(9, n, TRUE)),
                c = sample(letters[1:6], n, TRUE), x = rnorm(n), z = runif(n),
                f3 = factor(sample(c("u", "v", "w"), n, TRUE)), stringsAsFactors = FALSE)
d$y <- 1 + 0.5 * d$x + rnorm(12)[d$a] + 0.7 * rnorm(9)[d$b] + 0.4 * rnorm(6)[match(d$c, letters)] +
  0.5 * rnorm(108)[(as.integer(d$a) - 1) * 9 + as.integer(d$b)] + (0.3 * rnorm(12)[d$a]) * d$x + rnorm(n)
d$w <- runif(n, 0.5, 2); d$o <- rnorm(n, sd = 0.1)
d$ynum <- as.integer(d$a) * 10 # numeric id
d$ida <- as.integer(d$a)
dna <- d; dna$y[c(3, 50)] <- NA; dna$x[7] <- NA; dna$b[99] <- NA
dlev <- d; dlev$a <- factor(dlev$a, levels = c(levels(d$a), "zz")); dlev$b <- factor(dlev$b, levels = c("q", levels(d$b)))
Pen2 <- Penicillin; Pen2$plate <- as.character(Pen2$plate)
P3 <- Pastes; P3$batch <- as.character(P3$batch)
cs <- list(
  pen_reml = quote(glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)),
  pen_ml = quote(glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)),
  pen_chr = quote(glmm(diameter ~ 1 + (1 | plate) + (1 | sample), Pen2, REML = TRUE)),
  pastes_reml = quote(glmm(strength ~ 1 + (1 | batch/cask), Pastes, REML = TRUE)),
  pastes_ml = quote(glmm(strength ~ 1 + (1 | batch/cask), Pastes)),
  pastes_colon = quote(glmm(strength ~ 1 + (1 | batch) + (1 | batch:cask), Pastes, REML = TRUE)),
  pastes_colon2 = quote(glmm(strength ~ 1 + (1 | batch) + (1 | cask:batch), Pastes, REML = TRUE)),
  pastes_chr = quote(glmm(strength ~ 1 + (1 | batch/cask), P3, REML = TRUE)),
  crossed = quote(glmm(y ~ x + (1 | a) + (1 | b), d, REML = TRUE)),
  crossed_ml = quote(glmm(y ~ x + (1 | a) + (1 | b), d)),
  crossed3 = quote(glmm(y ~ x + (1 | a) + (1 | b) + (1 | c), d, REML = TRUE)),
  crossed_chr = quote(glmm(y ~ x + f3 + (1 | c) + (1 | b), d)),
  nested = quote(glmm(y ~ x + (1 | a/b), d, REML = TRUE)),
  nested_ml = quote(glmm(y ~ x + (1 | a/b), d)),
  inter = quote(glmm(y ~ x + (1 | a:b) + (1 | c), d, REML = TRUE)),
  inter3 = quote(glmm(y ~ x + (1 | a:b:c) + (1 | a), d, REML = TRUE)),
  weights = quote(glmm(y ~ x + (1 | a) + (1 | b), d, weights = w, REML = TRUE)),
  offset = quote(glmm(y ~ x + (1 | a) + (1 | b), d, offset = o, REML = TRUE)),
  offset_term = quote(glmm(y ~ x + offset(o) + (1 | a/b), d)),
  na_rows = quote(glmm(y ~ x + (1 | a) + (1 | b), dna, REML = TRUE)),
  na_nested = quote(glmm(y ~ x + (1 | a/b), dna)),
  subset = quote(glmm(y ~ x + (1 | a) + (1 | b), d, subset = z > 0.2, REML = TRUE)),
  subset_nested = quote(glmm(y ~ x + (1 | a/b), d, subset = a != "3")),
  contrasts = quote(glmm(y ~ x + f3 + (1 | a) + (1 | b), d, contrasts = list(f3 = "contr.sum"), REML = TRUE)),
  unused = quote(glmm(y ~ x + (1 | a) + (1 | b), dlev, REML = TRUE)),
  unused_nested = quote(glmm(y ~ x + (1 | a/b), dlev)),
  slope = quote(glmm(y ~ x + (x | a) + (1 | b), d, REML = TRUE)),
  slope_ml = quote(glmm(y ~ x + (1 + x | a) + (1 | b), d)),
  slope_uncor = quote(glmm(y ~ x + (x || a) + (1 | b), d, REML = TRUE)),
  slope_nested = quote(glmm(y ~ x + (1 | a/b) + (0 + x | a), d, REML = TRUE)),
  numeric_id = quote(glmm(y ~ x + (1 | ida) + (1 | b), d, REML = TRUE)),
  numeric_inter = quote(glmm(y ~ x + (1 | ida:b) + (1 | ida), d, REML = TRUE)),
  expr_group = quote(glmm(y ~ x + (1 | I(ida %% 5)) + (1 | b), d, REML = TRUE)),
  sleep = quote(glmm(Reaction ~ Days + (Days | Subject), sleepstudy, REML = TRUE)),
  sleep2 = quote(glmm(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), sleepstudy, REML = TRUE)),
  binom = quote(glmm(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs), transform(cbpp, obs = factor(seq_len(nrow(cbpp)))), family = binomial)),
  pois = quote(glmm(round(exp(y / 3)) ~ x + (1 | a) + (1 | b), d, family = poisson)),
  stringf = quote(glmm("y ~ x + (1 | a) + (1 | b)", d, REML = TRUE)),
  known = quote(glmm(y ~ x + (1 | a) + (1 | b), d, covariance = list(a = `rownames<-`(diag(12), levels(d$a))))),
  # transformations in formulas (not read by the direct frame)
  log_resp = quote(glmm(log(diameter) ~ 1 + (1 | plate) + (1 | sample), Penicillin, REML = TRUE)),
  poly_x = quote(glmm(y ~ poly(x, 2) + (1 | a) + (1 | b), d, REML = TRUE)),
  scale_x = quote(glmm(y ~ scale(x) + I(x^2) + (1 | a/b), d)),
  factor_id = quote(glmm(y ~ x + factor(ida %% 3) + (1 | a) + (1 | b), d, REML = TRUE)),
  # `.` in formulas
  dot = quote(glmm(y ~ . + (1 | a) + (1 | b), d[c("y", "x", "z", "a", "b")], REML = TRUE)),
  dot_nested = quote(glmm(strength ~ . + (1 | batch/cask), Pastes[c("strength", "batch", "cask")])),
  # formulas built in functions, variables local to them (each called
  # twice with different values: nothing may be read from the first call)
  local_x1 = quote(local_fit(1)), local_x2 = quote(local_fit(3)),
  local_fun1 = quote(local_trans(function(v) v^2)), local_fun2 = quote(local_trans(function(v) sqrt(abs(v)))),
  local_weights = quote(local_weights(2)),
  built = quote(built_fit("diameter", c("plate", "sample"))),
  built2 = quote(built_fit("strength", c("batch", "sample"))),
  # plain columns of the direct frame: logical, ordered, two-row subsets of
  # row names, integer response, both extras
  plain_types = quote(glmm(yi ~ lg + o3 + (1 | a) + (1 | b), d, REML = TRUE)),
  rownamed = quote(glmm(y ~ x + (1 | a) + (1 | b), drn, REML = TRUE)),
  reordered = quote(glmm(y ~ x + (1 | a) + (1 | b), d[sample(n), ], REML = TRUE)),
  both_extras = quote(glmm(y ~ x + (1 | a) + (1 | b), d, weights = w, offset = o)),
  gee_plain = quote(gee(y ~ x, id = a, data = d)),
  gee_w = quote(gee(y ~ x, id = a, data = d, weights = w, corstr = "exchangeable")),
  # the other routes that share the several-term checks
  nested_agq = quote(glmm(I(y > 1) ~ x + (1 | a/b), d, family = binomial, nAGQ = 3)),
  structured = quote(glmm(y ~ x + diag(x | a) + (1 | b), d)),
  known_gauss = quote(glmm(y ~ x + (1 | a), d, covariance = list(a = `rownames<-`(diag(12), levels(d$a))))),
  known_laplace = quote(glmm(I(y > 1) ~ x + (1 | a), d, family = binomial,
                             covariance = list(a = `rownames<-`(diag(12), levels(d$a))))),
  # two-part and ordinal routes on plain columns (direct frames)
  zip = quote(glmm(cnt ~ x + (1 | a), d, family = poisson, ziformula = ~ z)),
  zip_sparse = quote(glmm(cnt ~ x + (1 | a) + (1 | b), d, family = poisson, ziformula = ~ z)),
  ordinal = quote(glmm(ord ~ x + (1 | a), d, family = cumulative)),
  ordinal_sparse = quote(glmm(ord ~ x + (1 | a) + (1 | b), d, family = cumulative))
)
d$cnt <- ifelse(runif(n) < 0.3, 0L, rpois(n, exp(0.5 + 0.3 * d$x)))
d$ord <- cut(d$y, c(-Inf, 0, 1, 2, Inf), ordered_result = TRUE)
d$yi <- as.integer(round(10 * d$y)); d$lg <- d$x > 0
d$o3 <- factor(sample(c("lo", "mid", "hi"), n, TRUE), levels = c("lo", "mid", "hi"), ordered = TRUE)
drn <- d; rownames(drn) <- paste0("obs", seq_len(n))
local_fit <- function(k) { xs <- d$x * k; glmm(y ~ xs + (1 | a) + (1 | b), d, REML = TRUE) }
local_trans <- function(tr) glmm(y ~ tr(x) + (1 | a) + (1 | b), d)
local_weights <- function(k) { wk <- d$w^k; glmm(y ~ x + (1 | a) + (1 | b), d, weights = wk, REML = TRUE) }
built_fit <- function(resp, groups) {
  dat <- if (resp == "diameter") Penicillin else Pastes
  f <- as.formula(paste(resp, "~ 1 +", paste0("(1 | ", groups, ")", collapse = " + ")))
  glmm(f, dat, REML = TRUE)
}
set.seed(11)
res <- lapply(cs, function(e) tryCatch(suppressWarnings(eval(e)), error = function(e) conditionMessage(e)))
noenv <- function(x) {
  if (is.environment(x)) return("<environment>")
  if (is.function(x)) return(deparse(x))
  at <- attributes(x)
  if (!is.null(at) && !is.null(at$.Environment)) attr(x, ".Environment") <- NULL
  if (is.list(x) && !is.data.frame(x)) { for (k in seq_along(x)) if (!is.null(x[[k]])) x[[k]] <- noenv(x[[k]]) }
  else if (is.data.frame(x)) { tt <- attr(x, "terms"); if (!is.null(tt)) attr(x, "terms") <- noenv(tt) }
  if (!is.null(attributes(x))) for (nm in setdiff(names(attributes(x)), c("names", "class", "dim", "dimnames", "row.names", "levels", "terms"))) { v <- attr(x, nm); if (is.environment(v) || is.function(v) || (is.list(v) && !is.data.frame(v))) attr(x, nm) <- noenv(v) }
  x
}
strip <- function(f) { if (is.list(f)) { f$call <- NULL; f$time <- NULL; f$optinfo$time <- NULL }; noenv(f) }
res <- lapply(res, strip)
saveRDS(res, out)
cat(length(res), "fits;", sum(vapply(res, is.character, TRUE)), "errors\n")
