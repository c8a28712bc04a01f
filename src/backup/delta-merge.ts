// Writes a file that has page deltas in one pass: its base content with each delta's pages laid over it, in order.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { PgpilotError } from '../base/errors.js';
import { collector } from '../base/gc.js';
import { type DeltaPage, DeltaReader, PAGE_SIZE } from './page-delta.js';

/**
 * Written a window at a time. Writing the whole file once, rather than writing the base and then patching pages of
 * it, matters: the kernel writes back page-cache folios of up to hundreds of KiB, so a patch to a file already on
 * disk writes its whole folio again (a restore of full + incremental wrote the data twice).
 */
const WINDOW = 1024 * 1024;

/** One delta's pages in block order, its checksum checked and its trailer read once it is used up. */
export class DeltaSource {
  private readonly reader: DeltaReader;
  private readonly hash = createHash('sha256');
  private queue: DeltaPage[] = [];
  private at = 0;
  private ended = false;
  private last = -1;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    private readonly what: string,
    private readonly sha256: string,
  ) {
    this.reader = new DeltaReader(what);
  }

  async peek(): Promise<DeltaPage | undefined> {
    while (this.at >= this.queue.length && !this.ended) {
      const r = await this.chunks.next();
      if (r.done === true) {
        this.ended = true;
        break;
      }
      this.hash.update(r.value);
      this.queue = this.reader.push(r.value);
      this.at = 0;
    }
    const p = this.queue[this.at];
    if (p !== undefined && p.block <= this.last) throw this.corrupt(`block ${p.block} comes after block ${this.last}`);
    return p;
  }

  advance(): void {
    this.last = this.queue[this.at]?.block ?? this.last;
    this.at += 1;
  }

  /** After the last page: whether the delta matched its checksum, and the file size it leaves. */
  finish(): { intact: boolean; newSize: number } {
    const intact = this.hash.digest('hex') === this.sha256;
    return { intact, newSize: intact ? this.reader.finish() : -1 };
  }

  corrupt(why: string): PgpilotError {
    return new PgpilotError('Corrupt', `page delta ${this.what} is damaged: ${why}`, { hint: 'run pgpilot verify to find the damaged files in the repository' });
  }
}

/**
 * Writes `size` bytes at the start of `fh`: the base's bytes, each block replaced by the page of the last delta that
 * has it. Blocks past the base's end come from the deltas (a delta holds every block past its reference's end).
 * `output` sees the written bytes in order (for the whole file's checksum). Throws when a delta is damaged, out of
 * order, or ends the file at another size than `size`.
 */
export async function mergeDeltas(fh: FileHandle, size: number, base: AsyncIterable<Buffer> | undefined, deltas: readonly DeltaSource[], output: (bytes: Buffer) => void): Promise<void> {
  const window = windows.pop() ?? Buffer.allocUnsafeSlow(WINDOW);
  try {
    await mergeInto(window, fh, size, base, deltas, output);
  } finally {
    windows.push(window);
  }
}

/** Window buffers kept for the next file. */
const windows: Buffer[] = [];

async function mergeInto(window: Buffer, fh: FileHandle, size: number, base: AsyncIterable<Buffer> | undefined, deltas: readonly DeltaSource[], output: (bytes: Buffer) => void): Promise<void> {
  const chunks = base?.[Symbol.asyncIterator]();
  const collect = collector();
  let carry: Buffer | undefined;
  let baseEnded = chunks === undefined;
  try {
    for (let off = 0; off < size; off += WINDOW) {
      const len = Math.min(WINDOW, size - off);
      let filled = 0;
      while (filled < len && !baseEnded) {
        if (carry === undefined || carry.length === 0) {
          const r = await (chunks as AsyncIterator<Buffer>).next();
          if (r.done === true) {
            baseEnded = true;
            break;
          }
          carry = r.value;
        }
        const n = carry.copy(window, filled, 0, Math.min(carry.length, len - filled));
        carry = carry.subarray(n);
        filled += n;
      }
      window.fill(0, filled, len);
      const first = off / PAGE_SIZE;
      const end = first + Math.ceil(len / PAGE_SIZE);
      for (const d of deltas) {
        for (let p = await d.peek(); p !== undefined && p.block < end; p = await d.peek()) {
          p.page.copy(window, (p.block - first) * PAGE_SIZE, 0, Math.min(PAGE_SIZE, len - (p.block - first) * PAGE_SIZE));
          d.advance();
        }
      }
      await fh.write(window, 0, len, off);
      output(window.subarray(0, len));
      // The dead decoded frames are collected as the file goes (base/gc.ts: a restore of full + incremental peaked at 250 MB, not 180 MB).
      collect(len);
    }
  } finally {
    await chunks?.return?.();
  }
  // Pages past the end belonged to blocks a later delta truncated away.
  let newSize = size;
  for (const d of deltas) {
    while ((await d.peek()) !== undefined) d.advance();
    const f = d.finish();
    if (!f.intact) throw d.corrupt('it does not match its checksum');
    newSize = f.newSize;
  }
  const last = deltas.at(-1);
  if (last !== undefined && newSize !== size) throw last.corrupt(`it ends the file at ${newSize} bytes, the manifest says ${size}`);
}
