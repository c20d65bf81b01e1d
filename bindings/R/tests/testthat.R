library(testthat)
library(dnabert)

test_check("dnabert")
