"""PyTorch peer for bench/sms.bench.ts: the work of configs/fashion-mnist-quick.yaml,
written as a PyTorch user would write it, run sequentially in one process.

What it does (the same as `sparse-soups run configs/fashion-mnist-quick.yaml`
with the defaults of src/sms/config.ts filled in):

  data     Fashion-MNIST from Debian's dataset-fashion-mnist
           (/usr/share/datasets/fashion-mnist, the IDX .gz files); a fixed 10%
           of the 60,000 training images (seed 42) is the validation set
           (6,000), the first 12,000 of the rest are trained on, the first
           5,000 test images are the test set. Normalized with mean 0.286,
           std 0.353 (src/data/datasets.ts). No augmentation.
  OOD      the first 1,000 test images corrupted with gaussian_noise,
           defocus_blur and contrast at severities 2 and 4 (6 sets of 1,000),
           with the CIFAR-10-C parameters of src/data/corruptions/.
  model    the zoo's BN ConvNet: conv32-BN-pool, conv64-BN-pool, fc128, fc10
           (421,738 parameters).
  dense    4 epochs, batch 128, last incomplete batch dropped (93 steps an
           epoch), SGD momentum 0.9, Nesterov, weight decay 5e-4, peak LR 0.1,
           linear warm-up over 10% of the steps then linear decay to 0.
  phases   3 phases to 90% sparsity (53.6%, 78.5%, 90%), global magnitude
           pruning of every conv/linear weight (biases and BN never), m = 3
           candidates with seeds 1, 2, 3 (batch order), each retrained 2
           epochs (186 steps) with LLR (10% warm-up to 0.1, linear to 0),
           pruned weights and their momentum held at 0 after every step,
           then scored on the validation set.
  merge    uniform soup and greedy soup of the candidates; every scored model
           (dense, candidates, pruned parent, soups, IMP chains) has its BN
           statistics recalibrated first (reset, then 20% of the training
           batches, 19 of 94, forwarded in train mode with a cumulative
           average: torch.optim.swa_utils.update_bn), then test accuracy,
           loss, ECE/MCE (15 bins), worst-class accuracy, OOD accuracies,
           sparsity, non-zero parameters and FLOPs; candidates and IMP chains
           also validation accuracy. The greedy soup recalibrates and
           validates each trial soup. Pairwise L2 distances and angles between
           the candidates; the candidates' prediction ensemble.
  IMP      3 chains (chain i = candidate i's seed): phase 1 shares the SMS
           candidates; phases 2 and 3 prune each chain's own last model and
           retrain it, then score it like a candidate.
  writes   every checkpoint sparse-soups writes: the dense model, the SMS mask
           of each phase, each candidate, each IMP chain's mask and model
           (phases 2, 3), both soups; a record per phase and results.json.

The number of training steps, BN recalibrations, evaluation forward passes
and checkpoint writes is the same as sparse-soups'. Differences, none of which
changes the amount of work by more than a few percent:
  - Random streams differ (PyTorch's generator, not sparse-soups' xoshiro):
    the validation split, the batch orders, the initialization and the
    Gaussian noise are other draws of the same distributions, so accuracies
    agree only to within seed noise.
  - Batches come from torch.utils.data.DataLoader over a TensorDataset of
    images normalized once at load; sparse-soups normalizes each batch as
    it draws it.
  - Models, masks and soups are passed in memory between steps; sparse-soups
    reads each job's inputs back from its checkpoint files (and verifies
    their SHA-256, and writes a checksum sidecar beside every file it saves),
    which is what lets its jobs run in other processes.
  - Checkpoints are torch.save pickles (masks as bool tensors); sparse-soups
    writes safetensors (masks bit-packed).
  - No HTML report and no CSV: `sparse-soups run` also writes results.csv
    and report.html at the end.

Prints progress to stderr, a summary to stdout, and last one JSON line with
the wall time, time per activity and the final accuracies. Run with Debian's
python3-torch (bench/sms.bench.ts sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS to the thread count as well):

  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/peer/sms_quick.py --threads 2 --out /tmp/sms-peer
"""
import argparse
import copy
import gzip
import itertools
import json
import math
import os
import struct
import sys
import tempfile
import time
from collections import defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

