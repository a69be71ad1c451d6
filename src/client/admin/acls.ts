/**
 * ACLs (KIP-140; prefixed patterns KIP-290). Readable enumerations on the
 * API, wire numbers on the wire. A broker without an authorizer answers
 * SECURITY_DISABLED.
 */
import { BrokerError } from '../../protocol/errors.js'
import { createAcls as createAclsApi } from '../../protocol/messages/create-acls.js'
import { deleteAcls as deleteAclsApi } from '../../protocol/messages/delete-acls.js'
import { describeAcls as describeAclsApi } from '../../protocol/messages/describe-acls.js'
import { UnsupportedApiError } from '../errors.js'
import type { AdminContext, Op } from './context.js'
import {
  ACL_OPERATIONS,
  ACL_PERMISSIONS,
  PATTERN_TYPES,
  RESOURCE_TYPES,
  nameOf,
  type AclOperation,
  type AclPermission,
  type Outcome,
  type PatternType,
  type ResourceType,
} from './types.js'

export interface AclBinding {
  resourceType: ResourceType
  /** "kafka-cluster" for the cluster resource; "*" matches every name. */
  resourceName: string
  /** Default 'literal'. */
  patternType?: PatternType
  /** "User:alice"; "User:*" for everyone. */
  principal: string
  /** "*" for every host. */
  host: string
  operation: AclOperation
  permission: AclPermission
}

/** An ACL as the broker reports it; a code this client does not know reads 'unknown'. */
export interface Acl {
  resourceType: ResourceType | 'unknown'
  resourceName: string
  patternType: PatternType | 'unknown'
  principal: string
  host: string
  operation: AclOperation | 'unknown'
  permission: AclPermission | 'unknown'
}

/** Which ACLs to match; an omitted (or 'any'/null) field matches everything. */
export interface AclFilter {
  resourceType?: ResourceType | 'any'
  resourceName?: string | null
  /** 'match' finds the literal, wildcard and prefixed ACLs that apply to resourceName. Default 'any'. */
  patternType?: PatternType | 'any' | 'match'
  principal?: string | null
  host?: string | null
  operation?: AclOperation | 'any'
  permission?: AclPermission | 'any'
}

function acl(a: { resourceType: number; resourceName: string; patternType: number; principal: string; host: string; operation: number; permissionType: number }): Acl {
  return {
    resourceType: nameOf(RESOURCE_TYPES, a.resourceType) as ResourceType | 'unknown',
    resourceName: a.resourceName,
    patternType: nameOf(PATTERN_TYPES, a.patternType) as PatternType | 'unknown',
    principal: a.principal,
    host: a.host,
    operation: nameOf(ACL_OPERATIONS, a.operation) as AclOperation | 'unknown',
    permission: nameOf(ACL_PERMISSIONS, a.permissionType) as AclPermission | 'unknown',
  }
}

/** v0 has no pattern type and means literal: anything else cannot be expressed. */
function checkPattern(patternType: string, version: number, apiName: string): void {
  if (version === 0 && patternType !== 'literal' && patternType !== 'any') {
    throw new UnsupportedApiError(`${patternType} ACL patterns need ${apiName} v1+ (KIP-290)`, { apiName })
  }
}

function filterFields(f: AclFilter, version: number, apiName: string) {
  const patternType = f.patternType ?? 'any'
  checkPattern(patternType, version, apiName)
  return {
    resourceTypeFilter: RESOURCE_TYPES[f.resourceType ?? 'any'],
    resourceNameFilter: f.resourceName ?? null,
    patternTypeFilter: PATTERN_TYPES[patternType],
    principalFilter: f.principal ?? null,
    hostFilter: f.host ?? null,
    operation: ACL_OPERATIONS[f.operation ?? 'any'],
    permissionType: ACL_PERMISSIONS[f.permission ?? 'any'],
  }
}

/**
 * The ACLs matching one filter. The single filter is the resource here, so
 * the broker's error for it (e.g. SECURITY_DISABLED without an authorizer)
 * is thrown as a BrokerError.
 */
export async function describeAcls(ctx: AdminContext, op: Op, filter: AclFilter): Promise<Acl[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send('any', describeAclsApi, (v) => filterFields(filter, v, 'DescribeAcls'), op)
    if (res.errorCode !== 0) throw new BrokerError(res.errorCode, { apiName: 'DescribeAcls' }, res.errorMessage)
    return res.resources.flatMap((r) =>
      r.acls.map((a) => acl({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, ...a })),
    )
  })
}

export type CreatedAcl = Outcome<{ acl: AclBinding }, object>

/** Creates ACLs; each gets its own result (in request order). */
export async function createAcls(ctx: AdminContext, op: Op, acls: AclBinding[]): Promise<CreatedAcl[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send(
      'any',
      createAclsApi,
      (v) => ({
        creations: acls.map((a) => {
          checkPattern(a.patternType ?? 'literal', v, 'CreateAcls')
          return {
            resourceType: RESOURCE_TYPES[a.resourceType],
            resourceName: a.resourceName,
            resourcePatternType: PATTERN_TYPES[a.patternType ?? 'literal'],
            principal: a.principal,
            host: a.host,
            operation: ACL_OPERATIONS[a.operation],
            permissionType: ACL_PERMISSIONS[a.permission],
          }
        }),
      }),
      op,
    )
    // Results come in the order of the creations.
    return acls.map((a, i) => {
      const r = res.results[i]
      if (r === undefined) return { acl: a, error: new BrokerError(-1, { apiName: 'CreateAcls' }, 'missing from the response') }
      return r.errorCode === 0 ? { acl: a, error: null } : { acl: a, error: new BrokerError(r.errorCode, { apiName: 'CreateAcls', principal: a.principal, resourceName: a.resourceName }, r.errorMessage) }
    })
  })
}

export type DeletedAcls = Outcome<{ filter: AclFilter }, { deleted: Array<Outcome<{ acl: Acl }, object>> }>

/** Deletes the ACLs matching each filter; each filter reports what it deleted (or its error). */
export async function deleteAcls(ctx: AdminContext, op: Op, filters: AclFilter[]): Promise<DeletedAcls[]> {
  return ctx.retry(op, async () => {
    const { res } = await ctx.send('any', deleteAclsApi, (v) => ({ filters: filters.map((f) => filterFields(f, v, 'DeleteAcls')) }), op)
    return filters.map((filter, i) => {
      const r = res.filterResults[i]
      if (r === undefined) return { filter, error: new BrokerError(-1, { apiName: 'DeleteAcls' }, 'missing from the response') }
      if (r.errorCode !== 0) return { filter, error: new BrokerError(r.errorCode, { apiName: 'DeleteAcls' }, r.errorMessage) }
      return {
        filter,
        error: null,
        deleted: r.matchingAcls.map((m) => {
          const a = acl(m)
          return m.errorCode === 0 ? { acl: a, error: null } : { acl: a, error: new BrokerError(m.errorCode, { apiName: 'DeleteAcls', principal: a.principal, resourceName: a.resourceName }, m.errorMessage) }
        }),
      }
    })
  })
}
