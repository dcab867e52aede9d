import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger } from '../logging/logger.js';
import type { ProviderManager } from '../providers/provider-manager.js';
import type { AttemptOutcome, ProxyRequestInfo } from '../providers/credentials.js';
import { errorResponse } from './anthropic-errors.js';
import { clientResponseHeaders, isEventStream, upstreamRequestHeaders } from './headers.js';
import { describeNetworkError, pumpBody } from './stream.js';
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
}

/** Upstream error bodies are small; a larger one is cut rather than held. */
const MAX_ERROR_BODY = 1024 * 1024;

/** A response held back while other providers are tried; the last one is what the client gets if none serves. */
interface HeldResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: string;
}

async function readText(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < MAX_ERROR_BODY) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8');
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
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);

    let final: HeldResponse | undefined;
    const reasons: string[] = [];

    for (const provider of this.providers.candidates()) {
      const session = provider.credentials.begin(info);
      let providerFailed: string | undefined;
      let failure: HeldResponse | undefined;

      for (let credential = await session.next(); credential; credential = await session.next()) {
        if (abort.signal.aborted) return;
        fields.attempts++;
        fields.provider = provider.name;
        fields.account = credential.label;

        const headers = upstreamRequestHeaders(req.headers, info.body?.length);
        credential.apply(headers, req.headers);

        let upstream: Dispatcher.ResponseData;
        try {
          upstream = await this.dispatchers.get(provider.origin).request({
            origin: provider.origin,
            path: provider.basePath + info.url,
            method: info.method as Dispatcher.HttpMethod,
            headers,
            body: info.body,
            signal: abort.signal,
            headersTimeout: this.settings.headersTimeoutMs,
            bodyTimeout: this.settings.idleTimeoutMs,
          });
        } catch (err) {
          if (abort.signal.aborted) return;
          const reason = describeNetworkError(err as Error);
          reasons.push(`${provider.name}: ${reason}`);
          const outcome: AttemptOutcome = { kind: 'network', error: err as Error };
          const verdict = await session.judge(credential, outcome);
          if (verdict === 'next_provider') {
            providerFailed = reason;
            break;
          }
          continue;
        }

        const { statusCode } = upstream;
        const requestId = upstream.headers['request-id'];
        fields.upstreamRequestId = typeof requestId === 'string' ? requestId : undefined;
        let errorBody: string | undefined;
        if (statusCode >= 400) {
          try {
            errorBody = await readText(upstream.body);
          } catch (err) {
            if (abort.signal.aborted) return;
            errorBody = '';
          }
        }
        const verdict = await session.judge(credential, {
          kind: 'response',
          status: statusCode,
          headers: upstream.headers,
          body: errorBody,
        });

        if (verdict === 'deliver') {
          if (statusCode < 500) this.providers.markHealthy(provider);
          const headersOut = clientResponseHeaders(upstream.headers, provider.name);
          if (credential.label) headersOut['x-balancer-account'] = credential.label;
          if (errorBody !== undefined) {
            fields.bytes = send(res, { status: statusCode, headers: headersOut, body: errorBody });
            return;
          }
          if (abort.signal.aborted) {
            upstream.body.destroy();
            return;
          }
          res.writeHead(statusCode, headersOut);
          const pumped = await pumpBody(upstream.body, res, isEventStream(upstream.headers));
          fields.bytes = pumped.bytes;
          if (pumped.error && !abort.signal.aborted) {
            fields.error = describeNetworkError(pumped.error);
            this.log.warn({ provider: provider.name, err: fields.error }, 'upstream failed mid-response');
          }
          return;
        }

        if (errorBody === undefined) upstream.body.destroy();
        const reason = `HTTP ${statusCode}`;
        reasons.push(`${provider.name}${credential.label ? ` (${credential.label})` : ''}: ${reason}`);
        failure = {
          status: statusCode,
          headers: clientResponseHeaders(upstream.headers, provider.name),
          body: errorBody ?? '',
        };
        if (verdict === 'next_provider') {
          providerFailed = reason;
          break;
        }
      }

      if (providerFailed) this.providers.markFailed(provider, providerFailed);
      const word = session.finalWord?.();
      if (word) final = { ...word, headers: { ...word.headers, 'x-balancer-provider': provider.name } };
      else if (failure) final = failure;
    }

    if (abort.signal.aborted) return;
    if (final) {
      fields.bytes = send(res, final);
      return;
    }
    const tried = reasons.length ? reasons.join('; ') : 'no provider could take the request';
    const fallback = errorResponse('api_error', `All providers failed: ${tried}`, 503);
    fields.error = tried;
    fields.bytes = send(res, fallback);
  }
}
