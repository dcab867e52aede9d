import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from '../logging/logger.js';
import type { ProviderManager } from '../providers/provider-manager.js';
import type { AttemptOutcome, CredentialSession, ProxyRequestInfo } from '../providers/credentials.js';
import { errorResponse } from '../anthropic/errors.js';
import { clientResponseHeaders, headerValue, isEventStream, upstreamRequestHeaders } from './headers.js';
import { describeNetworkError } from './network-errors.js';
import { upstreamTarget } from './request-target.js';
import { UpstreamAttempt, type CollectedBody } from './upstream-attempt.js';
import { AttemptLog } from './attempt-log.js';
import { usageTapFor, type UsageTap } from '../usage/usage-tap.js';
import { JUDGED_PREFIX_BYTES, judgedText } from './error-body.js';
import type { UpstreamDispatchers } from './upstream-dispatchers.js';

export interface ForwardSettings {
  headersTimeoutMs: number;
  idleTimeoutMs: number;
}

/** What the request log line says about a proxied request. */
export interface ProxyLogFields {
  provider?: string;
  account?: string;
  attempts: number;
  bytes: number;
  /** Anthropic's request-id of the upstream response the client got. */
  upstreamRequestId?: string;
  error?: string;
  /** The model the request body names (for the usage count when the response names none). */
  model?: string;
  /** performance.now() when the delivered upstream response's head arrived. */
  upstreamHeadAt?: number;
  /** Reads the delivered body's usage as it is relayed. */
  usage?: UsageTap | null;
}

/** A response held back while other providers are tried; the last one is what the client gets if none serves. */
interface HeldResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string | Buffer;
}

function isTimeout(error: Error): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/**
 * An error response kept while other credentials or providers are tried. A body longer than the
 * judged prefix cannot be kept whole, and a cut body would be corrupt: the client then gets an
 * error of the same status saying so, never the truncated bytes.
 */
function heldFailure(status: number, upstream: IncomingHttpHeaders, provider: string, body: CollectedBody | undefined): HeldResponse {
  const headers = clientResponseHeaders(upstream, provider);
  if (!body || body.complete) return { status, headers, body: body?.bytes ?? '' };
  delete headers['content-encoding'];
  delete headers['content-length'];
  const made = errorResponse('api_error', `The upstream answered HTTP ${status} with an error body too large to hold while other accounts and providers were tried.`, status);
  return { status, headers: { ...headers, ...made.headers }, body: made.body };
}

/** The client side of one forwarded request: whether the client has gone, and the attempt to end if it does. */
class ClientLink {
  gone = false;
  attempt: UpstreamAttempt | null = null;

  constructor(private readonly res: ServerResponse) {
    res.once('close', () => {
      if (this.res.writableFinished) return;
      this.gone = true;
      this.attempt?.abort();
    });
  }
}

function send(res: ServerResponse, { status, headers, body }: HeldResponse): number {
  const length = Buffer.byteLength(body);
  res.writeHead(status, { ...headers, 'content-length': length });
  res.end(body);
  return length;
}

/**
 * Forwards one client request: providers in priority order, each with its credentials in turn,
 * until one answers with something to deliver. Failover happens only while nothing has been sent
 * to the client; after that, the upstream body is streamed through as it arrives.
 */
export class Forwarder {
  constructor(
    private readonly providers: ProviderManager,
    private readonly dispatchers: UpstreamDispatchers,
    private settings: ForwardSettings,
    private readonly log: Logger,
  ) {}

  configure(settings: ForwardSettings): void {
    this.settings = settings;
  }

