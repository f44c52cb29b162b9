import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { VerdictDecisionSchema, type VerdictDecision } from '../../../protocol/biometrics.ts';
import { TalliedCounter } from '../../observability/tallied-counter.ts';

/** Metrics of continuous verification, registered on the gateway's registry (`vigil_cv_*`). */
export function createContinuousMetrics(registry: Registry) {
  const registers = [registry];
  const sizes = [1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 96, 128, 256];
  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    // How busy the event loop is (what features on the main thread would cost): the share of
    // time it was not idle since the previous scrape.
    eventLoopUtilization: new Gauge({
      name: 'vigil_nodejs_eventloop_utilization',
      help: 'Share of time the event loop was busy since the previous scrape (0–1)',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, lastUtilization).utilization);
        lastUtilization = now;
      },
    }),
    batches: new Counter({
      name: 'vigil_cv_batches_total',
      help: 'Micro-batches sent to the scoring pool, by why they were sent (full, deadline)',
      labelNames: ['reason'] as const,
      registers,
    }),
    batchWindows: new Histogram({ name: 'vigil_cv_batch_windows', help: 'Windows per micro-batch', buckets: sizes, registers }),
    batchStreams: new Histogram({
      name: 'vigil_cv_batch_streams',
      help: 'Distinct streams (sockets) with a window in one micro-batch',
      buckets: sizes,
      registers,
    }),
    batchModels: new Histogram({
      name: 'vigil_cv_batch_models',
      help: 'Distinct models in one micro-batch',
      buckets: sizes,
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'vigil_cv_batch_seconds',
      help: 'From a batch leaving the batcher to its scores coming back (queue, worker, features, inference)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5],
      registers,
    }),
    windows: new Counter({
      name: 'vigil_cv_windows_total',
      help: 'Windows through the scoring pool by outcome (scored, failed: reported to the client as an error)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    windowsNovel: new Counter({
      name: 'vigil_cv_windows_novel_total',
      help: 'Scored windows whose features lay far outside the owner’s enrolment: counted as the strongest evidence against',
      registers,
    }),
    windowsDropped: new Counter({
      name: 'vigil_cv_windows_dropped_total',
      help: 'Windows never sent for scoring, by reason (overloaded: too many pending; reported to the client)',
      labelNames: ['reason'] as const,
      registers,
    }),
    windowsBroken: new Counter({
      name: 'vigil_cv_windows_broken_total',
      help: 'Partial windows discarded because frames were missing (a sequence gap restarts the window)',
      registers,
    }),
    framesLate: new Counter({
      name: 'vigil_cv_frames_late_total',
      help: 'Frames arriving more than VIGIL_CV_LATE_FRAME_MS behind their stream’s best delay (sample time to arrival)',
      registers,
    }),
    verdicts: new TalliedCounter<VerdictDecision>({
      name: 'vigil_cv_verdicts_total',
      help: 'Verdicts sent, by decision',
      label: 'decision',
      values: VerdictDecisionSchema.anyOf.map((literal) => literal.const),
      registers,
    }),
    verdictSeconds: new Histogram({
      name: 'vigil_cv_verdict_latency_seconds',
      help: 'From the arrival of a window’s last sample to its verdict being sent',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    policyActions: new Counter({
      name: 'vigil_cv_policy_actions_total',
      help: 'Policy actions taken (notify, step-up, revoke, step-up-silent, step-up-timeout) and step-up outcomes',
      labelNames: ['action'] as const,
      registers,
    }),
    streams: new Gauge({
      name: 'vigil_cv_streams',
      help: 'Open streams handled by continuous verification, by purpose (verify, enroll)',
      labelNames: ['purpose'] as const,
      registers,
    }),
    models: new Gauge({ name: 'vigil_cv_models', help: 'Distinct models held for live streams on this process', registers }),
  };
}

export type ContinuousMetrics = ReturnType<typeof createContinuousMetrics>;
