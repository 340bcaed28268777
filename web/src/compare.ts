/**
 * Section 5: samplers side by side at an equal budget of model evaluations (NFE). The number of model
 * calls of a scheduler is the length of its `timesteps` after `setTimesteps(steps)` (second-order
 * methods such as Heun list each sigma twice), so each one gets the largest step count that fits.
 */
import { NDArray, Philox, medianSqDistance, mmdRbf, toy2d, type AsyncModelFn, type Scheduler } from './lib.ts';
import { $, nextFrame, on } from './dom.ts';
import { frame2d, imageGrid, scatter } from './plot.ts';
import { sampleTrajectory, type TwoDState } from './train2d.ts';
import { digitScheduler, sampleDigits, type DigitModel } from './digits.ts';

export const COMPARED = ['ddpm', 'ddim', 'pndm', 'euler', 'euler-a', 'heun', 'lms', 'kdpm2', 'dpmsolver++', 'sde-dpmsolver++', 'unipc', 'deis'];

/** The largest step count whose NFE fits `budget`, or null. */
export function stepsForNfe(make: () => Scheduler, budget: number): { steps: number; nfe: number } | null {
  for (let s = budget; s >= 1; s--) {
    try {
      const sched = make();
      sched.setTimesteps(s);
      const nfe = sched.timesteps.length;
      if (nfe <= budget) return { steps: s, nfe };
    } catch {
      // some schedulers refuse very small step counts: try fewer
    }
  }
  return null;
}

export function setupCompare(twoD: TwoDState, digits: { model: () => Promise<DigitModel> }): void {
  const btn = $<HTMLButtonElement>('compare-run');
  const grid = $('compare-grid');
  on(btn, 'click', async () => {
    btn.disabled = true;
    try {
      const budget = Number($<HTMLSelectElement>('compare-nfe').value);
      const which = $<HTMLSelectElement>('compare-model').value;
      grid.replaceChildren();
      if (which === '2d') await compare2d(twoD, budget, grid);
      else await compareDigits(await digits.model(), budget, grid);
    } finally {
      btn.disabled = false;
    }
  });
  btn.disabled = false;
}

function cell(grid: HTMLElement, title: string): { canvas: HTMLCanvasElement; caption: HTMLElement } {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.width = 220; canvas.height = 220;
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  fig.append(canvas, caption);
  grid.append(fig);
  return { canvas, caption };
}

async function compare2d(state: TwoDState, budget: number, grid: HTMLElement): Promise<void> {
  const tr = state.trainer;
  if (!tr || tr.step === 0) { grid.textContent = 'train the mlp-2d model first (section 2)'; return; }
  const n = 1000, seed = 0;
  const model: AsyncModelFn = tr.denoiser();
  const data = toy2d(tr.dataName).sample(n, new Philox(4));
  const h = medianSqDistance(data, data);
  for (const name of COMPARED) {
    const { canvas, caption } = cell(grid, name);
    const fit = stepsForNfe(() => tr.scheduler(name), budget);
    if (!fit) { caption.textContent = `${name}: no step count fits NFE ${budget}`; continue; }
    const { x, nfe } = await sampleTrajectory(model, tr.scheduler(name), [n, 2], fit.steps, seed);
    frame2d(canvas);
    scatter(canvas, data, '#d5d9de', 2);
    scatter(canvas, x, '#1f6feb', 1.5);
    caption.textContent = `${name}: ${fit.steps} steps, NFE ${nfe}, MMD² ${mmdRbf(x, data, h).toExponential(1)}`;
    canvas.dataset.drawn = '1';
    await nextFrame();
  }
}

async function compareDigits(m: DigitModel, budget: number, grid: HTMLElement): Promise<void> {
  const labels = [0, 1, 2, 3, 4, 5, 6, 7];
  const w = Number($<HTMLInputElement>('digits-w').value);
  for (const name of COMPARED) {
    const { canvas, caption } = cell(grid, name);
    const fit = stepsForNfe(() => digitScheduler(name, m), budget);
    if (!fit) { caption.textContent = `${name}: no step count fits NFE ${budget}`; continue; }
    const run = await sampleDigits(m, digitScheduler(name, m), labels, w, fit.steps, 0);
    imageGrid(canvas, run.x as NDArray, 4, 2);
    caption.textContent = `${name}: ${fit.steps} steps, NFE ${run.nfe}, w = ${w}`;
    canvas.dataset.drawn = '1';
    await nextFrame();
  }
}
