/**
 * The `--timesteps <list>` option of `diffuse sample` and `diffuse eval`: custom descending timesteps in the
 * scheduler's own units (diffusers' `timesteps=` argument), e.g. the grid indices 12,8,3,0 of a consistency model.
 * @example parseTimesteps('--timesteps')('12,8,3,0') // [12, 8, 3, 0]
 */
import { InvalidArgumentError } from 'commander';

export const TIMESTEPS_HELP =
  "custom descending timesteps instead of --steps, in the scheduler's units (a consistency model: indices of its training grid, e.g. 12,8,3,0)";

export const parseTimesteps = (name: string) => (v: string) => {
  const xs = v.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s)));
  const bad = xs.findIndex((n, i) => !(Number.isFinite(n) && n >= 0) || (i > 0 && n >= xs[i - 1]));
  if (bad >= 0)
    throw new InvalidArgumentError(`${name}: expected descending non-negative numbers such as 12,8,3,0, got '${v}'`);
  return xs;
};
