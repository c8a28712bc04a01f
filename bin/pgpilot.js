#!/usr/bin/env node
// Entry point of the pgpilot executable: runs the compiled CLI.
// Node 21+ defines navigator; on Node 20 the pg driver otherwise probes the global Response to detect Cloudflare
// Workers, which loads Node's whole fetch implementation (about 10 MiB) into every agent.
globalThis.navigator ??= { userAgent: `Node.js/${process.versions.node}` };
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
