// Thread, memory and interrupt rules; see resources.h.
#include "util/resources.h"

#include <RcppEigen.h>
#include <pthread.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

namespace {

std::atomic<bool> forked_child{false};

// Eigen's own products may also start OpenMP teams; one thread in a child.
void on_fork_child() {
  forked_child.store(true);
  Eigen::setNbThreads(1);
}

// Registered when the shared library is loaded, so every later fork() of
// this R process (mclapply, parallel::mcparallel) marks its child.
struct AtforkRegistration {
  AtforkRegistration() { pthread_atfork(nullptr, nullptr, on_fork_child); }
} atfork_registration;

// Eigen blocks its dense matrix products by the cache sizes it reads from
// the CPU, and the blocks decide the order in which a product's terms are
// added: the last digits of products, and through them of fits, depended on
// the machine (a different L1 size moved a far-off slope's SD at a
// correlation of -1 by 1e-5). Fixed sizes take the caches out of the
// numbers (the SIMD width and Eigen's own thread count still count); these
// (32 KiB L1, 512 KiB L2, 256 MiB L3) are what Eigen reads on a current
// server CPU, and only the blocking, not the results' accuracy, depends on
// them.
struct FixedEigenBlocking {
  FixedEigenBlocking() { Eigen::setCpuCacheSizes(32L << 10, 512L << 10, 256L << 20); }
} fixed_eigen_blocking;

// R's main thread: the one that loads the library (in a forked child, the
// thread that forked, which R's fork()s are called from).
const std::thread::id main_thread = std::this_thread::get_id();

void check_interrupt_fn(void*) { R_CheckUserInterrupt(); }

}  // namespace

bool in_forked_child() { return forked_child.load(); }

int max_threads() {
#ifdef _OPENMP
  int m = omp_get_num_procs();
  const int lim = omp_get_thread_limit();
  if (lim > 0 && lim < m) m = lim;
  return m < 1 ? 1 : m;
#else
  return 1;
#endif
}

int usable_threads(int requested) {
  if (requested <= 1 || in_forked_child()) return 1;
  const int m = max_threads();
  return requested < m ? requested : m;
}

std::string format_bytes(double bytes) {
  const char* unit[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 5) { bytes /= 1000.0; ++u; }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", bytes, unit[u]);
  return buf;
}

// The limit is half the physical memory, or the option
// glmmgee.memory_limit (bytes) where it is lower: the R side's cap
// (check_memory() in R/fit-known-gaussian.R), read on the main thread only
// (R may not be called from others).
void check_memory(double bytes, const std::string& what) {
  const double page = (double)sysconf(_SC_PAGESIZE);
  const double pages = (double)sysconf(_SC_PHYS_PAGES);
  const double phys = page > 0 && pages > 0 ? page * pages : 8e9;
  double limit = 0.5 * phys;
  bool by_option = false;
  if (std::this_thread::get_id() == main_thread) {
    SEXP opt = Rf_GetOption1(Rf_install("glmmgee.memory_limit"));
    if ((TYPEOF(opt) == REALSXP || TYPEOF(opt) == INTSXP) && Rf_xlength(opt) == 1) {
      const double v = Rf_asReal(opt);
      if (std::isfinite(v) && v > 0 && v < limit) {
        limit = v;
        by_option = true;
      }
    }
  }
  if (!(bytes <= limit))
    throw std::runtime_error(what + " needs " + format_bytes(bytes) + " of memory, more than " +
                             (by_option ? "the limit of options(glmmgee.memory_limit), " +
                                              format_bytes(limit)
                                        : "half of this machine's " + format_bytes(phys)));
}

InterruptPoll::InterruptPoll(double interval)
    : hit_(false), last_(std::chrono::steady_clock::now()), interval_(interval) {}

bool InterruptPoll::poll() {
  if (hit_.load(std::memory_order_relaxed)) return true;
  // Only R's main thread may call R: the thread that loaded the library
  // (thread 0 of a nested team, or a single-thread loop run inside a team,
  // may be another one).
  if (std::this_thread::get_id() != main_thread) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < interval_) return false;
  last_ = now;
  // R_CheckUserInterrupt jumps when an interrupt is pending; R_ToplevelExec
  // stops the jump here, so no C++ frame is skipped.
  if (!R_ToplevelExec(check_interrupt_fn, nullptr)) hit_.store(true);
  return hit_.load(std::memory_order_relaxed);
}

void InterruptPoll::raise_if_interrupted() const {
  if (interrupted()) throw Rcpp::internal::InterruptedException();
}

}  // namespace glmmgee
