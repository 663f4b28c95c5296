/**
 * The ports Node's fetch (undici) refuses to call: the "bad ports" of the WHATWG Fetch standard
 * (https://fetch.spec.whatwg.org/#port-blocking). Its WebSocket refuses them too. The list lives here,
 * beside the connector, because it is a restriction of the DTMA's own HTTP client, not of Docker or of
 * MCP: the SDK's SSE, Streamable HTTP and WebSocket transports (and the readiness probe) all call a
 * network server through its published loopback host port with fetch or WebSocket. The composition
 * root hands it to the domain, which refuses to publish a network server's MCP port on one of these.
 * A test checks it against the running Node.
 */
export const FETCH_BAD_PORTS: ReadonlyArray<number> = [
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137,
  139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]
