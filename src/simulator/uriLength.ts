/**
 * HubSpot's front end rejects long request URIs with 414 before the API receives them. Reports of
 * long `properties` lists put the limit at about 16,000 characters.
 */
export const defaultMaxUriLength = 16_000

/**
 * Header budget of the simulator's HTTP server in bytes. Node counts the request line against
 * its header limit (16 KiB by default), so the server allows more than the longest URI a test
 * can configure, and the 414 comes from the simulator rather than Node's own 431.
 */
export const maxHeaderBytes = 1_048_576

/** Maximum value of `maxUriLength`, which leaves room in `maxHeaderBytes` for the headers. */
export const maxConfigurableUriLength = 1_000_000

/**
 * Body of the 414. NOTE: no captured HubSpot 414 body exists; this is the plain HTML page a
 * proxy sends, like the simulator's 502 and 504 pages.
 */
export const uriTooLongPage =
  '<html><head><title>414 Request-URI Too Large</title></head>' +
  '<body><h1>414 Request-URI Too Large</h1></body></html>'

/** Returns true when the request target (path and query, as sent) exceeds the limit. */
export function isUriTooLong(requestTarget: string, maxUriLength: number): boolean {
  return requestTarget.length > maxUriLength
}
