#!/usr/bin/env bash
# A real single-node SLURM on this machine, and a small plan run on it as
# an array job of workers sharing one output folder. The script installs nothing; it needs Debian's
# SLURM 22.05 and munge (apt-get install -y slurm-wlm munge) and says what
# is missing. In a temporary folder it owns it starts munged, writes a
# slurm.conf for this host (its CPUs and memory as slurmd -C reports them,
# no cgroups, no accounting), starts slurmctld and slurmd, and then
#
#   a. submits pretrain.sbatch (the plan's network, once) and workers.sbatch
#      as an array of 3 workers on one output folder, depending on it;
#   b. requeues the worker running the MCD cell once that cell has written a
#      checkpoint (scontrol requeue), and checks that the task restarted and
#      that a worker resumed the cell from its checkpoint ("mcd resuming
#      fine-tuning");
#   c. once the array is done, checks from the workers' claim logs that
#      every cell was computed exactly once, then runs the same plan locally (no SLURM) into
#      another folder and checks that the records (all but their timings,
#      start time, machine and the digest over them), the score files and
#      the rendered tables (mcdood table --results, text, markdown and csv)
#      are byte-identical.
#
# Everything is torn down on exit however the script ends (jobs cancelled,
# slurmd, slurmctld and munged stopped, the folder removed; KEEP=1 keeps
# the folder for a look).
#
# Usage: scripts/slurm/cluster-test.sh BIN DATA
#   BIN   an mcdood binary; DATA the data root (CIFAR-10 is enough)
# Environment: PORT (slurmctld's port; slurmd takes the next; default 16817),
# KEEP=1.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BIN DATA" >&2
  exit 2
fi
bin=$(realpath "$1")
data=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
[[ -x $bin ]] || { echo "cluster-test: $bin is not an executable" >&2; exit 2; }
[[ -d $data/cifar-10-batches-bin ]] || { echo "cluster-test: no CIFAR-10 under $data (mcdood data fetch)" >&2; exit 2; }

