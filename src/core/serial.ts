/**
 * Runs async tasks one at a time, in call order: each starts once the previous one has settled,
 * whether it succeeded or failed (a failure reaches only its own caller). For objects that own one
 * connection, such as a destination whose writes, resolutions and close must not overlap.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every task queued before it; resolves or rejects as `fn` does. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every task queued so far has settled (never rejects). */
  async idle(): Promise<void> {
    await this.tail;
  }
}
