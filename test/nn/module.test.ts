/**
 * Module system: dotted names (PyTorch/diffusers state-dict convention), PyTorch default
 * initialisations (closed forms from torch.nn.Linear/Conv2d/GroupNorm/LayerNorm/Embedding
 * reset_parameters), and parameter binding inside traces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NDArray, Philox, add, compile, mul, trace, type Value } from '../../src/engine/index.ts';
import { Module, checkParams, init, torchDefaultBound, withParams, type Parameter } from '../../src/nn/module.ts';
import { Linear } from '../../src/nn/linear.ts';
import { Conv2d } from '../../src/nn/conv2d.ts';
import { Embedding } from '../../src/nn/embedding.ts';
import { Dropout } from '../../src/nn/dropout.ts';

class Scale extends Module {
  readonly weight: Parameter;
  constructor(n: number) {
    super();
    this.weight = this.param('weight', [n], init.ones());
  }
  forward(x: Value): Value {
    return mul(x, this.weight.value);
  }
}

class Net extends Module {
  readonly first = this.child('first', new Scale(3));
  readonly blocks = this.children('blocks', [new Scale(3), new Scale(3)]);
  readonly offset = this.param('offset', [3], init.zeros());
  forward(x: Value): Value {
    let h = this.first.forward(x);
    for (const b of this.blocks) h = b.forward(h);
    return add(h, this.offset.value);
  }
}

test('namedParameters: dotted names in registration order, lists as name.i', () => {
  const n = new Net();
  assert.deepEqual(
    n.namedParameters().map(([k]) => k),
    ['first.weight', 'blocks.0.weight', 'blocks.1.weight', 'offset'],
  );
  assert.equal(n.numParameters(), 12);
  assert.deepEqual(n.parameterShapes()['blocks.1.weight'], [3]);
});

test('registration errors name the module and the bad name', () => {
  class Bad extends Module {
    constructor() {
      super();
      this.param('a.b', [1], init.zeros());
    }
  }
  assert.throws(() => new Bad(), /Bad: invalid parameter\/child name 'a.b'/);
  class Twice extends Module {
    constructor() {
      super();
      this.param('w', [1], init.zeros());
      this.param('w', [1], init.zeros());
    }
  }
  assert.throws(() => new Twice(), /Twice: 'w' is registered twice/);
  assert.throws(() => new Scale(-1), /invalid shape \[-1\]/);
});

function stats(a: NDArray): { mean: number; variance: number; min: number; max: number } {
  let s = 0,
    s2 = 0,
    min = Infinity,
    max = -Infinity;
  for (const v of a.data) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / a.size;
  return { mean, variance: s2 / a.size - mean * mean, min, max };
}

test('PyTorch default init: Linear/Conv2d U(+-1/sqrt(fan_in)), Embedding N(0,1), norms ones/zeros', () => {
  // torch.nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) -> bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in)
  assert.equal(torchDefaultBound(64), 0.125);
  const lin = new Linear(64, 256);
  const conv = new Conv2d(8, 512, 3, { padding: 1 });
  const emb = new Embedding(100, 100);
  const p1 = lin.initParams(new Philox(1));
  const p2 = conv.initParams(new Philox(2));
  const p3 = emb.initParams(new Philox(3));
  for (const [a, b] of [
    [p1.weight, 1 / 8],
    [p1.bias, 1 / 8],
    [p2.weight, 1 / Math.sqrt(72)],
    [p2.bias, 1 / Math.sqrt(72)],
  ] as const) {
    const s = stats(a);
    assert.ok(s.min >= -b && s.max < b, `within +-${b}`);
    assert.ok(s.max > 0.9 * b && s.min < -0.9 * b, 'fills the interval');
    const tol = 5 * Math.sqrt(b ** 4 / 5 / a.size); // ~5 standard errors of the sample variance
    assert.ok(Math.abs(s.variance - (b * b) / 3) < tol, `variance ${s.variance} vs b^2/3 = ${(b * b) / 3}`);
    assert.ok(Math.abs(s.mean) < (5 * b) / Math.sqrt(3 * a.size), `mean ${s.mean}`);
  }
  assert.deepEqual(p2.weight.shape, [512, 8, 3, 3]);
  const e = stats(p3.weight);
  assert.ok(Math.abs(e.mean) < 0.05 && Math.abs(e.variance - 1) < 0.05, `N(0,1): mean ${e.mean} var ${e.variance}`);
  // same generator state -> same values; different seeds -> different values
  assert.deepEqual(lin.initParams(new Philox(1)).weight.data, p1.weight.data);
  assert.notDeepEqual(lin.initParams(new Philox(9)).weight.data, p1.weight.data);
  const n = new Net().initParams(new Philox(0));
  assert.deepEqual(Array.from(n['first.weight'].data), [1, 1, 1]);
  assert.deepEqual(Array.from(n.offset.data), [0, 0, 0]);
});

test('withParams binds by identity; checks missing / extra / wrong-shape names', async () => {
  const net = new Net();
  const specs = [
    { name: 'x', shape: ['batch', 3] },
    ...net.namedParameters().map(([k, p]) => ({ name: k, shape: p.shape })),
  ];
  const g = trace(
    (x: Value, ...ps: Value[]) =>
      withParams(
        net,
        {
          'first.weight': ps[0],
          'blocks.0.weight': ps[1],
          'blocks.1.weight': ps[2],
          offset: ps[3],
        },
        () => net.forward(x),
      ),
    specs,
  );
  const f = await compile(g);
  const [y] = await f.run({
    x: NDArray.from([[1, 2, 3]]),
    'first.weight': NDArray.from([1, 2, 3]),
    'blocks.0.weight': NDArray.from([2, 2, 2]),
    'blocks.1.weight': NDArray.from([1, 1, -1]),
    offset: NDArray.from([0.5, 0, 0]),
  });
  assert.deepEqual(Array.from(y.data), [2.5, 8, -18]);

  const p = net.initParams(new Philox(0));
  const { offset: _drop, ...missing } = p;
  assert.throws(() => checkParams(net, missing), /missing parameter 'offset' of shape \[3\]/);
  assert.throws(
    () => checkParams(net, { ...p, 'blocks.2.weight': NDArray.ones([3]) }),
    /unexpected parameter 'blocks.2.weight'/,
  );
  assert.throws(
    () => checkParams(net, { ...p, offset: NDArray.ones([4]) }),
    /parameter 'offset' has shape \[4\], the model expects \[3\]/,
  );
  assert.throws(
    () => trace((x: Value) => net.forward(x), [{ name: 'x', shape: [1, 3] }]),
    /parameter 'weight' \[3\] is not bound: run the module's forward inside withParams/,
  );
});

test('NDArray parameters are embedded as constants; bindings nest (innermost wins)', async () => {
  const a = new Scale(2),
    b = new Scale(2);
  const g = trace(
    (x: Value) =>
      withParams(a, { weight: NDArray.from([2, 3]) }, () =>
        withParams(b, { weight: NDArray.from([10, 10]) }, () => b.forward(a.forward(x))),
      ),
    [{ name: 'x', shape: [2] }],
  );
  const [y] = await (await compile(g)).run({ x: NDArray.from([1, 1]) });
  assert.deepEqual(Array.from(y.data), [20, 30]);
});

test('Dropout: a probability in [0, 1); bad values are rejected clearly', () => {
  assert.equal(new Dropout(0.1).p, 0.1);
  assert.throws(() => new Dropout(1.5), /dropout probability must be in \[0, 1\), got 1.5/);
  assert.equal(new Dropout(0).namedParameters().length, 0);
});

test('layer constructors reject bad sizes with the argument name', () => {
  assert.throws(() => new Linear(0, 3), /Linear: inFeatures must be a positive integer, got 0/);
  assert.throws(
    () => new Conv2d(3, 4, 3, { groups: 2 }),
    /inChannels 3 and outChannels 4 must be divisible by groups 2/,
  );
  assert.throws(() => new Embedding(10, 2.5), /Embedding: embeddingDim must be a positive integer, got 2.5/);
});
