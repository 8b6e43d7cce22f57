/**
 * What the gateway changes in the headers it forwards, as pure functions over Node's
 * headersDistinct (every value of a repeated header kept, in order).
 */

export type DistinctHeaders = Partial<Record<string, string[]>>;

/** The headers that concern one connection only (RFC 9110 §7.6.1), never forwarded as they are. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Headers the upstream learns from this hop alone: a client's own are dropped (x-keymeter-*,
 * and the forwarding headers, which are set afresh), as are the key's headers.
 */
const REPLACED = new Set([
  'x-keymeter-key-id',
  'x-keymeter-key-name',
  'x-keymeter-account-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'host',
  // An admitted request's Authorization header, if it has one, carried the key.
  'authorization',
  'x-api-key',
]);

/**
 * Headers that frame the message: a Connection header cannot make them hop-by-hop. Dropping
 * Content-Length (or Transfer-Encoding) would send the body unframed, and the upstream would
 * read it as further requests (request smuggling).
 */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);

/** Who made the request, as the gateway saw it. */
export interface ForwardedFor {
  /** The client's address (the socket's peer). */
  clientAddress: string;
  /** The key that admitted the request. */
  keyId: string;
  keyName: string;
  accountId: string;
  /** The upstream's host[:port], the Host it is sent. */
  upstreamHost: string;
}

/** The header names a Connection header lists: hop-by-hop too (RFC 9110 §7.6.1). */
function connectionOptions(headers: DistinctHeaders): Set<string> {
  const names = new Set<string>();
  for (const value of headers.connection ?? []) {
    for (const name of value.split(',')) {
      const trimmed = name.trim().toLowerCase();
      if (trimmed !== '' && !FRAMING.has(trimmed)) names.add(trimmed);
    }
  }
  return names;
}

/**
 * A key name as a header value: names are UTF-8 and may hold anything, a header value only
 * visible ASCII and spaces. Plain names go as they are; others percent-encoded (decodeURIComponent
 * gives the name back).
 */
export function headerSafe(value: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(value) && value.trim() === value
    ? value
    : encodeURIComponent(value);
}

/**
 * The headers sent upstream: the client's, without hop-by-hop headers (and those its Connection
 * header names, never the framing ones), without the header that carried the key
 * (Authorization or x-api-key) and without any x-keymeter-* or forwarding header the client
 * sent; with the key's id, name and account, Host set to the upstream and X-Forwarded-For
 * (appended to the client's), -Proto and -Host as this hop saw them. A body sent chunked goes
 * on chunked (Node frames it; without the header a GET's body would go unframed). `upgrade`
 * keeps Connection and Upgrade for a WebSocket handshake.
 */
export function upstreamRequestHeaders(
  headers: DistinctHeaders,
  forwarded: ForwardedFor,
  options: { upgrade: boolean },
): DistinctHeaders {
  const dropped = connectionOptions(headers);
  const out: DistinctHeaders = {};
  for (const [name, values] of Object.entries(headers)) {
    if (values === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    if (REPLACED.has(name)) continue;
    out[name] = values;
  }
  // Node's parser has already refused a request with both, or with a transfer coding other
  // than chunked last; the body it passes on is the decoded one, sent on chunked again.
  if (headers['transfer-encoding']) {
    delete out['content-length'];
    out['transfer-encoding'] = ['chunked'];
  }
  if (options.upgrade && headers.upgrade) {
    out.connection = ['Upgrade'];
    out.upgrade = headers.upgrade;
  }
  out.host = [forwarded.upstreamHost];
  const chain = (headers['x-forwarded-for'] ?? []).join(', ');
  out['x-forwarded-for'] = [
    chain === '' ? forwarded.clientAddress : `${chain}, ${forwarded.clientAddress}`,
  ];
  out['x-forwarded-proto'] = ['http'];
  if (headers.host) out['x-forwarded-host'] = [headers.host[0]];
  out['x-keymeter-key-id'] = [forwarded.keyId];
  out['x-keymeter-key-name'] = [headerSafe(forwarded.keyName)];
  out['x-keymeter-account-id'] = [forwarded.accountId];
  return out;
}

/**
 * The upstream's response headers for the client: without hop-by-hop headers (Node frames the
 * body for the client's connection itself) and those the upstream's Connection header lists.
 */
export function clientResponseHeaders(headers: DistinctHeaders): DistinctHeaders {
  const dropped = connectionOptions(headers);
  const out: DistinctHeaders = {};
  for (const [name, values] of Object.entries(headers)) {
    if (values === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    out[name] = values;
  }
  return out;
}

/**
 * Headers as http.request and setHeader take them: one value as a string (Host must be one),
 * repeated ones as an array (sent as separate lines, in order).
 */
export function outgoing(headers: DistinctHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(headers)) {
    if (values !== undefined) out[name] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/** A `.` or `..` path segment, plain or percent-encoded (URL parsers treat %2e as a dot). */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|\?|#|$)/i;

/**
 * The upstream path for a request's target: the base path joined to its path, the query kept.
 * An absolute-form target (`http://host/x`, as sent to proxies) gives its path; dot segments are
 * resolved first, so `/../admin` cannot leave the base path; `*` (OPTIONS *) is the base path.
 */
export function upstreamPath(basePath: string, target: string): string {
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  if (target === '*') return base === '' ? '*' : base;
  let path = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    const url = new URL(path);
    path = `${url.pathname}${url.search}`;
  } else if (!path.startsWith('/')) {
    path = `/${path}`;
  }
  const query = path.indexOf('?');
  const pathname = query < 0 ? path : path.slice(0, query);
  if (DOT_SEGMENT.test(pathname)) {
    path = new URL(path, 'http://upstream.invalid').pathname + (query < 0 ? '' : path.slice(query));
  }
  return `${base}${path}`;
}

/** Raw HTTP/1.1 head of a response, for answers written on an upgraded socket. */
export function responseHead(status: number, reason: string, headers: DistinctHeaders): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, values] of Object.entries(headers)) {
    for (const value of values ?? []) head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}
