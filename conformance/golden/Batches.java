// Record batches for kafkawire's golden-vector run (magic v2, and legacy v0/v1
// message sets for the decoder), built and read with the reference's own
// MemoryRecordsBuilder / MemoryRecords classes.
//
// Kafka 4.3 moved these classes to org.apache.kafka.common.record.internal
// (TimestampType stayed where it was). This file is written against 4.3; for
// a kafka-clients jar without that package, run.ts compiles a copy whose
// "record.internal." imports read "record." instead. Nothing else differs:
// the constructors and factory methods used below exist unchanged in both.
//
// Ops (called from Golden.handle):
//   {"op":"buildBatch", "magic":2|1|0, "compression":"none|gzip|snappy|lz4|zstd", "baseOffset":n,
//    "timestampType":"CreateTime|LogAppendTime|NoTimestampType", "logAppendTime":n, "producerId":n, "producerEpoch":n,
//    "baseSequence":n, "transactional":b, "partitionLeaderEpoch":n, "deleteHorizonMs":n,
//    "records":[{"offset":n, "timestamp":n, "key":b64|null, "value":b64|null,
//                "headers":[{"key":s, "value":b64|null}]}]}                     -> {"hex":...}
//   {"op":"endTxnMarker", "baseOffset":n, "timestamp":n, "partitionLeaderEpoch":n, "producerId":n,
//    "producerEpoch":n, "commit":b, "coordinatorEpoch":n}                        -> {"hex":...}
//   {"op":"readBatches", "hex":...}  -> {"batches":[{header fields, "valid":b, "records":[...]}], "trailing":n}
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.CompressionType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.DefaultRecordBatch;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.utils.ByteBufferOutputStream;

import java.nio.ByteBuffer;
import java.util.Base64;

final class Batches {
    private Batches() {}

    static boolean isRecords(Object v) {
        return v instanceof BaseRecords;
    }

    static byte[] recordsBytes(Object v) {
        // Decoded messages and JsonConverter.read always hold MemoryRecords.
        ByteBuffer b = ((MemoryRecords) v).buffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    static JsonNode handle(String op, JsonNode req) throws Exception {
        switch (op) {
            case "buildBatch":
                return hex(build(req));
            case "endTxnMarker":
                return hex(endTxnMarker(req));
            case "readBatches":
                return read(Golden.HEX.parseHex(req.get("hex").asText()));
            default:
                throw new IllegalArgumentException("unknown op " + op);
        }
    }

    static ObjectNode hex(MemoryRecords records) {
        return Golden.NODES.objectNode().put("hex", Golden.HEX.formatHex(recordsBytes(records)));
    }

    static MemoryRecords build(JsonNode req) {
        Compression compression = Compression.of(req.get("compression").asText()).build();
        TimestampType tsType = TimestampType.forName(req.get("timestampType").asText());
        MemoryRecordsBuilder b = new MemoryRecordsBuilder(
            new ByteBufferOutputStream(256), // grows as needed
            (byte) req.get("magic").asInt(), // 2, or 0/1 for a legacy message set
            compression,
            tsType,
            req.get("baseOffset").asLong(),
            req.get("logAppendTime").asLong(),
            req.get("producerId").asLong(),
            (short) req.get("producerEpoch").asInt(),
            req.get("baseSequence").asInt(),
            req.get("transactional").asBoolean(),
            false, // control batches come from endTxnMarker, through the reference's own factory
            req.get("partitionLeaderEpoch").asInt(),
            Integer.MAX_VALUE,
            // KIP-534: the log cleaner's delete horizon, stored as the base timestamp
            // with attribute bit 6 set; -1 (NO_TIMESTAMP) for an ordinary batch.
            req.get("deleteHorizonMs").asLong());
        for (JsonNode r : req.get("records")) {
            JsonNode hs = r.get("headers");
            Header[] headers = new Header[hs.size()];
            for (int i = 0; i < headers.length; i++) {
                headers[i] = new RecordHeader(hs.get(i).get("key").asText(), bytes(hs.get(i).get("value")));
            }
            b.appendWithOffset(r.get("offset").asLong(), r.get("timestamp").asLong(), bytes(r.get("key")), bytes(r.get("value")), headers);
        }
        return b.build();
    }

    static MemoryRecords endTxnMarker(JsonNode req) {
        ControlRecordType type = req.get("commit").asBoolean() ? ControlRecordType.COMMIT : ControlRecordType.ABORT;
        return MemoryRecords.withEndTransactionMarker(
            req.get("baseOffset").asLong(),
            req.get("timestamp").asLong(),
            req.get("partitionLeaderEpoch").asInt(),
            req.get("producerId").asLong(),
            (short) req.get("producerEpoch").asInt(),
            new EndTransactionMarker(type, req.get("coordinatorEpoch").asInt()));
    }

    static JsonNode read(byte[] bytes) {
        ObjectNode out = Golden.NODES.objectNode();
        ArrayNode batches = out.putArray("batches");
        int consumed = 0;
        for (MutableRecordBatch batch : MemoryRecords.readableRecords(ByteBuffer.wrap(bytes)).batches()) {
            consumed += batch.sizeInBytes();
            ObjectNode o = batches.addObject();
            o.put("baseOffset", batch.baseOffset());
            o.put("lastOffset", batch.lastOffset());
            o.put("partitionLeaderEpoch", batch.partitionLeaderEpoch());
            o.put("magic", batch.magic());
            o.put("crc", batch.checksum());
            // isValid() recomputes the CRC32C over the batch and compares.
            o.put("valid", batch.isValid());
            o.put("compression", batch.compressionType().name);
            o.put("timestampType", batch.timestampType().name);
            o.put("transactional", batch.isTransactional());
            o.put("control", batch.isControlBatch());
            if (batch instanceof DefaultRecordBatch) o.put("baseTimestamp", ((DefaultRecordBatch) batch).baseTimestamp());
            o.put("maxTimestamp", batch.maxTimestamp());
            if (batch.deleteHorizonMs().isPresent()) o.put("deleteHorizonMs", batch.deleteHorizonMs().getAsLong());
            else o.putNull("deleteHorizonMs");
            o.put("producerId", batch.producerId());
            o.put("producerEpoch", batch.producerEpoch());
            o.put("baseSequence", batch.baseSequence());
            o.put("count", batch.countOrNull());
            o.put("sizeInBytes", batch.sizeInBytes());
            ArrayNode records = o.putArray("records");
            for (Record r : batch) {
                ObjectNode x = records.addObject();
                x.put("offset", r.offset());
                x.put("timestamp", r.timestamp());
                x.put("key", b64(r.key()));
                x.put("value", b64(r.value()));
                ArrayNode hs = x.putArray("headers");
                for (Header h : r.headers()) {
                    hs.addObject().put("key", h.key()).put("value", h.value() == null ? null : Base64.getEncoder().encodeToString(h.value()));
                }
                if (batch.isControlBatch()) {
                    ControlRecordType type = ControlRecordType.parse(r.key());
                    x.put("controlType", type.name());
                    if (type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT) {
                        x.put("coordinatorEpoch", EndTransactionMarker.deserialize(r).coordinatorEpoch());
                    }
                }
            }
        }
        out.put("trailing", bytes.length - consumed);
        return out;
    }

    static byte[] bytes(JsonNode n) {
        return n == null || n.isNull() ? null : Base64.getDecoder().decode(n.asText());
    }

    static String b64(ByteBuffer b) {
        if (b == null) return null;
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return Base64.getEncoder().encodeToString(a);
    }
}
