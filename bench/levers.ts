/**
 * Lever measurements (issue 6): one workload of bench/worker.ts under several variants (session
 * options, graph passes, op formulations, ...), each in its own child process (own peak RSS), with
 * single repetitions alternating between the variants so that all see the same machine load. The
 * first variant is the baseline ("before"); every other row is an "after".
 *
 * Run: `npm run bench -- lever-<name>` (see LEVERS), e.g. `npm run bench -- lever-mem --reps 5`.
 */
import { fmt, interleave, oursWorker, rate } from './workers.ts';
import type { Variant } from './worker.ts';

export interface LeverSpec {
  title: string;
  workload: 'unet-train' | 'unet-sample' | 'mlp-train' | 'mlp-sample';
  items: number;
  unit: string;
  variants: { name: string; variant: Variant }[];
  warmup?: number;
  reps?: number;
}

const UNET_TRAIN = { workload: 'unet-train', items: 64, unit: 'img' } as const;
const UNET_SAMPLE = { workload: 'unet-sample', items: 256, unit: 'img' } as const;

/** Memory patterns off (the engine's default since this lever; explicit so the tables stay reproducible). */
const NO_PATTERN = { enableMemPattern: false } as const;
/** ORT's own default of spinning worker threads (the engine turns it off since the threads lever). */
const SPIN = { config: { 'session.intra_op.allow_spinning': '1' } } as const;
/** The dW im2col limit before the memory work (512 MiB; now 32 MiB). */
const OLD_DW = { im2colMaxMiB: 512 } as const;
/** The engine as it was before issue 6's levers. */
const BEFORE: Variant = { session: { enableMemPattern: true, ...SPIN, optimize: false, remat: false }, engine: OLD_DW };

