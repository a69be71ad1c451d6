/**
 * kafkawire/protocol: the wire codec on its own, for raw requests and tools.
 *
 *   import { apis, encodeRequest, decodeResponse } from 'kafkawire/protocol'
 *   const frame = encodeRequest(18, 3, 1, 'my-client', { clientSoftwareName: 'x', clientSoftwareVersion: '1' })
 *   // ... write frame to a socket, read the response frame ...
 *   const { correlationId, body } = decodeResponse(18, 3, responseFrame, { sizePrefix: true })
 */
export {
  apis,
  apiSchema,
  encodeRequest,
  encodeResponse,
  encodeRequestBody,
  encodeResponseBody,
  decodeRequest,
  decodeResponse,
  decodeRequestBody,
  decodeResponseBody,
  readResponseHeader,
  requestHeaderVersion,
  responseHeaderVersion,
  isFlexible,
  type ApiInfo,
  type EncodeOptions,
  type DecodeOptions,
  type DecodedRequest,
  type DecodedResponse,
  type RequestHeaderValue,
} from './api.js'
export {
  KafkawireError,
  ProtocolError,
  BrokerError,
  UnsupportedVersionError,
  errorCodes,
  errorInfo,
  errorCodeOf,
  throwIfError,
  type ErrorContext,
  type ErrorCodeInfo,
  type ProtocolErrorCode,
} from './errors.js'
export { Reader } from './reader.js'
export { Writer } from './writer.js'
export type { ApiSchema, MessageSchema, Field, Struct, Input, Infer, UnknownTaggedField } from './schema.js'
export * from './messages/index.js'