MEAN, STD = 0.286, 0.353
PRUNABLE = ("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight")
# CIFAR-10-C parameters by severity 1..5 (src/data/corruptions/{noise,blur,digital}.ts).
GAUSSIAN_STD = (0.04, 0.06, 0.08, 0.09, 0.1)
DEFOCUS = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1))  # (radius, alias blur sigma)
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=None, help="directory for checkpoints (default: a new temporary directory)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-subset", type=int, default=12000)
    p.add_argument("--test-subset", type=int, default=5000)
    p.add_argument("--ood-subset", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-batch-size", type=int, default=1000)
    p.add_argument("--dense-epochs", type=int, default=4)
    p.add_argument("--retrain-epochs", type=int, default=2)
    p.add_argument("--phases", type=int, default=3)
    p.add_argument("--goal-sparsity", type=float, default=0.9)
    p.add_argument("--candidates", type=int, default=3)
    p.add_argument("--max-lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--bn-fraction", type=float, default=0.2)
    return p.parse_args(argv)


# ---------------------------------------------------------------------------
# Data


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert dtype == 0x08, f"{path}: expected uint8 IDX data"
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(shape)


def normalize(images_uint8):
    return ((images_uint8.float() / 255 - MEAN) / STD).unsqueeze(1)


def gaussian_taps(ksize, sigma):
    k = torch.arange(ksize, dtype=torch.float64) - (ksize - 1) / 2
    w = torch.exp(-(k**2) / (2 * sigma**2))
    return w / w.sum()


def defocus_kernel(radius, alias_sigma):
    r = math.floor(radius)
    j, i = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    disk = ((i**2 + j**2) <= radius**2).double()
    disk /= disk.sum()
    g = gaussian_taps(3 if radius <= 8 else 5, alias_sigma)
    gauss = torch.outer(g, g)[None, None]
    pad = g.numel() - 1
    return F.conv2d(F.pad(disk[None, None], (pad, pad, pad, pad)), gauss.flip((2, 3)))[0, 0]


def corrupt(images_uint8, corruption, severity, generator):
    """uint8 (N, H, W) -> uint8 (N, H, W), the corruption applied in [0, 1], clipped and rounded."""
    x = images_uint8.double() / 255
    if corruption == "gaussian_noise":
        x = x + torch.randn(x.shape, generator=generator, dtype=torch.float64) * GAUSSIAN_STD[severity - 1]
    elif corruption == "defocus_blur":
        kernel = defocus_kernel(*DEFOCUS[severity - 1])
        pad = (kernel.shape[0] - 1) // 2
        x = F.conv2d(F.pad(x[:, None], (pad,) * 4, mode="reflect"), kernel[None, None])[:, 0]
    elif corruption == "contrast":
        mean = x.mean(dim=(1, 2), keepdim=True)
        x = (x - mean) * CONTRAST[severity - 1] + mean
    else:
        raise ValueError(f"unknown corruption {corruption}")
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def load_data(a):
    train_x = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz"))
    train_y = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte.gz")).long()
    test_x = read_idx(os.path.join(a.data_dir, "t10k-images-idx3-ubyte.gz"))
    test_y = read_idx(os.path.join(a.data_dir, "t10k-labels-idx1-ubyte.gz")).long()
    order = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(42))
    n_val = round(0.1 * len(train_y))
    val_idx = order[:n_val].sort().values
    train_idx = order[n_val:].sort().values[: a.train_subset]
    data = {
        "train": TensorDataset(normalize(train_x[train_idx]), train_y[train_idx]),
        "val": (normalize(train_x[val_idx]), train_y[val_idx]),
        "test": (normalize(test_x[: a.test_subset]), test_y[: a.test_subset]),
        "ood": [],
    }
    noise = torch.Generator().manual_seed(1234)
    base_x, base_y = test_x[: a.ood_subset], test_y[: a.ood_subset]
    for corruption in ("gaussian_noise", "defocus_blur", "contrast"):
        for severity in (2, 4):
            data["ood"].append((f"{corruption}-{severity}", normalize(corrupt(base_x, corruption, severity, noise)), base_y))
    return data


