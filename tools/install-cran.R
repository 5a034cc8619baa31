# Called by install-deps.sh:
#   Rscript tools/install-cran.R --cran <CRAN packages> --debian <r-cran-* names>
# Installs from CRAN the packages Debian does not build, then repairs
# Debian-built packages that no longer load after those installs.
#
# install.packages() installs missing dependencies but never upgrades an
# installed one whose version is too old for what it installs (Debian's
# insight, parameters, performance, ... are older than the CRAN releases of
# marginaleffects and modelsummary require), so such dependencies are found
# from CRAN's own requirements and installed too, until none is left.
# The reverse also happens: an upgraded package can break a Debian package
# that imports it (xfun 0.62 no longer exports a function Debian's knitr
# 1.42 imports, so knitr, rmarkdown and roxygen2 stopped loading). Every
# package asked of Debian must still load; one that does not is installed
# from CRAN in its current version, with the same dependency rule.
# INSTALL_DEPS_DRY_RUN=1 prints what would be installed.
args <- commandArgs(TRUE)
at <- match(c("--cran", "--debian"), args)
cran <- args[seq.int(at[1] + 1L, length.out = at[2] - at[1] - 1L)]
debs <- sub("^r-cran-", "", grep("^r-cran-", args[-seq_len(at[2])], value = TRUE))
dry <- nzchar(Sys.getenv("INSTALL_DEPS_DRY_RUN"))

loads <- function(p) tryCatch({ loadNamespace(p); TRUE }, error = function(e) FALSE)
# The packages among `pkgs` that do not load in a fresh R process. After
# an upgrade this session may still hold the old version of a dependency
# (rlang, loaded by the packages checked before), so a package that needs
# the new one fails here though it loads anywhere else: upgraded ggplot2
# was then "repaired" three times over and reported as not installable.
not_loading <- function(pkgs) {
  if (!length(pkgs)) return(character())
  script <- tempfile(fileext = ".R")
  writeLines(c("for (p in commandArgs(TRUE))",
               "  if (!tryCatch({ loadNamespace(p); TRUE }, error = function(e) FALSE)) cat(p, '\\n')"),
             script)
  out <- system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script, pkgs), stdout = TRUE)
  intersect(trimws(out), pkgs)
}
ap <- NULL
cran_db <- function() {
  if (is.null(ap)) {
    if (is.null(getOption("repos")) || getOption("repos")[["CRAN"]] %in% c("@CRAN@", ""))
      options(repos = c(CRAN = "https://cloud.r-project.org"))
    ap <<- utils::available.packages()
  }
  ap
}
installed_version <- function(p) tryCatch(utils::packageVersion(p), error = function(e) NULL)

# Packages among `pkgs` and their recursive hard dependencies on CRAN whose
# minimum versions are not met by what is installed.
too_old <- function(pkgs) {
  db <- cran_db()
  # Only the requirements of what will be installed count: the packages
  # asked for and, reached through them, their dependencies that are not
  # installed. An installed dependency stays as it is, so what CRAN's newer
  # release of it would require does not matter (counting it upgraded half
  # of the tidyverse and RcppEigen for DHARMa), nor do the dependencies of
  # such a release: reached through installed pbkrtest and doBy, CRAN's
  # current doBy's new dependencies asked for ggplot2 4, rlang and vctrs
  # 0.7, which broke Debian's dplyr ("vec_is_vector() is defunct").
  cand <- todo <- intersect(pkgs, rownames(db))
  while (length(todo)) {
    deps <- unique(unlist(tools::package_dependencies(todo, db = db,
                                                      which = c("Depends", "Imports", "LinkingTo"))))
    deps <- setdiff(intersect(deps, rownames(db)), cand)
    todo <- deps[vapply(deps, function(p) is.null(installed_version(p)), NA)]
    cand <- c(cand, todo)
  }
  out <- unlist(lapply(cand, function(p) {
    r <- unmet(db[p, c("Depends", "Imports", "LinkingTo")])
    r[r %in% rownames(db)]
  }))
  setdiff(unique(out), pkgs)
}

# The packages named with a minimum version ("pkg (>= v)") in dependency
# fields `f` (a character vector, NA for an empty field) whose installed
# version is below it; R itself and packages not installed are left out.
unmet <- function(f) {
  reqs <- trimws(unlist(strsplit(paste(f[!is.na(f)], collapse = ","), ",")))
  m <- regmatches(reqs, regexec("^([A-Za-z0-9.]+)[[:space:]]*\\([[:space:]]*>=?[[:space:]]*([^)[:space:]]+)[[:space:]]*\\)", reqs))
  unlist(lapply(m, function(x) {
    if (length(x) != 3L || x[2L] == "R") return(NULL)
    v <- installed_version(x[2L])
    if (!is.null(v) && v < package_version(x[3L])) x[2L]
  }))
}

