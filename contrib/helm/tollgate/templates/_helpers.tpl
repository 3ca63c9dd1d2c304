{{- define "tollgate.fullname" -}}{{ .Release.Name }}-tollgate{{- end -}}
{{- define "tollgate.labels" -}}
app.kubernetes.io/name: tollgate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
