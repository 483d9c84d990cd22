// Splits a byte stream into text lines as they arrive. Docker's progress output uses "\n"
// when not on a TTY, but some tools redraw with a bare "\r"; both end a line here.

import { StringDecoder } from 'node:string_decoder';

export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.#pending += this.#decoder.write(chunk);
    const parts = this.#pending.split(/\r\n|\n|\r/);
    this.#pending = parts.pop() ?? '';
    for (const line of parts) this.emit(line);
  }

  /** Emit what is left after the stream ended (a last line without newline). */
  end(): void {
    this.#pending += this.#decoder.end();
    if (this.#pending.length > 0) this.emit(this.#pending);
    this.#pending = '';
  }
}

/** Keeps the last `limit` bytes of a stream: output is bounded, the tail is what explains a failure. */
export class TailBuffer {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    // Drop whole chunks only while what remains still covers the limit; text() trims the rest.
    while (this.#chunks.length > 1 && this.#size - this.#chunks[0]!.length >= this.limit) {
      this.#size -= this.#chunks.shift()!.length;
      this.truncated = true;
    }
  }

  text(): string {
    const all = Buffer.concat(this.#chunks);
    if (all.length <= this.limit) return all.toString('utf8');
    this.truncated = true;
    return all.subarray(all.length - this.limit).toString('utf8');
  }
}
