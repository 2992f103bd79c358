package pipeline

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/geocloak/geocloak/cloak"
	"github.com/geocloak/geocloak/config"
)

// testPKI makes a CA, a server certificate for 127.0.0.1 and a client certificate, as PEM
// files in dir.
func testPKI(t *testing.T, dir string) (serverTLS *tls.Config, caFile, certFile, keyFile string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "geocloak test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "geocloak test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	srvDER, srvKey := leaf(2, x509.ExtKeyUsageServerAuth)
	cliDER, cliKey := leaf(3, x509.ExtKeyUsageClientAuth)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	caFile = write("ca.pem", "CERTIFICATE", caDER)
	certFile = write("client.pem", "CERTIFICATE", cliDER)
	keyFile = write("client-key.pem", "EC PRIVATE KEY", cliKeyDER)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serverTLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientCAs:    pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}
	return serverTLS, caFile, certFile, keyFile
}

// roundTrip creates the topics, writes one record and reads it back through conn.
func roundTrip(t *testing.T, conn *Conn, cfg *config.Config) {
	t.Helper()
	ctx := context.Background()
	if err := conn.EnsureTopics(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	w := conn.Writer(cfg.Kafka.InputTopic, nil)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := conn.ReadTopic(ctx, cfg.Kafka.InputTopic, func(_ int, _, v []byte, _ time.Time) error {
		got = append(got, string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "hello" {
		t.Fatalf("read back %q", got)
	}
}

// TestMutualTLS: the stages reach a broker that requires TLS with a client certificate.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	srv, ca, cert, key := testPKI(t, dir)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.TLS(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := streamConfig(t)
	cfg.Kafka.TLS = config.TLS{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key}
	conn, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip(t, conn, cfg)

	// Without the client certificate the broker refuses, and Dial says so at once.
	cfg.Kafka.TLS.CertFile, cfg.Kafka.TLS.KeyFile = "", ""
	if conn, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs()); err == nil {
		conn.Close()
		t.Fatal("connected without a client certificate")
	}
	// A CA file that is not PEM is a configuration error, named.
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	cfg.Kafka.TLS.CAFile = bad
	if _, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs()); err == nil || !strings.Contains(err.Error(), "kafka.tls.ca_file") {
		t.Fatalf("error = %v, want one naming kafka.tls.ca_file", err)
	}
}

// TestSASL: PLAIN and SCRAM, the password from an environment variable or a file; a
// wrong password fails at Dial with a clear error.
func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.EnableSASL(), kfake.Superuser(mech, "geocloak", "s3cret-pw"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cfg := streamConfig(t)
			t.Setenv("GEOCLOAK_TEST_KAFKA_PW", "s3cret-pw")
			cfg.Kafka.SASL = config.SASL{Mechanism: mech, Username: "geocloak", PasswordEnv: "GEOCLOAK_TEST_KAFKA_PW"}
			conn, err := Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, conn, cfg)
			conn.Close()

			pwFile := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600)
			cfg.Kafka.SASL.PasswordEnv, cfg.Kafka.SASL.PasswordFile = "", pwFile
			conn, err = Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
			if err != nil {
				t.Fatalf("password from a file: %v", err)
			}
			conn.Close()

			t.Setenv("GEOCLOAK_TEST_KAFKA_PW", "wrong")
			cfg.Kafka.SASL.PasswordEnv, cfg.Kafka.SASL.PasswordFile = "GEOCLOAK_TEST_KAFKA_PW", ""
			conn, err = Dial(context.Background(), cfg.Kafka, c.ListenAddrs())
			if err == nil {
				conn.Close()
				t.Fatal("connected with a wrong password")
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// TestUnreachableBroker: a wrong address fails at start with an error naming it.
func TestUnreachableBroker(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Dial(ctx, config.Default().Kafka, []string{addr})
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "do not answer") {
		t.Fatalf("error = %v", err)
	}
}

// The pseudonym key never shows: whatever prints, logs or marshals the options holding
// it sees <secret>.
func TestKeyRedacted(t *testing.T) {
	const secret = "super-secret-pseudonym-key-0123456789"
	opt := StageOptions{Key: cloak.Key(secret)}
	eopt := cloak.EvalOptions{Key: cloak.Key(secret)}
	var logged bytes.Buffer
	l := zerolog.New(&logged)
	l.Info().Interface("options", opt).Interface("key", opt.Key).Msg("x")
	js, err := json.Marshal(struct{ K cloak.Key }{eopt.Key})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %x %q", opt.Key, opt, eopt, opt.Key, opt.Key, opt.Key),
		fmt.Sprint(opt.Key), logged.String(), string(js),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", secret)) {
			t.Errorf("the key leaks: %s", s)
		}
		if !strings.Contains(s, "<secret>") && !strings.Contains(s, `\u003csecret\u003e`) {
			t.Errorf("no <secret> in %s", s)
		}
	}
}
