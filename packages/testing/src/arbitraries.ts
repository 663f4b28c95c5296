import fc from "fast-check"
import * as Redacted from "effect/Redacted"
import type { DeployRequest, LifecycleEvent, LifecycleState } from "@dtma/domain"

export const lifecycleStates: ReadonlyArray<LifecycleState> = [
  "deploying", "starting", "running", "stopping", "stopped", "exited", "failed", "removing", "removed",
]

export const arbLifecycleState = fc.constantFrom(...lifecycleStates)

export const arbLifecycleEvent: fc.Arbitrary<LifecycleEvent> = fc
  .constantFrom(
    "StartRequested", "StopRequested", "RemoveRequested", "ContainerStarted",
    "StartFailed", "ContainerStopped", "ContainerDied", "ContainerRemoved",
  )
  .map((_tag) => ({ _tag }) as LifecycleEvent)

/** Names callers really send: Docker-valid ones and ones with spaces and other characters. */
export const arbInstanceName = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}$/),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{1,12}$/), fc.constantFrom(" ", "  ", "é", ":", "+"), fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/)).map((parts) => parts.join("")),
)

export const arbDeployRequest = (image: string): fc.Arbitrary<DeployRequest> =>
  fc.record({
    name: arbInstanceName,
    accountToolInstanceId: fc.uuid(),
    image: fc.constant(image),
    env: fc.uniqueArray(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), { maxLength: 3 }).map((names) =>
      names.map((name) => ({ name, value: Redacted.make(`secret-${name}`) })),
    ),
    ports: fc.constant([]),
  })