/** Sequential execution against ORT's parallel executor (inter-op spinning off like intra-op). */
const parallel = (intra: number): Variant => ({
  session: {
    intraOpNumThreads: intra,
    interOpNumThreads: 2,
    executionMode: 'parallel',
    config: { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' },
  },
});
const PARALLEL: LeverSpec['variants'] = [
  { name: 'sequential, 2 intra-op threads (before)', variant: { session: { intraOpNumThreads: 2 } } },
  { name: 'parallel, 2 inter-op x 2 intra-op threads, no inter-op spinning', variant: parallel(2) },
  { name: 'parallel, 2 inter-op x 1 intra-op thread, no inter-op spinning', variant: parallel(1) },
];
/** ORT's static partition of intra-op loops against its dynamic block sizes. */
const BLOCKS: LeverSpec['variants'] = [
  { name: 'static blocks (ORT default; before)', variant: {} },
  ...[2, 4].map((k) => ({
    name: `session.dynamic_block_base = ${k}`,
    variant: { session: { config: { 'session.dynamic_block_base': String(k) } } },
  })),
];

export const LEVERS: Record<string, LeverSpec[]> = {
  /** Everything at once: the engine before issue 6's levers vs its defaults now. */
  overall: [
    {
      title: 'unet-s train step b64: before vs after all levers',
      ...UNET_TRAIN,
      reps: 7,
      variants: [
        {
          name: 'before: ORT defaults (patterns on, spinning), no passes, no remat, dW limit 512 MiB',
          variant: BEFORE,
        },
        { name: 'after: engine defaults now', variant: {} },
      ],
    },
    {
      title: 'unet-s sampling forward b256: before vs after all levers',
      ...UNET_SAMPLE,
      reps: 7,
      variants: [
        { name: 'before: ORT defaults (patterns on, spinning), no passes', variant: BEFORE },
        { name: 'after: engine defaults now', variant: {} },
      ],
    },
    {
      title: 'mlp-2d sampling, 10,000 points x 20 DDIM steps: before vs after',
      workload: 'mlp-sample',
      items: 10000,
      unit: 'pts',
      reps: 9,
      variants: [
        { name: 'before: ORT defaults (patterns on, spinning), no passes', variant: BEFORE },
        { name: 'after: engine defaults now', variant: {} },
        { name: 'after + 5 sampler steps per run', variant: { fusedSteps: 5 } },
      ],
    },
  ],
  /** Training memory: ORT memory patterns, recomputation (remat.ts), conv dW formulation limit (settings of the time, explicit). */
  'train-memory': [
    {
      title: "unet-s train step b64: memory levers (ORT spinning on, as ORT's default)",
      ...UNET_TRAIN,
      variants: [
        {
          name: 'arena + memory patterns (ORT default; before)',
          variant: { session: { ...SPIN, enableMemPattern: true, remat: false }, engine: OLD_DW },
        },
        { name: 'memory patterns off', variant: { session: { ...SPIN, ...NO_PATTERN, remat: false }, engine: OLD_DW } },
        {
          name: "patterns off + remat 'elementwise'",
          variant: { session: { ...SPIN, ...NO_PATTERN, remat: 'elementwise' }, engine: OLD_DW },
        },
        {
          name: 'patterns off + dW im2col limit 64 MiB (per-tap above)',
          variant: { session: { ...SPIN, ...NO_PATTERN, remat: false }, engine: { im2colMaxMiB: 64 } },
        },
        {
          name: "patterns off + remat 'elementwise' + dW limit 64 MiB",
          variant: { session: { ...SPIN, ...NO_PATTERN, remat: 'elementwise' }, engine: { im2colMaxMiB: 64 } },
        },
        {
          name: "patterns off + remat 'all' (checkpointing) + dW limit 64 MiB",
          variant: { session: { ...SPIN, ...NO_PATTERN, remat: 'all' }, engine: { im2colMaxMiB: 64 } },
        },
      ],
    },
  ],
  /** The memory / time trade of recomputation and the dW formulation, more repetitions (no spinning, patterns off). */
  'train-memory-time': [
    {
      title: 'unet-s train step b64: time cost of the memory levers (memory patterns off, no spinning)',
      ...UNET_TRAIN,
      reps: 8,
      variants: [
        {
          name: 'no remat, dW im2col limit 512 MiB (before)',
          variant: { session: { ...NO_PATTERN, remat: false }, engine: OLD_DW },
        },
        { name: "remat 'elementwise'", variant: { session: { ...NO_PATTERN, remat: 'elementwise' }, engine: OLD_DW } },
        {
          name: 'dW im2col limit 64 MiB',
          variant: { session: { ...NO_PATTERN, remat: false }, engine: { im2colMaxMiB: 64 } },
        },
        {
          name: "remat 'elementwise' + dW limit 64 MiB",
          variant: { session: { ...NO_PATTERN, remat: 'elementwise' }, engine: { im2colMaxMiB: 64 } },
        },
        {
          name: "remat 'all' + dW limit 64 MiB",
          variant: { session: { ...NO_PATTERN, remat: 'all' }, engine: { im2colMaxMiB: 64 } },
        },
      ],
    },
  ],
  /** The dW im2col limit alone (engine defaults otherwise). */
  'dw-limit': [
    {
      title: 'unet-s train step b64: conv dW im2col limit (remat elementwise, patterns off, no spinning)',
      ...UNET_TRAIN,
      reps: 8,
      variants: [
        { name: '512 MiB (before)', variant: { engine: { im2colMaxMiB: 512 } } },
        { name: '96 MiB (64- and 96-channel 28x28 convs per-tap)', variant: { engine: { im2colMaxMiB: 96 } } },
        {
          name: '32 MiB (all 28x28 convs per-tap; the default of the memory work)',
          variant: { engine: { im2colMaxMiB: 32 } },
        },
        { name: '0 (every conv per-tap, incl. stride 2)', variant: { engine: { im2colMaxMiB: 0 } } },
      ],
    },
  ],
  /** Preallocated outputs: parameters and optimizer state recycled between steps instead of fresh arrays per step. */
  'reuse-outputs': [
    {
      title: 'unet-s train step b64: fresh output arrays per step vs recycled ones',
      ...UNET_TRAIN,
      reps: 12,
      variants: [
        { name: 'fresh arrays each step (TrainStep today; before)', variant: {} },
        { name: "recycled: each step writes into the previous step's inputs", variant: { reuseOutputs: true } },
      ],
    },
    {
      title: 'mlp-2d train step b128: fresh output arrays per step vs recycled ones',
      workload: 'mlp-train',
      items: 128,
      unit: 'pts',
      warmup: 5,
      reps: 41,
      variants: [
        { name: 'fresh arrays each step (TrainStep today; before)', variant: {} },
        { name: "recycled: each step writes into the previous step's inputs", variant: { reuseOutputs: true } },
      ],
    },
  ],
  /** Sampling memory: ORT memory patterns. */
  'sample-memory': [
    {
      title: 'unet-s sampling forward b256: ORT memory patterns',
      ...UNET_SAMPLE,
      variants: [
        { name: 'arena + memory patterns (ORT default; before)', variant: { session: { enableMemPattern: true } } },
        { name: 'memory patterns off', variant: { session: { ...NO_PATTERN } } },
      ],
    },
  ],
  /** Threads and spinning of ORT's intra-op pool on the shared 2-core box. */
  threads: [
    {
      title: 'unet-s sampling forward b256: threads / spinning',
      ...UNET_SAMPLE,
      variants: [
        {
          name: '2 threads, spinning (ORT default; before)',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
        {
          name: '2 threads, no spinning (session.intra_op.allow_spinning = 0)',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '0' } } },
        },
        {
          name: '1 thread',
          variant: { session: { intraOpNumThreads: 1, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
      ],
    },
    {
      title: 'unet-s train step b64: threads / spinning (memory patterns off)',
      ...UNET_TRAIN,
      variants: [
        {
          name: '2 threads, spinning (ORT default; before)',
          variant: {
            session: { ...NO_PATTERN, intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '1' } },
          },
        },
        {
          name: '2 threads, no spinning',
          variant: {
            session: { ...NO_PATTERN, intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '0' } },
          },
        },
        {
          name: '1 thread',
          variant: {
            session: { ...NO_PATTERN, intraOpNumThreads: 1, config: { 'session.intra_op.allow_spinning': '1' } },
          },
        },
      ],
    },
  ],
  /** The same for the small mlp-2d graphs (many tiny ops per run). */
  'threads-mlp': [
    {
      title: 'mlp-2d train step b128: threads / spinning',
      workload: 'mlp-train',
      items: 128,
      unit: 'pts',
      warmup: 5,
      reps: 21,
      variants: [
        {
          name: '2 threads, spinning (ORT default; before)',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
        {
          name: '2 threads, no spinning',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '0' } } },
        },
        {
          name: '1 thread',
          variant: { session: { intraOpNumThreads: 1, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
      ],
    },
    {
      title: 'mlp-2d sampling, 10,000 points x 20 DDIM steps: threads / spinning',
      workload: 'mlp-sample',
      items: 10000,
      unit: 'pts',
      reps: 7,
      variants: [
        {
          name: '2 threads, spinning (ORT default; before)',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
        {
          name: '2 threads, no spinning',
          variant: { session: { intraOpNumThreads: 2, config: { 'session.intra_op.allow_spinning': '0' } } },
        },
        {
          name: '1 thread',
          variant: { session: { intraOpNumThreads: 1, config: { 'session.intra_op.allow_spinning': '1' } } },
        },
      ],
    },
  ],
  /** ORT's parallel execution mode: independent branches (e.g. the weight and input gradients of one conv) at once. */
  interop: [
    { title: 'unet-s train step b64: sequential vs parallel execution', ...UNET_TRAIN, variants: PARALLEL },
    { title: 'unet-s sampling forward b256: sequential vs parallel execution', ...UNET_SAMPLE, variants: PARALLEL },
  ],
  /** ORT's dynamic block sizes for intra-op parallel loops (session.dynamic_block_base). */
  blocks: [
    { title: 'unet-s train step b64: intra-op block scheduling', ...UNET_TRAIN, variants: BLOCKS },
    { title: 'unet-s sampling forward b256: intra-op block scheduling', ...UNET_SAMPLE, variants: BLOCKS },
  ],
  /** denoiserFor's micro-batches: one forward of a large batch as several cache-sized ONNX Runtime runs. */
  'micro-batch': [
    {
      title: 'unet-s sampling forward b256: micro-batches (denoiserFor)',
      ...UNET_SAMPLE,
      variants: [
        { name: 'whole batch in one run (before)', variant: { microBatch: 'none' } },
        { name: '4 runs of 64', variant: { microBatch: 64 } },
        { name: '8 runs of 32 (default: sampleChunkSize 33)', variant: {} },
        { name: '16 runs of 16', variant: { microBatch: 16 } },
      ],
    },
  ],
  /** The engine's graph clean-up passes (src/engine/optimize), on and off. */
  passes: [
    {
      title: 'unet-s sampling forward b256: graph clean-up passes',
      ...UNET_SAMPLE,
      variants: [
        { name: 'passes off (before)', variant: { session: { optimize: false } } },
        { name: 'passes on (CSE, folding, simplification, dead nodes)', variant: { session: { optimize: true } } },
      ],
    },
    {
      title: 'unet-s train step b64: graph clean-up passes (memory patterns off)',
      ...UNET_TRAIN,
      variants: [
        { name: 'passes off (before)', variant: { session: { ...NO_PATTERN, optimize: false } } },
        { name: 'passes on', variant: { session: { ...NO_PATTERN, optimize: true } } },
      ],
    },
    {
      title: 'mlp-2d train step b128: graph clean-up passes',
      workload: 'mlp-train',
      items: 128,
      unit: 'pts',
      warmup: 5,
      reps: 15,
      variants: [
        { name: 'passes off (before)', variant: { session: { optimize: false } } },
        { name: 'passes on', variant: { session: { optimize: true } } },
      ],
    },
  ],
  /** ONNX Runtime's graph optimisation level (NCHWc layout and fusions come with 'all'). */
  'ort-level': [
    {
      title: 'unet-s sampling forward b256: ORT graph optimisation level',
      ...UNET_SAMPLE,
      variants: [
        { name: "'all' (default: + NCHWc layout; before)", variant: { session: { graphOptimizationLevel: 'all' } } },
        { name: "'extended' (fusions, no NCHWc)", variant: { session: { graphOptimizationLevel: 'extended' } } },
        {
          name: "'basic' (constant folding, redundant nodes)",
          variant: { session: { graphOptimizationLevel: 'basic' } },
        },
      ],
    },
    {
      title: 'unet-s train step b64: ORT graph optimisation level (memory patterns off)',
      ...UNET_TRAIN,
      variants: [
        { name: "'all' (default; before)", variant: { session: { ...NO_PATTERN, graphOptimizationLevel: 'all' } } },
        { name: "'extended'", variant: { session: { ...NO_PATTERN, graphOptimizationLevel: 'extended' } } },
        { name: "'basic'", variant: { session: { ...NO_PATTERN, graphOptimizationLevel: 'basic' } } },
      ],
    },
  ],
  /** ONNX Runtime's NCHWc conv kernels for convolutions with run-time weights (ops/_conv.ts, emitConv). */
  nchwc: [
    {
      title: 'unet-s train step b64: NCHWc convolutions with weights reordered in the graph',
      ...UNET_TRAIN,
      reps: 9,
      variants: [
        { name: 'standard Conv (im2col + GEMM; before)', variant: { session: { nchwc: false } } },
        { name: 'com.microsoft.nchwc Conv, forward and dx', variant: { session: { nchwc: true } } },
      ],
    },
  ],
  /** Flush denormal floats to zero inside ONNX Runtime (session.set_denormal_as_zero). */
  denormal: [
    {
      title: 'unet-s train step b64: denormals as zero',
      ...UNET_TRAIN,
      reps: 9,
      variants: [
        {
          name: 'IEEE denormals (ORT default; before)',
          variant: { session: { config: { 'session.set_denormal_as_zero': '0' } } },
        },
        { name: 'denormals as zero', variant: { session: { config: { 'session.set_denormal_as_zero': '1' } } } },
        {
          name: 'denormals as zero, remat false',
          variant: { session: { remat: false, config: { 'session.set_denormal_as_zero': '1' } } },
        },
      ],
    },
  ],
  /** Recompute in the backward pass (optimize/remat.ts) with the engine as it is now. */
  remat: [
    {
      title: 'unet-s train step b64: remat policy (engine defaults otherwise)',
      ...UNET_TRAIN,
      reps: 7,
      variants: [
        { name: 'remat false (keep every forward value the backward reads)', variant: { session: { remat: false } } },
        { name: "remat 'elementwise' (default)", variant: { session: { remat: 'elementwise' } } },
        { name: "remat 'all' (gradient checkpointing)", variant: { session: { remat: 'all' } } },
      ],
    },
  ],
  /** Several sampler steps per ONNX Runtime run (bench/fused_sampler.ts). */
  'sampler-steps': [
    {
      title: 'mlp-2d sampling, 10,000 points x 20 DDIM steps: steps per ONNX Runtime run',
      workload: 'mlp-sample',
      items: 10000,
      unit: 'pts',
      reps: 9,
      variants: [
        { name: '1 (generate() + DDIMScheduler; before)', variant: {} },
        { name: '5 steps per run (model inlined 5 times)', variant: { fusedSteps: 5 } },
        { name: '20 steps per run (the whole loop in one graph)', variant: { fusedSteps: 20 } },
      ],
    },
  ],
};

/** Run one lever group; markdown with one table per spec. */
export async function leverSuite(
  name: string,
  reps: number,
  threads: number,
  log: (s: string) => void,
): Promise<string> {
  const specs = LEVERS[name];
  if (!specs) throw new Error(`bench: unknown lever '${name}' (levers: ${Object.keys(LEVERS).join(', ')})`);
  const out: string[] = [];
  for (const spec of specs) {
    log(spec.title);
    const workers = [];
    for (const v of spec.variants)
      workers.push(await oursWorker(v.name, spec.workload, threads, v.variant as Record<string, unknown>));
    const ms = await interleave(workers, spec.reps ?? reps, spec.warmup ?? 1, log);
    const base = ms[0];
    out.push(
      `**${spec.title}**`,
      '',
      `| variant | wall ms, median (min–max) | ${spec.unit}/s | CPU ms, median (min–max) | peak RSS MiB | speed vs first row (wall / CPU) | setup ms |`,
      '|---|---|---|---|---|---|---|',
    );
    for (const m of ms) {
      const cpu = m.cpu && base.cpu ? `${(base.cpu.median / m.cpu.median).toFixed(2)}x` : '–';
      out.push(
        `| ${m.label} | ${fmt(m.ms)} | ${rate(m.ms, spec.items).median.toFixed(1)} | ${m.cpu ? fmt(m.cpu, 1, 0) : '–'} | ${m.maxRssMb.toFixed(0)} | ${(base.ms.median / m.ms.median).toFixed(2)}x / ${cpu} | ${String(m.info.setup_ms)} |`,
      );
    }
    out.push('');
  }
  out.push(
    "Variants run in separate child processes (peak RSS is each process's own) and alternate single repetitions after a warm-up (same machine load for all). " +
      'CPU ms = user + system time of the process per repetition, all threads (counts spin-waiting; steadier than wall time on the loaded box).',
  );
  return out.join('\n');
}
