/**
 * Where tensors live: a diagnostic trace of the device of every tensor the
 * addon creates or moves, and the code that may put tensors on the CPU on
 * purpose (`onHost`).
 *
 * A run on a GPU must keep everything there: a model, mask, optimizer state
 * or soup left on the CPU either fails on the GPU (libtorch refuses an op
 * whose inputs are on two devices) or silently computes on the CPU. The trace
 * finds both on a machine without a GPU: with `alias: { 'cuda:0': 'cpu' }` a
 * config asking for `cuda:0` runs on the CPU, while the trace tags every
 * tensor with the device it was *asked* for, passes that tag on from the
 * inputs of each op to its outputs (as libtorch places an op's result where
 * its inputs are), reports `Tensor.device` as the tag, and records
 *
 *   - every new tensor by tagged device, apart from those made inside
 *     `onHost` (host staging: data decoding, the CPU copy a checkpoint is
 *     written from or read into, the seeded CPU initialization of a model);
 *   - every op whose tensor inputs carry different tags (a GPU would refuse
 *     it), with the stack that called it;
 *   - with `expect`, the stacks of the first tensors created elsewhere.
 *
 * Nothing is traced until `traceDevices()` starts a trace: it swaps the
 * addon's functions for recording wrappers and `stop()` swaps them back, so
 * ordinary runs pay nothing. One trace at a time.
 *
 * @example
 * const trace = traceDevices({ alias: { 'cuda:0': 'cpu' }, expect: 'cuda:0' });
 * try { await runSms({ ...config, device: 'cuda:0' }, { workDir }); } finally { report = trace.stop(); }
 * report.created; // { 'cuda:0': 51234 }: nothing was created on the CPU outside onHost
 */
import { writeFileSync } from 'node:fs';
import { native, NATIVE_EXPORTS, type NativeAddon, type NativeTensor } from './native.js';
import { TensorError } from '../util/errors.js';

let hostDepth = 0;

/**
 * Runs `fn`, marking the tensors it creates as deliberately on the host
 * (staging for I/O, CPU initialization before a move): a device trace counts
 * them apart. Costs a counter otherwise.
 */
export function onHost<R>(fn: () => R): R {
  hostDepth++;
  try {
    return fn();
  } finally {
    hostDepth--;
  }
}

/** What a device trace does. */
export interface DeviceTraceOptions {
  /**
   * Logical devices served by a physical one: `{ 'cuda:0': 'cpu' }` runs
   * what asks for cuda:0 on the CPU (and `cudaAvailable()` answers true,
   * `cudaDeviceCount()` the number of aliased CUDA devices).
   */
  alias?: Record<string, string>;
  /** The device every tensor should be on: the first tensors created on another (outside onHost) are kept with their stacks. */
  expect?: string;
  /** How many offending creations to keep with a stack (default 20). */
  keepSites?: number;
}

/** An op whose tensor inputs were on different devices. */
export interface MixedDeviceOp {
  op: string;
  devices: string[];
  stack: string;
}

/** A tensor created outside onHost on another device than `expect`. */
export interface OffDeviceCreation {
  op: string;
  device: string;
  stack: string;
}

/** What a trace saw. */
export interface DeviceTraceReport {
  /** New tensors per (logical) device, outside onHost. */
  created: Record<string, number>;
  /** New tensors made inside onHost, per device. */
  host: Record<string, number>;
  /** New tensors outside onHost per `op@device` (which ops made tensors where). */
  byOp: Record<string, number>;
  /** Ops on tensors of different devices. */
  mixed: MixedDeviceOp[];
  /** With `expect`: the first tensors created on another device outside onHost. */
  offDevice: OffDeviceCreation[];
  /** Autocast scopes entered, per `deviceType:dtype` as asked for ('cuda:float16'). */
  autocast: Record<string, number>;
}

/** A running trace; `stop()` ends it and returns what it saw. */
export interface DeviceTrace {
  /** What the trace has seen so far. */
  report(): DeviceTraceReport;
  /** Restores the addon's functions and returns the report. Idempotent. */
  stop(): DeviceTraceReport;
}

/** Which argument of a creating function names the device. */
const DEVICE_ARG: Partial<Record<keyof NativeAddon, number>> = {
  fromBuffer: 3,
  zeros: 2,
  ones: 2,
  empty: 2,
  full: 3,
  arange: 4,
  randn: 2,
  rand: 2,
  to: 2,
};
/** Functions that do not touch tensors, or that the trace handles itself. */
const UNTRACED = new Set<string>([
  'NativeTensor',
  'setErrorClass',
  'createGenerator',
  'manualSeed',
  'setGradEnabled',
  'isGradEnabled',
  'setNumThreads',
  'getNumThreads',
  'blasNumThreads',
  'cudaSynchronize',
  'cudaRuntimeVersion',
  'liveTensors',
  'reportedExternalBytes',
  'setDeferExternalReport',
  'version',
]);
/** Ops that may take tensors of two devices (a copy between them). */
const CROSS_DEVICE = new Set<string>(['copy_', 'setData']);

let active: DeviceTrace | null = null;

