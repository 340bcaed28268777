/**
 * Image-folder export: every value comes back (through loadImageFolder) within the 8-bit quantisation
 * step, round((x + 1) / 2 * 255) / 127.5 - 1 exactly; class subfolders follow torchvision's ImageFolder
 * layout and the labels survive the round trip; MNIST exports its first images in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { exportDataSet, exportImageFolder } from '../../src/data/export_image_folder.ts';
import { loadImageFolder } from '../../src/data/image_folder.ts';
import { loadMnist } from '../../src/data/mnist.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-export-'));

test('exportImageFolder: RGB round trip equals the 8-bit quantisation of each value; labels as subfolders', () => {
  const u = new Philox(1).uniform([6, 3, 8, 8]);
  const x = new NDArray(
    u.shape,
    u.data.map((v) => 2 * v - 1),
  );
  const dir = tmp();
  const r = exportImageFolder(x, dir, { labels: [0, 1, 0, 2, 1, 0], classNames: ['cat', 'dog', 'fox'] });
  assert.deepEqual(r.classCounts, { cat: 3, dog: 2, fox: 1 });
  assert.equal(r.files[1], 'dog/1.png');
  const back = loadImageFolder(dir, { size: 8, mode: 'RGB', classesFromSubdirs: true });
  assert.deepEqual(back.classNames, ['cat', 'dog', 'fox']);
  // loadImageFolder sorts paths: cat/0, cat/2, cat/5, dog/1, dog/4, fox/3
  const order = [0, 2, 5, 1, 4, 3];
  assert.deepEqual(Array.from(back.labels!), [0, 0, 0, 1, 1, 2]);
  const per = 3 * 8 * 8;
  order.forEach((src, j) => {
    for (let k = 0; k < per; k++) {
      const q = Math.round(((x.data[src * per + k] + 1) / 2) * 255) / 127.5 - 1;
      assert.ok(Math.abs(back.images.data[j * per + k] - q) < 1e-6, `image ${src} value ${k}`);
    }
  });
  assert.throws(() => exportImageFolder(x, dir), /is not empty/);
});

test('exportDataSet: mnist images in order, one folder per digit', () => {
  const dir = tmp();
  const r = exportDataSet('mnist', dir, { limit: 20 });
  assert.equal(r.files.length, 20);
  const m = loadMnist({ limit: 20 });
  assert.equal(r.files[3], `${m.labels[3]}/03.png`);
  const back = loadImageFolder(path.join(dir, String(m.labels[3])), { size: 28, mode: 'L' });
  const idx = back.files.indexOf('03.png');
  const a = back.images.data.slice(idx * 784, (idx + 1) * 784),
    b = m.images.data.slice(3 * 784, 4 * 784);
  for (let k = 0; k < 784; k++) assert.ok(Math.abs(a[k] - b[k]) < 1e-6, `pixel ${k}`);
  assert.throws(
    () => exportDataSet('moons', tmp()),
    /"moons" is not an image data set \(allowed: mnist, or a folder of PNG\/JPEG images\)/,
  );
});
