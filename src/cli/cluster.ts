/**
 * kafkawire cluster
 */
import type { Command } from './command.js'
import { table } from './format.js'
import { withAdmin } from './topics.js'

const cluster: Command = {
  path: ['cluster'],
  summary: 'show the cluster id, the controller and the brokers',
  usage: '',
  options: {},
  args: { min: 0, max: 0, name: '' },
  async run(c) {
    const d = await withAdmin(c, (a) => a.describeCluster())
    c.print(
      () =>
        `Cluster: ${d.clusterId ?? '-'}  Controller: ${d.controller?.nodeId ?? '-'}\n` +
        table(['NODE', 'HOST', 'PORT', 'RACK'], d.brokers.map((b) => [b.nodeId, b.host, b.port, b.rack])),
      () => ({ clusterId: d.clusterId, controller: d.controller?.nodeId ?? null, brokers: d.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })) }),
    )
  },
}

export const clusterCommands: Command[] = [cluster]