# ---------------------------------------------------------------------------
# Model, schedules, pruning


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


def linear_schedule(peak, total_steps, warmup_steps):
    """Linear warm-up to `peak` at step max(W,1)-1, then linear decay reaching 0 at step T (src/train/schedules.ts)."""
    p = max(warmup_steps, 1)
    return lambda t: peak * (t + 1) / p if t < p - 1 else peak * (1 - (t - (p - 1)) / (total_steps - p + 1))


def warmup_steps(fraction, total_steps):
    exact = fraction * total_steps
    return round(exact) if abs(exact - round(exact)) <= 1e-9 * max(1, exact) else math.ceil(exact)


def phase_sparsities(goal, phases):
    q = 1 - (1 - goal) ** (1 / phases)
    return [1 - (1 - q) ** p for p in range(1, phases + 1)]


def global_magnitude_mask(state, current, target_sparsity):
    """Keep-masks pruning the round(s*N) smallest |w| over all prunable weights; pruned ones stay pruned."""
    scores = []
    for name in PRUNABLE:
        s = state[name].abs().flatten()
        if current is not None:
            s = torch.where(current[name].flatten(), s, torch.full_like(s, -1.0))
        scores.append(s)
    scores = torch.cat(scores)
    k = round(target_sparsity * scores.numel())
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.sort(scores, stable=True).indices[:k]] = False
    mask, offset = {}, 0
    for name in PRUNABLE:
        n = state[name].numel()
        mask[name] = keep[offset : offset + n].reshape(state[name].shape)
        offset += n
    return mask


def apply_mask(model, mask):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in mask:
                p.mul_(mask[name])


# ---------------------------------------------------------------------------
# Training and evaluation


class Clock:
    """Wall time per activity."""

    def __init__(self):
        self.seconds = defaultdict(float)

    def __call__(self, what):
        clock = self

        class Span:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                clock.seconds[what] += time.perf_counter() - self.t0

        return Span()


def train(model, dataset, epochs, lr, seed, a, mask=None):
    loader = DataLoader(dataset, batch_size=a.batch_size, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(seed))
    opt = torch.optim.SGD(model.parameters(), lr=lr(0), momentum=0.9, nesterov=True, weight_decay=a.weight_decay)
    masked = [(p, mask[n]) for n, p in model.named_parameters() if mask is not None and n in mask]
    model.train()
    step, losses = 0, []
    for _ in range(epochs):
        losses = []
        for x, y in loader:
            for g in opt.param_groups:
                g["lr"] = lr(step)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, m in masked:
                    p.mul_(m)
                    opt.state[p]["momentum_buffer"].mul_(m)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise RuntimeError(f"training diverged at step {step}")
            step += 1
    return sum(losses) / max(len(losses), 1)


@torch.no_grad()
def probabilities(model, x, a):
    model.eval()
    return torch.cat([F.softmax(model(xb), dim=1) for xb in x.split(a.eval_batch_size)])


def accuracy(probs, y):
    return (probs.argmax(1) == y).float().mean().item()


def recalibrate_bn(model, data, a, seed):
    loader = DataLoader(data["train"], batch_size=a.batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    batches = max(1, round(len(loader) * a.bn_fraction))
    torch.optim.swa_utils.update_bn(itertools.islice(loader, batches), model)
    model.eval()


def calibration(probs, y, bins=15):
    conf, pred = probs.max(1)
    correct = (pred == y).float()
    b = (conf * bins).ceil().clamp(1, bins).long() - 1
    ece, mce = 0.0, 0.0
    for i in range(bins):
        sel = b == i
        if sel.any():
            gap = (correct[sel].mean() - conf[sel].mean()).abs().item()
            ece += sel.float().mean().item() * gap
            mce = max(mce, gap)
    return ece, mce


def flops(model):
    """2 x multiply-accumulates of one forward pass of one image: dense, and counting non-zero weights only."""
    out = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, o.shape)) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    dense = nonzero = 0
    for n, m in model.named_modules():
        if n in out:
            positions = out[n][2] * out[n][3] if isinstance(m, nn.Conv2d) else 1
            dense += 2 * m.weight.numel() * positions
            nonzero += 2 * int(m.weight.count_nonzero()) * positions
    return dense, nonzero


