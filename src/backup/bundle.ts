// Packs small stored files into bundle objects (a few MiB each), so a backup is not thousands of tiny writes.
import type { Storage } from '../storage/storage.js';

const BUNDLE_TARGET = 4 * 1024 * 1024;

/** One worker's bundle writer: `add` returns where the bytes will be; `flush` writes the current bundle. */
export class BundleWriter {
  private parts: Buffer[] = [];
  private size = 0;
  private seq = 0;
  storedSize = 0;

  constructor(
    private readonly storage: Storage,
    private readonly dir: string,
    private readonly worker: number,
  ) {}

  private name(): string {
    return `${this.dir}bundle/${this.worker}-${this.seq}`;
  }

  async add(encoded: Buffer): Promise<{ object: string; offset: number }> {
    const at = { object: this.name(), offset: this.size };
    this.parts.push(encoded);
    this.size += encoded.length;
    if (this.size >= BUNDLE_TARGET) await this.flush();
    return at;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const data = Buffer.concat(this.parts);
    const name = this.name();
    this.parts = [];
    this.size = 0;
    this.seq += 1;
    await this.storage.write(name, data);
    this.storedSize += data.length;
  }
}
