/**
 * A counting semaphore for async work: at most `limit` tasks run at once, the rest wait in arrival order.
 * Free of `server-only` because it holds no secret and touches nothing outside the process; the password
 * module uses it to keep argon2 from taking every core.
 */
export interface SemaphoreLoad {
  limit: number;
  /** Tasks running now. */
  active: number;
  /** Tasks waiting for a slot now. */
  waiting: number;
  /** The most tasks that ever ran at once: never above `limit` while the semaphore works. */
  peakActive: number;
}

export class Semaphore {
  readonly limit: number;
  #active = 0;
  #peakActive = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a semaphore needs a whole limit of at least 1, not ${limit}`);
    this.limit = limit;
  }

  /** Runs `work` once a slot is free and frees the slot when it settles, whether it resolved or threw. */
  async run<Result>(work: () => Promise<Result>): Promise<Result> {
    await this.#acquire();
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  get load(): SemaphoreLoad {
    return { limit: this.limit, active: this.#active, waiting: this.#waiting.length, peakActive: this.#peakActive };
  }

  #acquire(): Promise<void> {
    if (this.#active < this.limit) {
      this.#active += 1;
      this.#peakActive = Math.max(this.#peakActive, this.#active);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the longest waiter, so the count does not change and a newcomer cannot
    // take the slot ahead of it (first come, first served).
    if (next) next();
    else this.#active -= 1;
  }
}
