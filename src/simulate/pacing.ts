// Sends at a steady rate of lines per second. Event times do not depend on it: they follow the
// simulated clock. When the receiver holds the sender back, the pacer does not burst to catch up
// afterwards; it resumes the rate from where it is and counts the time lost.

export class Pacer {
  private base = performance.now();
  private baseLines = 0;
  /** Seconds the receiver put us behind the schedule, summed. */
  behindSeconds = 0;

  /** `linesPerSecond` 0 sends as fast as the destination takes lines. */
  constructor(private readonly linesPerSecond: number) {}

  /** Returns a promise to wait on when `sent` lines are ahead of the schedule. */
  wait(sent: number): void | Promise<void> {
    if (this.linesPerSecond <= 0) return undefined;
    const due = this.base + ((sent - this.baseLines) * 1000) / this.linesPerSecond;
    const now = performance.now();
    if (now - due > 1000) {
      this.behindSeconds += (now - due) / 1000;
      this.base = now;
      this.baseLines = sent;
      return undefined;
    }
    if (due - now < 2) return undefined;
    return new Promise((resolve) => setTimeout(resolve, due - now));
  }
}
