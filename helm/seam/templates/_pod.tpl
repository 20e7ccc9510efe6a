{{/*
The pod template shared by the Deployment and the StatefulSet.
*/}}
{{- define "seam.podTemplate" -}}
metadata:
  labels:
    {{- include "seam.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Rolls the pods when the rendered seam.yaml changes: seam reads its
    # config once, at start.
    checksum/config: {{ include "seam.config" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "seam.serviceAccountName" . }}
  # seam never talks to the Kubernetes API.
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  # seam drains on SIGTERM for at most seam.shutdown_timeout_ms, then commits
  # and closes its consumers; the kubelet must not SIGKILL it before that.
  # shutdownTimeoutMs/1000 + gracePeriodExtraSeconds (docs/deploy.md, "Shutdown").
  terminationGracePeriodSeconds: {{ include "seam.gracePeriodSeconds" . }}
  restartPolicy: Always
  {{- with .Values.dnsConfig }}
  dnsConfig:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: seam
      image: {{ include "seam.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      # No command or args: the image's entrypoint execs `seam run -c
      # $SEAM_CONFIG`, so seam is PID 1 and receives SIGTERM itself.
      env:
        - name: SEAM_CONFIG
          value: /etc/seam/seam.yaml
        - name: TMPDIR
          value: /tmp
        {{- include "seam.env" . | nindent 8 }}
      ports:
        - name: metrics
          containerPort: {{ .Values.seam.httpPort }}
          protocol: TCP
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.preStop }}
      lifecycle:
        preStop:
          {{- toYaml . | nindent 10 }}
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/seam/seam.yaml
          subPath: seam.yaml
          readOnly: true
        - name: tmp
          mountPath: /tmp
        - name: data
          mountPath: {{ .Values.data.mountPath }}
        {{- if and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret }}
        - name: kafka-tls
          mountPath: /etc/seam/kafka-tls
          readOnly: true
        {{- end }}
        {{- if .Values.registry.tlsSecret }}
        - name: registry-tls
          mountPath: /etc/seam/registry-tls
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "seam.fullname" . }}-config
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpSizeLimit }}
    {{- if not .Values.data.persistence.enabled }}
    - name: data
      emptyDir:
        sizeLimit: {{ .Values.data.sizeLimit }}
    {{- end }}
    {{- if and .Values.kafka.tls.enabled .Values.kafka.tls.existingSecret }}
    - name: kafka-tls
      secret:
        secretName: {{ .Values.kafka.tls.existingSecret }}
        defaultMode: 0440
    {{- end }}
    {{- with .Values.registry.tlsSecret }}
    - name: registry-tls
      secret:
        secretName: {{ . }}
        defaultMode: 0440
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $aff := deepCopy (default (dict) .Values.affinity) }}
  {{- if and (not $aff.podAntiAffinity) (eq .Values.podAntiAffinity "soft") }}
  {{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "seam.selectorLabels" . | fromYaml)) }}
  {{- $_ := set $aff "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
  {{- else if and (not $aff.podAntiAffinity) (eq .Values.podAntiAffinity "hard") }}
  {{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "seam.selectorLabels" . | fromYaml)) }}
  {{- $_ := set $aff "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
  {{- else if and .Values.podAntiAffinity (not (has .Values.podAntiAffinity (list "soft" "hard"))) }}
  {{- fail (printf "podAntiAffinity must be soft, hard or empty, not %q" .Values.podAntiAffinity) }}
  {{- end }}
  {{- with $aff }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $c := deepCopy . }}
    {{- if not $c.labelSelector }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "seam.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    {{- toYaml (list $c) | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
