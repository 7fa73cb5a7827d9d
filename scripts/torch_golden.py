#!/usr/bin/python3
"""Golden logits of the published networks in PyTorch, and torchfile's fixtures.

  /usr/bin/python3 scripts/torch_golden.py [--mirror ../shared/data] [--fixtures-only]

Run from the repository root with Debian's python3-torch (1.13). It writes

  nets/testdata/torch_golden.json      what was computed, from which files (sha256)
  nets/testdata/torch_golden_NAME.f32  the logits, float32 little-endian, images × classes
  torchfile/testdata/*.pt              small PyTorch files torchfile's tests read

Each network is loaded as released, with map_location='cpu': ODIN's DenseNets
(Liang et al., ICLR 2018) are whole pickled models of class densenet.DenseNet3,
so a copy of ODIN's code/densenet.py is registered below as the module
`densenet` for unpickling (only the classes are needed; their forward() runs);
akamaster's ResNet-56 is a state dict with `module.` prefixes, loaded into a
copy of its resnet.py. The inputs are test images 0-255 of the mirror's
test_batch.bin (lossless; see ../shared/data/README.md), normalised with each
network's own mean and std. nets/torchgolden_test.go runs the same images
through the engine and compares.
"""
import argparse, collections, hashlib, io, json, math, os, pickle, sys, tarfile, types

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# facebookresearch/odin, code/densenet.py (Copyright (c) 2017-present,
# Facebook, Inc.; CC BY-NC 4.0), copied unchanged but for formatting: the
# classes of ODIN's pickled densenet10.pth and densenet100.pth.
DENSENET_PY = r'''
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, out_planes, dropRate=0.0):
        super(BasicBlock, self).__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.droprate = dropRate

    def forward(self, x):
        out = self.conv1(self.relu(self.bn1(x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, training=self.training)
        return torch.cat([x, out], 1)


class BottleneckBlock(nn.Module):
    def __init__(self, in_planes, out_planes, dropRate=0.0):
        super(BottleneckBlock, self).__init__()
        inter_planes = out_planes * 4
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            in_planes, inter_planes, kernel_size=1, stride=1, padding=0, bias=False
        )
        self.bn2 = nn.BatchNorm2d(inter_planes)
        self.conv2 = nn.Conv2d(
            inter_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.droprate = dropRate

    def forward(self, x):
        out = self.conv1(self.relu(self.bn1(x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, inplace=False, training=self.training)
        out = self.conv2(self.relu(self.bn2(out)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, inplace=False, training=self.training)
        return torch.cat([x, out], 1)


class TransitionBlock(nn.Module):
    def __init__(self, in_planes, out_planes, dropRate=0.0):
        super(TransitionBlock, self).__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(
            in_planes, out_planes, kernel_size=1, stride=1, padding=0, bias=False
        )
        self.droprate = dropRate

    def forward(self, x):
        out = self.conv1(self.relu(self.bn1(x)))
        if self.droprate > 0:
            out = F.dropout(out, p=self.droprate, inplace=False, training=self.training)
        return F.avg_pool2d(out, 2)


class DenseBlock(nn.Module):
    def __init__(self, nb_layers, in_planes, growth_rate, block, dropRate=0.0):
        super(DenseBlock, self).__init__()
        self.layer = self._make_layer(
            block, in_planes, growth_rate, nb_layers, dropRate
        )

    def _make_layer(self, block, in_planes, growth_rate, nb_layers, dropRate):
        layers = []
        for i in range(nb_layers):
            layers.append(block(in_planes + i * growth_rate, growth_rate, dropRate))
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.layer(x)


class DenseNet3(nn.Module):
    def __init__(
        self,
        depth,
        num_classes,
        growth_rate=12,
        reduction=0.5,
        bottleneck=True,
        dropRate=0.0,
    ):
        super(DenseNet3, self).__init__()
        in_planes = 2 * growth_rate
        n = (depth - 4) / 3
        if bottleneck == True:
            n = n / 2
            block = BottleneckBlock
        else:
            block = BasicBlock
        # 1st conv before any dense block
        self.conv1 = nn.Conv2d(
            3, in_planes, kernel_size=3, stride=1, padding=1, bias=False
        )
        # 1st block
        self.block1 = DenseBlock(n, in_planes, growth_rate, block, dropRate)
        in_planes = int(in_planes + n * growth_rate)
        self.trans1 = TransitionBlock(
            in_planes, int(math.floor(in_planes * reduction)), dropRate=dropRate
        )
        in_planes = int(math.floor(in_planes * reduction))
        # 2nd block
        self.block2 = DenseBlock(n, in_planes, growth_rate, block, dropRate)
        in_planes = int(in_planes + n * growth_rate)
        self.trans2 = TransitionBlock(
            in_planes, int(math.floor(in_planes * reduction)), dropRate=dropRate
        )
        in_planes = int(math.floor(in_planes * reduction))
        # 3rd block
        self.block3 = DenseBlock(n, in_planes, growth_rate, block, dropRate)
        in_planes = int(in_planes + n * growth_rate)
        # global average pooling and classifier
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(in_planes, num_classes)
        self.in_planes = in_planes

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def forward(self, x):
        out = self.conv1(x)
        out = self.trans1(self.block1(out))
        out = self.trans2(self.block2(out))
        out = self.block3(out)
        out = self.relu(self.bn1(out))
        out = F.avg_pool2d(out, 8)
        out = out.view(-1, self.in_planes)
        return self.fc(out)
'''
densenet = types.ModuleType("densenet")
exec(compile(DENSENET_PY, "densenet.py", "exec"), densenet.__dict__)
sys.modules["densenet"] = densenet


