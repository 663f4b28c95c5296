/**
 * Which client sessions of one server are subscribed to which resource. The upstream server is
 * subscribed once per uri: when the first session subscribes, unsubscribed when the last one leaves.
 */
export class ResourceSubscriptions {
  readonly #byUri = new Map<string, Set<string>>()

  /** Adds `session` to the subscribers of `uri`; true when it is the first (subscribe upstream). */
  add(uri: string, session: string): boolean {
    const sessions = this.#byUri.get(uri)
    if (sessions !== undefined) {
      sessions.add(session)
      return false
    }
    this.#byUri.set(uri, new Set([session]))
    return true
  }

  /** Removes `session` from `uri`; true when it was the last subscriber (unsubscribe upstream). */
  remove(uri: string, session: string): boolean {
    const sessions = this.#byUri.get(uri)
    if (sessions === undefined || !sessions.delete(session)) return false
    if (sessions.size > 0) return false
    this.#byUri.delete(uri)
    return true
  }

  has(uri: string, session: string): boolean {
    return this.#byUri.get(uri)?.has(session) ?? false
  }

  /** Forgets every subscription of `session`; returns the uris it was the last subscriber of. */
  dropSession(session: string): ReadonlyArray<string> {
    return [...this.#byUri.keys()].filter((uri) => this.remove(uri, session))
  }

  subscribers(uri: string): ReadonlyArray<string> {
    return [...(this.#byUri.get(uri) ?? [])]
  }

  /** Every uri the upstream is subscribed to. */
  uris(): ReadonlyArray<string> {
    return [...this.#byUri.keys()]
  }
}
