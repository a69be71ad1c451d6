export { Consumer } from './consumer.js'
export type {
  ConsumerOptions,
  ConsumerMessage,
  CommitStrategy,
  RebalanceListeners,
  DeadLetterOptions,
  EachMessagePayload,
  EachBatchPayload,
  Batch,
  RunOptions,
  PartitionLag,
  ConsumerMetricsSnapshot,
} from './consumer.js'
export type { TopicPartition, OffsetResetPolicy } from './fetcher.js'
export type { OffsetToCommit, CommittedOffset } from './offsets.js'
export type { Assignor, AssignorName, MemberSubscription, RebalanceProtocol } from './group/assignors.js'
export { rangeAssignor, roundRobinAssignor, cooperativeStickyAssignor } from './group/assignors.js'
export { NoOffsetError, LogTruncationError, CommitFailedError, GroupMembershipError } from './errors.js'