  async forward(req: IncomingMessage, res: ServerResponse, info: ProxyRequestInfo, fields: ProxyLogFields): Promise<void> {
    const client = new ClientLink(res);
    const attempts = AttemptLog.forDebug(this.log, info.reqId);

    // What each provider that did not serve left behind; only the client's final answer is built from it.
    let outcomes: Array<{ provider: string; session: CredentialSession; failure: HeldResponse | undefined }> | undefined;
    const reasons: string[] = [];
    // Whether the last attempt ended in a timeout: then the client's answer is a 504, not a 503.
    let timedOut = false;

    for (const provider of this.providers.candidates()) {
      const session = provider.credentials.begin(info);
      let providerFailed: string | undefined;
      let failure: HeldResponse | undefined;

      for (let credential = await session.next(); credential; credential = await session.next()) {
        if (client.gone) return;
        fields.attempts++;
        fields.provider = provider.name;
        fields.account = credential.label;

        const headers = upstreamRequestHeaders(req.headers, info.body?.length);
        credential.apply(headers, req.headers);

        const attempt = new UpstreamAttempt(this.settings.idleTimeoutMs);
        client.attempt = attempt;
        const path = upstreamTarget(provider.basePath, info.url);
        attempts?.start();
        this.dispatchers.get(provider.origin, provider.config.proxy).dispatch(
          {
            origin: provider.origin,
            path,
            method: info.method as Dispatcher.HttpMethod,
            headers,
            body: info.body,
            headersTimeout: this.settings.headersTimeoutMs,
            bodyTimeout: this.settings.idleTimeoutMs,
          },
          attempt,
        );
        const upstream = await attempt.head;
        if (upstream instanceof Error) {
          if (client.gone) return;
          const reason = describeNetworkError(upstream);
          reasons.push(`${provider.name}: ${reason}`);
          timedOut = isTimeout(upstream);
          attempts?.answered();
          const outcome: AttemptOutcome = { kind: 'network', error: upstream };
          const verdict = await session.judge(credential, outcome);
          attempts?.end(provider.name, credential.label, path, verdict, undefined, reason);
          if (verdict === 'next_provider') {
            providerFailed = reason;
            break;
          }
          continue;
        }

        const { statusCode } = upstream;
        const requestId = upstream.headers['request-id'];
        fields.upstreamRequestId = typeof requestId === 'string' ? requestId : undefined;
        let errorBody: CollectedBody | undefined;
        if (statusCode >= 400) {
          try {
            errorBody = await attempt.collect(JUDGED_PREFIX_BYTES);
          } catch {
            if (client.gone) return;
            errorBody = { bytes: Buffer.alloc(0), complete: true };
          }
        }
        attempts?.answered();
        const verdict = await session.judge(credential, {
          kind: 'response',
          status: statusCode,
          headers: upstream.headers,
          body: errorBody && judgedText(errorBody.bytes, upstream.headers['content-encoding']),
        });

        if (verdict === 'deliver') {
          fields.upstreamHeadAt = performance.now();
          if (errorBody === undefined) {
            // Until a body byte has gone to the client, a stalled or broken upstream is a failure like any other.
            const failed = await attempt.firstByte();
            attempts?.answered();
            if (client.gone) {
              attempt.discard();
              return;
            }
            if (failed) {
              const reason = describeNetworkError(failed);
              reasons.push(`${provider.name}${credential.label ? ` (${credential.label})` : ''}: ${reason}`);
              timedOut = isTimeout(failed);
              const next = await session.judge(credential, { kind: 'network', error: failed });
              attempts?.end(provider.name, credential.label, path, next, statusCode, reason);
              if (next === 'next_provider') {
                providerFailed = reason;
                break;
              }
              continue;
            }
          }
          attempts?.end(provider.name, credential.label, path, verdict, statusCode);
          if (statusCode < 500) this.providers.markHealthy(provider);
          const headersOut = clientResponseHeaders(upstream.headers, provider.name);
          if (credential.label) headersOut['x-balancer-account'] = headerValue(credential.label);
          if (errorBody?.complete) {
            attempt.discard();
            fields.bytes = send(res, { status: statusCode, headers: headersOut, body: errorBody.bytes });
            return;
          }
          if (client.gone) {
            attempt.discard();
            return;
          }
          // A 2xx, or an error body longer than the judged prefix: streamed on byte for byte.
          res.writeHead(statusCode, headersOut);
          const sse = isEventStream(upstream.headers);
          fields.usage = usageTapFor(upstream.headers, sse);
          const pumped = await attempt.pipe(res, sse, fields.usage);
          fields.bytes = pumped.bytes;
          if (pumped.error && !client.gone) {
            fields.error = describeNetworkError(pumped.error);
            this.log.warn({ provider: provider.name, err: fields.error }, 'upstream failed mid-response');
          }
          return;
        }

        attempt.discard();
        attempts?.end(provider.name, credential.label, path, verdict, statusCode);
        const reason = `HTTP ${statusCode}`;
        reasons.push(`${provider.name}${credential.label ? ` (${credential.label})` : ''}: ${reason}`);
        timedOut = false;
        failure = heldFailure(statusCode, upstream.headers, provider.name, errorBody);
        if (verdict === 'next_provider') {
          providerFailed = reason;
          break;
        }
      }

      if (providerFailed) this.providers.markFailed(provider, providerFailed);
      (outcomes ??= []).push({ provider: provider.name, session, failure });
    }

    if (client.gone) return;
    // The last provider with something to say speaks to the client. finalWord() is asked only
    // here: for the pool it starts a login and prints a banner, which a served request must not do.
    let final: HeldResponse | undefined;
    for (let i = (outcomes?.length ?? 0) - 1; i >= 0 && !final; i--) {
      const { provider, session, failure } = outcomes![i];
      const word = session.finalWord?.();
      if (word) final = { ...word, headers: { ...word.headers, 'x-balancer-provider': provider } };
      else final = failure;
    }
    if (final) {
      fields.bytes = send(res, final);
      return;
    }
    const tried = reasons.length ? reasons.join('; ') : 'no provider could take the request';
    const fallback = timedOut
      ? errorResponse('api_error', `The upstream did not answer in time: ${tried}`, 504)
      : errorResponse('api_error', `All providers failed: ${tried}`, 503);
    fields.error = tried;
    fields.bytes = send(res, fallback);
  }
}
