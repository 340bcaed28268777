/**
 * A line chart as a PNG, drawn pixel by pixel (no plotting or font library): one polyline with square
 * markers and +-1 standard-error bars per series, a logarithmic or linear x axis, a linear y axis with
 * "nice" ticks (1, 2, 5 x 10^k, as src/io/scatter.ts), tick labels and a legend in the 5x7 bitmap font of
 * ./font5x7.ts, and optional dashed horizontal reference lines (e.g. the data-vs-data noise floor).
 *
 * @example
 *   writeLinePlotPng('sweep.png', {
 *     title: 'MMD vs NFE', xLabel: 'NFE', yLabel: 'MMD^2', logX: true,
 *     series: [{ name: 'ddim', points: [{ x: 10, y: 0.01, se: 0.001 }, { x: 50, y: 0.002 }] }],
 *     references: [{ name: 'data vs data', y: 0.0001 }],
 *   });
 */
import { encodePng } from '../../io/png.ts';
import { writeFileAtomicSync } from '../../io/atomic.ts';
import { niceTicks, type Rgb } from '../../io/scatter.ts';
import { drawText, textWidth, GLYPH_HEIGHT } from './font5x7.ts';

export interface PlotPoint {
  x: number;
  y: number;
  se?: number | null;
}
export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  color?: Rgb;
}
export interface LinePlotSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic x axis (default true: NFE spans decades). */
  logX?: boolean;
  /**
   * y axis: 'linear' (default) or 'symlog' (matplotlib's symmetric log: sign(y) log10(1 + |y| / linThreshold),
   * linear near 0 and logarithmic beyond, so values of both signs spanning decades stay readable).
   */
  yScale?: 'linear' | 'symlog';
  /** Scale of the linear region of 'symlog' (default: 1e-3 of the largest |y|). */
  linThreshold?: number;
  series: PlotSeries[];
  /** Dashed horizontal lines with a legend entry. */
  references?: { name: string; y: number; color?: Rgb }[];
  width?: number;
  height?: number;
}

/** matplotlib's tab10 colours. */
export const TAB10: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

/** Compact tick label: up to 3 significant digits, exponent form for very small / large values. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const e = Math.floor(Math.log10(a));
    const m = Number((v / 10 ** e).toPrecision(3));
    return `${m}E${e}`;
  }
  return String(Number(v.toPrecision(3)));
}

/** Ticks of a log axis: 1, 2, 5 x 10^k inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)) - 1; e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) out.push(t);
    }
  }
  return out;
}

/** Ticks of a symlog axis (transformed range [t0, t1]): 0 and +-{1, 2, 5} x 10^k, at least 24 px apart. */
function symlogTicks(t0: number, t1: number, c: number, toY: (y: number) => number): number[] {
  const inv = (t: number) => Math.sign(t) * c * (10 ** Math.abs(t) - 1);
  const lo = inv(t0),
    hi = inv(t1);
  const cand: number[] = lo <= 0 && hi >= 0 ? [0] : [];
  const top = Math.max(Math.abs(lo), Math.abs(hi));
  for (let e = Math.floor(Math.log10(c)) - 1; e <= Math.ceil(Math.log10(top)); e++) {
    for (const m of [1, 5, 2])
      for (const sgn of [1, -1]) {
        const v = sgn * m * 10 ** e;
        if (v >= lo && v <= hi) cand.push(v);
      }
  }
  // prefer 0, then powers of ten (largest first), then 5s and 2s; drop ticks crowding a kept one
  const rank = (v: number) => (v === 0 ? -1 : Math.abs(Math.log10(Math.abs(v)) % 1) < 1e-9 ? 0 : 1);
  cand.sort((a, b) => rank(a) - rank(b) || Math.abs(b) - Math.abs(a));
  const kept: number[] = [];
  for (const v of cand) if (kept.every((k) => Math.abs(toY(k) - toY(v)) >= 24)) kept.push(v);
  return kept.sort((a, b) => a - b);
}

/** An RGBA raster with a pixel setter and a 2-pixel-wide line. */
interface Canvas {
  W: number;
  H: number;
  img: Uint8Array;
  px: (x: number, y: number, c: Rgb) => void;
  line: (xa: number, ya: number, xb: number, yb: number, c: Rgb) => void;
}

function createCanvas(W: number, H: number): Canvas {
  const img = new Uint8Array(W * H * 4).fill(255);
  const px = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = 4 * (y * W + x);
    img[o] = c[0];
    img[o + 1] = c[1];
    img[o + 2] = c[2];
    img[o + 3] = 255;
  };
  const line = (xa: number, ya: number, xb: number, yb: number, c: Rgb) => {
    const n = Math.max(Math.abs(xb - xa), Math.abs(yb - ya), 1);
    for (let i = 0; i <= n; i++) {
      const x = Math.round(xa + ((xb - xa) * i) / n),
        y = Math.round(ya + ((yb - ya) * i) / n);
      px(x, y, c);
      px(x + 1, y, c);
      px(x, y + 1, c);
    }
  };
  return { W, H, img, px, line };
}

