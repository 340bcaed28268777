import { test } from 'node:test';
import { cos } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'cos',
  fn: cos,
  ref: Math.cos,
  domain: [-6, 6],
});
