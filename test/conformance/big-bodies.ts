// Helpers of the large-body attacks: the real service as a process of its own (so running out of
// memory shows as a dead process, not a dead test worker) in front of a recording upstream, and a
// raw-socket client that sends a head and a large body and reads the answer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServiceProcess, type ServiceProcess } from '../support/cli.js';
import { RawClient, RawReadError, startRecordingUpstream, type RawResponse, type RecordingUpstream, type Reply, type UpstreamRecord } from './support.js';

export const UPSTREAM_KEY = 'sk-ant-api03-conformance-upstream-key-000000000000';
export const MiB = 1024 * 1024;

export interface BigBodySetup {
  service: ServiceProcess;
  upstream: RecordingUpstream;
  close(): Promise<void>;
}

export async function startBigBodySetup(
  settings: Record<string, unknown> = {},
  reply?: (record: UpstreamRecord) => Reply | Promise<Reply>,
): Promise<BigBodySetup> {
  const upstream = await startRecordingUpstream(reply);
  const dir = mkdtempSync(join(tmpdir(), 'ccb-big-bodies-'));
  const file = join(dir, 'config.yaml');
  const config = {
    providers: [{ name: 'upstream', base_url: upstream.url, auth_type: 'api_key', auth_value: UPSTREAM_KEY }],
    settings: { log_level: 'warn', oauth: { enable_persistence: false }, ...settings },
  };
  writeFileSync(file, JSON.stringify(config));
  const service = await startServiceProcess(['--config', file, '--port', '0'], { timeoutMs: 60_000 });
  return {
    service,
    upstream,
    close: async () => {
      if (service.child.exitCode === null && service.child.signalCode === null) await service.stop();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A POST /v1/messages head for a body of `length` bytes (or chunked when length is undefined). */
export function messagesHead(length: number | undefined, headers: Record<string, string> = {}): Buffer {
  const lines = ['POST /v1/messages HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json'];
  lines.push(length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

export interface BigAnswer {
  response?: RawResponse;
  /** Why no response was read (the connection ended or the wait ran out). */
  failure?: string;
}

/**
 * Sends a head and a body on a new connection and reads one response. Writing stops as soon as the
 * answer is in (a refused body is not sent on), and a reset after it does not count as a failure.
 */
export async function sendBig(url: string, head: Buffer, body: Buffer, timeoutMs: number): Promise<BigAnswer> {
  const client = await RawClient.connect(url);
  client.socket.write(head);
  client.socket.write(body);
  try {
    return { response: await client.read({ timeoutMs }) };
  } catch (err) {
    return { failure: err instanceof RawReadError ? `${err.message} (${client.error?.message ?? 'no socket error'})` : String(err) };
  } finally {
    client.destroy();
  }
}

/** Whether the service process is still running. */
export function alive(service: ServiceProcess): boolean {
  return service.child.exitCode === null && service.child.signalCode === null;
}
