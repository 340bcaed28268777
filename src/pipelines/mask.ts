/**
 * Inpainting masks: which entries of a sample are known (kept) and which are filled in.
 *
 * Convention everywhere in diffuse (and in diffusers' RePaintScheduler): a "known mask" holds 1 where the
 * value is known and kept, 0 where the model fills it in. Masks are built from
 *   - a rectangle spec for images: `x,y,w,h` in pixels, or a named half (`lower-half`, `upper-half`,
 *     `left-half`, `right-half`, `center`) naming the region to FILL;
 *   - a grayscale image (a PNG decoded by the caller): white (>= 0.5 in [0, 1]) = fill in, black = keep
 *     (the convention of painting over what should be replaced; `invert` flips it);
 *   - known coordinates of vector data (tabular / 2-D rows): the columns that are observed (imputation).
 * No file system here: the browser playground uses this module too.
 *
 * @example
 *   const m = rectangleMask([1, 28, 28], 'lower-half');          // [1, 28, 28], 1 on rows 0..13
 *   const v = knownCoordinatesMask(4, [0, 2]);                    // [4]: [1, 0, 1, 0]
 *   const b = broadcastMask(v, [100, 4]);                          // one row per sample
 */
import { NDArray, sameShape } from '../engine/ndarray.ts';

/** Named regions accepted by `rectangleMask` (the region that is filled in). */
export const NAMED_REGIONS = ['lower-half', 'upper-half', 'left-half', 'right-half', 'center'] as const;

/** A rectangle in pixels: columns x..x+width-1, rows y..y+height-1. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Parse a region spec: `x,y,w,h` (pixels) or one of NAMED_REGIONS, for an image of height H and width W.
 * @example parseRegion('lower-half', 28, 28) // { x: 0, y: 14, width: 28, height: 14 }
 */
export function parseRegion(spec: string, H: number, W: number): Rect {
  const s = spec.trim().toLowerCase();
  const h2 = Math.floor(H / 2),
    w2 = Math.floor(W / 2);
  switch (s) {
    case 'lower-half':
      return { x: 0, y: h2, width: W, height: H - h2 };
    case 'upper-half':
      return { x: 0, y: 0, width: W, height: h2 };
    case 'left-half':
      return { x: 0, y: 0, width: w2, height: H };
    case 'right-half':
      return { x: w2, y: 0, width: W - w2, height: H };
    case 'center':
      return {
        x: Math.floor(W / 4),
        y: Math.floor(H / 4),
        width: W - 2 * Math.floor(W / 4),
        height: H - 2 * Math.floor(H / 4),
      };
  }
  const parts = s.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v))) {
    throw new Error(
      `--region ${JSON.stringify(spec)}: expected x,y,w,h in pixels (integers) or one of ${NAMED_REGIONS.join(', ')}`,
    );
  }
  const [x, y, width, height] = parts;
  if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > W || y + height > H) {
    throw new Error(
      `--region ${JSON.stringify(spec)}: the rectangle must lie inside the ${W}x${H} image and have width, height >= 1`,
    );
  }
  return { x, y, width, height };
}

/**
 * Known mask [C, H, W] of an image whose `region` (a spec string or a Rect) is filled in: 0 inside, 1 outside.
 * @example rectangleMask([1, 28, 28], '4,4,10,10')
 */
export function rectangleMask(sampleShape: readonly number[], region: string | Rect): NDArray {
  if (sampleShape.length !== 3)
    throw new Error(
      `rectangleMask: expected an image shape [C, H, W], got [${sampleShape.join(', ')}] (for vector data use knownCoordinatesMask)`,
    );
  const [C, H, W] = sampleShape;
  const r = typeof region === 'string' ? parseRegion(region, H, W) : region;
  const m = NDArray.ones(sampleShape);
  for (let c = 0; c < C; c++) {
    for (let y = r.y; y < Math.min(H, r.y + r.height); y++) {
      for (let x = r.x; x < Math.min(W, r.x + r.width); x++) m.data[(c * H + y) * W + x] = 0;
    }
  }
  return m;
}

/**
 * Known mask from a grayscale image [1, H, W] or [H, W] with values in [0, 1] (e.g. a decoded PNG):
 * >= 0.5 (white) = fill in, < 0.5 = keep; `invert` swaps them. `channels` repeats it over the sample's channels.
 * @example maskFromImage(gray, { channels: 3 })
 */
export function maskFromImage(gray: NDArray, o: { channels?: number; invert?: boolean } = {}): NDArray {
  const dims = gray.ndim === 3 ? gray.shape.slice(1) : gray.shape;
  if (dims.length !== 2 || (gray.ndim === 3 && gray.shape[0] !== 1))
    throw new Error(`maskFromImage: expected a grayscale image [1, H, W] or [H, W], got [${gray.shape.join(', ')}]`);
  const [H, W] = dims;
  const C = o.channels ?? 1;
  const m = new NDArray([C, H, W]);
  for (let i = 0; i < H * W; i++) {
    const fill = gray.data[i] >= 0.5;
    const v = fill !== (o.invert ?? false) ? 0 : 1;
    for (let c = 0; c < C; c++) m.data[c * H * W + i] = v;
  }
  return m;
}

/**
 * Known mask [D] of vector data with the given observed columns (0-based).
 * @example knownCoordinatesMask(2, [0]) // [1, 0]: x1 known, x2 imputed
 */
export function knownCoordinatesMask(dim: number, known: readonly number[]): NDArray {
  const m = new NDArray([dim]);
  for (const j of known) {
    if (!Number.isInteger(j) || j < 0 || j >= dim)
      throw new Error(`--known ${j}: column index out of range; expected integers in 0..${dim - 1}`);
    m.data[j] = 1;
  }
  return m;
}

/**
 * Known mask of vector rows with missing values: 1 where the value is finite, 0 where it is NaN (an empty
 * CSV cell). Returns the mask and a copy of the rows with NaN replaced by 0.
 * @example const { mask, known } = maskFromMissing(rows);   // impute the NaN cells
 */
export function maskFromMissing(rows: NDArray): { mask: NDArray; known: NDArray } {
  const mask = rows.map((v) => (Number.isFinite(v) ? 1 : 0));
  const known = rows.map((v) => (Number.isFinite(v) ? v : 0));
  return { mask, known };
}

/**
 * A mask of one sample's shape (or already the batch's) as the batch shape [B, ...].
 * @example broadcastMask(rectangleMask([1, 28, 28], 'lower-half'), [16, 1, 28, 28])
 */
export function broadcastMask(mask: NDArray, shape: readonly number[]): NDArray {
  if (sameShape(mask.shape, shape)) return mask;
  if (!sameShape(mask.shape, shape.slice(1)))
    throw new Error(
      `mask: shape [${mask.shape.join(', ')}] fits neither the batch [${shape.join(', ')}] nor one sample [${shape.slice(1).join(', ')}]`,
    );
  const out = new NDArray(shape);
  for (let b = 0; b < shape[0]; b++) out.data.set(mask.data, b * mask.size);
  return out;
}

/** a where the mask is 1 (known), b elsewhere (a select, so NaN in a's unknown entries does not leak). @example mergeKnown(mask, known, x) */
export function mergeKnown(mask: NDArray, a: NDArray, b: NDArray): NDArray {
  const out = new NDArray(b.shape);
  for (let i = 0; i < out.size; i++) out.data[i] = mask.data[i] === 1 ? a.data[i] : b.data[i];
  return out;
}
