#!/usr/bin/env python3
"""Arithmetic of the unet-s workloads and the machine's measured fp32 GEMM peak (issue 16: achieved GFLOP/s).

Usage: /usr/bin/python3 bench/flops.py [--threads 2] [--batch 64]

Counts the multiply-adds of one unet-s forward pass (bench/unet_s_torch.py, the twin of our model) by intercepting
every conv2d, linear and matmul PyTorch runs (a FLOP = one multiply or one add: 2 per multiply-add; elementwise work
and normalisation are not counted, as is usual). A training step is taken as 3 forward passes of arithmetic
(forward, input gradient, weight gradient), the standard estimate. The peak is the best of several large square
float32 GEMMs (torch.mm, MKL/OpenBLAS) at the given thread count: the practical ceiling of this CPU.
Prints one JSON line: {forward_gflop, train_step_gflop, peak_gflops, threads, batch}.
"""
import argparse, json, os, sys, time

# torch.set_num_threads does not bind Debian's OpenBLAS, which does the GEMMs: set its thread count first
_t = sys.argv[sys.argv.index('--threads') + 1] if '--threads' in sys.argv else '2'
os.environ.setdefault('OPENBLAS_NUM_THREADS', _t)
os.environ.setdefault('OMP_NUM_THREADS', _t)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_s_torch import UNetS  # noqa: E402


class CountFlops(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func is F.conv2d:
            w = args[1]
            # each output element: C_in/groups * kh * kw multiply-adds
            self.flops += 2 * out.numel() * w.shape[1] * w.shape[2] * w.shape[3]
        elif func is F.linear:
            self.flops += 2 * out.numel() * args[1].shape[1]
        elif func in (torch.matmul, torch.Tensor.__matmul__, torch.bmm):
            self.flops += 2 * out.numel() * args[0].shape[-1]
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch', type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = UNetS()
    x = torch.randn(a.batch, 1, 28, 28)
    t = torch.full((a.batch,), 500.0)
    with torch.no_grad(), CountFlops() as c:
        model(x, t)
    fwd = c.flops
    best = 0.0
    for n in (1024, 2048):
        m1, m2 = torch.randn(n, n), torch.randn(n, n)
        torch.mm(m1, m2)
        for _ in range(5):
            t0 = time.perf_counter()
            torch.mm(m1, m2)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    print(json.dumps({'forward_gflop': fwd / 1e9, 'train_step_gflop': 3 * fwd / 1e9, 'peak_gflops': best,
                      'threads': a.threads, 'batch': a.batch, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
