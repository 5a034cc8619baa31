# Covariance structures over coordinates, as glmmTMB writes them: ou(0 + t
# | g) (Ornstein-Uhlenbeck, continuous-time AR(1) on times that need not
# be equally spaced), exp(0 + pos | g), gau(0 + pos | g) and mat(0 + pos |
# g) (exponential, Gaussian and Matern decay with Euclidean distance). The
# term's columns are the levels of one factor whose labels hold the
# coordinates, written by numFactor() ("(1.5,2)", or glmmTMB's numFactor()
# with the same labels) or plain numbers ("1", "2.5") for one dimension.
#
# Parameters, on unconstrained scales: log sd, then log of the rate theta
# (ou: corr = exp(-theta |t - s|), glmmTMB's parameterization) or of the
# range phi (exp: exp(-d / phi); gau: exp(-(d / phi)^2); mat: the Matern
# correlation 2^(1 - kappa) / Gamma(kappa) (d / phi)^kappa K_kappa(d /
# phi), as TMB's matern()), and for mat log kappa, the smoothness.

#' Coordinates as a factor
#'
#' `numFactor()` makes a factor whose levels hold numeric coordinates, for
#' the covariance structures that read distances between the columns of a
#' random-effect term: `ou()` (times), `exp()`, `gau()` and `mat()`
#' (positions), see [covariance-structures]. Its levels are written as
#' glmmTMB's `numFactor()` writes them, `"(x,y)"`, so a factor made by
#' either package serves both; a factor whose levels are plain numbers
#' (`factor(times)`) serves for one dimension.
#'
#' @param x a numeric vector, or a matrix or data frame with one column per
#'   dimension.
#' @param ... further numeric vectors of the same length: the other
#'   coordinates.
#' @return A factor, one level per distinct point, in the order the points
#'   first occur.
#' @examples
#' pos <- numFactor(c(1, 2, 2), c(0, 0, 1.5))
#' levels(pos)
#' @export
numFactor <- function(x, ...) {
  cols <- if (is.matrix(x) || is.data.frame(x)) c(as.list(as.data.frame(x)), list(...))
          else c(list(x), list(...))
  if (!length(cols) || !all(vapply(cols, is.numeric, TRUE)))
    stop("numFactor(): the coordinates must be numeric vectors (or a numeric matrix)", call. = FALSE)
  n <- unique(lengths(cols))
  if (length(n) != 1L) stop("numFactor(): the coordinates must have the same length", call. = FALSE)
  if (any(vapply(cols, function(v) any(!is.finite(v) & !is.na(v)), TRUE)))
    stop("numFactor(): the coordinates must be finite", call. = FALSE)
  lab <- paste0("(", do.call(paste, c(lapply(cols, as.character), sep = ",")), ")")
  lab[Reduce(`|`, lapply(cols, is.na))] <- NA
  lev <- unique(lab)
  factor(lab, levels = lev[!is.na(lev)])
}

# The coordinates in level labels "(a,b)" or "a": a matrix with one row per
# label, or NULL when a label is not such a point.
parse_coordinates <- function(labels) {
  core <- sub("^\\((.*)\\)$", "\\1", labels)
  parts <- strsplit(core, ",", fixed = TRUE)
  k <- unique(lengths(parts))
  if (length(k) != 1L || k < 1L) return(NULL)
  m <- suppressWarnings(matrix(as.numeric(unlist(parts)), ncol = k, byrow = TRUE))
  if (anyNA(m) || !all(is.finite(m))) return(NULL)
  m
}

# The kinds that read coordinates.
covstruct_coordinate_kinds <- c("ou", "exp", "gau", "mat")