def prediction_metrics(probs, data):
    test_probs, ood_probs = probs
    y = data["test"][1]
    ece, mce = calibration(test_probs, y)
    per_class = [accuracy(test_probs[y == c], y[y == c]) for c in range(10) if (y == c).any()]
    ood = {name: accuracy(p, oy) for (name, _, oy), p in zip(data["ood"], ood_probs)}
    return {
        "testAccuracy": accuracy(test_probs, y),
        "testLoss": F.nll_loss(test_probs.clamp_min(1e-12).log(), y).item(),
        "ece": ece,
        "mce": mce,
        "worstClassAccuracy": min(per_class),
        "ood": ood,
        "oodMeanAccuracy": sum(ood.values()) / len(ood),
    }


def evaluate(model, data, a):
    """Every metric of a model (eval mode, current BN statistics); also returns its probabilities."""
    probs = (probabilities(model, data["test"][0], a), [probabilities(model, x, a) for _, x, _ in data["ood"]])
    metrics = prediction_metrics(probs, data)
    weights = [p for n, p in model.named_parameters() if n in PRUNABLE]
    total = sum(p.numel() for p in weights)
    metrics["sparsity"] = 1 - sum(int(p.count_nonzero()) for p in weights) / total
    metrics["nonzeroParameters"] = sum(int(p.count_nonzero()) for p in model.parameters())
    metrics["denseFlops"], metrics["nonzeroFlops"] = flops(model)
    return metrics, probs


def pairwise_distances(states):
    vecs = torch.stack([torch.cat([s[n].flatten().double() for n in s if "running" not in n and "num_batches" not in n]) for s in states])
    l2 = torch.cdist(vecs, vecs).tolist()
    cos = (vecs @ vecs.T) / (vecs.norm(dim=1)[:, None] * vecs.norm(dim=1)[None, :])
    angles = torch.rad2deg(torch.arccos(cos.clamp(-1, 1))).tolist()
    return {"pairwiseL2": l2, "pairwiseAngleDegrees": angles}


def average(states):
    return {k: (sum(s[k] for s in states) / len(states)) if v.is_floating_point() else v.clone() for k, v in states[0].items()}


def assert_keeps_mask(state, mask):
    for name, m in mask.items():
        assert not state[name][~m].any(), f"{name}: pruned weights are not zero after averaging"


# ---------------------------------------------------------------------------
# The run


