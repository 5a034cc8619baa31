#!/usr/bin/env bash
# Installs everything glmmgee needs to build, test and benchmark on a fresh
# Debian machine with R: prebuilt r-cran-* packages where Debian has them,
# CRAN for the rest. Safe to run again: it skips what is already there.
# pandoc and qpdf are what R CMD build/check --as-cran need for the
# vignettes and the PDF size checks (make check).
set -euo pipefail

debs=(r-cran-rcpp r-cran-rcppeigen r-cran-bh r-cran-matrix r-cran-nlme
      r-cran-roxygen2 r-cran-pkgbuild r-cran-testthat r-cran-numderiv r-cran-mass
      r-cran-lme4 r-cran-glmmtmb r-cran-tmb r-cran-geepack r-cran-matrixstats
      r-cran-rdpack r-cran-knitr r-cran-rmarkdown pandoc
      qpdf
      # CI compiles the C++ sources once and reuses the objects (.ci/run)
      ccache
      # the ecosystem glmmgee registers methods for, and the peers its
      # integration tests compare against
      r-cran-generics r-cran-broom r-cran-broom.mixed r-cran-emmeans
      r-cran-car r-cran-multcomp r-cran-lmtest r-cran-sandwich r-cran-boot
      r-cran-insight r-cran-performance r-cran-parameters r-cran-ggeffects
      r-cran-sjplot r-cran-clubsandwich r-cran-parallelly r-cran-data.table
      r-cran-checkmate r-cran-glue
      # tibble input in the hostile tests
      r-cran-tibble
      # integer64 ids and covariates (data.table::fread reads large ids so)
      r-cran-bit64
      r-cran-ordinal r-cran-mlmrev
      # ade4's lizards: glmmTMB's phylogenetic GLS test (propto(), dispformula = ~ 0)
      r-cran-ade4
      # peers of the GEE families (gee), the two-part count models (pscl)
      # and, through multgee from CRAN, ordinal GEE (gnm, VGAM, RcppArmadillo)
      r-cran-gee r-cran-pscl r-cran-gnm r-cran-vgam r-cran-rcpparmadillo
      # statmod's Gauss-Hermite rules check zero-part random-effect integrals
      r-cran-statmod
      # gaston (a peer of the known-covariance gaussian engine) needs it
      r-cran-rcppparallel
      # GMMAT (peer of the known-covariance binomial/poisson engine and the
      # score scan) needs it; its Bioconductor packages are only suggested
      r-cran-foreach
      # autoplot() methods (ggplot2) and the package's web site (pkgdown)
      r-cran-ggplot2 r-cran-pkgdown
      # what glmtoolbox and DHARMa (GEE references) need from Debian, so
      # that only Rfast, qgam and gap compile from CRAN
      r-cran-suppdists r-cran-ape r-cran-doparallel r-cran-lazyeval
      r-cran-htmlwidgets r-cran-crosstalk r-cran-plotly r-cran-shiny r-cran-plyr)
# Not built by Debian: from CRAN (marginaleffects and modelsummary are
# pure R plus data.table/checkmate above, about 1.5 minutes on 2 cores;
# gaston, multgee, GMMAT and nanoparquet compile C++; nanoparquet reads
# parquet shard files without the arrow C++ library; glmm, Monte Carlo
# maximum likelihood, holds the salamander mating data the importance-
# sampling fit is checked on).
cran=(reformulas GLMMadaptive marginaleffects modelsummary gaston multgee GMMAT
      nanoparquet DHARMa glmtoolbox glmm)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The CRAN part (tools/install-cran.R): what Debian does not build, the
# newer versions those packages require, and a repair of Debian packages
# the upgrades break. Compiled CRAN packages (gaston) build with both cores.
MAKEFLAGS="${MAKEFLAGS:--j2}" Rscript tools/install-cran.R --cran "${cran[@]}" --debian "${debs[@]}"
