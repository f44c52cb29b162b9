import { describe, expect, it } from 'vitest';
import { SequenceOutcome, StreamSequence } from './stream-sequence.ts';

describe('StreamSequence', () => {
  it('takes the first frame as the baseline, whatever its number', () => {
    const s = new StreamSequence();
    expect(s.admit(41)).toBe(SequenceOutcome.InOrder);
    expect(s.admit(42)).toBe(SequenceOutcome.InOrder);
    expect(s).toMatchObject({ lastSeq: 42, frames: 2, gaps: 0, duplicates: 0 });
  });

  it('counts the frames a jump skipped as gaps and accepts the frame', () => {
    const s = new StreamSequence();
    s.admit(0);
    expect(s.admit(4)).toBe(SequenceOutcome.AfterGap);
    expect(s).toMatchObject({ lastSeq: 4, frames: 2, gaps: 3 });
  });

  it('drops repeated and older frames as duplicates', () => {
    const s = new StreamSequence();
    s.admit(5);
    s.admit(6);
    expect(s.admit(6)).toBe(SequenceOutcome.Duplicate);
    expect(s.admit(2)).toBe(SequenceOutcome.Duplicate);
    expect(s).toMatchObject({ lastSeq: 6, frames: 2, duplicates: 2 });
  });
});
