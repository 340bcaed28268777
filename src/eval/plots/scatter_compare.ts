/**
 * The picture a newcomer reads at a glance: fresh data (left, orange) and model samples (right, blue) as two
 * scatter panels on the same axes, under a title line and a caption (e.g. the MMD ratio), drawn pixel by
 * pixel with the 5x7 bitmap font (./font5x7.ts) and ../io/scatter.ts's renderer.
 *
 * @example
 *   writeScatterComparisonPng('demo.png', fresh, samples, {
 *     title: '8GAUSSIANS: DATA VS DIFFUSION SAMPLES', caption: 'MMD RATIO 1.1 (1.0 = AS CLOSE AS FRESH DATA)' });
 */
import type { NDArray } from '../../engine/index.ts';
import { encodePng } from '../../io/png.ts';
import { writeFileAtomicSync } from '../../io/atomic.ts';
import { renderScatter, type Rgb } from '../../io/scatter.ts';
import type { RgbaImage } from '../../io/image.ts';
import { drawText, textWidth, GLYPH_HEIGHT } from './font5x7.ts';

export interface ScatterComparisonOptions {
  /** Top line, drawn at twice the font size. */
  title?: string;
  /** Second line under the title. */
  caption?: string;
  /** Panel labels (default 'DATA' and 'SAMPLES'). */
  labels?: readonly [string, string];
  /** Side of each square panel in pixels (default 420). */
  panel?: number;
  /** Axis bounds shared by both panels [xmin, xmax, ymin, ymax] (default: from the data, 5% margin). */
  bounds?: readonly [number, number, number, number];
  /** Disc radius and opacity of the points (defaults 1.5 and 0.45). */
  pointRadius?: number;
  alpha?: number;
}

const DATA_COLOR: Rgb = [255, 127, 14];
const SAMPLE_COLOR: Rgb = [31, 119, 180];

function boundsOf(x: NDArray): [number, number, number, number] {
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (let i = 0; i + 1 < x.data.length; i += 2) {
    const a = x.data[i],
      b = x.data[i + 1];
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    x0 = Math.min(x0, a);
    x1 = Math.max(x1, a);
    y0 = Math.min(y0, b);
    y1 = Math.max(y1, b);
  }
  if (!(x1 >= x0)) return [-1, 1, -1, 1];
  const cx = (x0 + x1) / 2,
    cy = (y0 + y1) / 2,
    half = (Math.max(x1 - x0, y1 - y0, 1e-6) / 2) * 1.08;
  return [cx - half, cx + half, cy - half, cy + half];
}

/**
 * Render data [N, 2] and samples [M, 2] side by side (same bounds: the data's, so samples that wander off
 * are clipped at the box, not allowed to shrink the picture).
 */
export function renderScatterComparison(data: NDArray, samples: NDArray, o: ScatterComparisonOptions = {}): RgbaImage {
  const P = o.panel ?? 420;
  if (!Number.isInteger(P) || P < 64 || P > 4096)
    throw new Error(`scatter comparison: panel = ${P} must be an integer in 64..4096`);
  const bounds = o.bounds ?? boundsOf(data);
  const [la, lb] = o.labels ?? ['DATA', 'SAMPLES'];
  const gap = 16,
    side = 12;
  const titleH = (o.title ? 2 * GLYPH_HEIGHT + 12 : 0) + (o.caption ? GLYPH_HEIGHT + 8 : 0) + 8;
  const labelH = GLYPH_HEIGHT + 8;
  const W = 2 * P + gap + 2 * side,
    H = titleH + labelH + P + 10;
  const img = new Uint8Array(W * H * 4).fill(255);
  const style = { width: P, height: P, bounds, pointRadius: o.pointRadius ?? 1.5, alpha: o.alpha ?? 0.45 };
  const panels = [
    renderScatter(data, { ...style, color: DATA_COLOR }),
    renderScatter(samples, { ...style, color: SAMPLE_COLOR }),
  ];
  const dark: Rgb = [40, 40, 40];
  let y = 8;
  if (o.title) {
    drawText(img, W, W / 2 - textWidth(o.title, 2) / 2, y, o.title, dark, 2);
    y += 2 * GLYPH_HEIGHT + 12;
  }
  if (o.caption) {
    drawText(img, W, W / 2 - textWidth(o.caption) / 2, y, o.caption, [90, 90, 90]);
  }
  panels.forEach((p, k) => {
    const x0 = side + k * (P + gap),
      y0 = titleH + labelH;
    const label = k === 0 ? la : lb;
    drawText(img, W, x0 + P / 2 - textWidth(label) / 2, titleH, label, k === 0 ? DATA_COLOR : SAMPLE_COLOR);
    for (let r = 0; r < P; r++) img.set(p.data.subarray(r * P * 4, (r + 1) * P * 4), ((y0 + r) * W + x0) * 4);
  });
  return { width: W, height: H, data: img };
}

/** Write the side-by-side comparison as a PNG (atomically). */
export function writeScatterComparisonPng(
  file: string,
  data: NDArray,
  samples: NDArray,
  o: ScatterComparisonOptions = {},
): void {
  writeFileAtomicSync(file, encodePng(renderScatterComparison(data, samples, o)));
}
