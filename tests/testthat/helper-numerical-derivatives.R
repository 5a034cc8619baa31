# Numerical derivatives that the tests compare the exact ones with.

# Central difference of a scalar function at x.
num_d <- function(fun, x, h = 1e-5) (fun(x + h) - fun(x - h)) / (2 * h)

# The Hessian as numDeriv's Jacobian of an exact gradient `grad` at `par`,
# symmetrized; `...` goes to numDeriv::jacobian() (e.g. method.args).
num_hessian <- function(grad, par, ...) {
  H <- numDeriv::jacobian(grad, par, ...)
  (H + t(H)) / 2
}
