import { test } from 'node:test';
import { exp } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'exp',
  fn: exp,
  ref: Math.exp,
  domain: [-3, 3],
});
