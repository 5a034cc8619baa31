// Sparse Laplace engine; see laplace.h for the model and the approximation.
//
// Gradient of L = sum l(eta(u^)) - |u^|^2/2 - log det(H)/2 (notation of
// laplace.h; d1, d2, d3 the derivatives of l in eta, W = -d2, w = Z' d1):
//   h_i   = a_i' H^{-1} a_i,            c_i = d log det H / d eta_i = -d3_i h_i,
//   v     = H^{-1} A' c,                e   = c - W A v.
// The mode moves as du^/dbeta = -H^{-1} A' W X and
// du^/dlambda_k = H^{-1} (Lambda_k' w - A' W Z Lambda_k u^), with Lambda_k
// the indicator of the entries carrying lambda_k, which gives
//   dL/dbeta     = X' d1 - X' e / 2,
//   dL/dlambda_k = sum_{(r,c) in k} [w_r u^_c - ((Z'e)_r u^_c + w_r v_c) / 2]
//                  - sum_i W_i sum_{(r,c) in k} z_ir (H^{-1} a_i)_c,
//   dL/dphi      = sum dl/dphi + sum_i h_i d(d2_i)/dphi / 2
//                  - (A v)' d(d1)/dphi / 2.
// The last term of dL/dlambda_k is the explicit derivative of log det H
// through A; (H^{-1} a_i)_c needs H^{-1} only where a_i is non-zero, i.e. on
// the pattern of H, which the selected inverse provides.
#include "engines/laplace/laplace.h"
#include "util/resources.h"
#include "util/chunked.h"
#include "util/sparse-pairs.h"
#include <algorithm>
#include <cmath>
#include <limits>

