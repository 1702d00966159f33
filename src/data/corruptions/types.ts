/**
 * Shared types for image corruptions (CIFAR-10-C protocol, Hendrycks &
 * Dietterich, ICLR 2019) and the checks every corruption runs at its
 * boundary.
 *
 * Image convention: one image is a Float32Array in CHW order (channel
 * planes one after another, each row-major) with values in [0, 1].
 */
import type { Rng } from '../../util/rng.js';
import { ConfigError, TensorError } from '../../util/errors.js';

/** Size of one image; `channels` is 1 (grayscale) or 3 (RGB). */
export interface ImageShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Severity level of the CIFAR-10-C protocol: 1 (mild) .. 5 (strong). */
export type Severity = 1 | 2 | 3 | 4 | 5;

/** The five severity levels, in order. */
export const SEVERITIES: readonly Severity[] = [1, 2, 3, 4, 5];

/** Groups of the paper's Figure 1. */
export type CorruptionCategory = 'noise' | 'blur' | 'weather' | 'digital';

/** Parameters of one corruption at one severity: named numbers or number lists. */
export type CorruptionParams = Readonly<Record<string, number | readonly number[]>>;

/** A corruption at a fixed severity: returns a new image, values clipped to [0, 1]. */
export type CorruptionFn = (image: Float32Array, shape: ImageShape, severity: number, rng: Rng) => Float32Array;

/** A registered corruption, its parameters erased (what the registry hands out). */
export interface Corruption {
  /** CIFAR-10-C name, e.g. `gaussian_noise`. */
  readonly name: string;
  readonly category: CorruptionCategory;
  /** One line: what it does to the image. */
  readonly description: string;
  /** Parameters for severities 1..5 (index 0 is severity 1). */
  readonly paramsBySeverity: readonly CorruptionParams[];
  /** False for deterministic ones (brightness, contrast, pixelate, JPEG, defocus and zoom blur). */
  readonly usesRandomness: boolean;
  /** False where the implementation is a documented substitute for the published one (frost). */
  readonly matchesPublished: boolean;
  /** Corrupts one image at severity 1..5; throws on a bad shape or severity. */
  readonly apply: CorruptionFn;
}

/** A corruption with its parameter type visible, so it can run with custom parameters. */
export interface ParameterizedCorruption<P extends CorruptionParams> extends Corruption {
  readonly paramsBySeverity: readonly P[];
  /** Corrupts with explicit parameters (no severity lookup); same checks on the image. */
  readonly applyWithParams: (image: Float32Array, shape: ImageShape, params: P, rng: Rng) => Float32Array;
}

/** What a corruption module writes; `defineCorruption` adds the checks and severity lookup. */
export interface CorruptionDefinition<P extends CorruptionParams> {
  readonly name: string;
  readonly category: CorruptionCategory;
  readonly description: string;
  readonly paramsBySeverity: readonly [P, P, P, P, P];
  readonly usesRandomness: boolean;
  readonly matchesPublished?: boolean;
  /** The corruption itself; may assume a valid image. Must not modify `image`. */
  readonly corrupt: (image: Float32Array, shape: ImageShape, params: P, rng: Rng) => Float32Array;
}

/** Wraps a definition with input validation and the severity table lookup. */
export function defineCorruption<P extends CorruptionParams>(def: CorruptionDefinition<P>): ParameterizedCorruption<P> {
  const applyWithParams = (image: Float32Array, shape: ImageShape, params: P, rng: Rng): Float32Array => {
    assertImage(image, shape, def.name);
    return def.corrupt(image, shape, params, rng);
  };
  return Object.freeze({
    name: def.name,
    category: def.category,
    description: def.description,
    paramsBySeverity: def.paramsBySeverity,
    usesRandomness: def.usesRandomness,
    matchesPublished: def.matchesPublished ?? true,
    applyWithParams,
    apply: (image: Float32Array, shape: ImageShape, severity: number, rng: Rng): Float32Array =>
      applyWithParams(image, shape, def.paramsBySeverity[checkSeverity(severity, `${def.name}.severity`) - 1], rng),
  });
}

/** Returns `severity` as a Severity, or throws ConfigError at `path`. */
export function checkSeverity(severity: number, path = 'severity'): Severity {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new ConfigError(path, `severity must be an integer in 1..5, got ${severity}`);
  }
  return severity as Severity;
}

/** Throws TensorError unless `shape` is a valid C×H×W with C in {1, 3} and `image` has C·H·W values. */
export function assertImage(image: Float32Array, shape: ImageShape, where: string): void {
  assertShape(shape, where);
  const expected = shape.channels * shape.height * shape.width;
  if (!(image instanceof Float32Array)) throw new TensorError(`${where}: image must be a Float32Array (CHW, values in [0,1])`);
  if (image.length !== expected) {
    throw new TensorError(
      `${where}: image has ${image.length} values but shape ${shape.channels}x${shape.height}x${shape.width} needs ${expected}`,
    );
  }
}

/** Throws TensorError unless `shape` has channels 1 or 3 and positive integer height and width. */
export function assertShape(shape: ImageShape, where: string): void {
  const { channels, height, width } = shape;
  if (channels !== 1 && channels !== 3) {
    throw new TensorError(`${where}: channels must be 1 (grayscale) or 3 (RGB), got ${channels}`);
  }
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new TensorError(`${where}: height and width must be positive integers, got ${height}x${width}`);
  }
}
