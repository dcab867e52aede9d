import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** A real forward proxy: tunnels CONNECT, relays absolute-form requests, records what it got. */
export interface ForwardProxy {
  url: string;
  /** "CONNECT host:port" or "GET http://..." per request, with the Proxy-Authorization it carried. */
  seen: { target: string; auth: string | undefined }[];
  /** CONNECT tunnels whose client side is still open. */
  openTunnels(): number;
  close(): Promise<void>;
}

/**
 * `hosts` maps names only the proxy can resolve (e.g. "oauth.proxied.test") to addresses, so a
 * call that bypassed the proxy would fail its DNS lookup instead of quietly going direct.
 */
export async function startForwardProxy(hosts: Record<string, string> = {}): Promise<ForwardProxy> {
  const seen: ForwardProxy['seen'] = [];
  const sockets = new Set<Socket>();
  const tunnels = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    seen.push({ target: `${req.method} ${req.url}`, auth: req.headers['proxy-authorization'] });
    const up = httpRequest(req.url!, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => sockets.add(s));
  server.on('connect', (req, client: Socket, head) => {
    seen.push({ target: `CONNECT ${req.url}`, auth: req.headers['proxy-authorization'] });
    sockets.add(client);
    tunnels.add(client);
    client.once('close', () => tunnels.delete(client));
    const [host, port] = req.url!.split(':');
    const up = connect(Number(port), hosts[host] ?? host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    openTunnels: () => tunnels.size,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
