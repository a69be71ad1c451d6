/**
 * The admin client. Connects lazily (the first call bootstraps), keeps one
 * connection per broker, and closes them in close().
 *
 * Every method takes `{ timeoutMs?, signal? }`: the deadline covers retries,
 * which re-route after leader and coordinator moves. Per-resource errors are
 * on the result items (`error`); failures of the whole request throw.
 */
import { inspect } from 'node:util'
import type { ClientConfig } from '../index.js'
import { createAcls, deleteAcls, describeAcls, type Acl, type AclBinding, type AclFilter, type CreatedAcl, type DeletedAcls } from './acls.js'
import {
  alterPartitionReassignments,
  describeCluster,
  describeLogDirs,
  electLeaders,
  listPartitionReassignments,
  type ClusterDescription,
  type ElectionResult,
  type ElectionType,
  type LogDirs,
  type OngoingReassignment,
  type Reassignment,
  type ReassignmentResult,
} from './cluster-ops.js'
import {
  describeConfigs,
  incrementalAlterConfigs,
  type AlterConfigsResource,
  type AlteredConfigs,
  type DescribeConfigsResource,
  type ResourceConfigs,
} from './configs.js'
import { AdminContext, type Op } from './context.js'
import {
  alterConsumerGroupOffsets,
  deleteConsumerGroupOffsets,
  deleteGroups,
  describeGroups,
  listConsumerGroupOffsets,
  listGroups,
  resetConsumerGroupOffsets,
  type AlteredOffset,
  type CommittedOffset,
  type DeletedGroup,
  type DeletedOffset,
  type GroupDescription,
  type GroupListings,
  type ListGroupOffsetsOptions,
  type OffsetToCommit,
  type ResetOffset,
  type ResetOptions,
} from './groups.js'
import { deleteRecords, listOffsets, type DeletedRecords, type DeleteRecordsRequest, type IsolationLevel, type ListedOffset, type OffsetRequest } from './offsets.js'
import { alterClientQuotas, describeClientQuotas, type AlteredQuota, type QuotaAlteration, type QuotaEntry, type QuotaFilter } from './quotas.js'
import { alterUserScramCredentials, describeUserScramCredentials, type AlteredUser, type ScramDeletion, type ScramUpsertion, type UserScramCredentials } from './scram.js'
import {
  createPartitions,
  createTopics,
  deleteTopics,
  describeTopics,
  listTopics,
  type CreatedPartitions,
  type CreatedTopic,
  type DeletedTopic,
  type NewPartitions,
  type NewTopic,
  type TopicDescription,
  type TopicListing,
  type TopicRef,
} from './topics.js'
import {
  describeProducers,
  describeTransactions,
  listTransactions,
  type ListTransactionsOptions,
  type PartitionProducers,
  type TransactionDescription,
  type TransactionListings,
} from './transactions.js'
import type { OperationOptions, TopicPartition } from './types.js'

export class Admin {
  readonly #ctx: AdminContext

  constructor(config: ClientConfig) {
    this.#ctx = new AdminContext(config)
  }

