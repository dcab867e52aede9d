import { createInterface, type Interface } from 'node:readline';

/**
 * Line input from stdin that works the same for a terminal and a pipe: ask() resolves with the
 * next line, or null at end of input. (Ctrl-C ends the process, as in any command.)
 */
export class LineReader {
  private readonly rl: Interface;
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;

  constructor(
    input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WritableStream = process.stderr,
  ) {
    this.rl = createInterface({ input, terminal: false });
    this.rl.on('line', (line) => this.push(line));
    this.rl.on('close', () => this.end());
  }

  ask(question: string): Promise<string | null> {
    this.output.write(question);
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.rl.close();
  }

  private push(line: string): void {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(line);
    } else this.lines.push(line);
  }

  private end(): void {
    this.ended = true;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(null);
    }
  }
}
