// Command squid-cache-secrets makes, in the cluster, the objects the Helm
// chart's Squid needs and that must never be in a rendered manifest or in
// Helm's release history: the ssl-bump CA, a ConfigMap with its
// certificate for clients, and the cache manager password. The chart runs
// it as a pre-install and pre-upgrade hook Job; each object is made when
// it is missing and kept when it exists (package chartsecrets), but for a
// CA it made for another --ca.rotation token, which it replaces.
//
//	squid-cache-secrets --ca.secret=squid-cache-ca --ca.generate --ca.rotation=2026-12 \
//	  --ca.permitted-domain=.quay.io --ca.permitted-domain=registry.access.redhat.com \
//	  --ca.configmap=squid-cache-ca --cachemgr.secret=squid-cache-cachemgr \
//	  --label=app.kubernetes.io/name=squid-cache
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"

	"github.com/squid-cache-exporter/squid-cache-exporter/chartsecrets"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/logging"
	"github.com/squid-cache-exporter/squid-cache-exporter/kubeapi"
)

func main() {
	const program = "squid-cache-secrets"
	app := kingpin.New(program, "Makes the Helm chart's ssl-bump CA, its ConfigMap and the cache manager password in the cluster, once; keeps them after.")
	namespace := app.Flag("namespace", "Namespace of the objects. Default: the service account's.").String()
	c := chartsecrets.Config{Labels: map[string]string{}} // StringMapVar fills, never makes, the map
	app.Flag("ca.secret", "The ssl-bump CA's Secret (kubernetes.io/tls: tls.crt, tls.key, ca.crt).").PlaceHolder("NAME").StringVar(&c.CASecret)
	app.Flag("ca.generate", "Make the CA when its Secret is missing. Without it, the Secret must exist (yours, or cert-manager's).").BoolVar(&c.CAGenerate)
	app.Flag("ca.rotation", "With --ca.generate: a CA made for another rotation token (or none) is replaced by a new one; "+
		"changing the token rotates the CA.").PlaceHolder("TOKEN").StringVar(&c.CARotation)
	app.Flag("ca.common-name", "The CA's common name, when made.").Default("squid-cache ssl-bump CA").StringVar(&c.CA.CommonName)
	app.Flag("ca.permitted-domain", "A domain the CA may sign for, with its subdomains, as Squid's dstdomain writes it (repeatable). "+
		"Made into the CA's name constraints; an existing CA is checked against them.").PlaceHolder(".quay.io").StringsVar(&c.CA.PermittedDomains)
	app.Flag("ca.validity", "How long a CA made here is valid (at most 10 years).").Default("8760h").DurationVar(&c.CA.Validity)
	app.Flag("ca.configmap", "A ConfigMap whose ca.crt clients trust, made or updated to hold the CA Secret's tls.crt; "+
		"NAMESPACE/NAME for one in another namespace, such as trust-manager's (repeatable).").PlaceHolder("[NAMESPACE/]NAME").StringsVar(&c.CAConfigMaps)
	app.Flag("cachemgr.secret", "The cache manager password's Secret (key password), made when missing, never changed.").PlaceHolder("NAME").StringVar(&c.CachemgrSecret)
	app.Flag("label", "A label on every object made (repeatable).").PlaceHolder("KEY=VALUE").StringMapVar(&c.Labels)
	saDir := app.Flag("kube.service-account-dir", "Where the pod's service account is mounted (for tests).").Hidden().Default(kubeapi.ServiceAccountDir).String()
	logLevel := app.Flag("log.level", "debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error")
	logFormat := app.Flag("log.format", "logfmt or json.").Default("logfmt").Enum("logfmt", "json")
	app.DefaultEnvars() // every flag also reads SQUID_CACHE_SECRETS_<FLAG>
	app.Version(version.Print(program))
	kingpin.MustParse(app.Parse(os.Args[1:]))
	logger, _, err := logging.New(*logLevel, *logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	api, err := client(*saDir, *namespace)
	if err == nil {
		err = chartsecrets.Run(context.Background(), api, c, logger)
	}
	if err != nil {
		level.Error(logger).Log("msg", "failed", "err", err)
		os.Exit(1)
	}
}

// client talks to the cluster the pod runs in, about namespace or the
// service account's.
func client(saDir, namespace string) (*kubeapi.Client, error) {
	cfg, err := kubeapi.ServiceAccount(saDir, os.Getenv)
	if err != nil {
		return nil, err
	}
	if namespace != "" {
		cfg.Namespace = namespace
	}
	if cfg.Namespace == "" {
		return nil, fmt.Errorf("no --namespace, and no %s/namespace", saDir)
	}
	return kubeapi.New(cfg)
}
