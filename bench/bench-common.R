# Helpers shared by the bench scripts, which source() this file from their
# own directory (bench_source() in each): the timing and memory readings
# every side-by-side benchmark needs, written once.

# Elapsed and CPU (user + system) seconds of evaluating `expr`, after a
# gc(): on a shared machine the CPU figure is the steadier one (elapsed
# time includes waiting for a core).
timeit <- function(expr) {
  gc()
  tm <- system.time(val <- force(expr))
  list(time = tm[["elapsed"]], cpu = tm[["user.self"]] + tm[["sys.self"]], value = val)
}

# A field of /proc/self/status in kB: "VmHWM" the peak resident memory,
# "VmRSS" the current one (Linux).
peak_kb <- function(field = "VmHWM") {
  st <- readLines("/proc/self/status")
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", st[startsWith(st, paste0(field, ":"))]))
}

peak_mb <- function(field = "VmHWM") peak_kb(field) / 1024
