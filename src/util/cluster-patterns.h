// Clusters grouped by covariate pattern. In the ordinal GEEs everything a
// cluster contributes apart from its responses (margins, working covariance,
// D'V^-1) depends only on its rows' covariates, offsets and times; clusters
// of one pattern share it, so the engines compute it once per pattern and
// only the residual terms per cluster (few patterns in designed studies:
// covariates per subject and per wave).
#ifndef GLMMGEE_CLUSTER_PATTERNS_H
#define GLMMGEE_CLUSTER_PATTERNS_H

#include <algorithm>
#include <cstddef>
#include <vector>

namespace glmmgee {

// The clusters of one pattern, in increasing order.
struct PatternSpan {
  const int* first;
  const int* last;
  const int* begin() const { return first; }
  const int* end() const { return last; }
  std::size_t size() const { return last - first; }
  int operator[](std::size_t j) const { return first[j]; }
};

// Patterns in the order of their first cluster, stored flat (the engines
// run through them at every evaluation; one array keeps them in cache).
struct ClusterPatterns {
  std::vector<int> start{0};   // pattern g: members[start[g] .. start[g+1]-1]
  std::vector<int> members;
  std::size_t size() const { return start.size() - 1; }
  PatternSpan operator[](std::size_t g) const {
    return PatternSpan{members.data() + start[g], members.data() + start[g + 1]};
  }
};

// The clusters 0..K-1 grouped by equal keys. fill_key(i, key) appends
// cluster i's key, finite numbers, to `key`. The keys are kept in one array
// and compared by sorting (no allocation per cluster: with a continuous
// covariate every cluster is a pattern of its own).
template <class KeyFn>
ClusterPatterns cluster_patterns(int K, KeyFn fill_key) {
  std::vector<double> keys;
  std::vector<std::size_t> at(K + 1, 0);
  for (int i = 0; i < K; ++i) {
    fill_key(i, keys);
    at[i + 1] = keys.size();
  }
  auto key_less = [&](int i, int j) {
    return std::lexicographical_compare(keys.begin() + at[i], keys.begin() + at[i + 1], keys.begin() + at[j],
                                        keys.begin() + at[j + 1]);
  };
  std::vector<int> order(K);
  for (int i = 0; i < K; ++i) order[i] = i;
  // Equal keys stay in cluster order.
  std::stable_sort(order.begin(), order.end(), key_less);
  std::vector<int> runs;   // where each run of equal keys starts in `order`
  for (int r = 0; r < K; ++r)
    if (r == 0 || key_less(order[r - 1], order[r])) runs.push_back(r);
  const int nruns = runs.size();
  runs.push_back(K);
  std::vector<int> by_first(nruns);
  for (int g = 0; g < nruns; ++g) by_first[g] = g;
  std::sort(by_first.begin(), by_first.end(), [&](int a, int b) { return order[runs[a]] < order[runs[b]]; });
  ClusterPatterns out;
  out.start.reserve(nruns + 1);
  out.members.reserve(K);
  for (const int g : by_first) {
    out.members.insert(out.members.end(), order.begin() + runs[g], order.begin() + runs[g + 1]);
    out.start.push_back(out.members.size());
  }
  return out;
}

}  // namespace glmmgee

#endif
