# Profile likelihoods of a fit with covariance structures (covstruct.R).
#
# The parameters are the fixed effects, each structure's parameters and the
# dispersion. A structure parameter is traced on the scale the fit searched
# it on (log standard deviation, the unconstrained t of a correlation, log
# range, ...), where the likelihood is smooth and unbounded, and reported
# on its natural scale (standard deviation, correlation, range, Matern
# smoothness, propto()'s scale): zeta does not change under a monotone map
# of the parameter, so the natural scale's intervals are the maps of the
# search scale's. Factor entries of us() and rr() terms are profiled as
# they are.
#
# Each profile point is a fit of every other parameter, on the engine the
# fit came from (one grouping factor: AGHQ or Laplace at the fit's nAGQ;
# several terms: the sparse Laplace engine), its gradient carried to the
# structures' parameters by the Cholesky factor's exact Jacobian
# (covstruct_parameter_map()).

# The profile of a structured fit, as profile_fit() returns it.
covstruct_profile <- function(fit, which, alpha, maxpts, refine) {
  targets <- covstruct_profile_targets(fit)
  targets <- targets[unique(select_parameters(covstruct_parm(which, fit, targets, "which"),
                                              names(targets), "which"))]
  eng <- covstruct_profile_engine(fit)
  on.exit(eng$free(), add = TRUE)
  cutoff <- stats::qnorm(1 - alpha / 2)
  control <- list(rel.tol = 1e-10)
  k_re <- structure_blocks(eng$re$terms, length(fit$coefficients))
  rows <- lapply(targets, function(tg) {
    map <- target_map(tg, eng$lower)
    if (!is.null(eng$Tx)) map <- star_target_map(map, tg, eng$Tx, eng$lower)
    map$restart <- covstruct_profile_restart(eng$re$terms, k_re, tg$pos, length(eng$phi))
    pts <- trace_profile(eng$eval, map, tg, eng$phi, fit$loglik, cutoff, maxpts, refine,
                         control, 1)
    # (points far out on the search scale can meet on the natural one: a
    # correlation's 1 - 1e-17 is 1)
    v <- natural_values(tg, pts$value)
    keep <- !duplicated(v)
    data.frame(parameter = tg$name, value = v[keep], zeta = pts$zeta[keep])
  })
  out <- do.call(rbind, rows)
  out$parameter <- factor(out$parameter, levels = names(targets))
  rownames(out) <- NULL
  structure(out,
            estimates = vapply(targets, function(tg) tg$natural(tg$estimate), 1),
            alpha = alpha,
            bounds = lapply(targets, `[[`, "natural_bounds"),
            class = c("glmmgee_profile", "data.frame"))
}

# A second start for the fits at each profile point (profile_point()): the
# free parameters `z` (the search parameters but the target's, at `pos`),
# with every term that has a standard deviation below 0.01 restarted as the
# fit's boundary checks restart it (covstruct_restart_point(): standard
# deviations 0.3, correlations at their start); NULL when there is none.
# Near zero the log-likelihood is flat in a log standard deviation, and a
# fit warm-started there stays there, although with the target held away
# from its estimate the optimum may lie well inside (nbinom2 with ar1(0 +
# tf | g), its sd estimated at 1e-5 and rho at 0.999: with x held at the
# lower limit the profile found, 0.2094, a refit has sd 0.28 and rho 0.82
# and lies 3.76 below the maximum, not 3.84: the limit was too high).
covstruct_profile_restart <- function(terms, k_re, pos, P) {
  sdp <- structure_sd_positions(terms, k_re)
  function(z) {
    full <- numeric(P)
    full[-pos] <- z
    small <- setdiff(intersect(covstruct_boundary(full, terms, k_re, sd_tol = 0.01), sdp), pos)
    if (!length(small)) return(NULL)
    hit <- unlist(k_re[vapply(k_re, function(ix) any(ix %in% small), TRUE)])
    full <- covstruct_restart_point(full, terms, k_re, setdiff(hit, pos), 0.3)
    full[-pos]
  }
}

