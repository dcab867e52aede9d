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
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
