// Node reports a failed TLS handshake with OpenSSL's codes and, for protocol errors, with
// OpenSSL's own error strings ("...:error:0A00010B:SSL routines:ssl3_get_record:wrong version
// number"). Status, events and alerts get one line instead: what is wrong, where, and the fix.

/** Certificates no trusted root vouches for. */
const untrusted: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by unknown authority',
  CERT_UNTRUSTED: 'certificate signed by unknown authority',
};

/** Certificates that are trusted but wrong, with the fix: trusting another CA does not help. */
const invalid: Readonly<Record<string, readonly [string, string]>> = {
  CERT_HAS_EXPIRED: ['certificate expired', "renew the server's certificate"],
  CERT_NOT_YET_VALID: ['certificate not yet valid', "check the certificate's dates and the clocks"],
  ERR_TLS_CERT_ALTNAME_INVALID: [
    'certificate not valid for this host name',
    'use a name the certificate lists',
  ],
  CERT_REVOKED: ['certificate revoked', "renew the server's certificate"],
  CERT_SIGNATURE_FAILURE: ['certificate signature invalid', "reissue the server's certificate"],
};

/** The first `code` on the error or its causes. */
function codeOf(err: unknown): { code?: string; message: string } {
  let current: unknown = err;
  const messages: string[] = [];
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof message === 'string') messages.push(message);
    if (typeof code === 'string' && (code in untrusted || code in invalid || isTlsCode(code)))
      return { code, message: messages.join(' ') };
    current = cause;
  }
  return { message: messages.join(' ') };
}

function isTlsCode(code: string): boolean {
  return (
    code.includes('CERT') || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO'
  );
}

/**
 * One readable line for a failed TLS handshake with the server named `origin` (never with
 * a path, which may hold a credential), or undefined when `err` is not one. `trustFix` says how to trust the server's CA where
 * the request was configured (a Secret key, a flag, insecureSkipVerify).
 */
export function describeTlsFailure(err: unknown, origin: string, trustFix: string): string | undefined {
  const { code, message } = codeOf(err);
  if (code === undefined) return undefined;
  const problem = untrusted[code];
  if (problem !== undefined) return `TLS: ${problem} for ${origin} (${trustFix})`;
  const wrong = invalid[code];
  if (wrong !== undefined) return `TLS: ${wrong[0]} for ${origin} (${wrong[1]})`;
  if (/wrong version number|packet length too long|http request/i.test(message))
    return `TLS: ${origin} does not speak TLS (use an http URL, or the server's TLS port)`;
  if (/certificate required|alert/i.test(message))
    return `TLS: ${origin} refused the handshake (it may want a client certificate, or other TLS versions or ciphers)`;
  return `TLS: handshake with ${origin} failed (${code})`;
}
