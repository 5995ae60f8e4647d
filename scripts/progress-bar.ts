/**
 * A progress display for long-running scripts, written to stderr so that stdout keeps only the results.
 * On a terminal it is one line rewritten in place with a carriage return; anywhere else (a log file, CI) a
 * rewritten line would pile up as one huge line of carriage returns, so it prints a plain line at the
 * start, at most every `intervalMilliseconds`, and at the end.
 */
const barWidth = 30;

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** "users.email_ciphertext [##########--------------------] 512/1,536 33%" */
export function formatProgress(label: string, done: number, total: number): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * barWidth);
  const bar = `${"#".repeat(filled)}${"-".repeat(barWidth - filled)}`;
  const count = `${done.toLocaleString("en")}/${total.toLocaleString("en")}`;
  return `${label} [${bar}] ${count} ${String(Math.floor(fraction * 100))}%`;
}

export class ProgressBar {
  private lastLineAtMilliseconds = 0;
  private lastLine = "";
  private finished = false;

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream = process.stderr,
    private readonly intervalMilliseconds = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  update(done: number, total: number): void {
    if (this.finished) return;
    const line = formatProgress(this.label, done, total);
    if (this.stream.isTTY === true) {
      // "\x1b[K" clears what is left of a longer previous line.
      this.stream.write(`\r${line}\x1b[K`);
      return;
    }
    // An empty column gets only its final line; a long one a line at the start and then one per interval.
    if (total === 0) return;
    const now = this.now();
    if (this.lastLineAtMilliseconds === 0 || now - this.lastLineAtMilliseconds >= this.intervalMilliseconds) {
      this.stream.write(`${line}\n`);
      this.lastLine = line;
      this.lastLineAtMilliseconds = now;
    }
  }

  /** Shows the final state and ends the line; `suffix` (for example "(12 changed meanwhile)") follows it. */
  finish(done: number, total: number, suffix = ""): void {
    if (this.finished) return;
    this.finished = true;
    const bar = formatProgress(this.label, done, total);
    const line = suffix === "" ? bar : `${bar} ${suffix}`;
    if (this.stream.isTTY === true) {
      this.stream.write(`\r${line}\x1b[K\n`);
    } else if (line !== this.lastLine) {
      this.stream.write(`${line}\n`);
    }
  }
}
