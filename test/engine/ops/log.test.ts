import { test } from 'node:test';
import { log } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, {
  name: 'log',
  fn: log,
  ref: Math.log,
  domain: [0.1, 4],
});
