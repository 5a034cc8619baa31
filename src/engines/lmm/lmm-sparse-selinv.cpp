// The exact gradient of the profiled LMM criterion (formulas in
// lmm-sparse.h) for large Q: the traces tr(D dM) for D = M^{-1} and
// D = W K W' need D only where dM can be non-zero, the pattern of M. With
// P M P' = L L', M^{-1} on the pattern of L (which holds P M P''s) comes
// from the Takahashi recurrences (Takahashi, Fagan and Chin 1973; Rue and
// Martino 2007, sec. 2; PolledLLT::selected_inverse), column by column from the last:
//   S_ij = -(1/L_jj) sum_{k in S_j} L_kj S_ik   (i in S_j, the rows of col j below j),
//   S_jj = 1/L_jj^2 - (1/L_jj) sum_{k in S_j} L_kj S_kj;
// W K W' = (W K) W' is formed entry by entry, p products each. Then, with
// M's lower-triangle entries sums over recipes c of g_c theta_k1 theta_k2,
//   tr(D dM/dtheta_k) = sum_c w_c D(i_c, j_c) g_c (theta_k2 [k1 = k] + theta_k1 [k2 = k]),
// w_c = 2 off the diagonal (the mirror entry), 1 on it.
#include "engines/lmm/lmm-sparse.h"
#include "util/resources.h"
#include <algorithm>

namespace glmmgee {

LmmGrad LmmSparse::gradient_sparse(const Eigen::VectorXd& theta, const LmmPls& r) {
  LmmGrad g = gradient_pwrss(r);
  const size_t ne = lam_.row.size();

  std::vector<double> S;
  chol_.selected_inverse(S);  // (P M P')^{-1} on L's pattern (polled-llt.h)
  const std::vector<int>& in_l = m_in_factor();

  // W = M^{-1} Lambda'Z'X = P' L^{-T} RZX and WK = W (RX'RX)^{-1}.
  Eigen::MatrixXd W = r.RZX;
  chol_.matrixU().solveInPlace(W);
  W = chol_.permutationPinv() * W;
  const Eigen::MatrixXd WK = W * r.RXtRX.llt().solve(Eigen::MatrixXd::Identity(p_, p_));

  // M^{-1} and W K W' at each stored entry of M (lower triangle).
  const long nm = M_.nonZeros();
  std::vector<double> minv(nm), tmat(nm), wgt(nm);
  const int* Mo = M_.outerIndexPtr();
  const int* Mi = M_.innerIndexPtr();
  for (int j = 0; j < Q_; ++j) {
    for (int t = Mo[j]; t < Mo[j + 1]; ++t) {
      const int i = Mi[t];
      minv[t] = S[in_l[t]];
      tmat[t] = WK.row(i).dot(W.row(j));
      wgt[t] = i == j ? 1.0 : 2.0;
    }
  }
  for (size_t c = 0; c < rec_pos_.size(); ++c) {
    const int pos = rec_pos_[c];
    const int k1 = rec_k1_[c], k2 = rec_k2_[c];
    const double gw = wgt[pos] * rec_g_[c];
    const double a = gw * minv[pos], t = gw * tmat[pos];
    g.ldL2[k1] += a * theta[k2];
    g.ldL2[k2] += a * theta[k1];
    g.ldRX2[k1] += t * theta[k2];
    g.ldRX2[k2] += t * theta[k1];
  }
  for (size_t e = 0; e < ne; ++e)
    g.ldRX2[lam_.k[e]] -= 2.0 * WK.row(lam_.col[e]).dot(ZtX_.row(lam_.row[e]));
  return g;
}

void LmmSparse::inverse_on_pattern(std::vector<int>& ii, std::vector<int>& jj,
                                   std::vector<double>& x) const {
  std::vector<double> S;
  chol_.selected_inverse(S);
  const std::vector<int>& in_l = m_in_factor();
  const int* Mo = M_.outerIndexPtr();
  const int* Mi = M_.innerIndexPtr();
  const long nm = M_.nonZeros();
  ii.resize(nm);
  jj.resize(nm);
  x.resize(nm);
  for (int j = 0; j < Q_; ++j) {
    for (int t = Mo[j]; t < Mo[j + 1]; ++t) {
      ii[t] = Mi[t];
      jj[t] = j;
      x[t] = S[in_l[t]];
    }
  }
}

const std::vector<int>& LmmSparse::m_in_factor() const {
  if (!m_in_l_.empty() || M_.nonZeros() == 0) return m_in_l_;
  const auto& L = chol_.matrixL().nestedExpression();
  const auto& P = chol_.permutationP();
  const int* Lo = L.outerIndexPtr();
  const int* Li = L.innerIndexPtr();
  const int* Mo = M_.outerIndexPtr();
  const int* Mi = M_.innerIndexPtr();
  std::vector<int> pos(M_.nonZeros());
  for (int j = 0; j < Q_; ++j) {
    for (int t = Mo[j]; t < Mo[j + 1]; ++t) {
      const int i = Mi[t];
      const int a = P.size() ? P.indices()[i] : i, bb = P.size() ? P.indices()[j] : j;
      const int col = std::min(a, bb), row = std::max(a, bb);
      const int* beg = Li + Lo[col];
      const int* end = Li + Lo[col + 1];
      const int* it = std::lower_bound(beg, end, row);
      if (it == end || *it != row) Rcpp::stop("internal: M's pattern is not within its factor's");
      pos[t] = (int)(it - Li);
    }
  }
  m_in_l_.swap(pos);
  return m_in_l_;
}

Eigen::VectorXd LmmSparse::lambda_times(const Eigen::VectorXd& theta,
                                        const Eigen::VectorXd& u) const {
  Eigen::VectorXd b = Eigen::VectorXd::Zero(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e) b[lam_.row[e]] += theta[lam_.k[e]] * u[lam_.col[e]];
  return b;
}

}  // namespace glmmgee
