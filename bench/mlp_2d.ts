/**
 * The mlp-2d suite (issue 6): a training step (batch 128 of 2-D points, eps-MSE, AdamW) and 20-step
 * DDIM sampling of 10,000 points, with peak RSS — ours (bench/worker.ts) beside the PyTorch twin
 * (bench/mlp_2d_torch.py, same network, same threads), interleaved repetitions in child processes
 * (see bench/unet_s.ts).
 *
 * Run: `npm run bench -- mlp-2d`.
 */
import { pairMarkdown, runPairs, type PairSpec } from './unet_s.ts';

export const MLP_2D: PairSpec[] = [
  {
    name: 'mlp-2d train step, batch 128 (fwd + bwd + AdamW)',
    workload: 'mlp-train',
    items: 128,
    unit: 'pts',
    warmup: 3,
    torch: { script: './mlp_2d_torch.py', args: (th) => [String(th), '--serve', 'train'] },
  },
  {
    name: 'mlp-2d sampling, 10,000 points x 20 DDIM steps',
    workload: 'mlp-sample',
    items: 10000,
    unit: 'pts',
    torch: { script: './mlp_2d_torch.py', args: (th) => [String(th), '--serve', 'sample'] },
  },
];

/** The mlp-2d suite as markdown. */
export async function mlp2dSuite(reps: number, threads: number, log: (s: string) => void): Promise<string> {
  return pairMarkdown(await runPairs(MLP_2D, reps, threads, log));
}
