/** The `diffuse` command line: demo | train | sample | info | export. */
import { createRequire } from 'node:module';
import { Command, InvalidArgumentError } from 'commander';
// Commands are imported when run, so `diffuse --help` and argument errors start fast.
import { registerEvalCommand } from './eval_command.ts';
import { registerEditCommands } from './edit_commands.ts';
import { registerExportDataCommand } from './export_data_command.ts';
import { parseTimesteps, TIMESTEPS_HELP } from './timesteps_option.ts';

const int =
  (name: string, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER
          ? `>= ${min}${Math.abs(n) > max ? ' and <= 2^53 - 1' : ''}`
          : `in [${min}, ${max}]`;
      throw new InvalidArgumentError(`${name}: expected an integer ${range}, got '${v}'`);
    }
    return n;
  };
const num =
  (name: string, min = -Infinity, max = Infinity) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name}: expected a number in [${min}, ${max}], got '${v}'`);
    return n;
  };

// package.json is two folders up from both src/cli/ and dist/cli/.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command();
program.version(version, '-V, --version', 'print the version of diffuse');
program
  .name('diffuse')
  .description('Diffusion models for JavaScript: train, sample, measure, export.')
  .option('--verbose', 'print stack traces on errors')
  .option(
    '--max-memory <size>',
    "refuse jobs whose estimated memory exceeds this (e.g. 4GiB, 512MB; default 80% of the machine's memory; env DIFFUSE_MEMORY_LIMIT)",
    (v: string) => {
      if (!/^\s*\d+(\.\d*)?(e\d+)?\s*[kmgt]?i?b?\s*$/i.test(v) || !(parseFloat(v) > 0))
        throw new InvalidArgumentError(`--max-memory: expected a size such as 4GiB, 512MB or 1e9 (bytes), got '${v}'`);
      return v;
    },
  )
  .hook('preAction', (cmd) => {
    const m = cmd.opts().maxMemory;
    if (m !== undefined) process.env.DIFFUSE_MEMORY_LIMIT = String(m);
  })
  // Usage errors (bad option values, unknown options): one line with a pointer to --help, exit code 1.
  .configureOutput({
    outputError: (str, write) => write(`diffuse: ${str.trim().replace(/^error: /, '')} (see --help)\n`),
  });

program
  .command('demo')
  .description(
    'the embedded default job: train mlp-2d on 8 gaussians with the toy recipe (< 30 s on 2 cores), sample it, write pictures (no downloads)',
  )
  .option('--steps <n>', "training steps (default: the toy recipe's, TOY2D_RECIPE)", int('--steps'))
  .option('--seed <n>', 'random seed', int('--seed', 0), 0)
  .option('--out <dir>', 'output folder', 'out/demo')
  .option('--data <name>', 'toy data set', '8gaussians')
  .action(async (o) => {
    const { demo } = await import('./demo.ts');
    await demo(o);
  });

program
  .command('train')
  .description(
    'train a diffusion model (flags not given take a recipe of src/training/recipes.ts: TOY2D_RECIPE for mlp-2d on a toy set, IMAGE_RECIPE (the EDM objective, lr 2e-3, batch 64) for images)',
  )
  .requiredOption(
    '--data <spec>',
    'moons | swissroll | 8gaussians | checkerboard | circles | gmm | mnist | <image folder> | <file.csv> | series:<file.csv>',
  )
  .option('--model <name|config.json>', 'mlp-2d | unet-s | a model config.json', 'mlp-2d')
  .requiredOption('--out <dir>', 'output folder (model, checkpoints, sample previews)')
  .option('--steps <n>', 'optimizer steps', int('--steps'), 2000)
  .option('--batch-size <n>', 'batch size', int('--batch-size'), 128)
  .option('--lr <x>', 'peak learning rate (AdamW)', num('--lr', 0), 1e-3)
  .option('--warmup <n>', 'linear warm-up steps before cosine decay', int('--warmup', 0))
  .option('--weight-decay <x>', 'AdamW weight decay', num('--weight-decay', 0), 0)
  .option('--max-grad-norm <x>', 'global gradient-norm clipping', num('--max-grad-norm', 0), 1)
  .option('--grad-accum <n>', 'micro-batches per optimizer step', int('--grad-accum'), 1)
  .option('--ema <decay>', 'EMA max decay', num('--ema', 0, 0.999999), 0.999)
  .option('--no-ema', 'disable EMA weights')
  .option('--prediction-type <t>', 'epsilon | sample | v_prediction', 'epsilon')
  .option('--snr-gamma <g>', 'min-SNR-gamma loss weighting', num('--snr-gamma', 0))
  .option('--learned-variance', 'learn sigma_theta (learned_range, hybrid loss of Improved DDPM)')
  .option(
    '--objective <o>',
    'eps (DDPM-style, see --prediction-type; default for vectors) | edm (Karras et al. 2022 preconditioned denoiser; default for images)',
  )
  .option(
    '--sigma-data <x>',
    'with --objective edm: standard deviation of the data (default 0.5)',
    num('--sigma-data', 0),
  )
  .option(
    '--p-mean <m>',
    "with --objective edm: mean of ln sigma of the training noise levels (images: 0.5, else EDM's -1.2; at sigma-data 0.5)",
    num('--p-mean'),
  )
  .option(
    '--p-std <s>',
    'with --objective edm: standard deviation of ln sigma of the training noise levels (default 1.2)',
    num('--p-std', 0),
  )
  .option('--beta-schedule <s>', 'linear | scaled_linear | squaredcos_cap_v2 | sigmoid', 'linear')
  .option('--train-timesteps <n>', 'number of diffusion steps T', int('--train-timesteps', 2, 1_000_000), 1000)
  .option('--class-cond', 'condition on class labels')
  .option(
    '--label-dropout <p>',
    'drop labels with probability p (enables classifier-free guidance)',
    num('--label-dropout', 0, 0.99),
  )
  .option('--checkpoint-every <n>', 'checkpoint interval in steps', int('--checkpoint-every'))
  .option('--sample-every <n>', 'sample preview interval in steps', int('--sample-every'))
  .option('--keep-last <n>', 'checkpoints to keep', int('--keep-last'), 2)
  .option('--image-size <n>', 'image side for image folders', int('--image-size'), 28)
  .option('--channels <n>', 'image channels for image folders (1 or 3)', int('--channels', 1, 3), 1)
  .option('--limit <n>', 'use only the first n items of a finite data set', int('--limit'))
  .option('--seed <n>', 'random seed', int('--seed', 0), 0)
  .option(
    '--resume',
    "continue the newest checkpoint in --out (flags not given take the run's stored values; a changed setting is an error)",
  )
  .option(
    '--override <settings>',
    'with --resume: settings to change on purpose, comma-separated (lr, steps, warmup, weight-decay, max-grad-norm)',
  )
  .option('--skip-nonfinite', 'skip steps whose loss is NaN/inf instead of stopping')
  .option('--quiet', 'no progress output')
  .action(async (o, cmd) => {
    o.explicit = Object.keys(o).filter((k) => cmd.getOptionValueSource(k) === 'cli');
    if (o.ema === false) {
      o.noEma = true;
      o.ema = undefined;
    }
    const { trainCommand } = await import('./train_command.ts');
    await trainCommand(o);
  });

program
  .command('sample')
  .description('sample a trained model folder')
  .argument('<dir>', 'model folder written by `diffuse train` (or a diffusers-layout folder)')
  .option(
    '--scheduler <name>',
    "ddpm | ddim | pndm | dpmsolver++ | unipc | deis | euler | euler-a | heun | kdpm2 | lms | edm-euler | edm-dpmsolver++ | edm-sde-dpmsolver++ | score-sde-ve | lcm | cm-stochastic | a diffusers class name (default: dpmsolver++, or a consistency model's own sampler)",
  )
  .option('--steps <n>', 'inference steps', int('--steps'), 20)
  .option('--timesteps <list>', TIMESTEPS_HELP, parseTimesteps('--timesteps'))
  .option('--n <n>', 'number of samples (drawn in chunks; a .csv is written as it goes)', int('--n'), 64)
  .option('--seed <n>', 'random seed', int('--seed', 0), 0)
  .option('--class <k>', 'class label (class-conditional models)', int('--class', 0))
  .option('--guidance <w>', 'classifier-free guidance weight', num('--guidance', 0), 1)
  .option('--eta <x>', 'noise of DDIM-type steps (schedulers with an eta: ddim)', num('--eta', 0, 1))
  .requiredOption('--out <file>', 'file.png (grid or scatter) | file.csv | file.gif (trajectory)')
  .action(async (dir: string, o) => {
    const { sampleCommand } = await import('./sample_command.ts');
    await sampleCommand(dir, o);
  });

program
  .command('distill')
  .description(
    'distillation to few steps: progressive (default; sample the student with --scheduler edm-euler) or consistency (sample it with its own sampler: diffuse sample DIR --steps K)',
  )
  .argument('<teacher>', 'trained model folder')
  .requiredOption('--steps-to <k>', 'student steps (1, 2, 4, ...)', int('--steps-to'))
  .requiredOption('--out <folder>', 'where to write the student model folder')
  .option('--data <spec>', "training data (default: the teacher's, from its diffuse.json)")
  .option('--start-steps <n>', 'student steps of the first round (the teacher then runs 2x)', int('--start-steps'), 32)
  .option('--method <m>', 'progressive | consistency', 'progressive')
  .option(
    '--iters <n>',
    'optimizer steps: per halving round (progressive, default 600) or in all (consistency, default 8000)',
    int('--iters'),
  )
  .option('--batch-size <n>', 'batch size', int('--batch-size'), 256)
  .option(
    '--lr <x>',
    'peak learning rate, cosine decay (default: progressive 1e-3 per round, consistency 8e-3)',
    num('--lr', 0),
  )
  .option(
    '--grid-steps <n>',
    'consistency: points of the Karras grid N (the student samples in 1..N steps)',
    int('--grid-steps'),
    18,
  )
  .option('--target-decay <mu>', 'consistency: decay of the target network', num('--target-decay', 0, 1), 0.95)
  .option('--metric <d>', 'consistency: l2 | pseudo-huber', 'l2')
  .option('--solver <s>', "consistency: the teacher's ODE step, heun | euler", 'heun')
  .option('--init <student>', 'consistency: continue from this earlier student folder (same teacher and --grid-steps)')
  .option('--seed <n>', 'random seed', int('--seed', 0), 0)
  .option('--quiet', 'no progress output')
  .action(async (teacher: string, o) => {
    const { distillCommand } = await import('./distill_command.ts');
    await distillCommand(teacher, o);
  });

program
  .command('info')
  .description('describe a model folder')
  .argument('<dir>')
  .action(async (dir: string) => {
    const { infoCommand } = await import('./info_export.ts');
    infoCommand(dir);
  });

program
  .command('export')
  .description(
    'export the denoiser as a standalone ONNX model (--onnx) and/or the model as a diffusers pipeline folder (--out)',
  )
  .argument('<dir>', 'model folder: a diffusers pipeline folder, a bare model folder or a diffuse run')
  .option('--onnx <file>', 'output .onnx file')
  .option(
    '--out <folder>',
    'write a pipeline folder (model_index.json, unet/, scheduler/) that DDPMPipeline.from_pretrained loads',
  )
  .option('--dtype <fp32|fp16>', 'weights dtype of --out (default fp32)')
  .action(async (dir: string, o) => {
    const { exportCommand } = await import('./info_export.ts');
    await exportCommand(dir, o);
  });
registerEvalCommand(program);
registerEditCommands(program);
registerExportDataCommand(program);

// Every other error: one line (the message, newlines folded) and exit code 1; the stack only with --verbose.
// (also for errors thrown outside the command's promise: callbacks, timers, stray rejections)
const fatal = async (e: unknown) => {
  const verbose = process.argv.includes('--verbose');
  e = (await import('./output_paths.ts')).explainFsError(e);
  const message = (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, ' | ');
  process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}diffuse: ${message}\n`);
  if (verbose && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
program.parseAsync(process.argv).catch(fatal);
