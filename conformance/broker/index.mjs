// Programmatic entry point of the broker tooling, for the conformance harness and tests.
// Types: index.d.mts. Command line: cli.mjs (npm run broker -- <cmd>).
export { BrokerError, VERSIONS, cacheDir, fetchKafka, libsDir, resolveVersion, runKafkaTool } from './kafka.mjs'
export {
  DEFAULT_NAME, DEFAULT_PORT_BASE, HOST, SASL_MECHANISMS, USERS, clusterStatus, javaClientProperties, killNode,
  listClusters, restartNode, startCluster, stateRoot, stopCluster,
} from './cluster.mjs'
export {
  IMPLS, buildTansu, ensureKfake, kfakeBinary, kfakeVersion, resolveImpl, tansuBinary, tansuBuildCommand, tansuMissing,
} from './impls.mjs'

/**
 * Name and port base a test should use for its own 3-node cluster: the orchestrator (conformance/run.mjs)
 * hands out values that collide with nothing else it runs; standalone runs get fixed defaults.
 */
export function threeNodeOptions() {
  return {
    name: process.env.KAFKAWIRE_CLUSTER_3NODE || 'kafkawire-3node',
    portBase: Number(process.env.KAFKAWIRE_BROKER_PORT_BASE_3NODE || 19050),
    // a 3-node cluster is always Apache Kafka: kfake and Tansu cannot kill or restart one node
    kafka: process.env.KAFKA_VERSION || '4.3.1',
    nodes: 3,
  }
}
