import { test } from 'node:test';
import { sign } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'sign',
  fn: sign,
  ref: Math.sign,
  domain: [-3, 3],
  awayFromKinks: (v) => v + Math.sign(v) * 0.1,
});
