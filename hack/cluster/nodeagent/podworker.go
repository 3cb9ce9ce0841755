package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// podWorker owns one pod bound to this node: its loopback IP, its dirs, its
// container processes and its status.
type podWorker struct {
	a        *Agent
	uid      types.UID
	ns, name string

	mu            sync.Mutex
	pod           *v1.Pod
	ip            string
	dir, workDir  string
	saDir         string
	inits         []*ctr
	ctrs          []*ctr
	initDone      bool
	initFailed    bool
	terminalPhase v1.PodPhase
	startTime     metav1.Time
	lastSent      *v1.PodStatus

	stopOnce      sync.Once
	stopCh        chan struct{}
	deleteFromAPI bool
	grace         time.Duration

	kick    chan struct{}
	done    chan struct{}
	saOnce  sync.Once
	saReady chan struct{}
	saErr   error
}

// ctr is one container of a pod and its current process.
type ctr struct {
	w    *podWorker
	spec v1.Container
	init bool

	mu         sync.Mutex
	state      v1.ContainerState
	last       v1.ContainerState
	restarts   int32
	ready      bool
	started    bool
	pid        int
	exePath    string
	loopDone   chan struct{}
	succeeded  bool
	killReason string
	logStarts  []int64 // offset in the log file where each run began
	runs       int
}

func (c *ctr) logPath() string {
	return filepath.Join(c.w.a.logsDir, fmt.Sprintf("%s_%s_%s.log", c.w.ns, c.w.name, c.spec.Name))
}

func newPodWorker(a *Agent, p *v1.Pod) *podWorker {
	w := &podWorker{a: a, uid: p.UID, ns: p.Namespace, name: p.Name, pod: p,
		stopCh: make(chan struct{}), kick: make(chan struct{}, 1), done: make(chan struct{}),
		saReady: make(chan struct{})}
	for _, c := range p.Spec.InitContainers {
		w.inits = append(w.inits, &ctr{w: w, spec: c, init: true, loopDone: make(chan struct{}),
			state: waiting("PodInitializing", "")})
	}
	for _, c := range p.Spec.Containers {
		w.ctrs = append(w.ctrs, &ctr{w: w, spec: c, loopDone: make(chan struct{}),
			state: waiting("ContainerCreating", "")})
	}
	return w
}

func waiting(reason, msg string) v1.ContainerState {
	return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

func (w *podWorker) key() string { return w.ns + "/" + w.name }

func (w *podWorker) latest() *v1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

func (w *podWorker) update(p *v1.Pod) {
	w.mu.Lock()
	w.pod = p
	w.mu.Unlock()
	if p.DeletionTimestamp != nil {
		w.stop(true, w.a.graceFor(p))
		return
	}
	w.kickStatus()
}

func (w *podWorker) kickStatus() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// stop asks every container to stop (SIGTERM, SIGKILL after grace). With
// deleteFromAPI the pod object is force-deleted once the processes are gone.
func (w *podWorker) stop(deleteFromAPI bool, grace time.Duration) {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.deleteFromAPI = deleteFromAPI
		w.grace = grace
		w.mu.Unlock()
		close(w.stopCh)
	})
}

func (w *podWorker) stopping() bool {
	select {
	case <-w.stopCh:
		return true
	default:
		return false
	}
}

// sleep waits d or until the pod is stopping; false means stopping.
func (w *podWorker) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.stopCh:
		return false
	case <-t.C:
		return true
	}
}

