#!/bin/bash
# The careless and hostile inputs of the robustness review, run against a
# built binary: each case prints its exit status and the line it got.
#   scripts/hostile-inputs.sh BIN [MIRROR]
# BIN is a built mcdood (make build); MIRROR the data mirror (default
# ../shared/data: CIFAR-10 and Tiny ImageNet are read from it). Everything
# is written under a fresh temporary folder, removed at the end. About a
# minute; the archive bomb takes a few seconds to write and needs 3 MB.
set -u
BIN=$(realpath "$1"); MIRROR=$(realpath "${2:-../shared/data}")
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W" && mkdir -p data && ln -s "$MIRROR/cifar-10-batches-bin" data/cifar-10-batches-bin

# plan NAME PATH [EXTRA]: a small plan scoring the custom set "mine" at PATH.
plan() {
	cat > "$1" <<PLAN
name = "hostile"
seeds = ${4:-[1]}
id = ["cifar10"]
networks = ["resnet9-8"]
ood = ["mine"]
methods = ["msp"]
train_images = 2000
test_images = 1000
validation = 100
${3:-}
[network.resnet9-8]
epochs = 1
batch = 128
lr = 0.2
schedule = "onecycle"
warmup = 0.5
momentum = 0.9
weight_decay = 5e-4
augment = false

[[custom_ood]]
name = "mine"
path = "$2"
fit = "resize"
PLAN
}
# show CASE CMD...: run, print the case, the exit status and the first line
# that says what is wrong (or the given pattern's line).
show() {
	local name=$1; shift
	local out rc
	out=$("$@" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep -m1 -E "${PAT:-mcdood [a-z]+:|error|broken|refus}" || printf '%s\n' "$out" | head -1)
	printf '%-34s exit %-3s %s\n' "$name" "$rc" "$line"
}

echo "== 1. an archive bomb: three 900 MB zero members named .png in a 2.6 MB .tar.gz"
python3 - data/bomb.tar.gz <<'PY'
import io, sys, tarfile
class Zeros(io.RawIOBase):
    def __init__(s, n): s.n = n
    def readable(s): return True
    def readinto(s, b):
        k = min(len(b), s.n); b[:k] = bytes(k); s.n -= k; return k
with tarfile.open(sys.argv[1], "w:gz", compresslevel=9) as tf:
    for name in ["a.png", "b.png", "c.png"]:
        ti = tarfile.TarInfo(name); ti.size = 900_000_000
        tf.addfile(ti, io.BufferedReader(Zeros(ti.size), 1 << 20))
PY
plan p1.toml bomb.tar.gz
show "bomb as a custom set" /usr/bin/time -f "max RSS %M KB" "$BIN" reproduce -c p1.toml --data data --out o1 --quiet
PAT="max RSS" show "  (its memory, CIFAR-10 included)" /usr/bin/time -f "max RSS %M KB" "$BIN" reproduce -c p1.toml --data data --out o1 --quiet
PAT="max RSS" show "  (data stats on the bomb alone)" /usr/bin/time -f "max RSS %M KB" "$BIN" data stats data/bomb.tar.gz

echo "== 2. a named pipe as the custom path"
mkfifo data/fifo; plan p2.toml fifo
show "FIFO custom path" timeout 20 "$BIN" reproduce -c p2.toml --data data --out o2 --quiet

echo "== 3. a mistyped custom path, a symbolic-link loop, a folder without images"
plan p3.toml mine-typo; show "mistyped custom path" "$BIN" reproduce -c p3.toml --data data --out o3 --quiet
ln -s loop-b data/loop-a; ln -s loop-a data/loop-b
plan p3b.toml loop-a; show "symlink loop" "$BIN" reproduce -c p3b.toml --data data --out o3 --quiet
mkdir data/empty; plan p3c.toml empty; show "no images" "$BIN" reproduce -c p3c.toml --data data --out o3 --quiet
echo "  lines of fetch advice: $("$BIN" reproduce -c p3.toml --data data --out o3 --quiet 2>&1 | grep -c 'data fetch')"
[ -e o3 ] && echo "  o3 exists" || echo "  nothing written to o3"

