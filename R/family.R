# Family resolution shared by glmm() and gee(). The integer codes come from
# the C++ side (cpp_family_table()), so R and C++ cannot drift apart.

family_table <- local({
  tab <- NULL
  function() {
    if (is.null(tab)) tab <<- cpp_family_table()
    tab
  }
})

# Accepts what glm() accepts: a family function, a family object, or a name.
# Returns the family object with the C++ codes attached.
resolve_family <- function(family, env = parent.frame(2)) {
  if (is.character(family)) {
    if (length(family) != 1L || is.na(family))
      stop("'family' must be one name, a family function or a family object", call. = FALSE)
    fn <- get0(family, envir = env, mode = "function")
    if (is.null(fn))
      stop(sprintf("'family': no family function called \"%s\"", family), call. = FALSE)
    family <- fn
  }
  if (is.function(family)) family <- family()
  if (!inherits(family, "family"))
    stop("'family' must be a family function (e.g. binomial), a family object ",
         "(e.g. binomial(link = \"probit\")) or its name", call. = FALSE)
  tab <- family_table()
  ok <- tab$supported$family == family$family & tab$supported$link == family$link
  if (!any(ok)) {
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
