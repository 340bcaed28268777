/** Model folders: layouts, weights, checkpoints, the commit protocol of saves, the writer lock, cleanup. */
export * from './names.ts';
export * from './config_files.ts';
export * from './run_info.ts';
export * from './weights.ts';
export * from './layout.ts';
export * from './model_folder.ts';
export * from './pretrained.ts';
export * from './checkpoint.ts';
export * from './commit.ts';
export * from './lock.ts';
export * from './temporaries.ts';
export * from './fault_injection.ts';
