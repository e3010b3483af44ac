// Which methods a path answers, from the route patterns registered (`/a/:id/`): what a 405's
// Allow header lists, and how a 404 tells "no such path" from "not with this method".

// The usual order of an Allow header; any other method follows, alphabetically.
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const rank = (method: string): number => {
  const i = ORDER.indexOf(method)
  return i === -1 ? ORDER.length : i
}

/** `/a/:id/` to a regular expression matching `/a/17/`: a parameter is one non-empty segment. */
function patternRegex (url: string): RegExp {
  const source = url.split(/(:[A-Za-z0-9_]+)/).map((part) =>
    part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('')
  return new RegExp(`^${source}$`)
}

export class RouteTable {
  private readonly routes = new Map<string, { regex: RegExp, methods: Set<string> }>()

  add (methods: string | string[], url: string): void {
    let route = this.routes.get(url)
    if (route === undefined) {
      route = { regex: patternRegex(url), methods: new Set() }
      this.routes.set(url, route)
    }
    for (const method of Array.isArray(methods) ? methods : [methods]) route.methods.add(method.toUpperCase())
  }

  /** The methods some route answers at `path` (no query string), in the usual order; empty when none. */
  allowed (path: string): string[] {
    const methods = new Set<string>()
    for (const { regex, methods: those } of this.routes.values()) {
      if (regex.test(path)) for (const method of those) methods.add(method)
    }
    return [...methods].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  }
}
