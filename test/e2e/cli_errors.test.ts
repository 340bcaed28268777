/**
 * Every bad argument or file given to the `diffuse` CLI ends in one line on stderr
 * (`diffuse: <what> ...` naming the option, file or key), exit code 1, no stack trace unless
 * --verbose, and nothing written. Run as child processes, the way a user meets them; all of them
 * fail before any training or sampling starts, so they are quick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { NDArray, Philox } from '../../src/engine/index.ts';
import { modelFromConfig, modelConfig } from '../../src/models/registry.ts';
import { saveModelFolder, saveCheckpoint } from '../../src/folders/index.ts';
import { DDPMScheduler } from '../../src/samplers/index.ts';
import { encodePng } from '../../src/io/png.ts';
import { writeRunInfo } from '../../src/pipelines/sample_model.ts';
import { listFiles, runCli, tmpDir, type CliResult } from './_cli.ts';

const root = tmpDir('diffuse-cli-');
process.on('exit', () => fs.rmSync(root, { recursive: true, force: true }));
const at = (...p: string[]) => path.join(root, ...p);

/** A PNG whose IHDR claims w x h pixels (CRC fixed up), with a 1-pixel body: a decompression-bomb header. */
function pngClaiming(w: number, h: number): Uint8Array {
  const png = Buffer.from(encodePng(new NDArray([1, 1, 1], Float32Array.from([0.5])), { range: '[0,1]' }));
  // signature (8) | length (4) | "IHDR" (4) | width (4) | height (4) | ... | CRC over type + data (13 bytes)
  png.writeUInt32BE(w, 16);
  png.writeUInt32BE(h, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

// Fixtures: a model folder (untrained weights; sampling needs no training), data files, configs.
const model = modelFromConfig(modelConfig('mlp-2d', { hidden_dims: [8] }));
const modelCfg = model.toConfig() as unknown as Record<string, unknown>;
const sched = new DDPMScheduler({ num_train_timesteps: 50, clip_sample: false }).toConfig();
const weights = model.initParams(new Philox(0));
saveModelFolder(at('model'), modelCfg, weights, sched);
writeRunInfo(at('model'), {
  data: { spec: 'moons', kind: 'toy2d', sampleShape: [2], numClasses: null, size: null },
  nullClass: null,
  step: 0,
});
fs.mkdirSync(at('truncated'));
for (const f of ['config.json', 'scheduler_config.json']) fs.copyFileSync(at('model', f), at('truncated', f));
const wbytes = fs.readFileSync(at('model', 'diffusion_pytorch_model.safetensors'));
fs.writeFileSync(at('truncated', 'diffusion_pytorch_model.safetensors'), wbytes.subarray(0, wbytes.length - 100));
fs.mkdirSync(at('badcfg'));
fs.cpSync(at('model'), at('badcfg'), { recursive: true });
fs.writeFileSync(at('badcfg', 'config.json'), JSON.stringify({ ...modelCfg, hidden_dims: [8, -3] }));
fs.mkdirSync(at('extracfg'));
fs.cpSync(at('model'), at('extracfg'), { recursive: true });
fs.writeFileSync(at('extracfg', 'config.json'), JSON.stringify({ ...modelCfg, hidden_size: 64 }));
// --out folders that already hold a run: a model, or only checkpoints.
fs.cpSync(at('model'), at('taken'), { recursive: true });
saveCheckpoint(at('taken-ckpt'), {
  step: 7,
  modelConfig: modelCfg,
  schedulerConfig: sched,
  params: weights,
  trainerState: {},
});
const snapshot = (dir: string) =>
  listFiles(dir).map((f) => [
    f,
    fs.statSync(path.join(dir, f)).mtimeMs,
    fs.readFileSync(path.join(dir, f)).toString('base64'),
  ]);
const takenBefore = snapshot(at('taken')),
  takenCkptBefore = snapshot(at('taken-ckpt'));
fs.mkdirSync(at('images'));
fs.writeFileSync(
  at('images', 'a.png'),
  encodePng(new NDArray([1, 4, 4], new Float32Array(16).fill(0.5)), { range: '[0,1]' }),
);
fs.writeFileSync(at('images', 'b.png'), 'this is not a PNG');
fs.mkdirSync(at('huge'));
fs.writeFileSync(at('huge', 'bomb.png'), pngClaiming(10000, 10000));
fs.mkdirSync(at('empty'));
fs.writeFileSync(at('bad.csv'), 'x,y\n1,2\n3,abc\n');
fs.writeFileSync(at('overflow.csv'), 'x,y\n1,2\n3,4\n1e39,5\n');
fs.writeFileSync(
  at('bad-type.json'),
  JSON.stringify({ _class_name: 'MLPModel', in_channels: 2, hidden_dims: [16, 'x'] }),
);
fs.writeFileSync(
  at('wrong-width.json'),
  JSON.stringify({ _class_name: 'MLPModel', in_channels: 3, hidden_dims: [16] }),
);
fs.writeFileSync(at('not-json.json'), '{"_class_name": "MLPModel",');

const T = (out: string, ...a: string[]) => ['train', '--data', 'moons', '--out', out, '--steps', '5', ...a];

/** [args, pattern of the one stderr line] — every case must exit 1 with exactly that line. */
const CASES: [string, string[], RegExp][] = [
  [
    'missing --data path',
    ['train', '--data', at('nope.csv'), '--out', at('o1')],
    /^diffuse: --data .*nope\.csv: no such file or folder$/,
  ],
  [
    'unreadable --data path (a file used as a folder)',
    ['train', '--data', path.join(at('bad.csv'), 'x.csv'), '--out', at('o15')],
    /^diffuse: --data .*bad\.csv\/x\.csv: cannot be read \(ENOTDIR\)$/,
  ],
  [
    'unknown data set',
    ['train', '--data', 'moonz', '--out', at('o2')],
    /^diffuse: --data moonz: not a known data set \(moons, .*, mnist\) nor an existing file or folder$/,
  ],
  [
    'CSV cell that is not a number',
    ['train', '--data', at('bad.csv'), '--out', at('o3')],
    /^diffuse: .*bad\.csv line 3, column 2 \("y"\): "abc" is not a number$/,
  ],
  [
    'CSV value beyond float32',
    ['train', '--data', at('overflow.csv'), '--out', at('o4')],
    /^diffuse: .*overflow\.csv line 4, column 1 \("x"\): "1e39" is beyond the float32 range \(magnitudes up to 3\.4028235e38 are allowed\)$/,
  ],
  [
    'undecodable image in a folder',
    ['train', '--data', at('images'), '--model', 'unet-s', '--out', at('o5')],
    /^diffuse: .*images\/b\.png.*not a PNG or JPEG/,
  ],
  [
    'too-large image',
    ['train', '--data', at('huge'), '--model', 'unet-s', '--out', at('o6')],
    /^diffuse: .*huge\/bomb\.png.*too large: 10000 x 10000 = 100000000 pixels exceeds the limit/,
  ],
  [
    'empty image folder',
    ['train', '--data', at('empty'), '--model', 'unet-s', '--out', at('o7')],
    /^diffuse: .*empty.*no images found/,
  ],
  [
    'bad type in --model config.json',
    T(at('o8'), '--model', at('bad-type.json')),
    /^diffuse: --model .*bad-type\.json: hidden_dims\[1\] = "x" is invalid: expected number, received string$/,
  ],
  [
    '--model config.json that does not fit the data',
    T(at('o9'), '--model', at('wrong-width.json')),
    /^diffuse: --model .*wrong-width\.json: in_channels = 3 \(a vector model\) does not fit the data 'moons', whose samples have shape \[2\]$/,
  ],
  [
    '--model file that is not JSON',
    T(at('o10'), '--model', at('not-json.json')),
    /^diffuse: .*not-json\.json: invalid JSON/,
  ],
  [
    'unknown --model name',
    T(at('o11'), '--model', 'mlp-3d'),
    /^diffuse: model "mlp-3d" is unknown \(known models: mlp-2d, unet-s; or pass a config\.json\)$/,
  ],
  [
    '--out holding a model, no --resume',
    T(at('taken')),
    /^diffuse: --out .*taken already holds a model; pass --resume to continue it or choose another --out \(nothing was overwritten\)$/,
  ],
  [
    '--out holding checkpoints, no --resume',
    T(at('taken-ckpt')),
    /^diffuse: --out .*taken-ckpt already holds a model; pass --resume/,
  ],
  [
    '--steps 0',
    T(at('o12'), '--steps', '0'),
    /^diffuse: option '--steps <n>' argument '0' is invalid\. --steps: expected an integer >= 1, got '0' \(see --help\)$/,
  ],
  [
    '--lr not a number',
    T(at('o13'), '--lr', 'fast'),
    /^diffuse: option '--lr <x>' argument 'fast' is invalid\. --lr: expected a number in \[0, Infinity\], got 'fast' \(see --help\)$/,
  ],
  ['unknown option', T(at('o14'), '--epochs', '3'), /^diffuse: unknown option '--epochs' \(see --help\)$/],
  [
    'missing required option',
    ['train', '--data', 'moons'],
    /^diffuse: required option '--out <dir>' not specified \(see --help\)$/,
  ],
  [
    'unknown --scheduler',
    ['sample', at('model'), '--scheduler', 'nope', '--out', at('s1.png')],
    /^diffuse: --scheduler nope: unknown; use one of ddpm, ddim, .*$/,
  ],
  [
    'sample --steps 0',
    ['sample', at('model'), '--steps', '0', '--out', at('s2.png')],
    /^diffuse: option '--steps <n>' argument '0' is invalid/,
  ],
  [
    'sample a missing folder',
    ['sample', at('nowhere'), '--out', at('s3.png')],
    /^diffuse: .*nowhere: no such model folder$/,
  ],
  [
    'truncated weights file',
    ['sample', at('truncated'), '--out', at('s4.png')],
    /^diffuse: .*truncated\/diffusion_pytorch_model\.safetensors.*/,
  ],
  [
    'config.json value out of range',
    ['info', at('badcfg')],
    /^diffuse: .*badcfg\/config\.json: hidden_dims\[1\] = -3 is invalid: Too small: expected number to be >=1$/,
  ],
  [
    'export to a non-.onnx name',
    ['export', at('model'), '--onnx', at('m.txt')],
    /^diffuse: --onnx .*m\.txt: the file name must end in \.onnx$/,
  ],
];

/** Run `cases` with at most 3 children at a time. */
async function pool<T, R>(items: T[], fn: (t: T) => Promise<R>, width = 3): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

function stderrLines(r: CliResult): string[] {
  return r.stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim().length > 0);
}

test(`${CASES.length} bad arguments and files: one line naming the culprit, exit code 1, no stack, nothing written`, {
  timeout: 180_000,
}, async () => {
  const results = await pool(CASES, ([, args]) => runCli(args));
  const problems: string[] = [];
  CASES.forEach(([name, , re], i) => {
    const r = results[i];
    const lines = stderrLines(r);
    if (r.code !== 1) problems.push(`${name}: exit code ${r.code} (signal ${r.signal}), stderr:\n${r.stderr}`);
    else if (lines.length !== 1) problems.push(`${name}: ${lines.length} stderr lines instead of one:\n${r.stderr}`);
    else if (!re.test(lines[0])) problems.push(`${name}: ${JSON.stringify(lines[0])} does not match ${re}`);
  });
  assert.deepEqual(problems, []);
  // Nothing was created or overwritten.
  for (const o of [
    'o1',
    'o2',
    'o3',
    'o4',
    'o5',
    'o6',
    'o7',
    'o8',
    'o9',
    'o10',
    'o11',
    'o12',
    'o13',
    'o14',
    'o15',
    's1.png',
    's2.png',
    's3.png',
    's4.png',
    'm.txt',
  ]) {
    assert.ok(!fs.existsSync(at(o)), `${o} was created`);
  }
  assert.deepEqual(snapshot(at('taken')), takenBefore);
  assert.deepEqual(snapshot(at('taken-ckpt')), takenCkptBefore);
});

test('--verbose adds the stack trace; an unknown config key is a warning, not an error', {
  timeout: 60_000,
}, async () => {
  const [verbose, extra] = await Promise.all([
    runCli(['--verbose', 'sample', at('nowhere'), '--out', at('s5.png')]),
    runCli(['info', at('extracfg')]),
  ]);
  assert.equal(verbose.code, 1);
  assert.match(
    verbose.stderr,
    /^diffuse: .*nowhere: no such model folder\nError: .*nowhere: no such model folder\n\s+at (loadModelFolder|detectLayout)/m,
  );
  assert.equal(extra.code, 0, extra.stderr);
  assert.deepEqual(stderrLines(extra), [
    `diffuse: warning: ${at('extracfg', 'config.json')}: unknown key "hidden_size" ignored (not a MLPModel key)`,
  ]);
  assert.equal(JSON.parse(extra.stdout).model, 'MLPModel');
});
