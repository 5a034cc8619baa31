# The two-part sparse engine's start curvature in the fixed, zero and
# dispersion coefficients from one pass at the joint modes
# (cpp_sparse_two_part_fixed_curvature(), laplace-zero-re.cpp; used by
# start_curvature_fixed(), optimize-sparse.R): with Lambda = 0 (H = I, no
# log det(H) terms) it is the exact Hessian of the Laplace log-likelihood in
# those coefficients, checked against numerical differentiation of the
# engine's exact gradient; it comes only from an evaluation made at the same
# parameters; and the fits that use it take Lambda's columns alone by
# differences. sparse_two_part_test_engine() and sparse_two_part_test_data() are in
# test-zi-random-sparse-gradient.R; copies here keep this file standalone.

start_curvature_engine <- function(d, fam, kind) {
  n <- nrow(d)
  fam <- glmmgee:::resolve_family(fam)
  ind <- function(f) Matrix::sparseMatrix(i = seq_len(n), j = as.integer(f), x = 1,
                                          dims = c(n, nlevels(f)))
  Zc <- cbind(ind(d$a), ind(d$b))
  Zz <- cbind(ind(d$a), ind(d$c))
  qa <- nlevels(d$a); qb <- nlevels(d$b); qc <- nlevels(d$c)
  lr <- c(seq_len(qa), qa + seq_len(qb)) - 1L
  lk <- c(rep(0L, qa), rep(1L, qb))
  zr <- c(seq_len(qa), qa + seq_len(qc)) - 1L
  zk <- c(rep(2L, qa), rep(3L, qc))
  Qc <- ncol(Zc)
  Xd <- if (glmmgee:::has_dispersion(fam)) cbind(1, d$x) else matrix(0, n, 0)
  eng <- glmmgee:::cpp_sparse_two_part_new(cbind(1, d$x), cbind(1, d$w), Xd,
                                  methods::as(Zc, "CsparseMatrix"), methods::as(Zz, "CsparseMatrix"),
                                  as.numeric(d$y), rep(1, n), matrix(0, n, 3),
                                  c(lr, zr + Qc), c(lr, zr + Qc), c(lk, zk), 4L,
                                  fam$family_code, fam$link_code, kind)
  list(eng = eng, pd = ncol(Xd))
}

start_curvature_data <- function(seed, nb = FALSE, hurdle = FALSE) {
  set.seed(seed)
  n <- 240
  d <- data.frame(a = factor(sample(12, n, TRUE)), b = factor(sample(7, n, TRUE)),
                  c = factor(sample(5, n, TRUE)), x = rnorm(n), w = rbinom(n, 1, 0.5))
  mu <- exp(0.5 + 0.4 * d$x + rnorm(12, 0, 0.5)[d$a])
  yc <- if (nb) rnbinom(n, size = 2, mu = mu) else rpois(n, mu)
  if (hurdle) yc <- pmax(1, yc)
  d$y <- ifelse(runif(n) < plogis(-0.6 + 0.7 * d$w), 0, yc)
  d
}

test_that("with Lambda = 0 the coefficients' start curvature is the exact Hessian", {
  skip_if_not_installed("numDeriv")
  cases <- list(list(nb = FALSE, hurdle = FALSE, fam = poisson(), kind = 1L),
                list(nb = TRUE, hurdle = FALSE, fam = glmmgee::nbinom2(), kind = 1L),
                list(nb = FALSE, hurdle = TRUE, fam = poisson(), kind = 2L),
                list(nb = TRUE, hurdle = TRUE, fam = glmmgee::nbinom2(), kind = 2L))
  for (k in seq_along(cases)) {
    cs <- cases[[k]]
    d <- start_curvature_data(30 + k, nb = cs$nb, hurdle = cs$hurdle)
    e <- start_curvature_engine(d, cs$fam, cs$kind)
    # (beta, Lambda's 4 entries, gamma, delta)
    th <- c(0.4, 0.3, 0, 0, 0, 0, -0.5, 0.6, if (e$pd) c(0.5, 0.2))
    fixed <- c(1:2, 7:8, if (e$pd) 9:10)
    g <- function(f) {
      t <- th
      t[fixed] <- f
      glmmgee:::cpp_sparse_two_part_grad(e$eng, t)$gradient[fixed]
    }
    num <- numDeriv::jacobian(g, th[fixed])
    invisible(glmmgee:::cpp_sparse_two_part_grad(e$eng, th))
    H <- glmmgee:::cpp_sparse_two_part_fixed_curvature(e$eng, th)
    expect_equal(dim(H), rep(length(fixed), 2))
    expect_equal(H, (num + t(num)) / 2, tolerance = 1e-6, info = paste("case", k))
  }
})

test_that("the start curvature needs an evaluation at the same parameters; away from Lambda = 0 it is negative definite near an optimum", {
  d <- start_curvature_data(41, nb = TRUE)
  e <- start_curvature_engine(d, glmmgee::nbinom2(), 1L)
  th <- c(0.4, 0.3, 0.5, 0.3, 0.6, 0.4, -0.5, 0.6, 0.5, 0.2)
  th2 <- th
  th2[1] <- 0.41
  invisible(glmmgee:::cpp_sparse_two_part_grad(e$eng, th))
  expect_null(glmmgee:::cpp_sparse_two_part_fixed_curvature(e$eng, th2))
  H <- glmmgee:::cpp_sparse_two_part_fixed_curvature(e$eng, th)
  expect_true(isSymmetric(H))
  expect_true(all(eigen(H, symmetric = TRUE, only.values = TRUE)$values < 0))
  # The modes (and so the value) are those of the evaluation: asking for the
  # curvature changes nothing in the engine's next evaluation.
  a <- glmmgee:::cpp_sparse_two_part_grad(e$eng, th2)
  invisible(glmmgee:::cpp_sparse_two_part_grad(e$eng, th))
  b <- glmmgee:::cpp_sparse_two_part_grad(e$eng, th2)
  expect_equal(a$loglik, b$loglik, tolerance = 1e-12)
  expect_error(glmmgee:::cpp_sparse_two_part_fixed_curvature(e$eng, th[-1]), "theta must have length")
})

test_that("two-part sparse fits start from it: Lambda's columns alone by differences, glmmTMB's optimum", {
  skip_if_not_installed("glmmTMB")
  data(Salamanders, package = "glmmTMB", envir = environment())
  fit <- glmm(count ~ mined + (1 | site), data = Salamanders, family = truncated_poisson,
              ziformula = ~ mined + (1 | spp))
  st <- fit$optinfo$stages$start
  expect_match(st$message, "coefficients at the modes")
  # one pass plus the two standard deviations' columns
  expect_identical(as.integer(st$evaluations), 3L)
  m <- glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~ mined + (1 | spp),
                        data = Salamanders, family = glmmTMB::truncated_poisson)
  expect_gte(as.numeric(logLik(fit)), as.numeric(logLik(m)) - 1e-6)
  expect_equal(sqrt(diag(fit$cov_theta))[c(1, 2)], sqrt(diag(vcov(m)$cond)), tolerance = 2e-3,
               ignore_attr = TRUE)
})
