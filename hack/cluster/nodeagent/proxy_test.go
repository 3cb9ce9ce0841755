package main

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

func ptr[T any](v T) *T { return &v }

func TestComputeBackendsFromEndpointSlices(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	slice := func(name string, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{discoveryv1.LabelServiceName: "svc"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("redis"), Port: ptr(int32(6379)), Protocol: ptr(v1.ProtocolTCP)}},
			Endpoints:   eps,
		}
	}
	ready := discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}
	notReady := discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(false), Terminating: ptr(false)}
	terminating := discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}
	idx.Add(slice("a", []discoveryv1.Endpoint{
		{Addresses: []string{"127.1.0.3"}, Conditions: ready},
		{Addresses: []string{"127.1.0.2"}, Conditions: ready},
		{Addresses: []string{"127.1.0.4"}, Conditions: notReady},
		{Addresses: []string{"10.0.0.1"}, Conditions: ready}, // never dialled: not loopback
	}))
	other := slice("b", []discoveryv1.Endpoint{{Addresses: []string{"127.1.0.9"}, Conditions: ready}})
	other.Labels[discoveryv1.LabelServiceName] = "other"
	idx.Add(other)
	p := &Proxy{slices: discoverylisters.NewEndpointSliceLister(idx)}
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "ns"},
		Spec: v1.ServiceSpec{Ports: []v1.ServicePort{{Name: "redis", Port: 7000}}}}
	got := p.computeBackends(svc)["redis"]
	want := []string{"127.1.0.2:6379", "127.1.0.3:6379"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v want %v", got, want)
	}

	// No ready endpoint: serving+terminating ones are used (kube-proxy's fallback).
	idx.Update(slice("a", []discoveryv1.Endpoint{
		{Addresses: []string{"127.1.0.5"}, Conditions: terminating},
		{Addresses: []string{"127.1.0.4"}, Conditions: notReady},
	}))
	got = p.computeBackends(svc)["redis"]
	if len(got) != 1 || got[0] != "127.1.0.5:6379" {
		t.Fatalf("fallback: got %v", got)
	}
}
