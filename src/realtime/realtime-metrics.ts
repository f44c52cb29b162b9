import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TalliedCounter, TalliedTotal } from '../observability/tallied-counter.ts';

/** Sequence outcomes of a frame, indexed by SequenceOutcome. */
export const FRAME_OUTCOMES = ['in_order', 'after_gap', 'duplicate'] as const;

/** The channel's metrics, registered on the gateway's registry. */
export function createRealtimeMetrics(registry: Registry) {
  const registers = [registry];
  return {
    connections: new Gauge({
      name: 'vigil_ws_connections',
      help: 'Open sockets on /v1/stream by phase (awaiting-auth, ready)',
      labelNames: ['phase'] as const,
      registers,
    }),
    upgrades: new Counter({
      name: 'vigil_ws_upgrades_total',
      help: 'Upgrade requests by outcome (authenticated, deferred: auth by message, rejected: closed at once with a code, aborted)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    authSeconds: new Histogram({
      name: 'vigil_ws_auth_seconds',
      help: 'Token verification, connection admission and hook preparation per authentication',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    closes: new Counter({
      name: 'vigil_ws_closes_total',
      help: 'Closed sockets by close code (uWS reports 1006 for peers that vanished)',
      labelNames: ['code'] as const,
      registers,
    }),
    // Per message: tallied, handed to prom-client at scrape time.
    messages: new TalliedCounter({
      name: 'vigil_ws_messages_total',
      help: 'Messages received, binary frames and JSON control messages',
      label: 'kind',
      values: ['frame', 'control'],
      registers,
    }),
    frames: new TalliedCounter({
      name: 'vigil_ws_frames_total',
      help: 'Sample frames by sequence outcome (in_order, after_gap, duplicate: dropped)',
      label: 'outcome',
      values: FRAME_OUTCOMES,
      registers,
    }),
    missingFrames: new Counter({
      name: 'vigil_ws_missing_frames_total',
      help: 'Frames that never arrived, from gaps in sequence numbers',
      registers,
    }),
    samples: new TalliedTotal({
      name: 'vigil_ws_samples_total',
      help: 'Samples accepted (frames × samples per frame)',
      registers,
    }),
    backpressure: new Counter({
      name: 'vigil_ws_backpressure_total',
      help: 'Backpressure events: congested (a send was buffered), drained, closed (over the limit)',
      labelNames: ['event'] as const,
      registers,
    }),
    revocations: new Counter({
      name: 'vigil_ws_revocations_total',
      help: 'Revocation events received, and sockets they closed here',
      labelNames: ['result'] as const,
      registers,
    }),
  };
}

export type RealtimeMetrics = ReturnType<typeof createRealtimeMetrics>;
