import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Anthropic keys and OAuth tokens (sk-ant-api03-…, sk-ant-oat01-…, sk-ant-ort01-…), wherever they appear. */
const SECRET_PATTERN = /sk-ant-[A-Za-z0-9]{2,5}-[A-Za-z0-9_-]+/g;
/** JSON-serialized credential headers and bearer values, in case a message carries one verbatim. */
const CREDENTIAL_PAIR = /("(?:authorization|x-api-key|cookie|set-cookie|x-admin-token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g;

const MAY_HOLD_CREDENTIAL = /authorization|x-api-key|cookie|x-admin-token|bearer/i;

export function redactSecrets(line: string): string {
  if (line.includes('sk-ant-')) line = line.replace(SECRET_PATTERN, '[REDACTED]');
  if (MAY_HOLD_CREDENTIAL.test(line)) {
    line = line.replace(CREDENTIAL_PAIR, '$1"[REDACTED]"').replace(BEARER, '$1[REDACTED]');
  }
  return line;
}

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'res.headers["set-cookie"]',
  '*.access_token',
  '*.refresh_token',
  'access_token',
  'refresh_token',
];

/** A line waits in memory until this many bytes have gathered… */
const LOG_BATCH_BYTES = 4096;
/** …or until this long after it was written. */
const LOG_BATCH_MS = 100;

/**
 * stdout, written asynchronously and in batches. Each write is a round trip through libuv's thread
 * pool; one per line costs a busy service several percent of its CPU, one per dozen lines does
 * not. A quiet service still shows its lines within LOG_BATCH_MS, and no timer runs while it has
 * nothing to write. pino writes out whatever is buffered when the process exits.
 */
function batchedStdout(): DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  const out = pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES });
  let timer: NodeJS.Timeout | undefined;
  const flushNow = () => {
    timer = undefined;
    out.flush();
  };
  return {
    write(line: string) {
      out.write(line);
      timer ??= setTimeout(flushNow, LOG_BATCH_MS).unref();
    },
    flush(cb?: (err?: Error) => void) {
      out.flush(cb);
    },
  };
}

export interface LoggerOptions {
  level: string;
  /** Where JSON lines go; stdout when omitted. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/**
 * JSON logs with secrets removed twice over: known paths are censored by pino, and every
 * serialized line passes through redactSecrets so a token inside an error message is caught too.
 */
export function createLogger({ level, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: { streamWrite: redactSecrets },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? batchedStdout(),
  );
}

/** What the one line per request says (see app.ts); undefined fields are left out, as pino does. */
export interface RequestLogLine {
  req_id: string;
  method: string;
  path: string;
  provider?: string;
  account?: string;
  /** The name of the client key used, never the key. */
  client_key?: string;
  attempts?: number;
  status?: number;
  client_closed?: true;
  duration_ms: number;
  bytes?: number;
  upstream_request_id?: string;
  error?: string;
}

const { streamSym, needsMetadataGsym } = pino.symbols;

const str = JSON.stringify;
/** A number as pino writes it: non-finite ones become null. */
const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

/**
 * Writes the per-request line, byte for byte what `logger.info(line, 'request')` writes with the
 * options of createLogger, at a fraction of the cost: the fields are known strings and numbers, so
 * pino's generic serialization and path redaction (which matches none of them) are skipped. The
 * line still passes through redactSecrets, like every line.
 */
export function logRequestLine(logger: Logger, line: RequestLogLine): void {
  if (!logger.isLevelEnabled('info')) return;
  const stream = (logger as unknown as Record<symbol, DestinationStream & Record<symbol, unknown>>)[streamSym];
  if (stream[needsMetadataGsym]) {
    logger.info(line, 'request');
    return;
  }
  let s = `{"level":"info","time":"${new Date().toISOString()}","req_id":${str(line.req_id)},"method":${str(line.method)},"path":${str(line.path)}`;
  if (line.provider !== undefined) s += `,"provider":${str(line.provider)}`;
  if (line.account !== undefined) s += `,"account":${str(line.account)}`;
  if (line.client_key !== undefined) s += `,"client_key":${str(line.client_key)}`;
  if (line.attempts !== undefined) s += `,"attempts":${num(line.attempts)}`;
  if (line.status !== undefined) s += `,"status":${num(line.status)}`;
  if (line.client_closed !== undefined) s += `,"client_closed":${line.client_closed}`;
  s += `,"duration_ms":${num(line.duration_ms)}`;
  if (line.bytes !== undefined) s += `,"bytes":${num(line.bytes)}`;
  if (line.upstream_request_id !== undefined) s += `,"upstream_request_id":${str(line.upstream_request_id)}`;
  if (line.error !== undefined) s += `,"error":${str(line.error)}`;
  stream.write(redactSecrets(`${s},"msg":"request"}\n`));
}
