import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { ImageDecodeError, decodeImage, encodePng, readImage, writePng } from '../../src/io/png.ts';
import { makeGrid, toByte, toRgba } from '../../src/io/image.ts';

const FIX = path.join(import.meta.dirname, '..', 'fixtures', 'io');
const IMG = path.join(FIX, 'images');
const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'images.json'), 'utf8'));

/** CHW [0,1] floats -> HWC bytes, to compare with Pillow's np.asarray(im.convert('RGB')). */
function hwcBytes(img: NDArray): number[] {
  const [c, h, w] = img.shape;
  const out: number[] = [];
  for (let p = 0; p < h * w; p++) for (let ci = 0; ci < c; ci++) out.push(Math.round(img.data[ci * h * w + p] * 255));
  return out;
}

test('PNG decoding equals Pillow for gray, RGB, RGBA, palette, gray+alpha and interlaced PNGs (fixture images.json)', () => {
  for (const name of ['gray.png', 'rgb.png', 'rgba.png', 'palette.png', 'gray_alpha.png', 'interlaced.png']) {
    const exp = fx.decoded[name];
    const { image, width, height, format } = readImage(path.join(IMG, name), { mode: 'RGB' });
    assert.equal(format, 'png');
    assert.deepEqual([width, height], [exp.width, exp.height], name);
    assert.deepEqual(image.shape, [3, exp.height, exp.width]);
    assert.deepEqual(hwcBytes(image), exp.rgb, name);
    const gray = readImage(path.join(IMG, name), { mode: 'L' }).image;
    assert.deepEqual(gray.shape, [1, exp.height, exp.width]);
    gray.data.forEach((v, i) => assert.ok(Math.abs(v - exp.L[i]) < 1e-6, `${name} L[${i}]`));
  }
});

test('16-bit PNG is scaled to 8 bits: byte = floor(v * 255 / 65535 + 0.5)', () => {
  const exp = fx.decoded['gray16.png'];
  const { image } = readImage(path.join(IMG, 'gray16.png'), { mode: 'L' });
  assert.deepEqual(
    Array.from(image.data, (v) => Math.round(v * 255)),
    exp.raw16.map((v: number) => Math.floor((v * 255) / 65535 + 0.5)),
  );
});

test('JPEG decoding (baseline, progressive, grayscale) is close to Pillow/libjpeg', () => {
  // 4:4:4 and grayscale: within 3 levels (IDCT and YCbCr->RGB rounding). 4:2:0 (progressive.jpg): chroma upsampling
  // differs between decoders (libjpeg "fancy upsampling"), so only the mean difference is tight.
  for (const [name, maxAllowed, meanAllowed] of [
    ['rgb.jpg', 3, 1],
    ['gray.jpg', 2, 1],
    ['progressive.jpg', 16, 5],
  ] as const) {
    const exp = fx.decoded[name];
    const { image, format } = readImage(path.join(IMG, name));
    assert.equal(format, 'jpeg');
    const got = hwcBytes(image);
    let maxd = 0,
      sum = 0;
    got.forEach((v, i) => {
      maxd = Math.max(maxd, Math.abs(v - exp.rgb[i]));
      sum += Math.abs(v - exp.rgb[i]);
    });
    assert.ok(maxd <= maxAllowed, `${name}: max difference ${maxd} levels`);
    assert.ok(sum / got.length <= meanAllowed, `${name}: mean difference ${sum / got.length} levels`);
  }
});

