/** What a request on the `runtime_api` socket got back. */
export interface SocketReply {
  readonly status: number
  readonly body: unknown
}

/** What a server sees of the credentials delivered to it, read the way its container would. */
export interface DeliveredView {
  /**
   * Every file under `/run/secrets/dtma`, by its path relative to that directory
   * (`github/access_token`, `connections/c1/token.json`), with its text. Empty without files.
   */
  readonly files: Readonly<Record<string, string>>
  /** A request on `/run/dtma/credentials.sock` (GET unless said); null when there is no socket. */
  readonly socket: ((path: string, method?: string) => Promise<SocketReply>) | null
}
