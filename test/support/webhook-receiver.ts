// A local webhook receiver for the alert tests: it records each POST's content type and JSON body.
import http from 'node:http';

export interface Hook {
  url: string;
  received: any[];
  /** Status per delivery, in order; 200 once used up. 0: never answer. */
  answers: number[];
  close(): Promise<void>;
}

export async function startHook(): Promise<Hook> {
  const hook = { received: [] as any[], answers: [] as number[] } as Hook;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hook.received.push({ contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status = hook.answers.shift() ?? 200;
      if (status !== 0) res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/secret-path-123`;
  hook.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return hook;
}
