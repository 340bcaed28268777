/**
 * Small canvas helpers: 2-D scatter plots with fixed bounds, line charts, arrows, grayscale image grids.
 */
/** Points or images as the worker sends them: a shape and flat float data. */
export interface Arr {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

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

/** Axes through 0 with tick values at -4, -2, 0, 2, 4 and the axis names x₁, x₂. */
export function frame2d(canvas: HTMLCanvasElement): void {
  const c = clear(canvas);
  c.strokeStyle = '#e3e6ea';
  c.lineWidth = 1;
  const [x0, y0] = toPx(canvas, 0, 0);
  c.beginPath();
  for (const v of [-4, -2, 2, 4]) {
    const [px, py] = toPx(canvas, v, v);
    c.moveTo(px, 0);
    c.lineTo(px, canvas.height);
    c.moveTo(0, py);
    c.lineTo(canvas.width, py);
  }
  c.stroke();
  c.strokeStyle = '#b8bec7';
  c.beginPath();
  c.moveTo(0, y0);
  c.lineTo(canvas.width, y0);
  c.moveTo(x0, 0);
  c.lineTo(x0, canvas.height);
  c.stroke();
  c.fillStyle = '#4b5563';
  c.font = '11px system-ui, sans-serif';
  for (const v of [-4, -2, 2, 4]) {
    const [px] = toPx(canvas, v, 0);
    const [, py] = toPx(canvas, 0, v);
    c.fillText(String(v), px + 2, canvas.height - 3);
    c.fillText(String(v), 2, py - 2);
  }
  c.fillText('x₁', canvas.width - 16, y0 - 4);
  c.fillText('x₂', x0 + 4, 12);
}

/** Points [n, 2] as small squares (non-finite points are skipped). */
export function scatter(canvas: HTMLCanvasElement, pts: Arr, color: string, size = 2, scale = 1): void {
  const c = ctx2d(canvas);
  c.fillStyle = color;
  const d = pts.data;
  for (let i = 0; i + 1 < d.length; i += 2) {
    const x = d[i] * scale,
      y = d[i + 1] * scale;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [px, py] = toPx(canvas, x, y);
    c.fillRect(px - size / 2, py - size / 2, size, size);
  }
}

/** Polylines through point `i` of every frame, for the first `count` points. */
export function trails(canvas: HTMLCanvasElement, frames: Arr[], count: number, color: string): void {
  if (frames.length < 2) return;
  const c = ctx2d(canvas);
  c.strokeStyle = color;
  c.lineWidth = 1;
  const n = Math.min(count, frames[0].shape[0]);
  for (let i = 0; i < n; i++) {
    c.beginPath();
    frames.forEach((f, k) => {
      const [px, py] = toPx(canvas, f.data[2 * i], f.data[2 * i + 1]);
      if (k === 0) c.moveTo(px, py);
      else c.lineTo(px, py);
    });
    c.stroke();
  }
}

/** An arrow from (x, y) along (dx, dy), in world units. */
export function arrow(
  c: CanvasRenderingContext2D,
  canvas: HTMLCanvasElement,
  x: number,
  y: number,
  dx: number,
  dy: number,
): void {
  const [ax, ay] = toPx(canvas, x, y);
  const [bx, by] = toPx(canvas, x + dx, y + dy);
  const len = Math.hypot(bx - ax, by - ay);
  if (len < 0.5) return;
  const ux = (bx - ax) / len,
    uy = (by - ay) / len,
    h = Math.min(4, len * 0.4);
  c.beginPath();
  c.moveTo(ax, ay);
  c.lineTo(bx, by);
  c.lineTo(bx - h * ux - h * 0.6 * uy, by - h * uy + h * 0.6 * ux);
  c.moveTo(bx, by);
  c.lineTo(bx - h * ux + h * 0.6 * uy, by - h * uy - h * 0.6 * ux);
  c.stroke();
}

export interface Series {
  values: ArrayLike<number>;
  color: string;
  x?: ArrayLike<number>;
}

/** Line chart of several series on one y range; optional vertical marker at x = `markX`. */
export interface ChartOptions {
  yMin?: number;
  yMax?: number;
  xMax?: number;
  markX?: number;
  log?: boolean;
  yLabel?: (v: number) => string;
  rightLabel?: (v: number) => string;
  /** Axis titles (bottom, left, right). */
  xTitle?: string;
  yTitle?: string;
  rightTitle?: string;
  /** Legend entries drawn at the top right. */
  legend?: { label: string; color: string }[];
}

/** Line chart of several series on one y range, with tick values, axis titles, legend and an optional marker at x = `markX`. */
export function lineChart(canvas: HTMLCanvasElement, series: Series[], o: ChartOptions = {}): void {
  const c = clear(canvas);
  const pad = {
    l: o.yTitle ? 56 : 44,
    r: o.rightLabel ? (o.rightTitle ? 48 : 34) : 10,
    t: o.legend ? 24 : 10,
    b: o.xTitle ? 36 : 22,
  };
  const W = canvas.width - pad.l - pad.r,
    H = canvas.height - pad.t - pad.b;
  const tf = (v: number) => (o.log ? Math.log10(Math.max(v, 1e-12)) : v);
  let lo = Infinity,
    hi = -Infinity,
    xMax = o.xMax ?? 1;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = tf(s.values[i]);
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (o.xMax === undefined) xMax = Math.max(xMax, s.x ? (s.x[s.x.length - 1] ?? 1) : s.values.length - 1);
  }
  if (o.yMin !== undefined) lo = tf(o.yMin);
  if (o.yMax !== undefined) hi = tf(o.yMax);
  if (!(hi > lo)) {
    hi = lo + 1;
    lo -= 1;
  }
  const X = (x: number) => pad.l + (x / Math.max(xMax, 1e-9)) * W;
  const Y = (v: number) => pad.t + (1 - (tf(v) - lo) / (hi - lo)) * H;
  c.strokeStyle = '#d0d4d9';
  c.fillStyle = '#555';
  c.font = '11px system-ui, sans-serif';
  c.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const yv = lo + ((hi - lo) * k) / 4;
    const py = pad.t + (1 - k / 4) * H;
    c.beginPath();
    c.moveTo(pad.l, py);
    c.lineTo(pad.l + W, py);
    c.stroke();
    const shown = o.log ? 10 ** yv : yv;
    c.fillText(o.yLabel ? o.yLabel(shown) : shown.toPrecision(2), pad.l - 40, py + 4);
    if (o.rightLabel) c.fillText(o.rightLabel(shown), pad.l + W + 4, py + 4);
  }
  const xb = pad.t + H + 14;
  const step = niceStep(xMax / 4);
  for (let xv = 0; xv <= xMax + 1e-9; xv += step) {
    const txt = String(Math.round(xv));
    const px = X(xv),
      tw = c.measureText(txt).width;
    c.fillText(txt, Math.min(pad.l + W - tw, Math.max(pad.l, px - tw / 2)), xb);
  }
  if (o.xTitle) {
    c.textAlign = 'center';
    c.fillText(o.xTitle, pad.l + W / 2, canvas.height - 4);
    c.textAlign = 'start';
  }
  const vertical = (txt: string, x: number) => {
    c.save();
    c.translate(x, pad.t + H / 2);
    c.rotate(-Math.PI / 2);
    c.textAlign = 'center';
    c.fillText(txt, 0, 0);
    c.restore();
  };
  if (o.yTitle) vertical(o.yTitle, 11);
  if (o.rightTitle) vertical(o.rightTitle, canvas.width - 4);
  if (o.legend) {
    let lx = pad.l + 4;
    for (const e of o.legend) {
      c.fillStyle = e.color;
      c.fillRect(lx, 8, 14, 4);
      c.fillStyle = '#374151';
      c.fillText(e.label, lx + 18, 14);
      lx += 26 + c.measureText(e.label).width;
    }
  }
  for (const s of series) {
    c.strokeStyle = s.color;
    c.lineWidth = 1.5;
    c.beginPath();
    let started = false;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (!Number.isFinite(tf(v))) continue;
      const px = X(s.x ? s.x[i] : i),
        py = Math.min(pad.t + H, Math.max(pad.t, Y(v)));
      if (!started) {
        c.moveTo(px, py);
        started = true;
      } else c.lineTo(px, py);
    }
    c.stroke();
  }
  if (o.markX !== undefined) {
    c.strokeStyle = '#222';
    c.setLineDash([4, 3]);
    c.beginPath();
    c.moveTo(X(o.markX), pad.t);
    c.lineTo(X(o.markX), pad.t + H);
    c.stroke();
    c.setLineDash([]);
  }
}

