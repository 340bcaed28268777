#!/usr/bin/env python3
"""Train an unconditional UNet2DModel with diffusers (+ accelerate for multi-GPU), on an image folder written by
`diffuse export-data`, and save a pipeline folder that diffuse samples, evaluates and exports (docs/interop.md,
"the scale-out road").

Modelled on diffusers' examples/unconditional_image_generation/train_unconditional.py (same flags where they exist,
same recipe: DDPMScheduler forward process, uniform integer timesteps, MSE on epsilon, AdamW, warmup + cosine LR,
gradient clipping at 1, optional EMA, DDPMPipeline.save_pretrained at the end), written for diffuse with fewer
dependencies: the images are read with Pillow (resize the shorter side to --resolution, center crop, optional flip,
scale to [-1, 1]; grayscale kept with --channels 1), so neither `datasets` nor `torchvision` is needed, and
`accelerate` is used when installed (multi-GPU: `accelerate launch tools/scaleout/train_unconditional.py ...`),
otherwise one process on one device.

Typical use (GPU machine, `pip install torch diffusers accelerate`):
    diffuse export-data mnist data/mnist_png
    accelerate launch tools/scaleout/train_unconditional.py --train_data_dir data/mnist_png --channels 1 \\
        --resolution 28 --model_config_name_or_path tools/scaleout/unet_mnist_config.json --output_dir runs/ddpm-mnist \\
        --train_batch_size 128 --num_epochs 20 --use_ema
    diffuse sample runs/ddpm-mnist --out samples.png; diffuse eval runs/ddpm-mnist; diffuse export runs/ddpm-mnist --onnx m.onnx
"""
import argparse
import json
import math
import os
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

try:  # only on machines with an older torch (diffuse's own test machine): names newer diffusers expects
    import torch_compat  # noqa: F401
except ImportError:
    pass

from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel  # noqa: E402
from diffusers.optimization import get_scheduler  # noqa: E402

