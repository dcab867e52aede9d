#!/usr/bin/env node
import { serve, SERVE_USAGE } from './cli/serve.js';

const USAGE = `Usage: claude-code-balancer <command> [options]

Commands:
  serve      start the service (what \`npm start\` runs)

${SERVE_USAGE}`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`claude-code-balancer: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});
