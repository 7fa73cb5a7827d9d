#!/usr/bin/env bash
# Proof that `make test` catches real regressions: each mutant below
# is applied to a fresh copy of the committed tree and `make test` must fail on
# it. A mutant that passes means the tests cannot see that bug; the script
# then exits 1.
#
#   mcd-sign      MCD's score with its sign flipped (higher = more OOD)
#   odin-noperturb ODIN without its input perturbation (ε ignored)
#   mcd-margin0   the discrepancy loss's margin ignored (m = 0)
#
# Usage: scripts/mutants.sh [NAME ...]   (default: all; about 3 minutes each,
# as the unit tests catch every one before the smoke profile runs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# The copies live in /tmp: point their tests at the data mirror, and fail,
# not skip, what needs it.
export MCDOOD_TEST_DATA="${MCDOOD_TEST_DATA:-$(cd "$root/.." && pwd)/shared/data}" CI=1

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mcd-sign odin-noperturb mcd-margin0)
survived=0
# Each mutant is applied by a small Python edit that checks that the line
# it changes occurs exactly once, so a refactor cannot silently void it.
for name in "${names[@]}"; do
  work=$(mktemp -d /tmp/mcdood-mutant.XXXXXX)
  git -C "$root" worktree add -q --detach "$work" HEAD
  python3 - "$work" "$name" <<'EOF'
import sys
work, name = sys.argv[1], sys.argv[2]
mutants = {
    "mcd-sign": ("mcd/finetune.go", "\t\tscores[i] = -d\n", "\t\tscores[i] = d\n"),
    "odin-noperturb": ("baselines/odin.go",
                       "\t\t\t\todinPerturb(eval.Input(), clean, grad.InputGrad(), epsilons[e.k], env.Norm)\n",
                       "\t\t\t\tcopy(eval.Input(), clean)\n"),
    "mcd-margin0": ("mcd/steps.go",
                    "\ts.margin = g.Hinge(margin, g.Sub(g.MeanEntropy(s.u1), g.MeanEntropy(s.u2)))\n",
                    "\ts.margin = g.Hinge(0, g.Sub(g.MeanEntropy(s.u1), g.MeanEntropy(s.u2)))\n"),
}
if name not in mutants:
    sys.exit(f"unknown mutant {name!r} (known: {', '.join(mutants)})")
path, old, new = mutants[name]
src = open(f"{work}/{path}").read()
if src.count(old) != 1:
    sys.exit(f"mutant {name}: the line to mutate occurs {src.count(old)} times in {path}; update scripts/mutants.sh")
open(f"{work}/{path}", "w").write(src.replace(old, new))
EOF
  t0=$SECONDS
  if (cd "$work" && make test >"$work.log" 2>&1); then
    echo "mutant $name SURVIVED: make test passed ($((SECONDS - t0)) s; log $work.log)"
    survived=1
  else
    caught=$(grep -m1 -E '^(--- FAIL|FAIL|regression)' "$work.log" || echo "make test failed")
    echo "mutant $name caught in $((SECONDS - t0)) s: $caught"
    rm -f "$work.log"
  fi
  git -C "$root" worktree remove --force "$work"
done
exit $survived
