/** Small dense linear algebra on row-major Float64Array matrices (D ≤ a few hundred). */

/** In-place Cholesky factor: a (n×n, symmetric positive definite) becomes lower-triangular L with LLᵀ = a. */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let diag = a[j * n + j] as number;
    for (let k = 0; k < j; k++) diag -= (a[j * n + k] as number) ** 2;
    if (!(diag > 0)) throw new RangeError(`matrix is not positive definite (pivot ${j} is ${diag})`);
    const ljj = Math.sqrt(diag);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j] as number;
      for (let k = 0; k < j; k++) v -= (a[i * n + k] as number) * (a[j * n + k] as number);
      a[i * n + j] = v / ljj;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
}

/** Inverse of lower-triangular L (n×n), also lower-triangular. */
export function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / (l[j * n + j] as number);
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum += (l[i * n + k] as number) * (inv[k * n + j] as number);
      inv[i * n + j] = -sum / (l[i * n + i] as number);
    }
  }
  return inv;
}

/** Solves a·x = b for symmetric positive definite a (copied, not modified). */
export function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = Float64Array.from(a);
  choleskyInPlace(l, n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = b[i] as number;
    for (let k = 0; k < i; k++) v -= (l[i * n + k] as number) * (y[k] as number);
    y[i] = v / (l[i * n + i] as number);
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let v = y[i] as number;
    for (let k = i + 1; k < n; k++) v -= (l[k * n + i] as number) * (x[k] as number);
    x[i] = v / (l[i * n + i] as number);
  }
  return x;
}
