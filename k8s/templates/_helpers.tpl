{{/* Names shared by every template. */}}
{{- define "shardshop.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "shardshop.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "shardshop.redisSecret" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis" (include "shardshop.fullname" .)) -}}
{{- end -}}

{{/* Redis pods per service: the shards, or a cluster's masters and their replicas. */}}
{{- define "shardshop.redisNodes" -}}
{{- if eq .Values.redis.mode "cluster" -}}
{{- mul (int .Values.redis.shards) (add1 (int .Values.redis.cluster.replicasPerMaster)) -}}
{{- else -}}
{{- int .Values.redis.shards -}}
{{- end -}}
{{- end -}}

{{/* "redis-<service>-0.redis-<service>:6379,...": exactly the StatefulSet's stable pod names, joined by .sep. */}}
{{- define "shardshop.redisAddrs" -}}
{{- $name := printf "%s-redis-%s" (include "shardshop.fullname" .root) .service -}}
{{- $addrs := list -}}
{{- range $i := until (int (include "shardshop.redisNodes" .root)) -}}
{{- $addrs = append $addrs (printf "%s-%d.%s:6379" $name $i $name) -}}
{{- end -}}
{{- join (.sep | default ",") $addrs -}}
{{- end -}}
