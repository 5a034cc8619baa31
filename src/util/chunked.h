// Loops over fixed chunks of work, run by one thread or an OpenMP team.
//
// The chunks do not depend on the number of threads, and every reduction
// keeps one partial result per chunk that the caller adds in chunk order,
// so a result is the same (bit for bit) whatever the thread count. The body
// runs inside a RegionGuard (an exception leaves the region on the main
// thread, after it) and polls for an interrupt between chunks.
#ifndef GLMMGEE_CHUNKED_H
#define GLMMGEE_CHUNKED_H

#include <algorithm>
#include "util/resources.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace glmmgee {

// body(chunk, begin, end) for the chunks [c * size, min(n, (c + 1) * size)).
template <class F>
void run_chunks(long n, long size, int nthreads, F body) {
  const long nc = n > 0 ? (n + size - 1) / size : 0;
  RegionGuard guard;
  InterruptPoll ip;
  if (nthreads <= 1 || nc <= 1) {
    for (long c = 0; c < nc; ++c) {
      if (ip.poll()) break;
      body(c, c * size, std::min(n, (c + 1) * size));
    }
  } else {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (long c = 0; c < nc; ++c) {
      if (guard.failed() || ip.poll()) continue;
      guard.run([&] { body(c, c * size, std::min(n, (c + 1) * size)); });
    }
  }
  guard.rethrow();
  ip.raise_if_interrupted();
}

inline long chunk_count(long n, long size) { return n > 0 ? (n + size - 1) / size : 0; }

}  // namespace glmmgee
#endif
