/**
 * Issue 15 items 5 and 6 at the function level: errors that name the option / key / file, the value
 * and what is allowed (file-system errors, CSV cells, scheduler names and configs, sampling checks),
 * and the pieces behind "exit 0 but wrong" (temporary names within 255 bytes, the streaming CSV
 * writer's atomicity, beta ranges).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NDArray } from '../../src/engine/index.ts';
import { checkOutputFile, checkOutputFolder, explainFsError, reasonOf } from '../../src/cli/output_paths.ts';
import { checkResumeFolder } from '../../src/cli/resume_check.ts';
import { fitTempBase, writeFileAtomicSync } from '../../src/io/atomic.ts';
import { CsvStreamWriter } from '../../src/io/csv_stream.ts';
import { parseCsv } from '../../src/io/csv.ts';
import { samplingScheduler } from '../../src/pipelines/scheduler_choice.ts';
import { checkEtaSupported, checkFiniteWeights, nonFiniteGuard } from '../../src/pipelines/sample_checks.ts';
import { checkBetaRange, schedulerFromConfig } from '../../src/samplers/index.ts';
import { checkSchedulerConfig } from '../../src/folders/config_files.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diffuse-errors-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('file-system errors: raw errno errors become one line naming the path and the reason', () => {
  const fake = (code: string, syscall: string, p: string) =>
    Object.assign(new Error(`${code}: raw, ${syscall} '${p}'`), { code, syscall, path: p });
  assert.equal(
    (explainFsError(fake('EROFS', 'mkdir', '/mnt/ro/run')) as Error).message,
    '/mnt/ro/run: the file system is read-only (EROFS in mkdir)',
  );
  assert.equal(
    (explainFsError(fake('ENOTDIR', 'scandir', '/tmp/afile')) as Error).message,
    '/tmp/afile: a part of the path is a file, not a folder (ENOTDIR in scandir)',
  );
  assert.equal(reasonOf('ENOSPC'), 'no space left on the device');
  const plain = new Error('not an errno error');
  assert.equal(explainFsError(plain), plain);
});

test('output paths: empty, a file where a folder is needed, a file inside a file, a too-long name', () => {
  fs.writeFileSync(path.join(tmp, 'afile'), 'x');
  assert.throws(
    () => checkOutputFolder('', '--out'),
    /^Error: --out "": an output folder is required \(an empty path is not allowed\)$/,
  );
  assert.throws(() => checkOutputFile('  ', '--out', ['.csv']), /^Error: --out " {2}": an output file is required/);
  assert.throws(
    () => checkOutputFolder(path.join(tmp, 'afile'), '--out'),
    /afile: exists and is a file, not a folder$/,
  );
  assert.throws(
    () => checkOutputFolder(path.join(tmp, 'afile', 'run'), '--out'),
    /afile\/run: .*afile is a file, not a folder$/,
  );
  assert.throws(
    () => checkOutputFile(path.join(tmp, 'afile', 'x.csv'), '--out', ['.csv']),
    /^Error: --out .*afile\/x\.csv: .*afile is a file, not a folder$/,
  );
  assert.throws(
    () => checkOutputFile(path.join(tmp, 'x.txt'), '--out', ['.png', '.csv']),
    /^Error: --out .*x\.txt: unknown extension '\.txt' \(use \.png, \.csv\)$/,
  );
  assert.throws(
    () => checkOutputFile(path.join(tmp, `${'a'.repeat(256)}.csv`), '--out', ['.csv']),
    /is 260 bytes long \(at most 255 bytes per name\)/,
  );
  assert.doesNotThrow(() => checkOutputFolder(path.join(tmp, 'new', 'deeper'), '--out'));
  assert.doesNotThrow(() => checkOutputFile(path.join(tmp, 'new', 'x.csv'), '--out', ['.csv']));
  // --resume on a typo or an empty folder
  assert.throws(
    () => checkResumeFolder(path.join(tmp, 'runz')),
    /^Error: --resume: --out .*runz does not exist, so there is nothing to resume/,
  );
  fs.mkdirSync(path.join(tmp, 'empty'));
  assert.throws(() => checkResumeFolder(path.join(tmp, 'empty')), /is empty, so there is nothing to resume/);
});

test('temporary names stay within 255 bytes, so a valid 252-byte file name can be written atomically', () => {
  const suffix = '.0123456789.17.tmp';
  assert.equal(fitTempBase('short.csv', suffix), 'short.csv');
  const long = `${'é'.repeat(100)}${'b'.repeat(48)}.csv`; // 252 bytes in UTF-8
  assert.equal(Buffer.byteLength(long), 252);
  const cut = fitTempBase(long, suffix);
  assert.ok(Buffer.byteLength(`.${cut}${suffix}`) <= 255);
  assert.ok(cut.endsWith('~') && long.startsWith(cut.slice(0, -1)));
  const target = path.join(tmp, long);
  writeFileAtomicSync(target, 'ok\n');
  assert.equal(fs.readFileSync(target, 'utf8'), 'ok\n');
  const w = new CsvStreamWriter(target, ['x']);
  w.append(NDArray.from([[1], [2]]));
  w.commit();
  assert.equal(fs.readFileSync(target, 'utf8'), 'x\n1\n2\n');
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('the streaming CSV writer: the target is untouched until commit; abort leaves nothing', () => {
  const target = path.join(tmp, 'stream.csv');
  fs.writeFileSync(target, 'old\n');
  const w = new CsvStreamWriter(target, ['x', 'y']);
  w.append(NDArray.from([[1, 2]]));
  assert.equal(fs.readFileSync(target, 'utf8'), 'old\n');
  assert.ok(fs.existsSync(w.tempPath));
  assert.throws(() => w.append(NDArray.from([[1, 2, 3]])), /3 columns, the file has 2/);
  w.abort();
  assert.ok(!fs.existsSync(w.tempPath));
  assert.equal(fs.readFileSync(target, 'utf8'), 'old\n');
});

test('CSV: a cell beyond float32 is refused at its 1-based line and column; non-finite cells do not advise library options', () => {
  assert.throws(
    () => parseCsv('x,y\n1,2\n1e308,3\n', { source: 'd.csv' }),
    /^CsvError: d\.csv line 3, column 1 \("x"\): "1e308" is beyond the float32 range \(magnitudes up to 3\.4028235e38 are allowed\)$/,
  );
  assert.throws(
    () => parseCsv('x\n-4e38\n', { source: 'd.csv' }),
    /line 2, column 1 .*"-4e38" is beyond the float32 range/,
  );
  assert.doesNotThrow(() => parseCsv('x\n3.4e38\n'));
  assert.throws(
    () => parseCsv('x\nnan\n', { source: 'd.csv' }),
    (e: Error) => /non-finite value "nan" is not allowed/.test(e.message) && !/allowNonFinite/.test(e.message),
  );
});

test('schedulers: __proto__ and inverse schedulers refused by name; eta only where a scheduler has one', () => {
  const cfg = { num_train_timesteps: 50 };
  assert.throws(
    () => samplingScheduler('__proto__', cfg),
    /^Error: --scheduler __proto__: unknown; use one of ddpm, ddim/,
  );
  assert.throws(() => samplingScheduler('constructor', cfg), /--scheduler constructor: unknown/);
  assert.throws(
    () => samplingScheduler('DDIMInverseScheduler', cfg),
    /--scheduler DDIMInverseScheduler: an inverse scheduler .* cannot sample/,
  );
  assert.throws(
    () => checkEtaSupported(samplingScheduler('euler', cfg), 0.3),
    /^Error: --eta 0\.3: EulerDiscreteScheduler has no eta/,
  );
  assert.doesNotThrow(() => checkEtaSupported(samplingScheduler('ddim', cfg), 0.3));
  assert.doesNotThrow(() => checkEtaSupported(samplingScheduler('euler', cfg), undefined));
});

test('scheduler configs: betas must lie in (0, 1); num_train_timesteps at most 1e6; the file is named', () => {
  assert.throws(
    () => schedulerFromConfig('DDPMScheduler', { beta_end: 5 }),
    /^Error: DDPMScheduler config: beta_start = 0\.0001, beta_end = 5 \(beta_schedule "linear"\) give beta_\d+ = 1\.\d+; every beta must lie in \(0, 1\)/,
  );
  assert.throws(
    () => schedulerFromConfig('DDIMScheduler', { trained_betas: [0.1, -0.2], num_train_timesteps: 2 }),
    /trained_betas\[1\] = -0\.2\d*; every beta must lie in \(0, 1\)/,
  );
  assert.throws(
    () => schedulerFromConfig('DDPMScheduler', { num_train_timesteps: 1e9 }),
    /num_train_timesteps = 1000000000 must be <= 1000000/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', beta_end: 5 }, 'runs/a/scheduler_config.json'),
    /^Error: runs\/a\/scheduler_config\.json: beta_start = 0\.0001, beta_end = 5/,
  );
  assert.throws(
    () => checkSchedulerConfig({ _class_name: 'DDPMScheduler', num_train_timesteps: 1e9 }, 's.json'),
    /^Error: s\.json: num_train_timesteps = 1000000000 is invalid/,
  );
  // zero terminal SNR: a last beta of exactly 1 is the point
  assert.doesNotThrow(() => schedulerFromConfig('DDIMScheduler', { rescale_betas_zero_snr: true }));
  assert.doesNotThrow(() => checkBetaRange(Float32Array.of(0.1, 1), { rescale_betas_zero_snr: true }, 'X'));
  assert.throws(() => checkBetaRange(Float32Array.of(0.1, 1), {}, 'X'), /beta_1 = 1/);
});

test('sampling checks: non-finite weights named before sampling, a non-finite step named with its timestep', () => {
  assert.throws(
    () => checkFiniteWeights({ 'a.weight': NDArray.from([1, 2]), 'b.bias': NDArray.from([0, NaN]) }, 'runs/a'),
    /^Error: runs\/a: weight b\.bias\[1\] = NaN; a model with non-finite weights only produces NaN samples/,
  );
  const s = samplingScheduler('ddim', { num_train_timesteps: 50 });
  const guard = nonFiniteGuard(s, 10);
  assert.doesNotThrow(() => guard({ index: 0, timestep: 45, sample: NDArray.from([1, 2]) }));
  assert.throws(
    () => guard({ index: 3, timestep: 30, sample: NDArray.from([1, Infinity]) }),
    /^Error: sampling produced Infinity at step 4 of 10 \(timestep 30, DDIMScheduler\)/,
  );
});
