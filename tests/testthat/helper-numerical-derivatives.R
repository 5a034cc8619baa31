# Numerical derivatives that the tests compare the exact ones with.

# Central difference of a scalar function at x.
num_d <- function(fun, x, h = 1e-5) (fun(x + h) - fun(x - h)) / (2 * h)

