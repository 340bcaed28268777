/**
 * The nn ops (conv2d, linear, avgPool2d, upsampleNearest2d, groupNorm, layerNorm) together in one
 * training graph with a symbolic batch: it runs on ONNX Runtime and passes ONNX's own checker with
 * full shape inference (Debian python3-onnx; skipped when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Value,
  avgPool2d,
  compile,
  conv2d,
  grad,
  groupNorm,
  layerNorm,
  linear,
  mul,
  sum,
  toOnnx,
  trace,
  upsampleNearest2d,
} from '../../../src/engine/index.ts';
import { testData } from '../_gradcheck.ts';

const specs = [
  { name: 'x', shape: ['batch', 3, 8, 8] },
  { name: 'w', shape: [4, 3, 3, 3] },
  { name: 'b', shape: [4] },
  { name: 'w2', shape: [4, 2, 3, 3] },
  { name: 'gw', shape: [4] },
  { name: 'gb', shape: [4] },
  { name: 'lw', shape: [2] },
  { name: 'fw', shape: [3, 2] },
  { name: 'fb', shape: [3] },
];

function trainingGraph() {
  return trace((x: Value, w: Value, b: Value, w2: Value, gw: Value, gb: Value, lw: Value, fw: Value, fb: Value) => {
    let h = conv2d(x, w, b, { padding: 1 });
    h = conv2d(h, w2, null, { stride: 2, padding: 1, groups: 2 });
    h = groupNorm(h, 2, gw, gb);
    h = upsampleNearest2d(h, 2);
    h = avgPool2d(h, 3, { stride: 2, padding: 1 });
    h = avgPool2d(h, 2);
    h = layerNorm(h, [2], lw);
    h = linear(h, fw, fb);
    const loss = sum(mul(h, h));
    return [loss, ...grad(loss, [x, w, b, w2, gw, gb, lw, fw, fb])];
  }, specs);
}

test('a training graph of all nn ops runs with a symbolic batch', async () => {
  const f = await compile(trainingGraph());
  const feeds = specs.map((s, i) =>
    testData(
      s.shape.map((d) => (typeof d === 'number' ? d : 2)),
      i + 1,
    ),
  );
  const outs = await f.run(feeds);
  assert.equal(outs.length, 10);
  outs.forEach((o, i) => {
    if (i > 0) assert.deepEqual([...o.shape], [...feeds[i - 1].shape], `gradient ${i} shape`);
    assert.ok(o.data.every(Number.isFinite), `output ${i} is finite`);
  });
});

test("the exported training graph passes ONNX's checker with full shape inference", (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3-onnx is not installed; checker not run');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-nn-'));
  try {
    const file = join(dir, 'm.onnx');
    writeFileSync(file, toOnnx(trainingGraph()));
    const out = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print("ok")',
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(out.trim(), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
