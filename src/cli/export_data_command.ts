/**
 * `diffuse export-data DATA DIR`: write a data set (mnist, or an image folder re-encoded at --size) as a
 * folder of PNG files, one subfolder per class: the input of diffusers' unconditional training recipe
 * (`--train_data_dir DIR`) and of torchvision's ImageFolder. See docs/interop.md (the scale-out road).
 *
 * @example
 *   diffuse export-data mnist out/mnist_png --limit 1000
 */
import { InvalidArgumentError, type Command } from 'commander';

const posInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`${name}: expected an integer >= 1, got '${v}'`);
  return n;
};

export interface ExportDataCliOptions {
  limit?: number;
  size?: number;
  channels?: number;
  digits?: string;
  noLabels?: boolean;
  labels?: boolean;
  overwrite?: boolean;
}

/** Run `diffuse export-data`. @example await exportDataCommand('mnist', 'out/png', { limit: 64 }) */
export async function exportDataCommand(data: string, dir: string, o: ExportDataCliOptions): Promise<void> {
  const { exportDataSet } = await import('../data/export_image_folder.ts');
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3)
    throw new Error(`--channels ${o.channels}: expected 1 or 3`);
  const digits =
    o.digits === undefined
      ? undefined
      : o.digits.split(',').map((d) => {
          const n = Number(d);
          if (!Number.isInteger(n) || n < 0 || n > 9)
            throw new Error(`--digits ${o.digits}: expected digits 0..9 separated by commas`);
          return n;
        });
  const r = exportDataSet(data, dir, {
    limit: o.limit,
    size: o.size,
    channels: o.channels as 1 | 3 | undefined,
    digits,
    withLabels: o.labels !== false,
    overwrite: o.overwrite,
  });
  const classes = r.classCounts ? `, ${Object.keys(r.classCounts).length} class folders` : '';
  process.stdout.write(`wrote ${r.files.length} PNG images to ${dir}${classes}\n`);
}

/** Register `export-data` on the program. */
export function registerExportDataCommand(program: Command): void {
  program
    .command('export-data')
    .description(
      "write a data set (mnist, or an image folder) as a folder of PNG images with one subfolder per class (for diffusers' training scripts)",
    )
    .argument('<data>', 'mnist, or a folder of PNG/JPEG images')
    .argument('<dir>', 'output folder (new or empty)')
    .option('--limit <n>', 'export at most n images', posInt('--limit'))
    .option('--size <px>', 'image folders: side length to re-encode at (default 28)', posInt('--size'))
    .option('--channels <c>', 'image folders: 1 (grayscale) or 3 (RGB, default)', posInt('--channels'))
    .option('--digits <list>', 'mnist: only these digits, e.g. 0,1')
    .option('--no-labels', 'one flat folder instead of class subfolders')
    .option('--overwrite', 'allow a non-empty output folder')
    .action(async (data: string, dir: string, o: ExportDataCliOptions) => {
      await exportDataCommand(data, dir, o);
    });
}
