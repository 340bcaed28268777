/**
 * Small canvas helpers: 2-D scatter plots with fixed bounds, line charts, arrows, grayscale image grids.
 */
import type { NDArray } from './lib.ts';

/** World square shown by every 2-D plot (the toy data sets fit in [-4, 4]^2). */
export const BOUND = 4.5;

export function ctx2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const c = canvas.getContext('2d');
  if (!c) throw new Error(`canvas #${canvas.id}: no 2d context`);
  return c;
}

export function clear(canvas: HTMLCanvasElement, color = '#fff'): CanvasRenderingContext2D {
  const c = ctx2d(canvas);
  c.fillStyle = color;
  c.fillRect(0, 0, canvas.width, canvas.height);
  return c;
}

/** World (x, y) -> pixel, y up. */
export function toPx(canvas: HTMLCanvasElement, x: number, y: number, bound = BOUND): [number, number] {
  return [((x + bound) / (2 * bound)) * canvas.width, ((bound - y) / (2 * bound)) * canvas.height];
}

/** Axes and a light frame for a 2-D plot. */
export function frame2d(canvas: HTMLCanvasElement): void {
  const c = clear(canvas);
  c.strokeStyle = '#e3e6ea';
  c.lineWidth = 1;
  const [x0, y0] = toPx(canvas, 0, 0);
  c.beginPath();
  c.moveTo(0, y0); c.lineTo(canvas.width, y0);
  c.moveTo(x0, 0); c.lineTo(x0, canvas.height);
  c.stroke();
}

/** Points [n, 2] as small squares (non-finite points are skipped). */
export function scatter(canvas: HTMLCanvasElement, pts: NDArray, color: string, size = 2, scale = 1): void {
  const c = ctx2d(canvas);
  c.fillStyle = color;
  const d = pts.data;
  for (let i = 0; i + 1 < d.length; i += 2) {
    const x = d[i] * scale, y = d[i + 1] * scale;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [px, py] = toPx(canvas, x, y);
    c.fillRect(px - size / 2, py - size / 2, size, size);
  }
}

/** Polylines through point `i` of every frame, for the first `count` points. */
export function trails(canvas: HTMLCanvasElement, frames: NDArray[], count: number, color: string): void {
  if (frames.length < 2) return;
  const c = ctx2d(canvas);
  c.strokeStyle = color;
  c.lineWidth = 1;
  const n = Math.min(count, frames[0].shape[0]);
  for (let i = 0; i < n; i++) {
    c.beginPath();
    frames.forEach((f, k) => {
      const [px, py] = toPx(canvas, f.data[2 * i], f.data[2 * i + 1]);
      if (k === 0) c.moveTo(px, py); else c.lineTo(px, py);
    });
    c.stroke();
  }
}

/** An arrow from (x, y) along (dx, dy), in world units. */
export function arrow(c: CanvasRenderingContext2D, canvas: HTMLCanvasElement, x: number, y: number, dx: number, dy: number): void {
  const [ax, ay] = toPx(canvas, x, y);
  const [bx, by] = toPx(canvas, x + dx, y + dy);
  const len = Math.hypot(bx - ax, by - ay);
  if (len < 0.5) return;
  const ux = (bx - ax) / len, uy = (by - ay) / len, h = Math.min(4, len * 0.4);
  c.beginPath();
  c.moveTo(ax, ay); c.lineTo(bx, by);
  c.lineTo(bx - h * ux - h * 0.6 * uy, by - h * uy + h * 0.6 * ux);
  c.moveTo(bx, by);
  c.lineTo(bx - h * ux + h * 0.6 * uy, by - h * uy - h * 0.6 * ux);
  c.stroke();
}

export interface Series { values: ArrayLike<number>; color: string; x?: ArrayLike<number> }