EXTENSIONS = (".png", ".jpg", ".jpeg")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train_data_dir", required=True, help="folder of PNG/JPEG images (subfolders are searched)")
    p.add_argument("--output_dir", required=True, help="where the DDPMPipeline folder is written")
    p.add_argument("--model_config_name_or_path", default=None, help="a UNet2DModel config.json (default: a small 3-level UNet)")
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--channels", type=int, default=3, choices=[1, 3], help="1: grayscale, 3: RGB (diffusers' script: always RGB)")
    p.add_argument("--center_crop", action="store_true", default=True)
    p.add_argument("--random_flip", action="store_true")
    p.add_argument("--train_batch_size", type=int, default=16)
    p.add_argument("--num_epochs", type=int, default=100)
    p.add_argument("--max_train_steps", type=int, default=None, help="stop after this many optimizer steps (overrides --num_epochs)")
    p.add_argument("--gradient_accumulation_steps", type=int, default=1)
    p.add_argument("--learning_rate", type=float, default=1e-4)
    p.add_argument("--lr_scheduler", default="cosine")
    p.add_argument("--lr_warmup_steps", type=int, default=500)
    p.add_argument("--adam_beta1", type=float, default=0.95)
    p.add_argument("--adam_beta2", type=float, default=0.999)
    p.add_argument("--adam_weight_decay", type=float, default=1e-6)
    p.add_argument("--adam_epsilon", type=float, default=1e-08)
    p.add_argument("--use_ema", action="store_true")
    p.add_argument("--ema_inv_gamma", type=float, default=1.0)
    p.add_argument("--ema_power", type=float, default=3 / 4)
    p.add_argument("--ema_max_decay", type=float, default=0.9999)
    p.add_argument("--ddpm_num_steps", type=int, default=1000)
    p.add_argument("--ddpm_beta_schedule", default="linear")
    p.add_argument("--prediction_type", default="epsilon", choices=["epsilon", "sample", "v_prediction"])
    p.add_argument("--mixed_precision", default="no", choices=["no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataloader_num_workers", type=int, default=0)
    return p.parse_args(argv)


class ImageFolder(torch.utils.data.Dataset):
    """Every image under root: shorter side resized to `size` (bilinear), center crop, [-1, 1], C x H x W."""

    def __init__(self, root, size, channels, flip):
        self.files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
                            if f.lower().endswith(EXTENSIONS) and not f.startswith("."))
        if not self.files:
            sys.exit(f"--train_data_dir {root}: no PNG or JPEG images found")
        self.size, self.mode, self.flip = size, "L" if channels == 1 else "RGB", flip

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(self.files[i]).convert(self.mode)
        w, h = img.size
        s = self.size / min(w, h)
        img = img.resize((max(self.size, round(w * s)), max(self.size, round(h * s))), Image.BILINEAR)
        w, h = img.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        if self.flip and random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        a = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        return {"input": torch.from_numpy(np.ascontiguousarray(a))}


class SingleProcess:
    """The part of accelerate.Accelerator this script uses, for machines without accelerate (one process)."""

    num_processes, is_main_process = 1, True

    def __init__(self, gradient_accumulation_steps=1, mixed_precision="no"):
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.sync_gradients = True
        self._micro = 0

    def prepare(self, *objs):
        return tuple(o.to(self.device) if isinstance(o, torch.nn.Module) else o for o in objs)

    def accumulate(self, model):
        acc = self
        class _Ctx:
            def __enter__(self):
                acc._micro += 1
                acc.sync_gradients = acc._micro % acc.gradient_accumulation_steps == 0
            def __exit__(self, *a):
                return False
        return _Ctx()

    def backward(self, loss):
        (loss / self.gradient_accumulation_steps).backward()

    def clip_grad_norm_(self, params, max_norm):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def unwrap_model(self, model):
        return model

    def print(self, *a):
        print(*a, flush=True)

    def wait_for_everyone(self):
        pass


def default_config(resolution, channels):
    return dict(sample_size=resolution, in_channels=channels, out_channels=channels, layers_per_block=2,
                block_out_channels=(32, 64, 64), down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8, attention_head_dim=8)


def main(args):
    try:
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps, mixed_precision=args.mixed_precision)
        set_seed(args.seed)
    except ImportError:
        accelerator = SingleProcess(args.gradient_accumulation_steps, args.mixed_precision)
        torch.manual_seed(args.seed)
        random.seed(args.seed)

    if args.model_config_name_or_path:
        model = UNet2DModel.from_config(UNet2DModel.load_config(args.model_config_name_or_path))
    else:
        model = UNet2DModel(**default_config(args.resolution, args.channels))
    noise_scheduler = DDPMScheduler(num_train_timesteps=args.ddpm_num_steps, beta_schedule=args.ddpm_beta_schedule,
                                    prediction_type=args.prediction_type)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, betas=(args.adam_beta1, args.adam_beta2),
                                  weight_decay=args.adam_weight_decay, eps=args.adam_epsilon)
    dataset = ImageFolder(args.train_data_dir, args.resolution, args.channels, args.random_flip)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.train_batch_size, shuffle=True, drop_last=True,
                                         num_workers=args.dataloader_num_workers,
                                         generator=torch.Generator().manual_seed(args.seed))
    if len(loader) == 0:
        sys.exit(f"--train_batch_size {args.train_batch_size} is larger than the {len(dataset)} images")
    steps_per_epoch = math.ceil(len(loader) / args.gradient_accumulation_steps)
    max_steps = args.max_train_steps or args.num_epochs * steps_per_epoch
    lr_scheduler = get_scheduler(args.lr_scheduler, optimizer=optimizer,
                                 num_warmup_steps=args.lr_warmup_steps * args.gradient_accumulation_steps,
                                 num_training_steps=max_steps * args.gradient_accumulation_steps)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    ema = None
    if args.use_ema:
        try:  # imported here: on torch 1.13 + Python 3.11 diffusers.training_utils fails to import (torch's fsdp module)
            from diffusers.training_utils import EMAModel
        except Exception as e:  # noqa: BLE001
            sys.exit(f"--use_ema needs diffusers.training_utils, which failed to import here: {e}")
        ema = EMAModel(accelerator.unwrap_model(model).parameters(), decay=args.ema_max_decay, use_ema_warmup=True,
                       inv_gamma=args.ema_inv_gamma, power=args.ema_power, model_cls=UNet2DModel,
                       model_config=accelerator.unwrap_model(model).config)
        ema.to(accelerator.device)
    accelerator.print(f"{len(dataset)} images, batch {args.train_batch_size} x {accelerator.num_processes} process(es), "
                      f"{max_steps} optimizer steps, {sum(p.numel() for p in model.parameters())} parameters")

    step, losses = 0, []
    while step < max_steps:
        model.train()
        for batch in loader:
            clean = batch["input"].to(accelerator.device)
            noise = torch.randn_like(clean)
            t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (clean.shape[0],), device=clean.device).long()
            noisy = noise_scheduler.add_noise(clean, noise, t)
            with accelerator.accumulate(model):
                out = model(noisy, t).sample
                if args.prediction_type == "epsilon":
                    target = noise
                elif args.prediction_type == "sample":
                    target = clean
                else:
                    target = noise_scheduler.get_velocity(clean, noise, t)
                loss = F.mse_loss(out.float(), target.float())
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    lr_scheduler.step()
                    optimizer.zero_grad()
            if accelerator.sync_gradients:
                if ema is not None:
                    ema.step(accelerator.unwrap_model(model).parameters())
                step += 1
                losses.append(loss.item())
                if step % 10 == 0 or step == max_steps:
                    accelerator.print(f"step {step}/{max_steps} loss {np.mean(losses[-10:]):.4f} lr {lr_scheduler.get_last_lr()[0]:.2e}")
                if step >= max_steps:
                    break

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unet = accelerator.unwrap_model(model)
        if ema is not None:
            ema.copy_to(unet.parameters())
        DDPMPipeline(unet=unet, scheduler=noise_scheduler).save_pretrained(args.output_dir)
        with open(os.path.join(args.output_dir, "train_log.json"), "w") as f:
            json.dump({"steps": step, "losses": losses, "args": vars(args)}, f, indent=1)
        accelerator.print(f"saved the pipeline to {args.output_dir}")


if __name__ == "__main__":
    main(parse_args())
