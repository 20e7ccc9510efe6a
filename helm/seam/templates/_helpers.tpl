{{/*
The chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "seam.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: RELEASE-seam, or RELEASE when it
already contains the chart name. 63 characters at most; a StatefulSet's pods
add "-N", and its controller-revision-hash label adds 11 more characters, so
names used for a StatefulSet are cut to 52.
*/}}
{{- define "seam.fullname" -}}
{{- $max := ternary 52 63 (eq .Values.workload "StatefulSet") -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc $max | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc $max | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc $max | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "seam.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "seam.labels" -}}
{{ include "seam.selectorLabels" . }}
{{ include "seam.commonLabels" . }}
app.kubernetes.io/component: consumer
{{- end }}

{{/*
The labels that do not select the seam pods (the helm test pod uses these
plus its own name, so the metrics Service never routes to it).
*/}}
{{- define "seam.commonLabels" -}}
helm.sh/chart: {{ include "seam.chart" . }}
app.kubernetes.io/version: {{ include "seam.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: immutable on a Deployment/StatefulSet, so never add to them.
*/}}
{{- define "seam.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seam.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "seam.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "seam.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "seam.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "seam.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "seam.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: seam's own drain bound plus the margin for the
final commit, close and exit (docs/deploy.md, "Shutdown"). Derived from the
same value that is rendered as seam.shutdown_timeout_ms, so the two cannot
drift apart. Integer ceiling of the milliseconds.
*/}}
{{- define "seam.gracePeriodSeconds" -}}
{{- $ms := int64 .Values.seam.shutdownTimeoutMs -}}
{{- add (div (add $ms 999) 1000) (int64 .Values.seam.gracePeriodExtraSeconds) -}}
{{- end }}

{{/*
The KEDA offsetResetPolicy for a consumer: what its auto.offset.reset says
(the consumer's kafka map first, then the top-level one), in KEDA's two
words. librdkafka's default is "largest" (latest). "error" has no KEDA
equivalent and is refused.
*/}}
{{- define "seam.offsetResetPolicy" -}}
{{- $c := .consumer -}}
{{- $v := "" -}}
{{- if and $c.kafka (hasKey $c.kafka "auto.offset.reset") -}}
{{- $v = index $c.kafka "auto.offset.reset" | toString -}}
{{- else if hasKey .root.Values.kafka.properties "auto.offset.reset" -}}
{{- $v = index .root.Values.kafka.properties "auto.offset.reset" | toString -}}
{{- else -}}
{{- $v = "largest" -}}
{{- end -}}
{{- if has $v (list "smallest" "earliest" "beginning") -}}
earliest
{{- else if has $v (list "largest" "latest" "end") -}}
latest
{{- else -}}
{{- fail (printf "consumer %s: auto.offset.reset %q has no KEDA offsetResetPolicy (use earliest or latest, or disable keda)" $c.name $v) -}}
{{- end -}}
{{- end }}

{{/*
Checks across values that the schema of a single value cannot express.
Included by the workload template so every render runs them.
*/}}
{{- define "seam.validate" -}}
{{- $v := .Values -}}
{{- if not (has $v.workload (list "Deployment" "StatefulSet")) -}}
{{- fail (printf "workload must be Deployment or StatefulSet, not %q" $v.workload) -}}
{{- end -}}
{{- if and $v.keda.enabled $v.autoscaling.enabled -}}
{{- fail "keda.enabled and autoscaling.enabled are mutually exclusive: KEDA creates its own HPA for the workload, and two HPAs on one workload fight over its replica count. Enable one of them." -}}
{{- end -}}
{{- if and $v.staticMembership.enabled (ne $v.workload "StatefulSet") -}}
{{- fail "staticMembership.enabled needs workload: StatefulSet: group.instance.id is the pod name, which only a StatefulSet keeps across restarts" -}}
{{- end -}}
{{- if and $v.data.persistence.enabled (ne $v.workload "StatefulSet") -}}
{{- fail "data.persistence.enabled needs workload: StatefulSet (one PersistentVolumeClaim per pod)" -}}
{{- end -}}
{{- if not $v.consumers -}}
{{- fail "consumers: at least one consumer instance is required" -}}
{{- end -}}
{{- if not $v.kafka.bootstrapServers -}}
{{- fail "kafka.bootstrapServers is required" -}}
{{- end -}}
{{- if and $v.kafka.sasl.enabled (not $v.kafka.sasl.existingSecret) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.existingSecret: the name of an existing Secret with the username and password" -}}
{{- end -}}
{{- if and $v.kafka.tls.enabled (or $v.kafka.tls.caKey $v.kafka.tls.certKey $v.kafka.tls.keyKey) (not $v.kafka.tls.existingSecret) -}}
{{- fail "kafka.tls.existingSecret is required when kafka.tls.caKey, certKey or keyKey is set (or set them to \"\" to use the system CA bundle)" -}}
{{- end -}}
{{- if ne (empty $v.kafka.tls.certKey) (empty $v.kafka.tls.keyKey) -}}
{{- fail "kafka.tls.certKey and kafka.tls.keyKey go together (mutual TLS needs both)" -}}
{{- end -}}
{{- if not (has $v.registry.type (list "" "local" "http")) -}}
{{- fail (printf "registry.type must be \"\", local or http, not %q" $v.registry.type) -}}
{{- end -}}
{{- if and (eq $v.registry.type "http") (not $v.registry.url) -}}
{{- fail "registry.type http needs registry.url" -}}
{{- end -}}
{{- if and (not $v.registry.type) (or $v.registry.existingSecret $v.registry.tlsSecret) -}}
{{- fail "registry.existingSecret / registry.tlsSecret are set but registry.type is empty: set registry.type (http) so the credentials are used" -}}
{{- end -}}
{{- if ne (empty $v.registry.certKey) (empty $v.registry.keyKey) -}}
{{- fail "registry.certKey and registry.keyKey go together (mutual TLS needs both)" -}}
{{- end -}}
{{- $ms := int64 $v.seam.shutdownTimeoutMs -}}
{{- if or (lt $ms 1000) (gt $ms 600000) -}}
{{- fail (printf "seam.shutdownTimeoutMs must be 1000..600000 (seam's range), not %d" $ms) -}}
{{- end -}}
{{- if lt (int64 $v.seam.gracePeriodExtraSeconds) 5 -}}
{{- fail "seam.gracePeriodExtraSeconds must be at least 5: the final commit and close run after the drain bound" -}}
{{- end -}}
{{- range $v.consumers -}}
{{- if and $v.staticMembership.enabled .kafka (hasKey .kafka "group.instance.id") -}}
{{- fail (printf "consumer %s: do not set kafka.group.instance.id with staticMembership.enabled: the chart sets it from the pod name" .name) -}}
{{- end -}}
{{- end -}}
{{- $pc := int $v.partitionCount -}}
{{- if $v.keda.enabled -}}
{{- if le $pc 0 -}}
{{- fail "keda.enabled needs partitionCount (the partitions of the consumed topics): KEDA must not scale past it" -}}
{{- end -}}
{{- if and (gt (int $v.keda.maxReplicaCount) $pc) (not $v.keda.allowIdleConsumers) -}}
{{- fail (printf "keda.maxReplicaCount (%d) is above partitionCount (%d): the extra consumers would get no partition. Lower it, or set keda.allowIdleConsumers." (int $v.keda.maxReplicaCount) $pc) -}}
{{- end -}}
{{- if gt (int $v.keda.minReplicaCount) (int $v.keda.maxReplicaCount) -}}
{{- fail "keda.minReplicaCount is above keda.maxReplicaCount" -}}
{{- end -}}
{{- $names := list -}}
{{- range $v.consumers }}{{ $names = append $names .name }}{{ end -}}
{{- range $v.keda.consumers -}}
{{- if not (has . $names) -}}
{{- fail (printf "keda.consumers: no consumer named %q" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- if le $pc 0 -}}
{{- fail "autoscaling.enabled needs partitionCount (the partitions of the consumed topics): the HPA must not scale past it" -}}
{{- end -}}
{{- if gt (int $v.autoscaling.maxReplicas) $pc -}}
{{- fail (printf "autoscaling.maxReplicas (%d) is above partitionCount (%d): the extra consumers would get no partition" (int $v.autoscaling.maxReplicas) $pc) -}}
{{- end -}}
{{- if gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas) -}}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
The seam config (seam.yaml) as a dict, rendered with toYaml by the ConfigMap.
Secrets appear only as ${ENV} references; seam substitutes them after
parsing, so a secret may contain any character.
*/}}
{{- define "seam.config" -}}
{{- $v := .Values -}}
{{- $seam := dict
      "plugin_path" $v.seam.pluginPath
      "shutdown_timeout_ms" (int64 $v.seam.shutdownTimeoutMs)
      "log_format" $v.seam.logFormat
      "log_level" $v.seam.logLevel
      "http" (dict "bind" "0.0.0.0" "port" (int $v.seam.httpPort) ) -}}
{{- $r := $v.registry -}}
{{- if $r.type -}}
{{- $reg := dict "type" $r.type -}}
{{- if eq $r.type "local" -}}
{{- $_ := set $reg "dir" $r.dir -}}
{{- else -}}
{{- $_ := set $reg "url" $r.url -}}
{{- if $r.diskCache }}{{ $_ := set $reg "cache_dir" (printf "%s/registry-cache" (trimSuffix "/" $v.data.mountPath)) }}{{ end -}}
{{- end -}}
{{- if $r.existingSecret -}}
{{- $_ := set $reg "username" "${SEAM_REGISTRY_USERNAME}" -}}
{{- $_ := set $reg "password" "${SEAM_REGISTRY_PASSWORD}" -}}
{{- end -}}
{{- if $r.tlsSecret -}}
{{- with $r.caKey }}{{ $_ := set $reg "ca_file" (printf "/etc/seam/registry-tls/%s" .) }}{{ end -}}
{{- with $r.certKey }}{{ $_ := set $reg "client_cert" (printf "/etc/seam/registry-tls/%s" .) }}{{ end -}}
{{- with $r.keyKey }}{{ $_ := set $reg "client_key" (printf "/etc/seam/registry-tls/%s" .) }}{{ end -}}
{{- end -}}
{{- $reg = mergeOverwrite $reg (deepCopy $r.settings) -}}
{{- $_ := set $seam "registry" $reg -}}
{{- end -}}
{{- $seam = mergeOverwrite $seam (deepCopy $v.seam.extraSettings) -}}
{{- $kafka := dict "bootstrap.servers" $v.kafka.bootstrapServers -}}
{{- $sasl := $v.kafka.sasl.enabled -}}
{{- $tls := $v.kafka.tls.enabled -}}
{{- if and $sasl $tls -}}
{{- $_ := set $kafka "security.protocol" "SASL_SSL" -}}
{{- else if $sasl -}}
{{- $_ := set $kafka "security.protocol" "SASL_PLAINTEXT" -}}
{{- else if $tls -}}
{{- $_ := set $kafka "security.protocol" "SSL" -}}
{{- end -}}
{{- if $sasl -}}
{{- $_ := set $kafka "sasl.mechanism" $v.kafka.sasl.mechanism -}}
{{- $_ := set $kafka "sasl.username" "${KAFKA_SASL_USERNAME}" -}}
{{- $_ := set $kafka "sasl.password" "${KAFKA_SASL_PASSWORD}" -}}
{{- end -}}
{{- if $tls -}}
{{- with $v.kafka.tls.caKey }}{{ $_ := set $kafka "ssl.ca.location" (printf "/etc/seam/kafka-tls/%s" .) }}{{ end -}}
{{- with $v.kafka.tls.certKey }}{{ $_ := set $kafka "ssl.certificate.location" (printf "/etc/seam/kafka-tls/%s" .) }}{{ end -}}
{{- with $v.kafka.tls.keyKey }}{{ $_ := set $kafka "ssl.key.location" (printf "/etc/seam/kafka-tls/%s" .) }}{{ end -}}
{{- end -}}
{{- range $k, $val := $v.kafka.properties -}}
{{- $_ := set $kafka $k $val -}}
{{- end -}}
{{- $consumers := list -}}
{{- range $v.consumers -}}
{{- $c := deepCopy . -}}
{{- if $v.staticMembership.enabled -}}
{{- $ck := dict -}}
{{- if $c.kafka }}{{ $ck = $c.kafka }}{{ end -}}
{{- $_ := set $ck "group.instance.id" (printf "${POD_NAME}-%s" $c.name) -}}
{{- if not (hasKey $ck "session.timeout.ms") -}}
{{- $_ := set $ck "session.timeout.ms" (int64 $v.staticMembership.sessionTimeoutMs) -}}
{{- end -}}
{{- $_ := set $c "kafka" $ck -}}
{{- end -}}
{{- $consumers = append $consumers $c -}}
{{- end -}}
{{- $cfg := dict "seam" $seam "kafka" $kafka "consumers" $consumers -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy $v.extraConfig) -}}
{{- toYaml $cfg -}}
{{- end }}

{{/*
The env vars of the seam container: the pod name (static membership,
logs), then secrets from existing Secrets, referenced as ${NAME} in seam.yaml.
*/}}
{{- define "seam.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.kafka.sasl.enabled }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.existingSecret }}
      key: {{ .Values.kafka.sasl.passwordKey }}
{{- end }}
{{- with .Values.registry.existingSecret }}
- name: SEAM_REGISTRY_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.registry.usernameKey }}
- name: SEAM_REGISTRY_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.registry.passwordKey }}
{{- end }}
{{- with .Values.postgres.existingSecret }}
- name: SEAM_POSTGRES_DSN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.postgres.dsnKey }}
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ required "secretEnv[].name is required" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ required "secretEnv[].secretName is required" .secretName }}
      key: {{ required "secretEnv[].key is required" .key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
