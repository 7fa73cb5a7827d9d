#!/usr/bin/python3
"""Where MCD's discrepancy goes: per-set statistics of exported scores.

  mcdood scores --results out --ood tinyimagenet-resize --method mcd --out /tmp/exp
  mcdood scores --results out --ood tinyimagenet-resize --method msp --out /tmp/exp
  /usr/bin/python3 scripts/mcd_scores.py /tmp/exp

For every exported MCD score file (NAME_mcd_SETTING_sSEED_*.npz; an MCD score
is minus the L1 distance between the heads' softmax outputs, Yu & Aizawa 2019)
prints the mean and median discrepancy of the ID and of the OOD test images
and the share above 0.5; and, when the MSP file of the same set, setting and
seed is there, the Spearman rank correlation of MCD's score with MSP's
(Hendrycks & Gimpel 2017) on the ID images, on the OOD images, and on both:
how much of MCD's score is the classifier's own confidence.
"""
import glob, os, re, sys

import numpy as np
from scipy.stats import spearmanr

folder = sys.argv[1] if len(sys.argv) > 1 else "."
files = sorted(glob.glob(os.path.join(folder, "*_mcd_*.npz")))
if not files:
    sys.exit(f"{folder}: no *_mcd_*.npz (export them with mcdood scores)")
for f in files:
    name = os.path.basename(f)
    d = np.load(f)
    i, o = -d["id"], -d["ood"]
    line = (f"{name[:-4]}: discrepancy ID mean {i.mean():.3f} median {np.median(i):.3f} >0.5 {(i > 0.5).mean():.3f}"
            f" | OOD mean {o.mean():.3f} median {np.median(o):.3f} >0.5 {(o > 0.5).mean():.3f}")
    m = re.match(r"(.*)_mcd_([a-z]+)_s(\d+)_", name)
    msp = glob.glob(os.path.join(folder, f"{m.group(1)}_msp_{m.group(2)}_s{m.group(3)}_*.npz")) if m else []
    if len(msp) == 1:
        s = np.load(msp[0])
        if len(s["id"]) == len(d["id"]) and len(s["ood"]) == len(d["ood"]):
            line += (f" | Spearman with MSP: ID {spearmanr(d['id'], s['id'])[0]:.3f}"
                     f" OOD {spearmanr(d['ood'], s['ood'])[0]:.3f}"
                     f" all {spearmanr(np.r_[d['id'], d['ood']], np.r_[s['id'], s['ood']])[0]:.3f}")
    print(line)
