/**
 * Noise corruptions of CIFAR-10-C: Gaussian, shot (Poisson) and impulse
 * (salt-and-pepper). All act on every channel value independently, so
 * grayscale and RGB images are treated alike and sizes need no scaling.
 */
import type { Rng } from '../../util/rng.js';
import { defineCorruption } from './types.js';
import { mapValues } from './planes.js';

/**
 * Poisson sample by inversion with one uniform u: the smallest k with
 * `u <= Σ_{i<=k} e^-λ λ^i / i!`, for λ <= 60 (the CDF terms stay above
 * the double range limit); above, `rng.poisson`'s normal approximation.
 * One draw per value instead of Knuth's λ+1 keeps shot noise fast.
 */
function samplePoisson(rng: Rng, lambda: number): number {
  if (lambda > 60) return rng.poisson(lambda);
  const u = rng.uniform();
  let k = 0;
  let term = Math.exp(-lambda);
  let cdf = term;
  while (u > cdf && term > 0) {
    k++;
    term *= lambda / k;
    cdf += term;
  }
  return k;
}

/** Additive Gaussian noise: `x + N(0, std²)`. */
export const gaussianNoise = defineCorruption<{ readonly std: number }>({
  name: 'gaussian_noise',
  category: 'noise',
  description: 'Additive Gaussian noise on every channel value: x + N(0, std^2).',
  paramsBySeverity: [{ std: 0.04 }, { std: 0.06 }, { std: 0.08 }, { std: 0.09 }, { std: 0.1 }],
  usesRandomness: true,
  corrupt: (image, _shape, { std }, rng) => mapValues(image, (x) => x + rng.normal(0, std)),
});

/** Shot noise: photon counts `Poisson(x·photons) / photons`; fewer photons, more noise. */
export const shotNoise = defineCorruption<{ readonly photons: number }>({
  name: 'shot_noise',
  category: 'noise',
  description: 'Poisson (photon-count) noise: Poisson(x * photons) / photons.',
  paramsBySeverity: [{ photons: 500 }, { photons: 250 }, { photons: 100 }, { photons: 75 }, { photons: 50 }],
  usesRandomness: true,
  corrupt: (image, _shape, { photons }, rng) => mapValues(image, (x) => samplePoisson(rng, x * photons) / photons),
});

/**
 * Salt-and-pepper noise (scikit-image `random_noise(mode='s&p')`): each
 * channel value is replaced with probability `amount`, by 1 or 0 with equal
 * probability.
 */
export const impulseNoise = defineCorruption<{ readonly amount: number }>({
  name: 'impulse_noise',
  category: 'noise',
  description: 'Salt-and-pepper noise: a fraction `amount` of channel values set to 0 or 1.',
  paramsBySeverity: [{ amount: 0.01 }, { amount: 0.02 }, { amount: 0.03 }, { amount: 0.05 }, { amount: 0.07 }],
  usesRandomness: true,
  corrupt: (image, _shape, { amount }, rng) =>
    mapValues(image, (x) => {
      const flipped = rng.uniform() < amount;
      const salt = rng.uniform() < 0.5;
      return flipped ? (salt ? 1 : 0) : x;
    }),
});
