// Moment equations for the variances of several random intercepts, the
// start of the several-term profiled LMM's Newton search
// (lmm_sparse_moment_start(), R/fit-lmm-sparse.R). With r the residuals of
// the fixed effects' least squares fit and P_k the projection on term k's
// group indicators (r' P_k r = sum over its groups of (group sum of r)^2 /
// group size), Henderson's (1953) method 1 equates these quadratic forms and
// r' r to their expectations under y = X b + sum_j Z_j u_j + e. The
// expectations are taken for r = (I - J / n) y, the residuals from the mean
// (exact when X is the intercept; the other columns' projection is
// neglected: this is a start):
//   E[r' P_k r] = sum_j s2_j (t_kj - c_j) + s2 (groups of k - 1),
//   E[r' r]     = sum_j s2_j (n - c_j) + s2 (n - p),
// with t_kj = tr(Z_j' P_k Z_j) = sum over the cells (l, m) of the two
// factors of N_lm^2 / n_l (N_lm the rows in group l of k and m of j; n when
// j = k) and c_j = sum_m n_m^2 / n over j's group sizes (the grand mean's
// share; without it a balanced crossed design such as Penicillin's puts
// the other factor's variance into each factor's equation). Returns the
// (K + 1) x (K + 1) system A s = b, unknowns (s2_1, ..., s2_K, s2).
#include <Rcpp.h>
#include <vector>

// codes: K integer vectors of group codes 1..nl[k] over the same n rows;
// r: the residuals; p: the fixed effects' rank.
// [[Rcpp::export(rng = false)]]
Rcpp::List cpp_lmm_term_moments(Rcpp::List codes, Rcpp::IntegerVector nl,
                                Rcpp::NumericVector r, int p) {
  const int K = codes.size();
  const R_xlen_t n = r.size();
  if (nl.size() != K) Rcpp::stop("term moments: 'nl' must have one entry per term");
  std::vector<Rcpp::IntegerVector> cv(K);
  for (int k = 0; k < K; ++k) {
    cv[k] = Rcpp::as<Rcpp::IntegerVector>(codes[k]);
    if (cv[k].size() != n) Rcpp::stop("term moments: codes and residuals differ in length");
    if (nl[k] < 1) Rcpp::stop("term moments: a term has no groups");
    for (R_xlen_t i = 0; i < n; ++i)
      if (cv[k][i] < 1 || cv[k][i] > nl[k]) Rcpp::stop("term moments: a code is out of range");
  }
  Rcpp::NumericMatrix A(K + 1, K + 1);
  Rcpp::NumericVector b(K + 1);
  double rr = 0.0;
  for (R_xlen_t i = 0; i < n; ++i) rr += r[i] * r[i];
  b[K] = rr;
  const double nd = static_cast<double>(n);
  std::vector<double> c(K, 0.0);
  for (int j = 0; j < K; ++j) {
    std::vector<double> nj(nl[j], 0.0);
    for (R_xlen_t i = 0; i < n; ++i) nj[cv[j][i] - 1] += 1.0;
    for (double v : nj) c[j] += v * v;
    c[j] /= nd;
    A(K, j) = nd - c[j];
  }
  A(K, K) = nd - p;
  for (int k = 0; k < K; ++k) {
    const int L = nl[k];
    std::vector<double> nk(L, 0.0), sk(L, 0.0);
    for (R_xlen_t i = 0; i < n; ++i) {
      nk[cv[k][i] - 1] += 1.0;
      sk[cv[k][i] - 1] += r[i];
    }
    double q = 0.0, groups = 0.0;
    for (int l = 0; l < L; ++l)
      if (nk[l] > 0) { q += sk[l] * sk[l] / nk[l]; groups += 1.0; }
    b[k] = q;
    A(k, K) = groups - 1.0;
    A(k, k) = nd - c[k];
    // rows of each group of k (counting sort), then the cells with each j
    std::vector<R_xlen_t> start(L + 1, 0), ord(n);
    for (R_xlen_t i = 0; i < n; ++i) ++start[cv[k][i]];
    for (int l = 0; l < L; ++l) start[l + 1] += start[l];
    std::vector<R_xlen_t> pos(start.begin(), start.end() - 1);
    for (R_xlen_t i = 0; i < n; ++i) ord[pos[cv[k][i] - 1]++] = i;
    for (int j = 0; j < K; ++j) {
      if (j == k) continue;
      std::vector<double> cnt(nl[j], 0.0);
      std::vector<int> touched;
      double t = 0.0;
      for (int l = 0; l < L; ++l) {
        if (nk[l] == 0) continue;
        touched.clear();
        for (R_xlen_t s = start[l]; s < start[l + 1]; ++s) {
          const int m = cv[j][ord[s]] - 1;
          if (cnt[m] == 0.0) touched.push_back(m);
          cnt[m] += 1.0;
        }
        double c2 = 0.0;
        for (int m : touched) { c2 += cnt[m] * cnt[m]; cnt[m] = 0.0; }
        t += c2 / nk[l];
      }
      A(k, j) = t - c[j];
    }
  }
  return Rcpp::List::create(Rcpp::Named("A") = A, Rcpp::Named("b") = b);
}
