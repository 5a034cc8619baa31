# The two-part engines' analytic gradient against numerical differentiation
# for an nbinom1 count part, on one grouping factor (Laplace and AGHQ) and
# on the sparse engine with a second factor: `d` has y, x, w and g (25
# levels); `kind` is the engine's two-part code (1 zero-inflated, 2 hurdle).
nb1_aux_gradient_check <- function(d, kind) {
  fam <- glmmgee:::resolve_family(glmmgee::nbinom1())
  n <- nrow(d)
  X <- cbind(1, d$x)
  Xw <- cbind(1, d$w)
  XA <- cbind(Xw, Xw)
  pred <- c(0L, 0L, 1L, 1L)
  for (nagq in c(1L, 4L)) {
    eng <- glmmgee:::cpp_agq_new(X, X, as.numeric(d$y), rep(1, n), rep(0, n), as.integer(d$g),
                                 nlevels(d$g), c(0L, 1L, 1L), c(0L, 0L, 1L), fam$family_code,
                                 fam$link_code, nagq, 1L)
    P <- glmmgee:::cpp_agq_set_aux(eng, kind, XA, pred, matrix(0, n, 2))
    th <- c(0.6, 0.4, 0.5, 0.1, 0.25, -0.8, 0.5, 0.3, -0.2)
    expect_equal(P, length(th))
    an <- glmmgee:::cpp_agq_eval(eng, th, TRUE)
    nu <- numDeriv::grad(function(t) glmmgee:::cpp_agq_eval(eng, t, FALSE)$loglik, th)
    expect_true(is.finite(an$loglik))
    expect_equal(an$gradient, nu, tolerance = 1e-5, label = sprintf("nAGQ %d", nagq))
  }
  h <- rep(1:5, length.out = n)
  Z <- Matrix::sparseMatrix(i = c(1:n, 1:n), j = c(as.integer(d$g), 25L + h), x = 1,
                            dims = c(n, 30))
  eng <- glmmgee:::cpp_sparse_new(X, Z, as.numeric(d$y), rep(1, n), rep(0, n), 0:29, 0:29,
                                  c(rep(0L, 25), rep(1L, 5)), 2L, fam$family_code, fam$link_code)
  P <- glmmgee:::cpp_sparse_set_aux(eng, kind, XA, pred, matrix(0, n, 2))
  th <- c(0.6, 0.4, 0.5, 0.3, -0.8, 0.5, 0.3, -0.2)
  expect_equal(P, length(th))
  an <- glmmgee:::cpp_sparse_eval(eng, th, TRUE)$gradient
  nu <- numDeriv::grad(function(t) glmmgee:::cpp_sparse_eval(eng, t, FALSE)$loglik, th)
  expect_equal(an, nu, tolerance = 1e-5, label = "sparse")
}
