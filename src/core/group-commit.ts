/**
 * Group commit: callers add items one by one and each gets its own answer,
 * while the writes go out together. The first item is flushed at once; items
 * that arrive while a flush is running wait for it and go out together in
 * the next one. Under no load nothing waits; under load one write (one
 * transaction, one fsync) serves many callers. When a grouped write fails,
 * its items are written again one by one, so only the one at fault fails.
 */
export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;

  /** `flush` answers one result per item, in order. */
  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly max = 500,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.flushing) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.max);
      try {
        const results = await this.flush(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i]!);
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // One bad item must not sink the others: each goes again on its own.
        for (const b of batch) {
          try {
            b.resolve((await this.flush([b.item]))[0]!);
          } catch (alone) {
            b.reject(alone);
          }
        }
      }
    }
    this.flushing = false;
  }
}