# A target's traced values on its natural scale; a value at or beyond the
# search scale's closed bound (the trace's last point there, or an
# estimate already past it, as a correlation estimated at 1) is the natural
# scale's limit exactly (a standard deviation or range at 0, a correlation
# at its limit).
natural_values <- function(tg, x) {
  out <- tg$natural(x)
  lo <- !is.na(tg$closed[1L]) & x <= tg$closed[1L]
  hi <- !is.na(tg$closed[2L]) & x >= tg$closed[2L]
  out[lo] <- tg$natural_bounds[1L]
  out[hi] <- tg$natural_bounds[2L]
  out
}

# The parameters a structured fit profiles, named as its structures'
# parameters on their natural scales ("ar1(0 + time | id): rho",
# "exp(0 + pos | g): range", "sigma"), each a "coef" target at its position
# in the fit's search parameters (theta_structure) with
#   natural(x)       the search scale's value x on the natural scale,
#   closed           the search-scale bounds where the trace stops (a
#                    standard deviation 1e-8 of its estimate: practically
#                    zero; a correlation 1e-8 from its limits),
#   natural_bounds   the natural values there (0, -1 or 1).
# The search scale's bounds lie where the likelihood no longer changes
# within the optimizer's tolerance, so a profile that reaches one stays
# inside the interval up to that limit.
covstruct_profile_targets <- function(fit) {
  phi <- unname(as.numeric(fit$theta_structure))
  pnames <- names(fit$theta_structure)
  V <- fit$cov_structure
  p <- length(fit$coefficients)
  se <- unname(sqrt(pmax(diag(V), 0)))
  se[!is.finite(se)] <- NA_real_
  out <- lapply(seq_along(phi), function(j) {
    sc <- natural_scale(pnames[j], fit, j, p)
    closed <- sc$closed(phi[j])
    list(name = sc$name, kind = "coef", pos = j,
         estimate = phi[j], se = se[j], closed = closed, log = FALSE,
         cov = unname(V[, j]), natural = sc$natural, natural_bounds = sc$bounds,
         keyword = if (j > p) "theta_")
  })
  names(out) <- make.unique(vapply(out, `[[`, "", "name"))
  for (nm in names(out)) out[[nm]]$name <- nm
  out
}

# `parm` (or profile()'s `which`) of a structured fit's profile with the
# names of the Wald intervals that are a structure's parameter
# (covstruct_wald_aliases()) replaced by that parameter's name; a Wald
# name that is not one is an error saying why and listing the names this
# profile takes.
covstruct_parm <- function(parm, fit, targets, arg) {
  if (!is.character(parm)) return(parm)
  alias <- covstruct_wald_aliases(fit, targets)
  hit <- parm %in% names(alias)
  parm[hit] <- alias[parm[hit]]
  wald_only <- setdiff(intersect(parm, names(profile_targets(fit))), names(targets))
  if (length(wald_only))
    stop(sprintf(paste0(
      "'%s': %s %s of the Wald intervals but not a parameter of this fit's profile, which is on ",
      "its covariance structures' parameters (an unstructured term's Cholesky entries, one ",
      "standard deviation and rho of ar1(), ...); a correlation or standard deviation the ",
      "structure implies from several of them has no profile of its own. The profile's ",
      "parameters: %s%s"), arg, paste(sQuote(wald_only, FALSE), collapse = ", "),
      if (length(wald_only) == 1L) "is a row" else "are rows",
      paste(sQuote(names(targets), FALSE), collapse = ", "),
      if (length(alias)) sprintf("; the Wald rows that are one of them: %s",
                                 paste(sQuote(names(alias), FALSE), collapse = ", ")) else ""),
      call. = FALSE)
  parm
}

