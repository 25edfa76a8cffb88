{{/* Chart name. */}}
{{- define "colony.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name. */}}
{{- define "colony.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "colony.headlessName" -}}
{{- printf "%s-headless" (include "colony.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "colony.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "colony.selectorLabels" -}}
app.kubernetes.io/name: {{ include "colony.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "colony.labels" -}}
helm.sh/chart: {{ include "colony.chart" . }}
{{ include "colony.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "colony.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "colony.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "colony.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Effective listener switches ("true" or ""). */}}
{{- define "colony.mqttsEnabled" -}}
{{- if and .Values.tls.enabled .Values.listeners.mqtts.enabled -}}true{{- end -}}
{{- end -}}
{{- define "colony.wssEnabled" -}}
{{- if and .Values.tls.enabled .Values.listeners.wss.enabled -}}true{{- end -}}
{{- end -}}
{{- define "colony.caEnabled" -}}
{{- if and .Values.tls.enabled (or .Values.tls.verifyClient .Values.tls.ca) -}}true{{- end -}}
{{- end -}}
{{- define "colony.authFilesEnabled" -}}
{{- if or .Values.auth.passwordFile.enabled .Values.auth.aclFile.enabled -}}true{{- end -}}
{{- end -}}

{{/* Secret names. */}}
{{- define "colony.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "colony.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}
{{- define "colony.authSecretName" -}}
{{- default (printf "%s-auth" (include "colony.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}
{{- define "colony.apiTokenSecretName" -}}
{{- default (printf "%s-http" (include "colony.fullname" .)) .Values.http.existingSecret -}}
{{- end -}}
{{- define "colony.apiTokenEnabled" -}}
{{- if or .Values.http.apiToken .Values.http.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* Mount points inside the container. */}}
{{- define "colony.configDir" -}}/etc/colony/config{{- end -}}
{{- define "colony.tlsDir" -}}/etc/colony/tls{{- end -}}
{{- define "colony.authDir" -}}/etc/colony/auth{{- end -}}

{{/* The broker's JSON configuration file (keys = flag names). */}}
{{- define "colony.config" -}}
{{- $v := .Values -}}
{{- $c := dict
  "host" "0.0.0.0"
  "port" (ternary (int $v.listeners.mqtt.port) -1 (and $v.listeners.mqtt.enabled true))
  "ws-port" (ternary (int $v.listeners.ws.port) -1 (and $v.listeners.ws.enabled true))
  "ws-path" $v.listeners.ws.path
  "tls-port" (ternary (int $v.listeners.mqtts.port) -1 (eq (include "colony.mqttsEnabled" .) "true"))
  "wss-port" (ternary (int $v.listeners.wss.port) -1 (eq (include "colony.wssEnabled" .) "true"))
  "http-host" "0.0.0.0"
  "http-port" (int $v.http.port)
  "allow-anonymous" (and $v.auth.allowAnonymous true)
  "max-packet-size" (int64 $v.limits.maxPacketSize)
  "max-queued-messages" (int64 $v.limits.maxQueuedMessages)
  "max-inflight" (int64 $v.limits.maxInflight)
  "max-keepalive" (int64 $v.limits.maxKeepalive)
  "max-connections" (int64 $v.limits.maxConnections)
  "log-level" $v.log.level
  "log-format" $v.log.format
  "data-dir" $v.persistence.mountPath
  "persistence" "off"
-}}
{{- if $v.tls.enabled -}}
{{- $_ := set $c "tls-cert" (printf "%s/%s" (include "colony.tlsDir" .) $v.tls.certKey) -}}
{{- $_ := set $c "tls-key" (printf "%s/%s" (include "colony.tlsDir" .) $v.tls.keyKey) -}}
{{- $_ := set $c "tls-min-version" (toString $v.tls.minVersion) -}}
{{- if eq (include "colony.caEnabled" .) "true" -}}
{{- $_ := set $c "tls-ca" (printf "%s/%s" (include "colony.tlsDir" .) $v.tls.caKey) -}}
{{- end -}}
{{- $_ := set $c "tls-verify" (and $v.tls.verifyClient true) -}}
{{- $_ := set $c "tls-use-identity-as-username" (and $v.tls.useIdentityAsUsername true) -}}
{{- if $v.tls.ciphers -}}
{{- $_ := set $c "tls-ciphers" $v.tls.ciphers -}}
{{- end -}}
{{- end -}}
{{- if $v.auth.passwordFile.enabled -}}
{{- $_ := set $c "password-file" (printf "%s/%s" (include "colony.authDir" .) $v.auth.passwordFile.key) -}}
{{- end -}}
{{- if $v.auth.aclFile.enabled -}}
{{- $_ := set $c "acl-file" (printf "%s/%s" (include "colony.authDir" .) $v.auth.aclFile.key) -}}
{{- end -}}
{{- if $v.auth.http.authUrl -}}
{{- $_ := set $c "auth-http-url" $v.auth.http.authUrl -}}
{{- end -}}
{{- if $v.auth.http.aclUrl -}}
{{- $_ := set $c "acl-http-url" $v.auth.http.aclUrl -}}
{{- end -}}
{{- if or $v.auth.http.authUrl $v.auth.http.aclUrl -}}
{{- $_ := set $c "auth-http-timeout-ms" (int64 $v.auth.http.timeoutMs) -}}
{{- $_ := set $c "auth-http-cache-seconds" (int64 $v.auth.http.cacheSeconds) -}}
{{- end -}}
{{- if $v.persistence.enabled -}}
{{- $_ := set $c "persistence" $v.persistence.mode -}}
{{- $_ := set $c "persistence-interval" (int64 $v.persistence.interval) -}}
{{- end -}}
{{- if $v.cluster.enabled -}}
{{- $_ := set $c "cluster-port" (int $v.cluster.port) -}}
{{- $seeds := list -}}
{{- $full := include "colony.fullname" . -}}
{{- $headless := include "colony.headlessName" . -}}
{{- range $i := until (int $v.replicaCount) -}}
{{- $seeds = append $seeds (printf "%s-%d.%s.%s.svc:%d" $full $i $headless $.Release.Namespace (int $v.cluster.port)) -}}
{{- end -}}
{{- $_ := set $c "cluster-seeds" (join "," $seeds) -}}
{{- end -}}
{{- $c = mustMergeOverwrite $c (deepCopy $v.extraConfig) -}}
{{- toPrettyJson $c -}}
{{- end -}}
