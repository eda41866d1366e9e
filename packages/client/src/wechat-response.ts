import { TransportError, WeChatApiError } from './errors.js'
import { isRecord, mediaType, parseJson, type HttpResponse } from './http.js'

/** Image bytes from a code/QR endpoint. */
export interface ImageResult {
  /** The media type, e.g. `image/jpeg`. */
  contentType: string
  data: Uint8Array
}

/** Removes the token from text WeChat may echo back, so it can never reach an error message. */
function redact(text: string, token: string): string {
  return token === '' ? text : text.replaceAll(token, '[access_token]')
}

/**
 * Reads a WeChat JSON answer. Errors come as HTTP 200 with a non-zero `errcode`; bodies are
 * parsed as JSON whatever their Content-Type (some `/sns` endpoints say text/plain).
 */
export function readWeChatJson(
  response: HttpResponse,
  endpoint: string,
  token: string
): Record<string, unknown> {
  if (response.status >= 500) {
    throw new TransportError({ kind: 'http', target: endpoint, status: response.status })
  }
  const json = parseJson(response.body)
  if (isRecord(json) && typeof json.errcode === 'number' && json.errcode !== 0) {
    const errmsg = typeof json.errmsg === 'string' ? redact(json.errmsg, token) : ''
    throw new WeChatApiError({ errcode: json.errcode, errmsg, endpoint })
  }
  if (response.status < 200 || response.status >= 300) {
    throw new TransportError({ kind: 'http', target: endpoint, status: response.status })
  }
  if (!isRecord(json)) {
    throw new TransportError({
      kind: 'invalid_response',
      target: endpoint,
      detail: 'expected a JSON object',
    })
  }
  return json
}

function sniffImage(body: Uint8Array): string | undefined {
  if (body[0] === 0xff && body[1] === 0xd8) return 'image/jpeg'
  if (body[0] === 0x89 && body[1] === 0x50 && body[2] === 0x4e && body[3] === 0x47) {
    return 'image/png'
  }
  return undefined
}

function looksLikeJson(body: Uint8Array): boolean {
  const first = new TextDecoder().decode(body.subarray(0, 16)).trimStart()
  return first.startsWith('{')
}

/**
 * Reads an image endpoint's answer: image bytes on success, a JSON error otherwise. Branches on
 * Content-Type `application/json` (parameters ignored), falling back to sniffing the bytes.
 */
export function readWeChatImage(
  response: HttpResponse,
  endpoint: string,
  token: string
): ImageResult {
  const type = mediaType(response.headers)
  const isImageType = type?.startsWith('image/') === true
  if (type === 'application/json' || (!isImageType && looksLikeJson(response.body))) {
    readWeChatJson(response, endpoint, token) // throws WeChat's error
    throw new TransportError({
      kind: 'invalid_response',
      target: endpoint,
      detail: 'expected image bytes but got JSON without an error',
    })
  }
  if (response.status < 200 || response.status >= 300) {
    throw new TransportError({ kind: 'http', target: endpoint, status: response.status })
  }
  const contentType = isImageType ? type : sniffImage(response.body)
  if (contentType === undefined) {
    throw new TransportError({
      kind: 'invalid_response',
      target: endpoint,
      detail: `expected an image, got ${type ?? 'no Content-Type'}`,
    })
  }
  return { contentType, data: response.body }
}
