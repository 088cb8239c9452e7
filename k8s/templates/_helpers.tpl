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

{{/* The Secret holding every key and password (secrets.yaml), or the one the user names. */}}
{{- define "shardshop.secret" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "shardshop.fullname" .)) -}}
{{- end -}}

{{/* The keys of that Secret: each service's internal key and Redis password, the replication and admin passwords. */}}
{{- define "shardshop.secretKeys" -}}
internal-order internal-stock internal-payment redis-order redis-stock redis-payment redis-replication redis-admin
{{- end -}}

{{/* An env entry read from the Secret: (dict "root" $ "name" ENV "key" KEY). */}}
{{- define "shardshop.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "shardshop.secret" .root }}
      key: {{ .key }}
{{- end -}}

{{/*
What each service's Redis user may send: deploy/redis-acl.ts's serviceUserRules, written out
(test/helm.test.ts checks they are the same).
*/}}
{{- define "shardshop.redisUserRules" -}}
{{- $rules := dict
  "order" "resetkeys ~* resetchannels -@all +evalsha +eval +hmget +hgetall +get +exists +wait +ping +info +select +cluster|slots +cluster|shards +cluster|info +cluster|myid +readonly +asking +del +hdel +hget +hincrby +hlen +hset +lrange +pexpire +rpush +set +time +zadd +zcard +zcount +zrangebyscore +zrem"
  "stock" "resetkeys ~* resetchannels -@all +evalsha +eval +hmget +hgetall +get +exists +wait +ping +info +select +cluster|slots +cluster|shards +cluster|info +cluster|myid +readonly +asking +del +hget +hincrby +hset +lrange +pexpire +rpush +set +time"
  "payment" "resetkeys ~* resetchannels -@all +evalsha +eval +hmget +hgetall +get +exists +wait +ping +info +select +cluster|slots +cluster|shards +cluster|info +cluster|myid +readonly +asking +decrby +del +incrby +lrange +pexpire +rpush +set +time"
-}}
{{- index $rules . -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for a pod running as .uid (dict "uid" N). */}}
{{- define "shardshop.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  fsGroup: {{ .uid }}
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "shardshop.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
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