# Installs `pkgs` with every dependency whose installed version is too old.
install_closure <- function(pkgs, why) {
  todo <- pkgs
  for (round in 1:4) {
    old <- too_old(todo)
    if (!length(old)) break
    todo <- unique(c(todo, old))
  }
  message(why, ", installing from CRAN: ", paste(todo, collapse = ", "))
  if (!dry) utils::install.packages(todo, Ncpus = 2)
}

# Releases from CRAN's archive, where a package needs a newer version of a
# Debian package than Debian has and CRAN's current release of that one
# needs a newer R than Debian's: qgam (which DHARMa imports) needs mgcv
# 1.9, and mgcv 1.9-1 is the last release for R before 4.4.
# name = c(version needed, archived release that provides it).
archive_pins <- list(mgcv = c("1.9", "1.9-1"))
for (p in names(archive_pins)) {
  v <- installed_version(p)
  pin <- archive_pins[[p]]
  if (is.null(v) || v >= package_version(pin[1L]) || p %in% rownames(cran_db())) next
  url <- sprintf("%s/src/contrib/Archive/%s/%s_%s.tar.gz", getOption("repos")[["CRAN"]],
                 p, p, pin[2L])
  message("too old for what needs it, installing from CRAN's archive: ", p, " ", pin[2L])
  if (!dry) utils::install.packages(url, repos = NULL, type = "source")
}

# RTMB (which glmmTMB imports from 1.1.10 on) does not compile under C++14,
# R's default before 4.3 ("call of overloaded ADrep is ambiguous"): it is
# installed first, compiled as C++17, where a glmmTMB from CRAN will need it.
if (getRversion() < "4.3.0" && !loads("RTMB") &&
    ("glmmTMB" %in% unmet(read.dcf("DESCRIPTION", fields = "Suggests")) || !loads("glmmTMB"))) {
  cxx <- system2(file.path(R.home("bin"), "R"), c("CMD", "config", "CXX"), stdout = TRUE)
  mk <- tempfile(fileext = ".mk")
  writeLines(paste("CXX =", sub("-std=[a-z+0-9]+", "", cxx), "-std=gnu++17"), mk)
  message("RTMB needs C++17, installing from CRAN with ", readLines(mk))
  if (!dry) {
    old_mk <- Sys.getenv("R_MAKEVARS_USER", NA)
    Sys.setenv(R_MAKEVARS_USER = mk)
    install_closure("RTMB", "needed by glmmTMB")
    if (is.na(old_mk)) Sys.unsetenv("R_MAKEVARS_USER") else Sys.setenv(R_MAKEVARS_USER = old_mk)
  }
}

need <- cran[!vapply(cran, requireNamespace, logical(1), quietly = TRUE)]
if (length(need)) install_closure(need, "not installed")

# The project's own minimum versions (DESCRIPTION): an installed package
# older than glmmgee asks for is upgraded from CRAN. RcppEigen >= 0.3.4 is
# one: the Eigen a CRAN install of glmmgee builds against, so that a
# Debian machine compiles the engine against the same Eigen as CRAN users.
behind <- unmet(read.dcf("DESCRIPTION", fields = c("Depends", "Imports", "LinkingTo", "Suggests")))
if (length(behind)) install_closure(behind, "older than DESCRIPTION requires")

ip <- rownames(utils::installed.packages())
deb_pkgs <- ip[match(debs, tolower(ip))]
deb_pkgs <- deb_pkgs[!is.na(deb_pkgs)]
# Repaired from the root: a broken package whose installed dependencies
# include another broken one is retried after that one is reinstalled
# (knitr breaks rmarkdown, roxygen2 and sjPlot, which then load again).
broken <- character()
for (round in 1:3) {
  now <- not_loading(deb_pkgs)
  if (!length(now) || dry && round > 1L) break
  broken <- union(broken, now)
  ideps <- tools::package_dependencies(now, db = utils::installed.packages(), recursive = TRUE,
                                       which = c("Depends", "Imports", "LinkingTo"))
  roots <- now[!vapply(now, function(p) any(ideps[[p]] %in% now), logical(1))]
  install_closure(roots, "no longer loading after the CRAN upgrades")
}
# A CRAN package whose installation failed because a Debian package it
# loads while installing was broken (tables needs knitr) is installed again
# once the repair is done.
again <- if (dry) character() else not_loading(need)
if (length(again)) install_closure(again, "not loading after the repair")

if (!dry) {
  bad <- c(need, broken)
  bad <- not_loading(bad)
  if (length(bad)) stop("could not install: ", paste(bad, collapse = ", "))
}
