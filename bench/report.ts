import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { agentEndpointTables, agentEndpointTargets, type AgentEndpointResult } from "./agentEndpoint.ts"
import { erasTable, type ErasResult } from "./eras.ts"
import { authorizationTable, callOverheadTable, callOverheadTargets, type CallOverheadResult } from "./callOverhead.ts"
import { coldStartTable, coldStartTargets, type ColdStartResult } from "./coldStart.ts"
import type { Table, TargetCheck } from "./context.ts"
import { densityTable, densityTargets, type DensityRun } from "./density.ts"
import { discoveryTable, discoveryTargets, type DiscoveryRun } from "./discovery.ts"
import type { LoadAverage, Machine } from "./lib/machine.ts"
import { profileTables, type ProfileRun } from "./profile.ts"
import { refreshTable, refreshTargets, type RefreshRun } from "./refresh.ts"

/** Everything one `pnpm bench` run measured: `bench/results/<timestamp>.json`. */
export interface BenchResults {
  readonly command: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly quick: boolean
  readonly machine: Machine
  /** Load averages at start and end: other work on the machine makes the figures noisier. */
  readonly load: { readonly start: LoadAverage; readonly end: LoadAverage | null }
  readonly coldStart: ColdStartResult | null
  readonly callOverhead: CallOverheadResult | null
  /** `/mcp` against a server's own endpoint, and `tools/list` of a large catalog on `/mcp`. */
  readonly agentEndpoint: AgentEndpointResult | null
  readonly eras: ErasResult | null
  readonly discovery: ReadonlyArray<DiscoveryRun> | null
  readonly discoveryPollers: number
  readonly density: ReadonlyArray<DensityRun> | null
  /** Credential refresh delivery latency, per delivery method. */
  readonly refresh: ReadonlyArray<RefreshRun> | null
  readonly profile: ReadonlyArray<ProfileRun> | null
  /** Figures that failed, with why. */
  readonly failures: ReadonlyArray<string>
}

export const targetsOf = (r: BenchResults): ReadonlyArray<TargetCheck> => [
  ...(r.coldStart === null ? [] : coldStartTargets(r.coldStart)),
  ...(r.callOverhead === null ? [] : callOverheadTargets(r.callOverhead)),
  ...(r.agentEndpoint === null ? [] : agentEndpointTargets(r.agentEndpoint)),
  ...(r.discovery === null ? [] : discoveryTargets(r.discovery)),
  ...(r.density === null ? [] : densityTargets(r.density)),
  ...(r.refresh === null ? [] : refreshTargets(r.refresh)),
]

const escape = (cell: string) => cell.replaceAll("|", "\\|")

export const renderTable = (t: Table): string =>
  [
    `#### ${t.title}`,
    "",
    `| ${t.header.map(escape).join(" | ")} |`,
    `|${t.header.map(() => "---").join("|")}|`,
    ...t.rows.map((row) => `| ${row.map(escape).join(" | ")} |`),
    ...(t.notes === undefined ? [] : ["", ...t.notes.map((n) => `- ${n}`)]),
    "",
  ].join("\n")

const loadText = (l: LoadAverage | null) => (l === null ? "unknown" : `${l.one} / ${l.five} / ${l.fifteen}`)

/** The report of one run, as markdown. */
export const renderReport = (r: BenchResults): string => {
  const m = r.machine
  const tables: Array<Table> = [
    ...(r.coldStart === null ? [] : [coldStartTable(r.coldStart)]),
    ...(r.callOverhead === null ? [] : [callOverheadTable(r.callOverhead), authorizationTable(r.callOverhead)]),
    ...(r.agentEndpoint === null ? [] : agentEndpointTables(r.agentEndpoint)),
    ...(r.eras === null ? [] : [erasTable(r.eras)]),
    ...(r.discovery === null ? [] : [discoveryTable(r.discovery, r.discoveryPollers)]),
    ...(r.density === null ? [] : [densityTable(r.density)]),
    ...(r.refresh === null ? [] : [refreshTable(r.refresh)]),
    ...(r.profile === null ? [] : profileTables(r.profile)),
  ]
  return [
    `### \`${r.command}\`, ${r.finishedAt}${r.quick ? " (quick: a smoke run, not figures to quote)" : ""}`,
    "",
    `- Machine: ${m.cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}, Node ${m.node}, Docker ${m.docker}, cgroup ${m.cgroup}.`,
    `- Load average (1 / 5 / 15 min): ${loadText(r.load.start)} at the start, ${loadText(r.load.end)} at the end ` +
      `(${m.cores} cores: above ${m.cores} means other work was competing).`,
    ...(r.failures.length === 0 ? [] : [`- **Failed figures:** ${r.failures.join("; ")}`]),
    "",
    renderTable({
      title: "Targets",
      header: ["target", "measured", "met"],
      rows: targetsOf(r).map((t) => [t.target, t.measured, t.met === null ? "–" : t.met ? "yes" : "**no**"]),
    }),
    ...tables.map(renderTable),
  ].join("\n")
}

export const DOCS_START = "<!-- bench:results:start (written by `pnpm bench`; edit outside these markers) -->"
export const DOCS_END = "<!-- bench:results:end -->"

/** Puts `report` between the markers of `docsFile` (appended with them when they are missing). */
export const updateDocs = (docsFile: string, report: string): void => {
  const text = existsSync(docsFile) ? readFileSync(docsFile, "utf8") : "# Performance\n"
  const block = `${DOCS_START}\n${report.trim()}\n${DOCS_END}`
  const start = text.indexOf(DOCS_START)
  const end = text.indexOf(DOCS_END)
  const next = start >= 0 && end > start ? `${text.slice(0, start)}${block}${text.slice(end + DOCS_END.length)}` : `${text.trimEnd()}\n\n${block}\n`
  writeFileSync(docsFile, next)
}
