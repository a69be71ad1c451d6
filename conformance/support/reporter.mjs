// A node:test reporter for conformance/run.mjs: counts instead of printing. Writes one JSON object:
//   { passed, failed, unsupported: [{ file, test, impl, feature, why }], skipped: [{ file, test, reason }],
//     todo, failures: [{ file, test, error }] }
// A test skipped with a reason "unsupported by <impl>: <feature> — <why>" (conformance/support/target.ts)
// is unsupported; any other skip is listed as skipped. Suites count only when they fail on their own
// (a hook), not for their failing tests, which count themselves.
import { relative } from 'node:path'

const UNSUPPORTED = /^unsupported by ([^:]+): (.*?)(?: — (.*))?$/s

export default async function* conformanceReporter(source) {
  const out = { passed: 0, failed: 0, unsupported: [], skipped: [], todo: 0, failures: [] }
  const where = (d) => (d.file ? relative(process.cwd(), d.file) : '?')
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const d = event.data
    const suite = d.details?.type === 'suite'
    if (event.type === 'test:pass') {
      if (d.skip !== undefined && d.skip !== false) {
        const reason = typeof d.skip === 'string' ? d.skip : ''
        const m = UNSUPPORTED.exec(reason)
        if (m) out.unsupported.push({ file: where(d), test: d.name, suite, impl: m[1], feature: m[2], why: m[3] ?? '' })
        else out.skipped.push({ file: where(d), test: d.name, reason: reason || '(no reason given)' })
      } else if (d.todo !== undefined && d.todo !== false) {
        out.todo++
      } else if (!suite && d.name !== d.file) {
        out.passed++
      }
    } else {
      const error = d.details?.error
      if (error?.failureType === 'subtestsFailed') continue
      out.failed++
      const cause = error?.cause instanceof Error ? error.cause.message : error?.message
      out.failures.push({ file: where(d), test: d.name, error: String(cause ?? 'failed').split('\n')[0].slice(0, 300) })
    }
  }
  yield `${JSON.stringify(out)}\n`
}
