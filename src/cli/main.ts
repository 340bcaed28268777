/** The `diffuse` command line. */
import { Command } from 'commander';
import { demo } from './demo.ts';

const program = new Command();
program.name('diffuse').description('Diffusion models for JavaScript: train, sample, measure, export.').option('--verbose', 'print stack traces on errors');

program.command('demo')
  .description('run the embedded default job (no downloads)')
  .option('--steps <n>', 'training steps', (v) => parsePositiveInt(v, '--steps'), 300)
  .option('--seed <n>', 'random seed', (v) => parsePositiveInt(v, '--seed', true), 0)
  .action(async (o: { steps: number; seed: number }) => { await demo(o); });

function parsePositiveInt(v: string, name: string, allowZero = false): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) throw new Error(`${name}: expected a ${allowZero ? 'non-negative' : 'positive'} integer, got '${v}'`);
  return n;
}

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`diffuse: ${e.message}`);
  if (program.opts().verbose) console.error(e.stack);
  process.exit(1);
});
