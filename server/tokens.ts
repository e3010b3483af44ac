import fastifyJwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'

export interface TokenClaimsInput {
  sub: number
  admin?: boolean
  /** Lifetime in seconds (default one day). */
  expiresInSeconds?: number
  issuer?: string
  audience?: string
  /** The `groups` claim the standalone server reads (scope names, lowest precedence first). */
  groups?: string[]
}

/** An HS256 token in the shape the plugin's default caller mapping reads, signed by `jwt`. */
export function signTokenWith (jwt: FastifyInstance['jwt'], claims: TokenClaimsInput): string {
  const payload = {
    sub: String(claims.sub),
    ...(claims.admin === true && { roles: ['admin'] }),
    ...(claims.groups !== undefined && claims.groups.length > 0 && { groups: claims.groups })
  }
  return jwt.sign(payload, {
    // @fastify/jwt reads a number as seconds.
    expiresIn: claims.expiresInSeconds ?? 86_400,
    ...(claims.issuer !== undefined && { iss: claims.issuer }),
    ...(claims.audience !== undefined && { aud: claims.audience })
  })
}

/** The same, without a running server: @fastify/jwt on a Fastify instance made for it. */
export async function signToken (secret: string, claims: TokenClaimsInput): Promise<string> {
  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret })
  await app.ready()
  try {
    return signTokenWith(app.jwt, claims)
  } finally {
    await app.close()
  }
}
