import { test } from 'node:test';
import { neg } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';

unaryOpSuite(test, { name: 'neg', fn: neg, ref: (v) => -v, domain: [-3, 3] });