def main(argv=None):
    a = parse_args(argv)
    t_start = time.perf_counter()
    torch.set_num_threads(a.threads)
    out = a.out or tempfile.mkdtemp(prefix="sms-peer-")
    os.makedirs(out, exist_ok=True)
    clock = Clock()
    log = lambda msg: print(f"[{time.perf_counter() - t_start:7.1f}s] {msg}", file=sys.stderr, flush=True)

    with clock("data"):
        data = load_data(a)
    steps_per_epoch = len(data["train"]) // a.batch_size
    val_x, val_y = data["val"]

    def save(obj, name):
        with clock("checkpoint writes"):
            torch.save(obj, os.path.join(out, name))

    def fresh(state):
        model = ConvNet()
        model.load_state_dict(state)
        return model

    def score(state, mask=None, validation=False):
        """Like-for-like scoring: load, (mask,) recalibrate BN, evaluate (and validate)."""
        with clock("evaluation"):
            model = fresh(state)
            if mask is not None:
                apply_mask(model, mask)
            recalibrate_bn(model, data, a, a.seed)
            metrics, probs = evaluate(model, data, a)
            val = accuracy(probabilities(model, val_x, a), val_y) if validation else None
            return metrics, probs, val

    def recalibrated(state):
        with clock("evaluation"):
            model = fresh(state)
            recalibrate_bn(model, data, a, a.seed)
            return model

    def recalibrated_val_accuracy(state):
        model = recalibrated(state)
        with clock("evaluation"):
            return model, accuracy(probabilities(model, val_x, a), val_y)

    def retrain(parent_state, mask, seed, name):
        torch.manual_seed(seed)
        model = fresh(parent_state)
        apply_mask(model, mask)
        total = steps_per_epoch * a.retrain_epochs
        lr = linear_schedule(a.max_lr, total, warmup_steps(0.1, total))
        with clock("retraining"):
            train_loss = train(model, data["train"], a.retrain_epochs, lr, seed, a, mask)
        with clock("evaluation"):
            val = accuracy(probabilities(model, val_x, a), val_y)
        state = copy.deepcopy(model.state_dict())
        save(state, name)
        return {"state": state, "validationAccuracy": val, "trainLoss": train_loss}

    marks = {}  # wall-clock times (Unix seconds) of the run's milestones, as sparse-soups' events.jsonl records them
    # parent = dense model, trained
    marks["dense-start"] = time.time()
    log("dense: training")
    torch.manual_seed(a.seed)
    model = ConvNet()
    total = steps_per_epoch * a.dense_epochs
    with clock("dense training"):
        train(model, data["train"], a.dense_epochs, linear_schedule(a.max_lr, total, warmup_steps(0.1, total)), a.seed, a)
    dense = copy.deepcopy(model.state_dict())
    save(dense, "dense.pt")
    dense_metrics = score(dense)[0]
    marks["dense-done"] = time.time()
    log(f"dense: test accuracy {dense_metrics['testAccuracy']:.4f}")

    seeds = [i + 1 for i in range(a.candidates)]  # candidates.vary.seed: [1, 2, 3]
    parent, parent_mask = dense, None
    chains = [{"state": dense, "mask": None} for _ in seeds]
    phases = []
    for p, sparsity in enumerate(phase_sparsities(a.goal_sparsity, a.phases), start=1):
        log(f"phase {p}: prune to {sparsity:.4f}")
        with clock("pruning"):
            mask = global_magnitude_mask(parent, parent_mask, sparsity)
        save(mask, f"phase-{p}-mask.pt")
        imp_masks = []
        if p > 1:
            for i, chain in enumerate(chains):
                with clock("pruning"):
                    imp_masks.append(global_magnitude_mask(chain["state"], chain["mask"], sparsity))
                save(imp_masks[-1], f"phase-{p}-imp-{i}-mask.pt")

        # candidate_i = retrain(parent * mask_p, spec_i)
        candidates = [retrain(parent, mask, seed, f"phase-{p}-candidate-{i}.pt") for i, seed in enumerate(seeds)]
        imp_runs = [retrain(chains[i]["state"], imp_masks[i], seed, f"phase-{p}-imp-{i}.pt") for i, seed in enumerate(seeds)] if p > 1 else candidates
        log(f"phase {p}: retrained {len(candidates)} candidates" + (f" and {len(imp_runs)} IMP chains" if p > 1 else ""))

        # merge: score the candidates and the pruned parent, then the soups
        scored = [score(c["state"], validation=True) for c in candidates]
        pruned_metrics = score(parent, mask=mask)[0]
        states = [c["state"] for c in candidates]
        val_accs = [s[2] for s in scored]

        uniform = average(states)
        assert_keeps_mask(uniform, mask)
        uniform_model, uniform_val = recalibrated_val_accuracy(uniform)
        save(uniform_model.state_dict(), f"phase-{p}-soup-uniform.pt")
        with clock("evaluation"):
            uniform_metrics = evaluate(uniform_model, data, a)[0]

        # greedy soup (Wortsman et al. 2022): best first, add the next if validation accuracy does not drop
        ranked = sorted(range(len(states)), key=lambda i: -val_accs[i])
        kept = [ranked[0]]
        _, greedy_val = recalibrated_val_accuracy(average([states[ranked[0]]]))
        for i in ranked[1:]:
            _, trial_val = recalibrated_val_accuracy(average([states[j] for j in kept + [i]]))
            if trial_val >= greedy_val:
                kept, greedy_val = kept + [i], trial_val
        greedy = average([states[j] for j in kept])
        assert_keeps_mask(greedy, mask)
        greedy_model = recalibrated(greedy)
        save(greedy_model.state_dict(), f"phase-{p}-soup-greedy.pt")
        with clock("evaluation"):
            greedy_metrics = evaluate(greedy_model, data, a)[0]

        with clock("evaluation"):
            distances = pairwise_distances(states)
            ensemble = prediction_metrics(
                (
                    torch.stack([s[1][0] for s in scored]).mean(0),
                    [torch.stack([s[1][1][k] for s in scored]).mean(0) for k in range(len(data["ood"]))],
                ),
                data,
            )
        imp_scored = [score(r["state"], validation=True) for r in imp_runs] if p > 1 else scored
        imp_accs = [s[0]["testAccuracy"] for s in imp_scored]
        best_imp = max(range(len(imp_scored)), key=lambda i: imp_scored[i][2])
        record = {
            "phase": p,
            "targetSparsity": sparsity,
            "prunedParent": pruned_metrics,
            "candidates": [{"seed": seeds[i], "validationAccuracy": s[2], "metrics": s[0]} for i, s in enumerate(scored)],
            "soups": {
                "uniform": {"validationAccuracy": uniform_val, "metrics": uniform_metrics},
                "greedy": {"validationAccuracy": greedy_val, "ingredients": kept, "metrics": greedy_metrics},
            },
            "imp": {"testAccuracies": imp_accs, "mean": sum(imp_accs) / len(imp_accs), "best": imp_accs[best_imp]},
            "ensemble": ensemble,
            "distances": distances,
        }
        with clock("checkpoint writes"):
            with open(os.path.join(out, f"phase-{p}.json"), "w") as f:
                json.dump(record, f)
        phases.append(record)
        marks[f"phase-{p}-done"] = time.time()
        log(
            f"phase {p}: uniform soup {uniform_metrics['testAccuracy']:.4f}, greedy {greedy_metrics['testAccuracy']:.4f}, "
            f"IMP mean {record['imp']['mean']:.4f}, sparsity {uniform_metrics['sparsity']:.4f}"
        )
        chains = [{"state": r["state"], "mask": (mask if p == 1 else imp_masks[i])} for i, r in enumerate(imp_runs)]
        parent, parent_mask = uniform_model.state_dict(), mask  # parent = soup (merge.method: uniform)

    wall = time.perf_counter() - t_start
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"dense": dense_metrics, "phases": phases}, f)
    last = phases[-1]
    summary = {
        "wall_s": round(wall, 2),
        "threads": a.threads,
        "torch": torch.__version__,
        "seconds": {k: round(v, 2) for k, v in sorted(clock.seconds.items())},
        "marks": marks,
        "dense_test_accuracy": dense_metrics["testAccuracy"],
        "final_sparsity": last["soups"]["uniform"]["metrics"]["sparsity"],
        "uniform_soup_test_accuracy": last["soups"]["uniform"]["metrics"]["testAccuracy"],
        "greedy_soup_test_accuracy": last["soups"]["greedy"]["metrics"]["testAccuracy"],
        "imp_mean_test_accuracy": last["imp"]["mean"],
        "imp_best_test_accuracy": last["imp"]["best"],
        "uniform_soup_ood_mean_accuracy": last["soups"]["uniform"]["metrics"]["oodMeanAccuracy"],
        "out": out,
    }
    print(f"PyTorch {torch.__version__}, {a.threads} threads: wall {wall:.1f} s")
    for k, v in summary["seconds"].items():
        print(f"  {k:<18} {v:8.1f} s")
    print(f"dense {dense_metrics['testAccuracy']:.4f}; phase {last['phase']} (sparsity {summary['final_sparsity']:.4f}): "
          f"uniform soup {summary['uniform_soup_test_accuracy']:.4f}, greedy soup {summary['greedy_soup_test_accuracy']:.4f}, "
          f"IMP mean {summary['imp_mean_test_accuracy']:.4f}, best {summary['imp_best_test_accuracy']:.4f}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
