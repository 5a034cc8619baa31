# The GLMM-versus-GEE question in one table.

#' Conditional and marginal effects side by side
#'
#' One row per term: the GLMM's conditional (subject-specific) estimate, the
#' marginal (population-averaged) estimate that the GLMM implies
#' ([marginal_coefs()]), and the GEE estimate, each with its Wald interval,
#' and the ratio marginal/conditional. For the identity link the three
#' estimate the same quantity; for logit, probit and log links with random
#' slopes or a random intercept the marginal effects are attenuated towards
#' zero (for the probit random intercept by exactly \eqn{1/\sqrt{1 +
#' \sigma^2}}), and the GEE estimates the marginal ones directly.
#'
#' @param x A fit from [glmm()], or a formula with random-effect terms
#'   (e.g. `y ~ trt + (1 | id)`): then both models are fitted, the GEE on
#'   the formula without its random-effect terms.
#' @param y A fit from [gee()] of the same mean model (same coefficient
#'   names and family) to the same data (the same observations, response and
#'   model matrix, else an error) when `x` is a glmm; `NULL` to compare the
#'   GLMM's two views only.
#' @param data,family For a formula: the data and family.
#' @param id For a formula: the GEE's cluster identifier, a column name
#'   (string); by default the GLMM's grouping factor. Needed when the
#'   formula has several grouping factors (the GEE takes one: for nested
#'   factors usually the outermost).
#' @param corstr For a formula: the GEE's working correlation.
#' @param nAGQ For a formula: quadrature points of the GLMM.
#' @param level Confidence level.
#' @param exponentiate Report exp(estimate) and exp(limits) (odds or rate
#'   ratios) instead of coefficients; the ratio column stays on the
#'   coefficient scale.
#' @param ... Not used: an argument given here is an error (a misspelt name
#'   is not ignored).
#' @return A data frame of class `glmmgee_views`: columns `term`,
#'   `conditional`, `cond.low`, `cond.high`, `marginal_glmm`, `marg.low`,
#'   `marg.high`, `gee`, `gee.low`, `gee.high`, `ratio` (marginal implied by
#'   the GLMM over conditional). The fits are attached as attributes
#'   `glmm` and `gee`.
#' @seealso [marginal_coefs()], [odds_ratios()], [plot_views()].
#' @examples
#' if (requireNamespace("MASS", quietly = TRUE)) {
#'   data(bacteria, package = "MASS")
#'   compare_views(y ~ trt + I(week > 2) + (1 | ID), data = bacteria,
#'                 family = binomial)
#' }
#' @export
compare_views <- function(x, y = NULL, data, family = gaussian(), id = NULL,
                          corstr = "exchangeable", nAGQ = NULL, level = 0.95,
                          exponentiate = FALSE, ...) {
  check_dots(..., .method = "compare_views")
  check_level(level)
  if (inherits(x, "formula")) {
    if (missing(data)) stop("'data' is needed to fit the models of the formula", call. = FALSE)
    if (!is.null(y)) stop("'y' must be NULL when 'x' is a formula", call. = FALSE)
    bars <- find_bars(x)
    if (!length(bars))
      stop("'x': the formula has no random-effect term such as (1 | id)", call. = FALSE)
    g <- glmm(x, data = data, family = family, nAGQ = nAGQ)
    if (is.null(id)) {
      if (length(unique(g$group_name)) > 1L)
        stop(sprintf("'id' is needed: the GLMM has several grouping factors (%s) and the GEE takes one; name the column of 'data' holding its clusters",
                     paste(unique(g$group_name), collapse = ", ")), call. = FALSE)
      id <- g$group_name
    }
    if (!is.character(id) || length(id) != 1L || !(id %in% names(data)))
      stop("'id' must name one column of 'data' (the GEE's clusters)", call. = FALSE)
    fixed <- x
    fixed[[3L]] <- reformulas::nobars(x[[3L]]) %||% 1
    y <- eval(substitute(gee(fixed, data = data, id = ID, family = family, corstr = corstr),
                         list(ID = as.name(id))))
    x <- g
  }
  refuse_ordinal(x, "compare_views()",
                 "odds_ratios(fit, type = \"marginal\") gives the population-averaged odds ratios")
  if (!is_glmm(x))
    stop("'x' must be a fit from glmm() or a formula with random-effect terms", call. = FALSE)
  if (!is.null(y)) {
    if (!is_gee(y)) stop("'y' must be a fit from gee() (or NULL)", call. = FALSE)
    if (!identical(names(y$coefficients), names(x$coefficients)))
      stop(sprintf("'x' and 'y' have different mean models: terms %s versus %s",
                   paste(names(x$coefficients), collapse = ", "),
                   paste(names(y$coefficients), collapse = ", ")), call. = FALSE)
    if (y$family$family != x$family$family || y$family$link != x$family$link)
      stop(sprintf("'x' and 'y' have different families: %s(%s) versus %s(%s)",
                   x$family$family, x$family$link, y$family$family, y$family$link),
           call. = FALSE)
    check_views_data(x, y)
  }
  z <- stats::qnorm(1 - (1 - level) / 2)
  wald <- function(b, V) {
    s <- sqrt(pmax(diag(V), 0))
    cbind(b, b - z * s, b + z * s)
  }
  mc <- marginal_coefs(x)
  tab <- cbind(wald(x$coefficients, x$vcov), wald(mc$coefficients, mc$vcov),
               if (is.null(y)) matrix(NA_real_, length(mc$coefficients), 3L)
               else wald(y$coefficients, stats::vcov(y)))
  ratio <- mc$coefficients / x$coefficients
  if (exponentiate) tab <- exp(tab)
  out <- data.frame(term = names(x$coefficients), tab, ratio = unname(ratio),
                    stringsAsFactors = FALSE, row.names = NULL)
  names(out)[2:10] <- c("conditional", "cond.low", "cond.high", "marginal_glmm",
                        "marg.low", "marg.high", "gee", "gee.low", "gee.high")
  structure(out, class = c("glmmgee_views", "data.frame"), level = level,
            exponentiate = exponentiate, family = x$family, glmm = x, gee = y,
            sigma_note = re_summary(x))
}

