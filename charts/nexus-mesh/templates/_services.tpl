{{/*
The services the chart runs, by name, with their settings: search (when search.enabled) and
each entry of .Values.services (the defaults below filled in), as YAML for fromYaml. A name
is the component's: it names the Deployment (<fullname>-<name>), its OTEL_SERVICE_NAME
(nexus-<name>) and the metrics Service (<fullname>-<name>-metrics). The consumer group is the
code's (Service(name=...)), not the chart's.
*/}}
{{- define "nexus-mesh.serviceComponents" -}}
{{- $reserved := list "admin" "config" "dashboard" "gateway" "gateway-admin" "jwt" "kafka" "kafka-credentials" "operator" "operator-status" "search" "test" "topics" "tracing" }}
{{- $all := dict }}
{{- if .Values.search.enabled }}
{{- $_ := set $all "search" .Values.search }}
{{- end }}
{{- range $name, $s := .Values.services }}
{{- if or (has $name $reserved) (hasSuffix "-metrics" $name) }}
{{- fail (printf "services.%s: the name is the chart's own (%s, or ending in -metrics): pick another" $name (join ", " $reserved)) }}
{{- end }}
{{- if not $s.args }}
{{- fail (printf "services.%s.args is required: what the image runs, e.g. [service, \"mymodule:service\"]" $name) }}
{{- end }}
{{- if or (not (hasKey $s "enabled")) $s.enabled }}
{{- $defaults := dict "replicaCount" 1 "command" (list) "metricsPort" 9464 "listenHost" "0.0.0.0" "terminationGracePeriodSeconds" 45 "resources" (deepCopy $.Values.search.resources) "podAnnotations" (dict) "podLabels" (dict) "extraEnv" (list) "nodeSelector" (dict) "tolerations" (list) "affinity" (dict) "topologySpreadConstraints" (list) "priorityClassName" "" }}
{{- $merged := mergeOverwrite $defaults (deepCopy $s) }}
{{- if hasKey $s "resources" }}
{{- /* As given: merged into search's, a request above search's limit would never schedule. */}}
{{- $_ := set $merged "resources" (deepCopy $s.resources) }}
{{- end }}
{{- $_ := set $all $name $merged }}
{{- end }}
{{- end }}
{{- toYaml $all }}
{{- end }}

{{/* A service container's env entries of the chart's own (its extraEnv follows them). Call
with (dict "root" $ "name" <the service's name> "service" <its settings>). */}}
{{- define "nexus-mesh.serviceEnv" -}}
{{ include "nexus-mesh.podEnv" (dict "root" .root "component" .name "jwt" false "extraEnv" .service.extraEnv) | trim }}
- name: NEXUS_SERVICE_METRICS_PORT
  value: {{ .service.metricsPort | quote }}
- name: NEXUS_SERVICE_METRICS_HOST
  value: {{ .service.listenHost | quote }}
{{- end }}
