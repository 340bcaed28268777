/** DOM helpers: element lookup that fails loudly, and event handlers whose errors reach the page. */

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground: element #${id} is missing from index.html`);
  return el as T;
}

/** Show an error in the status line and the console (the e2e test fails on console errors). */
export function report(e: unknown, where: string): void {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`${where}: ${msg}`, e);
  const s = document.getElementById('backend-status');
  if (s) { s.textContent = `${where}: ${msg}`; s.classList.add('error'); }
}

/** addEventListener with async handlers; a rejected handler is reported, never lost. */
export function on(el: HTMLElement, type: string, fn: (ev: Event) => unknown): void {
  el.addEventListener(type, (ev) => {
    try {
      const r = fn(ev);
      if (r instanceof Promise) r.catch((e) => report(e, `#${el.id} ${type}`));
    } catch (e) {
      report(e, `#${el.id} ${type}`);
    }
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Let the browser paint. */
export const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));
