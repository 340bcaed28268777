/** Moved to src/folders/ (model folders are read by inference too); kept so older imports keep working. */
export * from '../folders/checkpoint.ts';
export { cleanStaleTemporaries } from '../folders/temporaries.ts';
export { loadModelFolder, saveModelFolder } from '../folders/model_folder.ts';
