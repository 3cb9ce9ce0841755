package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/klog/v2"
)

type probeSpec struct {
	handler   v1.ProbeHandler
	initial   time.Duration
	period    time.Duration
	timeout   time.Duration
	success   int
	failure   int
	synthetic bool // our default readiness check: TCP to the first containerPort
}

func fromProbe(p *v1.Probe) probeSpec {
	s := probeSpec{handler: p.ProbeHandler,
		initial: time.Duration(p.InitialDelaySeconds) * time.Second,
		period:  time.Duration(p.PeriodSeconds) * time.Second,
		timeout: time.Duration(p.TimeoutSeconds) * time.Second,
		success: int(p.SuccessThreshold), failure: int(p.FailureThreshold)}
	if s.period <= 0 {
		s.period = 10 * time.Second
	}
	if s.timeout <= 0 {
		s.timeout = time.Second
	}
	if s.success <= 0 {
		s.success = 1
	}
	if s.failure <= 0 {
		s.failure = 3
	}
	return s
}

// probeLoop runs the startup, readiness and liveness probes of one process run.
func (c *ctr) probeLoop(ctx context.Context, env *podEnv, pid int) {
	spec := c.spec
	if spec.StartupProbe != nil {
		if !c.runProbe(ctx, "startup", fromProbe(spec.StartupProbe), env, pid, func(ok bool) bool {
			return !ok // keep probing until the first success
		}) {
			return
		}
	}
	c.mu.Lock()
	c.started = true
	c.mu.Unlock()
	c.w.kickStatus()

	if spec.LivenessProbe != nil {
		go c.runProbe(ctx, "liveness", fromProbe(spec.LivenessProbe), env, pid, func(ok bool) bool {
			if !ok {
				c.mu.Lock()
				c.killReason = "liveness probe failed"
				c.mu.Unlock()
				klog.Infof("pod %s container %s: liveness probe failed, killing pid %d", c.w.key(), spec.Name, pid)
				syscall.Kill(-pid, syscall.SIGTERM)
				go func() { time.Sleep(c.w.a.cfg.maxGrace); syscall.Kill(-pid, syscall.SIGKILL) }()
				return false
			}
			return true
		})
	}

	var rp probeSpec
	switch {
	case spec.ReadinessProbe != nil:
		rp = fromProbe(spec.ReadinessProbe)
	case len(spec.Ports) > 0:
		rp = probeSpec{handler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(spec.Ports[0].ContainerPort)}},
			period: time.Second, timeout: time.Second, success: 1, failure: 3, synthetic: true}
	default:
		c.setReady(true)
		return
	}
	c.runProbe(ctx, "readiness", rp, env, pid, func(ok bool) bool {
		c.setReady(ok)
		return true
	})
}

func (c *ctr) setReady(v bool) {
	c.mu.Lock()
	changed := c.ready != v
	c.ready = v
	c.mu.Unlock()
	if changed {
		c.w.kickStatus()
	}
}

// runProbe probes until ctx ends or onResult returns false. onResult is
// called with the thresholded result whenever it changes (and on the first
// result). Returns false if ctx ended.
func (c *ctr) runProbe(ctx context.Context, kind string, p probeSpec, env *podEnv, pid int, onResult func(bool) bool) bool {
	if p.initial > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(p.initial):
		}
	}
	var okRun, failRun int
	state := -1 // unknown
	for {
		err := c.probeOnce(ctx, p, env)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			okRun++
			failRun = 0
		} else {
			failRun++
			okRun = 0
			klog.V(2).Infof("pod %s container %s: %s probe failed: %v", c.w.key(), c.spec.Name, kind, err)
		}
		newState := state
		if okRun >= p.success {
			newState = 1
		} else if failRun >= p.failure || (state == -1 && err != nil && kind != "liveness") {
			newState = 0
		}
		if newState != state {
			state = newState
			if !onResult(state == 1) {
				return true
			}
		}
		period := p.period
		if p.synthetic && state != 1 {
			period = 200 * time.Millisecond // become ready fast
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(period):
		}
	}
}

func (c *ctr) resolvePort(port intstr.IntOrString) (int32, error) {
	if port.Type == intstr.Int {
		return port.IntVal, nil
	}
	for _, p := range c.spec.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("named port %q not found in container %s", port.StrVal, c.spec.Name)
}

func (c *ctr) probeOnce(ctx context.Context, p probeSpec, env *podEnv) error {
	h := p.handler
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	host := c.w.ip
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return fmt.Errorf("empty exec probe")
		}
		cmd := exec.Command(h.Exec.Command[0], h.Exec.Command[1:]...)
		if !strings.Contains(h.Exec.Command[0], "/") {
			// Look the program up on the container's PATH (the redis-cli wrapper first).
			if lp, err := lookPathIn(h.Exec.Command[0], env.m["PATH"]); err == nil {
				cmd.Path = lp
			}
		}
		cmd.Env = env.list()
		cmd.Dir = c.w.workDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return fmt.Errorf("exec probe timed out")
		}
	case h.TCPSocket != nil:
		port, err := c.resolvePort(h.TCPSocket.Port)
		if err != nil {
			return err
		}
		if h.TCPSocket.Host != "" {
			host = h.TCPSocket.Host
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", hostPort(host, port))
		if err != nil {
			return err
		}
		return conn.Close()
	case h.HTTPGet != nil:
		port, err := c.resolvePort(h.HTTPGet.Port)
		if err != nil {
			return err
		}
		if h.HTTPGet.Host != "" {
			host = h.HTTPGet.Host
		}
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := h.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s%s", scheme, hostPort(host, port), path), nil)
		if err != nil {
			return err
		}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			req.Header.Add(hd.Name, hd.Value)
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case h.GRPC != nil:
		// No gRPC health client here: a TCP connect stands in for it.
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", hostPort(host, h.GRPC.Port))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return nil
}

func lookPathIn(file, path string) (string, error) {
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			continue
		}
		p := dir + "/" + file
		if ok, err := statExec(p); err == nil && ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", file)
}
