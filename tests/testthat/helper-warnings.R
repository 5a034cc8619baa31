# Warnings a call gives, collected instead of printed.

# The value of `expr` and the messages of the warnings it gave.
collect_warnings <- function(expr) {
  w <- character()
  val <- withCallingHandlers(expr, warning = function(cnd) {
    w <<- c(w, conditionMessage(cnd))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}
