/**
 * Which corrupted test sets an evaluation uses: corruptions × severities.
 */
import { ConfigError } from '../../util/errors.js';
import { CORRUPTION_NAMES, isCorruptionName } from './registry.js';
import { SEVERITIES } from './types.js';

/** Out-of-distribution test sets: every listed corruption at every listed severity. */
export interface OodSet {
  /** CIFAR-10-C names, e.g. `['gaussian_noise', 'fog']`. */
  readonly corruptions: readonly string[];
  /** Severities 1..5. */
  readonly severities: readonly number[];
}

/** All 15 corruptions at all 5 severities (the CIFAR-10-C benchmark). */
export function fullOodSet(): OodSet {
  return { corruptions: [...CORRUPTION_NAMES], severities: [...SEVERITIES] };
}

/**
 * Returns `value` typed as an OodSet, or throws ConfigError at `path`
 * (e.g. `ood.corruptions[2]`) for a missing or empty list, a duplicate, an
 * unknown corruption (the message lists the valid names) or a severity
 * that is not an integer in 1..5.
 */
export function validateOodSet(value: unknown, path = 'ood'): OodSet {
  if (typeof value !== 'object' || value === null) {
    throw new ConfigError(path, 'must be an object {corruptions: string[], severities: number[]}');
  }
  const { corruptions, severities } = value as { corruptions?: unknown; severities?: unknown };
  if (!Array.isArray(corruptions) || corruptions.length === 0) {
    throw new ConfigError(`${path}.corruptions`, `must be a non-empty list of corruption names (${CORRUPTION_NAMES.join(', ')})`);
  }
  if (!Array.isArray(severities) || severities.length === 0) {
    throw new ConfigError(`${path}.severities`, 'must be a non-empty list of severities in 1..5');
  }
  corruptions.forEach((name: unknown, i) => {
    const where = `${path}.corruptions[${i}]`;
    if (typeof name !== 'string' || !isCorruptionName(name)) {
      throw new ConfigError(where, `unknown corruption ${JSON.stringify(name)}; valid names: ${CORRUPTION_NAMES.join(', ')}`);
    }
    if (corruptions.indexOf(name) !== i) throw new ConfigError(where, `duplicate corruption '${name}'`);
  });
  severities.forEach((severity: unknown, i) => {
    const where = `${path}.severities[${i}]`;
    if (typeof severity !== 'number' || !Number.isInteger(severity) || severity < 1 || severity > 5) {
      throw new ConfigError(where, `severity must be an integer in 1..5, got ${JSON.stringify(severity)}`);
    }
    if (severities.indexOf(severity) !== i) throw new ConfigError(where, `duplicate severity ${severity}`);
  });
  return { corruptions: [...(corruptions as string[])], severities: [...(severities as number[])] };
}
