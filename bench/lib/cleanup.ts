/**
 * What must be undone however the run ends: the DTMA process, its containers and the bench's own.
 * Actions run last-registered first, once, on normal exit, on a failure and on SIGINT/SIGTERM.
 */
const actions: Array<{ readonly what: string; readonly run: () => Promise<unknown> }> = []
let running: Promise<void> | null = null

export const onCleanup = (what: string, run: () => Promise<unknown>): void => {
  actions.push({ what, run })
}

export const cleanUp = (): Promise<void> => {
  running ??= (async () => {
    for (const action of actions.splice(0).reverse()) {
      try {
        await action.run()
      } catch (error) {
        console.error(`bench: cleaning up ${action.what} failed: ${String(error)}`)
      }
    }
  })()
  return running
}

/** A signal ends the run: clean up, then exit with the signal's conventional status. */
export const cleanUpOnSignals = (): void => {
  for (const [signal, status] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}: cleaning up`)
      void cleanUp().finally(() => process.exit(status))
    })
  }
}
