// Command kfake-launcher runs franz-go's fake Kafka cluster (pkg/kfake) on
// loopback ports until it receives SIGTERM or SIGINT. The conformance suite
// uses it as an independent implementation of the Kafka protocol.
//
//	kfake-launcher -ports 19500,19501,19502 [-partitions 1] [-sasl] [-tls DIR]
//	kfake-launcher -gen-tls DIR
//
// It prints one line "ready 127.0.0.1:19500,127.0.0.1:19501,127.0.0.1:19502"
// on stdout once every broker listens. With -tls the brokers serve TLS with
// DIR/cert.pem and DIR/key.pem; -gen-tls writes those, signed by a new CA
// (DIR/ca.pem), for localhost and 127.0.0.1, and exits.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/signal"
	"path/filepath"
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
	tlsDir := flag.String("tls", "", "serve TLS with DIR/cert.pem and DIR/key.pem")
	genTLS := flag.String("gen-tls", "", "write ca.pem, cert.pem and key.pem (localhost, 127.0.0.1) into DIR and exit")
	flag.Parse()

	if *genTLS != "" {
		if err := generateTLS(*genTLS); err != nil {
			fmt.Fprintf(os.Stderr, "kfake-launcher: %v\n", err)
			os.Exit(1)
		}
		return
	}

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
	if *tlsDir != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(*tlsDir, "cert.pem"), filepath.Join(*tlsDir, "key.pem"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "kfake-launcher: %v\n", err)
			os.Exit(1)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
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

// generateTLS writes a CA and a server certificate it signed, for localhost
// and 127.0.0.1: ca.pem, cert.pem (server certificate, then the CA) and
// key.pem. Throwaway material for tests.
func generateTLS(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kafkawire kfake test CA"},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now,
		NotAfter:     now.AddDate(10, 0, 0),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pemOf := func(kind string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: b}) }
	files := map[string][]byte{
		"ca.pem":   pemOf("CERTIFICATE", caDER),
		"cert.pem": append(pemOf("CERTIFICATE", der), pemOf("CERTIFICATE", caDER)...),
		"key.pem":  pemOf("EC PRIVATE KEY", keyDER),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
