/** Moved to src/folders/config_files.ts; kept so older imports keep working. */
export * from '../folders/config_files.ts';
