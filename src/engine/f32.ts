/**
 * float32 rounding: the one helper every numeric module uses to mirror PyTorch/NumPy float32 storage.
 *
 * One IEEE operation on two float32 values computed in float64 and rounded once to float32 is
 * bit-identical to the float32 operation, so `f32(a * b)` reproduces a float32 multiply exactly.
 *
 * @example
 *   import { f32 } from 'diffuse/engine';
 *   f32(0.1);            // 0.10000000149011612 (the nearest float32)
 *   f32(f32(0.1) * 3);   // what torch.float32 stores for 0.1 * 3
 */
export const f32: (x: number) => number = Math.fround;
