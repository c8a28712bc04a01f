// Prints the manifest and agent config reference (docs/manifest.md) to stdout: `npm run docs:manifest`.
import { renderReference } from './docs.js';

process.stdout.write(renderReference());
