/**
 * `diffuse train --objective eps|edm [--sigma-data x] [--p-mean m --p-std s]`: the training formulation chosen on the command line.
 * 'eps' is the DDPM-style objective (with --prediction-type, --snr-gamma, --learned-variance); 'edm' trains the
 * EDM-preconditioned network of Karras et al. 2022 (src/training/edm_objective.ts), whose model folder records
 * the formulation so that `diffuse sample` picks the matching preconditioning with any --scheduler.
 *
 * @example objectiveFromCli({ objective: 'edm', sigmaData: 1 })  // { formulation: 'edm', edm: { sigmaData: 1 } }
 * @example objectiveFromCli({ objective: 'edm', pMean: -0.6 }).edm?.pMean  // -0.6
 */
import type { ObjectiveConfig } from '../training/objectives.ts';
import { EdmObjective } from '../training/edm_objective.ts';
import { samplingScheduler } from '../pipelines/scheduler_choice.ts';

export const OBJECTIVES = ['eps', 'edm'] as const;

/** The flags that only the EDM objective reads. */
const EDM_FLAGS = [
  ['sigmaData', '--sigma-data'],
  ['pMean', '--p-mean'],
  ['pStd', '--p-std'],
] as const;

/** The formulation keys of ObjectiveConfig from --objective / --sigma-data, checked against the other flags. */
export function objectiveFromCli(o: {
  objective?: string;
  sigmaData?: number;
  pMean?: number;
  pStd?: number;
  predictionType?: string;
  snrGamma?: number;
  learnedVariance?: boolean;
}): Pick<ObjectiveConfig, 'formulation' | 'edm'> {
  const name = o.objective ?? 'eps';
  if (!(OBJECTIVES as readonly string[]).includes(name))
    throw new Error(`--objective ${name}: not supported; allowed values: ${OBJECTIVES.join(', ')}`);
  if (name === 'eps') {
    for (const [k, flag] of EDM_FLAGS)
      if (o[k] !== undefined) throw new Error(`${flag} ${o[k]}: only used with --objective edm`);
    return {};
  }
  if (o.predictionType !== undefined && o.predictionType !== 'epsilon')
    throw new Error(
      `--prediction-type ${o.predictionType}: --objective edm trains EDM's preconditioned network F; leave --prediction-type out`,
    );
  if (o.snrGamma)
    throw new Error(
      `--snr-gamma ${o.snrGamma}: --objective edm has its own loss weighting (lambda = 1 / c_out^2); leave --snr-gamma out`,
    );
  if (o.learnedVariance) throw new Error('--learned-variance: not available with --objective edm');
  return { formulation: 'edm', edm: { sigmaData: o.sigmaData, pMean: o.pMean, pStd: o.pStd } };
}

/**
 * The scheduler for sample previews during training: DDIM on the training table (eps objective) or
 * EDM's DPM-Solver++ on the model folder's EDM config.
 */
export function previewScheduler(objective: ObjectiveConfig, noiseSchedule: Record<string, unknown>, isImage: boolean) {
  if (objective.formulation === 'edm')
    return samplingScheduler('edm-dpmsolver++', new EdmObjective(objective.edm).schedulerConfig());
  return samplingScheduler(
    'ddim',
    { ...noiseSchedule, prediction_type: objective.predictionType },
    { clip_sample: isImage },
  );
}
