#!/usr/bin/env bash
# The smoke profile (experiments/smoke.toml) on every path this machine can
# take, each run judged against the distribution in results/smoke-baseline.json
# (mcdood compare: a number fails when it is worse than its group's mean by
# more than max(k·std, floor)).
#
#   native  the fastest kernels this CPU runs, OpenBLAS's usual kernels and,
#           in the dnnl build, oneDNN's convolutions
#   avx2    MCDOOD_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell (oneDNN capped at
#           AVX2 too): what a CPU without AVX-512 runs (on such a CPU this is
#           the native path, so it is skipped)
#   gonum   the pure-Go build (gonum's BLAS and Go loops), on the
#           tinyimagenet-crop-fix cells only (reproduce --ood, compare --partial):
#           it is about five times slower, and those cells are where every
#           method's number sits away from both chance and 1
#
# Usage:
#   scripts/smoke.sh check BIN GONUM_BIN DATA      seed 1 on each path; exit 1 on a regression
#   scripts/smoke.sh write BIN DATA SEEDS          seeds (e.g. 1,2,3,4) on native and avx2,
#                                                  written as results/smoke-baseline.json
# BIN is the OpenBLAS build (or the pure-Go one where OpenBLAS is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
plan=experiments/smoke.toml
baseline=results/smoke-baseline.json
work=$(mktemp -d /tmp/mcdood-smoke.XXXXXX)

# run NAME BIN [reproduce flags]: the plan into $work/NAME, its log shown on failure.
run() {
  local name=$1 bin=$2
  shift 2
  local t0=$SECONDS
  if ! "$bin" reproduce -c "$plan" --data "$data" --out "$work/$name" --quiet "$@" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log"
    echo "smoke: the $name run failed (log above)" >&2
    exit 1
  fi
  echo "== smoke $name: $("$bin" version | sed -n '2,4p' | tr '\n' ';' | sed 's/;$//'), $((SECONDS - t0)) s"
}

# has_avx512 BIN: the build runs the AVX-512 kernels here.
has_avx512() { MCDOOD_KERNELS=avx512 "$1" version >/dev/null 2>&1; }
openblas() { "$1" version | grep -q '^BLAS openblas'; }

case "${1:-}" in
check)
  bin=$2 gonum=$3 data=$4
  status=0
  run native "$bin"
  "$bin" compare --baseline "$baseline" --results "$work/native" || status=1
  if openblas "$bin" && has_avx512 "$bin"; then
    MCDOOD_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell run avx2 "$bin"
    "$bin" compare --baseline "$baseline" --results "$work/avx2" || status=1
  else
    echo "== smoke avx2: skipped (this CPU has no AVX-512, so the native run took the AVX2 path)"
  fi
  if openblas "$bin"; then
    run gonum "$gonum" --ood tinyimagenet-crop-fix
    "$bin" compare --partial --baseline "$baseline" --results "$work/gonum" || status=1
  else
    echo "== smoke gonum: the native run was the pure-Go build (no OpenBLAS here)"
  fi
  rm -rf "$work"
  exit $status
  ;;
write)
  bin=$2 data=$3 seeds=$4
  dirs=(--results "$work/native")
  run native "$bin" --seeds "$seeds"
  if openblas "$bin" && has_avx512 "$bin"; then
    MCDOOD_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell run avx2 "$bin" --seeds "$seeds"
    dirs+=(--results "$work/avx2")
  fi
  "$bin" compare --write-baseline "$baseline" "${dirs[@]}"
  rm -rf "$work"
  ;;
*)
  sed -n '2,22p' "$0" >&2
  exit 2
  ;;
esac
