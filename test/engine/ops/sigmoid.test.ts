import { test } from 'node:test';
import { sigmoid } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'sigmoid',
  fn: sigmoid,
  ref: (v) => 1 / (1 + Math.exp(-v)),
  domain: [-6, 6],
});