# ---------------------------------------------------------------------------
# akamaster/pytorch_resnet_cifar10, resnet.py (Yerlan Idelbayev; BSD-2-Clause),
# at the layer names of its published files (conv1, bn1, linear), trimmed to
# what ResNet-56 uses.
class LambdaLayer(nn.Module):
    def __init__(self, lambd):
        super(LambdaLayer, self).__init__()
        self.lambd = lambd

    def forward(self, x):
        return self.lambd(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1, option='A'):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            if option == 'A':
                # For CIFAR10 ResNet paper uses option A.
                self.shortcut = LambdaLayer(lambda x:
                                            F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes//4, planes//4), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super(ResNet, self).__init__()
        self.in_planes = 16

        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1]*(num_blocks-1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion

        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out


def resnet56():
    return ResNet(BasicBlock, [9, 9, 9])


# ---------------------------------------------------------------------------
CIFAR_NORM = ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255))  # ODIN's code/cal.py
IMAGENET_NORM = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # akamaster's trainer.py

FIRST, COUNT = 0, 256


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_odin(path):
    """A whole pickled DenseNet3, from the .tar.gz as released or the bare .pth."""
    if path.endswith(".tar.gz"):
        with tarfile.open(path) as tf:
            member = [m for m in tf.getmembers() if m.isfile() and not os.path.basename(m.name).startswith("._")]
            assert len(member) == 1, member
            data = tf.extractfile(member[0]).read()
        return torch.load(io.BytesIO(data), map_location="cpu")
    return torch.load(path, map_location="cpu")


def load_resnet56(path):
    ckpt = torch.load(path, map_location="cpu")
    net = resnet56()
    net.load_state_dict({k[len("module."):]: v for k, v in ckpt["state_dict"].items()})
    return net


NETWORKS = [
    # name (a fetch name of loaders/fetch.go), file under the mirror, our architecture, classes, normalisation, loader
    ("odin-densenet10", "pretrained/densenet10.pth.tar.gz", "densenet-bc-100", 10, CIFAR_NORM, load_odin),
    ("odin-densenet100", "pretrained/densenet100.pth", "densenet-bc-100", 100, CIFAR_NORM, load_odin),
    ("resnet56-cifar10", "pretrained/resnet56-4bfd9763.th", "resnet-cifar-56", 10, IMAGENET_NORM, load_resnet56),
]


def images(mirror):
    path = os.path.join(mirror, "cifar-10-batches-bin", "test_batch.bin")
    with open(path, "rb") as f:
        f.seek(FIRST * 3073)
        raw = f.read(COUNT * 3073)
    recs = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(COUNT, 3073)
    return path, recs[:, 1:].reshape(COUNT, 3, 32, 32).float(), recs[:, 0].long()


