import type { ScoringFault } from './scoring-tasks.ts';

/**
 * Faults a test plants in a scoring pool's next tasks, to crash, hang or stall real workers. A
 * pool honours them only when it was given one through its options (`faults`); production pools
 * have none, and no request can carry a fault.
 */
export class ScoringFaults {
  private planned: ScoringFault[] = [];

  /** The first attempts of the next `tasks` tasks, on any path (HTTP or socket batches), hit `fault`; 0 clears. */
  inject(fault: ScoringFault, tasks = 1): void {
    this.planned = Array.from({ length: tasks }, () => fault);
  }

  /** The fault of the task about to run, if one is planted (the pool asks once per task). */
  take(): ScoringFault | undefined {
    return this.planned.shift();
  }
}
