import { test } from 'node:test';
import { tanh } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'tanh',
  fn: tanh,
  ref: Math.tanh,
  domain: [-3, 3],
});