func (w *podWorker) killAll() {
	for _, c := range append(append([]*ctr{}, w.inits...), w.ctrs...) {
		c.mu.Lock()
		pid := c.pid
		c.mu.Unlock()
		if pid > 0 {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

func (w *podWorker) run() {
	defer w.a.workerDone(w)
	p := w.latest()
	w.dir = filepath.Join(w.a.podsDir, fmt.Sprintf("%s_%s_%s", w.ns, w.name, w.uid))
	w.workDir = filepath.Join(w.dir, "work")
	w.saDir = filepath.Join(w.dir, "serviceaccount")
	if p.Spec.HostNetwork {
		w.ip = "127.0.0.1"
	} else if ip, err := w.a.podIPs.Allocate(string(w.uid)); err == nil {
		w.ip = ip.String()
	} else {
		klog.Errorf("pod %s: no IP: %v", w.key(), err)
	}
	os.MkdirAll(w.workDir, 0o755)
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			os.MkdirAll(filepath.Join(w.dir, "volumes", v.Name), 0o755)
		}
	}
	if p.Status.StartTime != nil {
		w.startTime = *p.Status.StartTime
	} else {
		w.startTime = metav1.Now()
	}
	klog.Infof("pod %s: starting worker, podIP %s", w.key(), w.ip)

	statusDone := make(chan struct{})
	go func() { defer close(statusDone); w.statusLoop() }()

	terminal := p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
	if terminal {
		w.mu.Lock()
		w.terminalPhase = p.Status.Phase
		w.mu.Unlock()
	}
	if !terminal && p.DeletionTimestamp == nil {
		w.runContainers()
	}
	<-w.stopCh
	// Wait for every container loop that was started.
	for _, c := range append(append([]*ctr{}, w.inits...), w.ctrs...) {
		c.mu.Lock()
		ld := c.loopDone
		c.mu.Unlock()
		select {
		case <-ld:
		case <-time.After(w.grace + 5*time.Second):
			w.killAll()
		}
	}
	close(w.done)
	<-statusDone

	w.mu.Lock()
	del := w.deleteFromAPI
	w.mu.Unlock()
	if del {
		w.forceDelete()
	}
	os.RemoveAll(w.dir)
	klog.Infof("pod %s: worker done", w.key())
}

func (w *podWorker) forceDelete() {
	zero := int64(0)
	uid := w.uid
	for i := 0; i < 10; i++ {
		err := w.a.cs.CoreV1().Pods(w.ns).Delete(context.Background(), w.name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return
		}
		klog.Warningf("pod %s: delete: %v", w.key(), err)
		time.Sleep(500 * time.Millisecond)
	}
}

// runContainers runs init containers in order, then starts the app containers.
func (w *podWorker) runContainers() {
	for _, c := range w.inits {
		if c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == v1.ContainerRestartPolicyAlways {
			// Sidecar: start it and move on once it runs.
			go c.loop()
			for !c.isRunning() {
				if !w.sleep(100 * time.Millisecond) {
					return
				}
			}
			continue
		}
		go c.loop()
		select {
		case <-c.loopDone:
		case <-w.stopCh:
			return
		}
		c.mu.Lock()
		ok := c.succeeded
		c.mu.Unlock()
		if !ok {
			w.mu.Lock()
			w.initFailed = true
			w.terminalPhase = v1.PodFailed
			w.mu.Unlock()
			w.kickStatus()
			return
		}
	}
	w.mu.Lock()
	w.initDone = true
	w.mu.Unlock()
	w.kickStatus()
	for _, c := range w.ctrs {
		go c.loop()
	}
}

func (c *ctr) isRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Running != nil
}

func (c *ctr) setState(s v1.ContainerState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
	c.w.kickStatus()
}

// restartPolicy is the effective policy of this container.
func (c *ctr) restartPolicy() v1.RestartPolicy {
	if c.init {
		if c.spec.RestartPolicy != nil && *c.spec.RestartPolicy == v1.ContainerRestartPolicyAlways {
			return v1.RestartPolicyAlways
		}
		if c.w.latest().Spec.RestartPolicy == v1.RestartPolicyNever {
			return v1.RestartPolicyNever
		}
		return v1.RestartPolicyOnFailure
	}
	if c.spec.RestartPolicy != nil {
		return v1.RestartPolicy(*c.spec.RestartPolicy)
	}
	if p := c.w.latest().Spec.RestartPolicy; p != "" {
		return p
	}
	return v1.RestartPolicyAlways
}

