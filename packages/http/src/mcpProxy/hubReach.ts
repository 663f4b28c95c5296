import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { answerRequest } from "./answerRequest.ts"
import { mayReceive } from "./grantedMessages.ts"
import { EVERYTHING, serverAccessOf } from "./requestAccess.ts"
import type { ServerHub } from "./ServerHub.ts"
import type { SessionReach } from "./SessionReach.ts"
import type { McpProxySettings } from "./settings.ts"

/**
 * What a session of one server's endpoint reaches: that server, through its hub. Every request goes
 * there as it came, within what its caller may reach there (`answerRequest`).
 */
export const hubReach = (hub: ServerHub, settings: McpProxySettings): SessionReach => ({
  name: hub.name,
  server: hub.name,
  route: (request, authorized) => ({
    server: hub.name,
    request,
    answer: (routed, answering) => answerRequest({ ...answering, request: routed, hub, settings, access: serverAccessOf(authorized) }),
  }),
  join: (member) => hub.join(member),
  leave: (member) => hub.leave(member),
  receive: (notification, authorized) => {
    // No grant names a notification: of an agent's messages, only the requests its grants allow reach the server.
    if (authorized.access !== EVERYTHING) return
    const upstream = hub.session()
    if (Exit.isSuccess(upstream)) Effect.runFork(upstream.value.notify(notification).pipe(Effect.ignore))
  },
  mayReceive: (notification, authorized) => mayReceive(notification, serverAccessOf(authorized)),
})
