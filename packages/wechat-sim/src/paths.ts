/** A page path segment: letters, digits, `_` and `-`. */
const PAGE = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/
const QUERY = /^[\x21-\x7e]*$/

/** A plausible Mini Program page path, e.g. `pages/index/index` (no leading slash, no query). */
export function plausiblePage(path: string): boolean {
  return PAGE.test(path)
}

/** A page path that may carry a query, e.g. `pages/index/index?foo=bar`. */
export function plausiblePageWithQuery(path: string): boolean {
  const at = path.indexOf('?')
  if (at === -1) return plausiblePage(path)
  return plausiblePage(path.slice(0, at)) && QUERY.test(path.slice(at + 1))
}