// loop runs the container, restarting it per restart policy with backoff,
// until it should not restart or the pod stops.
func (c *ctr) loop() {
	defer close(c.loopDone)
	w := c.w
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		if w.stopping() {
			return
		}
		if attempt > 0 {
			c.mu.Lock()
			c.restarts++
			c.mu.Unlock()
		}
		ran, exitCode := c.runOnce()
		if w.stopping() {
			return
		}
		if !ran {
			// Not started (unknown image, config error): runOnce set the
			// waiting state; retry without counting a restart.
			attempt--
			if !w.sleep(2 * time.Second) {
				return
			}
			continue
		}
		pol := c.restartPolicy()
		if exitCode == 0 {
			c.mu.Lock()
			c.succeeded = true
			c.mu.Unlock()
		}
		if pol == v1.RestartPolicyNever || (pol == v1.RestartPolicyOnFailure && exitCode == 0) {
			w.kickStatus()
			return
		}
		if ran && time.Since(c.startedAt()) > 10*time.Second {
			backoff = time.Second
		}
		c.mu.Lock()
		c.last = c.state
		c.mu.Unlock()
		c.setState(waiting("CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, c.spec.Name, w.name, w.ns, w.uid)))
		if !w.sleep(backoff) {
			c.mu.Lock()
			c.state, c.last = c.last, v1.ContainerState{}
			c.mu.Unlock()
			return
		}
		backoff *= 2
		if backoff > 10*time.Second {
			backoff = 10 * time.Second
		}
	}
}

func (c *ctr) startedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Terminated != nil {
		return c.state.Terminated.StartedAt.Time
	}
	if c.state.Running != nil {
		return c.state.Running.StartedAt.Time
	}
	return time.Now()
}

// runOnce starts the process and waits for it to exit (or for the pod to stop).
// ran=false means no process was started and the waiting state says why.
func (c *ctr) runOnce() (ran bool, exitCode int32) {
	w := c.w
	pod := w.latest()
	images, err := w.a.images.Get()
	if err != nil {
		c.setState(waiting("ErrImagePull", err.Error()))
		return false, 0
	}
	path, ok := images.Lookup(c.spec.Image)
	if !ok {
		c.setState(waiting("ErrImagePull", fmt.Sprintf("image %s not in the local image map (LOCAL_CLUSTER_IMAGE_MAP)", c.spec.Image)))
		return false, 0
	}
	exe, args, isRedis := c.argv(path)
	if !isRedis {
		if err := w.ensureServiceAccount(pod); err != nil {
			c.setState(waiting("ContainerCreating", "service account token: "+err.Error()))
			return false, 0
		}
	}
	env, err := w.buildEnv(pod, &c.spec, !isRedis)
	if err != nil {
		c.setState(waiting("CreateContainerConfigError", err.Error()))
		return false, 0
	}
	lookup := MapLookup(env.m)
	for i := range args {
		args[i] = Expand(args[i], lookup)
	}
	if isRedis {
		args = redisArgs(args, w.ip, w.workDir)
	}
	if !strings.Contains(exe, "/") {
		if p, err := exec.LookPath(exe); err == nil {
			exe = p
		} else {
			c.setState(waiting("RunContainerError", fmt.Sprintf("executable %q not found on this machine", exe)))
			return false, 0
		}
	}
	logf, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.setState(waiting("RunContainerError", err.Error()))
		return false, 0
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = env.list()
	cmd.Dir = w.workDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var logStart int64
	if st, err := logf.Stat(); err == nil {
		logStart = st.Size()
	}
	start := metav1.Now()
	if err := cmd.Start(); err != nil {
		now := metav1.Now()
		c.setState(v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError",
			Message: err.Error(), StartedAt: start, FinishedAt: now}})
		return true, 128
	}
	pid := cmd.Process.Pid
	klog.Infof("pod %s container %s: started pid %d: %s %q", w.key(), c.spec.Name, pid, exe, args)
	c.mu.Lock()
	c.pid = pid
	c.runs++
	c.logStarts = append(c.logStarts, logStart)
	c.exePath = path
	c.ready = false
	c.started = false
	c.killReason = ""
	c.state = v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: start}}
	c.mu.Unlock()
	w.kickStatus()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	probeCtx, stopProbes := context.WithCancel(context.Background())
	go c.probeLoop(probeCtx, env, pid)

	var werr error
	select {
	case werr = <-exited:
	case <-w.stopCh:
		w.mu.Lock()
		grace := w.grace
		w.mu.Unlock()
		werr = terminateGroup(pid, exited, grace)
	}
	stopProbes()
	syscall.Kill(-pid, syscall.SIGKILL) // leftovers of the process group
	code := exitCodeOf(werr)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.mu.Lock()
	msg := c.killReason
	c.pid = 0
	c.ready = false
	c.state = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg,
		StartedAt: start, FinishedAt: metav1.Now(), ContainerID: containerID(w.uid, c.spec.Name, pid)}}
	c.mu.Unlock()
	klog.Infof("pod %s container %s: pid %d exited with %d", w.key(), c.spec.Name, pid, code)
	w.kickStatus()
	return true, code
}

