// Sends at a steady rate of lines per second, or (live) each request when its event time comes. Event times do not depend on it: they follow the
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

/**
 * Live traffic: each request is sent when the wall clock reaches its event time, so dashboards see
 * it as "now"; the simulated clock (requests per second, the daily shape) sets the pace.
 */
export class LivePacer {
  private offsetMs: number;
  /** Seconds the receiver put us behind the wall clock, summed. */
  behindSeconds = 0;

  constructor(firstEventMs: number) {
    this.offsetMs = Date.now() - firstEventMs;
  }

  wait(eventMs: number): void | Promise<void> {
    const delay = eventMs + this.offsetMs - Date.now();
    if (delay < -1000) {
      // Late by more than a second: count it, and go on from here rather than burst to catch up.
      this.behindSeconds += -delay / 1000;
      this.offsetMs -= delay;
      return undefined;
    }
    if (delay < 2) return undefined;
    return new Promise((resolve) => setTimeout(resolve, delay));
  }
}