/**
 * Grayscale images [N, 1, h, w] with values in [lo, hi] drawn in a grid of `cols` columns, each
 * pixel `scale` screen pixels; the canvas is resized to fit.
 */
export function imageGrid(
  canvas: HTMLCanvasElement,
  images: Arr,
  cols: number,
  scale: number,
  range: [number, number] = [-1, 1],
  gap = 2,
): void {
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
export function drawGray(
  c: CanvasRenderingContext2D,
  data: ArrayLike<number>,
  w: number,
  h: number,
  x: number,
  y: number,
  scale: number,
  range: [number, number] = [-1, 1],
): void {
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
  if (axes) frame2d(canvas);
  else clear(canvas);
  const c = ctx2d(canvas);
  c.fillStyle = '#8a9099';
  c.font = '13px system-ui, sans-serif';
  c.textAlign = 'center';
  c.fillText(text, canvas.width / 2, canvas.height / 2 - 8);
  c.textAlign = 'start';
}

/** Colour for a magnitude in [0, 1] (light blue -> dark red, readable on white). */
export function magnitudeColor(u: number): string {
  const v = Math.min(1, Math.max(0, u));
  const stops = [
    [59, 130, 246],
    [124, 58, 237],
    [219, 39, 119],
    [153, 27, 27],
  ];
  const f = v * (stops.length - 1),
    i = Math.min(stops.length - 2, Math.floor(f)),
    w = f - i;
  const [r, g, b] = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * w));
  return `rgb(${r}, ${g}, ${b})`;
}

/** A horizontal colour bar for magnitudeColor from `lo` to `hi`. */
export function colorBar(canvas: HTMLCanvasElement, lo: string, hi: string): void {
  const c = clear(canvas);
  const w = canvas.width - 2;
  for (let x = 0; x < w; x++) {
    c.fillStyle = magnitudeColor(x / (w - 1));
    c.fillRect(1 + x, 0, 1, 10);
  }
  c.fillStyle = '#374151';
  c.font = '11px system-ui, sans-serif';
  c.fillText(lo, 1, 23);
  c.textAlign = 'right';
  c.fillText(hi, canvas.width - 1, 23);
  c.textAlign = 'start';
}

/** A round tick spacing (1, 2 or 5 times a power of ten) close to `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(raw)),
    f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}