func containerID(uid types.UID, name string, pid int) string {
	return fmt.Sprintf("ruo://%s/%s/%d", uid, name, pid)
}

// terminateGroup sends SIGTERM to the process group, then SIGKILL after grace.
func terminateGroup(pid int, exited chan error, grace time.Duration) error {
	syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-exited:
		return err
	case <-t.C:
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	return <-exited
}

func exitCodeOf(err error) int32 {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			if ws.Signaled() {
				return 128 + int32(ws.Signal())
			}
			return int32(ws.ExitStatus())
		}
	}
	return 1
}

// argv works out the executable and arguments (before $(VAR) expansion).
// For the image's own entrypoint the mapped binary runs; a command naming
// some other program that exists on this machine (sh, redis-cli...) runs that.
func (c *ctr) argv(mapped string) (exe string, args []string, isRedis bool) {
	cmd := append([]string(nil), c.spec.Command...)
	args = append([]string(nil), c.spec.Args...)
	if len(cmd) == 0 {
		return mapped, args, IsRedisServer(mapped)
	}
	first := cmd[0]
	useMapped := first == mapped || filepath.Base(first) == filepath.Base(mapped) ||
		(IsRedisServer(mapped) && IsRedisServer(first)) // redis-server in a valkey image, say
	if !useMapped {
		if _, err := exec.LookPath(first); err != nil {
			useMapped = true // an in-image path such as /manager: the mapped binary stands for it
		}
	}
	if useMapped {
		return mapped, append(cmd[1:], args...), IsRedisServer(mapped)
	}
	return first, append(cmd[1:], args...), false
}

// redisArgs gives a redis-server its defaults on this machine: with no args,
// `--bind <podIP> --port 6379 --save "" --appendonly no --dir <workdir>`;
// with args that do not set --bind, `--bind <podIP>` is appended so that every
// pod can use port 6379 on its own address.
func redisArgs(args []string, ip, dir string) []string {
	if len(args) == 0 {
		return []string{"--bind", ip, "--port", "6379", "--save", "", "--appendonly", "no", "--dir", dir}
	}
	for _, a := range args {
		if a == "--bind" || strings.HasPrefix(a, "--bind ") {
			return args
		}
	}
	return append(args, "--bind", ip)
}

// podEnv holds the resolved environment of one container.
type podEnv struct {
	m     map[string]string
	order []string
}

func (e *podEnv) set(k, v string) {
	if _, ok := e.m[k]; !ok {
		e.order = append(e.order, k)
	}
	e.m[k] = v
}

func (e *podEnv) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.m[k])
	}
	return out
}

