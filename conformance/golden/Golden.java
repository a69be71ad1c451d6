// The reference side of kafkawire's golden-vector run (conformance/golden/run.ts).
//
// It serializes and parses Kafka messages with the classes the Apache Kafka
// Java client itself uses: the generated org.apache.kafka.common.message.*Data
// classes, their *DataJsonConverter companions, ApiMessageType for versions and
// header rules. Nothing here re-implements the protocol; this program only
// translates between those classes and a line-oriented JSON conversation.
//
// run.ts compiles this file (and Batches.java) with javac against the
// kafka-clients jar of one Kafka release and keeps one JVM per release.
//
// Conversation: one JSON object per line on stdin, {"id": n, "ops": [op...]},
// answered by one line on stdout, {"id": n, "results": [result...]}, results
// in op order. A failing op yields {"error": "..."} in its slot; the other ops
// of the line still run. Batching many ops per line keeps the run fast.
//
// Ops ("target" is {"api": key, "dir": "request"|"response"} or {"message": name}):
//   {"op":"versions"}
//   {"op":"encode", "target":..., "version":v, "data":{...}, ["jsonVersion":j]} -> {"hex":...}
//   {"op":"decode", "target":..., "version":v, "hex":...}          -> {"data":{...}, "fields":{...}, "trailing":n}
//   {"op":"encodeRequest", "api":k, "version":v, "correlationId":c, "clientId":s|null, "data":{...}}
//   {"op":"encodeResponse", "api":k, "version":v, "correlationId":c, "data":{...}}  -> {"hex":..., "headerVersion":h}
//   {"op":"decodeRequest", "hex":...} / {"op":"decodeResponse", "api":k, "version":v, "hex":...}
//       -> {"headerVersion":h, "header":{...}, "data":{...}, "fields":{...}, "trailing":n}
//   record batch ops: see Batches.java
//
// "data" is what the generated JsonConverter reads and writes (lowerCamelCase
// field names, int64 as JSON integers, bytes as base64, uuids in Kafka's
// base64url form). "fields" is a reflective dump of every field of the decoded
// object, including fields the version does not carry: it shows the value the
// reference assigns to absent fields, which the converter output omits.
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

