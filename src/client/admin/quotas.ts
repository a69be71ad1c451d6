/**
 * Client quotas (KIP-546): per user, client id and IP, and their defaults.
 * An entity is a map from entity type ("user", "client-id", "ip") to a name,
 * or to null for that type's default entity.
 */
import { BrokerError } from '../../protocol/errors.js'
import { alterClientQuotas as alterClientQuotasApi } from '../../protocol/messages/alter-client-quotas.js'
import { describeClientQuotas as describeClientQuotasApi } from '../../protocol/messages/describe-client-quotas.js'
import type { AdminContext, Op } from './context.js'
import type { Outcome } from './types.js'

export type QuotaEntity = Record<string, string | null>

export interface QuotaFilterComponent {
  entityType: string
  /**
   * A name matches that entity exactly; null matches the default entity;
   * omitted matches any entity of the type that has a name.
   */
  name?: string | null
}

export interface QuotaFilter {
  components: QuotaFilterComponent[]
  /** Only entities with no other entity types than the components name. */
  strict?: boolean
}

export interface QuotaEntry {
  entity: QuotaEntity
  /** Quota key ("producer_byte_rate", "request_percentage", ...) to value. */
  values: Record<string, number>
}

function entityOf(parts: Array<{ entityType: string; entityName: string | null }>): QuotaEntity {
  const e: QuotaEntity = {}
  for (const p of parts) e[p.entityType] = p.entityName
  return e
}

/** Entities compare by their sorted parts. */
function entityKey(e: QuotaEntity): string {
  return JSON.stringify(Object.keys(e).sort().map((k) => [k, e[k]]))
}

/** The quotas of the entities matching a filter. A request-level error is thrown. */
export async function describeClientQuotas(ctx: AdminContext, op: Op, filter: QuotaFilter): Promise<QuotaEntry[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send(
      'any',
      describeClientQuotasApi,
      () => ({
        components: filter.components.map((c) => ({
          entityType: c.entityType,
          // EXACT 0, DEFAULT 1, SPECIFIED 2
          matchType: c.name === undefined ? 2 : c.name === null ? 1 : 0,
          match: c.name ?? null,
        })),
        strict: filter.strict ?? false,
      }),
      op,
    )
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'DescribeClientQuotas' }, res.errorMessage)
    return (res.entries ?? []).map((e) => ({ entity: entityOf(e.entity), values: Object.fromEntries(e.values.map((v) => [v.key, v.value])) }))
  })
}

export interface QuotaAlteration {
  entity: QuotaEntity
  /** A number sets the quota; null removes it. */
  ops: Array<{ key: string; value: number | null }>
}
export type AlteredQuota = Outcome<{ entity: QuotaEntity }, object>

/** Sets or removes quotas; results per entity. */
export async function alterClientQuotas(ctx: AdminContext, op: Op, entries: QuotaAlteration[], validateOnly: boolean): Promise<AlteredQuota[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send(
      'any',
      alterClientQuotasApi,
      () => ({
        entries: entries.map((e) => ({
          entity: Object.entries(e.entity).map(([entityType, entityName]) => ({ entityType, entityName })),
          ops: e.ops.map((o) => ({ key: o.key, value: o.value ?? 0, remove: o.value === null })),
        })),
        validateOnly,
      }),
      op,
    )
    const byEntity = new Map(res.entries.map((r) => [entityKey(entityOf(r.entity)), r]))
    return entries.map((e) => {
      const r = byEntity.get(entityKey(e.entity))
      if (r === undefined) return { entity: e.entity, error: new BrokerError(-1, { apiName: 'AlterClientQuotas' }, 'missing from the response') }
      return r.errorCode === 0 ? { entity: e.entity, error: null } : { entity: e.entity, error: new BrokerError(r.errorCode, { apiName: 'AlterClientQuotas', entity: e.entity }, r.errorMessage) }
    })
  })
}