re_summary <- function(fit) {
  vc <- VarCorr(fit)
  sd <- unlist(lapply(names(vc), function(g) {
    s <- attr(vc[[g]], "stddev")
    stats::setNames(s, if (length(vc) > 1L) paste(g, names(s), sep = ": ") else names(s))
  }))
  paste(sprintf("SD(%s) = %s", names(sd), signif_each(sd, 3L)), collapse = ", ")
}

#' @rdname compare_views
#' @param digits Number of significant digits to print.
#' @export
print.glmmgee_views <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  check_dots(..., .method = "print.glmmgee_views", .allow = print_dots)
  fam <- attr(x, "family")
  g <- attr(x, "gee")
  cat(sprintf("Two views of a %s(%s) model for clustered data (%g%% Wald intervals)%s\n",
              fam$family, fam$link, 100 * attr(x, "level"),
              if (attr(x, "exponentiate")) ", exponentiated" else ""))
  cat(" conditional   : GLMM, subject-specific (random effects held fixed)\n")
  cat(" marginal_glmm : population-averaged, implied by the GLMM (delta-method SEs)\n")
  if (!is.null(g))
    cat(sprintf(" gee           : population-averaged, GEE (%s working correlation, %s SEs)\n",
                g$corstr, se_label(g$std.err)))
  cat(" ratio         : marginal_glmm / conditional, coefficient scale\n")
  cat(" GLMM random effects:", attr(x, "sigma_note"), "\n\n")
  d <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  if (is.null(g)) d$gee <- d$gee.low <- d$gee.high <- NULL
  print(format(d, digits = digits), row.names = FALSE)
  invisible(x)
}

# The glmm `x` and the gee `y` must describe the same observations: the
# same number of them, the same response (times the prior weights, so that
# a binomial proportion and cbind() agree) and the same model matrix.
check_views_data <- function(x, y) {
  wx <- x$prior.weights %||% rep(1, length(x$y))
  wy <- y$prior.weights %||% rep(1, length(y$y))
  keep_x <- wx > 0
  keep_y <- wy > 0
  why <- if (stats::nobs(x) != stats::nobs(y))
    sprintf("%d observations versus %d", stats::nobs(x), stats::nobs(y))
  else if (!isTRUE(all.equal(unname((x$y * wx)[keep_x]), unname((y$y * wy)[keep_y]))))
    "different responses"
  else if (!isTRUE(all.equal(unname(x$X[keep_x, , drop = FALSE]),
                             unname(y$engine$data$X[keep_y, , drop = FALSE]),
                             check.attributes = FALSE)))
    "different covariate values"
  if (!is.null(why))
    stop(sprintf("'x' and 'y' are fitted to different data (%s): refit the gee on the data of the glmm, rows in the same order",
                 why), call. = FALSE)
  invisible(TRUE)
}
