/** Pseudo-random, incompressible bytes (a linear congruential generator from `seed`). */
export function noise(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0
    b[i] = x >>> 24
  }
  return b
}
