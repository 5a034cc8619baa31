// Resource rules shared by the engines: how many threads a region may use,
// how much memory a request may take, how an interrupt is noticed, and how
// an exception is carried out of an OpenMP region.
//
// - Threads: at most the processors OpenMP reports (and its thread limit);
//   exactly one in a process forked from one that had started an OpenMP
//   team: libgomp's worker threads do not survive fork(), and a child that
//   starts a team of several threads waits for them forever
//   (parallel::mclapply after a multi-threaded fit).
// - Memory: scratch space is sized and allocated before a parallel region;
//   a request larger than half the physical memory, or one that fails, is
//   an error that states its size (std::bad_alloc inside a region would
//   abort R).
// - Exceptions: a parallel loop body runs inside try/catch; the first
//   message is kept and thrown again after the region, on the main thread,
//   where the Rcpp wrappers turn it into an R error.
// - Interrupts: R may only be asked about Ctrl-C from the main thread (the
//   one that loaded the library); inside a region it polls every ~0.1 s and
//   the others stop taking work once it has seen an interrupt.
//
// Every OpenMP region of the package applies these rules through one
// function, parallel_for() in parallel.h (the region scaffold).
#ifndef GLMMGEE_RESOURCES_H
#define GLMMGEE_RESOURCES_H

#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

namespace glmmgee {

// Threads a parallel region may use for a request of `requested`.
int usable_threads(int requested);
// True in a process forked after this library was loaded.
bool in_forked_child();
// Largest number of threads a request is allowed to use (cores, thread limit).
int max_threads();

// Throws std::runtime_error naming `what` and the size when `bytes` exceeds
// the memory limit (half the physical memory).
void check_memory(double bytes, const std::string& what);
// "1.2 GB" and the like.
std::string format_bytes(double bytes);
// Polls for a user interrupt from inside or outside an OpenMP region.
// poll() may be called from any thread, as often as wanted: only the main
// thread asks R, and at most every `interval` seconds.
class InterruptPoll {
 public:
  explicit InterruptPoll(double interval = 0.1);
  // True once an interrupt has been seen (by any thread).
  bool poll();
  bool interrupted() const { return hit_.load(std::memory_order_relaxed); }
  // Throws Rcpp's interrupt exception (which the exported wrappers turn into
  // R's interrupt condition) if an interrupt was seen. Main thread only.
  void raise_if_interrupted() const;

 private:
  std::atomic<bool> hit_;
  std::chrono::steady_clock::time_point last_;
  std::chrono::duration<double> interval_;
};

// Keeps the first exception thrown in a parallel region and throws it again
// after the region. Use: inside the loop `guard.run([&] { ... });`, after it
// `guard.rethrow();`.
class RegionGuard {
 public:
  template <class F>
  void run(F f) {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_.load()) {
        err_ = std::current_exception();
        failed_.store(true);
      }
    }
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow() {
    if (failed_.load()) std::rethrow_exception(err_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::exception_ptr err_;
};

}  // namespace glmmgee

#endif