# The rows of the Wald intervals (profile_targets()) that are one of a
# structured fit's profile parameters (covstruct_profile_targets()), as a
# vector of the profile's names named by the Wald ones: a column's standard
# deviation ("sd_x|id" for "diag(1 + x | id): sd(x)", or for the common
# "ar1(0 + tf | id): sd" each column's), and the correlations that are the
# structure's rho (each with the first column for cs() and homcs(), the
# first lag for ar1() and hetar1()). A term's other rows (us() and rr(),
# profiled on Lambda's entries; ar1()'s longer lags) are functions of
# several parameters.
covstruct_wald_aliases <- function(fit, targets) {
  wald <- names(profile_targets(fit))
  out <- character()
  for (st in fit$structures) {
    part <- regmatches(st$label, regexpr("^(zi|disp)~", st$label))
    eff <- paste0(if (length(part)) sub("~$", ".", part) else "", st$columns)
    group <- trimws(sub("^.*\\|(.*)\\)$", "\\1", st$label))
    own <- paste0(st$label, ": sd(", st$columns, ")")
    out <- c(out, stats::setNames(ifelse(own %in% names(targets), own, paste0(st$label, ": sd")),
                                  ran_sd_name(eff, group)))
    k <- switch(st$kind, cs = , homcs = seq_along(eff)[-1L], ar1 = , hetar1 = 2L, integer())
    k <- k[k <= length(eff)]
    out <- c(out, stats::setNames(rep(paste0(st$label, ": rho"), length(k)),
                                  ran_cor_name(eff[k], eff[1L], group)))
  }
  out[names(out) %in% wald & out %in% names(targets)]
}

# The natural scale of search parameter j named `pname` ("label: log(sd)",
# "log(sigma)"): its name, the map, the search-scale bounds (a function of
# the estimate) and the natural values there.
natural_scale <- function(pname, fit, j, p) {
  # A zero or dispersion part's coefficient ("zi~z") under the name its
  # Wald interval and the other fits' profiles give it ("zi.z", glmmTMB's
  # prefix); a term's parameters keep their part's prefix on the label.
  coef_name <- if (!grepl(": ", pname)) sub("^(zi|disp)~", "\\1.", pname) else pname
  none <- list(name = coef_name, natural = identity, closed = function(x) c(NA_real_, NA_real_),
               bounds = c(NA_real_, NA_real_))
  if (j <= p) return(none)
  # (the last ": " ends the term's label; a column may hold ":")
  label <- sub("^(.*): .*$", "\\1", pname)
  par <- sub("^.*: ", "", pname)
  nm <- function(v) if (grepl(": ", pname)) paste0(label, ": ", v) else v
  if (grepl("^log\\(.*\\)$", par)) {
    inner <- sub("^log\\((.*)\\)$", "\\1", par)
    # A dispersion (sigma, theta) and the Matern smoothness are left
    # unbounded. propto()'s parameter is half the log of its scale (the
    # variance multiplying the matrix).
    lower <- grepl(": ", pname) && inner != "kappa"
    pow <- if (inner == "scale" && grepl(": ", pname)) 2 else 1
    # A gaussian sigma stops where the fit's search did
    # (covstruct_sigma_floor on the response's scale): below it the
    # engine's Laplace terms lose their digits.
    # (an equalto() fit is searched on y itself)
    floor <- if (inner == "sigma" && identical(fit$family$link, "identity")) {
      equalto <- any(vapply(fit$structures, function(st) identical(st$kind, "equalto"), TRUE))
      covstruct_sigma_floor + if (!equalto)
        log(as.vector(response_scale(fit$X, as.numeric(fit$y), fit$prior.weights, fit$offset,
                                     fit$family))) else 0
    }
    return(list(name = nm(inner), natural = function(x) exp(pow * x),
                closed = function(x) c(if (lower) x - log(1e8) else floor %||% NA_real_, NA_real_),
                bounds = c(if (lower || !is.null(floor)) 0 else NA_real_, NA_real_)))
  }
  if (grepl("\\(t / sqrt\\(1 \\+ t\\^2\\)\\)$", par)) {
    # t = r / sqrt(1 - r^2) at r = 1 - 1e-8.
    tb <- (1 - 1e-8) / sqrt(1 - (1 - 1e-8)^2)
    return(list(name = nm(sub(" \\(t / .*$", "", par)), natural = function(t) t / sqrt(1 + t^2),
                closed = function(x) c(-tb, tb), bounds = c(-1, 1)))
  }
  if (grepl("\\(logit scale\\)$", par)) {
    # cs(), homcs(): rho = -a + (1 + a) plogis(t), a = 1 / (q - 1).
    st <- Find(function(s) identical(s$label, label), fit$structures)
    a <- 1 / (length(st$columns) - 1)
    tb <- stats::qlogis(1 - 1e-8)
    return(list(name = nm(sub(" \\(logit scale\\)$", "", par)),
                natural = function(t) -a + (1 + a) * stats::plogis(t),
                closed = function(x) c(-tb, tb), bounds = c(-a, 1)))
  }
  none
}