# The coordinates of a structured term's columns: the term must be one
# factor without intercept (0 + f | g), its labels points. `cn` the
# design's column names, `lhs` the term's one-sided formula, `mf` the
# model frame. Errors name the term and the column.
term_coordinates <- function(kind, label, cn, lhs, mf) {
  tl <- attr(stats::terms(lhs), "term.labels")
  vars <- vapply(as.list(attr(stats::terms(lhs), "variables"))[-1L],
                 function(v) paste(deparse(v, width.cutoff = 500L), collapse = ""), "")
  if (length(vars) != 1L || length(tl) != 1L || attr(stats::terms(lhs), "intercept") != 0L ||
      !is.factor(mf[[vars]]))
    stop(sprintf(paste0("%s: %s() reads coordinates from one factor without intercept, e.g. ",
                        "%s(0 + pos | g) with pos <- numFactor(x, y)"), label, kind, kind), call. = FALSE)
  xy <- parse_coordinates(substring(cn, nchar(vars) + 1L))
  if (is.null(xy))
    stop(sprintf(paste0("%s: the levels of '%s' are not coordinates (%s); make the factor with ",
                        "numFactor(x, y), or factor() of numeric times"), label, vars,
                 paste(utils::head(levels(mf[[vars]]), 3L), collapse = ", ")), call. = FALSE)
  if (kind == "ou" && ncol(xy) != 1L)
    stop(sprintf("%s: ou() takes one time coordinate, '%s' has %d", label, vars, ncol(xy)), call. = FALSE)
  if (anyDuplicated(xy))
    stop(sprintf("%s: two levels of '%s' are the same point", label, vars), call. = FALSE)
  xy
}

# The structure over distances: D = s^2 R(d; range[, kappa]) with its
# exact derivatives in log s and log range (ou: log theta); in log kappa
# (mat) by central differences of the Bessel function in its order.
#
# The Matern correlation's Bessel functions, most of a mat() fit's time, are
# taken at the distinct distances only (the strict lower triangle, mirrored)
# and the correlation at the last parameters is kept for dD(), which the
# fit calls right after D() at the same parameters.
cs_coordinates <- function(kind, q, coords) {
  d <- as.matrix(stats::dist(coords))
  np <- if (kind == "mat") 3L else 2L
  low <- lower.tri(d)
  dl <- d[low]
  symmetric <- function(v, diagonal) {
    m <- matrix(0, q, q)
    m[low] <- v
    m <- m + t(m)
    diag(m) <- diagonal
    m
  }
  last <- list(par = NULL, corr = NULL)
  corr <- function(par) {
    if (identical(par, last$par)) return(last$corr)
    a <- exp(par[2L])
    r <- switch(kind,
                ou = exp(-a * d),
                exp = exp(-d / a),
                gau = exp(-(d / a)^2),
                mat = symmetric(matern_correlation(dl / a, exp(par[3L])), 1))
    last <<- list(par = par, corr = r)
    r
  }
  # dR / d log(range) (ou: d log(theta)).
  dcorr <- function(par) {
    a <- exp(par[2L])
    switch(kind,
           ou = -a * d * exp(-a * d),
           exp = (d / a) * exp(-d / a),
           gau = 2 * (d / a)^2 * exp(-(d / a)^2),
           mat = symmetric(matern_dlogrange(dl / a, exp(par[3L])), 0))
  }
  pnames <- c("log(sd)", switch(kind, ou = "log(theta)", "log(range)"), if (kind == "mat") "log(kappa)")
  list(kind = kind, npar = np, coords = coords,
       names = function(cn) pnames, scale_par = 1L,
       D = function(par) exp(2 * par[1L]) * corr(par),
       dD = function(par) {
         s2 <- exp(2 * par[1L])
         out <- list(2 * s2 * corr(par), s2 * dcorr(par))
         if (kind == "mat") {
           h <- 1e-5
           out[[3L]] <- s2 * symmetric((matern_correlation(dl / exp(par[2L]), exp(par[3L] + h)) -
                                          matern_correlation(dl / exp(par[2L]), exp(par[3L] - h))) /
                                         (2 * h), 0)
         }
         out
       },
       # The range starts at the median distance; gau()'s at the median
       # distance to the nearest point, where its correlation matrix is
       # still well conditioned (at the median distance of 150 points in a
       # square it is not positive definite in double precision).
       start = function(sd) {
         nn <- d[d > 0]
         near <- apply(d + diag(Inf, q), 1L, min)
         a <- switch(kind, ou = -log(stats::median(nn)), gau = log(stats::median(near)),
                     log(stats::median(nn)))
         c(log(mean(sd)), a, if (kind == "mat") 0)
       },
       sd = function(par) rep(exp(par[1L]), q),
       rho = function(par) NULL,
       extra = function(par) c(stats::setNames(exp(par[2L]), if (kind == "ou") "theta" else "range"),
                               if (kind == "mat") c(kappa = exp(par[3L]))),
       sd_par = 1L, rho_par = seq_len(np)[-1L], hom = TRUE, ordered = FALSE,
       # The range (rate) at a limit: every correlation within 1e-4 of 1
       # (D of rank one) or below 1e-8 (independent effects).
       at_limit = function(par) {
         r <- corr(par)[d > 0]
         lim <- length(r) && (min(r) > 1 - covstruct_rho_tol || max(r) < 1e-8)
         rep(lim, np - 1L)
       })
}

