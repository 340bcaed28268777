/**
 * Section 6 (page side): samplers side by side at an equal budget of model evaluations (NFE); for
 * the 2-D model each panel's MMD² is shown beside its floor, the MMD² between two independent samples
 * of the data. The work (step counts that fit the budget, sampling, MMD²) runs in the model worker.
 */
import { $, on } from './dom.ts';
import { frame2d, imageGrid, scatter, type Arr } from './plot.ts';
import type { CompareCell, Wire } from './protocol.ts';
import type { ModelWorker } from './worker_client.ts';
import type { TwoDState } from './train2d.ts';

export const COMPARED = [
  'ddpm',
  'ddim',
  'pndm',
  'euler',
  'euler-a',
  'heun',
  'lms',
  'kdpm2',
  'dpmsolver++',
  'sde-dpmsolver++',
  'unipc',
  'deis',
];
const nd = (w: Wire): Arr => w;
const fmt = (v: number) => (Math.abs(v) < 1e-4 ? v.toExponential(0) : v.toPrecision(2));

function cellFigure(grid: HTMLElement, title: string): { canvas: HTMLCanvasElement; caption: HTMLElement } {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.width = 220;
  canvas.height = 220;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `samples of ${title}`);
  const caption = document.createElement('figcaption');
  caption.textContent = `${title}: waiting…`;
  fig.append(canvas, caption);
  grid.append(fig);
  return { canvas, caption };
}

export function setupCompare(worker: ModelWorker, twoD: TwoDState): void {
  const btn = $<HTMLButtonElement>('compare-run');
  const grid = $('compare-grid');
  const floorLine = $('compare-floor');
  on(btn, 'click', async () => {
    const budget = Number($<HTMLSelectElement>('compare-nfe').value);
    const which = $<HTMLSelectElement>('compare-model').value;
    if (which === '2d' && twoD.step === 0)
      throw new Error('train the 2-D model first (section 2: press Train), or compare the digits model');
    btn.disabled = true;
    grid.replaceChildren();
    floorLine.textContent = '';
    const figs = new Map(COMPARED.map((name) => [name, cellFigure(grid, name)]));
    let data: Arr | null = null,
      floor = NaN;
    const show = (cell: CompareCell) => {
      const f = figs.get(cell.name)!;
      if (cell.error) {
        f.caption.textContent = `${cell.name}: ${cell.error}`;
        return;
      }
      if (which === '2d') {
        frame2d(f.canvas);
        if (data) scatter(f.canvas, data, '#b8bec7', 2);
        scatter(f.canvas, nd(cell.x), '#1f6feb', 1.5);
        const ratio = cell.mmd! / floor;
        f.caption.textContent = `${cell.name}: ${cell.steps} steps, NFE ${cell.nfe}, MMD² ${fmt(cell.mmd!)} (floor ${fmt(floor)}, ${ratio.toFixed(1)}× the floor)`;
      } else {
        imageGrid(f.canvas, nd(cell.x), 4, 2);
        f.caption.textContent = `${cell.name}: ${cell.steps} steps, NFE ${cell.nfe}`;
      }
      f.canvas.setAttribute('aria-label', f.caption.textContent);
      f.canvas.dataset.drawn = '1';
    };
    try {
      if (which === '2d') {
        await worker.call('train.compare', { budget, n: 1000, names: COMPARED }, (p) => {
          const v = p as { data?: Wire; floor?: number; cell?: CompareCell };
          if (v.data) {
            data = nd(v.data);
            floor = v.floor!;
            floorLine.textContent = `Floor: MMD² of fresh data (1,000 new points from the data set) is ${fmt(floor)}: what a perfect model would score. A sampler near 1× the floor is as good as this test can tell; far above it, the samples visibly differ from the data. Blue: samples; grey: data.`;
          }
          if (v.cell) show(v.cell);
        });
      } else {
        const w = Number($<HTMLInputElement>('digits-w').value);
        floorLine.textContent = `Digits 0–7 at guidance w = ${w} (the digits section's slider), the same starting noise for every sampler.`;
        await worker.call('digits.compare', { budget, labels: [0, 1, 2, 3, 4, 5, 6, 7], w, names: COMPARED }, (p) => {
          const v = p as { cell?: CompareCell };
          if (v.cell) show(v.cell);
        });
      }
    } finally {
      btn.disabled = false;
    }
  });
  btn.disabled = false;
}
