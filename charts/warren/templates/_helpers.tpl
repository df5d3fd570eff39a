{{- define "warren.labels" -}}
app.kubernetes.io/name: warren
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: warren
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "warren.operatorName" -}}
{{ .Release.Name }}-operator
{{- end -}}

{{/* The operator's permissions on cluster objects; bound cluster-wide or per watched namespace. */}}
{{- define "warren.operatorRules" -}}
- apiGroups: [warren.dev]
  resources: [eventroutes, retrypolicies, databasemigrations]
  verbs: [get, list, watch, update, patch]
- apiGroups: [warren.dev]
  resources: [eventroutes/status, retrypolicies/status, databasemigrations/status]
  verbs: [get, update, patch]
- apiGroups: [warren.dev]
  resources: [eventroutes/finalizers, retrypolicies/finalizers, databasemigrations/finalizers]
  verbs: [update]
# Warren's own service ConfigMaps/Secrets (list/watch only with its label), and a
# DatabaseMigration's database Secret (one direct GET per reconcile, never cached).
- apiGroups: [""]
  resources: [configmaps, secrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# DatabaseMigration Jobs: watched by label, created per run, old ones deleted.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
# A failed migration Job's pod, listed by its job-name label once, for the end of Prisma's output.
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [monitoring.coreos.com]
  resources: [prometheusrules]
  verbs: [get, list, watch, create, update, patch, delete]
# KEDA autoscaling of consumers (spec.consumer.autoscaling): Warren's own ScaledObjects and
# TriggerAuthentications, watched by label, written by server-side apply, pruned when unused.
- apiGroups: [keda.sh]
  resources: [scaledobjects, triggerauthentications]
  verbs: [get, list, watch, create, patch, delete]
{{- end -}}

{{/* The services and the reference topology go into the release namespace: it must be watched. */}}
{{- define "warren.assertReleaseNamespaceWatched" -}}
{{- $watched := .Values.operator.watchNamespaces }}
{{- if and $watched (or .Values.services.enabled .Values.topology.enabled) (not (has .Release.Namespace $watched)) }}
{{- fail (printf "services.enabled / topology.enabled put objects into the release namespace %s, which operator.watchNamespaces [%s] does not include: add it, or disable both" .Release.Namespace (join ", " $watched)) }}
{{- end }}
{{- end -}}
