// Entry points of the families and links (families/): the code table shared with R,
// each family's pieces for tests against stats::, the Gauss-Hermite rules.
// Every function here is a `// [[Rcpp::export]]` entry point (Rcpp's
// compileAttributes() reads only the top level of src/): it checks sizes at the
// boundary, maps R memory read-only, calls the engine and returns a list. Where
// the work is an R-facing kernel of an engine's own file, the entry point forwards
// to it (namespace glmmgee_exports), and that file documents it.
#include <RcppEigen.h>
#include "families/families.h"
#include "families/gh-rule.h"
#include "util/parallel.h"

// [[Rcpp::depends(RcppEigen, BH)]]

//' Family and link codes shared with R (single source of truth)
//' @noRd
// [[Rcpp::export]]
Rcpp::List cpp_family_table() {
  using namespace glmmgee;
  const auto& fams = family_names();
  const auto& links = link_names();
  Rcpp::CharacterVector pf, pl;
  for (size_t f = 0; f < fams.size(); ++f)
    for (size_t l = 0; l < links.size(); ++l)
      if (make_obs_model((int)f, (int)l)) { pf.push_back(fams[f]); pl.push_back(links[l]); }
  return Rcpp::List::create(
      Rcpp::Named("family") = Rcpp::wrap(fams),
      Rcpp::Named("link") = Rcpp::wrap(links),
      Rcpp::Named("supported") = Rcpp::DataFrame::create(
          Rcpp::Named("family") = pf, Rcpp::Named("link") = pl,
          Rcpp::Named("stringsAsFactors") = false));
}

// Mean-model and log-likelihood pieces of one family, vectorised, so R-level
// tests can check every family against stats:: on the same inputs.
// [[Rcpp::export]]
Rcpp::List cpp_family_eval(int family, int link, Rcpp::NumericVector y,
                           Rcpp::NumericVector wt, Rcpp::NumericVector eta,
                           double phi) {
  using namespace glmmgee;
  std::unique_ptr<ObsModel> m = make_obs_model(family, link);
  if (!m) Rcpp::stop("unsupported family/link codes");
  const R_xlen_t n = eta.size();
  if (y.size() != n || wt.size() != n) Rcpp::stop("'y', 'wt' and 'eta' differ in length");
  m->set_phi(phi);
  Rcpp::NumericVector mu(n), mu_eta(n), var(n), ll(n), d1(n), d2(n), d3(n),
      p0(n), p1(n), p2(n), pp(n), epp(n), ppp(n);
  bool second = true;
  for (R_xlen_t i = 0; i < n; ++i) {
    mu[i] = m->linkinv(eta[i]);
    mu_eta[i] = m->mu_eta(eta[i]);
    var[i] = m->variance(mu[i]);
    ObsDerivs d = m->derivs(y[i], wt[i], eta[i], phi);
    ll[i] = d.l + m->logconst(y[i], wt[i]);
    d1[i] = d.d1; d2[i] = d.d2; d3[i] = d.d3;
    double o[3];
    m->dphi(y[i], wt[i], eta[i], phi, o);
    p0[i] = o[0]; p1[i] = o[1]; p2[i] = o[2];
    second = m->dphi2(y[i], wt[i], eta[i], phi, o) && second;
    pp[i] = o[0]; epp[i] = o[1]; ppp[i] = o[2];
  }
  return Rcpp::List::create(Rcpp::Named("mu") = mu, Rcpp::Named("mu_eta") = mu_eta,
                            Rcpp::Named("variance") = var, Rcpp::Named("loglik") = ll,
                            Rcpp::Named("d1") = d1, Rcpp::Named("d2") = d2,
                            Rcpp::Named("d3") = d3, Rcpp::Named("dphi_l") = p0,
                            Rcpp::Named("dphi_d1") = p1, Rcpp::Named("dphi_d2") = p2,
                            Rcpp::Named("dphi2_l") = pp, Rcpp::Named("dphi2_d1") = epp,
                            Rcpp::Named("dphi3_l") = ppp,
                            Rcpp::Named("has_dphi2") = second);
}

// Gauss-Hermite rule for the standard normal weight (exported for tests).
// [[Rcpp::export]]
Rcpp::List cpp_gh_rule(int K) {
  if (K < 1 || K > 200) Rcpp::stop("K must be between 1 and 200");
  glmmgee::GhRule r = glmmgee::gh_rule(K);
  return Rcpp::List::create(Rcpp::Named("z") = r.z,
                            Rcpp::Named("w") = Eigen::VectorXd(r.logw.array().exp()));
}