/** The plot box in pixels and the data -> pixel maps of both axes, with their ticks. */
interface PlotFrame {
  left: number;
  right: number;
  top: number;
  bottom: number;
  toX: (x: number) => number;
  toY: (y: number) => number;
  xTicks: number[];
  yTicks: number[];
}

const DARK: Rgb = [50, 50, 50];
const GRID: Rgb = [232, 232, 232];
const REFERENCE_GREY: Rgb = [110, 110, 110];

/** Finite points of a series that the x axis can show (x > 0 on a log axis). */
function shownPoints(points: PlotPoint[], logX: boolean): PlotPoint[] {
  return points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!logX || p.x > 0));
}

/**
 * The frame of a chart: the box left of the legend, the data ranges (finite points, error bars and
 * references included, padded 5-8% or x1.3 on a log axis), the symlog transform and the ticks.
 */
function plotFrame(spec: LinePlotSpec, W: number, H: number, logX: boolean): PlotFrame {
  const legendW =
    Math.max(
      0,
      ...[...spec.series.map((s) => s.name), ...(spec.references ?? []).map((r) => r.name)].map((n) => textWidth(n, 1)),
    ) + 36;
  const left = 72,
    right = W - Math.max(legendW + 16, 24),
    top = spec.title ? 44 : 24,
    bottom = H - 46;
  if (right - left < 60)
    throw new Error('renderLinePlot: too little room for the plot; widen it or shorten the series names');
  const pts = shownPoints(
    spec.series.flatMap((s) => s.points),
    logX,
  );
  const ys = pts
    .flatMap((p) => (p.se ? [p.y - p.se, p.y + p.se] : [p.y]))
    .concat((spec.references ?? []).map((r) => r.y).filter(Number.isFinite));
  const symlog = spec.yScale === 'symlog';
  const maxAbs = Math.max(1e-300, ...ys.map(Math.abs));
  const c = spec.linThreshold ?? maxAbs * 1e-3;
  if (symlog && !(c > 0 && Number.isFinite(c)))
    throw new Error(`renderLinePlot: linThreshold = ${c} must be a finite number > 0`);
  // symlog: sign(y) log10(1 + |y| / c)
  const ty = (y: number) => (symlog ? Math.sign(y) * Math.log10(1 + Math.abs(y) / c) : y);
  let x0 = Math.min(...pts.map((p) => p.x)),
    x1 = Math.max(...pts.map((p) => p.x));
  let y0 = Math.min(...ys.map(ty)),
    y1 = Math.max(...ys.map(ty));
  if (!pts.length) [x0, x1, y0, y1] = [1, 10, 0, 1];
  if (logX) [x0, x1] = [x0 / 1.3, x1 * 1.3];
  else {
    const m = (x1 - x0 || 1) * 0.05;
    [x0, x1] = [x0 - m, x1 + m];
  }
  const ym = (y1 - y0 || Math.abs(y1) || 1) * 0.08;
  [y0, y1] = [y0 - ym, y1 + ym];
  const fx = (x: number) =>
    logX ? (Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0)) : (x - x0) / (x1 - x0);
  const toX = (x: number) => Math.round(left + fx(x) * (right - left));
  const toY = (y: number) => Math.round(bottom - ((ty(y) - y0) / (y1 - y0)) * (bottom - top));
  const xTicks = logX ? logTicks(x0, x1) : niceTicks(x0, x1);
  const yTicks = symlog ? symlogTicks(y0, y1, c, toY) : niceTicks(y0, y1, 6);
  return { left, right, top, bottom, toX, toY, xTicks, yTicks };
}

/** Grid lines at the ticks, the dashed reference lines, the axes box, tick marks and tick labels. */
function drawAxes(cv: Canvas, f: PlotFrame, references: LinePlotSpec['references']): void {
  const { px } = cv;
  for (const t of f.xTicks) for (let y = f.top; y <= f.bottom; y++) px(f.toX(t), y, GRID);
  for (const t of f.yTicks) for (let x = f.left; x <= f.right; x++) px(x, f.toY(t), GRID);
  for (const r of references ?? []) {
    if (!Number.isFinite(r.y)) continue;
    const y = f.toY(r.y),
      c = r.color ?? REFERENCE_GREY;
    for (let x = f.left; x <= f.right; x++)
      if (Math.floor((x - f.left) / 6) % 2 === 0) {
        px(x, y, c);
        px(x, y + 1, c);
      }
  }
  for (let x = f.left; x <= f.right; x++) {
    px(x, f.top, DARK);
    px(x, f.bottom, DARK);
  }
  for (let y = f.top; y <= f.bottom; y++) {
    px(f.left, y, DARK);
    px(f.right, y, DARK);
  }
  for (const t of f.xTicks) {
    const x = f.toX(t);
    for (let k = 1; k <= 4; k++) px(x, f.bottom + k, DARK);
    const s = formatTick(t);
    drawText(cv.img, cv.W, x - textWidth(s) / 2, f.bottom + 8, s, DARK);
  }
  for (const t of f.yTicks) {
    const y = f.toY(t);
    for (let k = 1; k <= 4; k++) px(f.left - k, y, DARK);
    const s = formatTick(t);
    drawText(cv.img, cv.W, f.left - 7 - textWidth(s), y - 3, s, DARK);
  }
}

