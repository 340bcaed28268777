/**
 * State dicts of UNet2DModel checkpoints saved before diffusers renamed its attention parameters (the
 * google/ddpm-* and ncsnpp checkpoints on the Hub, among others): each attention block stored
 * `query`, `key`, `value`, `proj_attn` where the model now has `to_q`, `to_k`, `to_v`, `to_out.0`
 * (`group_norm` kept its name). diffusers renames them when it loads such a file
 * (ModelMixin._fix_state_dict_keys_on_load, for every block built with _from_deprecated_attn_block: all
 * attention blocks of UNet2DModel); `upgradeLegacyAttentionNames` does the same, so those checkpoints load here.
 *
 * @example
 *   const { weights, renamed } = upgradeLegacyAttentionNames(model, loaded);   // renamed: 8 (2 blocks x 4 tensors)
 */
import type { Module } from '../nn/module.ts';

const RENAMES: [string, string][] = [
  ['query', 'to_q'],
  ['key', 'to_k'],
  ['value', 'to_v'],
  ['proj_attn', 'to_out.0'],
];

/**
 * Rename the legacy attention parameters of `weights` to the names `model` uses (only for attention blocks
 * of the model, only where the new name is absent). Returns a new record and the number of renamed tensors.
 */
export function upgradeLegacyAttentionNames<T>(
  model: Module,
  weights: Record<string, T>,
): { weights: Record<string, T>; renamed: number } {
  const blocks = model
    .namedParameters()
    .map(([n]) => n)
    .filter((n) => n.endsWith('.to_q.weight'))
    .map((n) => n.slice(0, -'.to_q.weight'.length));
  const out: Record<string, T> = { ...weights };
  let renamed = 0;
  for (const path of blocks) {
    for (const [oldName, newName] of RENAMES) {
      for (const kind of ['weight', 'bias']) {
        const from = `${path}.${oldName}.${kind}`,
          to = `${path}.${newName}.${kind}`;
        if (Object.hasOwn(out, from) && !Object.hasOwn(out, to)) {
          out[to] = out[from];
          delete out[from];
          renamed++;
        }
      }
    }
  }
  return { weights: out, renamed };
}
