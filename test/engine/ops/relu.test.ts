import { test } from 'node:test';
import { relu } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'relu',
  fn: relu,
  ref: (v) => Math.max(v, 0),
  domain: [-3, 3],
  awayFromKinks: (v) => v + Math.sign(v) * 0.1,
});
