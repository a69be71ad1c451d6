/**
 * Delta debugging (Zeller's ddmin, complement-first) over the bytes of a
 * failing input, followed by a pass that zeroes bytes where it can, so that a
 * saved regression case is as small and as plain as the bug allows.
 */

export interface MinimiseLimits {
  /** Stop after this many predicate calls. */
  maxTests: number
  /** Stop at this time (performance.now()). */
  deadline: number
}

/** `stillFails(candidate)` must be true for `data` itself. */
export async function minimise(data: Buffer, stillFails: (candidate: Buffer) => Promise<boolean>, limits: MinimiseLimits): Promise<Buffer> {
  let tests = 0
  const exhausted = () => tests >= limits.maxTests || performance.now() > limits.deadline
  const test = async (candidate: Buffer) => {
    tests++
    return stillFails(candidate)
  }

  let current = data
  let n = 2
  while (current.length >= 1 && !exhausted()) {
    const chunk = Math.ceil(current.length / n)
    let reduced = false
    // Removing one chunk at a time (testing the complement) shrinks fastest
    // for byte strings, where the failing part is usually a short region.
    for (let start = 0; start < current.length && !exhausted(); start += chunk) {
      const candidate = Buffer.concat([current.subarray(0, start), current.subarray(start + chunk)])
      if (await test(candidate)) {
        current = candidate
        n = Math.max(n - 1, 2)
        reduced = true
        break
      }
    }
    if (!reduced) {
      if (chunk <= 1) break
      n = Math.min(current.length, n * 2)
    }
  }

  // Zero what does not matter: the remaining non-zero bytes are the ones the bug needs.
  for (let i = 0; i < current.length && !exhausted(); i++) {
    if (current[i] === 0) continue
    const candidate = Buffer.from(current)
    candidate[i] = 0
    if (await test(candidate)) current = candidate
  }
  return current
}
