# shellcheck shell=bash
# The sample Redis instance the demo and the chart's install test upgrade: a
# 1-pod StatefulSet of IMAGE (default redis:7.0) and a ClusterIP Service (the
# instance's VIP) selecting its pod. Prints the manifest; pipe it to
# `kubectl apply -f -`.
#   sample_instance_yaml NAMESPACE NAME MEMORY_LIMIT [IMAGE]
sample_instance_yaml() {
  local ns=$1 name=$2 memory=$3 image=${4:-redis:7.0}
  cat <<YAML
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $name, namespace: $ns}
spec:
  replicas: 1
  serviceName: $name
  selector: {matchLabels: {app: $name}}
  template:
    metadata: {labels: {app: $name}}
    spec:
      containers:
      - name: redis
        image: $image
        args: ["--port", "6379", "--save", "", "--appendonly", "no"]
        ports: [{name: redis, containerPort: 6379}]
        resources: {limits: {memory: $memory}}
---
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: $ns}
spec:
  selector: {statefulset.kubernetes.io/pod-name: $name-0}
  ports: [{name: redis, port: 6379, targetPort: redis}]
YAML
}
