// The CLI's terminal: output streams, confirmation prompts, and $PGPILOT_HOME.
import readline from 'node:readline/promises';
import { pgpilotHome } from '../runner/layout.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Asks `question`; true when the answer equals `expected`. False without a terminal. */
  confirm(question: string, expected: string): Promise<boolean>;
  home: string;
}

export function processIo(): Io {
  // A reader that went away (`pgpilot status | head`) is not an error of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  return {
    out: (line) => void process.stdout.write(line + '\n'),
    err: (line) => void process.stderr.write(line + '\n'),
    confirm: async (question, expected) => {
      if (!process.stdin.isTTY) return false;
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return (await rl.question(question)).trim() === expected;
      } finally {
        rl.close();
      }
    },
    home: pgpilotHome(),
  };
}
