# The one-factor engine on the user's X with the design map applied to the
# parameters: the engine's fixed effects are beta = Txi beta* (Txi = T^-1,
# X* = X Txi), so its linear predictor X beta equals X* beta* and the
# gradient in beta* is Txi' times the gradient in beta. The optimizer sees
# the same function as on the standardized copy X*, which is never formed:
# at ten million rows that copy is a quarter of a gigabyte per three
# columns. Used by glmm_fit_units() where design_transform() finds the map
# safe and X has at least design_map_entries() entries; below that the
# copy is made as before, so that fits, and sharded fits of the same data,
# keep their last bits.

design_map_entries <- function() {
  v <- getOption("glmmgee.design_map_entries", 8e6)
  if (!is.numeric(v) || length(v) != 1L || is.na(v) || v < 0)
    stop("options(glmmgee.design_map_entries =) must be one number >= 0", call. = FALSE)
  v
}

xmap_engine <- function(eng, Tx, Txi) {
  structure(list(inner = eng, Tx = Tx, Txi = Txi, p = ncol(Txi)), class = "glmmgee_xmap_engine")
}

# theta* -> the engine's theta (beta in the user's coding).
xmap_theta <- function(eng, theta) {
  ip <- seq_len(eng$p)
  theta[ip] <- drop(eng$Txi %*% theta[ip])
  theta
}

xmap_eval <- function(eng, theta, gradient) {
  r <- cpp_agq_eval(eng$inner, xmap_theta(eng, theta), gradient)
  if (gradient) {
    ip <- seq_len(eng$p)
    r$gradient[ip] <- drop(crossprod(eng$Txi, r$gradient[ip]))
  }
  r
}

# The same with each cluster's score (rows of $scores), mapped alike.
xmap_eval_scores <- function(eng, theta) {
  r <- cpp_agq_eval_scores(eng$inner, xmap_theta(eng, theta))
  ip <- seq_len(eng$p)
  r$gradient[ip] <- drop(crossprod(eng$Txi, r$gradient[ip]))
  r$scores[, ip] <- r$scores[, ip, drop = FALSE] %*% eng$Txi
  r
}

# The GLM start's sums (loglik, gradient, information in beta*).
xmap_glm_sums <- function(eng, beta) {
  s <- cpp_agq_glm_sums(eng$inner, drop(eng$Txi %*% beta))
  s$gradient <- drop(crossprod(eng$Txi, s$gradient))
  s$information <- crossprod(eng$Txi, s$information %*% eng$Txi)
  s
}

# The engine's summaries of the modes at theta*.
xmap_summaries <- function(eng, theta) cpp_agq_summaries(eng$inner, xmap_theta(eng, theta))

# ?glmm's section on the optimum: the standardized designs, this file's
# design map, and the penalized fits that are not invariant.
#' @section The optimum:
#' The optimizer works on centred and scaled copies of the fixed- and
#' random-effect designs, and of the `ziformula` and `dispformula` designs
#' (a covariate is centred only within a covariance
#' block that has an intercept, since otherwise centring changes the model)
#' and maps the optimum back exactly, so neither the estimates nor the
#' log-likelihood depend on how covariates are centred or in which units
#' they are measured. Penalized fits (`penalized`) are the exception: the
#' Student-t prior acts on the coefficients as coded, as GLMMadaptive's, so
#' rescaling a covariate changes how strongly its coefficient is shrunk, and
#' centring one changes the intercept and, through the joint prior, every
#' coefficient. On one separated binary data set (a random intercept, x
#' with standard deviation about 1) the effect per unit of x was 0.46 with
#' x, 0.0018 with x / 100 (shrunk 250-fold) and 0.28 with x + 5. Put
#' covariates on a scale where a coefficient of order 1 is plausible (e.g.
#' x / sd(x)), or give each coefficient its own scale: with x / 100,
#' `penalized = list(pen_sigma = c(1, 100, 1, 1))` gives back the fit on x.
#' For adaptive quadrature with several random effects
#' the approximation is evaluated on that standardized design (a product
#' quadrature rule is not invariant to rotations of the random effects).
#' On one grouping factor, from 8 million entries of the fixed-effects
#' design (`options(glmmgee.design_map_entries =)`), no copy of it is made
#' where no covariate's mean lies beyond 10 standard deviations from zero:
#' the map is applied to the coefficients instead, the same function to
#' rounding, at a quarter of a gigabyte less per three columns at ten
#' million rows.
#' A variance at zero or a correlation at +/-1 is accepted only after
#' restarts from interior points find no higher log-likelihood.
#' @rdname glmm
#' @name glmm
NULL
