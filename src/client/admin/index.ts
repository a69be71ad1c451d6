/**
 * The admin client: topics, configs, consumer groups, offsets, cluster,
 * ACLs, SCRAM users, quotas, log dirs, leader elections, reassignments,
 * producers and transactions. See README.md in this folder.
 */
export { Admin } from './admin.js'
export type { OperationOptions, Outcome, TopicPartition, BrokerFailure, ResourceType, PatternType, AclOperation, AclPermission, ConfigResourceType, ConfigSource, ConfigType, ConfigEntry, ConfigSynonym } from './types.js'
export type { NewTopic, CreatedTopic, CreatedTopicData, TopicRef, DeletedTopic, TopicListing, TopicDescription, TopicDescriptionData, PartitionDescription, NewPartitions, CreatedPartitions } from './topics.js'
export type { ConfigResource, DescribeConfigsResource, ResourceConfigs, AlterConfigOp, AlterConfigsResource, AlteredConfigs } from './configs.js'
export type {
  GroupListing,
  GroupListings,
  GroupDescription,
  ClassicGroupDescription,
  ClassicGroupMember,
  ConsumerGroupDescription,
  ConsumerGroupMember,
  TopicPartitions,
  DeletedGroup,
  CommittedOffset,
  CommittedOffsetData,
  ListGroupOffsetsOptions,
  OffsetToCommit,
  AlteredOffset,
  DeletedOffset,
  ResetTarget,
  ResetOptions,
  ResetOffset,
} from './groups.js'
export type { OffsetSpec, IsolationLevel, OffsetRequest, ListedOffset, ListedOffsetData, DeleteRecordsRequest, DeletedRecords } from './offsets.js'
export type { ClusterDescription, LogDirs, LogDirDescription, LogDirPartition, ElectionType, ElectionResult, Reassignment, ReassignmentResult, OngoingReassignment } from './cluster-ops.js'
export type { AclBinding, Acl, AclFilter, CreatedAcl, DeletedAcls } from './acls.js'
export type { ScramMechanism, ScramUpsertion, ScramDeletion, UserScramCredentials, AlteredUser } from './scram.js'
export type { QuotaEntity, QuotaFilter, QuotaFilterComponent, QuotaEntry, QuotaAlteration, AlteredQuota } from './quotas.js'
export type { ProducerState, PartitionProducers, TransactionDescription, TransactionDescriptionData, TransactionListing, TransactionListings, ListTransactionsOptions } from './transactions.js'
