import { test } from 'node:test';
import { sin } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'sin',
  fn: sin,
  ref: Math.sin,
  domain: [-6, 6],
});
