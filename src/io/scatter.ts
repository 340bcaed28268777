/**
 * Scatter plot of a 2D point set as a PNG (no fonts, no plotting library): white background, an
 * axes box with tick marks at "nice" values (1, 2, 5 x 10^k), light zero lines, the reference data
 * (optional, orange) drawn under the samples (blue), each point an alpha-blended disc.
 *
 * Pixel mapping (y up): px = left + (x - xmin) / (xmax - xmin) * (plotWidth - 1),
 *                       py = top + (ymax - y) / (ymax - ymin) * (plotHeight - 1).
 * Bounds default to the data's (both sets, 5% margin, equal aspect so circles stay round).
 *
 * @example
 *   writeScatterPng('samples.png', samples, { reference: sampleToy2d('moons', 2000, new Philox(0)) });
 */
import type { NDArray } from '../engine/ndarray.ts';
import { writeFileAtomicSync } from './atomic.ts';
import { encodePng } from './png.ts';
import type { RgbaImage } from './image.ts';

export type Rgb = readonly [number, number, number];

export interface ScatterOptions {
  /** Image size in pixels (default 512 x 512). */
  width?: number;
  height?: number;
  /** [xmin, xmax, ymin, ymax]; default: from the data, 5% margin, equal aspect. */
  bounds?: readonly [number, number, number, number];
  /** Reference points [M, 2] drawn underneath (e.g. fresh data). */
  reference?: NDArray;
  /** Disc radius in pixels (default 1.5). */
  pointRadius?: number;
  /** Opacity of each disc (default 0.5). */
  alpha?: number;
  /** Sample color (default matplotlib tab:blue [31, 119, 180]). */
  color?: Rgb;
  /** Reference color (default matplotlib tab:orange [255, 127, 14]). */
  referenceColor?: Rgb;
  /** Pixels between the image border and the axes box (default 12). */
  margin?: number;
}

/** A rendered scatter plot: the raster, the bounds used and how many non-finite points were skipped. */
export interface ScatterImage extends RgbaImage {
  bounds: [number, number, number, number];
  skipped: number;
}

function checkPoints(p: NDArray, what: string): void {
  if (p.ndim !== 2 || p.shape[1] !== 2) throw new Error(`scatter: ${what} shape [${p.shape.join(', ')}] is not [N, 2]`);
}

