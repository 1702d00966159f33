/**
 * The prediction ensemble of the m candidates: the mean of their softmax
 * probabilities, scored like a model. Not sparse (it holds m models), so it
 * is an upper reference for the soup, which costs one model. No jobs.
 */
import { ensembleProbabilities } from '../../metrics/classification.js';
import { scorePredictions, type PredictionMetrics } from '../evaluate.js';
import type { BaselineBranch } from './branch.js';

export const ensembleBranch: BaselineBranch<null, PredictionMetrics> = {
  enabled: (config) => config.baselines.ensemble,
  start: () => null,
  plan: async () => ({ jobs: {}, next: () => null }),
  score: async ({ data, predictions }) =>
    scorePredictions(data, {
      test: ensembleProbabilities(predictions.map((x) => x.test)),
      ood: predictions[0].ood.map((_, k) => ensembleProbabilities(predictions.map((x) => x.ood[k]))),
    }),
};
