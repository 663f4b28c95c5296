import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { tmpfsProblemOf } from "../src/index.ts"

const arbValid: fc.Arbitrary<string> = fc.constantFrom(
  "rw",
  "noexec",
  "nosuid",
  "nodev",
  "noatime",
  "nodiratime",
  "relatime",
  "sync",
  "dirsync",
  "size=64m",
  "size=1048576",
  "size=2G",
  "size=25%",
  "mode=0700",
  "mode=1777",
  "uid=1000",
  "gid=65534",
  "nr_inodes=1k",
  "nr_blocks=100",
)
const nameOf = (option: string): string => option.split("=")[0] ?? option

/** Valid options, each named at most once. */
const arbValidOptions = fc.uniqueArray(arbValid, { selector: nameOf, maxLength: 6 })

describe("tmpfs mounts", () => {
  it("accepts any set of known options with valid values, each given once", () => {
    fc.assert(
      fc.property(arbValidOptions, (options) => {
        expect(tmpfsProblemOf("/cache", options.join(","))).toBeNull()
      }),
    )
  })

  it("refuses exec, suid and dev wherever they appear among valid options, naming the rule", () => {
    fc.assert(
      fc.property(arbValidOptions, fc.constantFrom("exec", "suid", "dev"), fc.nat(), (options, widening, at) => {
        const list = [...options]
        list.splice(at % (list.length + 1), 0, widening)
        expect(tmpfsProblemOf("/cache", list.join(","))).toContain(`'${widening}' is not allowed (no exec, no suid, no dev)`)
      }),
    )
  })

  it("names the option and the rule its value breaks", () => {
    expect(tmpfsProblemOf("/cache", "rw,size=abc")).toBe(
      '"/cache" "size=abc": size must be a whole number of bytes, with an optional k, m or g, or a percentage of memory such as 10%',
    )
    expect(tmpfsProblemOf("/cache", "mode=999")).toBe('"/cache" "mode=999": mode must be octal permissions such as 0700 or 1777')
    expect(tmpfsProblemOf("/cache", "foo")).toMatch(/^"\/cache" "foo" is not a tmpfs option this DTMA takes \(rw, ro, noexec, .*size=/)
    expect(tmpfsProblemOf("/cache", "size=1m,size=2m")).toBe(`"/cache" gives 'size' twice`)
    expect(tmpfsProblemOf("/cache", "size=1m,")).toBe(`"/cache" has an empty option (a stray ',')`)
    expect(tmpfsProblemOf("/proc/sys", "")).toBe('"/proc/sys" is under /proc, a kernel filesystem the container needs')
  })

  it("answers any text with null or a reason, never throwing", () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (path, options) => void tmpfsProblemOf(path, options)))
  })
})
