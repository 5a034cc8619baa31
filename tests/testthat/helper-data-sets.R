# Data sets of other packages as the tests use them, loaded without
# touching the global environment.

# lme4's sleepstudy.
sleepstudy_data <- function() {
  data("sleepstudy", package = "lme4", envir = environment())
  sleepstudy
}

# glmmTMB's Salamanders.
salamanders_data <- function() {
  e <- new.env()
  utils::data("Salamanders", package = "glmmTMB", envir = e)
  e$Salamanders
}

# geepack's ohio in its own row order and columns (ohio_data(), helper-gee.R,
# adds a wave and sorts).
ohio_data_as_shipped <- function() {
  data("ohio", package = "geepack", envir = environment())
  ohio
}