# The two-part sparse engine of a structured fit with random effects in a
# zero or dispersion part, on the fit's terms `re` and the designs `ax`
# (profile_aux_inputs()): its evaluation, the profile's edge where the
# Laplace approximation breaks down, and the engine.
covstruct_sparse_two_part_base <- function(fit, re, ax) {
  n <- length(fit$y)
  z <- zi_random_split_z(re)
  eng <- cpp_sparse_two_part_new(ax$X, ax$Xz0, ax$Xd0, z$Zc, z$Zz, as.numeric(fit$y),
                        as.numeric(fit$prior.weights %||% rep(1, n)), ax$off3,
                        re$lam_row - 1L, re$lam_col - 1L, re$lam_k - 1L, re$ntheta,
                        fit$family$family_code, fit$family$link_code, ax$kind, z$nsecond)
  list(eval = sparse_two_part_evaluator(eng), free = function() NULL, Tx = ax$Tx,
       edge = sparse_two_part_profile_edge(eng), eng = eng)
}

# The engine of a structured fit as a function of its search parameters
# phi* = (beta*, structure parameters, dispersion), beta* = Tx beta on the
# engine's centred and scaled design: list(eval, free, Tx, phi (the
# estimates, user scale), lower).
covstruct_profile_engine <- function(fit) {
  to_engine <- engine_jac <- NULL
  pm <- covstruct_parameter_map(fit)
  if (is.null(pm))
    stop("profile(): the structured fit's parameters do not reproduce its covariance entries; use confint(method = \"Wald\")",
         call. = FALSE)
  if (inherits(fit, c("glmmgee_glmm_zire_sparse", "glmmgee_glmm_dispre"))) {
    # Random effects in a zero or dispersion part beside: the two-part
    # sparse engine on both parts' terms (pm$re, zi_random_combined_re()).
    # (by quadrature: the one-factor two-part engine at the fit's rule)
    ax <- profile_aux_inputs(fit)
    base <- if (isTRUE(fit$nAGQ > 1L))
      list(eval = structured_zi_random_agq_rebuild(fit, pm$re, ax)$eval, free = function() NULL,
           Tx = ax$Tx)
    else covstruct_sparse_two_part_base(fit, pm$re, ax)
  } else if (inherits(fit, "glmmgee_glmm_sparse")) {
    se <- covstruct_sparse_new(fit, pm$re)
    base <- list(eval = if (se$agq) function(th) cpp_agq_eval(se$eng, th, TRUE)
                        else if (!is.null(se$nested)) function(th) se$nested$eval(th, TRUE)
                        else function(th) sparse_eval(se$eng, th, TRUE),
                 free = function() NULL, Tx = se$Tx)
    # (the nested engine's gradient holds its adaptive nodes fixed: the
    # profile's searches take the value's, by central differences, as the
    # fit's last steps did)
    if (!is.null(se$nested)) base$value <- function(th) se$nested$eval(th, FALSE)$loglik
  } else {
    one <- structured_one_factor_engine(fit, pm, "profile()")
    base <- one$base
    to_engine <- one$to_engine
    engine_jac <- one$jac
  }
  # (on the user's Z the engine's theta is the fit's)
  if (is.null(to_engine)) to_engine <- identity
  # The gradient in phi: J' (E' g), E the engine map's Jacobian (none on the
  # user's Z), J the structure map's. Multiplied from the gradient's side:
  # the engine's parameters are Lambda's entries, q (q + 1) / 2 per block
  # (10,100 for two terms on 100 cells), and forming E J, or E as an
  # identity matrix, had cost 800 MB and a second per evaluation.
  eval <- function(ph) {
    at <- tryCatch(pm$map(ph), error = function(e) NULL)
    if (is.null(at)) return(list(loglik = -Inf, gradient = rep(NA_real_, length(ph))))
    if (!is.null(base$value)) {
      v <- function(x) {
        a <- tryCatch(pm$map(x), error = function(e) NULL)
        if (is.null(a)) NA_real_ else base$value(to_engine(a$theta))
      }
      return(list(loglik = base$value(to_engine(at$theta)),
                  gradient = fd_gradient(v, ph, 1e-4 * pmax(abs(ph), 0.1))))
    }
    r <- base$eval(to_engine(at$theta))
    g <- if (is.null(engine_jac)) r$gradient else crossprod(engine_jac(at$theta), r$gradient)
    list(loglik = r$loglik, gradient = drop(crossprod(at$J, g)))
  }
  # Where the two-part engine's approximation can break down, the profile
  # stops at its edge as on the other two-part fits (profile_point(),
  # sparse_two_part_profile_edge()): a refit that ends there has no usable value
  # (on an AR(1) mean beside a random zero part, such ends gave
  # log-likelihoods 80 above the fit's, and zeta 0 far from the estimate).
  if (!is.null(base$edge))
    attr(eval, "edge") <- structure(function(ph, converged) {
      if (is.null(ph)) return(base$edge(NULL, converged))
      at <- tryCatch(pm$map(ph), error = function(e) NULL)
      is.null(at) || base$edge(at$theta, converged)
    }, why = attr(base$edge, "why"))
  check_rebuilt_engine(eval(theta_star(pm$phi, base$Tx))$loglik, fit, base$free)
  # (the engine's state at the estimates, just evaluated there)
  if (!is.null(base$edge)) attr(eval, "reset") <- sparse_two_part_profile_reset(base$eng)
  list(eval = eval, free = base$free, Tx = base$Tx, phi = pm$phi, re = pm$re,
       lower = rep(-Inf, length(pm$phi)))
}

