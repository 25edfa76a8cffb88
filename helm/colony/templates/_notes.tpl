{{/* Text of NOTES.txt (a named template so the chart tests can render it). */}}
{{- define "colony.notes" -}}
Colony MQTT broker {{ .Chart.AppVersion }} is deployed as StatefulSet {{ include "colony.fullname" . }} ({{ .Values.replicaCount }} replica(s)) in namespace {{ .Release.Namespace }}.

In-cluster endpoints (Service {{ include "colony.fullname" . }}, type {{ .Values.service.type }}):
{{- $host := printf "%s.%s.svc" (include "colony.fullname" .) .Release.Namespace }}
{{- if .Values.listeners.mqtt.enabled }}
  MQTT:            mqtt://{{ $host }}:{{ .Values.listeners.mqtt.port }}
{{- end }}
{{- if include "colony.mqttsEnabled" . }}
  MQTT over TLS:   mqtts://{{ $host }}:{{ .Values.listeners.mqtts.port }}{{ if .Values.tls.verifyClient }}  (client certificate required){{ end }}
{{- end }}
{{- if .Values.listeners.ws.enabled }}
  WebSocket:       ws://{{ $host }}:{{ .Values.listeners.ws.port }}{{ .Values.listeners.ws.path }}
{{- end }}
{{- if include "colony.wssEnabled" . }}
  WebSocket (TLS): wss://{{ $host }}:{{ .Values.listeners.wss.port }}{{ .Values.listeners.ws.path }}
{{- end }}
{{- if .Values.service.exposeHttp }}
  HTTP:            http://{{ $host }}:{{ .Values.http.port }}/metrics  /healthz  /readyz  /api/v1/
{{- end }}

Try it from your machine:
  kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "colony.fullname" . }} {{ .Values.listeners.mqtt.port }}:{{ .Values.listeners.mqtt.port }} {{ .Values.http.port }}:{{ .Values.http.port }}
  mosquitto_sub -h 127.0.0.1 -p {{ .Values.listeners.mqtt.port }} -t 'test/#' -v{{ if not .Values.auth.allowAnonymous }} -u USER -P PASSWORD{{ end }} &
  mosquitto_pub -h 127.0.0.1 -p {{ .Values.listeners.mqtt.port }} -t test/hello -m hi{{ if not .Values.auth.allowAnonymous }} -u USER -P PASSWORD{{ end }}
  curl http://127.0.0.1:{{ .Values.http.port }}/healthz
{{- if eq .Values.service.type "LoadBalancer" }}

External address (may take a minute):
  kubectl -n {{ .Release.Namespace }} get svc {{ include "colony.fullname" . }} -o jsonpath='{.status.loadBalancer.ingress[0]}'
{{- end }}
{{- if and (not .Values.auth.allowAnonymous) (not .Values.auth.passwordFile.enabled) (not .Values.auth.http.authUrl) (not .Values.tls.useIdentityAsUsername) }}

WARNING: anonymous access is off and no password file, auth URL or certificate
identity is configured, so no client can connect.  Set auth.allowAnonymous=true
or configure auth.passwordFile (see examples/auth.yaml).
{{- end }}
{{- if or .Values.tls.enabled (include "colony.authFilesEnabled" .) }}

Certificates, password and ACL files are mounted from Secrets; updating a Secret
reloads them without a restart{{ if .Values.reloader.enabled }} (the reloader sidecar sends SIGHUP){{ else }} once you send SIGHUP: kubectl exec POD -c colony -- /bin/sh -c 'kill -HUP 1'{{ end }}.
{{- end }}
{{- if .Values.persistence.enabled }}

Persistence "{{ .Values.persistence.mode }}" stores data in {{ .Values.persistence.mountPath }} (PVC data-<pod>).  The broker build must support this mode.
{{- end }}
{{- end -}}
