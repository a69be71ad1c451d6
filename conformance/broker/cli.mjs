#!/usr/bin/env node
// npm run broker -- <command>: Kafka clusters on 127.0.0.1 for tests (Apache Kafka, kfake, Tansu). See conformance/README.md.
import { VERSIONS, BrokerError, fetchKafka, resolveVersion, runKafkaTool } from './kafka.mjs'
import { buildTansu, ensureKfake, resolveImpl } from './impls.mjs'
import {
  DEFAULT_NAME, clusterStatus, killNode, listClusters, restartNode, startCluster, stopCluster,
} from './cluster.mjs'

const USAGE = `usage: npm run broker -- <command> [options]
  fetch   [--kafka 4|3.9|all] [--impl apache|kfake|tansu]  assemble Kafka jars (default: all), build the kfake
                                                       launcher, or build Tansu with cargo (~11 min)
  start   [--impl apache|kfake|tansu] [--kafka 4|3.9] [--nodes 1|3] [--port-base N] [--name NAME]
          [--feature k=v]... [--config k=v]... [--json]  start a cluster (apache: KRaft; kfake: 3 brokers by
                                                       default), print its environment
  stop    [--name NAME | --all] [--keep-logs]          stop nodes, remove data (and logs unless --keep-logs)
  status  [--name NAME] [--json]
  env     [--name NAME] [--json]                       print the environment of a running cluster
  kill    NODE [--signal KILL|STOP|CONT|TERM] [--name NAME]
  restart NODE [--name NAME]                           start a node again, wait until it serves
  tool    [--kafka 4|3.9] MAIN_CLASS [ARGS...]         run a Kafka Java tool (e.g. kafka.admin.ConfigCommand)`

const REPEATED = new Set(['--feature', '--config'])
const VALUED = new Set(['--impl', '--kafka', '--nodes', '--port-base', '--name', '--signal', ...REPEATED])
const FLAGS = new Set(['--json', '--all', '--keep-logs', '--help', '-h'])

function parse(argv) {
  const opts = { positional: [], feature: [], config: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (VALUED.has(a)) {
      const v = argv[++i]
      if (v === undefined) throw new BrokerError(`${a} needs a value`)
      const key = a.slice(2)
      if (REPEATED.has(a)) opts[key].push(v)
      else opts[key] = v
    } else if (FLAGS.has(a)) {
      opts[a.replace(/^-+/, '')] = true
    } else if (a.startsWith('-')) {
      throw new BrokerError(`unknown option ${a}\n${USAGE}`)
    } else {
      opts.positional.push(a)
    }
  }
  return opts
}

function printEnv(env, json) {
  if (json) {
    console.log(JSON.stringify(env))
    return
  }
  const quote = (v) => (/^[\w@%+=:,./-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`)
  for (const [k, v] of Object.entries(env)) console.log(`${k}=${quote(v)}`)
}

function running(name) {
  const s = clusterStatus(name)
  if (!s) throw new BrokerError(`broker: no cluster named ${name} (start one with npm run broker -- start)`)
  return s
}

async function main(argv) {
  const [cmd, ...rest] = argv
  if (cmd === 'tool') {
    // everything after the main class belongs to the tool
    let kafka = '4'
    if (rest[0] === '--kafka') [, kafka] = rest.splice(0, 2)
    const [mainClass, ...args] = rest
    if (!mainClass) throw new BrokerError(`tool needs a main class\n${USAGE}`)
    const r = await runKafkaTool(kafka, mainClass, args, { input: process.stdin.isTTY ? '' : process.stdin })
    process.stdin.destroy() // an open pipe would keep us alive after the tool is done
    process.stdout.write(r.stdout)
    process.stderr.write(r.stderr)
    return r.code ?? 1
  }
  const o = parse(rest)
  const name = o.name ?? DEFAULT_NAME
  switch (cmd) {
    case 'fetch': {
      const impl = resolveImpl(o.impl)
      if (impl === 'kfake') {
        const r = await ensureKfake({ log: (l) => console.error(l) })
        if (!r.built) console.error(`broker: kfake launcher already built (${r.binary})`)
        return 0
      }
      if (impl === 'tansu') {
        const r = await buildTansu({ log: (l) => console.error(l) })
        if (!r.built) console.error(`broker: Tansu already built (${r.binary})`)
        return 0
      }
      const which = o.kafka ?? 'all'
      const versions = which === 'all' ? Object.keys(VERSIONS) : [resolveVersion(which)]
      for (const v of versions) {
        const r = await fetchKafka(v)
        if (!r.downloaded) console.error(`broker: Kafka ${v} already assembled (${r.jars} jars in ${r.libs})`)
      }
      return 0
    }
    case 'start': {
      const c = await startCluster({
        impl: o.impl, kafka: o.kafka, nodes: o.nodes, portBase: o['port-base'], name, features: o.feature, configs: o.config,
      })
      printEnv(c.env, o.json)
      return 0
    }
    case 'stop': {
      const names = o.all ? listClusters() : [name]
      for (const n of names) {
        const t = Date.now()
        const stopped = await stopCluster(n, { keepLogs: Boolean(o['keep-logs']) })
        console.error(stopped ? `broker: stopped ${n} in ${((Date.now() - t) / 1000).toFixed(1)} s` : `broker: no cluster named ${n}`)
      }
      return 0
    }
    case 'status': {
      const names = o.positional.length ? o.positional : o.name ? [name] : listClusters()
      const all = names.map((n) => clusterStatus(n) ?? { name: n, state: 'absent' })
      if (o.json) {
        console.log(JSON.stringify(o.name ? all[0] : all))
        return 0
      }
      if (!all.length) console.log('no clusters')
      for (const s of all) {
        if (s.state === 'absent') {
          console.log(`${s.name}: absent`)
          continue
        }
        const what = s.impl === 'apache' ? `Kafka ${s.kafka}` : `${s.impl} ${s.implVersion}`
        console.log(`${s.name}: ${s.state}, ${what}, ${s.KAFKA_BROKERS}, logs ${s.logsDir}`)
        for (const n of s.nodes) console.log(`  node ${n.id} ${n.host}:${n.port} pid ${n.pid} ${n.state}`)
      }
      return 0
    }
    case 'env': {
      printEnv(running(name).env, o.json)
      return 0
    }
    case 'kill': {
      const [node] = o.positional
      if (!node) throw new BrokerError(`kill needs a node id\n${USAGE}`)
      await killNode(name, node, o.signal ?? 'KILL')
      console.error(`broker: sent SIG${String(o.signal ?? 'KILL').toUpperCase().replace(/^SIG/, '')} to node ${node} of ${name}`)
      return 0
    }
    case 'restart': {
      const [node] = o.positional
      if (!node) throw new BrokerError(`restart needs a node id\n${USAGE}`)
      await restartNode(name, node)
      return 0
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE)
      return cmd ? 0 : 2
    default:
      throw new BrokerError(`unknown command "${cmd}"\n${USAGE}`)
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (e) => {
    console.error(e instanceof BrokerError ? e.message.replace(/^(?!broker: )/, 'broker: ') : e.stack)
    process.exitCode = 1
  },
)
