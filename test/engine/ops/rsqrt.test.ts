import { test } from 'node:test';
import { rsqrt } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'rsqrt',
  fn: rsqrt,
  ref: (v) => 1 / Math.sqrt(v),
  domain: [0.1, 4],
});
