{{/* Service ports of the enabled listeners (client Service). */}}
{{- define "colony.servicePorts" -}}
{{- $v := .Values -}}
{{- if $v.listeners.mqtt.enabled }}
- name: mqtt
  port: {{ $v.listeners.mqtt.port }}
  targetPort: mqtt
  protocol: TCP
  {{- if and $v.service.nodePorts.mqtt (has $v.service.type (list "NodePort" "LoadBalancer")) }}
  nodePort: {{ $v.service.nodePorts.mqtt }}
  {{- end }}
{{- end }}
{{- if include "colony.mqttsEnabled" . }}
- name: mqtts
  port: {{ $v.listeners.mqtts.port }}
  targetPort: mqtts
  protocol: TCP
  {{- if and $v.service.nodePorts.mqtts (has $v.service.type (list "NodePort" "LoadBalancer")) }}
  nodePort: {{ $v.service.nodePorts.mqtts }}
  {{- end }}
{{- end }}
{{- if $v.listeners.ws.enabled }}
- name: ws
  port: {{ $v.listeners.ws.port }}
  targetPort: ws
  protocol: TCP
  {{- if and $v.service.nodePorts.ws (has $v.service.type (list "NodePort" "LoadBalancer")) }}
  nodePort: {{ $v.service.nodePorts.ws }}
  {{- end }}
{{- end }}
{{- if include "colony.wssEnabled" . }}
- name: wss
  port: {{ $v.listeners.wss.port }}
  targetPort: wss
  protocol: TCP
  {{- if and $v.service.nodePorts.wss (has $v.service.type (list "NodePort" "LoadBalancer")) }}
  nodePort: {{ $v.service.nodePorts.wss }}
  {{- end }}
{{- end }}
{{- end -}}
