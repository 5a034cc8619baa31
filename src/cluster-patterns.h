// Clusters grouped by covariate pattern. In the ordinal GEEs everything a
// cluster contributes apart from its responses (margins, working covariance,
// D'V^-1) depends only on its rows' covariates, offsets and times; clusters
// of one pattern share it, so the engines compute it once per pattern and
// only the residual terms per cluster (few patterns in designed studies:
// covariates per subject and per wave).
#ifndef GLMMGEE_CLUSTER_PATTERNS_H
#define GLMMGEE_CLUSTER_PATTERNS_H

#include <map>
#include <vector>

namespace glmmgee {

// The clusters 0..K-1 grouped by equal keys, groups in the order of their
// first cluster and clusters in increasing order within a group.
// fill_key(i, key) appends cluster i's key to the (cleared) vector `key`.
template <class KeyFn>
std::vector<std::vector<int>> cluster_patterns(int K, KeyFn fill_key) {
  std::map<std::vector<double>, int> seen;
  std::vector<std::vector<int>> patterns;
  std::vector<double> key;
  for (int i = 0; i < K; ++i) {
    key.clear();
    fill_key(i, key);
    const int next = static_cast<int>(patterns.size());
    const int g = seen.emplace(key, next).first->second;
    if (g == next) patterns.emplace_back();
    patterns[g].push_back(i);
  }
  return patterns;
}

}  // namespace glmmgee

#endif
