#!/usr/bin/env python3
"""PyTorch twin of diffuse's `unet-s` for the benchmarks: images/s of a training step and of sampling forwards.

Usage:  /usr/bin/python3 bench/unet_s_torch.py [THREADS] [--train-steps N] [--sample-iters N] [--warmup N]
                                               [--classes] [--impl auto|standalone|oracle] [--check]
                                               [--serve train|sample]   (line protocol of bench/workers.ts)
Prints one JSON object on stdout, e.g.
  {"impl": "standalone", "threads": 2, "params": 1112801,
   "train": {"batch": 64, "steps": 10, "ms_per_step": ..., "images_per_s": ...},
   "sample": {"batch": 256, "iters": 3, "ms_per_forward": ..., "images_per_s": ...}}

What is measured
* train: one step = zero_grad, forward of the noisy batch x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps at random integer
  timesteps (DDPM linear betas 1e-4..0.02, 1000 steps), MSE to eps, backward, torch.optim.AdamW(lr=1e-3) step; batch 64
  of 1x28x28. Data, noise and timesteps are drawn outside the timed region (one fixed batch re-used).
* sample: one denoiser forward at batch 256 under torch.no_grad() (what each step of a sampler costs).
* torch.set_num_threads(THREADS) (default 2) and set_num_interop_threads(1).

Which network
* --impl standalone (default when the oracle is absent): `UNetS` below, a standalone torch implementation of
  diffusers' UNet2DModel for the unet-s config, written for diffuse: same layers, same parameter names (so diffusers'
  state dict loads into it with strict=True), same forward (AttnProcessor path: group norm, q/k/v, softmax(q k^T / sqrt(d)),
  to_out, residual).
* --impl oracle: diffusers' own UNet2DModel from the git-ignored tools/.ref/diffusers_models (see
  tools/fixtures/unet_torch.py for where it comes from). --impl auto picks the oracle when it imports.
* --check: builds both, copies the oracle's (default-initialised) weights into the standalone twin and asserts
  equal outputs (max |diff| printed), then exits.

unet-s (ARCHITECTURE.md section 4): sample 28, in/out 1, block_out_channels (32, 64, 64), layers_per_block 1,
down DownBlock2D, DownBlock2D, AttnDownBlock2D; up AttnUpBlock2D, UpBlock2D, UpBlock2D; GroupNorm(8), eps 1e-5;
SiLU; attention head dim 8; time embedding 128 = 4 * 32; optional 10-class embedding (--classes).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import serve_protocol

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = dict(
    sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8, attention_head_dim=8,
)


# ------------------------------------------------------------------------------------------------ standalone twin
def sinusoid(t, dim):
    """[sin, cos] flipped to [cos, sin] (flip_sin_to_cos=True, freq_shift=0): freq_i = exp(-ln(1e4) i / half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    arg = t[:, None].float() * freqs[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)


class TimeMLP(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class SelfAttention(nn.Module):
    def __init__(self, ch, head_dim, groups, eps):
        super().__init__()
        self.heads, self.head_dim = ch // head_dim, head_dim
        self.group_norm = nn.GroupNorm(groups, ch, eps=eps)
        self.to_q = nn.Linear(ch, ch)
        self.to_k = nn.Linear(ch, ch)
        self.to_v = nn.Linear(ch, ch)
        self.to_out = nn.ModuleList([nn.Linear(ch, ch), nn.Dropout(0.0)])

    def forward(self, x):
        n, c, h, w = x.shape
        tok = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)

        def heads(t):
            return t.reshape(n, h * w, self.heads, self.head_dim).permute(0, 2, 1, 3)

        q, k, v = heads(self.to_q(tok)), heads(self.to_k(tok)), heads(self.to_v(tok))
        p = torch.softmax(q @ k.transpose(-1, -2) * self.head_dim ** -0.5, dim=-1)
        o = (p @ v).permute(0, 2, 1, 3).reshape(n, h * w, c)
        o = self.to_out[1](self.to_out[0](o))
        return o.transpose(1, 2).reshape(n, c, h, w) + x


class Resample(nn.Module):
    """Holds `conv` like diffusers' Downsample2D(name="op") / Upsample2D(name="conv")."""

    def __init__(self, ch, down):
        super().__init__()
        self.down = down
        self.conv = nn.Conv2d(ch, ch, 3, stride=2 if down else 1, padding=1)

    def forward(self, x):
        return self.conv(x if self.down else F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Block(nn.Module):
    def __init__(self, resnets, attn, resample, **kw):
        super().__init__()
        if attn is not None:
            self.attentions = nn.ModuleList(attn)
        self.resnets = nn.ModuleList(resnets)
        if resample is not None:
            setattr(self, "downsamplers" if resample.down else "upsamplers", nn.ModuleList([resample]))


class UNetS(nn.Module):
    def __init__(self, num_class_embeds=None, block_out_channels=(32, 64, 64)):
        super().__init__()
        boc, g, eps, hd = tuple(block_out_channels), 8, 1e-5, 8
        temb = 4 * boc[0]
        self.time_proj_dim = boc[0]  # diffusers' Timesteps(block_out_channels[0])
        self.conv_in = nn.Conv2d(1, boc[0], 3, padding=1)
        self.time_embedding = TimeMLP(boc[0], temb)
        self.class_embedding = nn.Embedding(num_class_embeds, temb) if num_class_embeds else None
        attn_down = [False, False, True]
        self.down_blocks = nn.ModuleList()
        cout = boc[0]
        for i, c in enumerate(boc):
            cin, cout = cout, c
            self.down_blocks.append(Block(
                [ResBlock(cin, cout, temb, g, eps)],
                [SelfAttention(cout, hd, g, eps)] if attn_down[i] else None,
                Resample(cout, True) if i < len(boc) - 1 else None))
        rev = list(reversed(boc))
        attn_up = [True, False, False]
        self.up_blocks = nn.ModuleList()
        cout = rev[0]
        for i, c in enumerate(rev):
            prev, cout = cout, c
            skip_in = rev[min(i + 1, len(boc) - 1)]
            res = [ResBlock(prev + cout, cout, temb, g, eps), ResBlock(cout + skip_in, cout, temb, g, eps)]
            self.up_blocks.append(Block(
                res, [SelfAttention(cout, hd, g, eps) for _ in res] if attn_up[i] else None,
                Resample(cout, False) if i < len(boc) - 1 else None))
        self.mid_block = Block([ResBlock(boc[-1], boc[-1], temb, g, eps), ResBlock(boc[-1], boc[-1], temb, g, eps)],
                               [SelfAttention(boc[-1], hd, g, eps)], None)
        self.conv_norm_out = nn.GroupNorm(g, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], 1, 3, padding=1)

    def forward(self, x, t, class_labels=None):
        emb = self.time_embedding(sinusoid(t * torch.ones(x.shape[0], dtype=t.dtype), self.time_proj_dim))
        if self.class_embedding is not None:
            emb = emb + self.class_embedding(class_labels)
        h = self.conv_in(x)
        skips = [h]
        for b in self.down_blocks:
            for i, r in enumerate(b.resnets):
                h = r(h, emb)
                if hasattr(b, "attentions"):
                    h = b.attentions[i](h)
                skips.append(h)
            if hasattr(b, "downsamplers"):
                h = b.downsamplers[0](h)
                skips.append(h)
        m = self.mid_block
        h = m.resnets[1](m.attentions[0](m.resnets[0](h, emb)), emb)
        for b in self.up_blocks:
            for i, r in enumerate(b.resnets):
                h = r(torch.cat([h, skips.pop()], dim=1), emb)
                if hasattr(b, "attentions"):
                    h = b.attentions[i](h)
            if hasattr(b, "upsamplers"):
                h = b.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# ------------------------------------------------------------------------------------------------ oracle
def load_oracle():
    sys.path.insert(0, os.path.join(ROOT, "tools", ".ref", "diffusers_models"))
    from diffusers.models.unets.unet_2d import UNet2DModel  # noqa: E402
    return UNet2DModel


class OracleWrapper(nn.Module):
    def __init__(self, cls, num_class_embeds=None):
        super().__init__()
        self.model = cls(**CONFIG, num_class_embeds=num_class_embeds)

    def forward(self, x, t, class_labels=None):
        return self.model(x, t, class_labels=class_labels).sample


def check():
    cls = load_oracle()
    torch.manual_seed(0)
    oracle = cls(**CONFIG, num_class_embeds=10)
    twin = UNetS(num_class_embeds=10)
    twin.load_state_dict(oracle.state_dict(), strict=True)
    assert [k for k in twin.state_dict()] == [k for k in oracle.state_dict()], "state-dict order differs"
    x = torch.randn(3, 1, 28, 28)
    t = torch.tensor([1.0, 500.0, 999.0])
    y = torch.tensor([0, 5, 9])
    with torch.no_grad():
        a, b = oracle(x, t, class_labels=y).sample, twin(x, t, y)
    diff = (a - b).abs().max().item()
    print(json.dumps({"check": "standalone UNetS vs diffusers UNet2DModel (oracle)", "params": sum(p.numel() for p in twin.parameters()),
                      "max_abs_diff": diff, "output_abs_max": a.abs().max().item()}))
    assert diff < 1e-5, diff


# ------------------------------------------------------------------------------------------------ benchmark
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("threads", nargs="?", type=int, default=2)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--sample-iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--classes", action="store_true")
    ap.add_argument("--impl", choices=["auto", "standalone", "oracle"], default="auto")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--serve", choices=["train", "sample"], help="line protocol of bench/workers.ts for one workload")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if a.check:
        check()
        return
    ncls = 10 if a.classes else None
    impl = a.impl
    if impl in ("auto", "oracle"):
        try:
            cls = load_oracle()
            impl = "oracle"
        except ImportError:
            if impl == "oracle":
                raise SystemExit("--impl oracle: tools/.ref/diffusers_models is missing (see tools/fixtures/unet_torch.py)")
            impl = "standalone"
    torch.manual_seed(0)
    model = OracleWrapper(cls, ncls) if impl == "oracle" else UNetS(ncls)
    params = sum(p.numel() for p in model.parameters())

    # DDPM forward process on a fixed batch (Ho et al. 2020 eq. (4)), linear betas
    betas = torch.linspace(1e-4, 0.02, 1000)
    abar = torch.cumprod(1 - betas, 0)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(64, 1, 28, 28, generator=g) * 2 - 1
    eps = torch.randn(64, 1, 28, 28, generator=g)
    t = torch.randint(0, 1000, (64,), generator=g)
    xt = abar[t].sqrt()[:, None, None, None] * x0 + (1 - abar[t]).sqrt()[:, None, None, None] * eps
    tf = t.float()
    labels = torch.randint(0, 10, (64,), generator=g) if ncls else None
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(xt, tf, labels), eps)
        loss.backward()
        opt.step()
        return loss.item()

    if a.serve:
        if a.serve == "sample":
            model.eval()
        xs = torch.randn(256, 1, 28, 28, generator=g)
        ts = torch.full((256,), 500.0)
        ls = torch.randint(0, 10, (256,), generator=g) if ncls else None

        def forward():
            with torch.no_grad():
                model(xs, ts, ls)
        serve(a.serve, {"train": step, "sample": forward}[a.serve], impl, a.threads, params)
        return
    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.train_steps):
        step()
    train_s = (time.perf_counter() - t0) / a.train_steps

    model.eval()
    xs = torch.randn(256, 1, 28, 28, generator=g)
    ts = torch.full((256,), 500.0)
    ls = torch.randint(0, 10, (256,), generator=g) if ncls else None
    with torch.no_grad():
        for _ in range(max(1, a.warmup // 2)):
            model(xs, ts, ls)
        t0 = time.perf_counter()
        for _ in range(a.sample_iters):
            model(xs, ts, ls)
        sample_s = (time.perf_counter() - t0) / a.sample_iters

    print(json.dumps({
        "impl": impl, "torch_version": torch.__version__, "threads": a.threads, "params": params, "classes": bool(ncls),
        "train": {"batch": 64, "steps": a.train_steps, "ms_per_step": round(train_s * 1e3, 2), "images_per_s": round(64 / train_s, 1)},
        "sample": {"batch": 256, "iters": a.sample_iters, "ms_per_forward": round(sample_s * 1e3, 2), "images_per_s": round(256 / sample_s, 1)},
    }))


def serve(workload, rep, impl, threads, params):
    """bench/workers.ts protocol (bench/serve_protocol.py) for one workload."""
    serve_protocol.serve({"workload": workload, "impl": impl, "torch_version": torch.__version__, "threads": threads, "params": params}, rep)


if __name__ == "__main__":
    main()
