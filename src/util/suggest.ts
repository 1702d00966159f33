/**
 * "Did you mean ...?" for misspelled names: the closest valid name by edit
 * distance (insertions, deletions, substitutions and swaps of two adjacent
 * letters each count 1; case is ignored), when it is close enough to be a
 * likely typo.
 *
 * @example
 * closestName('globl', ['global', 'uniform', 'random']); // 'global'
 * didYouMean('LLRX', ['LLR', 'CLR', 'SLR']);             // " (did you mean 'LLR'?)"
 * didYouMean('xyz', ['global', 'uniform']);              // ''
 */

/** Optimal-string-alignment distance between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[rows - 1][cols - 1];
}

/**
 * The candidate closest to `name` (case-insensitive), or undefined when none
 * is within a third of the longer name's length (at least 1 edit): 'globl'
 * finds 'global', 'xyz' finds nothing among the criteria.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    const limit = Math.max(1, Math.floor(Math.max(wanted.length, candidate.length) / 3));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** " (did you mean 'global'?)" for the closest candidate, or '' when none is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const best = closestName(name, candidates);
  return best === undefined ? '' : ` (did you mean '${best}'?)`;
}
