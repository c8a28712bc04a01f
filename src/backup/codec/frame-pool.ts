// Output buffers of decoded frames, given back once written: a restore decodes gigabytes in 1 MiB frames, and a new
// buffer for each costs page faults and garbage collections.

/** Buffers this pool handed out, by their memory: only those come back. */
export class FramePool {
  private readonly spare: ArrayBuffer[] = [];
  private readonly issued = new WeakSet<ArrayBuffer>();

  constructor(private readonly frameSize: number) {}

  /** A buffer of `size` bytes (at most the frame size) whose content the caller overwrites. */
  take(size: number): Buffer {
    if (size > this.frameSize) return Buffer.allocUnsafe(size);
    let memory = this.spare.pop();
    if (memory === undefined) {
      memory = new ArrayBuffer(this.frameSize);
      this.issued.add(memory);
    }
    return Buffer.from(memory, 0, size);
  }

  /** Gives back a buffer from `take` that nothing reads any more (once written); anything else is left alone. */
  give(buf: Buffer): void {
    const memory = buf.buffer;
    if (memory instanceof ArrayBuffer && this.issued.has(memory) && !this.spare.includes(memory)) this.spare.push(memory);
  }
}
