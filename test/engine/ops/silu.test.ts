import { test } from 'node:test';
import { silu } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'silu',
  fn: silu,
  ref: (v) => v / (1 + Math.exp(-v)),
  domain: [-6, 6],
});
