/**
 * Determinism across processes: the same seed and inputs give byte-identical training output (loss
 * curve, weights, EMA, optimizer state, preview) and byte-identical samples (PNG and CSV, with a
 * deterministic and a stochastic sampler); another sampling seed gives other bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { listFiles, runCli, tmpDir } from './_cli.ts';

test('same seed -> identical training curves and files, identical sample PNG/CSV bytes (separate processes)', {
  timeout: 120_000,
}, async () => {
  const root = tmpDir();
  try {
    const at = (...p: string[]) => path.join(root, ...p);
    const model = at('mlp.json');
    fs.writeFileSync(
      model,
      JSON.stringify({
        _class_name: 'MLPModel',
        in_channels: 2,
        out_channels: 2,
        hidden_dims: [16, 16],
        time_embedding_dim: 8,
      }),
    );
    const train = (out: string, seed: string) =>
      runCli([
        'train',
        '--data',
        'swissroll',
        '--model',
        model,
        '--steps',
        '30',
        '--batch-size',
        '16',
        '--checkpoint-every',
        '10',
        '--keep-last',
        '3',
        '--seed',
        seed,
        '--out',
        out,
        '--quiet',
      ]);
    const runs = await Promise.all([train(at('a'), '5'), train(at('b'), '5')]);
    runs.forEach((r) => assert.equal(r.code, 0, r.stderr));
    const files = listFiles(at('a'));
    assert.deepEqual(listFiles(at('b')), files);
    for (const f of files)
      assert.ok(
        fs.readFileSync(at('a', f)).equals(fs.readFileSync(at('b', f))),
        `${f} differs between two runs with seed 5`,
      );
    // The training curve (trainer_state.json, compared byte for byte above) is complete and finite.
    const curve = JSON.parse(fs.readFileSync(at('a', 'checkpoint-30', 'trainer_state.json'), 'utf8'))
      .losses as number[];
    assert.equal(curve.length, 30);
    assert.ok(curve.every(Number.isFinite));

    const sample = (seed: string, scheduler: string, out: string) =>
      runCli([
        'sample',
        at('a'),
        '--scheduler',
        scheduler,
        '--steps',
        '8',
        '--n',
        '200',
        '--seed',
        seed,
        '--out',
        at(out),
      ]);
    const s = await Promise.all([
      sample('1', 'ddpm', 's1.png'),
      sample('1', 'ddpm', 's2.png'),
      sample('2', 'ddpm', 's3.png'),
      sample('1', 'dpmsolver++', 's1.csv'),
      sample('1', 'dpmsolver++', 's2.csv'),
    ]);
    s.forEach((r) => assert.equal(r.code, 0, r.stderr));
    const bytes = (f: string) => fs.readFileSync(at(f));
    assert.ok(bytes('s1.png').equals(bytes('s2.png')), 'DDPM (stochastic) samples, same seed: same PNG bytes');
    assert.ok(!bytes('s1.png').equals(bytes('s3.png')), 'another seed: another PNG');
    assert.ok(bytes('s1.csv').equals(bytes('s2.csv')), 'DPM-Solver++ samples, same seed: same CSV bytes');
    assert.equal(bytes('s1.csv').toString().trim().split('\n').length, 200);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