/** Starts a device trace (see the file comment). Throws TensorError while another one runs. */
export function traceDevices(opts: DeviceTraceOptions = {}): DeviceTrace {
  if (active !== null) throw new TensorError('traceDevices: a device trace is already running; stop() it first');
  const alias = new Map(Object.entries(opts.alias ?? {}));
  if (alias.has('cuda:0') && !alias.has('cuda')) alias.set('cuda', alias.get('cuda:0')!);
  const cudaAliases = [...alias.keys()].filter((d) => d.startsWith('cuda:')).map((d) => Number(d.slice(5)));
  const aliasCuda = cudaAliases.length > 0;
  const keepSites = opts.keepSites ?? 20;
  const addon = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = new Map<string, (...args: unknown[]) => unknown>();
  const NativeClass = native.NativeTensor;
  const tags = new WeakMap<object, string>();
  const report: DeviceTraceReport = { created: {}, host: {}, byOp: {}, mixed: [], offDevice: [], autocast: {} };

  const isTensor = (v: unknown): v is NativeTensor => v instanceof NativeClass;
  const physicalDevice = addon.device; // the addon's own, taken before the swap
  const tagOf = (t: NativeTensor): string => tags.get(t) ?? (physicalDevice.call(native, t) as string);
  const physical = (d: unknown): unknown => (typeof d === 'string' && alias.has(d) ? alias.get(d) : d);
  const collect = (v: unknown, out: NativeTensor[]): void => {
    if (isTensor(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) collect(x, out);
  };
  const stack = (): string => (new Error().stack ?? '').split('\n').slice(3, 15).join('\n');
  const count = (into: Record<string, number>, key: string): void => {
    into[key] = (into[key] ?? 0) + 1;
  };

  const wrap = (name: string, fn: (...args: unknown[]) => unknown): ((...args: unknown[]) => unknown) => {
    const deviceArg = DEVICE_ARG[name as keyof NativeAddon];
    return (...args: unknown[]): unknown => {
      const inputs: NativeTensor[] = [];
      for (const a of args) collect(a, inputs);
      const devices = [...new Set(inputs.map(tagOf))];
      if (devices.length > 1 && !CROSS_DEVICE.has(name)) report.mixed.push({ op: name, devices, stack: stack() });
      let device: string | undefined;
      if (deviceArg !== undefined && typeof args[deviceArg] === 'string') {
        device = args[deviceArg] as string;
        args[deviceArg] = physical(device);
      }
      device ??= inputs.length > 0 ? tagOf(inputs[0]) : 'cpu';
      const out = fn.apply(native, args);
      const outputs: NativeTensor[] = [];
      collect(out, outputs);
      for (const t of outputs) {
        if (inputs.includes(t)) continue; // in place: the same tensor handed back
        tags.set(t, device);
        if (hostDepth > 0) {
          count(report.host, device);
          continue;
        }
        count(report.created, device);
        count(report.byOp, `${name}@${device}`);
        if (opts.expect !== undefined && device !== opts.expect && report.offDevice.length < keepSites) {
          report.offDevice.push({ op: name, device, stack: stack() });
        }
      }
      return out;
    };
  };

  const special: Record<string, (fn: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown> = {
    device: () => (t: unknown) => tagOf(t as NativeTensor),
    setData: (fn) => (dst: unknown, src: unknown) => {
      const r = fn.call(native, dst, src);
      tags.set(dst as NativeTensor, tagOf(src as NativeTensor));
      return r;
    },
    cudaAvailable: (fn) => () => aliasCuda || fn.call(native),
    cudaDeviceCount: (fn) => () => (aliasCuda ? Math.max(...cudaAliases) + 1 : fn.call(native)),
    autocastEnter: (fn) => (type: unknown, dtype: unknown) => {
      count(report.autocast, `${String(type)}:${String(dtype)}`);
      return fn.call(native, type === 'cuda' && aliasCuda ? physical('cuda') : type, dtype);
    },
    autocastExit:
      (fn) =>
      (type: unknown, ...rest: unknown[]) =>
        fn.call(native, type === 'cuda' && aliasCuda ? physical('cuda') : type, ...rest),
  };

  for (const name of NATIVE_EXPORTS) {
    if (UNTRACED.has(name)) continue;
    const fn = addon[name];
    original.set(name, fn);
    addon[name] = special[name]?.(fn) ?? wrap(name, fn);
  }

  const snapshot = (): DeviceTraceReport => ({
    created: { ...report.created },
    host: { ...report.host },
    byOp: { ...report.byOp },
    mixed: [...report.mixed],
    offDevice: [...report.offDevice],
    autocast: { ...report.autocast },
  });
  let stopped = false;
  const trace: DeviceTrace = {
    report: snapshot,
    stop: () => {
      if (!stopped) {
        stopped = true;
        for (const [name, fn] of original) addon[name] = fn;
        active = null;
      }
      return snapshot();
    },
  };
  active = trace;
  return trace;
}

/**
 * The same trace for whole processes, from the environment (child processes
 * and queue workers run no test code): `SPARSE_SOUPS_DEVICE_ALIAS` lists
 * aliases (`cuda:0=cpu,cuda:1=cpu`), and the process writes its report as
 * JSON to `<SPARSE_SOUPS_DEVICE_TRACE>.<pid>.json` when it
 * exits, with its pid and arguments. Read once, when tensor/ loads.
 */
export function traceDevicesFromEnv(env: NodeJS.ProcessEnv = process.env): DeviceTrace | null {
  const spec = env.SPARSE_SOUPS_DEVICE_ALIAS;
  if (spec === undefined || spec === '') return null;
  const alias: Record<string, string> = {};
  for (const pair of spec.split(',')) {
    const [logical, physical] = pair.split('=').map((s) => s.trim());
    if (!logical || !physical)
      throw new TensorError(`SPARSE_SOUPS_DEVICE_ALIAS: expected 'logical=physical' pairs such as 'cuda:0=cpu', got '${pair}'`);
    alias[logical] = physical;
  }
  const trace = traceDevices({ alias });
  const out = env.SPARSE_SOUPS_DEVICE_TRACE;
  if (out !== undefined && out !== '') {
    process.on('exit', () => {
      try {
        writeFileSync(`${out}.${process.pid}.json`, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), ...trace.report() }));
      } catch {
        // a diagnostic: never fail the process over it
      }
    });
  }
  return trace;
}

traceDevicesFromEnv();