/** One series: +-se error bars, the polyline through its points (sorted by x), square markers. */
function drawSeries(cv: Canvas, f: PlotFrame, s: PlotSeries, c: Rgb, logX: boolean): void {
  const { px } = cv;
  const ok = shownPoints(s.points, logX).sort((a, b) => a.x - b.x);
  for (const p of ok) {
    if (!p.se) continue;
    const x = f.toX(p.x),
      ya = f.toY(p.y - p.se),
      yb = f.toY(p.y + p.se);
    for (let y = Math.min(ya, yb); y <= Math.max(ya, yb); y++) px(x, y, c);
    for (let d = -3; d <= 3; d++) {
      px(x + d, ya, c);
      px(x + d, yb, c);
    }
  }
  for (let i = 1; i < ok.length; i++)
    cv.line(f.toX(ok[i - 1].x), f.toY(ok[i - 1].y), f.toX(ok[i].x), f.toY(ok[i].y), c);
  for (const p of ok) {
    const x = f.toX(p.x),
      y = f.toY(p.y);
    for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) px(x + dx, y + dy, c);
  }
}

/** The legend right of the box: a marker line per series, a dashed line per reference, and the names. */
function drawLegend(cv: Canvas, f: PlotFrame, spec: LinePlotSpec): void {
  const { px } = cv;
  let ly = f.top + 4;
  const lx = f.right + 14;
  spec.series.forEach((s, k) => {
    const c = s.color ?? TAB10[k % TAB10.length];
    for (let dy = -3; dy <= 3; dy++)
      for (let dx = 0; dx < 18; dx++) if (Math.abs(dy) <= 1 || (dx >= 6 && dx <= 12)) px(lx + dx, ly + 3 + dy, c);
    drawText(cv.img, cv.W, lx + 24, ly, s.name, DARK);
    ly += GLYPH_HEIGHT + 10;
  });
  for (const r of spec.references ?? []) {
    const c = r.color ?? REFERENCE_GREY;
    for (let dx = 0; dx < 18; dx++)
      if (Math.floor(dx / 6) % 2 === 0) {
        px(lx + dx, ly + 3, c);
        px(lx + dx, ly + 4, c);
      }
    drawText(cv.img, cv.W, lx + 24, ly, r.name, DARK);
    ly += GLYPH_HEIGHT + 10;
  }
}

/** Title (double size, centred above the box), x label (centred below) and y label (top left). */
function drawLabels(cv: Canvas, f: PlotFrame, spec: LinePlotSpec): void {
  const mid = f.left + (f.right - f.left) / 2;
  if (spec.title) drawText(cv.img, cv.W, mid - textWidth(spec.title, 2) / 2, 6, spec.title, DARK, 2);
  if (spec.xLabel) drawText(cv.img, cv.W, mid - textWidth(spec.xLabel) / 2, f.bottom + 26, spec.xLabel, DARK);
  if (spec.yLabel) drawText(cv.img, cv.W, 6, f.top - 12, spec.yLabel, DARK);
}

/**
 * Render the chart to an RGBA raster.
 * @example const img = renderLinePlot({ series }); encodePng(img)
 */
export function renderLinePlot(spec: LinePlotSpec): { width: number; height: number; data: Uint8Array } {
  const W = spec.width ?? 800,
    H = spec.height ?? 500;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W >= 200 && H >= 150 && W <= 8192 && H <= 8192)) {
    throw new Error(`renderLinePlot: width ${W} x height ${H} must be integers in 200..8192 x 150..8192`);
  }
  const logX = spec.logX ?? true;
  const frame = plotFrame(spec, W, H, logX);
  const canvas = createCanvas(W, H);
  drawAxes(canvas, frame, spec.references);
  spec.series.forEach((s, k) => drawSeries(canvas, frame, s, s.color ?? TAB10[k % TAB10.length], logX));
  drawLegend(canvas, frame, spec);
  drawLabels(canvas, frame, spec);
  return { width: W, height: H, data: canvas.img };
}

/**
 * Render and write a PNG atomically.
 * @example writeLinePlotPng('docs/sweep.png', spec);
 */
export function writeLinePlotPng(file: string, spec: LinePlotSpec): void {
  writeFileAtomicSync(file, encodePng(renderLinePlot(spec)));
}
