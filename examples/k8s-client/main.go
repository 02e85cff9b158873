// Command k8s-client is a service that finds the cache tier of
// deploy/kubernetes through its headless Service, the way a service running
// in the same cluster would: cacheclient.DNS resolves the Service's SRV
// records (one per ready cachenode pod) every 10 seconds and the client
// follows the answers as nodes come and go.
//
// Environment:
//
//	CACHE_SRV       SRV name to resolve; default _redis._tcp.cache.$POD_NAMESPACE.svc.cluster.local
//	POD_NAMESPACE   the namespace of the cache Service (the downward API's metadata.namespace)
//	CACHE_PASSWORD  the nodes' --requirepass, if set
//	METRICS_ADDR    where to serve the client's Prometheus /metrics; default :9100
//
// It reads a few keys once a second through a stand-in origin and logs
// where each answer came from (L1, L2, origin). deploy/kubernetes/client-example
// runs it as a Deployment.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachetier/cachetier/cacheclient"
	"github.com/cachetier/cachetier/loader"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	name := os.Getenv("CACHE_SRV")
	if name == "" {
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			ns = "default"
		}
		name = "_redis._tcp.cache." + ns + ".svc.cluster.local"
	}
	c, err := cacheclient.New(cacheclient.Config{
		Discovery: &cacheclient.DNS{Name: name, SRV: true},
		Tier:      cacheclient.TierConfig{Password: os.Getenv("CACHE_PASSWORD")},
		TTL:       time.Minute,
		Logger:    log, // node up/down and membership changes
	})
	if err != nil {
		log.Error("cache client", "srv", name, "err", err)
		os.Exit(1)
	}
	defer c.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector())
	addr := os.Getenv("METRICS_ADDR")
	if addr == "" {
		addr = ":9100"
	}
	srv := &http.Server{Addr: addr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			log.Error("metrics server", "err", err)
		}
	}()
	defer srv.Close()

	// The origin the cache protects; here a stand-in that names the key.
	origin := loader.Func(func(ctx context.Context, key string) (loader.Result, error) {
		return loader.Result{Value: []byte("value of " + key)}, nil
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		key := fmt.Sprintf("user:%d", i%10)
		_, info, err := c.GetInfo(ctx, key, origin)
		log.Info("get", "key", key, "source", info.Source, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
