#!/usr/bin/python3
"""PyTorch peer (CPU) of mcdood bench, with ODIN's input-gradient pass.

Usage: /usr/bin/python3 scripts/torch_peer.py NET [--threads N] [--batch B] [--iters K]

NET is one of the networks of ../shared/bench/torch_peer.py, whose classes
(Small, Bottleneck, Transition, DenseNetBC, ResNet9), training step (both
heads' cross-entropy, summed; SGD with momentum 0.9 and weight decay 1e-4)
and defaults (batch 128 and 10 iterations for "small" and "resnet9-C", batch
64 and 3 iterations otherwise) are copied here unchanged:

  small            3x conv3x3 32/64/128 with BN+ReLU, strides 1/2/2, global
                   average pool, two linear heads of 10;
  densenet-bc-100  DenseNet-BC (k=12), two heads of 10;
  resnet9-C        Page's DAWNBench ResNet-9 with base width C (resnet9-16);

or airbench-A-B-C, this project's own addition: nets/arch_airbench.go's
network, written as Jordan's airbench (github KellerJordan/cifar10-airbench,
airbench94.py) writes it, with two heads: a 2x2 whitening convolution (3 -> 24,
no padding, fixed weights, trained bias) and GELU; three blocks of conv3x3 ->
max pool 2 -> BatchNorm (no learned scale) -> GELU -> conv3x3 -> BatchNorm ->
GELU with widths A, B, C; a max pool over the final 3x3 map; two bias-free
linear heads of 10 scaled by 1/9. Its training step is the pre-training step
of mcdood bench: both heads' cross-entropy with label smoothing 0.2 (summed),
backward, SGD with Nesterov momentum 0.85; batch 64 and 3 iterations by
default.

Three phases on one random batch: the training step; the evaluation-mode
forward pass; and ODIN's input-gradient pass as nets.Model.InputGradProgram
(batch, 1000, HeadsMean) computes it: evaluation mode, both heads' logits
divided by the temperature 1000, p the mean of the two softmaxes, loss
-sum_i log p[i, y_i] (summed over the batch, as our NLL is), backward, the
gradient w.r.t. the images only (every parameter has requires_grad False, so
no weight gradient is computed; the images' grad is cleared before each
call). Each phase runs at least ITERS calls and two seconds, after one
warm-up call (two for training, as in the shared peer). Prints "train img/s: X", "infer img/s: Y" (the shared peer's
two lines) and "input-grad img/s: Z", so that

  mcdood bench --net densenet-bc-100 --rounds 5 --peer "/usr/bin/python3 scripts/torch_peer.py densenet-bc-100"

compares all three in one run. Needs Debian's python3-torch.
"""
import argparse, time
import torch, torch.nn as nn, torch.nn.functional as F


