/** "Did you mean …?" for a mistyped name: the closest of the known ones, when one is close enough to be the intent. */

/** Levenshtein distance: insertions, deletions and substitutions, one each. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate within two edits of `word` (one for words of four letters or fewer, where two edits turn
 * "url" into "tls"), else one that `word` clearly abbreviates or extends ("expect" for "exp" or "expects").
 * Undefined when none is close: a wrong guess misleads more than no guess.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  const maxEdits = typed.length <= 4 ? 1 : 2;
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const known = candidate.toLowerCase();
    if (known === typed) continue;
    const edits = editDistance(typed, known);
    const shorter = Math.min(typed.length, known.length);
    const prefix = shorter >= 3 && (known.startsWith(typed) || typed.startsWith(known));
    const score = edits <= maxEdits ? edits : prefix ? maxEdits + Math.abs(known.length - typed.length) : undefined;
    if (score !== undefined && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}
