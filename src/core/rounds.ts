/**
 * The loop of a background worker (delivery, webhooks): a round at once
 * after start, then the next right away when the last was full or someone
 * rang meanwhile, else after `pollMs`. One round at a time; stop waits for it.
 */
export class Rounds {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rung = false;
  private stopped = true;

  /** `round` answers whether it was full (more is due now). */
  constructor(
    private readonly round: () => Promise<boolean>,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Asks for a round now, or right after the one running. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.rung = true;
      return;
    }
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    }, ms);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    let full = false;
    try {
      full = await this.round();
    } catch (error) {
      this.onError(error);
    }
    if (this.stopped) return;
    const again = full || this.rung;
    this.rung = false;
    this.schedule(again ? 0 : this.pollMs);
  }
}
