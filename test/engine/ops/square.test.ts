import { test } from 'node:test';
import { square } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'square',
  fn: square,
  ref: (v) => v * v,
  domain: [-3, 3],
});
