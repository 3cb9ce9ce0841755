package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Agent is the node agent: node registration, scheduling, pod workers, VIP proxy.
type Agent struct {
	cfg         config
	cs          kubernetes.Interface
	images      *imageMapSource
	podIPs      *IPAllocator
	binDir      string
	podsDir     string
	logsDir     string
	realCLI     string
	factory     informers.SharedInformerFactory
	pods        corelisters.PodLister
	proxy       *Proxy
	startAt     time.Time
	mu          sync.Mutex
	workers     map[types.UID]*podWorker
	binding     map[types.UID]bool
	wg          sync.WaitGroup
	stopping    bool
	kubeletPort int32
}

func newAgent(cfg config, cs kubernetes.Interface) (*Agent, error) {
	podIPs, err := NewIPAllocator(cfg.podIPFirst, cfg.podIPLast, filepath.Join(cfg.leaseDir, "pods"))
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:     cfg,
		cs:      cs,
		images:  &imageMapSource{basePath: cfg.baseMapPath, path: cfg.imageMapPath},
		podIPs:  podIPs,
		binDir:  filepath.Join(cfg.stateDir, "bin"),
		podsDir: filepath.Join(cfg.stateDir, "pods"),
		logsDir: filepath.Join(cfg.stateDir, "logs", "pods"),
		workers: map[types.UID]*podWorker{},
		binding: map[types.UID]bool{},
		startAt: time.Now(),
	}
	for _, d := range []string{a.binDir, a.podsDir, a.logsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := a.writeRedisCLIWrapper(); err != nil {
		klog.Warningf("redis-cli wrapper: %v", err)
	}
	return a, nil
}

// writeRedisCLIWrapper puts a redis-cli first on the PATH of containers and
// exec probes that adds `-h $POD_IP` when no host is given: in a real pod
// redis-cli's default 127.0.0.1 is the pod itself, here it is the machine.
func (a *Agent) writeRedisCLIWrapper() error {
	real, err := exec.LookPath("redis-cli")
	if err != nil {
		return err
	}
	a.realCLI = real
	script := fmt.Sprintf(`#!/bin/sh
# Written by the ruo node agent: default redis-cli's host to the pod's own IP.
for a in "$@"; do
  case "$a" in -h|-u|-s) exec %q "$@";; esac
done
exec %q -h "${POD_IP:-127.0.0.1}" "$@"
`, real, real)
	return atomicWrite(filepath.Join(a.binDir, "redis-cli"), []byte(script), 0o755)
}

// Run runs until ctx is cancelled.
func (a *Agent) Run(ctx context.Context) error {
	port, err := a.startKubeletServer(ctx)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	a.kubeletPort = int32(port)
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	go a.heartbeat(ctx)

	a.factory = informers.NewSharedInformerFactory(a.cs, 0)
	podInf := a.factory.Core().V1().Pods()
	svcInf := a.factory.Core().V1().Services()
	sliceInf := a.factory.Discovery().V1().EndpointSlices()
	a.pods = podInf.Lister()
	a.proxy, err = newProxy(a.cfg, svcInf.Lister(), a.pods, sliceInf.Lister())
	if err != nil {
		return err
	}
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { a.onPod(o.(*v1.Pod)) },
		UpdateFunc: func(_, o interface{}) { a.onPod(o.(*v1.Pod)) },
		DeleteFunc: func(o interface{}) {
			if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
				o = t.Obj
			}
			if p, ok := o.(*v1.Pod); ok {
				a.onPodGone(p)
			}
		},
	})
	podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { a.proxy.podChanged(o) },
		UpdateFunc: func(_, o interface{}) { a.proxy.podChanged(o) },
		DeleteFunc: func(o interface{}) { a.proxy.podChanged(o) },
	})
	svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { a.proxy.serviceChanged(o) },
		UpdateFunc: func(_, o interface{}) { a.proxy.serviceChanged(o) },
		DeleteFunc: func(o interface{}) { a.proxy.serviceChanged(o) },
	})
	sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o interface{}) { a.proxy.sliceChanged(o) },
		UpdateFunc: func(_, o interface{}) { a.proxy.sliceChanged(o) },
		DeleteFunc: func(o interface{}) { a.proxy.sliceChanged(o) },
	})
	a.factory.Start(ctx.Done())
	a.factory.WaitForCacheSync(ctx.Done())
	a.proxy.start(ctx)
	klog.Infof("node agent ready: node %s, state dir %s", a.cfg.nodeName, a.cfg.stateDir)
	<-ctx.Done()
	return nil
}

// Shutdown stops every pod's processes (no API changes) and waits up to timeout.
func (a *Agent) Shutdown(timeout time.Duration) {
	a.mu.Lock()
	a.stopping = true
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	for _, w := range ws {
		w.stop(false, 2*time.Second)
	}
	ch := make(chan struct{})
	go func() { a.wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(timeout):
		klog.Warning("timed out waiting for pods to stop; killing process groups")
		for _, w := range ws {
			w.killAll()
		}
	}
	if a.proxy != nil {
		a.proxy.close()
	}
}