public final class Golden {
    // kafkawire sends float64 infinities as the bare tokens Infinity/-Infinity
    // (JSON has no spelling for them); the reference converter needs a
    // floating-point node, which this feature produces for those tokens.
    static final ObjectMapper JSON = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
    static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    static final HexFormat HEX = HexFormat.of();
    static final String PKG = "org.apache.kafka.common.message.";

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            JsonNode request = JSON.readTree(line);
            ObjectNode reply = NODES.objectNode();
            reply.set("id", request.get("id"));
            ArrayNode results = reply.putArray("results");
            for (JsonNode op : request.get("ops")) {
                try {
                    results.add(handle(op));
                } catch (Throwable t) {
                    results.add(NODES.objectNode().put("error", describe(t)));
                }
            }
            out.write(JSON.writeValueAsString(reply));
            out.write('\n');
            out.flush();
        }
    }

    static String describe(Throwable t) {
        while (t instanceof InvocationTargetException && t.getCause() != null) t = t.getCause();
        return t.getClass().getName() + ": " + t.getMessage();
    }

    static JsonNode handle(JsonNode op) throws Exception {
        String name = op.get("op").asText();
        switch (name) {
            case "versions":
                return versions();
            case "encode": {
                short v = version(op);
                // "jsonVersion" (default: version) is the version the data is read at; a
                // newer one lets the writer see fields the written version lacks.
                short jv = op.has("jsonVersion") ? (short) op.get("jsonVersion").asInt() : v;
                Class<?> cls = target(op.get("target"));
                return NODES.objectNode().put("hex", HEX.formatHex(serialize(fromJson(cls, op.get("data"), jv), v)));
            }
            case "decode": {
                short v = version(op);
                Class<?> cls = target(op.get("target"));
                ByteBuffer buf = ByteBuffer.wrap(HEX.parseHex(op.get("hex").asText()));
                Message m = (Message) cls.getConstructor().newInstance();
                m.read(new ByteBufferAccessor(buf), v);
                ObjectNode r = NODES.objectNode();
                r.set("data", toJson(m, v));
                r.set("fields", dump(m));
                r.put("trailing", buf.remaining());
                return r;
            }
            case "encodeRequest":
            case "encodeResponse": {
                boolean request = name.equals("encodeRequest");
                short v = version(op);
                ApiMessageType type = ApiMessageType.fromApiKey((short) op.get("api").asInt());
                short hv = request ? type.requestHeaderVersion(v) : type.responseHeaderVersion(v);
                Message header = request
                    ? new RequestHeaderData()
                        .setRequestApiKey(type.apiKey())
                        .setRequestApiVersion(v)
                        .setCorrelationId(op.get("correlationId").asInt())
                        .setClientId(op.get("clientId").isNull() ? null : op.get("clientId").asText())
                    : new ResponseHeaderData().setCorrelationId(op.get("correlationId").asInt());
                Class<?> body = (request ? type.newRequest() : type.newResponse()).getClass();
                byte[] h = serialize(header, hv);
                byte[] b = serialize(fromJson(body, op.get("data"), v), v);
                ByteBuffer frame = ByteBuffer.allocate(h.length + b.length).put(h).put(b);
                return NODES.objectNode().put("hex", HEX.formatHex(frame.array())).put("headerVersion", hv);
            }
            case "decodeRequest": {
                ByteBuffer buf = ByteBuffer.wrap(HEX.parseHex(op.get("hex").asText()));
                // Every request header version starts with the api key and version.
                ApiMessageType type = ApiMessageType.fromApiKey(buf.getShort(0));
                short v = buf.getShort(2);
                short hv = type.requestHeaderVersion(v);
                ByteBufferAccessor acc = new ByteBufferAccessor(buf);
                RequestHeaderData header = new RequestHeaderData(acc, hv);
                Message body = type.newRequest();
                body.read(acc, v);
                return frameResult(hv, header, body, v, buf);
            }
            case "decodeResponse": {
                short v = version(op);
                ApiMessageType type = ApiMessageType.fromApiKey((short) op.get("api").asInt());
                ByteBuffer buf = ByteBuffer.wrap(HEX.parseHex(op.get("hex").asText()));
                short hv = type.responseHeaderVersion(v);
                ByteBufferAccessor acc = new ByteBufferAccessor(buf);
                ResponseHeaderData header = new ResponseHeaderData(acc, hv);
                Message body = type.newResponse();
                body.read(acc, v);
                return frameResult(hv, header, body, v, buf);
            }
            default:
                return Batches.handle(name, op);
        }
    }

    static short version(JsonNode op) {
        return (short) op.get("version").asInt();
    }

    static JsonNode frameResult(short hv, Message header, Message body, short v, ByteBuffer rest) throws Exception {
        ObjectNode r = NODES.objectNode();
        r.put("headerVersion", hv);
        r.set("header", toJson(header, hv));
        r.set("data", toJson(body, v));
        r.set("fields", dump(body));
        r.put("trailing", rest.remaining());
        return r;
    }

    /** Each API's version range (unstable versions included) and the same for the standalone messages. */
    static JsonNode versions() throws Exception {
        ObjectNode r = NODES.objectNode();
        ArrayNode apis = r.putArray("apis");
        for (ApiMessageType t : ApiMessageType.values()) {
            apis.addObject()
                .put("apiKey", t.apiKey())
                .put("name", t.name)
                .put("min", t.lowestSupportedVersion())
                .put("max", t.highestSupportedVersion(true));
        }
        ArrayNode messages = r.putArray("messages");
        for (String m : new String[] {"RequestHeader", "ResponseHeader", "ConsumerProtocolSubscription", "ConsumerProtocolAssignment"}) {
            Class<?> cls = messageClass(m);
            messages.addObject()
                .put("name", m)
                .put("min", cls.getField("LOWEST_SUPPORTED_VERSION").getShort(null))
                .put("max", cls.getField("HIGHEST_SUPPORTED_VERSION").getShort(null));
        }
        return r;
    }

    static Class<?> target(JsonNode t) throws Exception {
        if (t.has("message")) return messageClass(t.get("message").asText());
        ApiMessageType type = ApiMessageType.fromApiKey((short) t.get("api").asInt());
        return (t.get("dir").asText().equals("request") ? type.newRequest() : type.newResponse()).getClass();
    }

    /** Headers are generated as FooData, embedded structures (ConsumerProtocolSubscription) without the suffix. */
    static Class<?> messageClass(String name) throws ClassNotFoundException {
        try {
            return Class.forName(PKG + name + "Data");
        } catch (ClassNotFoundException e) {
            return Class.forName(PKG + name);
        }
    }

    // ---- the generated JSON converters: FooData <-> FooDataJsonConverter.read/write ----

    static final Map<Class<?>, Method[]> CONVERTERS = new HashMap<>();

    static Method[] converter(Class<?> cls) throws Exception {
        Method[] rw = CONVERTERS.get(cls);
        if (rw == null) {
            Class<?> conv = Class.forName(cls.getName() + "JsonConverter");
            rw = new Method[] {conv.getMethod("read", JsonNode.class, short.class), conv.getMethod("write", cls, short.class)};
            CONVERTERS.put(cls, rw);
        }
        return rw;
    }

    static Message fromJson(Class<?> cls, JsonNode data, short v) throws Exception {
        return (Message) converter(cls)[0].invoke(null, data, v);
    }

    static JsonNode toJson(Message m, short v) throws Exception {
        JsonNode json = (JsonNode) converter(m.getClass())[1].invoke(null, m, v);
        putRecordsBack(m, json);
        return json;
    }

    /**
     * The generated converters never write record bytes (KIP-673: a records
     * field comes out as ""). Walk the object and its JSON side by side and put
     * the exact bytes back, base64 like every other bytes field.
     */
    static void putRecordsBack(Object obj, JsonNode json) throws Exception {
        if (!(json instanceof ObjectNode)) return;
        for (Field f : dataFields(obj.getClass())) {
            JsonNode sub = json.get(f.getName());
            if (sub == null) continue; // not in this version
            Object val = f.get(obj);
            if (Batches.isRecords(val)) {
                ((ObjectNode) json).put(f.getName(), Base64.getEncoder().encodeToString(Batches.recordsBytes(val)));
            } else if (val instanceof Message) {
                putRecordsBack(val, sub);
            } else if (val instanceof Iterable && sub.isArray()) {
                int i = 0;
                for (Object e : (Iterable<?>) val) {
                    if (e instanceof Message) putRecordsBack(e, sub.get(i));
                    i++;
                }
            }
        }
    }

    // ---- reflective dump of every field ----

    static final Map<Class<?>, Field[]> FIELDS = new HashMap<>();

    /**
     * The schema fields of a generated class: its non-static, non-private
     * fields, in declaration order (= schema order). Generated classes keep
     * their bookkeeping (_unknownTaggedFields, next, prev) in private fields.
     */
    static Field[] dataFields(Class<?> cls) {
        Field[] fs = FIELDS.get(cls);
        if (fs == null) {
            fs = java.util.Arrays.stream(cls.getDeclaredFields())
                .filter(f -> !Modifier.isStatic(f.getModifiers()) && !Modifier.isPrivate(f.getModifiers()))
                .peek(f -> f.setAccessible(true))
                .toArray(Field[]::new);
            FIELDS.put(cls, fs);
        }
        return fs;
    }

    static JsonNode dump(Object v) throws Exception {
        if (v == null) return NODES.nullNode();
        if (v instanceof Message) {
            ObjectNode o = NODES.objectNode();
            for (Field f : dataFields(v.getClass())) o.set(f.getName(), dump(f.get(v)));
            return o;
        }
        if (v instanceof Iterable) {
            ArrayNode a = NODES.arrayNode();
            for (Object e : (Iterable<?>) v) a.add(dump(e));
            return a;
        }
        if (v instanceof Boolean) return NODES.booleanNode((Boolean) v);
        if (v instanceof Byte) return NODES.numberNode((Byte) v);
        if (v instanceof Short) return NODES.numberNode((Short) v);
        if (v instanceof Integer) return NODES.numberNode((Integer) v);
        if (v instanceof Long) return NODES.numberNode((Long) v);
        if (v instanceof Double) return NODES.numberNode((Double) v);
        if (v instanceof String) return NODES.textNode((String) v);
        if (v instanceof Uuid) return NODES.textNode(v.toString());
        if (v instanceof byte[]) return NODES.textNode(Base64.getEncoder().encodeToString((byte[]) v));
        if (v instanceof ByteBuffer) { // zero-copy bytes fields
            ByteBuffer b = ((ByteBuffer) v).duplicate();
            byte[] a = new byte[b.remaining()];
            b.get(a);
            return NODES.textNode(Base64.getEncoder().encodeToString(a));
        }
        if (Batches.isRecords(v)) return NODES.textNode(Base64.getEncoder().encodeToString(Batches.recordsBytes(v)));
        throw new IllegalStateException("no dump for " + v.getClass());
    }

    /** Body bytes at one version; same as MessageUtil's helpers, which were renamed between 3.9 and 4.x. */
    static byte[] serialize(Message m, short v) {
        ObjectSerializationCache cache = new ObjectSerializationCache();
        ByteBuffer buf = ByteBuffer.allocate(m.size(cache, v));
        m.write(new ByteBufferAccessor(buf), cache, v);
        if (buf.hasRemaining()) throw new IllegalStateException("size() and write() disagree");
        return buf.array();
    }
}
