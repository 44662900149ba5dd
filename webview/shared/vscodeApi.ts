/**
 * The webview side of a surface's protocol: a typed wrapper over `acquireVsCodeApi()`.
 * `C` is what the page may send (commands), `S` the persisted page state.
 */
interface VsCodeApi<C, S> {
  postMessage(message: C): void;
  getState(): S | undefined;
  setState(state: S): void;
}

declare function acquireVsCodeApi<C, S>(): VsCodeApi<C, S>;

export function vscodeApi<C, S>(): VsCodeApi<C, S> {
  return acquireVsCodeApi<C, S>();
}

/** The full initial state the host rendered into the page. */
export function readBootstrap<T>(): T {
  const el = document.getElementById('bootstrap');
  if (!el?.textContent) throw new Error('The page has no bootstrap state.');
  return JSON.parse(el.textContent) as T;
}