# The shared peer's networks (../shared/bench/torch_peer.py), unchanged.


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        chans, layers, c_in = [(32, 1), (64, 2), (128, 2)], [], 3
        for c, s in chans:
            layers += [nn.Conv2d(c_in, c, 3, s, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.h1, self.h2 = nn.Linear(c_in, 10), nn.Linear(c_in, 10)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.h1(x), self.h2(x)


class Bottleneck(nn.Module):
    def __init__(self, c_in, k):
        super().__init__()
        self.b1, self.c1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, 4 * k, 1, bias=False)
        self.b2, self.c2 = nn.BatchNorm2d(4 * k), nn.Conv2d(4 * k, k, 3, 1, 1, bias=False)

    def forward(self, x):
        y = self.c2(F.relu(self.b2(self.c1(F.relu(self.b1(x))))))
        return torch.cat([x, y], 1)


class Transition(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.b, self.c = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.c(F.relu(self.b(x))), 2)


class DenseNetBC(nn.Module):
    def __init__(self, depth=100, k=12):
        super().__init__()
        n, c = (depth - 4) // 6, 2 * k
        layers = [nn.Conv2d(3, c, 3, 1, 1, bias=False)]
        for block in range(3):
            for _ in range(n):
                layers.append(Bottleneck(c, k))
                c += k
            if block < 2:
                layers.append(Transition(c, c // 2))
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.h1, self.h2 = nn.Linear(c, 10), nn.Linear(c, 10)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.h1(x), self.h2(x)


class ResNet9(nn.Module):
    def __init__(self, c):
        super().__init__()

        def cbr(ci, co):
            return nn.Sequential(nn.Conv2d(ci, co, 3, 1, 1, bias=False), nn.BatchNorm2d(co), nn.ReLU())

        self.prep = cbr(3, c)
        self.l1, self.r1 = nn.Sequential(cbr(c, 2 * c), nn.MaxPool2d(2)), nn.Sequential(cbr(2 * c, 2 * c), cbr(2 * c, 2 * c))
        self.l2 = nn.Sequential(cbr(2 * c, 4 * c), nn.MaxPool2d(2))
        self.l3, self.r3 = nn.Sequential(cbr(4 * c, 8 * c), nn.MaxPool2d(2)), nn.Sequential(cbr(8 * c, 8 * c), cbr(8 * c, 8 * c))
        self.h1, self.h2 = nn.Linear(8 * c, 10), nn.Linear(8 * c, 10)

    def forward(self, x):
        x = self.l1(self.prep(x))
        x = x + self.r1(x)
        x = self.l3(self.l2(x))
        x = x + self.r3(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.h1(x), self.h2(x)


# airbench (nets/arch_airbench.go).


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


ODIN_TEMPERATURE = 1000  # ODIN (Liang et al., ICLR 2018): T = 1000


def build(net, error):
    """The network NET names, its training step's optimiser and loss, and
    its default batch size and iterations."""
    if net.startswith("airbench-"):
        widths = [int(w) for w in net[len("airbench-"):].split("-")]
        if len(widths) != 3:
            error("want airbench-A-B-C")
        m = Airbench(widths)
        params = [q for q in m.parameters() if q.requires_grad]
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.85, nesterov=True, weight_decay=1e-4)

        def loss(o, y):
            return sum(F.cross_entropy(z, y, label_smoothing=0.2) for z in o)

        return m, opt, loss, 64, 3
    small = net == "small" or net.startswith("resnet9-")
    if net == "small":
        m = Small()
    elif net == "densenet-bc-100":
        m = DenseNetBC()
    elif net.startswith("resnet9-"):
        m = ResNet9(int(net[len("resnet9-"):]))
    else:
        error("unknown network " + net + " (small, densenet-bc-100, resnet9-C or airbench-A-B-C)")
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def loss(o, y):
        return sum(F.cross_entropy(z, y) for z in o)

    return m, opt, loss, (128 if small else 64), (10 if small else 3)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("net", help="small, densenet-bc-100, resnet9-C or airbench-A-B-C")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=0, help="default 128 for small and resnet9-C, 64 otherwise")
    p.add_argument("--iters", type=int, default=0, help="default 10 for small and resnet9-C, 3 otherwise")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    m, opt, loss_fn, batch, iters = build(a.net, p.error)
    batch, iters = a.batch or batch, a.iters or iters
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

    def step():
        loss = loss_fn(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    xg = x.clone().requires_grad_(True)
    rows = torch.arange(batch)

    def input_grad():
        xg.grad = None
        o1, o2 = m(xg)
        prob = (F.softmax(o1 / ODIN_TEMPERATURE, 1) + F.softmax(o2 / ODIN_TEMPERATURE, 1)) / 2
        loss = -torch.log(prob[rows, y]).sum()
        loss.backward()
        return xg.grad

    def rate(fn):
        # At least `iters` calls and at least two seconds, after one warm-up call.
        fn()
        n, t = 0, time.perf_counter()
        while n < iters or time.perf_counter() - t < 2.0:
            fn()
            n += 1
        return batch * n / (time.perf_counter() - t)

    m.train()
    step()  # a second warm-up step, as the shared peer takes
    train = rate(step)
    m.eval()
    with torch.no_grad():
        infer = rate(lambda: m(x))
    for q in m.parameters():
        q.requires_grad_(False)
    grad = rate(input_grad)
    print(f"train img/s: {train:.1f}")
    print(f"infer img/s: {infer:.1f}")
    print(f"input-grad img/s: {grad:.1f}")


if __name__ == "__main__":
    main()
