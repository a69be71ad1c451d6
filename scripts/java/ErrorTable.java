// Prints the reference error table (kafka-clients Errors enum) as JSON: code, name,
// whether its exception is a RetriableException / InvalidMetadataException, message.
// Used once to write src/protocol/error-codes.ts:
//   javac -cp kafka-clients.jar ErrorTable.java && java -cp kafka-clients.jar:slf4j-api.jar:. ErrorTable
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.InvalidMetadataException;
public class ErrorTable {
  public static void main(String[] a) {
    StringBuilder sb = new StringBuilder("[\n");
    for (Errors e : Errors.values()) {
      Exception ex = e.exception();
      boolean retriable = ex instanceof RetriableException;
      boolean metadata = ex instanceof InvalidMetadataException;
      String msg = e.message() == null ? "" : e.message().replace("\\", "\\\\").replace("\"", "\\\"");
      sb.append(String.format("{\"code\":%d,\"name\":\"%s\",\"retriable\":%b,\"refreshMetadata\":%b,\"message\":\"%s\"},%n", e.code(), e.name(), retriable, metadata, msg));
    }
    System.out.println(sb.substring(0, sb.length() - 2) + "\n]");
  }
}
