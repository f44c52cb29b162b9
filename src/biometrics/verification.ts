import type { VerificationResult, VerificationSummary } from '../../protocol/biometrics.ts';

/** The account-facing answer: counts and the fused decision only (no scores: no oracle). */
export function verificationSummary(result: VerificationResult): VerificationSummary {
  const { total, accepted, ratio, verdict, modelVersion } = result;
  return { total, accepted, ratio, verdict, modelVersion };
}

/**
 * The batch verification answer from per-window scores (pure; the route adds nothing but the
 * model version it scored with). Accept a window when score >= threshold; the overall verdict
 * fuses the windows by their mean score against the same threshold.
 */
export function summariseVerification(
  scores: Float32Array,
  starts: Int32Array,
  threshold: number,
  modelVersion: number,
): VerificationResult {
  if (scores.length === 0) throw new RangeError('no windows to summarise');
  if (starts.length !== scores.length) throw new RangeError(`${scores.length} scores for ${starts.length} windows`);
  let accepted = 0;
  let sum = 0;
  const windows = Array.from(scores, (score, index) => {
    const ok = score >= threshold;
    if (ok) accepted++;
    sum += score;
    return { index, start: starts[index] as number, score, accepted: ok };
  });
  const score = sum / scores.length;
  return {
    total: scores.length,
    accepted,
    ratio: accepted / scores.length,
    score,
    threshold,
    verdict: score >= threshold ? 'accept' : 'reject',
    modelVersion,
    windows,
  };
}
