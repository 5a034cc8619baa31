# Developer and CI entry points. `make demo` and `make test` are the two
# commands the README gives a new user; both install what they need first.
R ?= R
RSCRIPT ?= Rscript
PKG := glmmgee
VERSION := $(shell sed -n 's/^Version: //p' DESCRIPTION)
# Where the package is installed for tests and benchmarks. Empty means R's
# default library; set LIB=path to keep an install private.
LIB ?=
LIBFLAG := $(if $(LIB),-l $(LIB),)
# Compiler processes for the package's C++ sources (R's make gets -j$(JOBS)).
JOBS ?= 2
export R_LIBS := $(if $(LIB),$(LIB):,)$(R_LIBS)

.PHONY: deps document install demo test smoke check bench site sanitize clean size

deps:
	bash tools/install-deps.sh

# roxygen compiles a debug (-O0) build in src/ to load the code; remove it
# so that `make install` compiles optimized objects.
document:
	$(RSCRIPT) -e 'Rcpp::compileAttributes(); roxygen2::roxygenise(roclets = c("rd", "namespace"))'
	rm -f src/*.o src/*/*.o src/*/*/*.o src/*.so

install:
	$(if $(LIB),mkdir -p $(LIB),)
	MAKEFLAGS=-j$(JOBS) $(R) CMD INSTALL --no-test-load $(LIBFLAG) .

demo: deps install
	$(RSCRIPT) -e 'demo("bacteria", package = "$(PKG)", ask = FALSE, echo = TRUE)'

# Test levels (GLMMGEE_TEST_LEVEL, tests/testthat/README.md): `make test`
# runs the default level, everything CI runs; `make smoke` a fast pass over
# every concept (about two minutes); GLMMGEE_TEST_LEVEL=long make test adds
# the optional long grids.
test: deps install
	$(RSCRIPT) tools/run-tests.R

smoke: install
	GLMMGEE_TEST_LEVEL=smoke $(RSCRIPT) tools/run-tests.R

# The size of R/ in code lines, and the files over 600 lines and functions
# over 150 lines (tools/code-size.R; --check exits non-zero over a limit).
size:
	$(RSCRIPT) tools/code-size.R

# R CMD build (knits the vignettes) and R CMD check --as-cran on the tarball;
# fails on any ERROR or WARNING (tools/check.sh reads the Status line).
# CHECK_ARGS go to R CMD check, e.g. CHECK_ARGS=--no-tests after `make test`.
CHECK_ARGS ?=
check: deps
	R=$(R) GLMMGEE_BUILD_JOBS=$(JOBS) bash tools/check.sh $(CHECK_ARGS)

bench: deps install
	$(RSCRIPT) bench/bench-glmm.R
	$(RSCRIPT) bench/bench-nbinom2.R
	$(RSCRIPT) bench/bench-gee.R
	$(RSCRIPT) bench/bench-sparse.R

# The package's web site (pkgdown) in docs/: the README as home page, the
# reference grouped by task (_pkgdown.yml), the vignettes as articles.
# Built from the installed package, so it shows what users get; offline
# (pkgdown.internet = FALSE: no look-up of the package on CRAN or
# Bioconductor for the sidebar's links).
site: deps install
	$(RSCRIPT) -e 'options(pkgdown.internet = FALSE); pkgdown::build_site(preview = FALSE, install = FALSE, new_process = FALSE)'

# AddressSanitizer + UndefinedBehaviorSanitizer: an instrumented build in a
# private library (SAN_LIB), then the whole test suite. R itself is not
# instrumented, so the ASan runtime is preloaded; leak detection is off
# because R frees much of its memory only at exit. Any sanitizer report
# ("ERROR: AddressSanitizer", "runtime error:") fails the target.
SAN_LIB ?= sanitize-lib
SAN_LOG ?= sanitize.log
SAN_ENV = LD_PRELOAD=$$($(CXX_FOR_SAN) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=1 R_LIBS=$(SAN_LIB):$(R_LIBS)
CXX_FOR_SAN ?= g++

sanitize:
	mkdir -p $(SAN_LIB)
	R_MAKEVARS_USER=$(CURDIR)/tools/sanitize.mk $(R) CMD INSTALL --preclean --clean \
	  --no-test-load -l $(SAN_LIB) .
	$(SAN_ENV) $(RSCRIPT) tools/run-tests.R > $(SAN_LOG) 2>&1; \
	  status=$$?; tail -n 40 $(SAN_LOG); \
	  if grep -E -q 'ERROR: AddressSanitizer|runtime error:' $(SAN_LOG); then \
	    echo "sanitizer reports in $(SAN_LOG)"; exit 1; fi; \
	  exit $$status

clean:
	rm -f src/*.o src/*/*.o src/*/*/*.o src/*.so
	rm -rf sanitize-lib sanitize.log
	rm -rf $(PKG).Rcheck $(PKG)_*.tar.gz
	rm -rf docs
