# What glmmgee does when it is loaded. Kept in one place: a second .onLoad
# in another file would silently replace this one.

.onLoad <- function(libname, pkgname) {
  # marginaleffects accepts only the model classes it lists or that this
  # option names (see ecosystem-marginaleffects.R).
  register_marginaleffects_classes()
  invisible()
}
