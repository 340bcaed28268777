/**
 * The metric names of `diffuse eval`, in a module without dependencies (the CLI lists them in its help
 * without loading the engine).
 *
 * @example EVAL_METRICS.includes('mmd') // true
 */
export const SAMPLE_METRICS = ['mmd', 'swd', 'logp', 'fid-mnist', 'accuracy', 'confidence'] as const;
export type SampleMetricName = (typeof SAMPLE_METRICS)[number];
export const LIKELIHOOD_METRICS = ['nll', 'vlb', 'bpd'] as const;
export type LikelihoodMetricName = (typeof LIKELIHOOD_METRICS)[number];
export const EVAL_METRICS = [...SAMPLE_METRICS, ...LIKELIHOOD_METRICS] as const;