func (a *Agent) onPod(p *v1.Pod) {
	if p.Spec.NodeName == "" {
		if p.DeletionTimestamp == nil {
			a.bind(p)
		}
		return
	}
	if p.Spec.NodeName != a.cfg.nodeName {
		return
	}
	a.mu.Lock()
	if a.stopping {
		a.mu.Unlock()
		return
	}
	w, ok := a.workers[p.UID]
	if !ok {
		w = newPodWorker(a, p)
		a.workers[p.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run()
		}()
	}
	a.mu.Unlock()
	w.update(p)
}

func (a *Agent) onPodGone(p *v1.Pod) {
	a.mu.Lock()
	delete(a.binding, p.UID)
	w := a.workers[p.UID]
	a.mu.Unlock()
	if w != nil {
		w.stop(false, a.graceFor(p))
	}
}

func (a *Agent) workerDone(w *podWorker) {
	a.mu.Lock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
	a.mu.Unlock()
	a.podIPs.Release(string(w.uid))
}

func (a *Agent) graceFor(p *v1.Pod) time.Duration {
	g := 30 * time.Second
	if p.DeletionGracePeriodSeconds != nil {
		g = time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
	} else if p.Spec.TerminationGracePeriodSeconds != nil {
		g = time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if g > a.cfg.maxGrace {
		g = a.cfg.maxGrace
	}
	return g
}

// bind plays the scheduler: every unscheduled pod goes to this node.
func (a *Agent) bind(p *v1.Pod) {
	a.mu.Lock()
	if a.binding[p.UID] {
		a.mu.Unlock()
		return
	}
	a.binding[p.UID] = true
	a.mu.Unlock()
	go func() {
		b := &v1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID},
			Target:     v1.ObjectReference{Kind: "Node", Name: a.cfg.nodeName},
		}
		for attempt := 0; attempt < 20; attempt++ {
			err := a.cs.CoreV1().Pods(p.Namespace).Bind(context.Background(), b, metav1.CreateOptions{})
			if err == nil {
				klog.Infof("bound pod %s/%s to %s", p.Namespace, p.Name, a.cfg.nodeName)
				return
			}
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return // gone, or already bound
			}
			klog.Warningf("bind %s/%s: %v", p.Namespace, p.Name, err)
			time.Sleep(500 * time.Millisecond)
		}
		a.mu.Lock()
		delete(a.binding, p.UID)
		a.mu.Unlock()
	}()
}

func (a *Agent) nodeObject() *v1.Node {
	mem := int64(8 << 30)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = kb * 1024
		}
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(100<<30, resource.BinarySI),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: a.cfg.nodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": a.cfg.nodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     runtime.GOARCH,
				"ruo.local/node-agent":   "true",
			},
		},
		Status: v1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Phase:       v1.NodeRunning,
			// Loopback only: the apiserver must never dial a non-loopback address.
			Addresses:       []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: a.kubeletPort}},
			NodeInfo: v1.NodeSystemInfo{
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
				KubeletVersion:          "ruo-nodeagent",
				ContainerRuntimeVersion: "local-process://1",
			},
		},
	}
}

func (a *Agent) nodeConditions(now metav1.Time) []v1.NodeCondition {
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		return v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg,
			LastHeartbeatTime: now, LastTransitionTime: metav1.NewTime(a.startAt)}
	}
	return []v1.NodeCondition{
		cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "ruo node agent is posting ready status"),
		cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", ""),
		cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", ""),
		cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", ""),
	}
}

func (a *Agent) registerNode(ctx context.Context) error {
	want := a.nodeObject()
	var lastErr error
	for i := 0; i < 60; i++ {
		n, err := a.cs.CoreV1().Nodes().Get(ctx, a.cfg.nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			n, err = a.cs.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		} else if err == nil {
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			for k, v := range want.Labels {
				n.Labels[k] = v
			}
			n, err = a.cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		}
		if err == nil {
			err = a.postNodeStatus(ctx, n)
		}
		if err == nil {
			klog.Infof("registered node %s", a.cfg.nodeName)
			return nil
		}
		lastErr = err
		klog.Warningf("register node: %v", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("register node: %w", lastErr)
}

func (a *Agent) postNodeStatus(ctx context.Context, n *v1.Node) error {
	want := a.nodeObject()
	n.Status.Capacity = want.Status.Capacity
	n.Status.Allocatable = want.Status.Allocatable
	n.Status.Addresses = want.Status.Addresses
	n.Status.DaemonEndpoints = want.Status.DaemonEndpoints
	n.Status.NodeInfo = want.Status.NodeInfo
	n.Status.Phase = v1.NodeRunning
	n.Status.Conditions = a.nodeConditions(metav1.Now())
	_, err := a.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

func (a *Agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.cs.CoreV1().Nodes().Get(ctx, a.cfg.nodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			a.registerNode(ctx)
			continue
		}
		if err == nil {
			err = a.postNodeStatus(ctx, n)
		}
		if err != nil && ctx.Err() == nil {
			klog.Warningf("node heartbeat: %v", err)
		}
	}
}

// atomicWrite writes data to path via a temp file and rename.
func atomicWrite(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
