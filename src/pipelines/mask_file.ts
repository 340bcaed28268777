/**
 * A mask image file (PNG or JPEG) as a known mask for a model's samples: decoded to grayscale, resized
 * (bilinear, then thresholded at 0.5) to the sample's H x W when the sizes differ, white = fill in,
 * black = keep (see mask.ts; `invert` swaps them). Node only (reads the file); in the browser decode
 * the image yourself and call maskFromImage.
 *
 * @example
 *   const mask = readMaskImage('hole.png', [1, 28, 28]);     // [1, 28, 28]: 0 where hole.png is white
 */
import fs from 'node:fs';
import type { NDArray } from '../engine/index.ts';
import { readImage } from '../io/png.ts';
import { resizeBilinear } from '../data/resize.ts';
import { maskFromImage } from './mask.ts';

/** Read a mask image for samples of shape [C, H, W]. @example readMaskImage('m.png', [3, 32, 32], { invert: true }) */
export function readMaskImage(file: string, sampleShape: readonly number[], o: { invert?: boolean } = {}): NDArray {
  if (sampleShape.length !== 3)
    throw new Error(
      `--mask ${file}: mask images are for image models; samples here have shape [${sampleShape.join(', ')}]`,
    );
  if (!fs.existsSync(file)) throw new Error(`--mask ${file}: no such file`);
  const [C, H, W] = sampleShape;
  const g = readImage(file, { mode: 'L' }).image;
  const sized = g.shape[1] === H && g.shape[2] === W ? g : resizeBilinear(g, H, W).map((v) => (v >= 0.5 ? 1 : 0));
  return maskFromImage(sized, { channels: C, invert: o.invert });
}