function dataBounds(sets: NDArray[], aspect: number): [number, number, number, number] {
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (const s of sets) {
    const d = s.data;
    for (let i = 0; i < d.length; i += 2) {
      const x = d[i],
        y = d[i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x0 > x1) return [-1, 1, -1 / aspect, 1 / aspect];
  let cx = (x0 + x1) / 2,
    cy = (y0 + y1) / 2;
  let hw = Math.max((x1 - x0) / 2, 1e-6) * 1.05,
    hh = Math.max((y1 - y0) / 2, 1e-6) * 1.05;
  // equal aspect: data units per pixel the same on both axes
  if (hw / hh < aspect) hw = hh * aspect;
  else hh = hw / aspect;
  if (!Number.isFinite(cx)) cx = 0;
  if (!Number.isFinite(cy)) cy = 0;
  return [cx - hw, cx + hw, cy - hh, cy + hh];
}

/** Tick positions at 1, 2 or 5 x 10^k, about `target` of them in [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [];
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12 * span; t += step)
    out.push(Math.abs(t) < 1e-12 * span ? 0 : t);
  return out;
}

/** The axes box of a scatter plot in pixels and the data -> pixel maps (checked size and bounds). */
interface ScatterFrame {
  W: number;
  H: number;
  margin: number;
  left: number;
  top: number;
  /** width and height of the axes box */
  pw: number;
  ph: number;
  bounds: [number, number, number, number];
  toPx: (x: number) => number;
  toPy: (y: number) => number;
}

function scatterFrame(points: NDArray, options: ScatterOptions): ScatterFrame {
  const W = options.width ?? 512,
    H = options.height ?? 512;
  const margin = options.margin ?? 12;
  for (const [k, v] of [
    ['width', W],
    ['height', H],
  ] as const) {
    if (!Number.isInteger(v) || v < 2 * margin + 8 || v > 8192)
      throw new Error(`scatter: ${k} = ${v} must be an integer in ${2 * margin + 8}..8192`);
  }
  const left = margin,
    top = margin,
    pw = W - 2 * margin,
    ph = H - 2 * margin;
  const bounds = options.bounds
    ? ([...options.bounds] as [number, number, number, number])
    : dataBounds(options.reference ? [points, options.reference] : [points], (pw - 1) / (ph - 1));
  const [xmin, xmax, ymin, ymax] = bounds;
  if (!(xmax > xmin) || !(ymax > ymin) || !bounds.every(Number.isFinite)) {
    throw new Error(`scatter: bounds [${bounds.join(', ')}] must be finite with xmin < xmax and ymin < ymax`);
  }
  const toPx = (x: number) => left + ((x - xmin) / (xmax - xmin)) * (pw - 1);
  const toPy = (y: number) => top + ((ymax - y) / (ymax - ymin)) * (ph - 1);
  return { W, H, margin, left, top, pw, ph, bounds, toPx, toPy };
}

/** An RGBA raster (white) with an alpha-blending pixel setter. */
function blendCanvas(
  W: number,
  H: number,
): { img: Uint8Array; setPx: (x: number, y: number, c: Rgb, a: number) => void } {
  const img = new Uint8Array(W * H * 4).fill(255);
  const setPx = (x: number, y: number, c: Rgb, a: number) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = 4 * (y * W + x);
    img[o] = Math.round(img[o] * (1 - a) + c[0] * a);
    img[o + 1] = Math.round(img[o + 1] * (1 - a) + c[1] * a);
    img[o + 2] = Math.round(img[o + 2] * (1 - a) + c[2] * a);
  };
  return { img, setPx };
}

type SetPx = (x: number, y: number, c: Rgb, a: number) => void;

/** The x = 0 and y = 0 lines (light grey) where they cross the box. */
function drawZeroLines(setPx: SetPx, f: ScatterFrame): void {
  const [xmin, xmax, ymin, ymax] = f.bounds;
  const light: Rgb = [220, 220, 220];
  if (xmin < 0 && xmax > 0) {
    const x = Math.round(f.toPx(0));
    for (let y = f.top; y < f.top + f.ph; y++) setPx(x, y, light, 1);
  }
  if (ymin < 0 && ymax > 0) {
    const y = Math.round(f.toPy(0));
    for (let x = f.left; x < f.left + f.pw; x++) setPx(x, y, light, 1);
  }
}

/** Discs of radius r (blended with `alpha`, clipped to the box) at the finite points; returns the skipped count. */
function drawDiscs(setPx: SetPx, f: ScatterFrame, p: NDArray, c: Rgb, r: number, alpha: number): number {
  const ri = Math.ceil(r);
  let skipped = 0;
  const d = p.data;
  for (let i = 0; i < d.length; i += 2) {
    const x = d[i],
      y = d[i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      skipped++;
      continue;
    }
    const cx = f.toPx(x),
      cy = f.toPy(y);
    const ix = Math.round(cx),
      iy = Math.round(cy);
    for (let dy = -ri; dy <= ri; dy++) {
      for (let dx = -ri; dx <= ri; dx++) {
        const px = ix + dx,
          py = iy + dy;
        if (px < f.left || py < f.top || px >= f.left + f.pw || py >= f.top + f.ph) continue; // clip to the axes box
        if ((px - cx) ** 2 + (py - cy) ** 2 <= r * r) setPx(px, py, c, alpha);
      }
    }
  }
  return skipped;
}

/** The axes box and ticks at "nice" values on all four sides. */
function drawScatterAxes(setPx: SetPx, f: ScatterFrame): void {
  const { left, top, pw, ph } = f;
  const [xmin, xmax, ymin, ymax] = f.bounds;
  const dark: Rgb = [60, 60, 60];
  for (let x = left - 1; x <= left + pw; x++) {
    setPx(x, top - 1, dark, 1);
    setPx(x, top + ph, dark, 1);
  }
  for (let y = top - 1; y <= top + ph; y++) {
    setPx(left - 1, y, dark, 1);
    setPx(left + pw, y, dark, 1);
  }
  const tick = Math.max(3, Math.round(f.margin / 2));
  for (const t of niceTicks(xmin, xmax)) {
    const x = Math.round(f.toPx(t));
    for (let k = 1; k <= tick; k++) {
      setPx(x, top + ph + k, dark, 1);
      setPx(x, top - 1 - k, dark, 1);
    }
  }
  for (const t of niceTicks(ymin, ymax)) {
    const y = Math.round(f.toPy(t));
    for (let k = 1; k <= tick; k++) {
      setPx(left - 1 - k, y, dark, 1);
      setPx(left + pw + k, y, dark, 1);
    }
  }
}

/**
 * Renders points [N, 2] (and optional reference points) to an RGBA raster.
 * @example const img = renderScatter(x, { width: 256, height: 256 }); img.skipped // non-finite points
 */
export function renderScatter(points: NDArray, options: ScatterOptions = {}): ScatterImage {
  checkPoints(points, 'points');
  if (options.reference) checkPoints(options.reference, 'reference');
  const f = scatterFrame(points, options);
  const r = options.pointRadius ?? 1.5;
  const alpha = options.alpha ?? 0.5;
  if (!(r > 0 && r <= 50)) throw new Error(`scatter: pointRadius = ${r} must be in (0, 50]`);
  if (!(alpha > 0 && alpha <= 1)) throw new Error(`scatter: alpha = ${alpha} must be in (0, 1]`);
  const { img, setPx } = blendCanvas(f.W, f.H);
  drawZeroLines(setPx, f);
  if (options.reference) drawDiscs(setPx, f, options.reference, options.referenceColor ?? [255, 127, 14], r, alpha);
  const skipped = drawDiscs(setPx, f, points, options.color ?? [31, 119, 180], r, alpha);
  // axes box and ticks (drawn last so points never hide them)
  drawScatterAxes(setPx, f);
  return { width: f.W, height: f.H, data: img, bounds: f.bounds, skipped };
}

/**
 * Frames of a 2D sampling trajectory (one [N, 2] array per step) with one fixed set of bounds, for
 * `encodeGif`. Default bounds come from the last step (and the reference), so early, widely spread
 * noise is clipped to the box instead of shrinking the data to a dot.
 * @example writeGif('traj.gif', scatterTrajectoryFrames(xs, { reference: data, width: 256, height: 256 }));
 */
export function scatterTrajectoryFrames(steps: readonly NDArray[], options: ScatterOptions = {}): ScatterImage[] {
  if (steps.length === 0) throw new Error('scatterTrajectoryFrames: no steps');
  steps.forEach((s, i) => checkPoints(s, `step ${i}`));
  const W = options.width ?? 512,
    H = options.height ?? 512,
    margin = options.margin ?? 12;
  const last = steps[steps.length - 1];
  const bounds =
    options.bounds ??
    dataBounds(options.reference ? [last, options.reference] : [last], (W - 2 * margin - 1) / (H - 2 * margin - 1));
  return steps.map((s) => renderScatter(s, { ...options, bounds }));
}

/**
 * Scatter plot as PNG bytes.
 * @example fs.writeFileSync('a.png', scatterPng(x));
 */
export function scatterPng(points: NDArray, options: ScatterOptions = {}): Uint8Array {
  return encodePng(renderScatter(points, options));
}

/**
 * Writes a scatter-plot PNG atomically; returns the rendered image (bounds, skipped count).
 * @example const { skipped } = writeScatterPng('out/samples.png', samples, { reference: data });
 */
export function writeScatterPng(path: string, points: NDArray, options: ScatterOptions = {}): ScatterImage {
  const img = renderScatter(points, options);
  writeFileAtomicSync(path, encodePng(img));
  return img;
}
