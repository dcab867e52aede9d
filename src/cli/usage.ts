import { cliCommand } from '../hints/cli-command.js';

export const serveUsage = () => `Usage: ${cliCommand('serve [--config PATH] [--port N] [--host H]')}

  --config PATH  providers.yaml to use (default: $BALANCER_CONFIG, else ./providers.yaml)
  --port N       port to listen on (default: settings.port, 9090)
  --host H       address to listen on (default: settings.host, 127.0.0.1)`;
