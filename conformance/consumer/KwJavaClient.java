// The reference Java client doing what kafkawire's consumer conformance tests need from it, compiled by
// conformance/consumer/support.ts with javac against the kafka-clients jar of the broker's release.
//
//   produce BOOTSTRAP TOPIC CODECS COUNT
//       For the k-th codec of the comma-separated CODECS, COUNT records with a KafkaProducer of
//       compression.type=codec to partition k: record i has timestamp 1700000000000+i, key "k<i>" (null
//       when i % 7 == 0), value value(codec, i) (below), and when i % 3 == 0 the headers h="x<i>" and
//       nul=null. Prints "produced".
//   transactions BOOTSTRAP TOPIC TRANSACTIONAL_ID SPEC
//       One transactional producer; SPEC is a comma-separated list like c3,a2,c1: for each item a
//       transaction of that many records (value "java-<item>-<commit|abort>-<i>", round-robin over the
//       topic's partitions), committed (c) or aborted (a). Prints "done".
//   consume BOOTSTRAP TOPIC GROUP ASSIGNOR_CLASS
//       A group member: polls, "processes" each record for 2 ms and prints one JSON line per record
//       {"e":"record","p":..,"o":..,"v":"..","t0":..,"t1":..} (ms since the epoch around the processing),
//       commits synchronously after each poll (unless a rebalance is under way: then with the next one) and
//       in onPartitionsRevoked, prints
//       {"e":"assigned"|"revoked"|"lost","p":[..]} on rebalances, and closes (committing) when its stdin
//       says "stop" or ends. Prints {"e":"closed"} last.
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;

public final class KwJavaClient {
    private KwJavaClient() {}

    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "produce": {
                String[] codecs = a[3].split(",");
                for (int k = 0; k < codecs.length; k++) produce(a[1], a[2], k, codecs[k], Integer.parseInt(a[4]));
                System.out.println("produced");
                break;
            }
            case "transactions": transactions(a[1], a[2], a[3], a[4]); break;
            case "consume": consume(a[1], a[2], a[3], a[4]); break;
            default: throw new IllegalArgumentException("unknown mode " + a[0]);
        }
    }

    /** The value of record i: a prefix, then (i * 37) % 700 letters, so batches mix small and larger records. */
    static String value(String prefix, int i) {
        StringBuilder sb = new StringBuilder(prefix).append('-').append(i).append('-');
        for (int k = 0; k < (i * 37) % 700; k++) sb.append((char) ('a' + (k + i) % 26));
        return sb.toString();
    }

    static Properties base(String bootstrap) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("client.id", "kafkawire-conformance-java");
        return p;
    }

    static void produce(String bootstrap, String topic, int partition, String codec, int count) {
        Properties p = base(bootstrap);
        p.put("compression.type", codec);
        p.put("linger.ms", "20");
        p.put("batch.size", "65536");
        p.put("acks", "all");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                byte[] key = i % 7 == 0 ? null : ("k" + i).getBytes(StandardCharsets.UTF_8);
                ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, 1_700_000_000_000L + i, key, value(codec, i).getBytes(StandardCharsets.UTF_8));
                if (i % 3 == 0) {
                    r.headers().add("h", ("x" + i).getBytes(StandardCharsets.UTF_8));
                    r.headers().add("nul", null);
                }
                producer.send(r);
            }
            producer.flush();
        }
    }

    static void transactions(String bootstrap, String topic, String transactionalId, String spec) {
        Properties p = base(bootstrap);
        p.put("transactional.id", transactionalId);
        p.put("linger.ms", "5");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            int partitions = producer.partitionsFor(topic).size();
            producer.initTransactions();
            int n = 0;
            String[] items = spec.split(",");
            for (int t = 0; t < items.length; t++) {
                boolean commit = items[t].charAt(0) == 'c';
                int count = Integer.parseInt(items[t].substring(1));
                producer.beginTransaction();
                for (int i = 0; i < count; i++) {
                    producer.send(new ProducerRecord<>(topic, n++ % partitions, null, "java-" + t + "-" + (commit ? "commit" : "abort") + "-" + i));
                }
                producer.flush();
                if (commit) producer.commitTransaction();
                else producer.abortTransaction();
            }
        }
        System.out.println("done");
    }

    static String partitions(Collection<TopicPartition> tps) {
        return tps.stream().map(tp -> String.valueOf(tp.partition())).sorted().collect(Collectors.joining(",", "[", "]"));
    }

    static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }

    static synchronized void emit(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static void consume(String bootstrap, String topic, String group, String assignor) throws Exception {
        Properties p = base(bootstrap);
        p.put("group.id", group);
        p.put("partition.assignment.strategy", assignor);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("session.timeout.ms", "10000");
        p.put("heartbeat.interval.ms", "1000");
        p.put("max.poll.records", "50");
        final KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        final boolean[] stop = {false};
        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null && !line.trim().equals("stop")) { /* wait */ }
            } catch (Exception ignored) { /* stdin gone: stop */ }
            synchronized (stop) { stop[0] = true; }
            consumer.wakeup();
        });
        stdin.setDaemon(true);
        stdin.start();
        try {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                    consumer.commitSync();
                    emit("{\"e\":\"revoked\",\"p\":" + partitions(tps) + ",\"at\":" + System.currentTimeMillis() + "}");
                }
                @Override public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                    emit("{\"e\":\"assigned\",\"p\":" + partitions(tps) + ",\"at\":" + System.currentTimeMillis() + "}");
                }
                @Override public void onPartitionsLost(Collection<TopicPartition> tps) {
                    emit("{\"e\":\"lost\",\"p\":" + partitions(tps) + ",\"at\":" + System.currentTimeMillis() + "}");
                }
            });
            while (true) {
                synchronized (stop) { if (stop[0]) break; }
                ConsumerRecords<String, String> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (org.apache.kafka.common.errors.WakeupException e) {
                    break;
                }
                for (ConsumerRecord<String, String> r : records) {
                    long t0 = System.currentTimeMillis();
                    Thread.sleep(2);
                    long t1 = System.currentTimeMillis();
                    emit("{\"e\":\"record\",\"p\":" + r.partition() + ",\"o\":" + r.offset() + ",\"v\":" + json(r.value()) + ",\"t0\":" + t0 + ",\"t1\":" + t1 + "}");
                }
                if (!records.isEmpty()) {
                    try {
                        consumer.commitSync();
                    } catch (org.apache.kafka.common.errors.RebalanceInProgressException e) {
                        // A cooperative rebalance is under way: the next poll completes it, revoked partitions
                        // are committed in onPartitionsRevoked and the others with the next commit.
                    }
                }
            }
        } finally {
            consumer.close();
            emit("{\"e\":\"closed\"}");
        }
    }
}
