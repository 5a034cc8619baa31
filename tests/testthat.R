library(testthat)
library(glmmgee)
test_check("glmmgee")
