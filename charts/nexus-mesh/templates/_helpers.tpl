{{/*
Names and labels, per `helm create` conventions.
*/}}

{{/* The chart name, or nameOverride; used in app.kubernetes.io/name. */}}
{{- define "nexus-mesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name every object starts with: fullnameOverride, else <release>-<name> (just the
release when it already contains the name). Truncated to 63 characters (DNS label); the
component suffixes ("-gateway", "-search", ...) are added within that limit.
*/}}
{{- define "nexus-mesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<component>, within 63 characters. Call with (list $ "gateway"). */}}
{{- define "nexus-mesh.componentName" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- printf "%s-%s" (include "nexus-mesh.fullname" $root | trunc (int (sub 62 (len $component))) | trimSuffix "-") $component }}
{{- end }}

{{/* chart name and version, for the helm.sh/chart label. */}}
{{- define "nexus-mesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "nexus-mesh.labels" -}}
helm.sh/chart: {{ include "nexus-mesh.chart" . }}
{{ include "nexus-mesh.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "nexus-mesh.name" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The two stable labels selectors use. */}}
{{- define "nexus-mesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nexus-mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/* Labels of a component's objects. Call with (list $ "gateway"). */}}
{{- define "nexus-mesh.componentLabels" -}}
{{ include "nexus-mesh.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* Selector labels of a component's pods. Call with (list $ "gateway"). */}}
{{- define "nexus-mesh.componentSelectorLabels" -}}
{{ include "nexus-mesh.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "nexus-mesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nexus-mesh.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "nexus-mesh.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- /* The tag may carry a digest (skaffold sets "tag@sha256:..."), or be one ("@sha256:...").
With no digest to give (an image it did not push) skaffold leaves "tag@": the tag alone then,
rather than an image reference no runtime can parse. */}}
{{- $tag := trimSuffix "@" (default .Chart.AppVersion .Values.image.tag) }}
{{- printf "%s%s%s" .Values.image.repository (ternary "" ":" (hasPrefix "@" $tag)) $tag }}
{{- end }}
{{- end }}

{{/* The Grafana dashboard's title and its ConfigMap key (the sidecar's file name), both of
this release's own: see grafana-dashboard.yaml. */}}
{{- define "nexus-mesh.dashboardTitle" -}}
{{- printf "Nexus Mesh (%s/%s)" .Release.Namespace .Release.Name }}
{{- end }}

{{- define "nexus-mesh.dashboardKey" -}}
{{- printf "%s_%s.json" .Release.Namespace (include "nexus-mesh.fullname" .) }}
{{- end }}

{{/*
Kafka and topic settings.
*/}}

{{- define "nexus-mesh.kafkaBootstrap" -}}
{{- if .Values.devKafka.enabled }}
{{- printf "%s.%s.svc.%s:9092" (include "nexus-mesh.componentName" (list . "kafka")) .Release.Namespace .Values.clusterDomain }}
{{- else }}
{{- .Values.kafka.bootstrapServers }}
{{- end }}
{{- end }}

{{- define "nexus-mesh.replicationFactor" -}}
{{- if kindIs "invalid" .Values.topics.replicationFactor }}
{{- ternary 1 3 .Values.devKafka.enabled }}
{{- else }}
{{- .Values.topics.replicationFactor }}
{{- end }}
{{- end }}

{{- define "nexus-mesh.minInsyncReplicas" -}}
{{- if kindIs "invalid" .Values.topics.minInsyncReplicas }}
{{- ternary 1 2 .Values.devKafka.enabled }}
{{- else }}
{{- .Values.topics.minInsyncReplicas }}
{{- end }}
{{- end }}

{{- define "nexus-mesh.kafkaSecretName" -}}
{{- default (include "nexus-mesh.componentName" (list . "kafka-credentials")) .Values.kafka.sasl.existingSecret }}
{{- end }}

{{- define "nexus-mesh.kafkaUsesSasl" -}}
{{- if and (not .Values.devKafka.enabled) (hasPrefix "SASL" .Values.kafka.securityProtocol) }}true{{ end }}
{{- end }}

{{/* Whether the chart makes the SASL password Secret (rather than using existingSecret). */}}
{{- define "nexus-mesh.kafkaSecretCreated" -}}
{{- if and (include "nexus-mesh.kafkaUsesSasl" .) (not .Values.kafka.sasl.existingSecret) }}true{{ end }}
{{- end }}

{{- define "nexus-mesh.kafkaTlsMounted" -}}
{{- if and (not .Values.devKafka.enabled) .Values.kafka.tls.existingSecret (has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL")) }}true{{ end }}
{{- end }}

{{- /* Values added after the chart's first release are read with defaults: `helm upgrade
--reuse-values` from an older release brings that release's values, without them. */}}
{{- define "nexus-mesh.adminSecretName" -}}
{{- $admin := .Values.gateway.adminToken | default dict }}
{{- default (include "nexus-mesh.componentName" (list . "admin")) $admin.existingSecret }}
{{- end }}

{{- define "nexus-mesh.adminSecretKey" -}}
{{- $admin := .Values.gateway.adminToken | default dict }}
{{- ternary ($admin.existingSecretKey | default "admin-token") "admin-token" (not (empty $admin.existingSecret)) }}
{{- end }}

{{- define "nexus-mesh.jwtSecretName" -}}
{{- default (include "nexus-mesh.componentName" (list . "jwt")) .Values.auth.jwt.existingSecret }}
{{- end }}

{{/*
When the topic Job runs. Before the release's objects (pre-install/pre-upgrade) whenever it can:
`helm install --wait`, `--atomic`, Flux and Argo CD wait for ready gateways before they run
post-* hooks, and a gateway is not ready until its topics exist. Only a Kafka or a Secret that
the release itself makes forces post-* (they do not exist before it).
*/}}
{{- define "nexus-mesh.topicsHooks" -}}
{{- if .Values.topicsJob.hooks }}
{{- join "," .Values.topicsJob.hooks }}
{{- else if or .Values.devKafka.enabled (include "nexus-mesh.kafkaSecretCreated" .) }}
{{- "post-install,post-upgrade" }}
{{- else }}
{{- "pre-install,pre-upgrade" }}
{{- end }}
{{- end }}

{{- define "nexus-mesh.topicsJobIsPreHook" -}}
{{- if contains "pre-" (include "nexus-mesh.topicsHooks" .) }}true{{ end }}
{{- end }}

{{/*
A fingerprint of the secrets in values, so that changing one rolls the pods. Pod annotations
are readable by anyone who may list pods: a plain hash would let them test password guesses
offline, so this is sprig's derivePassword (scrypt, N=32768), slow to test guesses against.
*/}}
{{- define "nexus-mesh.secretsFingerprint" -}}
{{- derivePassword 1 "long" (toJson .secrets) .root.Release.Namespace (printf "%s/nexus-mesh-rollout" .root.Release.Name) }}
{{- end }}

{{/* Whether spans are made: on, and somewhere to send them (see otel.enabled). */}}
{{- define "nexus-mesh.tracing" -}}
{{- if and .Values.otel.enabled (or (ne .Values.otel.tracesExporter "otlp") (include "nexus-mesh.otelEndpoint" .)) }}true{{ end }}
{{- end }}

{{- define "nexus-mesh.otelEndpoint" -}}
{{- if .Values.otel.endpoint }}
{{- .Values.otel.endpoint }}
{{- else if .Values.devTracing.enabled }}
{{- printf "http://%s:4318" (include "nexus-mesh.componentName" (list . "tracing")) }}
{{- end }}
{{- end }}

{{/*
Milliseconds of a Prometheus duration as values.schema.json admits them ("1h30m", "10s",
"500ms"): units in that order, each at most once.
*/}}
{{- define "nexus-mesh.durationMs" -}}
{{- $re := "^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$" -}}
{{- $h := regexReplaceAll $re . "${1}" | default "0" | int64 -}}
{{- $m := regexReplaceAll $re . "${2}" | default "0" | int64 -}}
{{- $s := regexReplaceAll $re . "${3}" | default "0" | int64 -}}
{{- $ms := regexReplaceAll $re . "${4}" | default "0" | int64 -}}
{{- add (mul $h 3600000) (mul $m 60000) (mul $s 1000) $ms -}}
{{- end }}

{{/*
Checks that cannot be expressed in values.schema.json; rendering fails with the reason.
*/}}
{{- define "nexus-mesh.validate" -}}
{{- $drain := .Values.gateway.drain }}
{{- $needed := add $drain.preStopSleepSeconds $drain.timeoutSeconds $drain.marginSeconds }}
{{- if lt (int .Values.gateway.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%d) must be at least gateway.drain.preStopSleepSeconds + timeoutSeconds + marginSeconds (%d + %d + %d = %d): the kubelet would kill gateways in the middle of their drain" (int .Values.gateway.terminationGracePeriodSeconds) (int $drain.preStopSleepSeconds) (int $drain.timeoutSeconds) (int $drain.marginSeconds) (int $needed)) }}
{{- end }}
{{- /* A service's stop with ServiceConfig's defaults (README, Drain timing), which the chart
cannot see in the service's code: records in hand, cancelled handlers, the commit, closing its
Kafka clients (bounded in the code), the last spans. */}}
{{- $export := int .Values.otel.shutdownExportSeconds }}
{{- $stop := add 10 5 10 15 $export }}
{{- range $name, $s := include "nexus-mesh.serviceComponents" . | fromYaml }}
{{- if lt (int $s.terminationGracePeriodSeconds) (int $stop) }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) must be at least a service's stop, 10 s (stop_timeout_s) + 5 s (cancelled handlers) + 10 s (the commit, send_timeout_s) + 15 s (closing its Kafka clients) + %d s (otel.shutdownExportSeconds) = %d s: the kubelet would kill it before its commit, its leaving the group or its last spans" (ternary "search" (printf "services.%s" $name) (eq $name "search")) (int $s.terminationGracePeriodSeconds) $export (int $stop)) }}
{{- end }}
{{- end }}
{{- if and (include "nexus-mesh.tracing" .) (ge (int .Values.otel.shutdownExportSeconds) (int $drain.marginSeconds)) }}
{{- fail (printf "otel.shutdownExportSeconds (%d) must be less than gateway.drain.marginSeconds (%d): exporting the last spans happens after the drain, inside the margin" (int .Values.otel.shutdownExportSeconds) (int $drain.marginSeconds)) }}
{{- end }}
{{- if gt (int (include "nexus-mesh.minInsyncReplicas" .)) (int (include "nexus-mesh.replicationFactor" .)) }}
{{- fail (printf "topics.minInsyncReplicas (%s) must not exceed topics.replicationFactor (%s)" (include "nexus-mesh.minInsyncReplicas" .) (include "nexus-mesh.replicationFactor" .)) }}
{{- end }}
{{- if and .Values.devKafka.enabled (gt (int (include "nexus-mesh.replicationFactor" .)) 1) }}
{{- fail "devKafka runs a single broker: topics.replicationFactor must be 1 (or null)" }}
{{- end }}
{{- if gt (int .Values.gateway.config.maxEventBytes) (int .Values.gateway.config.maxFrameBytes) }}
{{- fail "gateway.config.maxEventBytes must not exceed gateway.config.maxFrameBytes" }}
{{- end }}
{{- if eq (int .Values.gateway.port) (int .Values.gateway.adminPort) }}
{{- fail "gateway.port and gateway.adminPort must differ" }}
{{- end }}
{{- if and (include "nexus-mesh.kafkaUsesSasl" .) (not .Values.kafka.sasl.mechanism) }}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.mechanism and kafka.sasl.username" .Values.kafka.securityProtocol) }}
{{- end }}
{{- if and (include "nexus-mesh.kafkaUsesSasl" .) (not .Values.kafka.sasl.username) }}
{{- fail (printf "kafka.securityProtocol=%s needs kafka.sasl.username" .Values.kafka.securityProtocol) }}
{{- end }}
{{- if and (include "nexus-mesh.kafkaSecretCreated" .) (not .Values.kafka.sasl.password) }}
{{- fail "SASL needs kafka.sasl.password or kafka.sasl.existingSecret" }}
{{- end }}
{{- if and .Values.ingress.enabled (ge (int .Values.gateway.config.heartbeatSeconds) (int .Values.ingress.timeoutSeconds)) }}
{{- fail (printf "gateway.config.heartbeatSeconds (%d) must be less than ingress.timeoutSeconds (%d): the proxy would close idle WebSockets between heartbeats" (int .Values.gateway.config.heartbeatSeconds) (int .Values.ingress.timeoutSeconds)) }}
{{- end }}
{{- with .Values.serviceMonitor }}
{{- if and .enabled (gt (include "nexus-mesh.durationMs" .scrapeTimeout | int64) (include "nexus-mesh.durationMs" .interval | int64)) }}
{{- fail (printf "serviceMonitor.scrapeTimeout (%s) must not exceed serviceMonitor.interval (%s): Prometheus refuses such a scrape configuration" .scrapeTimeout .interval) }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.tls.keyKey (not .Values.kafka.tls.certKey) }}
{{- fail "kafka.tls.keyKey needs kafka.tls.certKey" }}
{{- end }}
{{- $preHooks := include "nexus-mesh.topicsJobIsPreHook" . }}
{{- if and .Values.topicsJob.enabled $preHooks .Values.devKafka.enabled }}
{{- fail "topicsJob.hooks: pre-install/pre-upgrade cannot reach devKafka, which only exists after install; use post-install,post-upgrade" }}
{{- end }}
{{- if and .Values.topicsJob.enabled $preHooks (include "nexus-mesh.kafkaSecretCreated" .) }}
{{- fail "topicsJob.hooks: a pre-install/pre-upgrade Job runs before the chart's Secrets exist; put the SASL password in kafka.sasl.existingSecret" }}
{{- end }}
{{- if and .Values.tests.enabled (eq .Values.auth.mode "jwt") .Values.auth.jwt.publicKey (not .Values.auth.jwt.secret) (not .Values.auth.jwt.existingSecret) (not .Values.tests.tokenSecret.name) }}
{{- fail "tests: with only auth.jwt.publicKey the test pod cannot sign a token; set tests.tokenSecret (a Secret holding a valid token) or tests.enabled=false" }}
{{- end }}
{{- if and .Values.gateway.autoscaling.enabled (lt (int .Values.gateway.autoscaling.maxReplicas) (int .Values.gateway.autoscaling.minReplicas)) }}
{{- fail "gateway.autoscaling.maxReplicas must be at least minReplicas" }}
{{- end }}
{{- include "nexus-mesh.validateAutoscaling" . }}
{{- include "nexus-mesh.validateStrategy" . }}
{{- if and .Values.prometheusRule.enabled (not .Values.serviceMonitor.enabled) }}
{{- fail "prometheusRule: the gateway alerts read the series of this chart's ServiceMonitors (their job label); set serviceMonitor.enabled=true too" }}
{{- end }}
{{- include "nexus-mesh.validateAuth" . }}
{{- include "nexus-mesh.validatePdb" . }}
{{- if and .Values.kafka.tls.existingSecret (not .Values.devKafka.enabled) (not (include "nexus-mesh.kafkaTlsMounted" .)) }}
{{- fail (printf "kafka.tls.existingSecret is used only with kafka.securityProtocol SSL or SASL_SSL, not %s: the mesh would connect without TLS" .Values.kafka.securityProtocol) }}
{{- end }}
{{- /* The TLS files are mounted 0440 (the client key stays private): owner root, group the
pod's fsGroup. podSecurityContext.fsGroup null is not refused: a platform may assign the
fsGroup itself (OpenShift's restricted-v2 SCC does); without one the mesh's user cannot read
the files (README, Kafka). */}}
{{- end }}

{{/* An HPA whose metrics are empty scales on Kubernetes's default, 80% CPU; one whose target
is a share of a request that is not set never scales ("missing request"). */}}
{{- define "nexus-mesh.validateAutoscaling" -}}
{{- $as := .Values.gateway.autoscaling }}
{{- if $as.enabled }}
{{- if not (or $as.targetCPUUtilizationPercentage $as.targetMemoryUtilizationPercentage) }}
{{- fail "gateway.autoscaling.targetCPUUtilizationPercentage and targetMemoryUtilizationPercentage are both null: the HPA would have no metric and Kubernetes would scale on its default, 80% CPU; set one of them (e.g. gateway.autoscaling.targetCPUUtilizationPercentage=70)" }}
{{- end }}
{{- /* A limit without a request is copied into the request by Kubernetes, so either will do.
A LimitRange's default request would do too, but the chart cannot see one. */}}
{{- $resources := .Values.gateway.resources | default dict }}
{{- $requests := $resources.requests | default dict }}
{{- $limits := $resources.limits | default dict }}
{{- $targets := dict "cpu" (list "targetCPUUtilizationPercentage" "CPU" "250m") "memory" (list "targetMemoryUtilizationPercentage" "memory" "256Mi") }}
{{- range $resource := list "cpu" "memory" }}
{{- $key := index (get $targets $resource) 0 }}
{{- $target := index $as $key }}
{{- if and $target (not (index $requests $resource)) (not (index $limits $resource)) }}
{{- fail (printf "gateway.autoscaling.%s (%v) is a share of the gateway's %s request, but gateway.resources sets neither requests.%s nor limits.%s (which Kubernetes would copy into the request): the HPA could not compute utilization and would never scale; set gateway.resources.requests.%s (e.g. %s). A LimitRange's default request is not visible to the chart: set the request explicitly even where one applies" $key $target (index (get $targets $resource) 1) $resource $resource $resource (index (get $targets $resource) 2)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A rolling update that may neither add a pod nor remove one is refused by the API server
("may not be 0 when maxSurge is 0"); "0%" counts as 0 there too. */}}
{{- define "nexus-mesh.validateStrategy" -}}
{{- $strategy := .Values.gateway.strategy | default dict }}
{{- if eq (toString $strategy.type) "RollingUpdate" }}
{{- $rolling := $strategy.rollingUpdate | default dict }}
{{- $surge := index $rolling "maxSurge" }}
{{- $unavailable := index $rolling "maxUnavailable" }}
{{- if not (or (kindIs "invalid" $surge) (kindIs "invalid" $unavailable)) }}
{{- if and (eq (int (trimSuffix "%" (toString $surge))) 0) (eq (int (trimSuffix "%" (toString $unavailable))) 0) }}
{{- fail (printf "gateway.strategy.rollingUpdate.maxSurge (%v) and maxUnavailable (%v) are both 0: the API server rejects such a Deployment (a rollout could neither add a gateway nor remove one); set gateway.strategy.rollingUpdate.maxSurge to 1 (the default: each new gateway starts before an old one stops) or maxUnavailable to 1" $surge $unavailable) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
extraEnv may set any variable the container's env does not have yet (one of the ConfigMap's
settings too: env wins over envFrom, for that container alone), and those of
nexus-mesh.overridableEnv (podEnv then leaves the chart's out, so they are not in .env), but
not one of the chart's other entries: a second entry of a name silently replaces the first (a
plaintext value over a Secret reference, say), and strategic-merge patches of such lists go
wrong. Call with (dict
"path" "gateway" "env" <the chart's env as YAML> "extraEnv" <the list> "conflicts" <dict of
further refused names, each with its reason>); path is where the component's values are.
*/}}
{{- define "nexus-mesh.validateExtraEnv" -}}
{{- $own := list }}
{{- range (fromYamlArray .env) }}
{{- $own = append $own .name }}
{{- end }}
{{- $instead := dict }}
{{- $_ := set $instead "OTEL_RESOURCE_ATTRIBUTES" "otel.resourceAttributes" }}
{{- $_ = set $instead "NEXUS_KAFKA_SASL_PASSWORD" "kafka.sasl.existingSecret (or kafka.sasl.password)" }}
{{- $_ = set $instead "NEXUS_JWT_SECRET" "auth.jwt.existingSecret (or auth.jwt.secret)" }}
{{- $_ = set $instead "NEXUS_JWT_PREVIOUS_SECRET" "auth.jwt.previousSecret (or the previous-secret key of auth.jwt.existingSecret)" }}
{{- $_ = set $instead "NEXUS_JWT_PUBLIC_KEY" "auth.jwt.publicKey (or auth.jwt.existingSecret)" }}
{{- $_ = set $instead "NEXUS_GATEWAY_ADMIN_TOKEN_FILE" "gateway.adminToken.existingSecret" }}
{{- $_ = set $instead "NEXUS_SERVICE_METRICS_PORT" (printf "%s.metricsPort" .path) }}
{{- $_ = set $instead "NEXUS_SERVICE_METRICS_HOST" (printf "%s.listenHost" .path) }}
{{- $key := printf "%s.extraEnv" .path }}
{{- $conflicts := .conflicts | default dict }}
{{- range .extraEnv }}
{{- if has .name $own }}
{{- $fix := ternary (printf "use %s instead" (get $instead .name)) (printf "remove it from %s" $key) (hasKey $instead .name) }}
{{- fail (printf "%s sets %s, which the chart already sets in that container (a second entry would silently replace the chart's); %s" $key .name $fix) }}
{{- end }}
{{- if hasKey $conflicts .name }}
{{- fail (printf "%s sets %s: %s" $key .name (get $conflicts .name)) }}
{{- end }}
{{- end }}
{{- end }}

{{/* What the gateway refuses at start (nexus_gateway.auth), refused here at render instead. */}}
{{- define "nexus-mesh.validateAuth" -}}
{{- $jwt := .Values.auth.jwt }}
{{- if and $jwt.previousSecret (eq .Values.auth.mode "jwt") }}
{{- if $jwt.existingSecret }}
{{- fail (printf "auth.jwt.previousSecret is not read with auth.jwt.existingSecret: put the previous secret in that Secret's %s key instead" ($jwt.previousSecretKey | default "jwt-previous-secret")) }}
{{- end }}
{{- if not (has "HS256" .Values.auth.algorithms | or (has "HS384" .Values.auth.algorithms) | or (has "HS512" .Values.auth.algorithms)) }}
{{- fail "auth.jwt.previousSecret is an HS* secret, but auth.algorithms lists no HS* algorithm: for RS*/ES* keys, list the old and the new one in auth.jwt.publicKey" }}
{{- end }}
{{- end }}
{{- if and (eq .Values.auth.mode "jwt") (not $jwt.existingSecret) }}
{{- $minimum := dict "HS256" 32 "HS384" 48 "HS512" 64 }}
{{- range .Values.auth.algorithms }}
{{- if hasPrefix "HS" . }}
{{- if and $jwt.publicKey (not $jwt.secret) }}
{{- fail (printf "auth.algorithms has %s, which needs auth.jwt.secret (a secret is generated only when neither secret nor publicKey is set); drop %s or set the secret" . .) }}
{{- end }}
{{- if and $jwt.secret (lt (len $jwt.secret) (int (get $minimum .))) }}
{{- fail (printf "auth.jwt.secret is %d bytes; %s needs at least %d (RFC 7518 section 3.2)" (len $jwt.secret) . (int (get $minimum .))) }}
{{- end }}
{{- if and $jwt.previousSecret (lt (len $jwt.previousSecret) (int (get $minimum .))) }}
{{- fail (printf "auth.jwt.previousSecret is %d bytes; %s needs at least %d, as the gateway checks it too" (len $jwt.previousSecret) . (int (get $minimum .))) }}
{{- end }}
{{- else if not $jwt.publicKey }}
{{- fail (printf "auth.algorithms has %s, which needs auth.jwt.publicKey (PEM) or auth.jwt.existingSecret" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* A budget that allows no eviction at all blocks every node drain forever. */}}
{{- define "nexus-mesh.validatePdb" -}}
{{- $pdb := .Values.gateway.pdb }}
{{- if $pdb.enabled }}
{{- $replicas := ternary .Values.gateway.autoscaling.minReplicas .Values.gateway.replicaCount .Values.gateway.autoscaling.enabled | int }}
{{- if not (kindIs "invalid" $pdb.minAvailable) }}
{{- $min := toString $pdb.minAvailable }}
{{- $required := int $min }}
{{- if hasSuffix "%" $min }}
{{- /* The disruption controller rounds a percentage of minAvailable up. */}}
{{- $required = div (add (mul (int (trimSuffix "%" $min)) $replicas) 99) 100 }}
{{- end }}
{{- if ge (int $required) $replicas }}
{{- fail (printf "gateway.pdb.minAvailable (%s) leaves no gateway evictable with %d replica(s): node drains would hang; lower it or use maxUnavailable" $min $replicas) }}
{{- end }}
{{- else if not (kindIs "invalid" $pdb.maxUnavailable) }}
{{- if has (toString $pdb.maxUnavailable) (list "0" "0%") }}
{{- fail "gateway.pdb.maxUnavailable 0 allows no eviction: node drains would hang; use 1 or more" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Environment shared by every mesh container (rendered into the ConfigMap).
*/}}
{{- define "nexus-mesh.configData" -}}
NEXUS_KAFKA_BOOTSTRAP_SERVERS: {{ include "nexus-mesh.kafkaBootstrap" . | quote }}
NEXUS_KAFKA_SECURITY_PROTOCOL: {{ ternary "PLAINTEXT" .Values.kafka.securityProtocol .Values.devKafka.enabled | quote }}
NEXUS_KAFKA_REQUEST_TIMEOUT_MS: {{ .Values.kafka.requestTimeoutMs | quote }}
{{- if include "nexus-mesh.kafkaUsesSasl" . }}
NEXUS_KAFKA_SASL_MECHANISM: {{ .Values.kafka.sasl.mechanism | quote }}
NEXUS_KAFKA_SASL_USERNAME: {{ .Values.kafka.sasl.username | quote }}
{{- end }}
{{- if include "nexus-mesh.kafkaTlsMounted" . }}
{{- with .Values.kafka.tls.caKey }}
NEXUS_KAFKA_SSL_CAFILE: {{ printf "/etc/nexus/kafka-tls/%s" . | quote }}
{{- end }}
{{- if .Values.kafka.tls.certKey }}
NEXUS_KAFKA_SSL_CERTFILE: {{ printf "/etc/nexus/kafka-tls/%s" .Values.kafka.tls.certKey | quote }}
{{- end }}
{{- if .Values.kafka.tls.keyKey }}
NEXUS_KAFKA_SSL_KEYFILE: {{ printf "/etc/nexus/kafka-tls/%s" .Values.kafka.tls.keyKey | quote }}
{{- end }}
{{- end }}
NEXUS_TOPIC_PREFIX: {{ .Values.topics.prefix | quote }}
NEXUS_TOPIC_REPLICATION_FACTOR: {{ include "nexus-mesh.replicationFactor" . | quote }}
NEXUS_TOPIC_MIN_INSYNC_REPLICAS: {{ include "nexus-mesh.minInsyncReplicas" . | quote }}
NEXUS_CLIENTS_PARTITIONS: {{ .Values.topics.clients.partitions | quote }}
NEXUS_CLIENTS_RETENTION_MS: {{ .Values.topics.clients.retentionMs | int64 | quote }}
NEXUS_SYSTEM_PARTITIONS: {{ .Values.topics.system.partitions | quote }}
NEXUS_SYSTEM_RETENTION_MS: {{ .Values.topics.system.retentionMs | int64 | quote }}
NEXUS_DOMAIN_PARTITIONS: {{ .Values.topics.domain.partitions | quote }}
NEXUS_DOMAIN_RETENTION_MS: {{ .Values.topics.domain.retentionMs | int64 | quote }}
NEXUS_DLQ_PARTITIONS: {{ .Values.topics.dlq.partitions | quote }}
NEXUS_DLQ_RETENTION_MS: {{ .Values.topics.dlq.retentionMs | int64 | quote }}
NEXUS_AUTH: {{ .Values.auth.mode | quote }}
NEXUS_AUTH_QUERY_TOKEN: {{ ternary .Values.auth.queryToken true (hasKey .Values.auth "queryToken") | quote }}
NEXUS_JWT_ALGORITHMS: {{ toJson .Values.auth.algorithms | quote }}
{{- with .Values.auth.audience }}
NEXUS_JWT_AUDIENCE: {{ . | quote }}
{{- end }}
{{- with .Values.auth.issuer }}
NEXUS_JWT_ISSUER: {{ . | quote }}
{{- end }}
NEXUS_LOG_LEVEL: {{ .Values.logLevel | quote }}
NEXUS_LOG_FORMAT: {{ .Values.logFormat | quote }}
NEXUS_GATEWAY_HOST: {{ .Values.gateway.listenHost | quote }}
NEXUS_GATEWAY_PORT: {{ .Values.gateway.port | quote }}
NEXUS_GATEWAY_ADMIN_PORT: {{ .Values.gateway.adminPort | quote }}
NEXUS_GATEWAY_DRAIN_TIMEOUT_S: {{ .Values.gateway.drain.timeoutSeconds | quote }}
NEXUS_GATEWAY_MAX_EVENT_BYTES: {{ .Values.gateway.config.maxEventBytes | int64 | quote }}
NEXUS_GATEWAY_MAX_FRAME_BYTES: {{ .Values.gateway.config.maxFrameBytes | int64 | quote }}
NEXUS_GATEWAY_CLIENT_BUFFER_BYTES: {{ .Values.gateway.config.clientBufferBytes | int64 | quote }}
NEXUS_GATEWAY_MAX_DELIVERY_BYTES: {{ .Values.gateway.config.maxDeliveryBytes | default 4194304 | int64 | quote }}
NEXUS_GATEWAY_RATE_PER_S: {{ .Values.gateway.config.ratePerSecond | quote }}
NEXUS_GATEWAY_RATE_BURST: {{ .Values.gateway.config.rateBurst | quote }}
NEXUS_GATEWAY_IDEMPOTENCY_WINDOW_S: {{ .Values.gateway.config.idempotencyWindowSeconds | quote }}
NEXUS_GATEWAY_IDEMPOTENCY_MAX_ENTRIES: {{ .Values.gateway.config.idempotencyMaxEntries | int64 | quote }}
NEXUS_GATEWAY_IDEMPOTENCY_PER_USER: {{ .Values.gateway.config.idempotencyPerUser | default 0 | int64 | quote }}
NEXUS_GATEWAY_PRODUCE_TIMEOUT_S: {{ .Values.gateway.config.produceTimeoutSeconds | quote }}
NEXUS_GATEWAY_HEARTBEAT_S: {{ .Values.gateway.config.heartbeatSeconds | quote }}
NEXUS_GATEWAY_REPLAY_TIMEOUT_S: {{ .Values.gateway.config.replayTimeoutSeconds | default 60 | quote }}
NEXUS_GATEWAY_DEMO: {{ .Values.gateway.config.demo | quote }}
NEXUS_GATEWAY_ALLOWED_ORIGINS: {{ .Values.gateway.config.allowedOrigins | default list | toJson | quote }}
{{- if include "nexus-mesh.tracing" . }}
{{- with (include "nexus-mesh.otelEndpoint" .) }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
OTEL_EXPORTER_OTLP_PROTOCOL: {{ .Values.otel.protocol | quote }}
NEXUS_OTLP_PIPELINE: {{ .Values.otel.pipeline | quote }}
OTEL_BSP_EXPORT_TIMEOUT: {{ mul .Values.otel.shutdownExportSeconds 1000 | int64 | quote }}
{{- /*
The SDK's batch processor (pipeline sdk, the zipkin exporter) ignores OTEL_BSP_EXPORT_TIMEOUT:
its exporter's own timeout (seconds, 10 by default) bounds the last export instead, and every
other export with it. fastotel (pipelines native and sdk-spans) honours the former, and keeps
its exporter's default for the exports in between.
*/}}
{{- if or (eq .Values.otel.pipeline "sdk") (eq .Values.otel.tracesExporter "zipkin_json") }}
OTEL_EXPORTER_OTLP_TIMEOUT: {{ .Values.otel.shutdownExportSeconds | int64 | quote }}
{{- end }}
{{- if eq .Values.otel.tracesExporter "zipkin_json" }}
OTEL_EXPORTER_ZIPKIN_TIMEOUT: {{ .Values.otel.shutdownExportSeconds | int64 | quote }}
{{- with .Values.otel.endpoint }}
OTEL_EXPORTER_ZIPKIN_ENDPOINT: {{ . | quote }}
{{- end }}
{{- end }}
OTEL_TRACES_EXPORTER: {{ .Values.otel.tracesExporter | quote }}
OTEL_TRACES_SAMPLER: {{ .Values.otel.tracesSampler | quote }}
OTEL_TRACES_SAMPLER_ARG: {{ .Values.otel.tracesSamplerArg | quote }}
{{- else }}
OTEL_SDK_DISABLED: "true"
{{- end }}
{{- end }}

{{/*
Per-container environment: the pod's identity from the downward API (POD_NAME, POD_NAMESPACE,
NODE_NAME, which the mesh's tracing set-up reads), OTEL service name and resource attributes,
and the secrets. Call with (dict "root" $ "component" "gateway" "extraEnv" <the container's
extraEnv>). The names of nexus-mesh.overridableEnv that extraEnv sets are left out here, so
that each appears once, with extraEnv's value; every other name of the chart's stays, and
nexus-mesh.validateExtraEnv refuses extraEnv repeating it.
*/}}
{{- define "nexus-mesh.podEnv" -}}
{{- $root := .root }}
{{- $overridden := list }}
{{- $overridable := include "nexus-mesh.overridableEnv" . | fromYamlArray }}
{{- range .extraEnv }}
{{- if has .name $overridable }}
{{- $overridden = append $overridden .name }}
{{- end }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- if and (eq .component "gateway") (not (has "NEXUS_GATEWAY_INSTANCE" $overridden)) }}
- name: NEXUS_GATEWAY_INSTANCE
  value: "$(POD_NAME)"
{{- end }}
{{- if not (has "OTEL_SERVICE_NAME" $overridden) }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "nexus-%s" .component | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "nexus-mesh.resourceAttributes" (dict "root" $root "component" .component) | quote }}
{{- if include "nexus-mesh.kafkaUsesSasl" $root }}
- name: NEXUS_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "nexus-mesh.kafkaSecretName" $root }}
      key: {{ ternary $root.Values.kafka.sasl.existingSecretPasswordKey "sasl-password" (not (empty $root.Values.kafka.sasl.existingSecret)) }}
{{- end }}
{{- if and .jwt (eq $root.Values.auth.mode "jwt") }}
{{- include "nexus-mesh.jwtEnv" $root }}
{{- end }}
{{- end }}

{{/* Names of the chart's env entries that a container's extraEnv may set instead (podEnv then
leaves the chart's out): defaults that no value of the chart's replaces, and that nothing
secret or structural depends on. OTEL_SERVICE_NAME outranks service.name in
otel.resourceAttributes, so it is the only way to rename a component's traces. */}}
{{- define "nexus-mesh.overridableEnv" -}}
- OTEL_SERVICE_NAME
- NEXUS_GATEWAY_INSTANCE
{{- end }}

{{/* The gateway container's env entries of the chart's own (gateway.extraEnv follows them).
Call with (dict "root" $ "extraEnv" .Values.gateway.extraEnv). */}}
{{- define "nexus-mesh.gatewayEnv" -}}
{{ include "nexus-mesh.podEnv" (dict "root" .root "component" "gateway" "jwt" true "extraEnv" .extraEnv) | trim }}
# A file, read at each POST /drain: the mounted Secret's current token is taken
# without a restart (a regenerated Secret, a rotation).
- name: NEXUS_GATEWAY_ADMIN_TOKEN_FILE
  value: /var/run/secrets/nexus-mesh/admin/token
{{- end }}

{{/* NEXUS_JWT_SECRET / NEXUS_JWT_PUBLIC_KEY from the JWT Secret (each optional). */}}
{{- define "nexus-mesh.jwtEnv" -}}
{{- $existing := not (empty .Values.auth.jwt.existingSecret) }}
{{- $generated := and (not $existing) (empty .Values.auth.jwt.secret) (empty .Values.auth.jwt.publicKey) }}
{{- if or $existing $generated .Values.auth.jwt.secret }}
- name: NEXUS_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "nexus-mesh.jwtSecretName" . }}
      key: {{ .Values.auth.jwt.secretKey }}
      optional: {{ $existing }}
{{- if or $existing .Values.auth.jwt.previousSecret }}
# Only during a rotation: tokens signed with the previous secret are still accepted.
- name: NEXUS_JWT_PREVIOUS_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "nexus-mesh.jwtSecretName" . }}
      key: {{ .Values.auth.jwt.previousSecretKey | default "jwt-previous-secret" }}
      optional: true
{{- end }}
{{- end }}
{{- if or $existing .Values.auth.jwt.publicKey }}
- name: NEXUS_JWT_PUBLIC_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "nexus-mesh.jwtSecretName" . }}
      key: {{ .Values.auth.jwt.publicKeyKey }}
      optional: {{ $existing }}
{{- end }}
{{- end }}

{{- define "nexus-mesh.resourceAttributes" -}}
{{- $attrs := list "k8s.pod.name=$(POD_NAME)" "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.node.name=$(NODE_NAME)" (printf "service.namespace=%s" .root.Release.Namespace) (printf "service.version=%s" (default .root.Chart.AppVersion .root.Values.image.tag)) (printf "app.kubernetes.io/instance=%s" .root.Release.Name) }}
{{- range $key, $value := .root.Values.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $key $value) }}
{{- end }}
{{- join "," $attrs }}
{{- end }}

{{/* Volumes every mesh pod has: /tmp, and the Kafka TLS files when configured. */}}
{{- define "nexus-mesh.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "nexus-mesh.kafkaTlsMounted" . }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.kafka.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{- define "nexus-mesh.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "nexus-mesh.kafkaTlsMounted" . }}
- name: kafka-tls
  mountPath: /etc/nexus/kafka-tls
  readOnly: true
{{- end }}
{{- end }}

{{/* A chart-made map (YAML text) with the user's map merged over it, so that each key appears
once (a repeated key is invalid YAML to strict parsers, and the last one silently wins for
the rest). Call with (list <chart map as YAML> <user map or nil>). */}}
{{- define "nexus-mesh.mergedMap" -}}
{{- toYaml (mergeOverwrite (fromYaml (index . 0)) (deepCopy ((index . 1) | default dict))) }}
{{- end }}

{{/* Pod annotations that roll pods when their configuration changes. */}}
{{- define "nexus-mesh.configChecksum" -}}
checksum/config: {{ include "nexus-mesh.configData" . | sha256sum | quote }}
{{- end }}

{{/* topologySpreadConstraints, filling in the component's labelSelector where missing. Call with (list $ "gateway" .Values.gateway.topologySpreadConstraints). */}}
{{- define "nexus-mesh.topologySpread" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- range (index . 2) }}
{{- $constraint := deepCopy . }}
{{- if not $constraint.labelSelector }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "nexus-mesh.componentSelectorLabels" (list $root $component) | fromYaml)) }}
{{- end }}
- {{ toYaml $constraint | nindent 2 | trim }}
{{- end }}
{{- end }}
