import { test } from 'node:test';
import { sqrt } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'sqrt',
  fn: sqrt,
  ref: Math.sqrt,
  domain: [0.1, 4],
});
