import type { VerdictDecision } from '../../../protocol/biometrics.ts';

/** One scored window of one streaming device, as continuous verification reports it (the operator console draws these). */
export interface TrustPoint {
  sessionId: string;
  stream: number;
  window: number;
  trust: number;
  decision: VerdictDecision;
  /** Epoch ms when the verdict was sent. */
  at: number;
}
