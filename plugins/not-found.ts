import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RouteTable } from '../lib/route-table.js'
import { MethodNotAllowedError, RouteNotFoundError } from '../schemas/errors.js'

const shown = (path: string): string => path.length > 200 ? `${path.slice(0, 200)}...` : path

/**
 * What a request that no route takes gets: a 405 with `Allow` when the path has routes for
 * other methods, else a 404; both in the plugin's error shape.
 */
export function noRouteError (request: FastifyRequest, reply: FastifyReply, routes: RouteTable): FastifyError {
  const path = request.url.split('?', 1)[0]
  const allowed = routes.allowed(path)
  if (allowed.length === 0) return new RouteNotFoundError(request.method, shown(path))
  reply.header('allow', allowed.join(', '))
  return new MethodNotAllowedError(request.method, shown(path), allowed.join(', '))
}

/**
 * Answers, under the plugin's own prefix, the requests no route takes. Set where the
 * authentication hook applies (a 401 comes first, as everywhere in the API). Without a prefix
 * of its own the plugin leaves the host's 404s alone.
 */
export function setNotFoundHandler (fastify: FastifyInstance, routes: RouteTable): void {
  fastify.setNotFoundHandler((request, reply) => reply.send(noRouteError(request, reply, routes)))
}
