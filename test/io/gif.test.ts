import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GifReader } from 'omggif';
import { NDArray } from '../../src/engine/ndarray.ts';
import { encodeGif, trajectoryFrames, writeGif } from '../../src/io/gif.ts';
import { toByte, type RgbaImage } from '../../src/io/image.ts';

/** Decodes every frame with omggif (an independent decoder) to RGBA. */
function decodeAll(bytes: Uint8Array): { reader: GifReader; frames: Uint8Array[] } {
  const reader = new GifReader(bytes);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < reader.numFrames(); i++) {
    const px = new Uint8Array(reader.width * reader.height * 4);
    reader.decodeAndBlitFrameRGBA(i, px);
    frames.push(px);
  }
  return { reader, frames };
}

test('gray trajectories are lossless: omggif decodes the exact bytes, frame count, delays and loop', () => {
  // 3 steps of a batch of 2 images 1x3x3 in [-1,1], tiled 2 per row with padding 1
  const steps = [0, 1, 2].map(
    (s) =>
      new NDArray(
        [2, 1, 3, 3],
        Array.from({ length: 18 }, (_, i) => Math.sin(i + 3 * s)),
      ),
  );
  const frames = trajectoryFrames(steps, { range: '[-1,1]', nrow: 2, padding: 1 });
  assert.deepEqual([frames[0].width, frames[0].height], [2 * 4 + 1, 4 + 1]);
  const bytes = encodeGif(frames, { delayMs: 50, lastFrameDelayMs: 500 });
  const { reader, frames: dec } = decodeAll(bytes);
  assert.equal(reader.numFrames(), 3);
  assert.equal(reader.loopCount(), 0); // 0 = forever (NETSCAPE2.0)
  assert.deepEqual(
    [0, 1, 2].map((i) => reader.frameInfo(i).delay),
    [5, 5, 50],
  ); // 1/100 s
  dec.forEach((px, i) => assert.deepEqual([...px], [...frames[i].data], `frame ${i}`));
  // pixel (1,1) of frame 0 is image 0 pixel (0,0): value sin(0) = 0 -> byte 128
  assert.equal(dec[0][4 * (1 * 9 + 1)], toByte(0, '[-1,1]'));
  assert.equal(dec[0][0], 0, 'padding is black');
});

test('colour frames go through one global palette; distinct colours survive exactly', () => {
  const colours = [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 255],
    [0, 0, 0],
    [200, 120, 40],
  ];
  const mk = (shift: number): RgbaImage => {
    const data = new Uint8Array(6 * 4 * 4);
    for (let p = 0; p < 24; p++) {
      const c = colours[(p + shift) % 6];
      data.set([c[0], c[1], c[2], 255], 4 * p);
    }
    return { width: 6, height: 4, data };
  };
  const frames = [mk(0), mk(1), mk(2)];
  const { reader, frames: dec } = decodeAll(encodeGif(frames, { loop: false }));
  assert.equal(reader.numFrames(), 3);
  assert.equal(reader.loopCount(), null, 'no NETSCAPE loop block when played once');
  dec.forEach((px, i) => assert.deepEqual([...px], [...frames[i].data], `frame ${i}`));
});

test('bad frames are rejected with the frame index', () => {
  const a: RgbaImage = { width: 2, height: 2, data: new Uint8Array(16) };
  assert.throws(() => encodeGif([]), /no frames/);
  assert.throws(
    () => encodeGif([a, { width: 3, height: 2, data: new Uint8Array(24) }]),
    /frame 1 is 3 x 2, frame 0 is 2 x 2/,
  );
  assert.throws(
    () => encodeGif([a, { width: 2, height: 2, data: new Uint8Array(15) }]),
    /frame 1 has 15 bytes, expected 16/,
  );
  assert.throws(() => encodeGif([a], { delayMs: -1 }), /delayMs = -1/);
});

test('writeGif writes atomically', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gif-'));
  const p = path.join(dir, 't.gif');
  writeGif(p, trajectoryFrames([NDArray.zeros([1, 4, 4]), NDArray.ones([1, 4, 4])]));
  assert.equal(new GifReader(fs.readFileSync(p)).numFrames(), 2);
  assert.deepEqual(fs.readdirSync(dir), ['t.gif']);
  fs.rmSync(dir, { recursive: true });
});
