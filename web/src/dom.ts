/**
 * DOM helpers: element lookup that fails loudly; event handlers whose errors are shown next to the
 * control that caused them (the section's `.error` line, cleared by the section's next success);
 * the page state in the URL (every element with a `data-state` key).
 */

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: element #${id} is missing from index.html`);
  return el as T;
}

/** The error line of the section holding `el` (or null). */
function errorLine(el: Element | null): HTMLElement | null {
  return (el?.closest('section')?.querySelector(':scope > .error') as HTMLElement | null) ?? null;
}

/** Show an error next to `el` (its section's error line; else the loading line at the top and the status line). */
export function report(e: unknown, where: string, el: Element | null = null): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.warn(`${where}: ${msg}`);
  const line = errorLine(el);
  if (line) {
    line.textContent = msg;
    line.hidden = false;
    return;
  }
  console.error(`${where}: ${msg}`, e);
  const s = document.getElementById('backend-status');
  if (s) {
    s.textContent = `${where}: ${msg}`;
    s.classList.add('error');
  }
  const top = document.getElementById('loading');
  if (top) {
    top.classList.add('failed');
    top.textContent = `${where}: ${msg}`;
  }
}

/** Clear the error line of the section holding `el`. */
export function clearError(el: Element): void {
  const line = errorLine(el);
  if (line && !line.hidden) {
    line.hidden = true;
    line.textContent = '';
  }
}

/** addEventListener with async handlers: a failure is shown beside the control, a success clears it. */
export function on(el: HTMLElement, type: string, fn: (ev: Event) => unknown): void {
  el.addEventListener(type, (ev) => {
    const done = () => clearError(el);
    const fail = (e: unknown) => report(e, `#${el.id} ${type}`, el);
    try {
      const r = fn(ev);
      if (r instanceof Promise) r.then(done, fail);
      else done();
    } catch (e) {
      fail(e);
    }
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Let the browser paint. */
export const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));

// ---- state in the URL ----

type Field = HTMLInputElement | HTMLSelectElement;
const fields = () => Array.from(document.querySelectorAll<Field>('[data-state]'));

/** Set controls from the URL's query (unknown values are ignored); call after the selects are filled. */
export function restoreState(params = new URLSearchParams(location.search)): void {
  for (const el of fields()) {
    const v = params.get(el.dataset.state!);
    if (v === null) continue;
    if (el instanceof HTMLSelectElement && !Array.from(el.options).some((o) => o.value === v)) continue;
    el.value = v;
    if (el.id && document.getElementById(`${el.id}-out`)) document.getElementById(`${el.id}-out`)!.textContent = v;
  }
}

/**
 * Keep the URL in step with the controls, so a view can be shared by its address. Call before
 * restoreState(): the values at this call are the defaults, which the URL leaves out.
 */
export function trackState(): void {
  const defaults = new Map(fields().map((el) => [el, el.value]));
  const write = () => {
    const params = new URLSearchParams(location.search);
    for (const el of fields()) {
      if (el.value === defaults.get(el)) params.delete(el.dataset.state!);
      else params.set(el.dataset.state!, el.value);
    }
    const q = params.toString();
    history.replaceState(null, '', `${location.pathname}${q ? `?${q}` : ''}${location.hash}`);
  };
  for (const el of fields()) el.addEventListener('change', write);
}