# The Matern correlation 2^(1 - kappa) / Gamma(kappa) u^kappa K_kappa(u),
# 1 at u = 0, for a matrix u of scaled distances.
matern_correlation <- function(u, kappa) {
  matern_check_smoothness(kappa)
  out <- rep(1, length(u))
  dim(out) <- dim(u)
  pos <- u > 0
  up <- u[pos]
  out[pos] <- exp((1 - kappa) * log(2) - lgamma(kappa) + kappa * log(up) +
                    log(besselK(up, kappa, expon.scaled = TRUE)) - up)
  out
}

# R's besselK() of an order beyond about 2^31 crashed R (it sizes an array
# by the order): a search that sends the smoothness there (the Gaussian
# limit, where the data cannot tell the two apart) gets an error, which the
# structure's evaluation turns into a point to back off from. Beyond 1e3 the
# Matern correlation equals its Gaussian limit to the digits that matter.
matern_check_smoothness <- function(kappa) {
  if (!is.finite(kappa) || kappa > 1e3)
    stop("mat(): the smoothness is beyond 1e3 (the Gaussian limit: fit gau())", call. = FALSE)
}

# Its derivative in log(range) at u = d / range: -u dM/du, with
# d/du [u^k K_k(u)] = -u^k K_(k-1)(u), and K_(-v) = K_v.
matern_dlogrange <- function(u, kappa) {
  matern_check_smoothness(kappa)
  out <- rep(0, length(u))
  dim(out) <- dim(u)
  pos <- u > 0
  up <- u[pos]
  out[pos] <- exp((1 - kappa) * log(2) - lgamma(kappa) + (kappa + 1) * log(up) +
                    log(besselK(up, abs(kappa - 1), expon.scaled = TRUE)) - up)
  out
}

# `exp` is both a covariance structure and R's exponential: exp(x) in a
# formula is the function, exp(0 + pos | g) the structure. reformulas'
# specials take every call by its name, so exp(x) is shielded under another
# name while the specials are read, and given back after.
exp_shield_name <- ".glmmgee_exp"
shield_exp <- function(e) {
  if (!is.call(e) || !("exp" %in% all.names(e))) return(e)
  is_bar <- function(a) is.call(a) && identical(a[[1L]], as.name("|"))
  if (identical(e[[1L]], as.name("exp")) && !(length(e) >= 2L && is_bar(e[[2L]])))
    e[[1L]] <- as.name(exp_shield_name)
  for (i in seq_along(e)[-1L]) if (!is.null(e[[i]]) && !missing_arg(e[[i]])) e[[i]] <- shield_exp(e[[i]])
  e
}
unshield_exp <- function(e) {
  if (is.name(e) && identical(as.character(e), exp_shield_name)) return(as.name("exp"))
  if (!is.call(e) || !(exp_shield_name %in% all.names(e))) return(e)
  for (i in seq_along(e)) if (!is.null(e[[i]]) && !missing_arg(e[[i]])) e[[i]] <- unshield_exp(e[[i]])
  e
}
# A formula with exp(x) shielded, keeping its attributes; and back.
shield_formula <- function(f) { g <- shield_exp(f); attributes(g) <- attributes(f); g }
unshield_formula <- function(f) { g <- unshield_exp(f); attributes(g) <- attributes(f); g }
