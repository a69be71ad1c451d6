// A hand-rolled Metadata request, so readiness checks need no JVM (a Kafka tool costs ~1 s of startup).
// Deliberately independent of src/: the tooling must work even while the client does not.
import { connect } from 'node:net'

/** Sends one request (header v1) and resolves with the response body after the correlation id. */
function request(host, port, apiKey, apiVersion, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('kafkawire-probe')
    const head = Buffer.alloc(4 + 2 + 2 + 4 + 2)
    head.writeInt32BE(head.length - 4 + clientId.length + body.length, 0)
    head.writeInt16BE(apiKey, 4)
    head.writeInt16BE(apiVersion, 6)
    head.writeInt32BE(1, 8)
    head.writeInt16BE(clientId.length, 12)
    const socket = connect({ host, port })
    let data = Buffer.alloc(0)
    const fail = (e) => { socket.destroy(); reject(e) }
    socket.setTimeout(timeoutMs, () => fail(new Error(`no response from ${host}:${port} within ${timeoutMs} ms`)))
    socket.on('error', fail)
    socket.on('connect', () => socket.write(Buffer.concat([head, clientId, body])))
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk])
      if (data.length >= 4 && data.length >= 4 + data.readInt32BE(0)) {
        socket.end()
        resolve(data.subarray(8, 4 + data.readInt32BE(0)))
      }
    })
    socket.on('close', () => reject(new Error(`${host}:${port} closed the connection`)))
  })
}

/** Node ids of the brokers a node reports in Metadata v1. KRaft leaves fenced brokers out of that list. */
export async function brokerIds(host, port, timeoutMs = 3000) {
  const noTopics = Buffer.alloc(4) // v1: empty array = no topics (null would mean all)
  const b = await request(host, port, 3, 1, noTopics, timeoutMs)
  let at = 0
  const ids = []
  const count = b.readInt32BE(at)
  at += 4
  for (let i = 0; i < count; i++) {
    ids.push(b.readInt32BE(at))
    at += 4
    at += 2 + b.readInt16BE(at) // host
    at += 4 // port
    const rack = b.readInt16BE(at)
    at += 2 + Math.max(rack, 0)
  }
  return ids.sort((x, y) => x - y)
}

/** Whether the port answers ApiVersions v0 without an error: the one request a SASL listener serves unauthenticated. */
export async function answersApiVersions(host, port, timeoutMs = 3000) {
  const b = await request(host, port, 18, 0, Buffer.alloc(0), timeoutMs)
  return b.readInt16BE(0) === 0
}
