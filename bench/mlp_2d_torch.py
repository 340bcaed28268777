#!/usr/bin/env python3
"""PyTorch twin of diffuse's `mlp-2d` for the benchmarks (bench/mlp_2d.ts): a training step and 20-step DDIM sampling.

Usage:  /usr/bin/python3 bench/mlp_2d_torch.py [THREADS] --serve train|sample     (line protocol of bench/workers.ts)
        /usr/bin/python3 bench/mlp_2d_torch.py [THREADS]                          (one JSON summary)

The network (src/models/mlp.ts, config 'mlp-2d'): h0 = [x, emb(t)] with emb the 64-d sinusoidal embedding
[cos, sin] (flip_sin_to_cos, freq_shift 0: freq_i = exp(-ln(1e4) i / 32)), three Linear(.., 128) + SiLU, Linear(128, 2).
Parameter names as ours (layers.k.weight|bias, proj_out.weight|bias).

* train: batch 128 of 2-D points in [-1, 1]^2, x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps at random integer timesteps
  (DDPM linear betas 1e-4..0.02, 1000 steps; Ho et al. 2020 eq. (4)), MSE to eps, backward, AdamW(lr=1e-3); one
  fixed batch drawn outside the timed region (as ours).
* sample: 10,000 points, 20 deterministic DDIM steps (Song et al. 2021 eq. (12) with eta = 0; 'leading' timesteps
  t_i = 950, 900, ..., 0 and alpha-bar_prev = 1 after the last step, as diffusers' DDIMScheduler and ours), under
  torch.no_grad().
* torch.set_num_threads(THREADS) (default 2), set_num_interop_threads(1).
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from serve_protocol import serve


class MLP2D(nn.Module):
    def __init__(self, cin=2, hidden=(128, 128, 128), tdim=64):
        super().__init__()
        self.tdim = tdim
        widths = [cin + tdim, *hidden]
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.proj_out = nn.Linear(widths[-1], cin)
        half = tdim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half))

    def forward(self, x, t):
        arg = t[:, None] * self.freqs[None, :]
        h = torch.cat([x, torch.cos(arg), torch.sin(arg)], dim=1)
        for layer in self.layers:
            h = F.silu(layer(h))
        return self.proj_out(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("threads", nargs="?", type=int, default=2)
    ap.add_argument("--serve", choices=["train", "sample"])
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    model = MLP2D()
    params = sum(p.numel() for p in model.parameters())
    betas = torch.linspace(1e-4, 0.02, 1000)
    abar = torch.cumprod(1 - betas, 0)
    g = torch.Generator().manual_seed(1)

    x0 = torch.rand(128, 2, generator=g) * 2 - 1
    eps = torch.randn(128, 2, generator=g)
    t = torch.randint(0, 1000, (128,), generator=g)
    xt = abar[t].sqrt()[:, None] * x0 + (1 - abar[t]).sqrt()[:, None] * eps
    tf = t.float()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(xt, tf), eps)
        loss.backward()
        opt.step()
        return loss.item()

    noise = torch.randn(10000, 2, generator=g)
    steps = 20
    timesteps = [i * (1000 // steps) for i in range(steps)][::-1]   # 'leading' spacing, steps_offset 0

    def sample():
        with torch.no_grad():
            x = noise.clone()
            for i, ti in enumerate(timesteps):
                e = model(x, torch.full((x.shape[0],), float(ti)))
                a_t = abar[ti]
                a_prev = abar[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0)
                x0_hat = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()                 # DDIM eq. (12), predicted x0
                x = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * e             # direction to x_t, eta = 0
            return x

    reps = {"train": train_step, "sample": sample}
    if a.serve:
        rep = reps[a.serve]
        serve({"workload": a.serve, "torch_version": torch.__version__, "threads": a.threads, "params": params}, rep)
        return
    out = {"torch_version": torch.__version__, "threads": a.threads, "params": params}
    for name, rep in reps.items():
        rep()
        t0 = time.perf_counter()
        for _ in range(a.reps):
            rep()
        out[name] = {"ms": round((time.perf_counter() - t0) / a.reps * 1e3, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
