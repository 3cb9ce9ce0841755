{{- define "ruo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ruo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "ruo.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "ruo.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ruo.labels" -}}
app.kubernetes.io/name: {{ include "ruo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ruo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ruo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ruo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ruo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The rules the operator needs in every namespace it watches: exactly the calls
the code makes (src/upgrade, src/runtime, src/cmd, src/k8s/events.cc), nothing
more. Informers list + watch RedisUpgrades, StatefulSets, Pods and Services;
the reconciler gets them, patches the RedisUpgrade's finalizers, writes its
status through the status subresource (update), creates and deletes the new
StatefulSet and headless Service, patches the instance Service's selector (the
switch), reads the auth Secret, and records Events (create, then patch to bump
the count of a repeated one).
*/}}
{{- define "ruo.rules" -}}
- apiGroups: ["redisupgrade.dev"]
  resources: ["redisupgrades"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["redisupgrade.dev"]
  resources: ["redisupgrades/status"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "delete", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

