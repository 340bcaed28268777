/**
 * The toy recipe is the one source of the toy defaults: `diffuse train --data <toy set>` (flags not typed),
 * `diffuse demo` and recipeTrainConfig() all resolve to TOY2D_RECIPE's values. No training, no timing.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { TOY2D_RECIPE, recipeTrainConfig, withRecipeOverrides } from '../../src/training/recipes.ts';
import { applyToyRecipeDefaults, trainConfigFrom, type TrainCliOptions } from '../../src/cli/train_command.ts';
import { demoPlan } from '../../src/cli/demo.ts';
import { defaultTrainConfig } from '../../src/training/trainer.ts';

const cli = (extra: Partial<TrainCliOptions> = {}, explicit: string[] = ['data', 'out']) =>
  applyToyRecipeDefaults({
    data: 'moons',
    model: 'mlp-2d',
    out: 'runs/x',
    seed: 0,
    explicit,
    ...extra,
  } as TrainCliOptions);

/** The keys a recipe decides. */
function recipeKeys(c: ReturnType<typeof recipeTrainConfig>) {
  return {
    steps: c.steps,
    batchSize: c.batchSize,
    lr: c.lr,
    warmupSteps: c.warmupSteps,
    minLr: c.minLr,
    weightDecay: c.weightDecay,
    maxGradNorm: c.maxGradNorm,
    emaDecay: c.emaDecay,
    emaPower: c.emaPower,
    predictionType: c.objective.predictionType ?? 'epsilon',
    snrGamma: c.objective.snrGamma,
    betaSchedule: c.noiseSchedule.beta_schedule,
    T: c.noiseSchedule.num_train_timesteps,
  };
}

test('diffuse train on a toy set with no flags trains with TOY2D_RECIPE', () => {
  const fromCli = recipeKeys(trainConfigFrom(cli()));
  const fromRecipe = recipeKeys(recipeTrainConfig(TOY2D_RECIPE));
  assert.deepEqual(fromCli, fromRecipe);
  assert.deepEqual(cli().modelOverrides, TOY2D_RECIPE.model);
  assert.ok(
    Object.isFrozen(TOY2D_RECIPE.model) && Object.isFrozen(TOY2D_RECIPE.sampler),
    'consumers cannot change the shared recipe',
  );
  // the CLI has no flag for the EMA warm-up power: the recipe must keep the trainer's
  assert.equal(TOY2D_RECIPE.ema?.power ?? defaultTrainConfig().emaPower, defaultTrainConfig().emaPower);
  assert.equal(TOY2D_RECIPE.minLr, defaultTrainConfig().minLr);
});

test('typed flags win over the recipe; library callers and other data keep their values', () => {
  const o = cli({ steps: 7, lr: 0.5 }, ['data', 'out', 'steps', 'lr']);
  assert.equal(o.steps, 7);
  assert.equal(o.lr, 0.5);
  assert.equal(o.batchSize, TOY2D_RECIPE.batchSize);
  assert.equal(
    cli({ steps: 50 }, ['data', 'out', 'steps']).warmup,
    5,
    'a short typed run warms up over a tenth of its steps',
  );
  const noEma = cli({ noEma: true, ema: undefined }, ['data', 'out', 'ema']);
  assert.equal(trainConfigFrom(noEma).emaDecay, null);
  const lib = applyToyRecipeDefaults({
    data: 'moons',
    model: 'mlp-2d',
    out: 'x',
    seed: 0,
    steps: 5,
    batchSize: 8,
    lr: 1e-3,
  } as TrainCliOptions);
  assert.equal(lib.steps, 5);
  const mnist = cli({ data: 'mnist', model: 'unet-s', steps: 9 }, ['data', 'model']);
  assert.equal(mnist.steps, 9);
});

test('the demo trains through the CLI defaults (the recipe) and samples with the recipe sampler', () => {
  const plan = demoPlan({ seed: 3, out: 'out/d', data: '8gaussians' });
  assert.deepEqual(plan.sampler, TOY2D_RECIPE.sampler);
  const o = applyToyRecipeDefaults({ ...plan.train });
  assert.deepEqual(recipeKeys(trainConfigFrom(o)), { ...recipeKeys(recipeTrainConfig(TOY2D_RECIPE)) });
  assert.equal(o.seed, 3);
  assert.deepEqual(o.modelOverrides, TOY2D_RECIPE.model);
  const short = applyToyRecipeDefaults({ ...demoPlan({ seed: 0, out: 'o', data: 'moons', steps: 11 }).train });
  assert.equal(short.steps, 11);
});

test('withRecipeOverrides replaces keys and refuses unknown ones', () => {
  const r = withRecipeOverrides(TOY2D_RECIPE, { lr: 0.1 });
  assert.equal(r.lr, 0.1);
  assert.equal(TOY2D_RECIPE.lr !== 0.1, true);
  assert.throws(() => withRecipeOverrides(TOY2D_RECIPE, { learningRate: 1 }), /recipe: unknown key 'learningRate'/);
});
