"""PyTorch peer for bench/train.bench.ts: the same models, data and optimizer.

Models (as sparse-soups builds them, src/models/):
  cnn       the issue's small CNN: conv32-conv64-dense128 (no BN), 1x28x28
  convnet   the zoo's ConvNet: conv32-BN-pool, conv64-BN-pool, fc128, fc, 1x28x28
  resnet20  CIFAR ResNet-20 (He et al. 2016), option A shortcuts, 3x32x32

Prints one JSON line: {"samples_per_s": ..., "model": ..., "threads": ..., "torch": ...}.
Run with Debian's python3-torch:
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/peer/train_models.py --model resnet20 --threads 1
On a GPU (any PyTorch with CUDA; the clock is read after torch.cuda.synchronize()):
  python3 bench/peer/train_models.py --model resnet20 --device cuda --steps 200 --warmup 20
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--model", default="convnet", choices=["cnn", "convnet", "resnet20"])
p.add_argument("--steps", type=int, default=60)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
a = p.parse_args()
device = torch.device(a.device)
torch.set_num_threads(a.threads)
torch.manual_seed(0)


class SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Block(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.extra = planes - inp

    def shortcut(self, x):
        if self.stride == 1 and self.extra == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        before = self.extra // 2
        return F.pad(x, (0, 0, 0, 0, before, self.extra - before))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, n=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        inp = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(Block(inp, planes, stride if i == 0 else 1))
                inp = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


model, shape = {
    "cnn": (SmallCnn, (1, 28, 28)),
    "convnet": (ConvNet, (1, 28, 28)),
    "resnet20": (ResNet20, (3, 32, 32)),
}[a.model]
model = model().to(device)
model.train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
x = torch.randn(a.batch, *shape, device=device)
y = torch.randint(0, 10, (a.batch,), device=device)


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
sync()
t0 = time.perf_counter()
for _ in range(a.steps):
    step()
sync()
dt = time.perf_counter() - t0
n_params = sum(p.numel() for p in model.parameters())
print(json.dumps({"samples_per_s": a.steps * a.batch / dt, "model": a.model, "params": n_params, "steps": a.steps, "batch": a.batch, "threads": a.threads, "device": str(device), "torch": torch.__version__}))
