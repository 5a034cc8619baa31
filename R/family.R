# Family resolution shared by glmm() and gee(). The integer codes come from
# the C++ side (cpp_family_table()), so R and C++ cannot drift apart.

family_table <- local({
  tab <- NULL
  function() {
    if (is.null(tab)) tab <<- cpp_family_table()
    tab
  }
})

# Family names users bring from other packages or from habit, which are not
# glmmgee's spelling: the constructor to use instead, as it goes in the
# message, or NULL. Matched ignoring case, dots, underscores and spaces.
family_hint <- function(name) {
  if (!is.character(name) || length(name) != 1L || is.na(name)) return(NULL)
  key <- gsub("[^a-z0-9]", "", tolower(name))
  ord <- "family = cumulative() (a cumulative link model for ordered categories; see ?ordinal-glmm)"
  nb2 <- "family = nbinom2() (negative binomial, variance mu + mu^2/theta, theta estimated)"
  nb1 <- "family = nbinom1() (negative binomial, variance mu (1 + phi))"
  zip <- "family = poisson with ziformula = ~ 1 (zero-inflated Poisson; see ?glmm-zero-inflation)"
  zinb <- "family = nbinom2() with ziformula = ~ 1 (zero-inflated negative binomial; see ?glmm-zero-inflation)"
  beta <- "family = beta_family() (a response in (0, 1))"
  hurdle <- "family = truncated_poisson() or truncated_nbinom2() with ziformula = ~ 1 (a hurdle model)"
  hints <- c(ordinal = ord, ordered = ord, clm = ord, clmm = ord, polr = ord, ologit = ord,
             oprobit = ord, cumulativelogit = ord,
             negbin = nb2, nb = nb2, nb2 = nb2, nbinom = nb2, negativebinomial = nb2,
             negbinomial = nb2, negbinom = nb2, nb1 = nb1,
             zip = zip, zipoisson = zip, zeroinflatedpoisson = zip,
             zinb = zinb, zinbinom2 = zinb, zeroinflatednegativebinomial = zinb,
             beta = beta, betar = beta, betaregression = beta,
             hurdle = hurdle, hurdlepoisson = hurdle, hurdlenb = hurdle,
             truncatedpoisson = hurdle)
  if (key %in% names(hints)) hints[[key]] else NULL
}

# The error for a family given by a name glmmgee does not use.
stop_family_hint <- function(what, hint)
  stop(sprintf("'family': %s is not a family of glmmgee; use %s", what, hint), call. = FALSE)

# glmm() and gee() evaluate their `family` argument through this, so that a
# call or name that fails (`negbin()`, `ordinal`), or a name that is some
# other function (base R's beta(), utils' zip()), is answered with the
# constructor to use. `expr` is substitute(family); `value` a function
# returning the evaluated argument.
family_arg <- function(expr, value) {
  head <- if (is.call(expr)) expr[[1L]] else expr
  hint <- if (is.name(head)) family_hint(as.character(head))
  what <- sQuote(paste(deparse(expr), collapse = " "), FALSE)
  fam <- tryCatch(value(), error = function(e) {
    if (is.null(hint)) stop(e)
    stop_family_hint(what, hint)
  })
  # A bare name of a function that makes no family object
  if (!is.null(hint) && is.name(expr) && is.function(fam) &&
      !isTRUE(tryCatch(inherits(fam(), "family"), error = function(e) FALSE)))
    stop_family_hint(what, hint)
  fam
}

# Accepts what glm() accepts: a family function, a family object, or a name.
# Returns the family object with the C++ codes attached.
resolve_family <- function(family, env = parent.frame(2)) {
  if (is.character(family)) {
    if (length(family) != 1L || is.na(family))
      stop("'family' must be one name, a family function or a family object", call. = FALSE)
    hint <- family_hint(family)
    if (!is.null(hint)) stop_family_hint(sprintf("\"%s\"", family), hint)
    fn <- get0(family, envir = env, mode = "function")
    if (is.null(fn))
      stop(sprintf("'family': no family function called \"%s\"", family), call. = FALSE)
    family <- fn
  }
  if (identical(family, base::beta)) stop_family_hint("base R's beta()", family_hint("beta"))
  if (is.function(family)) family <- family()
  if (!inherits(family, "family"))
    stop("'family' must be a family function (e.g. binomial), a family object ",
         "(e.g. binomial(link = \"probit\")) or its name", call. = FALSE)
  tab <- family_table()
  ok <- tab$supported$family == family$family & tab$supported$link == family$link
  if (!any(ok)) {
    # MASS's negative.binomial(theta) is "Negative Binomial(theta)"
    hint <- family_hint(sub("\\(.*$", "", family$family))
    if (!is.null(hint) && !family$family %in% tab$family)
      stop_family_hint(sprintf("\"%s\"", family$family), hint)
    pairs <- paste0(tab$supported$family, "(", tab$supported$link, ")", collapse = ", ")
    stop(sprintf("'family': %s with link \"%s\" is not supported; supported: %s",
                 family$family, family$link, pairs), call. = FALSE)
  }
  family$family_code <- match(family$family, tab$family) - 1L
  family$link_code <- match(family$link, tab$link) - 1L
  family
}

# resolve_family(gaussian()), made once: glmm()'s default family (making
# and resolving it cost 3% of a small REML fit). A family object is plain
# data and closures that nothing modifies, so one copy serves every fit.
default_gaussian <- local({
  fam <- NULL
  function() {
    if (is.null(fam)) fam <<- resolve_family(stats::gaussian())
    fam
  }
})

# TRUE when the family has a dispersion parameter that the GLMM engine
# estimates as its last parameter (on the log scale). The attribute "scale"
# marks a residual standard deviation (gaussian), against which a random
# effect's standard deviation is judged to be zero.
has_dispersion <- function(family) {
  d <- family$family %in% c("gaussian", "nbinom2", "Gamma", "nbinom1", "beta", "betabinomial")
  attr(d, "scale") <- identical(family$family, "gaussian")
  d
}

# The dispersion parameter of a family: its name as users read it, the
# optimizer's label (log scale) and the argument name in glmm_fit(start = ).
dispersion_name <- function(family) {
  switch(family$family, gaussian = "sigma", nbinom2 = "theta", Gamma = "shape",
         nbinom1 = , beta = , betabinomial = "phi", NA_character_)
}

# The name of a fit's last parameter, the log dispersion, where it has one
# (`disp`): "log(sigma)", "log(theta)", ...
dispersion_tail <- function(family, disp) if (disp) sprintf("log(%s)", dispersion_name(family))
