// Sums whose rounded value does not depend on the order of the terms.
//
// The engines sum per-cluster contributions (log-likelihood, gradient,
// information, GEE estimating equations and sandwich meat). A plain double
// sum depends on how the clusters are grouped (blocks of threads, shards on
// workers) in its last bits, and an optimizer amplifies those bits into
// differences of 1e-8 between an in-memory and a sharded fit. Kept as an
// unevaluated pair hi + lo (compensated summation, Neumaier 1974; the
// error-free TwoSum of Knuth 1969), a sum carries about 106 bits, so its
// rounding to one double is the same for every grouping unless the exact sum
// lies within ~1e-32 (relative) of a rounding boundary. Partial sums (a
// block's, a shard's) combine by adding their hi and lo parts.
//
// No multiplication occurs, so contraction into fused multiply-adds cannot
// change it; it does rely on strict IEEE addition (no -ffast-math).
#ifndef GLMMGEE_DD_SUM_H
#define GLMMGEE_DD_SUM_H

#include <cmath>
#include <vector>

namespace glmmgee {

struct DDSum {
  double hi = 0.0, lo = 0.0;
  void add(double x) {
    const double s = hi + x;
    // TwoSum's error term without a branch on magnitudes.
    const double bb = s - hi;
    lo += (hi - (s - bb)) + (x - bb);
    hi = s;
  }
  void add(const DDSum& o) {
    add(o.hi);
    add(o.lo);
  }
  double value() const { return hi + lo; }
};

// A vector of such sums, stored as two plain arrays (hi, lo).
struct DDVec {
  std::vector<double> hi, lo;
  explicit DDVec(int n = 0) : hi(n, 0.0), lo(n, 0.0) {}
  void reset(int n) {
    hi.assign(n, 0.0);
    lo.assign(n, 0.0);
  }
  void add(int k, double x) {
    const double s = hi[k] + x;
    const double bb = s - hi[k];
    lo[k] += (hi[k] - (s - bb)) + (x - bb);
    hi[k] = s;
  }
  void add(const double* x, int n) {
    for (int k = 0; k < n; ++k) add(k, x[k]);
  }
  void add(const DDVec& o) {
    const int n = (int)hi.size();
    for (int k = 0; k < n; ++k) add(k, o.hi[k]);
    for (int k = 0; k < n; ++k) add(k, o.lo[k]);
  }
  int size() const { return (int)hi.size(); }
};

}  // namespace glmmgee

#endif