/** Line chart of several series on one y range; optional vertical marker at x = `markX`. */
export function lineChart(canvas: HTMLCanvasElement, series: Series[], o: { yMin?: number; yMax?: number; xMax?: number; markX?: number; yLabel?: (v: number) => string; rightLabel?: (v: number) => string; log?: boolean } = {}): void {
  const c = clear(canvas);
  const pad = { l: 44, r: o.rightLabel ? 34 : 10, t: 10, b: 22 };
  const W = canvas.width - pad.l - pad.r, H = canvas.height - pad.t - pad.b;
  const tf = (v: number) => (o.log ? Math.log10(Math.max(v, 1e-12)) : v);
  let lo = Infinity, hi = -Infinity, xMax = o.xMax ?? 1;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = tf(s.values[i]);
      if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    }
    if (o.xMax === undefined) xMax = Math.max(xMax, s.x ? s.x[s.x.length - 1] ?? 1 : s.values.length - 1);
  }
  if (o.yMin !== undefined) lo = tf(o.yMin);
  if (o.yMax !== undefined) hi = tf(o.yMax);
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  const X = (x: number) => pad.l + (x / Math.max(xMax, 1e-9)) * W;
  const Y = (v: number) => pad.t + (1 - (tf(v) - lo) / (hi - lo)) * H;
  c.strokeStyle = '#d0d4d9';
  c.fillStyle = '#555';
  c.font = '11px system-ui, sans-serif';
  c.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const yv = lo + ((hi - lo) * k) / 4;
    const py = pad.t + (1 - k / 4) * H;
    c.beginPath(); c.moveTo(pad.l, py); c.lineTo(pad.l + W, py); c.stroke();
    const shown = o.log ? 10 ** yv : yv;
    c.fillText(o.yLabel ? o.yLabel(shown) : shown.toPrecision(2), 2, py + 4);
    if (o.rightLabel) c.fillText(o.rightLabel(shown), pad.l + W + 4, py + 4);
  }
  c.fillText('0', pad.l, canvas.height - 6);
  c.fillText(String(Math.round(xMax)), pad.l + W - 30, canvas.height - 6);
  for (const s of series) {
    c.strokeStyle = s.color;
    c.lineWidth = 1.5;
    c.beginPath();
    let started = false;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (!Number.isFinite(tf(v))) continue;
      const px = X(s.x ? s.x[i] : i), py = Math.min(pad.t + H, Math.max(pad.t, Y(v)));
      if (!started) { c.moveTo(px, py); started = true; } else c.lineTo(px, py);
    }
    c.stroke();
  }
  if (o.markX !== undefined) {
    c.strokeStyle = '#222';
    c.setLineDash([4, 3]);
    c.beginPath(); c.moveTo(X(o.markX), pad.t); c.lineTo(X(o.markX), pad.t + H); c.stroke();
    c.setLineDash([]);
  }
}

/**
 * Grayscale images [N, 1, h, w] with values in [lo, hi] drawn in a grid of `cols` columns, each
 * pixel `scale` screen pixels; the canvas is resized to fit.
 */
export function imageGrid(canvas: HTMLCanvasElement, images: NDArray, cols: number, scale: number, range: [number, number] = [-1, 1], gap = 2): void {
  const [N, , h, w] = images.shape;
  const rows = Math.ceil(N / cols);
  canvas.width = cols * (w * scale + gap) - gap;
  canvas.height = rows * (h * scale + gap) - gap;
  const c = clear(canvas, '#fff');
  for (let n = 0; n < N; n++) {
    const img = imageData(images.data.subarray(n * h * w, (n + 1) * h * w), w, h, range);
    drawScaled(c, img, (n % cols) * (w * scale + gap), Math.floor(n / cols) * (h * scale + gap), scale);
  }
}

/** One grayscale image (flat, h*w values in `range`) drawn at (x, y), `scale` screen pixels per pixel. */
export function drawGray(c: CanvasRenderingContext2D, data: ArrayLike<number>, w: number, h: number, x: number, y: number, scale: number, range: [number, number] = [-1, 1]): void {
  drawScaled(c, imageData(data, w, h, range), x, y, scale);
}

function imageData(data: ArrayLike<number>, w: number, h: number, [lo, hi]: [number, number]): ImageData {
  const img = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, (data[i] - lo) / (hi - lo))));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = Number.isFinite(v) ? v : 0;
    img.data[4 * i + 3] = 255;
  }
  return img;
}

const scratch = document.createElement('canvas');

function drawScaled(c: CanvasRenderingContext2D, img: ImageData, x: number, y: number, scale: number): void {
  scratch.width = img.width;
  scratch.height = img.height;
  ctx2d(scratch).putImageData(img, 0, 0);
  c.imageSmoothingEnabled = false;
  c.drawImage(scratch, x, y, img.width * scale, img.height * scale);
}

/** An empty 2-D frame (or blank canvas) with a centred hint. */
export function placeholder(canvas: HTMLCanvasElement, text: string, axes = true): void {
  if (axes) frame2d(canvas); else clear(canvas);
  const c = ctx2d(canvas);
  c.fillStyle = '#8a9099';
  c.font = '13px system-ui, sans-serif';
  c.textAlign = 'center';
  c.fillText(text, canvas.width / 2, canvas.height / 2 - 8);
  c.textAlign = 'start';
}
