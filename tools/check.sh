#!/usr/bin/env bash
# CRAN-style check of the source tarball: R CMD build (which knits the
# vignettes) and R CMD check --as-cran on the result. Exits non-zero when the
# check reports an ERROR or a WARNING; NOTEs are printed for a reader and are
# listed, with the reasons they are acceptable, in cran-comments.md.
#
# Extra arguments go to R CMD check (e.g. --no-tests when the test suite has
# just run, as in CI). Settings that need the internet are switched off so the
# check gives the same answer offline:
#   _R_CHECK_CRAN_INCOMING_REMOTE_  CRAN/Bioconductor package indices,
#   _R_CHECK_SYSTEM_CLOCK_, _R_CHECK_FUTURE_FILE_TIMESTAMPS_  the time server
#                                   behind "future file timestamps".
# --no-manual: the PDF manual needs a LaTeX installation the project does not
# install; the Rd files are still parsed and checked.
set -euo pipefail
cd "$(dirname "$0")/.."
R=${R:-R}
pkg=$(sed -n 's/^Package: //p' DESCRIPTION)
ver=$(sed -n 's/^Version: //p' DESCRIPTION)
out=${CHECK_DIR:-.}
tarball="$out/${pkg}_${ver}.tar.gz"
mkdir -p "$out"
rm -rf "$out/$pkg.Rcheck" "$tarball"

# One OpenMP thread per R process, as CRAN's policy asks of examples and
# vignettes (and so that a busy shared machine does not slow them down).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export _R_CHECK_CRAN_INCOMING_REMOTE_=false
export _R_CHECK_SYSTEM_CLOCK_=false
export _R_CHECK_FUTURE_FILE_TIMESTAMPS_=false
export _R_CHECK_FORCE_SUGGESTS_=false
# Strip debug information from the shared library on install, as CRAN's
# machines do: R's default -g makes the Eigen code a 28 Mb library (an
# "installed size" NOTE). --strip-debug keeps the symbol table, which the
# "compiled code" check reads (the default --strip-unneeded removes it).
export _R_SHLIB_STRIP_=true
# The C++ sources compile GLMMGEE_BUILD_JOBS at a time (default 2) in both
# installs (R CMD build's, for the vignettes, and R CMD check's). MAKEFLAGS
# is set, not inherited: under make it carries make's own command line.
export MAKEFLAGS="-j${GLMMGEE_BUILD_JOBS:-2}"
export R_STRIP_SHARED_LIB="strip --strip-debug"

src=$(pwd)
(cd "$out" && "$R" CMD build "$src")
set +e
(cd "$out" && "$R" CMD check --as-cran --no-manual "$@" "${pkg}_${ver}.tar.gz")
rc=$?
set -e

log="$out/$pkg.Rcheck/00check.log"
status=$(grep -E '^Status:' "$log" 2>/dev/null | tail -1 || true)
echo
echo "R CMD check: ${status:-no Status line in $log}"
if [ -z "$status" ] || [ "$rc" -ne 0 ] || echo "$status" | grep -qE 'ERROR|WARNING'; then
  grep -nE -B1 '(ERROR|WARNING)$' "$log" 2>/dev/null || true
  exit 1
fi
