#!/usr/bin/python3
"""PyTorch twin of bench/engine.ts: the same workloads, timed the same way (milliseconds).

Two modes:
  /usr/bin/python3 bench/engine_torch.py --threads 2 --reps 10 --warmup 2
      each case: `warmup` untimed calls, then `reps` timed calls; prints one JSON line.
  /usr/bin/python3 bench/engine_torch.py --threads 2 --serve
      (what bench/engine.ts uses) prints {"torch": version, "threads": n, "cases": [...]}, then for each
      input line "<case>\t<calls>" runs the case that many times and prints the times as a JSON list,
      so that the TypeScript side can alternate single repetitions of ours and PyTorch's under the same
      machine load.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=2)
p.add_argument('--reps', type=int, default=10)
p.add_argument('--warmup', type=int, default=2)
p.add_argument('--serve', action='store_true')
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


a = torch.rand(1024, 1024) - 0.5
b = torch.rand(1024, 1024) - 0.5
x = torch.rand(32, 64, 32, 32) - 0.5
w = (torch.rand(64, 64, 3, 3) - 0.5) * 0.1
g = torch.rand(32, 64, 32, 32) - 0.5
xr = x.clone().requires_grad_(True)
wr = w.clone().requires_grad_(True)


def conv_fwd():
    with torch.no_grad():
        return F.conv2d(x, w, padding=1)


def conv_fwd_bwd():
    xr.grad = None
    wr.grad = None
    y = F.conv2d(xr, wr, padding=1)
    y.backward(g)
    return y, xr.grad, wr.grad


def matmul():
    with torch.no_grad():
        return a @ b


CASES = {
    'matmul 1024^3': matmul,
    'conv2d 3x3 fwd': conv_fwd,
    'conv2d 3x3 fwd+dx+dW': conv_fwd_bwd,
}


def run_n(fn, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


if args.serve:
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'cases': list(CASES)}), flush=True)
    for line in sys.stdin:
        name, n = line.rstrip('\n').split('\t')
        print(json.dumps(run_n(CASES[name], int(n))), flush=True)
    sys.exit(0)

out = {
    'torch': torch.__version__,
    'threads': torch.get_num_threads(),
    'times': {name: (run_n(fn, args.warmup), run_n(fn, args.reps))[1] for name, fn in CASES.items()},
}
print(json.dumps(out))