// The conditional log-likelihood sum_i l(y_i | eta0_i + (A x_j)_i), with its
// constant part, for each column x_j of X (q x k), A sparse (n x q): the
// inner loop of the importance sampler (loglik_check(), glmm_control(
// importance_draws = )), without an n x k matrix of linear predictors. The
// columns are shared between `nthreads` threads; each column's value is its
// own, so the result does not depend on the number of threads.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_family_loglik_draws(int family, int link, Rcpp::NumericVector y,
                                            Rcpp::NumericVector wt, Rcpp::NumericVector eta0,
                                            Eigen::MappedSparseMatrix<double> A,
                                            Rcpp::NumericMatrix X, double phi, int nthreads) {
  using namespace glmmgee;
  std::unique_ptr<ObsModel> m = make_obs_model(family, link);
  if (!m) Rcpp::stop("unsupported family/link codes");
  const int n = y.size();
  if (wt.size() != n || eta0.size() != n || A.rows() != n)
    Rcpp::stop("'y', 'wt', 'eta0' and the rows of 'A' differ in length");
  if (A.cols() != X.nrow()) Rcpp::stop("'A' has %d columns; 'X' has %d rows", (int)A.cols(), X.nrow());
  m->set_phi(phi);
  double lc = 0.0;
  for (int i = 0; i < n; ++i) lc += m->logconst(y[i], wt[i]);
  const int nt = usable_threads(nthreads);
  const int q = X.nrow(), K = X.ncol();
  check_memory(16.0 * n * nt, "the importance sampler's scratch");
  std::vector<double> eta_all((size_t)n * nt), d1_all((size_t)n * nt);
  Rcpp::NumericVector out(K);
  double* op = out.begin();
  const double* yp = y.begin();
  const double* wp = wt.begin();
  const double* e0 = eta0.begin();
  const double* Xp = X.begin();
  const ObsModel* mp = m.get();
  InterruptPoll ip;
  parallel_for(K, nt, 1, ip, [&](long j) {
    const int t = thread_index();
    double* eta = eta_all.data() + (size_t)n * t;
    double* d1 = d1_all.data() + (size_t)n * t;
    std::copy(e0, e0 + n, eta);
    const double* xj = Xp + (size_t)q * j;
    for (int c = 0; c < q; ++c) {
      const double xc = xj[c];
      if (xc == 0.0) continue;
      for (Eigen::MappedSparseMatrix<double>::InnerIterator it(A, c); it; ++it)
        eta[it.row()] += it.value() * xc;
    }
    op[j] = lc + mp->loglik_d1_n(yp, wp, eta, n, phi, d1);
  });
  return out;
}

// The second-order terms of the Laplace approximation (Shun and McCullagh
// 1995) of a GLMM's marginal log-likelihood at the conditional modes:
//   (1/8) sum_i d4_i h_ii^2 + sum_ij d3_i d3_j h_ij (h_ii h_jj / 8 + h_ij^2 / 12),
// d3, d4 the third and fourth derivatives of each observation's
// log-likelihood in eta (d4 by central differences of d3), h = A S A' the
// conditional covariance of the linear predictors (A = Z Lambda, n x q
// sparse; S = H^-1, q x q dense). The pairs are visited without forming h:
// for each i, s = S A_i' once, then h_ij = A_j s. Rows are shared between
// `nthreads` threads, each row's sum is its own and the rows are added in
// order, so the result does not depend on the number of threads.
// [[Rcpp::export]]
Rcpp::List cpp_second_order_terms(int family, int link, Rcpp::NumericVector y,
                                  Rcpp::NumericVector wt, Rcpp::NumericVector eta,
                                  Eigen::MappedSparseMatrix<double> A, Eigen::Map<Eigen::MatrixXd> S,
                                  double phi, int nthreads) {
  using namespace glmmgee;
  std::unique_ptr<ObsModel> m = make_obs_model(family, link);
  if (!m) Rcpp::stop("unsupported family/link codes");
  const int n = y.size(), q = A.cols();
  if (wt.size() != n || eta.size() != n || A.rows() != n)
    Rcpp::stop("'y', 'wt', 'eta' and the rows of 'A' differ in length");
  if (S.rows() != q || S.cols() != q) Rcpp::stop("'S' must be %d x %d", q, q);
  m->set_phi(phi);
  std::vector<double> d3(n), d4(n), hd(n);
  for (int i = 0; i < n; ++i) {
    const double h = 1e-4 * std::max(1.0, std::fabs(eta[i]));
    d3[i] = m->derivs(y[i], wt[i], eta[i], phi).d3;
    d4[i] = (m->derivs(y[i], wt[i], eta[i] + h, phi).d3 -
             m->derivs(y[i], wt[i], eta[i] - h, phi).d3) / (2.0 * h);
  }
  // the rows of A, for h_ij = A_j s
  Eigen::SparseMatrix<double, Eigen::RowMajor> Ar = A;
  typedef Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator RowIt;
  const int nt = usable_threads(nthreads);
  check_memory(8.0 * q * nt + 24.0 * n, "the second-order Laplace terms' scratch");
  std::vector<double> s_all((size_t)q * nt), part(n);
  InterruptPoll ip;
  auto row_s = [&](int i, double* s) {
    std::fill(s, s + q, 0.0);
    for (RowIt it(Ar, i); it; ++it) {
      const double a = it.value();
      const double* col = S.data() + (size_t)q * it.col();
      for (int b = 0; b < q; ++b) s[b] += a * col[b];
    }
  };
  // h_ii
  parallel_for(n, nt, 64, ip, [&](long i) {
    double* s = s_all.data() + (size_t)q * thread_index();
    row_s((int)i, s);
    double h = 0.0;
    for (RowIt it(Ar, (int)i); it; ++it) h += it.value() * s[it.col()];
    hd[i] = h;
  });
  // the pairs
  parallel_for(n, nt, 8, ip, [&](long i) {
    if (d3[i] == 0.0) { part[i] = 0.0; return; }
    double* s = s_all.data() + (size_t)q * thread_index();
    row_s((int)i, s);
    double acc = 0.0;
    for (int j = 0; j < n; ++j) {
      double h = 0.0;
      for (RowIt it(Ar, j); it; ++it) h += it.value() * s[it.col()];
      acc += d3[j] * h * (hd[i] * hd[j] / 8.0 + h * h / 12.0);
    }
    part[i] = d3[i] * acc;
  });
  double t4 = 0.0, t33 = 0.0;
  for (int i = 0; i < n; ++i) { t4 += d4[i] * hd[i] * hd[i] / 8.0; t33 += part[i]; }
  return Rcpp::List::create(Rcpp::Named("correction") = t4 + t33, Rcpp::Named("t4") = t4,
                            Rcpp::Named("t33") = t33);
}
