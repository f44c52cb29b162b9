import type { Queue } from 'bullmq';
import { VigilError } from '../../../protocol/errors.ts';
import type { Logger } from '../../observability/logger.ts';
import { trainingJobId, type TrainingJob } from '../../storage/queues.ts';
import type { EnrollmentRecord, EnrollmentStore } from './enrollment-store.ts';

/** Enrolments that stay queued without a BullMQ job this long are queued again (a crash between the two writes). */
export const REQUEUE_AFTER_MS = 60_000;
/**
 * A failed job's host records the catalogued reason right after BullMQ marks the job failed;
 * only a failure older than this, still unrecorded, is recorded by the reconciler instead.
 */
export const FAILURE_GRACE_MS = 30_000;
/** Unsettled enrolments looked at per pass (the rest wait for the next one). */
const PER_PASS = 500;

/**
 * Makes Mongo and the training queue agree again after a crash: an enrolment marked queued
 * whose job never reached Redis is queued again; a job that failed long ago without its host
 * recording why is recorded as failed. Runs in the biometrics sweeper, never in a status read
 * (a read must not write or queue work).
 */
export class EnrollmentReconciler {
  constructor(
    private readonly deps: {
      enrollments: Pick<EnrollmentStore, 'unsettled' | 'markFailed'>;
      queue: Queue<TrainingJob>;
      logger: Logger;
    },
  ) {}

  /** One pass over unsettled enrolments; returns how many it repaired. */
  async sweep(now = Date.now()): Promise<number> {
    let repaired = 0;
    for (const enrollment of await this.deps.enrollments.unsettled(PER_PASS)) {
      if (await this.reconcile(enrollment, now)) repaired++;
    }
    return repaired;
  }

  /** True when the enrolment needed (and got) a repair. */
  async reconcile(e: EnrollmentRecord, now = Date.now()): Promise<boolean> {
    if (e.status !== 'queued' && e.status !== 'training') return false;
    const id = e._id.toHexString();
    const job = await this.deps.queue.getJob(trainingJobId(id));
    if (job) {
      const state = await job.getState();
      if (state !== 'failed' || now - (job.finishedOn ?? now) <= FAILURE_GRACE_MS) return false;
      // The job gave up long ago but its failure never reached Mongo (the store was away).
      const reason = { reason: job.failedReason || 'the training job failed' };
      const error = {
        code: 'MODEL_TRAINING_FAILED' as const,
        message: new VigilError('MODEL_TRAINING_FAILED', reason).message,
        params: reason,
      };
      const failed = await this.deps.enrollments.markFailed(e._id, error);
      if (failed) this.deps.logger.warn({ enrollmentId: id }, 'unrecorded training failure recorded');
      return failed !== null;
    }
    if (e.status !== 'queued' || now - (e.committedAt ?? e.updatedAt).getTime() <= REQUEUE_AFTER_MS) return false;
    // Marked queued, but the job never reached Redis (a crash in between): queue it again.
    await this.deps.queue.add('train', { enrollmentId: id, userId: e.userId }, { jobId: trainingJobId(id) });
    this.deps.logger.warn({ enrollmentId: id }, 'training job queued again');
    return true;
  }
}
