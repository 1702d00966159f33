#!/usr/bin/env python3
"""The GPU check of sparse-soups, start to finish; run through scripts/gpu-check.sh (see there).

Steps, each with its own time limit inside one overall budget, each failure
recorded rather than ending the check:

  env       the PyTorch install (version, CUDA, GPU) and the compiler
  node      Node from .gpu-check/node.tar.xz (else one on PATH), node_modules from
            .gpu-check/node_modules.tar.xz when the checkout has none
  build     the addon, compiled against that PyTorch's libtorch (LIBTORCH=<its torch/
            folder>) by `node scripts/build-native.mjs --direct`, into the work folder
  tests     test/gpu/*.test.ts against that addon (they skip without CUDA)
  resnet20  training samples/s of ResNet-20 (batch 128, CIFAR-shaped random data, SGD
            with Nesterov momentum) by sparse-soups (bench/train-worker.ts) and by
            PyTorch (bench/peer/train_models.py) on the same device, alternating, best
            of each; ratio = ours / PyTorch, target >= 0.95
  sms       configs/fashion-mnist-quick.yaml with `device: cuda` and the packed
            Fashion-MNIST subset (`sparse-soups run`); a pipeline that refuses
            the device is reported as refused

Prints progress to stderr and, last, one JSON line to stdout (also written to
<out>/result.json, beside each step's log). Python standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUNDLE = os.path.join(REPO, ".gpu-check")
TARGET_RATIO = 0.95

# Sizes: the real check, and the dry run on CPU (which only exercises the flow).
SIZES = {
    "cuda": {"batch": 128, "steps": 200, "warmup": 30, "reps": 3, "threads": 1},
    "cpu": {"batch": 8, "steps": 2, "warmup": 1, "reps": 1, "threads": 1},
}
# Upper limits per step, seconds (each also gets no more than what is left of the budget).
CAPS = {
    "cuda": {"env": 60, "node": 60, "build": 300, "tests": 150, "resnet20": 150, "sms": 420},
    "cpu": {"env": 60, "node": 60, "build": 600, "tests": 150, "resnet20": 150, "sms": 300},
}
# What the dry run changes in the quick config, so that it finishes in a minute on two cores.
CPU_SMS_OVERRIDES = {
    "data": {"trainSubset": 512, "testSubset": 256, "batchSize": 64},
    "dense": {"epochs": 1},
    "pruning": {"phases": 1},
    "retrain": {"epochs": 1},
    "candidates": {"count": 2, "vary": {"seed": [1, 2]}},
    "merge": {"bnRecalibrationFraction": 0.1},
    "evaluation": {"oodCorruptions": ["gaussian_noise"], "oodSeverities": [2], "oodSubset": 64},
    "baselines": {"imp": False, "impLonger": False, "ensemble": False},
}


def say(msg):
    print(f"gpu-check: {msg}", file=sys.stderr, flush=True)


class Check:
    def __init__(self, args):
        self.args = args
        self.mode = "cpu" if args.cpu else "cuda"
        self.device = "cpu" if args.cpu else "cuda"
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.budget
        self.out = os.path.abspath(args.out)
        self.work = os.path.abspath(args.work)
        self.steps = {}
        self.env = dict(os.environ)
        self.python = None
        self.torch_dir = None
        self.node = None
        self.addon = None
        self.data_dir = None

    # ---- helpers ----

    def left(self):
        return self.deadline - time.monotonic()

    def limit(self, step):
        return max(0.0, min(CAPS[self.mode][step], self.left() - 5))

    def run(self, cmd, log, timeout, env=None, cwd=REPO):
        """Runs cmd (a list) with output appended to log; kills its process group at timeout.
        Returns (exit code or None when timed out, seconds, output)."""
        start = time.monotonic()
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n")
            f.flush()
            try:
                p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                                     env=env or self.env, start_new_session=True)
            except OSError as e:
                f.write(f"{e}\n")
                return 127, 0.0, str(e)
            try:
                data, _ = p.communicate(timeout=max(1.0, timeout))
                code = p.returncode
            except subprocess.TimeoutExpired:
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(p.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        p.wait(timeout=5)
                        break
                    except subprocess.TimeoutExpired:
                        continue
                data = p.stdout.read() if p.stdout else b""
                code = None
            text = data.decode("utf-8", "replace")
            f.write(text)
            f.write(f"[exit {code if code is not None else 'timeout'} after {time.monotonic() - start:.1f} s]\n")
        return code, time.monotonic() - start, text

    def log(self, step):
        return os.path.join(self.out, f"{step}.log")

    @staticmethod
    def tail(text, lines=6):
        kept = [l for l in text.strip().splitlines() if l.strip() and not l.startswith("$ ")]
        return "\n".join(kept[-lines:])

    @staticmethod
    def last_json(text):
        for line in reversed(text.strip().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    continue
        return None

    def step(self, name, fn, needs=()):
        missing = [n for n in needs if not self.steps.get(n, {}).get("ok")]
        if missing:
            self.steps[name] = {"ok": False, "skipped": f"needs {', '.join(missing)}"}
            say(f"[{name}] skipped: needs {', '.join(missing)}")
            return
        if self.limit(name) < 10:
            self.steps[name] = {"ok": False, "skipped": "no time left in the budget"}
            say(f"[{name}] skipped: no time left")
            return
        say(f"[{name}] starting ({self.limit(name):.0f} s at most)")
        start = time.monotonic()
        try:
            result = fn()
        except Exception as e:  # a bug here must not lose the other steps' results
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        result["wall_s"] = round(time.monotonic() - start, 1)
        self.steps[name] = result
        say(f"[{name}] {'ok' if result.get('ok') else 'FAILED'} in {result['wall_s']} s"
            + ("" if result.get("ok") else f": {result.get('error', '')}"))

    # ---- steps ----

    def find_python(self):
        """The first Python whose torch imports: GPU_CHECK_PYTHON, this one, python3, /usr/bin/python3."""
        probe = ("import json, os, torch; c = torch.cuda.is_available(); print(json.dumps({'torch': torch.__version__, "
                 "'dir': os.path.dirname(torch.__file__), 'cuda': torch.version.cuda, 'cuda_available': c, "
                 "'gpu': torch.cuda.get_device_name(0) if c else None, "
                 "'cxx11_abi': int(torch._C._GLIBCXX_USE_CXX11_ABI)}))")
        tried = []
        for py in [os.environ.get("GPU_CHECK_PYTHON"), sys.executable, "python3", "/usr/bin/python3"]:
            if not py or py in tried:
                continue
            tried.append(py)
            code, _, text = self.run([py, "-c", probe], self.log("env"), 120)
            info = self.last_json(text) if code == 0 else None
            if info:
                return py, info
        return None, {"tried": tried}

    def do_env(self):
        py, info = self.find_python()
        cxx = os.environ.get("CXX", "g++")
        res = {"python": py, "cxx": shutil.which(cxx)}
        code, _, text = self.run([cxx, "--version"], self.log("env"), 30)
        res["cxx_version"] = text.splitlines()[0] if code == 0 and text else None
        if shutil.which("nvidia-smi"):
            code, _, text = self.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                                     self.log("env"), 30)
            res["nvidia_smi"] = text.strip().splitlines()[-1] if code == 0 and text.strip() else None
        if not py:
            return {**res, "ok": False, "error": f"no Python with torch (tried {', '.join(info['tried'])}; set GPU_CHECK_PYTHON)"}
        self.python, self.torch_dir = py, info["dir"]
        res.update(info)
        if not res["cxx"]:
            return {**res, "ok": False, "error": f"no C++ compiler ({cxx}; set CXX)"}
        if self.mode == "cuda" and not info["cuda_available"]:
            return {**res, "ok": False, "error": "torch.cuda.is_available() is false: no GPU visible to PyTorch"}
        return {**res, "ok": True}

    @staticmethod
    def extract(archive, dest):
        os.makedirs(dest, exist_ok=True)
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:
                t.extractall(dest)

    def do_node(self):
        res = {}
        packed = os.path.join(BUNDLE, "node.tar.xz")
        if os.path.exists(packed):
            dest = os.path.join(self.work, "node")
            self.extract(packed, dest)
            self.node = os.path.join(dest, "bin", "node")
            res["node_from"] = ".gpu-check/node.tar.xz"
        elif os.environ.get("GPU_CHECK_NO_SYSTEM_NODE") != "1" and shutil.which("node"):
            self.node = shutil.which("node")
            res["node_from"] = self.node
        else:
            return {"ok": False, "error": "no Node: run `bash scripts/gpu-check.sh --pack` where Node is, and carry .gpu-check"}
        code, _, text = self.run([self.node, "--version"], self.log("node"), 30)
        if code != 0:
            return {**res, "ok": False, "error": f"{self.node} does not run: {self.tail(text, 2)}"}
        res["node"] = text.strip().splitlines()[-1]
        # Node first on PATH: binding.gyp's commands and the tests' child processes run `node`.
        self.env["PATH"] = os.path.dirname(self.node) + os.pathsep + self.env.get("PATH", "")
        modules = os.path.join(REPO, "node_modules")
        if not os.path.exists(os.path.join(modules, "tsx", "package.json")):
            packed_modules = os.path.join(BUNDLE, "node_modules.tar.xz")
            if not os.path.exists(packed_modules):
                return {**res, "ok": False, "error": "no node_modules in the checkout and none packed (.gpu-check/node_modules.tar.xz)"}
            if os.path.islink(modules):
                os.unlink(modules)  # a link to a checkout elsewhere, not here
            self.extract(packed_modules, modules)
            res["node_modules_from"] = ".gpu-check/node_modules.tar.xz"
        else:
            res["node_modules_from"] = "checkout"
        data = os.path.join(BUNDLE, "fashion-mnist")
        self.data_dir = data if os.path.exists(data) else "/usr/share/datasets/fashion-mnist"
        res["data_dir"] = self.data_dir
        code, _, text = self.run([self.node, "--import", "tsx", "-e", "import('yaml').then(() => console.log('tsx ok'))"],
                                 self.log("node"), 60)
        if code != 0 or "tsx ok" not in text:
            return {**res, "ok": False, "error": f"node --import tsx fails: {self.tail(text, 3)}"}
        return {**res, "ok": True}

    def do_build(self):
        if self.args.addon:
            self.addon = os.path.abspath(self.args.addon)
            self.env["SPARSE_SOUPS_ADDON"] = self.addon
            return {"ok": os.path.exists(self.addon), "addon": self.addon, "built": False,
                    **({} if os.path.exists(self.addon) else {"error": f"{self.addon} does not exist"})}
        if not self.torch_dir:
            return {"ok": False, "error": "no PyTorch install to build against (see the env step)"}
        out = os.path.join(self.work, "addon", "sparse_soups.node")
        env = {**self.env, "LIBTORCH": self.torch_dir, "LIBTORCH_PYTHON": self.python}
        code, wall, text = self.run([self.node, "scripts/libtorch.mjs", "--json"], self.log("build"), 180, env=env)
        found = self.last_json(text) if code == 0 else None
        if not found:
            return {"ok": False, "error": f"scripts/libtorch.mjs refuses LIBTORCH={self.torch_dir}: {self.tail(text, 3)}"}
        res = {"libtorch": self.torch_dir, "libtorch_version": found.get("version"), "cuda_libs": found.get("cuda"),
               "cxx11_abi": found.get("abi"), "abi_from": found.get("abiFrom"), "std": found.get("std")}
        code, wall, text = self.run([self.node, "scripts/build-native.mjs", "--direct", "--out", out], self.log("build"),
                                    self.limit("build") - wall, env=env)
        if code != 0:
            err = "timed out" if code is None else f"exit {code}"
            return {**res, "ok": False, "error": f"build {err}: {self.tail(text, 4)}"}
        self.addon = out
        self.env["SPARSE_SOUPS_ADDON"] = out
        probe = ("import { cudaAvailable, cudaDeviceCount, libtorchVersion } from './src/tensor/index.js'; "
                 "console.log(JSON.stringify({ torch: libtorchVersion(), cuda: cudaAvailable(), devices: cudaDeviceCount() }));")
        code, _, text = self.run([self.node, "--import", "tsx", "--input-type=module", "-e", probe], self.log("build"), 120)
        info = self.last_json(text) if code == 0 else None
        if not info:
            return {**res, "ok": False, "error": f"the built addon does not load: {self.tail(text, 3)}"}
        res.update({"addon_torch": info["torch"], "addon_cuda_available": info["cuda"], "addon_cuda_devices": info["devices"]})
        if self.mode == "cuda" and not info["cuda"]:
            return {**res, "ok": False, "error": "the addon loads but cudaAvailable() is false (libtorch_cuda not linked, or no GPU)"}
        return {**res, "ok": True}

    def do_tests(self):
        files = sorted(os.path.join("test", "gpu", f) for f in os.listdir(os.path.join(REPO, "test", "gpu")) if f.endswith(".test.ts"))
        # Not as a subtest of a test runner that started this check (its protocol has no TAP summary).
        env = {k: v for k, v in self.env.items() if k != "NODE_TEST_CONTEXT"}
        code, _, text = self.run([self.node, "--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=tap", *files],
                                 self.log("tests"), self.limit("tests"), env=env)
        counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", text, re.M)}
        res = {"files": len(files), "pass": counts.get("pass"), "fail": counts.get("fail"), "skipped": counts.get("skipped")}
        if code is None:
            return {**res, "ok": False, "error": "timed out"}
        if code != 0:
            failed = re.findall(r"^not ok \d+ - (.*)$", text, re.M)
            return {**res, "ok": False, "error": f"exit {code}; failed: {'; '.join(failed[:5]) or self.tail(text, 3)}"}
        no_gpu = len(re.findall(r"# SKIP no CUDA GPU", text))
        if self.mode == "cuda" and no_gpu > 0:
            return {**res, "ok": False, "error": f"{no_gpu} GPU tests skipped for want of a GPU on the GPU machine"}
        return {**res, "ok": True}

    def do_resnet20(self):
        s = SIZES[self.mode]
        common = ["--model", "resnet20", "--device", self.device, "--batch", str(s["batch"]), "--steps", str(s["steps"]),
                  "--warmup", str(s["warmup"]), "--threads", str(s["threads"])]
        t = str(s["threads"])
        env = {**self.env, "OMP_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t}
        sides = {
            "ours": [self.node, "--import", "tsx", "bench/train-worker.ts", *common],
            "pytorch": [self.python, "bench/peer/train_models.py", *common],
        }
        best = {"ours": None, "pytorch": None}
        errors = {}
        if not self.python:
            del sides["pytorch"]
            errors["pytorch"] = "no Python with torch (see the env step)"
        for rep in range(s["reps"]):
            order = ["ours", "pytorch"] if rep % 2 == 0 else ["pytorch", "ours"]
            for side in (x for x in order if x in sides):
                code, _, text = self.run(sides[side], self.log("resnet20"), min(120, self.limit("resnet20")), env=env)
                r = self.last_json(text) if code == 0 else None
                if r and "samples_per_s" in r:
                    best[side] = max(best[side] or 0, r["samples_per_s"])
                else:
                    errors[side] = "timed out" if code is None else self.tail(text, 3)
        res = {"device": self.device, "batch": s["batch"], "steps": s["steps"], "reps": s["reps"],
               "ours_samples_per_s": round(best["ours"], 1) if best["ours"] else None,
               "pytorch_samples_per_s": round(best["pytorch"], 1) if best["pytorch"] else None}
        if best["ours"] and best["pytorch"]:
            res["ratio"] = round(best["ours"] / best["pytorch"], 3)
            res["target"] = TARGET_RATIO
            res["meets_target"] = res["ratio"] >= TARGET_RATIO
        if errors:
            return {**res, "ok": False, "error": "; ".join(f"{k}: {v}" for k, v in errors.items())}
        return {**res, "ok": True}

    def do_sms(self):
        config = os.path.join(self.work, "fashion-mnist-quick-gpu-check.yaml")
        sms_device = self.args.sms_device or self.device
        overrides = {"name": "gpu-check-fashion-mnist-quick", "device": sms_device, "data": {"dir": self.data_dir}}
        if self.mode == "cpu":
            overrides = merge(CPU_SMS_OVERRIDES, overrides)
        # The quick config with the overrides, written by the yaml package the CLI itself reads configs with.
        make = ("import { readFileSync, writeFileSync } from 'node:fs'; import YAML from 'yaml';"
                "const [src, dest, extra] = process.argv.slice(1);"
                "const merge = (a, b) => { for (const [k, v] of Object.entries(b)) a[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v; return a; };"
                "writeFileSync(dest, YAML.stringify(merge(YAML.parse(readFileSync(src, 'utf8')), JSON.parse(extra))));")
        code, _, text = self.run([self.node, "--input-type=module", "-e", make, "configs/fashion-mnist-quick.yaml", config,
                                  json.dumps(overrides)], self.log("sms"), 60)
        if code != 0:
            return {"ok": False, "error": f"could not write the config: {self.tail(text, 3)}"}
        runs = os.path.join(self.work, "runs")
        code, wall, text = self.run([self.node, "--import", "tsx", "src/cli/main.ts", "run", config, "--out", runs],
                                    self.log("sms"), self.limit("sms"))
        res = {"config": "configs/fashion-mnist-quick.yaml", "device": sms_device,
               "overrides": overrides if self.mode == "cpu" else {"device": sms_device, "data.dir": self.data_dir}}
        if code is None:
            return {**res, "ok": False, "error": f"timed out after {wall:.0f} s: {self.tail(text, 2)}"}
        if code != 0:
            # The CLI names a config error by its key: "sparse-soups: device: must be 'cpu' ... (in <config>)".
            refused = bool(re.search(r"^sparse-soups: device\b", text, re.M))
            return {**res, "ok": False, "refused": refused,
                    "error": (f"the pipeline refused device: {sms_device}: " if refused else f"exit {code}: ") + self.tail(text, 3)}
        results = None
        for dirpath, _, files in os.walk(runs):
            if "results.json" in files:
                results = os.path.join(dirpath, "results.json")
        if not results:
            return {**res, "ok": False, "error": "the run ended without results.json"}
        with open(results) as f:
            r = json.load(f)
        shutil.copy(results, os.path.join(self.out, "sms-results.json"))
        last = (r.get("phases") or [{}])[-1]
        res.update({"dense_test_accuracy": first_number(r.get("dense"), "testAccuracy"),
                    "soup_test_accuracy": first_number(last.get("soups", {}).get("uniform"), "testAccuracy"),
                    "candidate_mean_test_accuracy": first_number(last.get("candidateMean"), "testAccuracy"),
                    "final_sparsity": last.get("targetSparsity")})
        return {**res, "ok": True}

    def main(self):
        os.makedirs(self.out, exist_ok=True)
        for f in os.listdir(self.out):
            if f.endswith(".log") or f in ("result.json", "sms-results.json"):
                os.unlink(os.path.join(self.out, f))
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        say(f"{'dry run on the CPU' if self.mode == 'cpu' else 'GPU check'}: budget {self.args.budget} s; logs in {self.out}")
        wanted = self.args.steps.split(",") if self.args.steps else ["env", "node", "build", "tests", "resnet20", "sms"]
        # The build needs a PyTorch install (found by env even when env fails for want of a GPU), not env's success.
        plan = [("env", self.do_env, ()), ("node", self.do_node, ()), ("build", self.do_build, ("node",)),
                ("tests", self.do_tests, ("build",)), ("resnet20", self.do_resnet20, ("build",)), ("sms", self.do_sms, ("build",))]
        for name, fn, needs in plan:
            if name in wanted:
                self.step(name, fn, needs)
        summary = {
            "check": "sparse-soups gpu-check",
            "mode": "cuda" if self.mode == "cuda" else "cpu-dry-run",
            "ok": all(s.get("ok") for s in self.steps.values()),
            "resnet20_ratio": self.steps.get("resnet20", {}).get("ratio"),
            "resnet20_meets_target": self.steps.get("resnet20", {}).get("meets_target"),
            "wall_s": {name: s.get("wall_s") for name, s in self.steps.items()},
            "total_wall_s": round(time.monotonic() - self.t0, 1),
            "steps": self.steps,
        }
        with open(os.path.join(self.out, "result.json"), "w") as f:
            json.dump(summary, f, indent=2)
        print(json.dumps(summary), flush=True)
        return 0 if summary["ok"] else 1


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def first_number(obj, key):
    """obj[key] if it is a number, else the first such value found depth-first inside obj."""
    if isinstance(obj, dict):
        if isinstance(obj.get(key), (int, float)):
            return obj[key]
        for v in obj.values():
            found = first_number(v, key)
            if found is not None:
                return found
    return None


def dry_run(args):
    """Packs the bundle, copies the checkout (tracked and unignored files, no node_modules) and the bundle to a
    temporary folder, and runs the check there on the CPU with the packed Node alone: what a bare GPU machine gets."""
    code = subprocess.call(["node", os.path.join(REPO, "scripts", "gpu-check-pack.mjs")], cwd=REPO)
    if code != 0:
        say("packing failed")
        return code
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    tmp = tempfile.mkdtemp(prefix="sparse-soups-gpu-check-copy-")
    try:
        for rel in files:
            if not rel or rel == "node_modules" or rel.startswith("node_modules/"):
                continue
            src = os.path.join(REPO, rel)
            if not os.path.isfile(src) or os.path.islink(src):
                continue
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(tmp, rel))
        shutil.copytree(BUNDLE, os.path.join(tmp, ".gpu-check"),
                        ignore=lambda d, names: [n for n in names if d == BUNDLE and n not in
                                                 ("node.tar.xz", "node_modules.tar.xz", "fashion-mnist", "manifest.json")])
        say(f"copied the checkout and .gpu-check to {tmp}")
        cmd = [sys.executable, os.path.join(tmp, "scripts", "gpu_check.py"), "--cpu", "--out", os.path.abspath(args.out),
               "--work", os.path.join(tmp, ".work"), "--budget", str(args.budget)]
        if args.steps:
            cmd += ["--steps", args.steps]
        if args.sms_device:
            cmd += ["--sms-device", args.sms_device]
        if args.addon:
            cmd += ["--addon", os.path.abspath(args.addon)]
        env = {k: v for k, v in os.environ.items() if k not in ("GPU_CHECK_DRY_RUN", "SPARSE_SOUPS_ADDON", "LIBTORCH")}
        return subprocess.call(cmd, cwd=tmp, env={**env, "GPU_CHECK_NO_SYSTEM_NODE": "1"})
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def parse(argv):
    p = argparse.ArgumentParser(prog="gpu-check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu", action="store_true", help="run every step on the CPU with tiny sizes (checks the flow, not the GPU)")
    p.add_argument("--dry-run", action="store_true",
                   help="pack, copy the checkout to a temporary folder and run --cpu there with the packed Node alone")
    p.add_argument("--keep", action="store_true", help="--dry-run: keep the temporary copy")
    p.add_argument("--out", default=os.environ.get("OUT") or os.path.join(tempfile.gettempdir(), "sparse-soups-gpu-check", "out"),
                   help="logs and result.json (default: $OUT, else /tmp/sparse-soups-gpu-check/out)")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sparse-soups-gpu-check", "work"),
                   help="Node, the built addon, the config and the run (emptied first)")
    p.add_argument("--budget", type=float, default=None, help="seconds for the whole check (default 560; --cpu 1200)")
    p.add_argument("--steps", default="", help="comma-separated subset of env,node,build,tests,resnet20,sms")
    p.add_argument("--addon", default="", help="use this built addon instead of building one (skips the build)")
    p.add_argument("--sms-device", default="", help="the sms step's device (default: cuda, or cpu with --cpu)")
    a = p.parse_args(argv)
    if os.environ.get("GPU_CHECK_DRY_RUN") == "1":
        a.dry_run = True
    if a.dry_run:
        a.cpu = True
    if a.budget is None:
        a.budget = 1200.0 if a.cpu else 560.0
    return a


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    sys.exit(dry_run(args) if args.dry_run else Check(args).main())