  #run<T>(name: string, o: OperationOptions, fn: (ctx: AdminContext, op: Op) => Promise<T>): Promise<T> {
    return this.#ctx.run(name, o, (op) => fn(this.#ctx, op))
  }

  // ---- topics ------------------------------------------------------------------------

  /**
   * Creates topics. Partitions and replication factor default to the
   * broker's (CreateTopics v4+); each result has the topic id, partition
   * count, replication factor and configs the broker reports.
   */
  createTopics(topics: NewTopic[], o: OperationOptions & { validateOnly?: boolean } = {}): Promise<CreatedTopic[]> {
    return this.#run('createTopics', o, (ctx, op) => createTopics(ctx, op, topics, o.validateOnly ?? false))
  }

  /** Deletes topics by name, or by id (`{ topicId }`, DeleteTopics v6+). */
  deleteTopics(topics: TopicRef[], o: OperationOptions = {}): Promise<DeletedTopic[]> {
    return this.#run('deleteTopics', o, (ctx, op) => deleteTopics(ctx, op, topics))
  }

  /** Every topic's name, id, partition count; internal topics only with includeInternal. */
  listTopics(o: OperationOptions & { includeInternal?: boolean } = {}): Promise<TopicListing[]> {
    return this.#run('listTopics', o, (ctx, op) => listTopics(ctx, op, o.includeInternal ?? false))
  }

  /**
   * Topic ids and partitions (leader, epoch, replicas, ISR, offline and
   * eligible leader replicas), via DescribeTopicPartitions when the broker
   * has it (paging through it `partitionsPerResponse` partitions at a time,
   * default 2000) and Metadata otherwise. A missing topic is an item with
   * UNKNOWN_TOPIC_OR_PARTITION.
   */
  describeTopics(names: string[], o: OperationOptions & { includeAuthorizedOperations?: boolean; partitionsPerResponse?: number } = {}): Promise<TopicDescription[]> {
    return this.#run('describeTopics', o, (ctx, op) => describeTopics(ctx, op, names, o.includeAuthorizedOperations ?? false, o.partitionsPerResponse))
  }

  /** Grows topics to `count` partitions, optionally placing the new ones. */
  createPartitions(requests: NewPartitions[], o: OperationOptions & { validateOnly?: boolean } = {}): Promise<CreatedPartitions[]> {
    return this.#run('createPartitions', o, (ctx, op) => createPartitions(ctx, op, requests, o.validateOnly ?? false))
  }

  // ---- configs -----------------------------------------------------------------------

  /** Configs of topics, brokers (sent to that broker), broker loggers, client-metrics resources and groups. */
  describeConfigs(resources: DescribeConfigsResource[], o: OperationOptions & { includeSynonyms?: boolean; includeDocumentation?: boolean } = {}): Promise<ResourceConfigs[]> {
    return this.#run('describeConfigs', o, (ctx, op) => describeConfigs(ctx, op, resources, o))
  }

  /** Sets, deletes, appends to or subtracts from config values (KIP-339); results per resource. */
  incrementalAlterConfigs(resources: AlterConfigsResource[], o: OperationOptions & { validateOnly?: boolean } = {}): Promise<AlteredConfigs[]> {
    return this.#run('incrementalAlterConfigs', o, (ctx, op) => incrementalAlterConfigs(ctx, op, resources, o.validateOnly ?? false))
  }

  // ---- consumer groups ---------------------------------------------------------------

  /** Groups of every broker, optionally filtered by state (ListGroups v4+) and type (v5+). */
  listGroups(o: OperationOptions & { states?: string[]; types?: string[] } = {}): Promise<GroupListings> {
    return this.#run('listGroups', o, (ctx, op) => listGroups(ctx, op, o))
  }

  /**
   * Describes groups of both protocols: ConsumerGroupDescribe first when the
   * coordinator has it, DescribeGroups for groups it does not know as
   * consumer groups (`type` says which answered). Classic consumer members'
   * subscriptions and assignments are decoded.
   */
  describeGroups(groupIds: string[], o: OperationOptions & { includeAuthorizedOperations?: boolean } = {}): Promise<GroupDescription[]> {
    return this.#run('describeGroups', o, (ctx, op) => describeGroups(ctx, op, groupIds, o.includeAuthorizedOperations ?? false))
  }

  /** Deletes empty groups with their offsets; results per group. */
  deleteGroups(groupIds: string[], o: OperationOptions = {}): Promise<DeletedGroup[]> {
    return this.#run('deleteGroups', o, (ctx, op) => deleteGroups(ctx, op, groupIds))
  }

  /** A group's committed offsets, all or for some topics or partitions. Group-level errors throw. */
  listConsumerGroupOffsets(groupId: string, o: OperationOptions & ListGroupOffsetsOptions = {}): Promise<CommittedOffset[]> {
    return this.#run('listConsumerGroupOffsets', o, (ctx, op) => listConsumerGroupOffsets(ctx, op, groupId, o))
  }

  /** Commits offsets for an inactive group (generation -1, no member id); results per partition. */
  alterConsumerGroupOffsets(groupId: string, offsets: OffsetToCommit[], o: OperationOptions = {}): Promise<AlteredOffset[]> {
    return this.#run('alterConsumerGroupOffsets', o, (ctx, op) => alterConsumerGroupOffsets(ctx, op, groupId, offsets))
  }

  /** Deletes a group's committed offsets for partitions it no longer consumes (KIP-496). */
  deleteConsumerGroupOffsets(groupId: string, partitions: TopicPartition[], o: OperationOptions = {}): Promise<DeletedOffset[]> {
    return this.#run('deleteConsumerGroupOffsets', o, (ctx, op) => deleteConsumerGroupOffsets(ctx, op, groupId, partitions))
  }

  /** Resets a group's offsets to earliest, latest, a timestamp or an offset (dryRun: only compute them). */
  resetConsumerGroupOffsets(groupId: string, options: ResetOptions, o: OperationOptions = {}): Promise<ResetOffset[]> {
    return this.#run('resetConsumerGroupOffsets', o, (ctx, op) => resetConsumerGroupOffsets(ctx, op, groupId, options))
  }

  // ---- offsets -----------------------------------------------------------------------

  /** Earliest, latest, max-timestamp or by-timestamp offsets, one request per partition leader. */
  listOffsets(requests: OffsetRequest[], o: OperationOptions & { isolationLevel?: IsolationLevel } = {}): Promise<ListedOffset[]> {
    return this.#run('listOffsets', o, (ctx, op) => listOffsets(ctx, op, requests, o.isolationLevel ?? 'read_uncommitted'))
  }

  /** Deletes records before the given offsets (-1n: all); each result has the new low watermark. */
  deleteRecords(requests: DeleteRecordsRequest[], o: OperationOptions = {}): Promise<DeletedRecords[]> {
    return this.#run('deleteRecords', o, (ctx, op) => deleteRecords(ctx, op, requests))
  }

  // ---- cluster -----------------------------------------------------------------------

  /** Cluster id, controller and brokers (DescribeCluster when available, else Metadata). */
  describeCluster(o: OperationOptions & { includeAuthorizedOperations?: boolean } = {}): Promise<ClusterDescription> {
    return this.#run('describeCluster', o, (ctx, op) => describeCluster(ctx, op, o.includeAuthorizedOperations ?? false))
  }

  /** Each broker's log directories and the replicas on them (only of `topics` when given). */
  describeLogDirs(topics?: string[], o: OperationOptions = {}): Promise<LogDirs> {
    return this.#run('describeLogDirs', o, (ctx, op) => describeLogDirs(ctx, op, topics ?? null))
  }

  /** Runs preferred or unclean leader elections for partitions (default: all that need one). */
  electLeaders(type: ElectionType, partitions?: TopicPartition[], o: OperationOptions = {}): Promise<ElectionResult[]> {
    return this.#run('electLeaders', o, (ctx, op) => electLeaders(ctx, op, type, partitions ?? null))
  }

  /** Starts (replicas) or cancels (replicas: null) partition reassignments. */
  alterPartitionReassignments(reassignments: Reassignment[], o: OperationOptions & { allowReplicationFactorChange?: boolean } = {}): Promise<ReassignmentResult[]> {
    return this.#run('alterPartitionReassignments', o, (ctx, op) => alterPartitionReassignments(ctx, op, reassignments, o.allowReplicationFactorChange ?? true))
  }

  /** Reassignments in progress, for some partitions or all. */
  listPartitionReassignments(partitions?: TopicPartition[], o: OperationOptions = {}): Promise<OngoingReassignment[]> {
    return this.#run('listPartitionReassignments', o, (ctx, op) => listPartitionReassignments(ctx, op, partitions ?? null))
  }

  // ---- ACLs --------------------------------------------------------------------------

  /** ACLs matching a filter; the broker's error (SECURITY_DISABLED without an authorizer) throws. */
  describeAcls(filter: AclFilter, o: OperationOptions = {}): Promise<Acl[]> {
    return this.#run('describeAcls', o, (ctx, op) => describeAcls(ctx, op, filter))
  }

  /** Creates ACLs; results per ACL. */
  createAcls(acls: AclBinding[], o: OperationOptions = {}): Promise<CreatedAcl[]> {
    return this.#run('createAcls', o, (ctx, op) => createAcls(ctx, op, acls))
  }

  /** Deletes the ACLs matching each filter; results per filter, with the ACLs deleted. */
  deleteAcls(filters: AclFilter[], o: OperationOptions = {}): Promise<DeletedAcls[]> {
    return this.#run('deleteAcls', o, (ctx, op) => deleteAcls(ctx, op, filters))
  }

  // ---- SCRAM -------------------------------------------------------------------------

  /** SCRAM mechanisms and iterations per user (default: every user with credentials). */
  describeUserScramCredentials(users?: string[], o: OperationOptions = {}): Promise<UserScramCredentials[]> {
    return this.#run('describeUserScramCredentials', o, (ctx, op) => describeUserScramCredentials(ctx, op, users ?? null))
  }

  /** Adds or replaces (salted client-side) and deletes SCRAM credentials; results per user. */
  alterUserScramCredentials(changes: { upsertions?: ScramUpsertion[]; deletions?: ScramDeletion[] }, o: OperationOptions = {}): Promise<AlteredUser[]> {
    return this.#run('alterUserScramCredentials', o, (ctx, op) => alterUserScramCredentials(ctx, op, changes.upsertions ?? [], changes.deletions ?? []))
  }

  // ---- quotas ------------------------------------------------------------------------

  /** Quotas of the entities matching a filter. */
  describeClientQuotas(filter: QuotaFilter, o: OperationOptions = {}): Promise<QuotaEntry[]> {
    return this.#run('describeClientQuotas', o, (ctx, op) => describeClientQuotas(ctx, op, filter))
  }

  /** Sets (number) or removes (null) quotas; results per entity. */
  alterClientQuotas(entries: QuotaAlteration[], o: OperationOptions & { validateOnly?: boolean } = {}): Promise<AlteredQuota[]> {
    return this.#run('alterClientQuotas', o, (ctx, op) => alterClientQuotas(ctx, op, entries, o.validateOnly ?? false))
  }

  // ---- producers and transactions ----------------------------------------------------

  /** Active idempotent and transactional producers of partitions, asked of their leaders. */
  describeProducers(partitions: TopicPartition[], o: OperationOptions = {}): Promise<PartitionProducers[]> {
    return this.#run('describeProducers', o, (ctx, op) => describeProducers(ctx, op, partitions))
  }

  /** State of transactional ids, asked of each id's transaction coordinator. */
  describeTransactions(transactionalIds: string[], o: OperationOptions = {}): Promise<TransactionDescription[]> {
    return this.#run('describeTransactions', o, (ctx, op) => describeTransactions(ctx, op, transactionalIds))
  }

  /** Transactions known to every broker, optionally filtered. */
  listTransactions(o: OperationOptions & ListTransactionsOptions = {}): Promise<TransactionListings> {
    return this.#run('listTransactions', o, (ctx, op) => listTransactions(ctx, op, o))
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Closes every connection, letting requests in flight finish. Calls after close() fail with ClosedError. */
  close(): Promise<void> {
    return this.#ctx.close()
  }

  [inspect.custom](): string {
    return `Admin { ${inspect(this.#ctx.cluster)} }`
  }
}