# The one-factor engine of a structured fit, on the basis its quadrature
# ran on: a far-off two-column cs() fitted by adaptive quadrature is
# integrated on its centred columns (cs_pair_centring_one(), `$optinfo$cs2_centred`),
# and quadrature's value depends on that basis, so on the user's Z the
# profile stopped with "could not be rebuilt" and the cluster-robust
# covariance used another approximation (its scores summed to 2.2, not 0).
# list(base (profile_engine()'s list), to_engine (the fit's theta -> the
# engine's), jac (its Jacobian)); both NULL on the user's Z.
structured_one_factor_engine <- function(fit, pm, caller) {
  labels <- .subset2(fit$optinfo, "cs2_centred")
  if (is.null(labels)) return(list(base = profile_engine(fit, caller = caller)))
  re <- pm$re
  idx <- which(vapply(re$terms, `[[`, "", "label") %in% labels)
  cen <- cs_pair_centring_one(re, idx)
  lam <- length(fit$coefficients) + seq_along(fit$pattern$row)
  zb <- list(blocks = lapply(cen$terms, function(ce) z_block(fit$pattern, ce$cols, ce$term, ce$T, lam)),
             q = ncol(re$Z), aghq = TRUE)
  c(list(base = profile_basis_engine(fit, zb, caller)), basis_map(zb))
}
