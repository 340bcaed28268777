import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { OPSET, add, grad, matmul, mul, sum, toOnnx, trace, type Value } from '../../src/engine/index.ts';

const { onnx } = onnxProto;

function mlpLossGraph() {
  return trace(
    (w: Value, x: Value) => {
      const y = matmul(x, w);
      const loss = sum(mul(y, y));
      return { loss, dw: grad(loss, [w])[0] };
    },
    [
      { name: 'w', shape: [3, 2] },
      { name: 'x', shape: ['batch', 3] },
    ],
  );
}

test('exported model declares opset and IR, named inputs/outputs with dynamic batch', () => {
  const bytes = toOnnx(mlpLossGraph());
  const m = onnx.ModelProto.decode(bytes);
  assert.equal(Number(m.opsetImport[0].version), OPSET);
  assert.deepEqual(
    m.graph!.input!.map((i) => i.name),
    ['w', 'x'],
  );
  assert.deepEqual(
    m.graph!.output!.map((o) => o.name),
    ['loss', 'dw'],
  );
  assert.equal(m.graph!.input![1].type!.tensorType!.shape!.dim![0].dimParam, 'batch');
  // every node input is a graph input, an initializer or an earlier node's output (topological order)
  const known = new Set<string>([...m.graph!.input!.map((i) => i.name!), ...m.graph!.initializer!.map((t) => t.name!)]);
  for (const n of m.graph!.node!) {
    for (const i of n.input!) assert.ok(known.has(i), `node ${n.name} reads undefined tensor ${i}`);
    for (const o of n.output!) {
      assert.ok(!known.has(o), `tensor ${o} written twice`);
      known.add(o);
    }
  }
});

test('dead nodes are not exported', () => {
  const g = trace(
    (x: Value) => {
      add(x, 5);
      return mul(x, 2);
    },
    [{ name: 'x', shape: [2] }],
  );
  const m = onnx.ModelProto.decode(toOnnx(g));
  assert.deepEqual(
    m.graph!.node!.map((n) => n.opType),
    ['Mul'],
  );
});

test("exported models pass ONNX's own checker (Debian python3-onnx)", (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3-onnx is not installed (apt-get install python3-onnx); checker not run');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'diffuse-onnx-'));
  try {
    const file = join(dir, 'm.onnx');
    writeFileSync(file, toOnnx(mlpLossGraph()));
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
