import { Writable, type Duplex } from "node:stream"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { echoMcpServer } from "@dtma/testing"
import { encodeFrame } from "../../src/docker/multiplexedStream.ts"

/**
 * Serves MCP over the container's side of a fake attach stream, as a stdio server in a `Tty: false`
 * container does: requests come in raw on stdin, answers go out in stdout frames (and a stderr line).
 */
export const stdioServerIn = (container: Duplex): void => {
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      container.write(encodeFrame("stdout", chunk), done)
    },
  })
  container.write(encodeFrame("stderr", "Echo server running on stdio\n"))
  void echoMcpServer().connect(new StdioServerTransport(container, stdout))
}
