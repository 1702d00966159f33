/**
 * Memory scopes, in the manner of TF.js's `tidy`: every tensor created inside
 * `tidy(fn)` is freed when fn returns, except the tensors fn returns (and
 * those passed to `keep`). Scopes nest; returned tensors move to the
 * enclosing scope. Long loops wrap each step in `tidy` so native memory stays
 * flat without waiting for the garbage collector.
 *
 * @example
 * const loss = tidy(() => model.forward(x).crossEntropy(y)); // intermediates freed
 */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /**
   * Called when the object outlives every scope (returned from the outermost
   * `tidy`, or passed to `keep`): a tensor then reports its native bytes to
   * V8, which it defers while a scope that will free it is open.
   */
  escapeScopes?(): void;
}

const scopes: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();
let scopeListener: (active: boolean) => void = () => {};

/** Told when the first scope opens (true) and the last one closes (false). */
export function setScopeListener(listener: (active: boolean) => void): void {
  scopeListener = listener;
}

function pushScope(scope: Set<Disposable>): void {
  scopes.push(scope);
  if (scopes.length === 1) scopeListener(true);
}
function popScope(): void {
  scopes.pop();
  if (scopes.length === 0) scopeListener(false);
}

/** Registers a new tensor with the innermost scope (called by Tensor's constructor). */
export function trackTensor(t: Disposable): void {
  const scope = scopes[scopes.length - 1];
  if (scope !== undefined) scope.add(t);
}

/** Exempts a tensor from every scope: it lives until `dispose()` or garbage collection. */
export function keep<X extends Disposable>(t: X): X {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  t.escapeScopes?.();
  return t;
}

/** True while inside at least one `tidy`. */
export function inScope(): boolean {
  return scopes.length > 0;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'isDisposed' in v;
}

/**
 * Runs fn and frees every tensor it created, except those in its result
 * (a tensor, or arrays / plain objects / Maps of them, a few levels deep).
 * fn must be synchronous: a Promise result is refused.
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Disposable>();
  pushScope(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    popScope();
    for (const t of scope) t.dispose();
    throw e;
  }
  popScope();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    // A usage error in code, not in user data: TypeError, as JavaScript raises for a wrong kind of argument.
    throw new TypeError('tidy(fn): fn must be synchronous (it returned a Promise); use explicit dispose() in async code');
  }
  const returned = new Set<Disposable>();
  collect(result, returned);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) {
      if (parent !== undefined && !kept.has(t)) parent.add(t);
      else t.escapeScopes?.();
    } else if (!kept.has(t)) {
      t.dispose();
    }
  }
  return result;
}

/** Disposes every tensor in a value (a tensor, array, plain object or Map of them). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found);
  for (const t of found) t.dispose();
}
