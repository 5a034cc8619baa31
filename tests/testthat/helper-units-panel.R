# The clustered panel of the derived-standard-error tests (test-derived-se-units.R,
# and the units-invariance tests): 60 clusters of 5, a covariate x, a cluster-level
# treatment trt, a second factor g2 and a cluster effect b; `responses(d, b)`
# adds the responses (drawing after the panel, so each file's data stay as
# they were), then x in two other units and locations, x * 1e-6 - 5 (x2)
# and x + 1e4 (x3).
units_panel <- function(responses) {
  set.seed(11)
  n <- 60
  m <- 5
  d <- data.frame(id = factor(rep(seq_len(n), each = m)))
  d$x <- rnorm(nrow(d))
  d$trt <- factor(rep(rbinom(n, 1, 0.5), each = m))
  d$g2 <- factor(rep(1:10, length.out = nrow(d)))
  b <- rnorm(n)[as.integer(d$id)]
  d <- responses(d, b)
  d$x2 <- d$x * 1e-6 - 5
  d$x3 <- d$x + 1e4
  d
}
