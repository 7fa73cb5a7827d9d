#!/usr/bin/python3
"""Recompute in PyTorch what nets/torchcheck_test.go exported of an airbench network.

  mkdir -p /tmp/tc && MCDOOD_TORCH_CHECK=/tmp/tc go test -tags openblas -run ExportForTorch ./nets/
  /usr/bin/python3 scripts/torch_check.py /tmp/tc/airbench.json

Builds the network of scripts/torch_peer.py with the exported weights, batch-norm
statistics and inputs, and compares the evaluation logits, the training step's loss
(both heads' cross-entropy with label smoothing 0.2, batch statistics) and every
parameter gradient with the engine's, printing the largest relative differences.
Exits 1 when one exceeds 1e-3.
"""
import json, os, sys
import torch, torch.nn.functional as F
sys.path.insert(0, os.path.dirname(__file__))
from torch_peer import Airbench

d = json.load(open(sys.argv[1]))
widths = [int(w) for w in d["net"].split("-")[1:]]
m = Airbench(widths)
names = {  # ours → PyTorch's
    "whiten.w": "whiten.weight", "whiten.b": "whiten.bias", "head1.w": "h1.weight", "head2.w": "h2.weight"}
for k in range(3):
    for j in (1, 2):
        names[f"block{k+1}.conv{j}.w"] = f"blocks.{k}.conv{j}.weight"
        names[f"block{k+1}.bn{j}.beta"] = f"blocks.{k}.norm{j}.bias"
state = m.state_dict()
for ours, theirs in names.items():
    state[theirs] = torch.tensor(d["params"][ours]).reshape(d["shapes"][ours])
for k in range(3):
    for j in (1, 2):
        mean, var = d["bn"][f"block{k+1}.bn{j}"]
        state[f"blocks.{k}.norm{j}.running_mean"] = torch.tensor(mean)
        state[f"blocks.{k}.norm{j}.running_var"] = torch.tensor(var)
m.load_state_dict(state)
x = torch.tensor(d["x"]).reshape(d["batch"], 3, 32, 32)
y = torch.tensor(d["y"]).long()
worst = 0.0


def compare(what, ours, theirs):
    global worst
    ours = torch.tensor(ours).reshape(theirs.shape)
    rel = ((ours - theirs).abs().max() / theirs.abs().max().clamp(min=1e-12)).item()
    worst = max(worst, rel)
    print(f"{what:28s} max |ours − torch| / max |torch| = {rel:.2e}")


m.eval()
with torch.no_grad():
    z1, z2 = m(x)
compare("evaluation logits head 1", d["eval_z1"], z1)
compare("evaluation logits head 2", d["eval_z2"], z2)
m.train()
z1, z2 = m(x)
loss = F.cross_entropy(z1, y, label_smoothing=0.2) + F.cross_entropy(z2, y, label_smoothing=0.2)
loss.backward()
compare("training loss", [d["train_loss"]], loss.detach().reshape(1))
params = dict(m.named_parameters())
for ours, theirs in names.items():
    if ours in d["grads"]:
        compare("∂loss/∂" + ours, d["grads"][ours], params[theirs].grad)
print("worst", f"{worst:.2e}")
sys.exit(1 if worst > 1e-3 else 0)
