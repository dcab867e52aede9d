/** A short reason for logs and error messages, from undici's and Node's error codes. */
export function describeNetworkError(err: Error): string {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timed out waiting for response headers';
    case 'UND_ERR_BODY_TIMEOUT':
      return 'the stream was idle too long';
    case 'UND_ERR_SOCKET':
      return 'connection closed by the upstream';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
      return 'host not found';
    default: {
      const cause = (err as { cause?: Error }).cause;
      if (cause && cause !== err) return describeNetworkError(cause);
      return code ? `${code}: ${err.message}` : err.message;
    }
  }
}
