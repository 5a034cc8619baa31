// Loops over fixed chunks of work, run by one thread or an OpenMP team.
//
// The chunks do not depend on the number of threads, and every reduction
// keeps one partial result per chunk that the caller adds in chunk order,
// so a result is the same (bit for bit) whatever the thread count. The
// chunks run on the region scaffold (parallel.h): an exception leaves the
// region on the main thread, after it, and an interrupt is polled between
// chunks.
#ifndef GLMMGEE_CHUNKED_H
#define GLMMGEE_CHUNKED_H

#include <algorithm>
#include "util/parallel.h"

namespace glmmgee {

// body(chunk, begin, end) for the chunks [c * size, min(n, (c + 1) * size)).
template <class F>
void run_chunks(long n, long size, int nthreads, F body) {
  const long nc = n > 0 ? (n + size - 1) / size : 0;
  InterruptPoll ip;
  parallel_for(nc, nthreads, 1, ip,
               [&](long c) { body(c, c * size, std::min(n, (c + 1) * size)); });
}

inline long chunk_count(long n, long size) { return n > 0 ? (n + size - 1) / size : 0; }

}  // namespace glmmgee
#endif
