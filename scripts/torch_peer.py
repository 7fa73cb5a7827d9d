#!/usr/bin/python3
"""PyTorch peer (CPU) for the networks this project adds to ../shared/bench/torch_peer.py.

Usage: /usr/bin/python3 scripts/torch_peer.py airbench-A-B-C [--threads N] [--batch B] [--iters K]

airbench-A-B-C is nets/arch_airbench.go's network, written as Jordan's airbench
(github KellerJordan/cifar10-airbench, airbench94.py) writes it, with two heads: a
2x2 whitening convolution (3 -> 24, no padding, fixed weights, trained bias) and
GELU; three blocks of conv3x3 -> max pool 2 -> BatchNorm (no learned scale) ->
GELU -> conv3x3 -> BatchNorm -> GELU with widths A, B, C; a max pool over the
final 3x3 map; two bias-free linear heads of 10 scaled by 1/9. The training step
is the pre-training step of mcdood bench: both heads' cross-entropy with label
smoothing 0.2 (summed), backward, SGD with Nesterov momentum 0.85; the
inference pass is the evaluation-mode forward pass.

Each phase runs at least ITERS steps and two seconds, after one warm-up call.
Prints "train img/s: X" and "infer img/s: Y", as the shared peer does, so that
`mcdood bench --net airbench-64-128-128 --peer "/usr/bin/python3 scripts/torch_peer.py
airbench-64-128-128"` compares the two in one run. Needs Debian's python3-torch.
"""
import argparse, time
import torch, torch.nn as nn, torch.nn.functional as F


class BatchNorm(nn.BatchNorm2d):
    def __init__(self, c):
        super().__init__(c, eps=1e-12, momentum=0.4)
        self.weight.requires_grad = False


class Block(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = BatchNorm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = BatchNorm(c_out)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class Airbench(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad = False
        blocks, c = [], 24
        for w in widths:
            blocks.append(Block(c, w))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.h1, self.h2 = nn.Linear(c, 10, bias=False), nn.Linear(c, 10, bias=False)

    def forward(self, x):
        x = self.blocks(F.gelu(self.whiten(x)))
        x = F.max_pool2d(x, 3).flatten(1)
        return self.h1(x) / 9, self.h2(x) / 9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("net", help="airbench-A-B-C")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--iters", type=int, default=3)
    a = p.parse_args()
    if not a.net.startswith("airbench-"):
        p.error("unknown network " + a.net + " (this peer has airbench-A-B-C; the others are in ../shared/bench/torch_peer.py)")
    widths = [int(w) for w in a.net[len("airbench-"):].split("-")]
    if len(widths) != 3:
        p.error("want airbench-A-B-C")
    torch.set_num_threads(a.threads)
    m = Airbench(widths)
    params = [q for q in m.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.85, nesterov=True, weight_decay=1e-4)
    x, y = torch.randn(a.batch, 3, 32, 32), torch.randint(0, 10, (a.batch,))

    def step():
        o1, o2 = m(x)
        loss = F.cross_entropy(o1, y, label_smoothing=0.2) + F.cross_entropy(o2, y, label_smoothing=0.2)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def rate(fn):
        fn()
        n, t = 0, time.perf_counter()
        while n < a.iters or time.perf_counter() - t < 2.0:
            fn()
            n += 1
        return a.batch * n / (time.perf_counter() - t)

    m.train()
    train = rate(step)
    m.eval()
    with torch.no_grad():
        infer = rate(lambda: m(x))
    print(f"train img/s: {train:.1f}")
    print(f"infer img/s: {infer:.1f}")


if __name__ == "__main__":
    main()
