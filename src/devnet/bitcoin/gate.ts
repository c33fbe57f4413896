/** Holds work while paused: the servers' ports stay open, their answers wait. */
export class Gate {
  private paused = false;
  private waiters: Array<() => void> = [];

  get isPaused(): boolean {
    return this.paused;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  wait(): Promise<void> {
    return this.paused ? new Promise((r) => this.waiters.push(r)) : Promise.resolve();
  }
}
