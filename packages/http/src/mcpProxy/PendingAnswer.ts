import type { JsonRpcId, JsonRpcNotification, JsonRpcResponse } from "@dtma/domain"

type Outgoing = JsonRpcNotification | JsonRpcResponse

/**
 * The answer to one client request and the progress before it. The work starts before the SDK
 * transport has seen the POST (so a saturated server can still be refused with HTTP 429), so what
 * it produces waits here until the transport has registered the request and `claim`s it.
 */
export class PendingAnswer {
  readonly id: JsonRpcId
  readonly #buffer: Array<Outgoing> = []
  readonly #onDone: () => void
  #sink: ((message: Outgoing) => void) | null = null
  #stop: () => void = () => {}
  #onCancelled: (() => void) | null = null
  #answered = false
  #done = false

  constructor(id: JsonRpcId, onDone: () => void) {
    this.id = id
    this.#onDone = onDone
  }

  get claimed(): boolean {
    return this.#sink !== null
  }

  /** What to do to stop the work when the client cancels. */
  onCancel(stop: () => void): void {
    this.#stop = stop
  }

  progress(notification: JsonRpcNotification): void {
    if (!this.#answered) this.#emit(notification)
  }

  /** The final answer; nothing follows it. */
  answer(response: JsonRpcResponse): void {
    if (this.#answered) return
    this.#answered = true
    this.#emit(response)
  }

  /** The transport knows the request now: send what waited, and from now on send at once. */
  claim(sink: (message: Outgoing) => void): void {
    if (this.#done || this.#sink !== null) return
    this.#sink = sink
    for (const message of this.#buffer.splice(0)) sink(message)
    if (this.#answered) this.#finish()
  }

  /**
   * Claims the answer alone, for a request nothing else can follow (it asked for no progress): the
   * final answer, or null when the request is cancelled first.
   */
  final(): Promise<JsonRpcResponse | null> {
    if (this.#done || this.#sink !== null) return Promise.resolve(null)
    return new Promise((resolve) => {
      this.#onCancelled = () => resolve(null)
      this.claim((message) => {
        if (!("method" in message)) resolve(message)
      })
    })
  }

  /** The client cancelled, or the request will never be delivered: stop the work, send nothing. */
  cancel(): void {
    if (this.#done) return
    this.#answered = true
    this.#buffer.length = 0
    this.#finish()
    this.#stop()
    this.#onCancelled?.()
  }

  #emit(message: Outgoing): void {
    if (this.#done) return
    if (this.#sink === null) this.#buffer.push(message)
    else this.#sink(message)
    if (this.#answered && this.#sink !== null) this.#finish()
  }

  #finish(): void {
    if (this.#done) return
    this.#done = true
    this.#onDone()
  }
}
