#!/usr/bin/env python3
"""PyTorch twin of the MNIST quality run (bench/mnist/quality.ts): unet-s trained for a fixed wall time.

Usage: /usr/bin/python3 bench/mnist/twin.py DATA.bin OUT.bin --minutes M [--threads 2] [--seed 0] [--classes]
       [--samples 64] [--sample-steps 50]
DATA.bin: uint32 N, then N*784 uint8 pixels, then N uint8 labels (written by quality.ts from the `mnist` package).
Recipe (the standard one; quality.ts runs diffuse with it unless its flags say otherwise): DDPM linear betas 1e-4..0.02, T = 1000, epsilon MSE, AdamW lr 1e-3 (betas 0.9/0.999,
weight decay 0) with 100 warm-up steps then constant, clip_grad_norm 1.0, batch 64, EMA with warm-up
(decay = min(0.999, 1 - (1 + step/1)^-0.75), diffusers' EMAModel rule), then --samples samples with deterministic DDIM,
--sample-steps steps, leading spacing (diffusers' DDIMScheduler defaults, set_alpha_to_one, clip_sample); with
--samplers ddim,dpmpp-2m-karras also by DPM-Solver++(2M) on the Karras sigma grid (diffusers' DPMSolverMultistepScheduler
with use_karras_sigmas), each from the same noise.
Writes OUT.bin: per sampler, uint32 n, uint32 steps, float32 training seconds, float32 sampling seconds, then n*784
float32 samples in [-1, 1], then n uint8 labels (the class asked for, cycling 0..9, when --classes).
"""
import argparse, copy, math, os, struct, sys, time
import torch
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from unet_s_torch import UNetS  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('data'); ap.add_argument('out')
ap.add_argument('--minutes', type=float, required=True)
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--seed', type=int, default=0)
ap.add_argument('--classes', action='store_true')
ap.add_argument('--samples', type=int, default=64)
ap.add_argument('--sample-steps', type=int, default=50)
ap.add_argument('--samplers', default='ddim', help='comma list of ddim, dpmpp-2m-karras, each NAME or NAME:STEPS (default --sample-steps); one record each in OUT')
ap.add_argument('--channels', default='32,64,64', help='block_out_channels (the width lever; default unet-s)')
a = ap.parse_args()
torch.set_num_threads(a.threads); torch.set_num_interop_threads(1)
torch.manual_seed(a.seed)

raw = open(a.data, 'rb').read()
n = struct.unpack('<I', raw[:4])[0]
x_all = torch.frombuffer(bytearray(raw[4:4 + n * 784]), dtype=torch.uint8).float().view(n, 1, 28, 28) / 127.5 - 1
y_all = torch.frombuffer(bytearray(raw[4 + n * 784:4 + n * 785]), dtype=torch.uint8).long()

T = 1000
betas = torch.linspace(1e-4, 0.02, T)
abar = torch.cumprod(1 - betas, 0)
model = UNetS(num_class_embeds=10 if a.classes else None,
              block_out_channels=[int(c) for c in a.channels.split(',')])
ema = copy.deepcopy(model).requires_grad_(False)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
B = 64
step, t0 = 0, time.time()
perm, pos = torch.randperm(n), 0
while time.time() - t0 < a.minutes * 60:
    if pos + B > n: perm, pos = torch.randperm(n), 0
    idx = perm[pos:pos + B]; pos += B
    x0, y = x_all[idx], y_all[idx]
    t = torch.randint(0, T, (B,))
    eps = torch.randn_like(x0)
    s = abar[t].view(B, 1, 1, 1)
    xt = s.sqrt() * x0 + (1 - s).sqrt() * eps
    for g in opt.param_groups: g['lr'] = 1e-3 * min(1.0, (step + 1) / 100)
    loss = F.mse_loss(model(xt, t.float(), y if a.classes else None), eps)
    opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); step += 1
    d = min(0.999, 1 - (1 + max(0, step - 1)) ** -0.75)
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()): pe.mul_(d).add_(pm, alpha=1 - d)
secs = time.time() - t0
print(f'twin: {step} steps in {secs:.0f} s ({step / secs:.2f} it/s), last loss {loss.item():.4f}', file=sys.stderr)

ns = a.samples
labels = torch.arange(ns) % 10
cls = labels if a.classes else None


def ddim(x, k):
    """DDIM, k steps, leading spacing (k = 50: timesteps 980, 960, ..., 0), eta 0, clip_sample to [-1, 1]."""
    ts = list(range(0, T, T // k))[::-1]
    for t in ts:
        prev = t - T // k
        a_t = abar[t]; a_p = abar[prev] if prev >= 0 else torch.tensor(1.0)
        e = ema(x, torch.full((ns,), float(t)), cls)
        x0 = ((x - (1 - a_t).sqrt() * e) / a_t.sqrt()).clamp(-1, 1)
        x = a_p.sqrt() * x0 + (1 - a_p).sqrt() * e
    return x


# the training schedule as noise levels sigma_t = sqrt((1 - abar_t) / abar_t), t = 0..T-1
log_sig = ((1 - abar) / abar).sqrt().log()


def t_of_sigma(sigma):
    """The (fractional) training timestep of noise level sigma: linear in log sigma between table entries."""
    ls = math.log(sigma)
    i = int(torch.searchsorted(log_sig, torch.tensor(ls)).clamp(1, T - 1))
    w = (ls - log_sig[i - 1].item()) / (log_sig[i] - log_sig[i - 1]).item()
    return (i - 1) + min(max(w, 0.0), 1.0)


def dpmpp_2m_karras(x, k):
    """DPM-Solver++(2M) (Lu et al. 2022, multistep second order, data prediction) on the Karras et al. 2022
    grid (rho 7, k steps from the table's largest to its smallest sigma, then 0), the eps model seen as a
    denoiser in the variance-exploding variable x / alpha: D(x, sigma) = x - sigma * eps(alpha x, t(sigma)),
    D clamped to [-1, 1] as DDIM's clip_sample does."""
    smin, smax, rho = log_sig[0].exp().item(), log_sig[-1].exp().item(), 7.0
    ramp = torch.linspace(0, 1, k)
    sig = ((smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho).tolist() + [0.0]
    x = x * sig[0]
    old = None
    for i in range(k):
        s, s_next = sig[i], sig[i + 1]
        alpha = 1 / math.sqrt(1 + s * s)
        d = (x - s * ema(x * alpha, torch.full((ns,), t_of_sigma(s)), cls)).clamp(-1, 1)
        if s_next == 0:
            x = d
        else:
            h = math.log(s / s_next)
            if old is None:
                dd = d
            else:
                r = math.log(sig[i - 1] / s) / h
                dd = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * old
            x = (s_next / s) * x - math.expm1(-h) * dd
        old = d
    return x


SAMPLERS = {'ddim': ddim, 'dpmpp-2m-karras': dpmpp_2m_karras}
with open(a.out, 'wb') as f:
    for entry in a.samplers.split(','):
        name, _, k = entry.partition(':')
        torch.manual_seed(1234)
        t1 = time.time()
        with torch.no_grad():
            x = SAMPLERS[name](torch.randn(ns, 1, 28, 28), int(k) if k else a.sample_steps)
        f.write(struct.pack('<IIff', ns, step, secs, time.time() - t1))
        f.write(x.clamp(-1, 1).contiguous().numpy().astype('float32').tobytes())
        f.write(bytes(labels.tolist()))
