/**
 * API version negotiation (KIP-35, KIP-511): what each broker supports, and
 * the finalized feature levels it reports (KIP-584), e.g. transaction.version
 * for KIP-890 or group.version for KIP-848.
 */
import { BrokerError } from '../protocol/errors.js'
import { apiVersions } from '../protocol/messages/api-versions.js'
import type { Connection } from './connection.js'

export interface VersionRange {
  readonly minVersion: number
  readonly maxVersion: number
}

export class BrokerVersions {
  readonly #apis: Map<number, VersionRange>
  readonly #finalized: Map<string, number>
  /** The ApiVersions version the broker answered. */
  readonly negotiatedWith: number

  constructor(apis: Map<number, VersionRange>, finalized: Map<string, number>, negotiatedWith: number) {
    this.#apis = apis
    this.#finalized = finalized
    this.negotiatedWith = negotiatedWith
  }

  get(apiKey: number): VersionRange | undefined {
    return this.#apis.get(apiKey)
  }

  has(apiKey: number, minVersion = 0): boolean {
    const r = this.#apis.get(apiKey)
    return r !== undefined && r.maxVersion >= minVersion
  }

  /** The finalized level of a feature, or 0 when the broker does not report it. */
  featureLevel(name: string): number {
    return this.#finalized.get(name) ?? 0
  }

  get apiKeys(): number[] {
    return [...this.#apis.keys()].sort((a, b) => a - b)
  }
}

export interface NegotiateOptions {
  clientSoftwareName: string
  clientSoftwareVersion: string
  timeoutMs: number
}

/** KIP-511 requires these to match [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? or the broker rejects the request. */
function sanitize(s: string): string {
  const t = s.replace(/[^a-zA-Z0-9.-]/g, '-').replace(/^[^a-zA-Z0-9]+|[^a-zA-Z0-9]+$/g, '')
  return t === '' ? 'unknown' : t
}

/**
 * Sends ApiVersions at our highest version. A broker that does not know that
 * version answers with a v0 body carrying UNSUPPORTED_VERSION and its own
 * ApiVersions range (KIP-511); we retry once at the version it names.
 */
export async function negotiateVersions(conn: Connection, o: NegotiateOptions): Promise<BrokerVersions> {
  let version = apiVersions.maxVersion
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await conn.sendInternal(
      apiVersions,
      version,
      { clientSoftwareName: sanitize(o.clientSoftwareName), clientSoftwareVersion: sanitize(o.clientSoftwareVersion) },
      o.timeoutMs,
    )
    if (res.errorCode === 35 /* UNSUPPORTED_VERSION */) {
      const own = res.apiKeys.find((k) => k.apiKey === apiVersions.apiKey)
      const next = own ? Math.min(own.maxVersion, apiVersions.maxVersion) : 0
      if (next >= version) break
      version = next
      continue
    }
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { broker: conn.address, apiName: 'ApiVersions', apiVersion: version })
    const apis = new Map<number, VersionRange>()
    for (const k of res.apiKeys) apis.set(k.apiKey, { minVersion: k.minVersion, maxVersion: k.maxVersion })
    correctAdvertisedVersions(apis)
    const finalized = new Map<string, number>()
    for (const f of res.finalizedFeatures) finalized.set(f.name, f.maxVersionLevel)
    return new BrokerVersions(apis, finalized, version)
  }
  throw new BrokerError(35, { broker: conn.address, apiName: 'ApiVersions', apiVersion: version })
}

/**
 * Corrects what brokers advertise but do not serve. Apache Kafka 4.x still
 * lists Produce from v0 (KAFKA-18659: old librdkafka refused to compress
 * otherwise), although KIP-896 removed Produce v0-v2 and the broker closes
 * the connection when they are used. The same release removed Fetch v0-v3
 * without such an exception, so a Fetch minimum of 4 identifies those brokers.
 */
export function correctAdvertisedVersions(apis: Map<number, VersionRange>): void {
  const produce = apis.get(0)
  const fetch = apis.get(1)
  if (produce !== undefined && fetch !== undefined && fetch.minVersion >= 4 && produce.minVersion < 3) {
    apis.set(0, { minVersion: 3, maxVersion: produce.maxVersion })
  }
}