# What is missing, and the packages that hold it.
missing=()
for cmd in munged munge unmunge; do command -v $cmd >/dev/null || missing+=("$cmd (package munge)"); done
for cmd in slurmctld slurmd; do command -v $cmd >/dev/null || missing+=("$cmd (package $cmd)"); done
for cmd in sbatch scontrol sinfo squeue scancel; do command -v $cmd >/dev/null || missing+=("$cmd (package slurm-client)"); done
for cmd in jq cmp; do command -v $cmd >/dev/null || missing+=("$cmd"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  printf 'cluster-test: missing %s\n' "${missing[@]}" >&2
  echo "install them with: apt-get install -y slurm-wlm munge jq (Debian 12 ships SLURM 22.05)" >&2
  exit 2
fi

t0=$SECONDS
tmp=$(mktemp -d /tmp/mcdood-slurm.XXXXXX)
mkdir -p "$tmp"/{munge,state,spool,run,log,shared,local}
# munged wants its socket's folders searchable by all.
chmod 755 "$tmp" "$tmp/munge"
export SLURM_CONF=$tmp/slurm.conf
unset SLURM_JOB_ID SLURM_JOBID # not a job of some outer cluster
pids=()      # daemons started here, stopped in reverse order
slurm_up=""  # set once slurmctld is started
host=$(hostname -s)
socket=$tmp/munge/munge.socket.2

log() { printf '[%4ds] %s\n' $((SECONDS - t0)) "$*"; }
fail() {
  echo "cluster-test: FAIL: $*" >&2
  exit 1
}

teardown() {
  local rc=$?
  set +e
  if [[ $rc -ne 0 ]]; then
    for f in "$tmp"/log/*; do
      [[ -s $f ]] && { echo "---- $f (last lines)"; tail -n 25 "$f"; }
    done >&2
  fi
  if [[ -n $slurm_up ]] && timeout 10 squeue -h >/dev/null 2>&1; then
    local jobs
    jobs=$(squeue -h -o %A)
    if [[ -n $jobs ]]; then
      # shellcheck disable=SC2086
      scancel $jobs
      for _ in $(seq 30); do [[ -z $(squeue -h -o %A 2>/dev/null) ]] && break; sleep 1; done
    fi
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null
    for _ in $(seq 20); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.5; done
    kill -9 "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  # A job step left behind by a daemon that died first: only processes
  # whose command line names this run's folder.
  for p in $(pgrep -f -- "$tmp/" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  if [[ ${KEEP:-} == 1 ]]; then
    echo "cluster-test: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# waitfor SECONDS WHAT CMD...: poll CMD every half second until it succeeds.
waitfor() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < end)) || fail "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}

# A free TCP port on localhost.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port=${PORT:-16817}
port_free "$ctld_port" && port_free $((ctld_port + 1)) || fail "port $ctld_port or $((ctld_port + 1)) is in use: set PORT"

# munge: its own key, socket, pid, seed and log under $tmp.
if command -v mungekey >/dev/null; then
  mungekey --create --keyfile="$tmp/munge/munge.key"
else
  dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$tmp/munge/munge.key"
munged --foreground --socket="$socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" \
  --log-file="$tmp/log/munged.log" >>"$tmp/log/munged.log" 2>&1 &
pids+=($!)
munge_ok() { munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1; }
waitfor 20 munged munge_ok
log "munged up ($socket)"

# slurm.conf: this host as the only node, with what slurmd -C measures.
node=$(slurmd -C | head -n 1)
[[ $node == NodeName=* ]] || fail "slurmd -C printed: $node"
node="NodeName=$host NodeAddr=127.0.0.1 ${node#NodeName=* }"
user=$(id -un)
cat >"$SLURM_CONF" <<EOF
# Written by scripts/slurm/cluster-test.sh: a private one-node cluster.
ClusterName=mcdoodtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (a container has no delegated cgroup tree): processes are
# tracked through their parent pids, tasks are not bound or confined, and
# --mem is a scheduling claim, not a limit.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
# Cores and memory are both consumable, so --cpus-per-task and --mem decide
# how many workers share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/builtin
# Look at pending jobs every 5 s rather than every 60 (a requeued task).
SchedulerParameters=sched_interval=5
ReturnToService=2
JobRequeue=1
# SIGTERM, then SIGKILL 5 s later (a requeue, scancel, a time limit).
KillWait=5
# Finished jobs stay visible to scontrol show job for 10 minutes.
MinJobAge=600
$node State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
[[ $user == root ]] || log "warning: not root: slurmd runs as $user and can start only $user's jobs (untested)"

slurmctld -D -f "$SLURM_CONF" >>"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurm_up=1
slurmd -D -f "$SLURM_CONF" -N "$host" >>"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
node_state() { sinfo -h -N -n "$host" -o %T 2>/dev/null; }
node_idle() {
  local s
  s=$(node_state)
  [[ $s != *drain* && $s != down* ]] || fail "node $host is $s: $(scontrol show node "$host" | grep -o 'Reason=.*')"
  [[ $s == idle ]]
}
waitfor 60 "node $host idle" node_idle
log "slurmctld and slurmd up: $(grep -o 'NodeName=.*' "$SLURM_CONF")"

# The plan: experiments/smoke.toml cut down so that the whole plan takes
# about 25 s on one thread, with an MCD cell of about 15 s checkpointed
# every 5 of its 60 steps (under 2 s apart), so that a requeue lands mid-cell.
plan=$tmp/plan.toml
shared=$tmp/shared/out
local_out=$tmp/local/out
cat >"$plan" <<EOF
name = "cluster-test"
out = "$shared"
seeds = [1]
id = ["cifar10"]
networks = ["resnet9-8"]
ood = ["gaussian"]
methods = ["mcd", "msp", "energy", "mahalanobis"]
settings = ["transductive"]
validation = 200
train_images = 2000
test_images = 700
ood_images = 700
noise_images = 700

[network.resnet9-8]
epochs = 2
batch = 128
lr = 0.2
schedule = "onecycle"
warmup = 1
momentum = 0.9
weight_decay = 5e-4
nesterov = true
augment = true

[method.mcd]
epochs = 2
steps_per_epoch = 30
checkpoint_every = 5
EOF

# One CPU a task (two run at once on a 2-core node); 1 GB each: a whole run
# of this plan on one thread peaks at 0.64 GB RSS (GNU time, 2026-12-06).
mem=1G
common=(--parsable --cpus-per-task=1 --mem=$mem --time=15 --chdir="$tmp"
  --export="ALL,MCDOOD=$bin,PLAN=$plan,DATA=$data,OUT=$shared,NETWORKS=resnet9-8")
pre=$(sbatch "${common[@]}" --output="$tmp/log/pretrain-%j.out" "$here/pretrain.sbatch")
array=$(sbatch "${common[@]}" --array=0-2 --dependency=afterok:"$pre" \
  --output="$tmp/log/worker-%A_%a.out" "$here/workers.sbatch")
log "submitted pre-training job $pre and worker array $array (3 tasks, after $pre)"

# b. The task running the MCD cell (its log names the cell), once the cell's
# checkpoint exists.
mcd_task=""
find_mcd_task() {
  local f
  compgen -G "$shared/checkpoints/*_mcd_*.ckpt" >/dev/null || return 1
  for f in "$tmp/log/worker-${array}"_*.out; do
    if grep -q 'msg=cell key=[^ ]*_mcd_' "$f" 2>/dev/null; then
      grep -q 'msg="cell done" key=[^ ]*_mcd_' "$f" && fail "the MCD cell ended before it could be requeued: lengthen it"
      mcd_task=${f##*_}
      mcd_task=${mcd_task%.out}
      return 0
    fi
  done
  return 1
}
waitfor 600 "the MCD cell's checkpoint" find_mcd_task
task=${array}_${mcd_task}
ckpt=$(compgen -G "$shared/checkpoints/*_mcd_*.ckpt")
# Requeued once the checkpoint has been rewritten twice (15 of the 60 steps
# done), so that the cell is well under way.
writes=() # the checkpoint's modification times seen
rewritten() {
  local m
  m=$(stat -c %.9Y "$ckpt" 2>/dev/null) || fail "the MCD cell ended before it could be requeued: lengthen it"
  [[ " ${writes[*]} " == *" $m "* ]] || writes+=("$m")
  [[ ${#writes[@]} -ge 3 ]]
}
waitfor 120 "the MCD checkpoint's rewrites" rewritten
log "MCD cell running in task $task, checkpoint $(basename "$ckpt") ($(stat -c %s "$ckpt") bytes, written ${#writes[@]} times); requeueing the task"
scontrol requeue "$task"
restarts() { scontrol show job "$task" | grep -o 'Restarts=[0-9]*' | cut -d= -f2; }
state() { scontrol show job "$task" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
# Requeued: counted, and past COMPLETING (the old process's end).
requeued() { [[ $(restarts) -ge 1 && $(state) != COMPLETING && $(state) != REQUEUED ]]; }
waitfor 60 "task $task's requeue" requeued
log "task $task requeued: $(scontrol show job "$task" | grep -o 'JobState=[A-Z_]* Reason=[^ ]*'), Restarts=$(restarts), $(scontrol show job "$task" | grep -o 'EligibleTime=[^ ]*') (now $(date +%FT%T))"
# SLURM holds a requeued job for about two minutes (its BeginTime); the
# test does not wait for that.
[[ $(state) != PENDING ]] || scontrol update JobId="$task" StartTime=now
# The stopped task released its claim on SIGTERM: whichever worker claims
# the cell next (another task, or this one restarted) resumes it.
resumer=""
resumed() { resumer=$(grep -l 'msg="mcd resuming fine-tuning"' "$tmp/log/worker-${array}"_*.out 2>/dev/null | head -1); [[ -n $resumer ]]; }
waitfor 600 "a worker to resume the MCD cell" resumed
log "$(basename "$resumer" .out) resumed the MCD cell: $(grep -o 'msg="mcd resuming fine-tuning".*' "$resumer" | head -1 | sed "s|$tmp/||")"
if grep -q 'mcd checkpoint discarded' "$tmp/log/worker-${array}"_*.out; then
  fail "the checkpoint was discarded: $(grep -h 'mcd checkpoint discarded' "$tmp/log/worker-${array}"_*.out)"
fi

# c. The array's end, every task done.
array_done() { [[ -z $(squeue -h -j "$array" -o %A 2>/dev/null) ]]; }
waitfor 900 "the worker array" array_done
states=$(scontrol -o show job "$array" | grep -o 'JobState=[A-Z_]*' | sort | uniq -c | tr -s ' ')
[[ $(scontrol -o show job "$array" | grep -c 'JobState=COMPLETED .*ExitCode=0:0') -eq 3 ]] ||
  fail "worker array $array: $states"
log "worker array $array done:$states; task $task Restarts=$(restarts); $(find "$shared/records" -name '*.json' | wc -l) records"
slurm_seconds=$((SECONDS - t0))

# Every cell computed exactly once, by the claim logs' "done" lines; the MCD
# cell released by the stopped task and claimed again.
claims=$tmp/log/claims.txt
sort "$shared"/claims/*.log >"$claims"
cells=$(find "$shared/records" -name '*.json' | wc -l)
for rec in "$shared"/records/*.json; do
  key=$(basename "$rec" .json)
  [[ $(grep -c " done $key gen " "$claims") -eq 1 ]] || fail "cell $key done $(grep -c " done $key gen " "$claims") times: $(grep " $key " "$claims")"
done
[[ $(grep -c ' done ' "$claims") -eq $cells ]] || fail "claim logs: $(grep -c ' done ' "$claims") cells done, $cells records"
mcd_key=$(basename "$ckpt" .ckpt)
grep -q " release $mcd_key gen " "$claims" || fail "the stopped task did not release $mcd_key"
log "claim logs ($(ls "$shared"/claims/*.log | wc -l) workers): each of the $cells cells done once; the MCD cell's claims:"
grep " $mcd_key " "$claims" | sed 's/^/    /'

# The local run, under GNU time when there is one: its peak RSS (the whole
# plan in one process) bounds a worker's, against the --mem asked for.
timed=()
[[ -x /usr/bin/time ]] && timed=(/usr/bin/time -f '%M' -o "$tmp/log/local.rss")
t1=$SECONDS
"${timed[@]}" "$bin" reproduce -c "$plan" --data "$data" --out "$local_out" --quiet --threads 1 \
  >"$tmp/log/local.out" 2>&1 || fail "the local run failed"
rss=""
[[ -s $tmp/log/local.rss ]] && rss=", peak RSS $(($(tail -n 1 "$tmp/log/local.rss") / 1024)) MB (workers asked for --mem=$mem)"
log "local run of the same plan: $((SECONDS - t1)) s$rss"

# Records: equal but for when, how long and where they ran, and the digest
# that covers those too; the scores it binds, and the tables: byte for byte.
volatile='del(.started, .seconds, .machine, .digest)'
n=0
for rec in "$local_out"/records/*.json; do
  other=$shared/records/$(basename "$rec")
  [[ -f $other ]] || fail "no SLURM record $(basename "$rec")"
  cmp -s <(jq -S "$volatile" "$rec") <(jq -S "$volatile" "$other") ||
    fail "records differ: $(basename "$rec"): $(diff <(jq -S "$volatile" "$rec") <(jq -S "$volatile" "$other") | head -20)"
  n=$((n + 1))
done
[[ $n -eq $(find "$shared/records" -name '*.json' | wc -l) ]] || fail "SLURM wrote records the local run did not"
for s in "$local_out"/scores/*; do
  cmp "$s" "$shared/scores/$(basename "$s")" || fail "scores differ"
done
for format in text markdown csv; do
  "$bin" table --results "$local_out" --format "$format" >"$tmp/local/table.$format"
  "$bin" table --results "$shared" --format "$format" >"$tmp/shared/table.$format"
  cmp "$tmp/local/table.$format" "$tmp/shared/table.$format" || fail "$format tables differ"
done
log "identical: $n records (but started, seconds, machine, digest), their score files, the text/markdown/csv tables"
echo "cluster-test: PASS in $((SECONDS - t0)) s (SLURM part $slurm_seconds s, local run $((SECONDS - t1)) s)"
