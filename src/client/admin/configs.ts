/**
 * Resource configs: DescribeConfigs and IncrementalAlterConfigs (KIP-339).
 *
 * Broker and broker-logger resources named by a node id go to that broker:
 * only it knows its own static and per-broker dynamic configs. Everything else
 * (topics, groups, client-metrics, cluster-wide broker defaults with an empty
 * name) goes to any broker.
 */
import { BrokerError, type KafkawireError } from '../../protocol/errors.js'
import { describeConfigs as describeConfigsApi } from '../../protocol/messages/describe-configs.js'
import { incrementalAlterConfigs as incrementalAlterConfigsApi } from '../../protocol/messages/incremental-alter-configs.js'
import { groupBy, stepOf, type AdminContext, type Op, type Step } from './context.js'
import { CONFIG_RESOURCE_TYPES, configSource, configType, nameOf, type ConfigEntry, type ConfigResourceType, type Outcome } from './types.js'

export interface ConfigResource {
  type: ConfigResourceType
  /** Topic name, broker id ("1"; "" for the cluster-wide default), group id, ... */
  name: string
}

function resourceKey(r: ConfigResource): string {
  return `${r.type}:${r.name}`
}

/** Where a resource's request goes: the broker it names, or any broker. */
function routeOf(r: ConfigResource): string {
  return (r.type === 'broker' || r.type === 'broker-logger') && /^\d+$/.test(r.name) ? r.name : 'any'
}

function errorContext(apiName: string, r: ConfigResource): Record<string, unknown> {
  return { apiName, resourceType: r.type, resourceName: r.name, ...(r.type === 'topic' ? { topic: r.name } : r.type === 'group' ? { groupId: r.name } : {}) }
}

/**
 * Sends each route's resources in one request and maps the per-resource
 * answers. Item errors from the broker are final (as in the reference admin
 * client); a named broker that cannot be reached fails its resources,
 * retriably.
 */
async function routed<R extends ConfigResource, V>(
  ctx: AdminContext,
  op: Op,
  resources: R[],
  send: (node: number | 'any', items: R[]) => Promise<Map<string, Step<V>>>,
): Promise<Map<string, { ok: V } | { fail: KafkawireError }>> {
  const byKey = new Map(resources.map((r) => [resourceKey(r), r]))
  return ctx.settle<V>([...byKey.keys()], op, async (pending) => {
    const out = new Map<string, Step<V>>()
    const routes = groupBy(
      pending.map((k) => byKey.get(k)!),
      routeOf,
    )
    await Promise.all(
      [...routes].map(async ([route, items]) => {
        try {
          for (const [k, s] of await send(route === 'any' ? 'any' : Number(route), items)) out.set(k, s)
        } catch (err) {
          // Any broker failing means none answered: that fails the whole round.
          if (route === 'any') throw err
          const s = stepOf(err)
          for (const r of items) out.set(resourceKey(r), s)
        }
      }),
    )
    return out
  })
}

// ---- describeConfigs -----------------------------------------------------------------

export interface DescribeConfigsResource extends ConfigResource {
  /** Only these keys; default all. */
  keys?: string[]
}
export type ResourceConfigs = Outcome<ConfigResource, { configs: ConfigEntry[] }>

