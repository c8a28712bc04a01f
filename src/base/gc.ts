// Garbage collections on demand, for threads that stream large buffers and make little other garbage.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Decoded frames of 1 MiB arrive in new buffers, and code that streams them makes almost no other garbage, so V8 lets
 * about 64 MiB of dead buffers pile up per thread before it collects them. A stream that calls `collect(bytes)` for
 * what it passed on gets a young-generation collection every MINOR_EVERY bytes (a dead frame's wrapper is young: a
 * scavenge frees it in well under a millisecond) and a full one every MAJOR_EVERY (frames still in flight at a
 * scavenge get promoted). A restore of full + incremental (3.2 GB) peaked at 205 MB with full collections alone,
 * at 165 MB with both, in the same time.
 */
const MAJOR_EVERY = 32 * 1024 * 1024;
const MINOR_EVERY = 4 * 1024 * 1024;

/** V8's collector, made callable once (the flag is set at run time: a worker cannot be given V8 flags). */
let gcFunction: ((o?: { type: 'minor' | 'major' }) => void) | undefined;
export function collectGarbage(type: 'minor' | 'major' = 'major'): void {
  if (gcFunction === undefined) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
  }
  // gc() is V8's thorough collection; gc({type: 'major'}) is a lighter one that left the dead frames (270 MB).
  if (type === 'major') gcFunction();
  else gcFunction({ type });
}

/** Counts bytes streamed and collects as above. */
export function collector(): (bytes: number) => void {
  let minor = 0;
  let major = 0;
  return (bytes) => {
    minor += bytes;
    major += bytes;
    if (major >= MAJOR_EVERY) {
      [minor, major] = [0, 0];
      collectGarbage('major');
    } else if (minor >= MINOR_EVERY) {
      minor = 0;
      collectGarbage('minor');
    }
  };
}
