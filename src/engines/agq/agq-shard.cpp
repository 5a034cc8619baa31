// A shard's share of the GLM starting-value iteration (agq-start.cpp): the
// distributed driver (R/workers-engine.R) sums these over shards, in shard
// order, and takes glm_start()'s Newton steps on the totals, so a sharded fit
// starts where the in-memory fit starts.
#include "engines/agq/agq.h"
#include "util/dd-sum.h"
#include "util/lin-pred.h"
#include <algorithm>
#include <stdexcept>
#include "entry/entry-agq.h"
#include "entry/entry-util.h"

namespace glmmgee {

double AgqEngine::glm_sums(const Eigen::VectorXd& beta, Eigen::VectorXd& grad,
                           Eigen::MatrixXd& info) const {
  Eigen::VectorXd lo;
  const double l = glm_sums_dd(beta, grad, info, lo);
  const int p = p_;
  int t = 1 + p;
  for (int a = 0; a < p; ++a) {
    grad[a] += lo[1 + a];
    for (int b = a; b < p; ++b, ++t) info(a, b) = info(b, a) = info(a, b) + lo[t];
  }
  return l + lo[0];
}

// Per cluster, plain sums over its rows (the same rows in the same order in
// every grouping); over clusters, order-independent sums (dd-sum.h), so that
// shards' partial sums add up to the in-memory sums bitwise. `lo` receives
// the low parts: loglik, gradient, then the information's lower triangle by
// columns; the returned values are the high parts.
double AgqEngine::glm_sums_dd(const Eigen::VectorXd& beta, Eigen::VectorXd& grad,
                              Eigen::MatrixXd& info, Eigen::VectorXd& lo) const {
  if (beta.size() != p_) throw std::invalid_argument("beta has the wrong length");
  const ObsModel& fam = *fam_;
  const int p = p_, nt = p * (p + 1) / 2, K = 1 + p + nt;
  // Rows in blocks of kBlock (clusters are contiguous): the linear predictor
  // and the family's derivatives of a block at a time. linear_predictor()
  // takes each row's terms in the same order wherever the row sits, so the
  // sums are bitwise those of one pass, without n-long scratch (a third of
  // a gigabyte at ten million rows, allocated at every Newton step).
  constexpr long kBlock = 4096;
  Eigen::VectorXd eta(kBlock);
  std::vector<ObsDerivs> dv(kBlock);
  DDVec acc(K);
  std::vector<double> c(K, 0.0);
  int i = 0;
  for (long b0 = 0; b0 < n_; b0 += kBlock) {
    const long m = std::min<long>(kBlock, n_ - b0);
    if (off_.size()) linear_predictor(X_.middleRows(b0, m), beta, off_.segment(b0, m), eta);
    else linear_predictor(X_.middleRows(b0, m), beta, off_, eta);
    fam.derivs_n(y_.data() + b0, wt_at(b0), eta.data(), static_cast<int>(m), 0.0,
                 dv.data());
    for (long r = 0; r < m; ++r) {
      const long j = b0 + r;
      while (j >= lay_.start[i + 1]) {  // cluster i ends before row j
        acc.add(c.data(), K);
        std::fill(c.begin(), c.end(), 0.0);
        ++i;
      }
      const double d1 = dv[r].d1, w = -dv[r].d2;
      c[0] += dv[r].l;
      int t = 1 + p;
      for (int a = 0; a < p; ++a) {
        const double xa = X_(j, a);
        c[1 + a] += xa * d1;
        const double wxa = w * xa;
        for (int b = a; b < p; ++b) c[t++] += wxa * X_(j, b);
      }
    }
  }
  for (; i < lay_.M; ++i) {
    acc.add(c.data(), K);
    std::fill(c.begin(), c.end(), 0.0);
  }
  grad.resize(p);
  info.resize(p, p);
  lo.resize(K);
  for (int k = 0; k < K; ++k) lo[k] = acc.lo[k];
  int t = 1 + p;
  for (int a = 0; a < p; ++a) {
    grad[a] = acc.hi[1 + a];
    for (int b = a; b < p; ++b, ++t) info(a, b) = info(b, a) = acc.hi[t];
  }
  return acc.hi[0];
}

}  // namespace glmmgee

static glmmgee::AgqEngine* shard_engine(SEXP ptr) {
  Rcpp::XPtr<glmmgee::AgqEngine> p(ptr);
  if (!p.get()) Rcpp::stop("the shard's GLMM engine is no longer available");
  return p.get();
}