def golden(mirror, out):
    img_path, x, labels = images(mirror)
    manifest = {
        "generated_by": "scripts/torch_golden.py",
        "torch": torch.__version__,
        "images": {"file": "cifar-10-batches-bin/test_batch.bin", "sha256": sha256(img_path), "first": FIRST, "count": COUNT},
        "networks": [],
    }
    torch.set_num_threads(2)
    for name, rel, arch, classes, (mean, std), load in NETWORKS:
        path = os.path.join(mirror, rel)
        net = load(path)
        net.eval()
        m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        with torch.no_grad():
            z = net((x / 255 - m) / s).float().contiguous()
        assert z.shape == (COUNT, classes), z.shape
        blob = z.numpy().astype("<f4").tobytes()
        fname = "torch_golden_%s.f32" % name
        with open(os.path.join(out, fname), "wb") as f:
            f.write(blob)
        top2 = z.topk(2, dim=1).values
        gap = (top2[:, 0] - top2[:, 1]).min().item()
        acc = (z.argmax(1) == labels).float().mean().item() if classes == 10 else None
        manifest["networks"].append({
            "name": name, "weights": rel, "weights_sha256": sha256(path), "arch": arch, "classes": classes,
            "normalization": {"mean": list(mean), "std": list(std)},
            "logits": fname, "logits_sha256": hashlib.sha256(blob).hexdigest(),
            "min_top2_gap": gap, "accuracy": acc,
        })
        print("%-17s %s: logits %s, accuracy %s, smallest top-2 gap %.4g" % (name, rel, tuple(z.shape), acc, gap))
    with open(os.path.join(out, "torch_golden.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


# ---------------------------------------------------------------------------
# torchfile's fixtures: small files whose every value torchfile_test.go
# states by hand.
class Tiny(nn.Module):
    """fixturenet.Tiny: a 1×1 convolution, a batch norm with ε 1e-3, a linear
    layer, and a non-persistent buffer (not in the state dict)."""

    def __init__(self):
        super(Tiny, self).__init__()
        self.conv = nn.Conv2d(3, 2, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm2d(2, eps=1e-3)
        self.fc = nn.Linear(2, 3)
        self.register_buffer("scratch", torch.ones(2), persistent=False)


fixturenet = types.ModuleType("fixturenet")
Tiny.__module__ = "fixturenet"
fixturenet.Tiny = Tiny
sys.modules["fixturenet"] = fixturenet


def tiny_state():
    """conv.weight = arange(24)/8 as (2,3,2,2); t = arange(6) as (2,3), transposed
    (stride (1,3)); shared = conv.weight's elements 4..7 (same storage, offset 4);
    and one tensor of each other element type."""
    w = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 8
    return collections.OrderedDict([
        ("conv.weight", w),
        ("t", torch.arange(6, dtype=torch.float32).reshape(2, 3).t()),
        ("shared", w.view(-1)[4:8]),
        ("half", torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)),
        ("bf16", torch.tensor([1.5, -0.25], dtype=torch.bfloat16)),
        ("double", torch.tensor([[1.25], [-3.5]], dtype=torch.float64)),
        ("bn.num_batches_tracked", torch.tensor(7)),
        ("flag", torch.tensor([True, False])),
    ])


def tiny_model():
    net = Tiny()
    with torch.no_grad():
        net.conv.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3, 1, 1))
        net.bn.weight.copy_(torch.tensor([1.0, 2.0]))
        net.bn.bias.copy_(torch.tensor([0.5, -0.5]))
        net.bn.running_mean.copy_(torch.tensor([0.25, 0.75]))
        net.bn.running_var.copy_(torch.tensor([4.0, 9.0]))
        net.fc.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(3, 2) - 3)
        net.fc.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    net.eval()
    return net


class Py2Pickler(pickle.Pickler):
    """Pickles as PyTorch < 0.4 did under Python 2.7: an OrderedDict as
    OrderedDict([[k, v], ...]), a tensor through torch._utils._rebuild_tensor
    (no requires_grad), a Parameter as Parameter(data) with a
    (requires_grad, volatile, hooks) state."""

    def reducer_override(self, obj):
        if isinstance(obj, nn.Parameter):
            return (nn.Parameter, (obj.data,), (obj.requires_grad, False, None))
        if isinstance(obj, torch.Tensor):
            st = obj.storage()
            return (torch._utils._rebuild_tensor, (st, obj.storage_offset(), tuple(obj.size()), obj.stride()))
        if type(obj) is collections.OrderedDict:
            return (collections.OrderedDict, ([[k, v] for k, v in obj.items()],))
        return NotImplemented


def fixtures(out):
    os.makedirs(out, exist_ok=True)
    state = tiny_state()
    torch.save(state, os.path.join(out, "state_zip.pt"))
    torch.save(state, os.path.join(out, "state_legacy.pt"), _use_new_zipfile_serialization=False)
    net = tiny_model()
    torch.save(net, os.path.join(out, "model_zip.pt"))
    torch.save(net, os.path.join(out, "model_legacy.pt"), _use_new_zipfile_serialization=False)
    py2 = types.ModuleType("py2pickle")  # what torch.save calls of its pickle_module
    py2.Pickler, py2.dump = Py2Pickler, pickle.dump
    torch.save(net, os.path.join(out, "model_py2style.pt"), pickle_module=py2, _use_new_zipfile_serialization=False)
    # Each must read back in PyTorch as written.
    for f in ("state_zip.pt", "state_legacy.pt"):
        back = torch.load(os.path.join(out, f))
        assert list(back) == list(state) and all(torch.equal(back[k], state[k]) for k in state), f
    for f in ("model_zip.pt", "model_legacy.pt", "model_py2style.pt"):
        back = torch.load(os.path.join(out, f))
        sd, want = back.state_dict(), net.state_dict()
        assert list(sd) == list(want) and all(torch.equal(sd[k], want[k]) for k in want), f
    for f in sorted(os.listdir(out)):
        print("%-20s %5d bytes" % (f, os.path.getsize(os.path.join(out, f))))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", default=os.path.join(root, "..", "shared", "data"))
    ap.add_argument("--golden", default=os.path.join(root, "nets", "testdata"))
    ap.add_argument("--fixtures", default=os.path.join(root, "torchfile", "testdata"))
    ap.add_argument("--fixtures-only", action="store_true", help="write torchfile's fixtures, not the golden logits")
    args = ap.parse_args()
    fixtures(args.fixtures)
    if not args.fixtures_only:
        os.makedirs(args.golden, exist_ok=True)
        golden(args.mirror, args.golden)


if __name__ == "__main__":
    main()
