/**
 * Runs a contract case on a subject of its own: set up for the case, cleaned up after it whatever
 * the case did. `freshSubject(setup)(async (s) => { ... })` is the test function.
 */
export const freshSubject =
  <S extends { readonly cleanup?: () => Promise<void> }>(setup: () => Promise<S>) =>
  (body: (s: S) => Promise<void>) =>
  async (): Promise<void> => {
    const s = await setup()
    try {
      await body(s)
    } finally {
      await s.cleanup?.()
    }
  }