// Log-likelihood, score and information of the GLM without random effects
// at beta, on one shard's rows: rounded sums, and `dd` with their high and
// low parts (loglik, gradient, the information's upper triangle) for a
// driver that adds several shards' sums (R/order-independent-sums.R).
Rcpp::List glmmgee_exports::agq_glm_sums(SEXP ptr, Eigen::Map<Eigen::VectorXd> beta) {
  glmmgee::AgqEngine* eng = shard_engine(ptr);
  Eigen::VectorXd grad, lo;
  Eigen::MatrixXd info;
  double l = 0.0;
  try {
    l = eng->glm_sums_dd(beta, grad, info, lo);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  const int p = grad.size(), K = lo.size();
  Eigen::VectorXd hi(K);
  hi[0] = l;
  int t = 1 + p;
  for (int a = 0; a < p; ++a) {
    hi[1 + a] = grad[a];
    for (int b = a; b < p; ++b) hi[t++] = info(a, b);
  }
  Eigen::VectorXd val = hi + lo;
  Eigen::VectorXd g = val.segment(1, p);
  Eigen::MatrixXd I(p, p);
  t = 1 + p;
  for (int a = 0; a < p; ++a)
    for (int b = a; b < p; ++b, ++t) I(a, b) = I(b, a) = val[t];
  return Rcpp::List::create(Rcpp::Named("loglik") = val[0], Rcpp::Named("gradient") = g,
                            Rcpp::Named("information") = I, Rcpp::Named("hi") = hi,
                            Rcpp::Named("lo") = lo);
}

// cpp_agq_eval() with the sums' high and low parts (dd-sum.h): loglik_dd =
// c(hi, lo), gradient_dd = cbind(hi, lo), which a driver adds over shards.
Rcpp::List glmmgee_exports::agq_eval_dd(SEXP ptr, Eigen::Map<Eigen::VectorXd> theta, bool gradient) {
  glmmgee::AgqEngine* eng = shard_engine(ptr);
  if (theta.size() != eng->npar()) Rcpp::stop("theta must have length %d", eng->npar());
  glmmgee::AgqResult r;
  try {
    r = eng->evaluate(theta, gradient);
  } catch (std::exception& e) {
    Rcpp::stop(e.what());
  }
  Rcpp::NumericVector ldd = Rcpp::NumericVector::create(r.loglik_hi, r.loglik_lo);
  Rcpp::NumericMatrix gdd(gradient ? r.gradient.size() : 0, 2);
  for (int k = 0; k < gdd.nrow(); ++k) {
    gdd(k, 0) = r.gradient_hi[k];
    gdd(k, 1) = r.gradient_lo[k];
  }
  return Rcpp::List::create(Rcpp::Named("loglik") = r.loglik,
                            Rcpp::Named("gradient") = r.gradient,
                            Rcpp::Named("newton_failures") = r.newton_failures,
                            Rcpp::Named("loglik_dd") = ldd, Rcpp::Named("gradient_dd") = gdd);
}

// X beta + offset with each row's value independent of its position in X
// (lin-pred.h): the fitted values of the start's GLM, in memory and on
// shards alike.
Eigen::VectorXd glmmgee_exports::lin_pred(Eigen::Map<Eigen::MatrixXd> X, Eigen::Map<Eigen::VectorXd> beta,
                             Eigen::Map<Eigen::VectorXd> offset) {
  if (beta.size() != X.cols()) Rcpp::stop("'beta' must have one value per column of 'X'");
  // An empty offset is a zero one (lin-pred.h).
  if (offset.size() != 0 && offset.size() != X.rows())
    Rcpp::stop("'offset' must have one value per row of 'X'");
  Eigen::VectorXd eta;
  glmmgee::linear_predictor(X, beta, offset, eta);
  return eta;
}

// The sum of x as an order-independent pair c(hi, lo) (dd-sum.h), which a
// driver adds over shards (R/order-independent-sums.R).
Rcpp::NumericVector glmmgee_exports::dd_sum(Rcpp::NumericVector x) {
  glmmgee::DDSum s;
  for (R_xlen_t i = 0; i < x.size(); ++i) s.add(x[i]);
  return Rcpp::NumericVector::create(s.hi, s.lo);
}
