/** All ops, registered on import. */
import './constant.ts';
export * from './identity.ts';
export * from './add.ts';
export * from './sub.ts';
export * from './mul.ts';
export * from './div.ts';
export * from './neg.ts';
export * from './broadcast.ts';
export * from './reshape.ts';
export * from './reduce_sum.ts';
export * from './transpose.ts';
export * from './matmul.ts';
