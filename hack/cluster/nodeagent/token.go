package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

func statExec(p string) (bool, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return !fi.IsDir() && fi.Mode()&0o111 != 0, nil
}

// saEnabled tells whether the pod gets a projected service-account token.
func (w *podWorker) saEnabled() bool {
	p := w.latest()
	return p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken
}

const tokenTTL = time.Hour

// ensureServiceAccount projects token, ca.crt and namespace into w.saDir the
// first time a container needs them and keeps the token fresh (TokenRequest
// bound to the pod, refreshed at 80% of its lifetime) for the pod's life.
func (w *podWorker) ensureServiceAccount(pod *v1.Pod) error {
	if !w.saEnabled() {
		return nil
	}
	w.saOnce.Do(func() {
		go func() {
			var exp time.Time
			for attempt := 0; ; attempt++ {
				var err error
				exp, err = w.refreshToken(pod)
				if err == nil {
					break
				}
				if attempt == 0 || attempt%10 == 0 {
					klog.Warningf("pod %s: service account token: %v", w.key(), err)
				}
				w.mu.Lock()
				w.saErr = err
				w.mu.Unlock()
				if !w.sleep(time.Second) {
					return
				}
			}
			w.mu.Lock()
			w.saErr = nil
			w.mu.Unlock()
			close(w.saReady)
			for {
				wait := time.Until(exp) * 4 / 5
				if wait < 5*time.Second {
					wait = 5 * time.Second
				}
				if !w.sleep(wait) {
					return
				}
				e, err := w.refreshToken(w.latest())
				if err != nil {
					klog.Warningf("pod %s: refresh service account token: %v", w.key(), err)
					exp = time.Now().Add(30 * time.Second)
					continue
				}
				exp = e
			}
		}()
	})
	select {
	case <-w.saReady:
		return nil
	case <-w.stopCh:
		return fmt.Errorf("pod stopping")
	case <-time.After(10 * time.Second):
		w.mu.Lock()
		err := w.saErr
		w.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("timed out waiting for the token")
		}
		return err
	}
}

func (w *podWorker) refreshToken(pod *v1.Pod) (time.Time, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	ttl := int64(tokenTTL / time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := w.a.cs.CoreV1().ServiceAccounts(w.ns).CreateToken(ctx, sa, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{
			ExpirationSeconds: &ttl,
			BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("TokenRequest for %s/%s: %w", w.ns, sa, err)
	}
	if err := os.MkdirAll(w.saDir, 0o755); err != nil {
		return time.Time{}, err
	}
	for name, data := range map[string][]byte{
		"token":     []byte(tr.Status.Token),
		"ca.crt":    w.a.cfg.caData,
		"namespace": []byte(w.ns),
	} {
		if err := atomicWrite(filepath.Join(w.saDir, name), data, 0o644); err != nil {
			return time.Time{}, err
		}
	}
	return tr.Status.ExpirationTimestamp.Time, nil
}
