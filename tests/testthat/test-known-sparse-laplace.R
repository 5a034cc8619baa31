# Binomial and Poisson models with a sparse known covariance (a dsCMatrix
# K, here block-diagonal: families): the sparse Laplace engine works on Z F
# with F a sparse Cholesky factor of K, in the space of the random effects,
# and K is never made dense. Checked against the dense route (the
# dense-factor engine of fit-known-laplace.R: the same model), against
# glmer with the design Z F, and by tracing R's allocations: none as large
# as a dense K.

sim_families <- function(nfam = 80, size = 5, seed = 4) {
  set.seed(seed)
  block <- matrix(0.5, size, size)
  diag(block) <- 1
  block[1, 2] <- block[2, 1] <- 0  # the two parents are unrelated
  K <- Matrix::bdiag(rep(list(block), nfam))
  nl <- nfam * size
  ids <- paste0("p", seq_len(nl))
  K <- methods::as(Matrix::forceSymmetric(methods::as(K, "CsparseMatrix")), "dsCMatrix")
  dimnames(K) <- list(ids, ids)
  d <- data.frame(id = factor(rep(ids, each = 2), levels = ids), x = rnorm(2 * nl))
  b <- as.numeric(Matrix::t(Matrix::chol(K)) %*% rnorm(nl))
  d$yb <- rbinom(nrow(d), 1, stats::plogis(-0.3 + 0.5 * d$x + 0.9 * b[as.integer(d$id)]))
  d$yp <- rpois(nrow(d), exp(0.1 + 0.3 * d$x + 0.6 * b[as.integer(d$id)]))
  list(data = d, K = K)
}

# glmer_zl(): helper-known-genomic.R.

test_that("a sparse K (binomial, Poisson) equals the dense route and glmer's Z F fit", {
  skip_if_not_installed("lme4")
  s <- sim_families()
  F <- Matrix::t(Matrix::chol(s$K))
  for (fam in list(binomial(), poisson())) {
    y <- if (fam$family == "binomial") "yb" else "yp"
    fo <- stats::as.formula(paste(y, "~ x + (1 | id)"))
    sp <- glmm(fo, s$data, family = fam, covariance = list(id = s$K))
    expect_s3_class(sp, "glmmgee_glmm_sparse")
    expect_false(inherits(sp, "glmmgee_glmm_known"))
    dn <- glmm(fo, s$data, family = fam, covariance = list(id = as.matrix(s$K)))
    expect_s3_class(dn, "glmmgee_glmm_known")
    expect_equal(as.numeric(logLik(sp)), as.numeric(logLik(dn)), tolerance = 1e-7)
    expect_equal(fixef(sp), fixef(dn), tolerance = 1e-4)
    expect_equal(unname(VarCorr(sp)$id[1]), unname(VarCorr(dn)$id[1]), tolerance = 1e-4)
    # glmer on Z F: our optimum is not below its reported value, and our
    # Laplace function at glmer's estimates (the same function) is not above
    # our optimum. (Its estimates are not compared: in the Poisson case its
    # search ends 0.01 below our log-likelihood, even with bobyqa at
    # rhoend = 1e-10, and its reported value is 0.01 below our Laplace value
    # at its own estimates, the error of its PIRLS modes on this design.)
    ref <- glmer_zl(fo, s$data, F, fam, optimizer = "bobyqa", control = list(rhoend = 1e-10))
    expect_gte(as.numeric(logLik(sp)), as.numeric(logLik(ref)) - 1e-4)
    eng <- glmmgee:::known_laplace_engine(dn$X, dn$y, rep(1, nrow(dn$X)), rep(0, nrow(dn$X)),
                                          dn$known_factor$index, dn$known_factor$L,
                                          glmmgee:::known_laplace_family(fam), 1L)
    at_ref <- eng$eval(c(lme4::fixef(ref), log(lme4::getME(ref, "theta"))), gradient = FALSE)$value
    expect_gte(as.numeric(logLik(sp)), at_ref - 1e-8)
  }
})

test_that("a sparse K is never made dense: no allocation of the size of a dense K", {
  skip_if_not(capabilities("profmem"), "R built without memory profiling")
  s <- sim_families(nfam = 800, seed = 5)  # 4,000 people: a dense K is 128 MB
  nl <- nrow(s$K)
  f <- tempfile()
  on.exit(unlink(f))
  utils::Rprofmem(f, threshold = 8 * nl^2 / 4)
  fit <- tryCatch(glmm(yb ~ x + (1 | id), s$data, family = binomial, covariance = list(id = s$K)),
                  finally = utils::Rprofmem(NULL))
  big <- if (file.exists(f)) grep("^[0-9]+ ?:", readLines(f), value = TRUE) else character()
  expect_identical(big, character())
  expect_true(is.finite(as.numeric(logLik(fit))))
})
