/**
 * Beta and alphaBar tables against diffusers' own DDPMScheduler / betas_for_alpha_bar run under PyTorch
 * (test/fixtures/diffusers/schedules.json, tools/fixtures/diffusers_schedulers.py write_schedules).
 * Expected: bit-exact, except the sigmoid schedule where torch.sigmoid's vectorised exp may differ from a
 * correctly rounded one by an ulp (checked at 2 ulp = 2.4e-7 relative).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { alphasFromBetas, betasFor, betasForAlphaBar } from '../../src/schedules/betas.ts';

const fx = JSON.parse(readFileSync(new URL('../fixtures/diffusers/schedules.json', import.meta.url), 'utf8'));

function check(got: ArrayLike<number>, want: number[], idx: number[] | null, rtol: number, what: string): void {
  want.forEach((w, k) => {
    const i = idx ? idx[k] : k;
    const g = got[i],
      e = Math.fround(w);
    assert.ok(g === e || Math.abs(g - e) <= rtol * Math.abs(e), `${what}[${i}]: ${g} vs diffusers ${e}`);
  });
}

for (const e of fx.schedules) {
  test(`${e.name}, T = ${e.num_train_timesteps}: betas and alphas_cumprod equal diffusers`, () => {
    const T = e.num_train_timesteps;
    const betas = e.config ? betasFor({ num_train_timesteps: T, ...e.config }) : betasForAlphaBar(T, 0.999, 'exp');
    const rtol = e.name.startsWith('sigmoid') ? 2.4e-7 : 0;
    check(betas, e.betas ?? e.betas_at, e.indices ?? null, rtol, 'betas');
    let s = 0;
    for (const b of betas) s += b;
    assert.ok(Math.abs(s - e.betas_sum) <= 1e-8 * Math.abs(e.betas_sum) + 1e-9, `betas_sum ${s} vs ${e.betas_sum}`);
    if (e.alphas_cumprod || e.alphas_cumprod_at) {
      const { alphasCumprod } = alphasFromBetas(betas);
      check(alphasCumprod, e.alphas_cumprod ?? e.alphas_cumprod_at, e.indices ?? null, rtol * 4, 'alphas_cumprod');
    }
  });
}
