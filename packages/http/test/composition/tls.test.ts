import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { resolveSettings } from "../../src/composition/config.ts"
import { loadConfig } from "../../src/composition/loadConfig.ts"
import { httpsRequest, startDtma } from "../support/dtmaProcess.ts"

const EMPTY_FILE = { values: {}, badLines: [] }
// A real DTMA in these tests needs no engine: it serves anyway.
const noDocker = { DOCKER_HOST: "unix:///nonexistent/dtma-test/docker.sock" }

/** A fresh self-signed certificate for 127.0.0.1 and its key, as PEM files in a scratch directory. */
const selfSigned = (): { readonly dir: string; readonly certFile: string; readonly keyFile: string; readonly cert: string } => {
  const dir = mkdtempSync(join(tmpdir(), "dtma-tls-"))
  const certFile = join(dir, "cert.pem")
  const keyFile = join(dir, "key.pem")
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    { stdio: "ignore" },
  )
  return { dir, certFile, keyFile, cert: readFileSync(certFile, "utf8") }
}

const loadWith = (env: Record<string, string>) => () => loadConfig({ DTMA_CONFIG_FILE: "/nonexistent/dtma-test/dtma.conf", DTMA_BEARER_TOKEN: "t", ...env })

describe("TLS settings", () => {
  it("serve plain HTTP when neither DTMA_TLS_CERT_FILE nor DTMA_TLS_KEY_FILE is set", () => {
    expect(resolveSettings({}, EMPTY_FILE).tls).toBeNull()
  })

  it("refuse a certificate without its key, or a key without its certificate, naming both settings", () => {
    expect(() => resolveSettings({ DTMA_TLS_CERT_FILE: "/etc/dtma/cert.pem" }, EMPTY_FILE)).toThrow(
      "Configuration error: DTMA_TLS_CERT_FILE is set but DTMA_TLS_KEY_FILE is not: HTTPS needs both (or set neither for plain HTTP)",
    )
    expect(() => resolveSettings({ DTMA_TLS_KEY_FILE: "/etc/dtma/key.pem" }, EMPTY_FILE)).toThrow(
      "Configuration error: DTMA_TLS_KEY_FILE is set but DTMA_TLS_CERT_FILE is not",
    )
  })

  it("refuse at start a file that cannot be read, naming the setting and the path", () => {
    const { certFile, dir } = selfSigned()
    expect(loadWith({ DTMA_TLS_CERT_FILE: certFile, DTMA_TLS_KEY_FILE: join(dir, "absent.pem") })).toThrow(
      `Configuration error: DTMA_TLS_KEY_FILE ${join(dir, "absent.pem")} cannot be read (ENOENT)`,
    )
    expect(loadWith({ DTMA_TLS_CERT_FILE: dir, DTMA_TLS_KEY_FILE: join(dir, "key.pem") })).toThrow(
      `Configuration error: DTMA_TLS_CERT_FILE ${dir} cannot be read (EISDIR)`,
    )
  })

  it("refuse a key that does not match the certificate", () => {
    const one = selfSigned()
    const other = selfSigned()
    expect(loadWith({ DTMA_TLS_CERT_FILE: one.certFile, DTMA_TLS_KEY_FILE: other.keyFile })).toThrow(
      /cannot serve HTTPS: the key does not match the certificate/,
    )
  })

  it("refuse files that are not PEM without echoing what they hold", () => {
    const { certFile, dir } = selfSigned()
    const keyFile = join(dir, "garbage.pem")
    writeFileSync(keyFile, "not-a-key-but-a-secret-4f1c\n")
    const load = loadWith({ DTMA_TLS_CERT_FILE: certFile, DTMA_TLS_KEY_FILE: keyFile })
    expect(load).toThrow(/cannot serve HTTPS: they are not a PEM certificate and its unencrypted private key/)
    expect(() => load()).not.toThrow(/4f1c/)
  })

  it("load the paths, never the key, into the configuration", () => {
    const { certFile, keyFile } = selfSigned()
    const config = loadWith({ DTMA_TLS_CERT_FILE: certFile, DTMA_TLS_KEY_FILE: keyFile })()
    expect(config.tls).toEqual({ certFile, keyFile })
    expect(JSON.stringify(config)).not.toContain("PRIVATE KEY")
  })
})

describe("a DTMA with a certificate", () => {
  it("serves /health over HTTPS with the configured certificate, and a plain HTTP request to its port gets no answer", async () => {
    const { certFile, keyFile, cert } = selfSigned()
    const dtma = await startDtma({ env: { ...noDocker, DTMA_TLS_CERT_FILE: certFile, DTMA_TLS_KEY_FILE: keyFile }, https: { ca: cert } })
    try {
      expect(dtma.url).toMatch(/^https:\/\//)
      expect(await httpsRequest(`${dtma.url}/health`, { ca: cert })).toEqual({ status: 200, text: "OK" })
      expect((await dtma.call("GET", "/metrics")).status).toBe(200)
      // The bearer token is still required over TLS.
      expect((await httpsRequest(`${dtma.url}/metrics`, { ca: cert })).status).toBe(401)
      // A client that does not trust the certificate refuses the connection.
      await expect(fetch(`${dtma.url}/health`)).rejects.toThrow("fetch failed")
      await expect(fetch(`${dtma.url.replace("https://", "http://")}/health`)).rejects.toThrow("fetch failed")
      expect(dtma.output()).toMatch(/"https":true/)
    } finally {
      await dtma.kill("SIGTERM")
    }
  }, 60_000)

  it("exits at start with the setting named when its key file cannot be read", async () => {
    const { certFile, dir } = selfSigned()
    const start = startDtma({ env: { ...noDocker, DTMA_TLS_CERT_FILE: certFile, DTMA_TLS_KEY_FILE: join(dir, "absent.pem") }, https: { ca: "" } })
    await expect(start).rejects.toThrow(/the DTMA exited at start:[\s\S]*"level":"fatal".*DTMA_TLS_KEY_FILE .*absent\.pem cannot be read \(ENOENT\)/)
  }, 60_000)
})
