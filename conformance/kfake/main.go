// Command kfake-launcher runs franz-go's fake Kafka cluster (pkg/kfake) on
// loopback ports until it receives SIGTERM or SIGINT. The conformance suite
// uses it as an independent implementation of the Kafka protocol.
//
//	kfake-launcher -ports 19500,19501,19502 [-partitions 1] [-sasl]
//
// It prints one line "ready 127.0.0.1:19500,127.0.0.1:19501,127.0.0.1:19502"
// on stdout once every broker listens.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	portsFlag := flag.String("ports", "19500,19501,19502", "comma-separated broker ports")
	partitions := flag.Int("partitions", 1, "default partitions of auto-created topics")
	sasl := flag.Bool("sasl", false, "require SASL (PLAIN and SCRAM users alice/alice-secret, superuser admin/admin-secret)")
	flag.Parse()

	var ports []int
	for _, p := range strings.Split(*portsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 || n > 65535 {
			fmt.Fprintf(os.Stderr, "kfake-launcher: invalid port %q\n", p)
			os.Exit(2)
		}
		ports = append(ports, n)
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(len(ports)),
		kfake.Ports(ports...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		// Match the test brokers' short group timeouts so group tests run fast.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(map[string]string{
			"group.consumer.heartbeat.interval.ms": "1000",
			"group.consumer.session.timeout.ms":    "10000",
		}),
	}
	if *sasl {
		opts = append(opts,
			kfake.EnableSASL(),
			// Sessions of 15 s, as on the Apache test brokers, so KIP-368 re-authentication happens in a test.
			kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": "15000"}),
			kfake.Superuser("PLAIN", "admin", "admin-secret"),
			kfake.Superuser("PLAIN", "alice", "alice-secret"),
			kfake.Superuser("SCRAM-SHA-256", "alice", "alice-secret"),
			kfake.Superuser("SCRAM-SHA-512", "alice", "alice-secret"),
		)
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake-launcher: %v\n", err)
		os.Exit(1)
	}

	addrs := cluster.ListenAddrs()
	for _, a := range addrs {
		// NewCluster listens before returning; dial once so "ready" is true.
		c, err := net.DialTimeout("tcp", a, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kfake-launcher: %s does not accept connections: %v\n", a, err)
			os.Exit(1)
		}
		c.Close()
	}
	fmt.Printf("ready %s\n", strings.Join(addrs, ","))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	cluster.Close()
}
