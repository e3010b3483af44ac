import { createSigner } from 'fast-jwt'

export interface TokenClaimsInput {
  sub: number
  admin?: boolean
  /** Lifetime in seconds (default one day). */
  expiresInSeconds?: number
  issuer?: string
  audience?: string
}

/** An HS256 token in the shape the plugin's default caller mapping reads. */
export function signToken (secret: string, claims: TokenClaimsInput): string {
  const sign = createSigner({
    key: secret,
    algorithm: 'HS256',
    expiresIn: (claims.expiresInSeconds ?? 86_400) * 1000,
    ...(claims.issuer !== undefined && { iss: claims.issuer }),
    ...(claims.audience !== undefined && { aud: claims.audience })
  })
  return sign({ sub: String(claims.sub), ...(claims.admin === true && { roles: ['admin'] }) })
}