func (w *podWorker) baseEnv(withAPI bool) *podEnv {
	e := &podEnv{m: map[string]string{}}
	e.set("PATH", w.a.binDir+":"+envOr("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
	e.set("HOME", w.workDir)
	e.set("HOSTNAME", w.name)
	if v := os.Getenv("LANG"); v != "" {
		e.set("LANG", v)
	}
	if w.a.cfg.clusterTag != "" {
		e.set("RUO_CLUSTER_TAG", w.a.cfg.clusterTag)
	}
	e.set("RUO_CLUSTER_DIR", w.a.cfg.stateDir)
	e.set("POD_IP", w.ip)
	e.set("RUO_POD_IP", w.ip)
	if withAPI {
		e.set("KUBERNETES_SERVICE_HOST", w.a.cfg.apiHost)
		e.set("KUBERNETES_SERVICE_PORT", fmt.Sprint(w.a.cfg.apiPort))
		e.set("KUBERNETES_SERVICE_PORT_HTTPS", fmt.Sprint(w.a.cfg.apiPort))
		if w.saEnabled() {
			e.set("RUO_SERVICEACCOUNT_DIR", w.saDir)
		}
	}
	return e
}

// buildEnv resolves the container's env the way the kubelet does: envFrom
// first, then env in order, each value $(VAR)-expanded against what is defined
// so far.
func (w *podWorker) buildEnv(pod *v1.Pod, c *v1.Container, withAPI bool) (*podEnv, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := w.baseEnv(withAPI)
	cms := map[string]*v1.ConfigMap{}
	secrets := map[string]*v1.Secret{}
	getCM := func(name string) (*v1.ConfigMap, error) {
		if cm, ok := cms[name]; ok {
			return cm, nil
		}
		cm, err := w.a.cs.CoreV1().ConfigMaps(w.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		cms[name] = cm
		return cm, nil
	}
	getSecret := func(name string) (*v1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := w.a.cs.CoreV1().Secrets(w.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		secrets[name] = s
		return s, nil
	}
	optional := func(b *bool) bool { return b != nil && *b }
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := getCM(ef.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("configmap %q: %v", ef.ConfigMapRef.Name, err)
			}
			for k, v := range cm.Data {
				e.set(ef.Prefix+k, v)
			}
		case ef.SecretRef != nil:
			s, err := getSecret(ef.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("secret %q: %v", ef.SecretRef.Name, err)
			}
			for k, v := range s.Data {
				e.set(ef.Prefix+k, string(v))
			}
		}
	}
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			e.set(ev.Name, Expand(ev.Value, MapLookup(e.m)))
			continue
		}
		vf := ev.ValueFrom
		switch {
		case vf.SecretKeyRef != nil:
			s, err := getSecret(vf.SecretKeyRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(vf.SecretKeyRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("env %s: secret %q: %v", ev.Name, vf.SecretKeyRef.Name, err)
			}
			v, ok := s.Data[vf.SecretKeyRef.Key]
			if !ok {
				if optional(vf.SecretKeyRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("env %s: couldn't find key %s in Secret %s/%s", ev.Name, vf.SecretKeyRef.Key, w.ns, vf.SecretKeyRef.Name)
			}
			e.set(ev.Name, string(v))
		case vf.ConfigMapKeyRef != nil:
			cm, err := getCM(vf.ConfigMapKeyRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(vf.ConfigMapKeyRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("env %s: configmap %q: %v", ev.Name, vf.ConfigMapKeyRef.Name, err)
			}
			v, ok := cm.Data[vf.ConfigMapKeyRef.Key]
			if !ok {
				if optional(vf.ConfigMapKeyRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("env %s: couldn't find key %s in ConfigMap %s/%s", ev.Name, vf.ConfigMapKeyRef.Key, w.ns, vf.ConfigMapKeyRef.Name)
			}
			e.set(ev.Name, v)
		case vf.FieldRef != nil:
			v, err := w.fieldRef(pod, vf.FieldRef.FieldPath)
			if err != nil {
				return nil, fmt.Errorf("env %s: %v", ev.Name, err)
			}
			e.set(ev.Name, v)
		case vf.ResourceFieldRef != nil:
			e.set(ev.Name, resourceFieldValue(c, vf.ResourceFieldRef))
		}
	}
	return e, nil
}

func (w *podWorker) fieldRef(pod *v1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return w.a.cfg.nodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return w.ip, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	}
	for _, pre := range []struct {
		p string
		m map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if path == pre.p {
			var lines []string
			for k, v := range pre.m {
				lines = append(lines, fmt.Sprintf("%s=%q", k, v))
			}
			return strings.Join(lines, "\n"), nil
		}
		if strings.HasPrefix(path, pre.p+"['") && strings.HasSuffix(path, "']") {
			return pre.m[path[len(pre.p)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

func resourceFieldValue(c *v1.Container, r *v1.ResourceFieldSelector) string {
	var list v1.ResourceList
	name := r.Resource
	if strings.HasPrefix(name, "limits.") {
		list, name = c.Resources.Limits, strings.TrimPrefix(name, "limits.")
	} else {
		list, name = c.Resources.Requests, strings.TrimPrefix(name, "requests.")
	}
	q, ok := list[v1.ResourceName(name)]
	if !ok {
		return "0"
	}
	div := r.Divisor
	if div.IsZero() {
		return fmt.Sprint(q.Value())
	}
	v := (q.MilliValue() + div.MilliValue() - 1) / div.MilliValue()
	return fmt.Sprint(v)
}

// hostPort formats an address for dialing.
func hostPort(host string, port int32) string {
	return net.JoinHostPort(host, fmt.Sprint(port))
}

// statusLoop reports the pod status whenever something changed.
func (w *podWorker) statusLoop() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-w.stopCh:
			return
		case <-w.kick:
		case <-t.C:
		}
		// Coalesce bursts of changes.
		time.Sleep(20 * time.Millisecond)
		if w.stopping() {
			return
		}
		w.syncStatus()
	}
}

func (c *ctr) status() v1.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := v1.ContainerStatus{
		Name:                 c.spec.Name,
		Image:                c.spec.Image,
		ImageID:              "",
		Ready:                c.ready,
		RestartCount:         c.restarts,
		State:                *c.state.DeepCopy(),
		LastTerminationState: *c.last.DeepCopy(),
	}
	started := c.started
	st.Started = &started
	if c.exePath != "" {
		st.ImageID = "ruo-local://" + c.exePath
	}
	if c.pid > 0 {
		st.ContainerID = containerID(c.w.uid, c.spec.Name, c.pid)
	} else if c.state.Terminated != nil {
		st.ContainerID = c.state.Terminated.ContainerID
	}
	return st
}

func (w *podWorker) computeStatus(pod *v1.Pod) *v1.PodStatus {
	w.mu.Lock()
	initDone, initFailed, terminal := w.initDone, w.initFailed, w.terminalPhase
	w.mu.Unlock()
	s := &v1.PodStatus{
		HostIP:    "127.0.0.1",
		HostIPs:   []v1.HostIP{{IP: "127.0.0.1"}},
		StartTime: &w.startTime,
		QOSClass:  pod.Status.QOSClass,
	}
	if w.ip != "" {
		s.PodIP = w.ip
		s.PodIPs = []v1.PodIP{{IP: w.ip}}
	}
	for _, c := range w.inits {
		s.InitContainerStatuses = append(s.InitContainerStatuses, c.status())
	}
	allReady := len(w.ctrs) > 0
	running, waitingNew, waitingRestart, succeeded, failed := 0, 0, 0, 0, 0
	for _, c := range w.ctrs {
		cs := c.status()
		if !initDone {
			cs.State = waiting("PodInitializing", "")
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			} else {
				failed++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				waitingRestart++
			} else {
				waitingNew++
			}
		}
	}
	switch {
	case terminal != "":
		s.Phase = terminal
	case initFailed:
		s.Phase = v1.PodFailed
	case !initDone || waitingNew > 0:
		s.Phase = v1.PodPending
	case running > 0 || waitingRestart > 0:
		s.Phase = v1.PodRunning
	case failed > 0 && pod.Spec.RestartPolicy != v1.RestartPolicyAlways:
		s.Phase = v1.PodFailed
	case succeeded > 0 && failed == 0 && pod.Spec.RestartPolicy != v1.RestartPolicyAlways:
		s.Phase = v1.PodSucceeded
	default:
		s.Phase = v1.PodRunning
	}
	if s.Phase == v1.PodSucceeded || s.Phase == v1.PodFailed {
		w.mu.Lock()
		w.terminalPhase = s.Phase
		w.mu.Unlock()
		allReady = false
	}
	ready := allReady
	for _, g := range pod.Spec.ReadinessGates {
		ok := false
		for _, pc := range pod.Status.Conditions {
			if pc.Type == g.ConditionType && pc.Status == v1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			ready = false
		}
	}
	b := func(v bool) v1.ConditionStatus {
		if v {
			return v1.ConditionTrue
		}
		return v1.ConditionFalse
	}
	s.Conditions = []v1.PodCondition{
		{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue},
		{Type: v1.PodInitialized, Status: b(initDone)},
		{Type: v1.ContainersReady, Status: b(allReady)},
		{Type: v1.PodReady, Status: b(ready)},
		{Type: v1.PodScheduled, Status: v1.ConditionTrue},
	}
	for i := range s.Conditions {
		if s.Conditions[i].Status == v1.ConditionFalse && s.Conditions[i].Type != v1.PodInitialized {
			s.Conditions[i].Reason = "ContainersNotReady"
		}
	}
	return s
}

// mergeStatus writes our fields into pod.Status, keeping condition transition
// times when a condition did not change and conditions we do not own.
func mergeStatus(pod *v1.Pod, s *v1.PodStatus) *v1.Pod {
	p := pod.DeepCopy()
	now := metav1.Now()
	old := map[v1.PodConditionType]v1.PodCondition{}
	for _, c := range p.Status.Conditions {
		old[c.Type] = c
	}
	owned := map[v1.PodConditionType]bool{}
	var conds []v1.PodCondition
	for _, c := range s.Conditions {
		owned[c.Type] = true
		if o, ok := old[c.Type]; ok && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		} else {
			c.LastTransitionTime = now
		}
		conds = append(conds, c)
	}
	for _, c := range p.Status.Conditions {
		if !owned[c.Type] {
			conds = append(conds, c)
		}
	}
	p.Status.Conditions = conds
	p.Status.Phase = s.Phase
	p.Status.HostIP, p.Status.HostIPs = s.HostIP, s.HostIPs
	p.Status.PodIP, p.Status.PodIPs = s.PodIP, s.PodIPs
	p.Status.StartTime = s.StartTime
	p.Status.ContainerStatuses = s.ContainerStatuses
	p.Status.InitContainerStatuses = s.InitContainerStatuses
	if p.Status.QOSClass == "" {
		p.Status.QOSClass = s.QOSClass
	}
	return p
}

func (w *podWorker) syncStatus() {
	pod := w.latest()
	s := w.computeStatus(pod)
	w.mu.Lock()
	same := w.lastSent != nil && equality.Semantic.DeepEqual(w.lastSent, s)
	w.mu.Unlock()
	if same {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		_, err := w.a.cs.CoreV1().Pods(w.ns).UpdateStatus(ctx, mergeStatus(pod, s), metav1.UpdateOptions{})
		if err == nil {
			w.mu.Lock()
			w.lastSent = s
			w.mu.Unlock()
			return
		}
		if apierrors.IsNotFound(err) {
			return
		}
		if !apierrors.IsConflict(err) {
			klog.Warningf("pod %s: update status: %v", w.key(), err)
			time.Sleep(200 * time.Millisecond)
		}
		fresh, gerr := w.a.cs.CoreV1().Pods(w.ns).Get(ctx, w.name, metav1.GetOptions{})
		if gerr != nil {
			return
		}
		if fresh.UID != w.uid {
			return
		}
		pod = fresh
	}
	// Retry on the next kick or tick.
	w.kickStatus()
}
