// The OpenMP region scaffold: the one place where the package opens a
// parallel region. Every parallel loop of the engines is a call of
// parallel_for(), so each follows the rules of resources.h by construction:
//
// - Exceptions: each iteration runs inside a RegionGuard; the first
//   exception is kept, the remaining iterations are skipped, and it is
//   thrown again after the region on the calling (main) thread, where the
//   entry points turn it into an R error. No exception leaves the region
//   (one that did would terminate R).
// - Interrupts: before each iteration the thread calls InterruptPoll::poll();
//   only the main thread asks R (every ~0.1 s of work), and once it has seen
//   Ctrl-C every thread stops taking iterations. After the region the
//   interrupt is raised on the main thread. Iterations that run long may call
//   the same poll inside (it is passed in for that) and return early.
// - Memory: the caller sizes the scratch of every thread with
//   check_memory() and allocates it before the call; the body allocates
//   nothing that could fail with std::bad_alloc for want of memory.
// - Threads: the caller passes usable_threads(requested) (one thread in a
//   forked child); the iterations do not depend on the number of threads,
//   and reductions keep one partial result per iteration (or per fixed block)
//   that the caller adds in order, so results are the same for any number
//   of threads. thread_index() gives the thread's slot in per-thread scratch.
//
// Use:
//   InterruptPoll ip;
//   parallel_for(n, nt, 1, ip, [&](long i) { ... });
// `chunk` is the number of consecutive iterations a thread takes at a time
// (dynamic schedule).
#ifndef GLMMGEE_PARALLEL_H
#define GLMMGEE_PARALLEL_H

#include "util/resources.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

// True inside an active parallel region.
inline bool in_region() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// The calling thread's number in the current team (0 outside a region).
inline int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// body(i) for i in [0, n) on nthreads threads, on the rules above. Throws
// the first exception of an iteration, or Rcpp's interrupt, after the region.
template <class Body>
void parallel_for(long n, int nthreads, long chunk, InterruptPoll& ip, Body body) {
  RegionGuard guard;
  if (chunk < 1) chunk = 1;
  if (nthreads < 1) nthreads = 1;
  // One thread outside any region: the same loop without a team. (Inside an
  // enclosing region a team of one is opened, so that thread_index() is 0.)
  if ((nthreads <= 1 || n <= 1) && !in_region()) {
    for (long i = 0; i < n; ++i) {
      if (guard.failed() || ip.poll()) break;
      guard.run([&] { body(i); });
    }
    guard.rethrow();
    ip.raise_if_interrupted();
    return;
  }
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nthreads)
  for (long i = 0; i < n; ++i) {
    if (guard.failed() || ip.poll()) continue;
    guard.run([&] { body(i); });
  }
  guard.rethrow();
  ip.raise_if_interrupted();
}

}  // namespace glmmgee
#endif
