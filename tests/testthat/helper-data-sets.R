# Data sets of other packages as the tests use them, loaded without
# touching the global environment.

# lme4's sleepstudy.
sleepstudy_data <- function() {
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy
}
