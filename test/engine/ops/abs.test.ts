import { test } from 'node:test';
import { abs } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'abs',
  fn: abs,
  ref: Math.abs,
  domain: [-3, 3],
  awayFromKinks: (v) => v + Math.sign(v) * 0.1,
});
