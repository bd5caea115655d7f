import type { GenerationJobData } from '../queue/queues.js';

/** A provider slot of this process, held for a generation about to be admitted (LOCAL_START). */
export interface LocalRun {
  /** Runs the admitted generation here, on the slot held (its row was admitted claimed); BullMQ `priority` for its later attempts. */
  start(data: GenerationJobData, priority: number): void;
  /** Frees the slot when the generation was not admitted (joined, answered, failed); nothing once started. */
  release(): void;
}

/** What an API process's in-process worker offers its admissions (workers/local-start.ts). */
export interface LocalStart {
  /** A free provider slot now, or undefined: none free, or jobs from the queue wait for one. */
  reserve(): LocalRun | undefined;
}
