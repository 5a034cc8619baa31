# Side-by-side benchmark: two-part fits with offset() terms in ziformula
# and dispformula, glmmgee against glmmTMB in the same R session, the two
# alternated within each round. Cases: glmmTMB's Owls (ZIP with the zero
# part ~ offset(logBroodSize); ZINB2 with zero and dispersion offsets; the
# hurdle NB2) and Salamanders (two crossed terms with a zero-part offset;
# a zero-part random effect on another factor with an offset). Prints, per
# case, the median and range over the rounds of the CPU seconds (user +
# system) of one fit each, the ratio glmmTMB / glmmgee of the medians, and
# glmmgee's logLik minus glmmTMB's.
#
# Usage: Rscript bench/bench-zi-offset.R [rounds]   (default 5)
suppressPackageStartupMessages({library(glmmgee); library(glmmTMB)})
args <- commandArgs(TRUE)
rounds <- if (length(args)) as.integer(args[1]) else 5L
load <- function() paste(strsplit(readLines("/proc/loadavg", 1L), " ")[[1]][1:3], collapse = " ")
cat(sprintf("glmmgee %s, glmmTMB %s, R %s, load at start %s\n", packageVersion("glmmgee"),
            packageVersion("glmmTMB"), getRversion(), load()))

utils::data("Owls", package = "glmmTMB", envir = environment())
utils::data("Salamanders", package = "glmmTMB", envir = environment())
S <- Salamanders
S$o <- 0.5 * S$cover
fo <- SiblingNegotiation ~ FoodTreatment + ArrivalTime + (1 | Nest)
cases <- list(
  list(name = "Owls ZIP, zi ~ offset(logBroodSize)", d = Owls, f = fo,
       zi = ~ offset(logBroodSize), disp = ~ 1, ours = poisson, tmb = poisson),
  list(name = "Owls ZINB2, zi and disp offsets", d = Owls, f = fo,
       zi = ~ FoodTreatment + offset(logBroodSize), disp = ~ SexParent + offset(logBroodSize),
       ours = nbinom2(), tmb = glmmTMB::nbinom2()),
  list(name = "Owls hurdle NB2, zi offset", d = Owls, f = fo,
       zi = ~ SexParent + offset(logBroodSize), disp = ~ 1, ours = truncated_nbinom2(),
       tmb = glmmTMB::truncated_nbinom2()),
  list(name = "Salamanders ZIP two terms, zi offset", d = S,
       f = count ~ mined + (1 | site) + (1 | spp), zi = ~ mined + offset(o), disp = ~ 1,
       ours = poisson, tmb = poisson),
  list(name = "Salamanders ZIP, zi ~ offset + (1 | spp)", d = S, f = count ~ mined + (1 | site),
       zi = ~ offset(o) + (1 | spp), disp = ~ 1, ours = poisson, tmb = poisson))

cpu <- function(fn) {
  gc()
  tm <- system.time(val <- suppressWarnings(fn()))
  list(cpu = tm[["user.self"]] + tm[["sys.self"]], value = val)
}
for (cs in cases) {
  ours <- function() glmm(cs$f, data = cs$d, family = cs$ours, ziformula = cs$zi,
                          dispformula = cs$disp, nAGQ = 1)
  peer <- function() glmmTMB::glmmTMB(cs$f, data = cs$d, family = cs$tmb, ziformula = cs$zi,
                                      dispformula = cs$disp)
  t_o <- t_p <- numeric(rounds)
  loads <- character(rounds)
  for (r in seq_len(rounds)) {
    a <- cpu(ours)
    b <- cpu(peer)
    t_o[r] <- a$cpu
    t_p[r] <- b$cpu
    loads[r] <- load()
  }
  cat(sprintf("%-42s glmmgee %.3f s [%.3f-%.3f]  glmmTMB %.3f s [%.3f-%.3f]  ratio %.1fx  dlogLik %.1e  load %s .. %s\n",
              cs$name, stats::median(t_o), min(t_o), max(t_o), stats::median(t_p), min(t_p),
              max(t_p), stats::median(t_p) / stats::median(t_o),
              as.numeric(logLik(a$value)) - as.numeric(logLik(b$value)), loads[1], loads[rounds]))
}
