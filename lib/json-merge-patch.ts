// RFC 7396 (JSON Merge Patch), on plain JSON values.

type JsonObject = Record<string, unknown>

const isJsonObject = (value: unknown): value is JsonObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

// defineProperty, not assignment: a member named "__proto__" stays an ordinary member.
function setMember (object: JsonObject, name: string, value: unknown): void {
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * MergePatch(target, patch) of RFC 7396, without changing either argument. A patch that is
 * not an object replaces the target; an object patch merges into the target when that is an
 * object (else into {}): null removes a member, other members are merged recursively. The
 * target's members keep their order; new ones follow in patch order. Recursion follows the
 * patch's depth, so a very deep patch throws a RangeError (the caller turns it into a 400).
 */
export function mergePatch (target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch
  const result: JsonObject = {}
  if (isJsonObject(target)) {
    for (const name of Object.keys(target)) setMember(result, name, target[name])
  }
  for (const name of Object.keys(patch)) {
    const value = patch[name]
    if (value === null) {
      delete result[name]
    } else {
      setMember(result, name, mergePatch(Object.hasOwn(result, name) ? result[name] : undefined, value))
    }
  }
  return result
}
