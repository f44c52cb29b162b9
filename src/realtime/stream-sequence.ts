/** What one frame's sequence number says about its stream. */
export const SequenceOutcome = {
  /** The next frame, or the first of the stream on this connection. */
  InOrder: 0,
  /** Accepted, but frames before it never arrived; they are counted as gaps. */
  AfterGap: 1,
  /** Repeated or older than the last accepted frame: dropped and counted. */
  Duplicate: 2,
} as const;
export type SequenceOutcome = (typeof SequenceOutcome)[keyof typeof SequenceOutcome];

/**
 * Sequence bookkeeping of one stream. The first frame on a connection sets the baseline (a
 * client resuming after a reconnect keeps its numbering); after that sequence numbers must rise.
 * Counters are cumulative for the connection and reported to the client in `ack` messages.
 */
export class StreamSequence {
  lastSeq = -1;
  frames = 0;
  gaps = 0;
  duplicates = 0;

  admit(seq: number): SequenceOutcome {
    if (this.lastSeq < 0) {
      this.lastSeq = seq;
      this.frames++;
      return SequenceOutcome.InOrder;
    }
    if (seq <= this.lastSeq) {
      this.duplicates++;
      return SequenceOutcome.Duplicate;
    }
    const missing = seq - this.lastSeq - 1;
    this.lastSeq = seq;
    this.frames++;
    if (missing === 0) return SequenceOutcome.InOrder;
    this.gaps += missing;
    return SequenceOutcome.AfterGap;
  }
}
