import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { VerificationResultSchema } from '../../protocol/biometrics.ts';
import { summariseVerification } from './verification.ts';

describe('summariseVerification', () => {
  it('counts windows at or above the threshold and fuses by the mean score', () => {
    const result = summariseVerification(Float32Array.from([1, -2, 0.5, 0.5]), Int32Array.from([0, 25, 50, 75]), 0.5, 3);
    expect(result).toMatchObject({
      total: 4,
      accepted: 3,
      ratio: 0.75,
      score: 0,
      threshold: 0.5,
      verdict: 'reject',
      modelVersion: 3,
    });
    expect(result.windows[1]).toEqual({ index: 1, start: 25, score: -2, accepted: false });
    expect(result.windows[2]?.accepted).toBe(true); // equal to the threshold is accepted
    expect(Value.Check(VerificationResultSchema, result)).toBe(true);
  });

  it('accepts when the mean reaches the threshold even if some windows do not', () => {
    expect(summariseVerification(Float32Array.from([3, -1]), Int32Array.from([0, 1]), 1, 1).verdict).toBe('accept');
  });

  it('refuses an empty or misaligned batch', () => {
    expect(() => summariseVerification(new Float32Array(0), new Int32Array(0), 0, 1)).toThrow('no windows');
    expect(() => summariseVerification(new Float32Array(2), new Int32Array(1), 0, 1)).toThrow('2 scores for 1 windows');
  });
});
