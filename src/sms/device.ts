/**
 * Where an experiment computes, from its config: `device` (cpu, cuda,
 * cuda:N) and `precision` (fp32, bf16, fp16). Every step of a run (model
 * building, masks, training, soups, BN recalibration, evaluation) takes its
 * device and autocast dtype from here, so one key moves all of it; the CPU
 * in float32 passes nothing on (the calls are those of a plain CPU run).
 *
 * @example
 * const device = computeDevice(config);  // undefined on the CPU, else 'cuda:N'
 * const amp = autocastDType(config);     // undefined for fp32
 */
import type { AutocastDType } from '../tensor/amp.js';
import { cudaDeviceCount, cudaUnavailableReason } from '../tensor/create.js';
import { ConfigError } from '../util/errors.js';
import type { SmsConfig } from './config.js';

/** The config's device as tensors report it ('cuda' is 'cuda:0'), or undefined for the CPU (the default of every tensor call). */
export function computeDevice(config: Pick<SmsConfig, 'device'>): string | undefined {
  if (config.device === 'cpu') return undefined;
  return config.device === 'cuda' ? 'cuda:0' : config.device;
}

/** The lower precision the config's forward passes autocast to, or undefined for fp32. */
export function autocastDType(config: Pick<SmsConfig, 'precision'>): AutocastDType | undefined {
  switch (config.precision) {
    case 'bf16':
      return 'bfloat16';
    case 'fp16':
      return 'float16';
    default:
      return undefined;
  }
}

/**
 * The config with its work moved to `device` (a CUDA device an executor
 * assigned to a worker): configs that compute on the CPU stay there, so a
 * CPU run gives the same results whatever worker runs its jobs.
 */
export function onDevice<C extends Pick<SmsConfig, 'device'>>(config: C, device: string | undefined): C {
  if (device === undefined || config.device === 'cpu' || device === config.device) return config;
  return { ...config, device };
}

/** The CUDA index of a 'cuda' or 'cuda:N' device (0 for 'cuda'). */
export function cudaIndex(device: string): number {
  return device === 'cuda' ? 0 : Number(device.slice('cuda:'.length));
}

/**
 * Throws ConfigError at `key` unless `device` can compute here: 'cpu'
 * always; a CUDA device needs a CUDA libtorch, a visible GPU, and an index
 * below the number of GPUs. Cheap (no tensor is made), so it runs before
 * any data is loaded.
 */
export function checkDevice(device: string, key = 'device', where = ''): void {
  if (device === 'cpu') return;
  const reason = cudaUnavailableReason();
  if (reason !== null) throw new ConfigError(key, `'${device}' needs a CUDA GPU, but ${reason}${where}`);
  const count = cudaDeviceCount();
  const index = cudaIndex(device);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new ConfigError(
      key,
      `'${device}' does not exist: ${count} CUDA device${count === 1 ? '' : 's'} visible (cuda:0${count > 1 ? `..cuda:${count - 1}` : ''})${where}`,
    );
  }
}
