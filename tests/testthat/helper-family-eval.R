# The family kernels evaluated from R, for the tests of the families'
# log-densities and their derivatives in eta and the dispersion.

# The C++ family evaluation (log-density and derivatives per observation) of
# family `fam` at `y`, prior weights `wt`, linear predictor `eta` and log
# dispersion `phi`.
fam_eval <- function(fam, y, wt, eta, phi = 0) {
  f <- glmmgee:::resolve_family(fam)
  glmmgee:::cpp_family_eval(f$family_code, f$link_code, y, wt, eta, phi)
}
