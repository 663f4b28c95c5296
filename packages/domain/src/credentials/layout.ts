import * as Redacted from "effect/Redacted"
import type { EnvVar } from "../ManagedInstance.ts"
import type { OAuthCredential } from "../ports/CredentialSource.ts"

/** Where `mounted_secrets` files appear inside a container. */
export const SECRETS_DIR = "/run/secrets/dtma"
/** Where the `runtime_api` socket's directory appears inside a container. */
export const SOCKET_DIR = "/run/dtma"
export const SOCKET_PATH = `${SOCKET_DIR}/credentials.sock`

/** Names usable as one path segment and, upper-cased, inside an environment variable name. */
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

/** Whether a provider or connection id from the backend can name a directory. */
export const isSafeSegment = (text: string): boolean => SAFE_SEGMENT.test(text) && text !== "." && text !== ".."

/** `google-drive` → `GOOGLE_DRIVE`: the provider's part of an environment variable name. */
export const envPrefixOf = (provider: string): string => provider.toUpperCase().replace(/[^A-Z0-9]/g, "_")

/**
 * One file set per provider (the first connection of a provider in the server's list wins the
 * provider directory) and one per connection, relative to `SECRETS_DIR`.
 */
export const secretFilesOf = (credentials: ReadonlyArray<OAuthCredential>): ReadonlyArray<{ readonly dir: string; readonly credential: OAuthCredential }> => {
  const seen = new Set<string>()
  const byProvider = credentials.filter((c) => !seen.has(c.provider) && seen.add(c.provider) !== undefined)
  return [...byProvider.map((c) => ({ dir: c.provider, credential: c })), ...credentials.map((c) => ({ dir: `connections/${c.connectionId}`, credential: c }))]
}

/** The `token.json` beside `access_token`: everything about the token, the value included. */
export const tokenDocumentOf = (credential: OAuthCredential): Record<string, unknown> => ({
  connection_id: credential.connectionId,
  provider: credential.provider,
  access_token: Redacted.value(credential.accessToken),
  token_type: credential.tokenType,
  expires_at: credential.expiresAt === null ? null : new Date(credential.expiresAt).toISOString(),
  scopes: credential.scopes,
})

/** What `GET /v1/credentials` on the `runtime_api` socket answers. */
export const socketDocumentOf = (credentials: ReadonlyArray<OAuthCredential>): { readonly credentials: ReadonlyArray<Record<string, unknown>> } => ({
  credentials: credentials.map(tokenDocumentOf),
})

/** Environment names servers commonly read, per provider, for `env_vars`. */
export const CONVENTIONAL_ENV_NAMES: Readonly<Record<string, ReadonlyArray<string>>> = {
  github: ["GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"],
  gitlab: ["GITLAB_PERSONAL_ACCESS_TOKEN", "GITLAB_TOKEN"],
  slack: ["SLACK_BOT_TOKEN", "SLACK_TOKEN"],
  google: ["GOOGLE_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"],
  microsoft: ["MS_GRAPH_TOKEN", "MICROSOFT_ACCESS_TOKEN"],
  notion: ["NOTION_TOKEN", "NOTION_API_KEY"],
  linear: ["LINEAR_API_KEY", "LINEAR_ACCESS_TOKEN"],
  atlassian: ["ATLASSIAN_ACCESS_TOKEN", "JIRA_API_TOKEN", "CONFLUENCE_API_TOKEN"],
  dropbox: ["DROPBOX_ACCESS_TOKEN"],
  zoom: ["ZOOM_ACCESS_TOKEN"],
}

const first = <A>(items: ReadonlyArray<A>, key: (a: A) => string): ReadonlyArray<A> => {
  const seen = new Set<string>()
  return items.filter((a) => !seen.has(key(a)) && seen.add(key(a)) !== undefined)
}

/**
 * `env_vars`: `OAUTH_<PROVIDER>_ACCESS_TOKEN`, `_EXPIRES_AT`, `_SCOPES`, `_TOKEN_TYPE` and the
 * provider's conventional names, for the first connection of each provider. Values stay `Redacted`.
 */
export const tokenEnvOf = (credentials: ReadonlyArray<OAuthCredential>): ReadonlyArray<EnvVar> =>
  first(credentials, (c) => c.provider).flatMap((c) => {
    const prefix = `OAUTH_${envPrefixOf(c.provider)}`
    const plain = (name: string, value: string): EnvVar => ({ name, value: Redacted.make(value) })
    return [
      { name: `${prefix}_ACCESS_TOKEN`, value: c.accessToken },
      plain(`${prefix}_EXPIRES_AT`, c.expiresAt === null ? "" : new Date(c.expiresAt).toISOString()),
      plain(`${prefix}_SCOPES`, c.scopes.join(" ")),
      plain(`${prefix}_TOKEN_TYPE`, c.tokenType),
      ...(CONVENTIONAL_ENV_NAMES[c.provider.toLowerCase()] ?? []).map((name) => ({ name, value: c.accessToken })),
    ]
  })

/** `mounted_secrets`: `OAUTH_<PROVIDER>_TOKEN_FILE` naming each provider's `access_token` file. */
export const tokenFileEnvOf = (credentials: ReadonlyArray<OAuthCredential>): ReadonlyArray<EnvVar> =>
  first(credentials, (c) => c.provider).map((c) => ({
    name: `OAUTH_${envPrefixOf(c.provider)}_TOKEN_FILE`,
    value: Redacted.make(`${SECRETS_DIR}/${c.provider}/access_token`),
  }))

/** `runtime_api`: the socket's path. */
export const socketEnv: ReadonlyArray<EnvVar> = [{ name: "DTMA_CREDENTIALS_SOCKET", value: Redacted.make(SOCKET_PATH) }]
