// Package metrics computes the five out-of-distribution detection metrics
// of the tables: FPR at 95% TPR, detection error, AUROC, AUPR-In and
// AUPR-Out. Every number in every table comes from here. The functions are
// pure (no I/O, no global state) and O(n log n).
//
// # Conventions
//
// ID (in-distribution) is the positive class, and a higher score means more
// in-distribution, for every detector (MCD's score is the negated
// discrepancy). An image is accepted as ID when its score is at least the
// threshold. All five metrics are fractions in [0, 1]; tables print
// percentages. Empty inputs and NaN or infinite scores are errors, never
// numbers.
//
// Papers and libraries disagree here. Libraries that take OOD as the
// positive class (OpenOOD, pytorch-ood) read FPR@95TPR at a different point
// of the curve (ID images rejected when 95% of OOD images are caught) and
// may swap what they call AUPR-In and AUPR-Out; AUROC is the same number
// either way. Ours follow Hendrycks & Gimpel (ICLR 2017) and ODIN (Liang et
// al., ICLR 2018), as the MCD paper does.
//
// # Definitions (exact mode: Compute)
//
// Every distinct score is a threshold, so equal scores move the ROC curve
// diagonally and ties count exactly.
//
//   - FPR95: the fraction of OOD images accepted at the highest threshold
//     that keeps at least 95% of ID images, that is the FPR of the first ROC
//     point with TPR ≥ 0.95 (ODIN; scikit-learn's roc_curve with
//     drop_intermediate=False).
//   - Detection error: min over thresholds of 0.5·(1 − TPR) + 0.5·FPR
//     (ODIN), the thresholds above and below every score included, so it is
//     at most 0.5.
//   - AUROC: the area under the ROC curve by the trapezoid rule, which
//     counts tied ID/OOD pairs as half (the Mann–Whitney U statistic divided
//     by |ID|·|OOD|; Hendrycks & Gimpel 2017; roc_auc_score).
//   - AUPR-In: average precision with ID positive, Σ_k (R_k − R_{k−1})·P_k
//     over thresholds, precision P from counts (scikit-learn's
//     average_precision_score; no interpolation).
//   - AUPR-Out: the same with OOD positive and the score negated.
//
// These agree with scikit-learn 1.2.1 to 2e-15 on the cases of
// testdata/cases.json (random, heavily tied, unequal sizes, one score each,
// perfect separation, reversed), written by testdata/gen_cases.py.
//
// # Paper mode (ComputePaper)
//
// The MCD paper's numbers come from its authors' test.py
// (github.com/YU1ut/UOOD-MCD), which differs from the definitions above.
// ComputePaper reproduces it bit for bit (checked against a direct
// transcription and against NumPy) so that our tables can stand beside the
// paper's; Compute is what we recommend otherwise. test.py works on the
// discrepancy (lower = ID), so ComputePaper applies it to −score. Its
// thresholds are every distinct discrepancy + 1e-4 (PaperOffset, an
// absolute offset in score units) plus −0.1, 0 and 2.1, which suit an L1
// discrepancy in [0, 2]; for other scores (MSP, ODIN, energy) the 0 is
// dropped and −0.1, 2.1 become −Inf, +Inf, which count the same. Where it
// differs, and by how much (paper − exact, percentage points, 9,000 ID and
// 9,000 OOD scores, one draw each; go test -run PaperVersusExact -v):
//
//   - FPR95 is the mean FPR over the thresholds whose TPR lies in
//     [0.9495, 0.9505], TPR counting scores strictly above the threshold and
//     FPR counting ties as accepted. Continuous scores: +0.002 (Gaussians
//     1σ apart), +0.04 (2σ apart), −0.015 (MCD-like L1 discrepancies), +0.10
//     (MSP-like), +0.09 (ODIN-like, T = 1000). When no threshold falls in the
//     window test.py divides by zero; we report the exact FPR95 and set
//     PaperReport.FPR95Fallback. That happens with fewer than about 1,000 ID
//     scores and with heavy ties, where the TPR jumps over the window.
//   - AUROC is a Riemann sum taking the lower TPR of each step instead of
//     the trapezoid, so ties between ID and OOD scores count as zero, not a
//     half: −0.001 to −0.005 on continuous scores, −5.3 to −5.5 with heavy
//     ties (scores rounded to steps of half a standard deviation), and 0
//     instead of 0.5 when every score is equal.
//   - AUPR-In and AUPR-Out weight each recall step by the precision at its
//     lower-recall end and add a final recall·precision term: within ±0.02
//     on continuous scores, +5.4 to +7.8 with heavy ties.
//   - Detection error is the same minimum taken over the shifted
//     thresholds, except that at a threshold equal to a score (test.py's 0,
//     or an offset landing exactly on another score) tied scores count as
//     errors for neither class: 0 to +0.006.
//   - Because of the 1e-4 offset, every discrepancy within 1e-4 of the
//     smallest falls into the first step. For scores packed that tightly
//     (ODIN-like scores, 0.1 ± 3e-4) this costs no more than the figures
//     quoted above, but the offset is absolute: rescaling scores changes
//     paper-mode numbers, never exact-mode ones.
//
// # Speed and confidence intervals
//
// Compute sorts copies of the two inputs (an LSD radix sort for long ones)
// and sweeps them once: all five metrics of 1,000,000 ID and 1,000,000 OOD
// scores take about 0.06 s on the 2-core development machine, paper mode
// about 0.1 s (go test -run '^$' -bench 1M -benchtime 3x ./metrics/).
// Bootstrap gives seeded percentile intervals for every metric in either
// mode, at O(n) per resample.
package metrics
