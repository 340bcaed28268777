import { test } from 'node:test';
import assert from 'node:assert/strict';
import { erf } from '../../../src/engine/index.ts';
import { unaryOpSuite } from './_opcheck.ts';
import { erfRef } from './_erf_ref.ts';

test('the test reference erf matches tabulated values (A&S table 7.1)', () => {
  assert.ok(Math.abs(erfRef(0.5) - 0.5204998778) < 1e-9);
  assert.ok(Math.abs(erfRef(1) - 0.8427007929) < 1e-9);
  assert.ok(Math.abs(erfRef(2) - 0.995322265) < 1e-9);
});

unaryOpSuite(test, { name: 'erf', fn: erf, ref: erfRef, domain: [-3, 3] });
