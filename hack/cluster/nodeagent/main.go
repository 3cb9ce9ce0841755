// Command nodeagent plays the kubelet and kube-proxy for the local test
// cluster: it registers one Node, binds every unscheduled pod to it, runs each
// container whose image is in the image map as a local process on the pod's own
// loopback address, reports pod status, and gives every ClusterIP Service a
// loopback VIP that forwards TCP to the Service's ready pods.
//
// See hack/cluster/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type config struct {
	kubeconfig   string
	nodeName     string
	stateDir     string
	apiHost      string
	apiPort      int
	caData       []byte
	podIPFirst   string
	podIPLast    string
	vipFirst     string
	vipLast      string
	leaseDir     string
	maxGrace     time.Duration
	imageMapPath string
	baseMapPath  string
	clusterTag   string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "free-ports" {
		freePorts(os.Args[2:])
		return
	}
	var cfg config
	klog.InitFlags(nil)
	flag.StringVar(&cfg.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "admin kubeconfig")
	flag.StringVar(&cfg.nodeName, "node-name", "ruo-node", "name of the Node this agent registers")
	flag.StringVar(&cfg.stateDir, "state-dir", envOr("RUO_CLUSTER_DIR", "/tmp/ruo-cluster"), "cluster state dir (pods, logs, vips map)")
	flag.StringVar(&cfg.podIPFirst, "pod-ip-first", "127.1.0.2", "first pod loopback address")
	flag.StringVar(&cfg.podIPLast, "pod-ip-last", "127.1.255.254", "last pod loopback address")
	flag.StringVar(&cfg.vipFirst, "vip-first", "127.2.0.2", "first Service VIP loopback address")
	flag.StringVar(&cfg.vipLast, "vip-last", "127.2.255.254", "last Service VIP loopback address")
	flag.StringVar(&cfg.leaseDir, "lease-dir", filepath.Join(os.TempDir(), "ruo-loopback-leases"), "shared dir of per-address flock leases (so two agents never share an address)")
	flag.DurationVar(&cfg.maxGrace, "max-grace", 5*time.Second, "cap on terminationGracePeriodSeconds")
	flag.Parse()
	cfg.imageMapPath = os.Getenv("LOCAL_CLUSTER_IMAGE_MAP")
	cfg.baseMapPath = os.Getenv("LOCAL_CLUSTER_BASE_IMAGE_MAP")
	if cfg.baseMapPath == "" {
		klog.Infof("no base image map (LOCAL_CLUSTER_BASE_IMAGE_MAP): every redis:* image maps to %s", DefaultRedisServer)
	}
	klog.Infof("image maps: base %q, LOCAL_CLUSTER_IMAGE_MAP %q (laid over the base)", cfg.baseMapPath, cfg.imageMapPath)
	cfg.clusterTag = os.Getenv("RUO_CLUSTER_TAG")

	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	u, err := url.Parse(rc.Host)
	if err != nil {
		klog.Fatalf("apiserver url %q: %v", rc.Host, err)
	}
	cfg.apiHost = u.Hostname()
	cfg.apiPort = 443
	if p := u.Port(); p != "" {
		cfg.apiPort, _ = strconv.Atoi(p)
	}
	cfg.caData = rc.CAData
	if len(cfg.caData) == 0 && rc.CAFile != "" {
		if cfg.caData, err = os.ReadFile(rc.CAFile); err != nil {
			klog.Fatalf("ca file: %v", err)
		}
	}
	rc.QPS, rc.Burst = 200, 400
	rc.UserAgent = "ruo-nodeagent"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		klog.Fatalf("client: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	a, err := newAgent(cfg, cs)
	if err != nil {
		klog.Fatalf("agent: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			klog.Errorf("agent stopped: %v", err)
		}
	}()
	select {
	case s := <-sigs:
		klog.Infof("got %v: stopping all pods and exiting", s)
	case <-done:
	}
	cancel()
	t0 := time.Now()
	a.Shutdown(8 * time.Second)
	klog.Infof("shutdown took %v", time.Since(t0))
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	klog.Infof("exiting after %v", time.Since(t0))
	klog.Flush()
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// freePorts prints N free TCP ports on 127.0.0.1 (one per line).
func freePorts(args []string) {
	n := 1
	if len(args) > 0 {
		n, _ = strconv.Atoi(args[0])
	}
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
}
