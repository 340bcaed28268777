/**
 * Copies a trained model folder (written by `diffuse train`) into the playground:
 * web/public/models/unet-s-mnist/{config.json, diffusion_pytorch_model.safetensors,
 * scheduler_config.json, diffuse.json} plus PROVENANCE.md saying how it was trained.
 *
 *   npx tsx web/tools/ship_model.ts <run folder> "<the train command line>"
 */
import fs from 'node:fs';
import path from 'node:path';

const [dir, command] = process.argv.slice(2);
if (!dir || !command) {
  console.error('usage: npx tsx web/tools/ship_model.ts <run folder> "<the train command line>"');
  process.exit(2);
}
const FILES = ['config.json', 'diffusion_pytorch_model.safetensors', 'scheduler_config.json', 'diffuse.json'];
const dest = new URL('../public/models/unet-s-mnist/', import.meta.url).pathname;
fs.mkdirSync(dest, { recursive: true });
// While a run is still going, OUT/ holds the weights of its newest checkpoint but no diffuse.json yet:
// rebuild it from that checkpoint's trainer_state.json (what the trainer writes at the end).
if (!fs.existsSync(path.join(dir, 'diffuse.json'))) {
  const newest = fs
    .readdirSync(dir)
    .filter((n) => /^checkpoint-\d+$/.test(n))
    .sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)))
    .pop();
  if (!newest) throw new Error(`ship_model: ${dir} has neither diffuse.json nor a checkpoint`);
  const st = JSON.parse(fs.readFileSync(path.join(dir, newest, 'trainer_state.json'), 'utf8'));
  const embeds = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).num_class_embeds;
  const nullClass = st.trainConfig.labelDropout > 0 && typeof embeds === 'number' ? embeds - 1 : null;
  FILES.pop();
  fs.writeFileSync(
    path.join(dest, 'diffuse.json'),
    `${JSON.stringify({ data: st.dataDescription, nullClass, step: st.step }, null, 2)}\n`,
  );
}
for (const f of FILES) {
  const src = path.join(dir, f);
  if (!fs.existsSync(src))
    throw new Error(`ship_model: ${src} is missing (is ${dir} a model folder written by diffuse train?)`);
  fs.copyFileSync(src, path.join(dest, f));
}
const info = JSON.parse(fs.readFileSync(path.join(dest, 'diffuse.json'), 'utf8')) as { step?: number };
const bytes = fs.statSync(path.join(dest, 'diffusion_pytorch_model.safetensors')).size;
fs.writeFileSync(
  path.join(dest, 'PROVENANCE.md'),
  `# unet-s on MNIST, shipped with the playground

- trained by the project's CLI: \`${command}\`
- weights: the EMA weights after ${info.step ?? '?'} optimizer steps (diffuse.json), ${(bytes / 2 ** 20).toFixed(1)} MiB float32
- copied here by \`npx tsx web/tools/ship_model.ts ${dir} "..."\` on ${new Date().toISOString().slice(0, 10)}

A small, briefly trained model (2-core CPU): expect recognisable but imperfect digits.
Replace it by training longer and running this tool again.
`,
);
console.log(`copied ${FILES.length} files (${bytes} bytes of weights, step ${info.step}) to ${dest}`);
