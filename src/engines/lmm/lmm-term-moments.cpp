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
#include "entry/entry-lmm.h"

// codes: K integer vectors of group codes 1..nl[k] over the same n rows;
// r: the residuals; p: the fixed effects' rank.
//
// Each group's size n_l and residual sum come from one pass over the rows
// per term; each pair of terms (k, j) needs its cell counts N_lm once for
// both t_kj and t_jk. The sums of squared counts per group (sum_m N_lm^2)
// are integers, summed exactly in 64 bits (exact in double too, below
// 2^53), so their order does not matter; the quotients are added over the
// groups in increasing order, as before: the same A and b to the bit.
Rcpp::List glmmgee_exports::lmm_term_moments(Rcpp::List codes, Rcpp::IntegerVector nl,
                                Rcpp::NumericVector r, int p) {
  typedef long long i64;
  const int K = codes.size();
  const R_xlen_t n = r.size();
  if (nl.size() != K) Rcpp::stop("term moments: 'nl' must have one entry per term");
  const double* rp = r.begin();
  std::vector<Rcpp::IntegerVector> cv(K);
  std::vector<std::vector<i64> > cnt(K);   // group sizes
  std::vector<std::vector<double> > sum(K);  // residual sums by group
  for (int k = 0; k < K; ++k) {
    cv[k] = Rcpp::as<Rcpp::IntegerVector>(codes[k]);
    if (cv[k].size() != n) Rcpp::stop("term moments: codes and residuals differ in length");
    if (nl[k] < 1) Rcpp::stop("term moments: a term has no groups");
    const int L = nl[k];
    const int* code = cv[k].begin();
    for (R_xlen_t i = 0; i < n; ++i)
      if (code[i] < 1 || code[i] > L) Rcpp::stop("term moments: a code is out of range");
    cnt[k].assign(L, 0);
    sum[k].assign(L, 0.0);
    i64* nk = cnt[k].data();
    double* sk = sum[k].data();
    for (R_xlen_t i = 0; i < n; ++i) {
      ++nk[code[i] - 1];
      sk[code[i] - 1] += rp[i];
    }
  }
  Rcpp::NumericMatrix A(K + 1, K + 1);
  Rcpp::NumericVector b(K + 1);
  double rr = 0.0;
  for (R_xlen_t i = 0; i < n; ++i) rr += rp[i] * rp[i];
  b[K] = rr;
  const double nd = static_cast<double>(n);
  std::vector<double> c(K, 0.0);
  for (int j = 0; j < K; ++j) {
    for (i64 v : cnt[j]) c[j] += (double)v * (double)v;
    c[j] /= nd;
    A(K, j) = nd - c[j];
  }
  A(K, K) = nd - p;
  for (int k = 0; k < K; ++k) {
    const int L = nl[k];
    const i64* nk = cnt[k].data();
    const double* sk = sum[k].data();
    double q = 0.0, groups = 0.0;
    for (int l = 0; l < L; ++l)
      if (nk[l] > 0) { q += sk[l] * sk[l] / (double)nk[l]; groups += 1.0; }
    b[k] = q;
    A(k, K) = groups - 1.0;
    A(k, k) = nd - c[k];
  }
  // t_kj = sum_l (sum_m N_lm^2) / n_l over k's groups l, and t_jk likewise
  // over j's groups m, from the cells of (k, j).
  std::vector<i64> sq_k, sq_j;
  std::vector<R_xlen_t> start, ord;
  std::vector<i64> cell;
  std::vector<int> touched;
  for (int k = 0; k < K; ++k)
    for (int j = k + 1; j < K; ++j) {
      const int Lk = nl[k], Lj = nl[j];
      const int* ck = cv[k].begin();
      const int* cj = cv[j].begin();
      sq_k.assign(Lk, 0);
      sq_j.assign(Lj, 0);
      if ((double)Lk * (double)Lj <= (double)n + 4096.0) {
        // few cells: count them in a table, row by row
        cell.assign((size_t)Lk * Lj, 0);
        for (R_xlen_t i = 0; i < n; ++i) ++cell[(size_t)(ck[i] - 1) * Lj + (cj[i] - 1)];
        for (int l = 0; l < Lk; ++l) {
          const i64* row = cell.data() + (size_t)l * Lj;
          i64 s = 0;
          for (int m = 0; m < Lj; ++m) {
            const i64 v = row[m];
            s += v * v;
            sq_j[m] += v * v;
          }
          sq_k[l] = s;
        }
      } else {
        // rows of each group of k (counting sort), then the cells of each
        start.assign(Lk + 1, 0);
        ord.resize(n);
        for (R_xlen_t i = 0; i < n; ++i) ++start[ck[i]];
        for (int l = 0; l < Lk; ++l) start[l + 1] += start[l];
        {
          std::vector<R_xlen_t> pos(start.begin(), start.end() - 1);
          for (R_xlen_t i = 0; i < n; ++i) ord[pos[ck[i] - 1]++] = i;
        }
        cell.assign(Lj, 0);
        for (int l = 0; l < Lk; ++l) {
          touched.clear();
          for (R_xlen_t s = start[l]; s < start[l + 1]; ++s) {
            const int m = cj[ord[s]] - 1;
            if (cell[m] == 0) touched.push_back(m);
            ++cell[m];
          }
          i64 s2 = 0;
          for (int m : touched) {
            const i64 v = cell[m];
            s2 += v * v;
            sq_j[m] += v * v;
            cell[m] = 0;
          }
          sq_k[l] = s2;
        }
      }
      double t = 0.0;
      for (int l = 0; l < Lk; ++l)
        if (cnt[k][l] > 0) t += (double)sq_k[l] / (double)cnt[k][l];
      A(k, j) = t - c[j];
      t = 0.0;
      for (int m = 0; m < Lj; ++m)
        if (cnt[j][m] > 0) t += (double)sq_j[m] / (double)cnt[j][m];
      A(j, k) = t - c[k];
    }
  return Rcpp::List::create(Rcpp::Named("A") = A, Rcpp::Named("b") = b);
}
