/**
 * Warnings of the library (ignored config keys, leftovers of a killed run, a damaged checkpoint that
 * was skipped): one line each, to stderr by default, or to a handler the application installs.
 *
 * @example
 *   const seen: string[] = [];
 *   const previous = setWarningHandler((m) => seen.push(m));
 *   warn('config.json: unknown key "foo" ignored');
 *   setWarningHandler(previous);
 */
export type WarningHandler = (message: string) => void;

const toStderr: WarningHandler = (message) => {
  if (typeof process !== 'undefined' && process.stderr) process.stderr.write(`diffuse: warning: ${message}\n`);
  else console.warn(`diffuse: warning: ${message}`);
};

let handler: WarningHandler = toStderr;

/** Report a warning through the installed handler. @example warn('ignored key "foo"') */
export function warn(message: string): void {
  handler(message);
}

/** Install a warning handler (null restores the stderr default); returns the previous one. @example setWarningHandler((m) => log.push(m)) */
export function setWarningHandler(h: WarningHandler | null): WarningHandler {
  const previous = handler;
  handler = h ?? toStderr;
  return previous;
}