echo "== 6. symbolic links: a linked custom folder, a dangling image link, a linked mirror folder"
mkdir -p real/s && cp "$MIRROR"/tiny-imagenet-200/test/images/test_{1,2,3}??.JPEG real/s/ && ln -s gone.png real/s/zz.png
ln -s "$W/real" data/linked
plan p6.toml linked; PAT="^mine" show "linked custom folder" timeout 10 "$BIN" reproduce -c p6.toml --data data --out o6 --quiet
PAT="warning" show "  (the dangling link)" timeout 10 "$BIN" reproduce -c p6.toml --data data --out o6b --quiet
mkdir m2 && ln -s "$MIRROR/tiny-imagenet-200" m2/tiny-imagenet-200
PAT="tinyimagenet" show "mirror folder that is a link" "$BIN" data fetch --data d6 --mirror m2 tinyimagenet

echo "== 5. seeds = [-1] in a plan"
plan p5.toml linked "" "[-1]"; show "negative seed" "$BIN" reproduce -c p5.toml --data data --out o5 --quiet

echo "== 4, 7, 8: records, a filtered rerun, two runs on one output folder (trains a 1-epoch network: about 20 s)"
cp -r real/s data/good && rm data/good/zz.png
plan p4.toml good 'methods = ["msp", "energy"]' && sed -i -e '/^methods = \["msp"\]$/d' -e 's/^ood = \["mine"\]$/ood = ["mine", "gaussian"]/' p4.toml
"$BIN" reproduce -c p4.toml --data data --out o4 --quiet >/dev/null 2>&1 || echo "  the small run failed"
rows=$(wc -l < o4/tables/tables.csv)
"$BIN" reproduce -c p4.toml --data data --out o4 --quiet --ood mine >/dev/null 2>&1
echo "filtered rerun (--ood mine)        tables.csv: $rows lines before, $(wc -l < o4/tables/tables.csv) after"
rec=$(ls o4/records/*msp*.json | head -1)
python3 -c "import json,sys; p=sys.argv[1]; r=json.load(open(p)); r['metrics']['auroc']=0.9999; json.dump(r,open(p,'w'))" "$rec"
show "record with an edited AUROC" "$BIN" table --results o4
show "  (compare)" "$BIN" compare --results o4 --write-baseline b.json
"$BIN" reproduce -c p4.toml --data data --out o4b --quiet >/dev/null 2>&1 & first=$!
"$BIN" reproduce -c p4.toml --data data --out o4b --quiet >/dev/null 2>&1; wait $first
echo "two runs on one --out              $(cat o4b/claims/*.log | grep -c ' done ') cells computed, $(ls o4b/records | wc -l) records"

echo "== 9. smaller points"
python3 - <<'PY'
import struct
def npy(path, xs):  # NumPy's format 1.0, little-endian float64, as numpy.save writes it
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % len(xs)
    head += " " * (63 - (10 + len(head)) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode() + struct.pack("<%dd" % len(xs), *xs))
npy("id.npy", [1.0, float("nan"), 2.0]); npy("ood.npy", [0.5, 0.1])
PY
show "NaN in a .npy" "$BIN" metrics --id id.npy --ood ood.npy
printf 'set,score\nid,1\nid,2\n' > noood.csv; show ".csv without OOD rows" "$BIN" metrics --scores noood.csv
plan p9.toml good '[method.msp]
heads = 3'; show "type error in a method table" "$BIN" reproduce -c p9.toml --data data --out o9 --quiet
echo "table -h: $("$BIN" table -h 2>/dev/null | head -1 | cut -c1-60) (stdout)"
touch datafile; show "reproduce --data FILE" "$BIN" reproduce -c p4.toml --data datafile --out o9 --quiet
plan p9b.toml ../../../../etc; show "relative path leaving the root" "$BIN" reproduce -c p9b.toml --data data --out o9 --quiet
[ -e o9 ] && echo "  o9 left behind: $(ls -A o9)" || echo "  runs that did nothing left no o9"
show "table --out into a missing folder" "$BIN" table --results o4 --out nope/deeper/t.txt