test('bad files give ImageDecodeError naming the file', () => {
  const cases: [string, RegExp][] = [
    ['notimage.png', /notimage\.png: not a PNG or JPEG file \(first bytes: 68 65 6c 6c/],
    ['bad.png', /bad\.png: cannot decode PNG/],
    ['truncated.png', /truncated\.png: cannot decode PNG/],
    ['does-not-exist.png', /does-not-exist\.png: cannot read file/],
  ];
  for (const [name, re] of cases) {
    assert.throws(
      () => readImage(path.join(IMG, name)),
      (e: unknown) => e instanceof ImageDecodeError && re.test(e.message),
      name,
    );
  }
  assert.throws(
    () => decodeImage(new Uint8Array(0), { source: 'empty.png' }),
    /empty\.png: not a PNG or JPEG file \(first bytes: none/,
  );
  const jpg = fs.readFileSync(path.join(IMG, 'rgb.jpg'));
  assert.throws(
    () => decodeImage(jpg.subarray(0, 200), { source: 'cut.jpg' }),
    (e: unknown) => e instanceof ImageDecodeError && /^cut\.jpg: cannot decode JPEG/.test(e.message),
  );
});

test('images larger than maxPixels are refused before decoding (PNG IHDR and JPEG SOF sizes)', () => {
  const png = fs.readFileSync(path.join(IMG, 'interlaced.png')); // 11 x 9
  assert.throws(
    () => decodeImage(png, { source: 'x.png', maxPixels: 50 }),
    /x\.png: image is too large: 11 x 9 = 99 pixels exceeds the limit of 50/,
  );
  const jpg = fs.readFileSync(path.join(IMG, 'progressive.jpg')); // 16 x 12
  assert.throws(
    () => decodeImage(jpg, { source: 'y.jpg', maxPixels: 100 }),
    /y\.jpg: image is too large: 16 x 12 = 192 pixels/,
  );
  // a forged IHDR claiming 100000 x 100000 is refused without inflating anything
  const forged = Buffer.from(png);
  forged.writeUInt32BE(100000, 16);
  forged.writeUInt32BE(100000, 20);
  assert.throws(() => decodeImage(forged, { source: 'bomb.png' }), /bomb\.png: image is too large: 100000 x 100000/);
});

test('toByte follows diffusers (x/2 + 0.5, clamp, *255, round half to even); NaN -> 0', () => {
  assert.deepEqual(
    [-1, -2, 0, 1, 5, NaN].map((v) => toByte(v, '[-1,1]')),
    [0, 0, 128, 255, 255, 0],
  );
  assert.deepEqual(
    [0, 0.5, 1, 1 / 255].map((v) => toByte(v, '[0,1]')),
    [0, 128, 255, 1],
  );
  assert.equal(toByte(2.5 / 255, '[0,1]'), 2); // 2.5 rounds to even
});

test('PNG round trip: gray / RGB / RGBA encodings decode back to the same bytes', () => {
  const gray = new NDArray(
    [1, 3, 4],
    Array.from({ length: 12 }, (_, i) => (i / 11) * 2 - 1),
  );
  const g = decodeImage(encodePng(gray), { mode: 'L' }).image;
  assert.deepEqual(
    Array.from(g.data, (v) => Math.round(v * 255)),
    Array.from(gray.data, (v) => toByte(v, '[-1,1]')),
  );
  const rgb = new NDArray(
    [3, 2, 2],
    Array.from({ length: 12 }, (_, i) => i / 11),
  );
  const r = decodeImage(encodePng(rgb, { range: '[0,1]' }), { mode: 'RGB' }).image;
  assert.deepEqual(
    Array.from(r.data, (v) => Math.round(v * 255)),
    Array.from(rgb.data, (v) => toByte(v, '[0,1]')),
  );
  const rgba = toRgba(rgb, { range: '[0,1]' });
  assert.deepEqual(decodeImage(encodePng(rgba)).image.toArray(), r.toArray());
  const bytes = encodePng(gray);
  assert.equal(bytes[25], 0, 'IHDR color type 0 (grayscale) for one channel');
  assert.equal(encodePng(rgb)[25], 2, 'IHDR color type 2 (RGB) for three channels');
  assert.throws(() => encodePng(NDArray.zeros([2, 3, 3])), /image shape \[2, 3, 3\] is not/);
  assert.throws(
    () => encodePng(NDArray.zeros([1, 3, 3]), { range: '0..1' as never }),
    /range = "0..1" is not supported \(allowed: "\[-1,1\]", "\[0,1\]"\)/,
  );
});

test('makeGrid follows torchvision.utils.make_grid layout (nrow per row, padding, pad value)', () => {
  // 3 images 1x2x2 with values k+1, nrow 2, padding 1: canvas (2*3+1) x (2*3+1)
  const batch = new NDArray([3, 1, 2, 2], [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  const g = makeGrid(batch, { nrow: 2, padding: 1, padValue: -1 });
  assert.deepEqual(g.shape, [1, 7, 7]);
  const rows = Array.from({ length: 7 }, (_, y) => g.toArray().slice(y * 7, y * 7 + 7));
  assert.deepEqual(rows, [
    [-1, -1, -1, -1, -1, -1, -1],
    [-1, 1, 1, -1, 2, 2, -1],
    [-1, 1, 1, -1, 2, 2, -1],
    [-1, -1, -1, -1, -1, -1, -1],
    [-1, 3, 3, -1, -1, -1, -1],
    [-1, 3, 3, -1, -1, -1, -1],
    [-1, -1, -1, -1, -1, -1, -1],
  ]);
  assert.deepEqual(makeGrid(NDArray.zeros([16, 1, 28, 28])).shape, [1, 122, 122]);
});

test('writePng tiles a batch and writes atomically', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'png-'));
  const p = path.join(dir, 'grid.png');
  writePng(p, NDArray.full([4, 3, 5, 5], 1), { nrow: 2, padding: 2 });
  const { width, height, image } = readImage(p);
  assert.deepEqual([width, height], [16, 16]);
  assert.equal(image.data[0], 0); // padding
  assert.equal(image.data[2 * 16 + 2], 1); // first pixel of image 0
  assert.deepEqual(fs.readdirSync(dir), ['grid.png']);
  fs.rmSync(dir, { recursive: true });
});
