#!/usr/bin/env python3
"""Check of the twin's samplers (bench/mnist/twin.py) against a closed form: for data x0 ~ N(0, c^2) the exact
noise prediction is eps(x_t, t) = x_t sqrt(1 - abar_t) / (abar_t c^2 + 1 - abar_t), so a correct sampler run on it
returns samples of standard deviation c. Prints the std each sampler reaches at 10 and 50 steps (c = 0.3).

Usage: /usr/bin/python3 bench/mnist/twin_sampler_check.py
"""
import math
import os
import torch

src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'twin.py')).read()
block = src[src.index('def ddim'):src.index('SAMPLERS = ')]  # the samplers exactly as the twin runs them
T = 1000
betas = torch.linspace(1e-4, 0.02, T)
abar = torch.cumprod(1 - betas, 0)
c = 0.3
log_s2 = ((1 - abar) / abar).log()


def ema(x, t, _cls):
    """Exact eps of x0 ~ N(0, c^2) at a (fractional) timestep, abar interpolated in log sigma as the table is."""
    ti = t[0].item()
    i = min(int(ti), T - 2)
    w = ti - i
    ab = 1 / (1 + ((1 - w) * log_s2[i] + w * log_s2[i + 1]).exp())
    return x * math.sqrt(1 - ab) / (ab * c * c + 1 - ab)


ns, cls = 20000, None
exec(block)
for k in (10, 50):
    for f in (ddim, dpmpp_2m_karras):
        torch.manual_seed(0)
        x = f(torch.randn(ns, 1, 1, 1), k)
        print(f'{f.__name__:16s} {k:3d} steps: std {x.std().item():.4f} (exact {c}), mean {x.mean().item():+.4f}')
