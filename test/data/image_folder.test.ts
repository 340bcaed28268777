import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray } from '../../src/engine/ndarray.ts';
import { centerCrop, resizeBilinear, resizeCenterCrop, resizeShorterSide } from '../../src/data/resize.ts';
import { loadImageFolder } from '../../src/data/image_folder.ts';
import { encodePng, readImage } from '../../src/io/png.ts';

const FIX = path.join(import.meta.dirname, '..', 'fixtures', 'io');
const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'images.json'), 'utf8'));

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('resizeBilinear equals Pillow Image.resize(BILINEAR) on float images (up, down, mixed, identity)', () => {
  for (const c of fx.resize) {
    const [h, w] = c.in,
      [oh, ow] = c.out_size;
    const out = resizeBilinear(new NDArray([1, h, w], c.x), oh, ow);
    assert.deepEqual(out.shape, [1, oh, ow]);
    close(out.data, c.out, 1e-5, `${h}x${w} -> ${oh}x${ow}`);
  }
});

test('Resize(shorter side) + CenterCrop equals the torchvision pipeline on Pillow', () => {
  for (const c of fx.pipeline) {
    const [h, w] = c.in;
    const out = resizeCenterCrop(new NDArray([1, h, w], c.x), c.size);
    assert.deepEqual(out.shape, [1, c.size, c.size]);
    close(out.data, c.out, 1e-5, `${h}x${w} -> ${c.size}`);
  }
  assert.deepEqual(resizeShorterSide(NDArray.zeros([1, 100, 150]), 32).shape, [1, 32, 48]);
  assert.deepEqual(resizeShorterSide(NDArray.zeros([1, 150, 100]), 32).shape, [1, 48, 32]);
  // CenterCrop offsets use Python's round (ties to even): (5 - 2) / 2 = 1.5 -> 2, (7 - 2) / 2 = 2.5 -> 2
  const x = new NDArray(
    [1, 5, 7],
    Array.from({ length: 35 }, (_, i) => i),
  );
  assert.deepEqual(centerCrop(x, 2, 2).toArray(), [2 * 7 + 2, 2 * 7 + 3, 3 * 7 + 2, 3 * 7 + 3]);
  assert.throws(() => centerCrop(x, 6, 2), /crop 6 x 2 is larger than the image 5 x 7/);
});

function makeFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgf-'));
  for (const sub of ['cats', 'dogs']) fs.mkdirSync(path.join(dir, sub));
  const img = (v: number, h: number, w: number) =>
    encodePng(
      new NDArray(
        [3, h, w],
        Array.from({ length: 3 * h * w }, (_, i) => ((i * 7 + v) % 11) / 10),
      ),
      { range: '[0,1]' },
    );
  fs.writeFileSync(path.join(dir, 'cats', 'b.png'), img(1, 10, 14));
  fs.writeFileSync(path.join(dir, 'cats', 'a.PNG'), img(2, 8, 8));
  fs.copyFileSync(path.join(FIX, 'images', 'rgb.jpg'), path.join(dir, 'dogs', 'c.jpg'));
  fs.writeFileSync(path.join(dir, 'dogs', 'notes.txt'), 'not an image');
  fs.writeFileSync(path.join(dir, 'dogs', '.hidden.png'), 'hidden');
  return dir;
}

test('loads a folder: sorted files, resize + crop to size, [-1,1], classes from subfolders', () => {
  const dir = makeFolder();
  const d = loadImageFolder(dir, { size: 6, mode: 'RGB', classesFromSubdirs: true });
  assert.deepEqual(d.files, ['cats/a.PNG', 'cats/b.png', 'dogs/c.jpg']);
  assert.deepEqual(d.images.shape, [3, 3, 6, 6]);
  assert.deepEqual(d.classNames, ['cats', 'dogs']);
  assert.deepEqual([...d.labels!], [0, 0, 1]);
  // image 1 equals the pipeline applied to the decoded file
  const want = resizeCenterCrop(readImage(path.join(dir, 'cats', 'b.png')).image, 6).data.map((v) => v * 2 - 1);
  assert.deepEqual(d.images.data.subarray(108, 216), want);
  assert.ok(d.images.data.every((v) => v >= -1 && v <= 1));
  const g = loadImageFolder(dir, { size: 4, mode: 'L', range: '[0,1]', maxImages: 2 });
  assert.deepEqual(g.images.shape, [2, 1, 4, 4]);
  assert.equal(g.labels, undefined);
  fs.rmSync(dir, { recursive: true });
});

test('bad inputs are named: missing folder, empty folder, undecodable file (or skipped on request)', () => {
  const dir = makeFolder();
  fs.writeFileSync(
    path.join(dir, 'dogs', 'broken.png'),
    Buffer.from('\x89PNG\r\n\x1a\n garbage garbage garbage', 'latin1'),
  );
  assert.throws(() => loadImageFolder(dir, { size: 4 }), /dogs\/broken\.png: cannot decode PNG/);
  const d = loadImageFolder(dir, { size: 4, onError: 'skip' });
  assert.equal(d.images.shape[0], 3);
  assert.deepEqual(
    d.skipped.map((s) => s.file),
    ['dogs/broken.png'],
  );
  assert.throws(() => loadImageFolder(path.join(dir, 'nope'), { size: 4 }), /image folder .*nope: does not exist/);
  fs.mkdirSync(path.join(dir, 'empty'));
  assert.throws(
    () => loadImageFolder(path.join(dir, 'empty'), { size: 4 }),
    /image folder .*empty: no images found \(looked for \.png, \.jpg, \.jpeg/,
  );
  assert.throws(() => loadImageFolder(dir, { size: 0 }), /size = 0 must be an integer/);
  fs.writeFileSync(path.join(dir, 'top.png'), encodePng(NDArray.zeros([1, 2, 2])));
  assert.throws(
    () => loadImageFolder(dir, { size: 2, classesFromSubdirs: true, onError: 'skip' }),
    /top\.png is at the top level/,
  );
  fs.rmSync(dir, { recursive: true });
});