export async function describeConfigs(
  ctx: AdminContext,
  op: Op,
  resources: DescribeConfigsResource[],
  o: { includeSynonyms?: boolean; includeDocumentation?: boolean },
): Promise<ResourceConfigs[]> {
  const settled = await routed<DescribeConfigsResource, ConfigEntry[]>(ctx, op, resources, async (node, items) => {
    const { res, version } = await ctx.send(
      node,
      describeConfigsApi,
      () => ({
        // Deviation tolerated: Tansu 0.6 cannot decode a non-null ConfigurationKeys (no nullable string array
        // at all) and closes the connection. Like the Java admin client, ask for every key; the ones asked
        // for are kept below. (Test: spec/client/impl-deviations.test.ts.)
        resources: items.map((r) => ({ resourceType: CONFIG_RESOURCE_TYPES[r.type], resourceName: r.name, configurationKeys: null })),
        includeSynonyms: o.includeSynonyms ?? false,
        includeDocumentation: o.includeDocumentation ?? false,
      }),
      op,
    )
    const steps = new Map<string, Step<ConfigEntry[]>>()
    for (const r of res.results) {
      const type = nameOf(CONFIG_RESOURCE_TYPES, r.resourceType)
      const key = `${type}:${r.resourceName}`
      if (r.errorCode !== 0) {
        steps.set(key, { fail: new BrokerError(r.errorCode, errorContext('DescribeConfigs', { type: type as ConfigResourceType, name: r.resourceName }), r.errorMessage), retry: false })
        continue
      }
      const wanted = items.find((i) => resourceKey(i) === key)?.keys
      steps.set(key, {
        ok: r.configs.filter((c) => wanted === undefined || wanted.includes(c.name)).map((c) => {
          // v0 has only isDefault; v1+ the source (KIP-226).
          const source = version === 0 ? (c.isDefault ? 'default' : 'unknown') : configSource(c.configSource)
          return {
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isSensitive: c.isSensitive,
            isDefault: version === 0 ? c.isDefault : source === 'default',
            source,
            synonyms: c.synonyms.map((s) => ({ name: s.name, value: s.value, source: configSource(s.source) })),
            type: version >= 3 ? configType(c.configType) : null,
            documentation: version >= 3 ? c.documentation : null,
          }
        }),
      })
    }
    return steps
  })
  return resources.map((r) => {
    const s = settled.get(resourceKey(r))!
    return 'ok' in s ? { type: r.type, name: r.name, error: null, configs: s.ok } : { type: r.type, name: r.name, error: s.fail }
  })
}

// ---- incrementalAlterConfigs ---------------------------------------------------------

export type AlterConfigOp =
  | { name: string; op: 'set'; value: string }
  | { name: string; op: 'delete' }
  /** For list configs: add to or remove from the list. */
  | { name: string; op: 'append' | 'subtract'; value: string }

const OPS = { set: 0, delete: 1, append: 2, subtract: 3 } as const

export interface AlterConfigsResource extends ConfigResource {
  ops: AlterConfigOp[]
}
export type AlteredConfigs = Outcome<ConfigResource, object>

export async function incrementalAlterConfigs(ctx: AdminContext, op: Op, resources: AlterConfigsResource[], validateOnly: boolean): Promise<AlteredConfigs[]> {
  const settled = await routed<AlterConfigsResource, object>(ctx, op, resources, async (node, items) => {
    const { res } = await ctx.send(
      node,
      incrementalAlterConfigsApi,
      () => ({
        resources: items.map((r) => ({
          resourceType: CONFIG_RESOURCE_TYPES[r.type],
          resourceName: r.name,
          configs: r.ops.map((c) => ({ name: c.name, configOperation: OPS[c.op], value: c.op === 'delete' ? null : c.value })),
        })),
        validateOnly,
      }),
      op,
    )
    const steps = new Map<string, Step<object>>()
    for (const r of res.responses) {
      const type = nameOf(CONFIG_RESOURCE_TYPES, r.resourceType) as ConfigResourceType
      steps.set(
        `${type}:${r.resourceName}`,
        r.errorCode === 0 ? { ok: {} } : { fail: new BrokerError(r.errorCode, errorContext('IncrementalAlterConfigs', { type, name: r.resourceName }), r.errorMessage), retry: false },
      )
    }
    return steps
  })
  return resources.map((r) => {
    const s = settled.get(resourceKey(r))!
    return 'ok' in s ? { type: r.type, name: r.name, error: null } : { type: r.type, name: r.name, error: s.fail }
  })
}