namespace glmmgee {

namespace {
const long kGradChunk = 4096;  // observations per chunk of the gradient loop
}  // namespace

SparseLaplace::SparseLaplace(const Eigen::Ref<const Eigen::MatrixXd>& X,
                             const RowMat& Z,
                             const Eigen::Ref<const Eigen::VectorXd>& y,
                             const Eigen::Ref<const Eigen::VectorXd>& wt,
                             const Eigen::Ref<const Eigen::VectorXd>& offset,
                             const LambdaPattern& lam, int family, int link)
    : n_((int)X.rows()), p_((int)X.cols()), Q_((int)Z.cols()),
      fam_(make_obs_model(family, link)), X_(X), Zc_(Z), y_(y), wt_(wt),
      off_(offset), lam_(lam) {
  if (!fam_) Rcpp::stop("unsupported family/link codes");
  disp_ = fam_->has_dispersion();
  for (int i = 0; i < n_; ++i) lconst_ += fam_->logconst(y_[i], wt_[i]);
  Zc_.makeCompressed();

  // Entries of Lambda by row.
  std::vector<std::vector<int> > lam_by_row(Q_);
  for (size_t e = 0; e < lam_.row.size(); ++e) lam_by_row[lam_.row[e]].push_back((int)e);

  // Pattern of A = Z Lambda: row i holds every column c with Lambda(r, c)
  // in the pattern for some non-zero z_ir (explicit zeros kept, so the
  // pattern does not depend on the parameter values).
  std::vector<Eigen::Triplet<double> > trip;
  std::vector<int> cols;
  for (int i = 0; i < n_; ++i) {
    cols.clear();
    for (RowMat::InnerIterator it(Z, i); it; ++it)
      for (int e : lam_by_row[it.col()]) cols.push_back(lam_.col[e]);
    std::sort(cols.begin(), cols.end());
    cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
    for (int c : cols) trip.push_back(Eigen::Triplet<double>(i, c, 0.0));
  }
  A_.resize(n_, Q_);
  A_.setFromTriplets(trip.begin(), trip.end());
  A_.makeCompressed();
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  // A by columns (positions of its values, rows in increasing order), for
  // A' v gathered column by column.
  acol_start_.assign(Q_ + 1, 0);
  for (int k = 0; k < Ao[n_]; ++k) ++acol_start_[Ai[k] + 1];
  for (int c = 0; c < Q_; ++c) acol_start_[c + 1] += acol_start_[c];
  acol_pos_.resize(Ao[n_]);
  acol_row_.resize(Ao[n_]);
  {
    std::vector<long> next(acol_start_.begin(), acol_start_.end() - 1);
    for (int i = 0; i < n_; ++i)
      for (int k = Ao[i]; k < Ao[i + 1]; ++k) {
        const long at = next[Ai[k]]++;
        acol_pos_[at] = k;
        acol_row_[at] = i;
      }
  }

  // Recipes: A(i, c) += z_ir * lambda[k] for every (r, c, k).
  rec_start_.assign(n_ + 1, 0);
  for (int i = 0; i < n_; ++i) {
    for (RowMat::InnerIterator it(Z, i); it; ++it) {
      if (it.value() == 0.0) continue;
      for (int e : lam_by_row[it.col()]) {
        const int c = lam_.col[e];
        const int* pos = std::lower_bound(Ai + Ao[i], Ai + Ao[i + 1], c);
        rec_pos_.push_back((int)(pos - Ai));
        rec_loc_.push_back((int)(pos - Ai) - Ao[i]);
        rec_k_.push_back(lam_.k[e]);
        rec_z_.push_back(it.value());
      }
    }
    rec_start_[i + 1] = (long)rec_pos_.size();
  }

  // Pattern of H = A' W A + I: lower triangle and the full diagonal.
  trip.clear();
  long npairs = 0;
  InterruptPoll ip;
  for (int i = 0; i < n_; ++i) {
    if ((i & 1023) == 0 && ip.poll()) ip.raise_if_interrupted();
    const int m = Ao[i + 1] - Ao[i];
    npairs += (long)m * (m + 1) / 2;
  }
  if (npairs > 200000000L)
    Rcpp::stop("the random-effects design is too dense for the sparse engine "
               "(%.0f pairs of non-zeros per row in total)", (double)npairs);
  for (int i = 0; i < n_; ++i)
    for (int a = Ao[i]; a < Ao[i + 1]; ++a)
      for (int b = a; b < Ao[i + 1]; ++b)
        trip.push_back(Eigen::Triplet<double>(Ai[b], Ai[a], 0.0));
  for (int j = 0; j < Q_; ++j) trip.push_back(Eigen::Triplet<double>(j, j, 0.0));
  H_.resize(Q_, Q_);
  H_.setFromTriplets(trip.begin(), trip.end());
  H_.makeCompressed();
  std::vector<Eigen::Triplet<double> >().swap(trip);
  const int* Ho = H_.outerIndexPtr();
  const int* Hi = H_.innerIndexPtr();
  pair_start_ = row_pair_offsets(Ao, n_);
  pair_h_ = row_pair_positions(Ao, Ai, n_, Ho, Hi, nullptr, nullptr);
  diag_h_.resize(Q_);
  for (int j = 0; j < Q_; ++j) diag_h_[j] = (int)find_entry(Ho, Hi, j, j);
  chol_.analyzePattern(H_);
  ucache_ = Eigen::VectorXd::Zero(Q_);
  uanchor_ = Eigen::VectorXd::Zero(Q_);
}

long SparseLaplace::nnz_factor() const {
  return pairs_mapped_ ? (long)chol_.matrixL().nestedExpression().nonZeros() : -1L;
}

void SparseLaplace::unpack(const Eigen::VectorXd& theta, Eigen::VectorXd& beta,
                           Eigen::VectorXd& lam, double& phi) const {
  if (theta.size() != npar())
    Rcpp::stop("theta has length %d; the model has %d parameters", (int)theta.size(), npar());
  beta = theta.head(p_);
  lam = theta.segment(p_, lam_.ntheta);
  phi = disp_ && !aux_ ? theta[p_ + lam_.ntheta] : 0.0;
}

void SparseLaplace::set_aux(int kind, const Eigen::Ref<const Eigen::MatrixXd>& XA,
                            const std::vector<int>& pred,
                            const Eigen::Ref<const Eigen::MatrixXd>& aoff) {
  std::unique_ptr<AuxObsModel> m = make_aux_model(kind, fam_.get(), (int)aoff.cols());
  if (!m) Rcpp::stop("this family has no auxiliary predictor of that kind");
  const int na = m->naux();
  if (XA.rows() != n_ || aoff.rows() != n_ || aoff.cols() != na ||
      (int)pred.size() != XA.cols())
    Rcpp::stop("auxiliary designs do not match the data or the number of predictors");
  for (int pr : pred)
    if (pr < 0 || pr >= na) Rcpp::stop("auxiliary predictor index out of range");
  XA_ = XA;
  AOFF_ = aoff;
  apred_ = pred;
  aux_ = std::move(m);
  AV_ = AOFF_.transpose();
  lconst_ = 0.0;
  for (int i = 0; i < n_; ++i) lconst_ += aux_->logconst(y_[i], wt_[i]);
  reset_modes();
}

void SparseLaplace::fill_aux(const Eigen::VectorXd& theta) {
  if (!aux_) return;
  AV_ = AOFF_.transpose();
  const int base = p_ + lam_.ntheta;
  for (int m = 0; m < (int)XA_.cols(); ++m)
    AV_.row(apred_[m]) += theta[base + m] * XA_.col(m).transpose();
}

void SparseLaplace::set_A(const Eigen::VectorXd& lam) {
  double* Av = A_.valuePtr();
  std::fill(Av, Av + A_.nonZeros(), 0.0);
  for (size_t r = 0; r < rec_pos_.size(); ++r) Av[rec_pos_[r]] += rec_z_[r] * lam[rec_k_[r]];
}

bool SparseLaplace::factor_H(const Eigen::VectorXd& w) {
  assemble_H(w);
  chol_.factorize_polled(H_);
  return chol_.info() == Eigen::Success;
}

double SparseLaplace::logdet() const { return chol_.logdet(); }

bool SparseLaplace::pirls(const Eigen::VectorXd& eta0, double phi, Eigen::VectorXd& u,
                          Eigen::VectorXd& eta, std::vector<ObsDerivs>& d, double& f,
                          int& iters, const Eigen::VectorXd* alt) {
  d.resize(n_);
  Eigen::VectorXd w(n_), d1(n_), g, delta, unew, etanew;
  std::vector<ObsDerivs> dnew(n_);
  auto objective = [&](const Eigen::VectorXd& uu, Eigen::VectorXd& ee,
                       std::vector<ObsDerivs>& dd) {
    eta_of(eta0, uu, ee);
    return obs_derivs(ee, phi, dd) - 0.5 * uu.squaredNorm();
  };
  f = objective(u, eta, d);
  if (alt) {
    Eigen::VectorXd ealt;
    const double falt = objective(*alt, ealt, dnew);
    if (std::isfinite(falt) && !(falt <= f)) {
      u = *alt;
      eta.swap(ealt);
      d.swap(dnew);
      f = falt;
    }
  }
  if (!std::isfinite(f)) {
    u.setZero();
    f = objective(u, eta, d);
    if (!std::isfinite(f)) return false;
  }
  double fprev = -std::numeric_limits<double>::infinity();
  double decprev = std::numeric_limits<double>::infinity();
  Eigen::VectorXd wlast;   // the weights of the factor in chol_, this call
  bool wfactored = false;
  for (iters = 0; iters < 200; ++iters) {
    // One factorization per iteration can take seconds when crossed
    // factors fill in the factor: check for Ctrl-C between them.
    Rcpp::checkUserInterrupt();
    for (int i = 0; i < n_; ++i) { d1[i] = d[i].d1; w[i] = -d[i].d2; }
    // H depends on u only through the weights: where they are those of the
    // factor already held (a gaussian identity model's are constant, so its
    // mode is one Newton step and the checks after it need no new factor),
    // the factor is reused; the same matrix, so the same factor to the bit.
    if (!(wfactored && w == wlast)) {
      wfactored = false;
      if (factor_H(w)) {
        wlast = w;
        wfactored = true;
      } else {
        // Non-canonical links (Gamma identity, gaussian log) can make H
        // indefinite away from the mode: step with the non-negative part of
        // the weights instead, still an ascent direction.
        for (int i = 0; i < n_; ++i) w[i] = std::max(w[i], 0.0);
        if (!factor_H(w)) return false;
      }
    }
    At_times(d1, g);
    g -= u;
    delta = chol_.solve(g);
    const double dec = g.dot(delta);
    if (!std::isfinite(dec)) return false;
    // Newton converges quadratically: stop once the decrement is at
    // rounding level, or once it is small and f no longer increases.
    // (log det H is first-order sensitive to an error in u, so the mode is
    // pinned down well below the tolerance of the optimizer.)
    if (dec < 1e-22 ||
        (dec < 1e-12 && decprev < 1e-6 && f - fprev <= 1e-14 * std::fabs(f)))
      return true;
    double t = 1.0, fnew = -std::numeric_limits<double>::infinity();
    for (int h = 0; h < 40; ++h, t *= 0.5) {
      unew = u + t * delta;
      fnew = objective(unew, etanew, dnew);
      if (std::isfinite(fnew) && fnew >= f - 1e-12 * std::fabs(f)) break;
    }
    if (!std::isfinite(fnew) || fnew < f - 1e-12 * std::fabs(f)) {
      // No progress along the Newton direction: at the mode up to rounding.
      return dec < 1e-6;
    }
    u.swap(unew); eta.swap(etanew); d.swap(dnew);
    fprev = f; f = fnew; decprev = dec;
  }
  return false;
}

// The Takahashi recurrences (polled-llt.h).
void SparseLaplace::selected_inverse(std::vector<double>& S) const { chol_.selected_inverse(S); }

SparseResult SparseLaplace::evaluate(const Eigen::VectorXd& theta, bool gradient) {
  SparseResult res;
  Eigen::VectorXd beta, lam;
  double phi;
  unpack(theta, beta, lam, phi);
  fill_aux(theta);
  res.gradient = Eigen::VectorXd::Zero(npar());
  grad_ready_ = false;
  Eigen::VectorXd eta0 = X_ * beta + off_;
  // The prediction from the last evaluation (its A and factor) competes
  // with the anchor as PIRLS's start.
  Eigen::VectorXd upred;
  const bool predicted = predict_modes(beta, lam, upred);
  last_ok_ = false;
  set_A(lam);
  Eigen::VectorXd u = uanchor_, eta;
  std::vector<ObsDerivs> d;
  double f;
  int it = 0;
  bool ok = pirls(eta0, phi, u, eta, d, f, it, predicted ? &upred : nullptr);
  res.pirls_iterations = it;
  if (!ok) {  // retry from u = 0 before giving up
    u.setZero();
    ok = pirls(eta0, phi, u, eta, d, f, it);
    res.pirls_iterations += it;
  }
  if (!ok) {
    res.pirls_failed = true;
    res.loglik = -std::numeric_limits<double>::infinity();
    res.gradient.setConstant(std::numeric_limits<double>::quiet_NaN());
    return res;
  }
  ucache_ = u;
  keep_last(beta, lam, u, d);
  res.loglik = f + lconst_ - 0.5 * logdet();
  if (!(res.loglik < ll_anchor_) || ++below_ >= 2) {
    uanchor_ = u;
    ll_anchor_ = res.loglik;
    below_ = 0;
  }
  // What the gradient needs, kept until the next evaluation.
  grad_d_.swap(d);
  grad_eta_.swap(eta);
  grad_phi_ = phi;
  grad_theta_ = theta;
  grad_res_ = res;
  grad_ready_ = !gradient;  // a gradient asked for later is this one's
  if (gradient) add_gradient(res);
  return res;
}

Eigen::MatrixXd SparseLaplace::cluster_gradient(const Eigen::VectorXd& theta,
                                                const std::vector<int>& obs_cl,
                                                const std::vector<int>& re_cl, int G) {
  Eigen::MatrixXd per = Eigen::MatrixXd::Zero(G, npar());
  SparseResult res = evaluate(theta, false);
  if (res.pirls_failed) {
    per.setConstant(std::numeric_limits<double>::quiet_NaN());
    return per;
  }
  add_gradient(res, &obs_cl, &re_cl, &per);
  return per;
}

SparseResult SparseLaplace::evaluate_split(const Eigen::VectorXd& theta,
                                           const std::vector<int>& obs_cl,
                                           const std::vector<int>& re_cl, int G,
                                           Eigen::MatrixXd& per) {
  per = Eigen::MatrixXd::Zero(G, npar());
  SparseResult res = evaluate(theta, false);
  if (res.pirls_failed) {
    per.setConstant(std::numeric_limits<double>::quiet_NaN());
    return res;
  }
  grad_ready_ = false;  // as after evaluate(theta, true)
  add_gradient(res, &obs_cl, &re_cl, &per);
  return res;
}

SparseResult SparseLaplace::evaluate_gradient(const Eigen::VectorXd& theta) {
  if (!grad_ready_ || theta.size() != grad_theta_.size() || theta != grad_theta_)
    return evaluate(theta, true);
  SparseResult res = grad_res_;
  add_gradient(res);
  return res;
}

// The gradient part of evaluate(), at the modes, derivatives and factor of
// the last evaluation (formulas at the top of this file).
void SparseLaplace::add_gradient(SparseResult& res, const std::vector<int>* obs_cl,
                                 const std::vector<int>* re_cl, Eigen::MatrixXd* per) {
  const Eigen::VectorXd& u = ucache_;
  const std::vector<ObsDerivs>& d = grad_d_;
  const Eigen::VectorXd& eta = grad_eta_;
  const double phi = grad_phi_;
  const auto& L = chol_.matrixL().nestedExpression();
  const int* Lo = L.outerIndexPtr();
  const int* Li = L.innerIndexPtr();
  const int* Ao = A_.outerIndexPtr();
  const int* Ai = A_.innerIndexPtr();
  const double* Av = A_.valuePtr();
  if (!pairs_mapped_) {
    pair_s_ = row_pair_positions(Ao, Ai, n_, Lo, Li, chol_.permutationP().indices().data(),
                                 nullptr);
    pairs_mapped_ = true;
  }
  std::vector<double> S;
  selected_inverse(S);

  const int K = lam_.ntheta;
  Eigen::VectorXd h(n_), c(n_), w(n_), d1(n_), gl = Eigen::VectorXd::Zero(K);
  // Per observation: v = H^{-1} a_i on a_i's pattern, h_i = a_i' v, and the
  // explicit log det term of dL/dlambda, summed per chunk (chunk order).
  const long nchunk = chunk_count(n_, kGradChunk);
  Eigen::MatrixXd glpart = Eigen::MatrixXd::Zero(K, nchunk);
  Eigen::VectorXd gphi = Eigen::VectorXd::Zero(nchunk);
  // per cluster: each recipe's term of the explicit log det part (recipes
  // belong to one observation, so threads write apart)
  std::vector<double> recval(per ? (size_t)rec_start_[n_] : 0);
  run_chunks(n_, kGradChunk, nthreads_, [&](long ch, long i0, long i1) {
    std::vector<double> v;
    for (long i = i0; i < i1; ++i) {
      const int m = Ao[i + 1] - Ao[i];
      const double* a = Av + Ao[i];
      v.assign(m, 0.0);
      long pp = pair_start_[i];
      for (int la = 0; la < m; ++la)
        for (int lb = la; lb < m; ++lb) {
          const double s = S[pair_s_[pp++]];
          v[la] += s * a[lb];
          if (lb != la) v[lb] += s * a[la];
        }
      double hi = 0.0;
      for (int la = 0; la < m; ++la) hi += a[la] * v[la];
      h[i] = hi;
      w[i] = -d[i].d2;
      d1[i] = d[i].d1;
      c[i] = -d[i].d3 * hi;
      for (long r = rec_start_[i]; r < rec_start_[i + 1]; ++r) {
        const double t = w[i] * rec_z_[r] * v[rec_loc_[r]];
        glpart(rec_k_[r], ch) -= t;
        if (per) recval[r] = t;
      }
    }
  });
  for (long ch = 0; ch < nchunk; ++ch) gl += glpart.col(ch);
  Eigen::VectorXd Atc, vq, Avq, wz, ze;
  At_times(c, Atc);
  vq = chol_.solve(Atc);
  eta_of(Eigen::VectorXd::Zero(n_), vq, Avq);
  Eigen::VectorXd e = c - w.cwiseProduct(Avq);
  res.gradient.head(p_) = X_.transpose() * (d1 - 0.5 * e);
  Zt_times(d1, wz);
  Zt_times(e, ze);
  for (size_t q = 0; q < lam_.row.size(); ++q) {
    const int r = lam_.row[q], cc = lam_.col[q];
    const double t = wz[r] * u[cc] - 0.5 * (ze[r] * u[cc] + wz[r] * vq[cc]);
    gl[lam_.k[q]] += t;
    if (per && (*re_cl)[r] >= 0) (*per)((*re_cl)[r], p_ + lam_.k[q]) += t;
  }
  res.gradient.segment(p_, K) = gl;
  if (per) {
    for (int i = 0; i < n_; ++i) {
      const int g = (*obs_cl)[i];
      if (g < 0) continue;
      per->row(g).head(p_) += (d1[i] - 0.5 * e[i]) * X_.row(i);
      for (long r = rec_start_[i]; r < rec_start_[i + 1]; ++r)
        (*per)(g, p_ + rec_k_[r]) -= recval[r];
    }
  }
  if (aux_) {
    // Each auxiliary coefficient: the dispersion's formula per observation,
    // chained through its design column.
    const int na = aux_->naux();
    double o[3];
    std::vector<double> t(na);
    for (int i = 0; i < n_; ++i) {
      const double* a = AV_.data() + (long)i * na;
      for (int c = 0; c < na; ++c) {
        aux_->daux(y_[i], wt_[i], eta[i], a, c, o);
        t[c] = o[0] + 0.5 * o[2] * h[i] - 0.5 * Avq[i] * o[1];
      }
      for (int m = 0; m < (int)XA_.cols(); ++m) {
        res.gradient[p_ + K + m] += XA_(i, m) * t[apred_[m]];
        if (per && (*obs_cl)[i] >= 0) (*per)((*obs_cl)[i], p_ + K + m) += XA_(i, m) * t[apred_[m]];
      }
    }
  } else if (disp_) {
    run_chunks(n_, kGradChunk, nthreads_, [&](long ch, long i0, long i1) {
      double g = 0.0, o[3];
      for (long i = i0; i < i1; ++i) {
        fam_->dphi(y_[i], wt_[i], eta[i], phi, o);
        g += o[0] + 0.5 * o[2] * h[i] - 0.5 * Avq[i] * o[1];
      }
      gphi[ch] = g;
    });
    double g = 0.0;
    for (long ch = 0; ch < nchunk; ++ch) g += gphi[ch];
    res.gradient[p_ + K] = g;
    if (per) {
      double o[3];
      for (int i = 0; i < n_; ++i) {
        if ((*obs_cl)[i] < 0) continue;
        fam_->dphi(y_[i], wt_[i], eta[i], phi, o);
        (*per)((*obs_cl)[i], p_ + K) += o[0] + 0.5 * o[2] * h[i] - 0.5 * Avq[i] * o[1];
      }
    }
  }
}

SparseModes SparseLaplace::modes(const Eigen::VectorXd& theta) {
  SparseModes out;
  // The factor at the mode is all that is needed (the selected inverse
  // below is computed once, not also for a gradient).
  SparseResult r = evaluate(theta, false);
  if (r.pirls_failed) { out.failed = true; return out; }
  Eigen::VectorXd beta, lam;
  double phi;
  unpack(theta, beta, lam, phi);
  out.u = ucache_;
  Eigen::SparseMatrix<double> Lam(Q_, Q_);
  std::vector<Eigen::Triplet<double> > t;
  for (size_t q = 0; q < lam_.row.size(); ++q)
    t.push_back(Eigen::Triplet<double>(lam_.row[q], lam_.col[q], lam[lam_.k[q]]));
  Lam.setFromTriplets(t.begin(), t.end());
  out.b = Lam * out.u;
  eta_of(X_ * beta + off_, out.u, out.eta);
  std::vector<ObsDerivs> d(n_);
  obs_derivs(out.eta, phi, d);
  out.w.resize(n_);
  for (int i = 0; i < n_; ++i) out.w[i] = -d[i].d2;
  out.logdet = logdet();
  std::vector<double> S;
  selected_inverse(S);
  inverse_on_pattern(H_, chol_, S, [&](int i, int j, double inv, double) {
    out.inv_i.push_back(i);
    out.inv_j.push_back(j);
    out.inv_x.push_back(inv);
  });
  return out;
}

Eigen::MatrixXd SparseLaplace::solve(const Eigen::VectorXd& theta, const Eigen::MatrixXd& rhs) {
  if (rhs.rows() != Q_) Rcpp::stop("rhs must have %d rows", Q_);
  SparseResult r = evaluate(theta, false);
  if (r.pirls_failed) Rcpp::stop("the conditional modes could not be found");
  return chol_.solve(rhs);
}

}  // namespace glmmgee
