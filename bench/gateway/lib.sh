# Shared by the gateway benchmarks (run.sh, distributed.sh, compare.sh): logging, ports, readiness,
# process figures, and the nginx upstream that answers canned OpenAI, Responses and Anthropic bodies.
# Source it after setting LOGS (the directory for logs).

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# A port the kernel just handed out on loopback (free at the time of asking).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_http URL SECONDS [METHOD]: poll until URL answers 200.
wait_http() {
  local deadline=$(( SECONDS + $2 ))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 ${3:+-X $3 -d '{}'} "$1" || true)" = 200 ]; do
    [ $SECONDS -ge $deadline ] && die "$1 not ready after $2 s"
    sleep 0.2
  done
}

CLK_TCK=$(getconf CLK_TCK)
proc_cpu() { awk '{ s = 0; for (i = 14; i <= 17; i++) s += $i; print s }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
mib() { calc "$1 / 1024" 0; }

COMPLETION='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}'
RESPONSE='{"id":"resp_bench","object":"response","created_at":1700000000,"status":"completed","model":"gpt-4o-mini","output":[{"type":"message","id":"msg_bench","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello! How can I help you today?","annotations":[]}]}],"usage":{"input_tokens":9,"output_tokens":9,"total_tokens":18}}'
ANTHROPIC_MESSAGE='{"id":"msg_bench","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":9}}'

# nginx_conf DIR BODY-OF-HTTP-BLOCK: write DIR/nginx.conf (one worker, no access log, long keep-alive).
nginx_conf() {
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
$2
}
CONF
}

# upstream_server PORT: the server block answering the three APIs with the canned bodies.
upstream_server() {
  cat <<CONF
  server {
    listen 127.0.0.1:$1;
    location = /v1/chat/completions { default_type application/json; return 200 '$COMPLETION'; }
    location = /v1/responses { default_type application/json; return 200 '$RESPONSE'; }
    location = /v1/messages { default_type application/json; return 200 '$ANTHROPIC_MESSAGE'; }
    location / { return 404; }
  }
CONF
}

# gateway_yaml FILE UPSTREAM_BASE: LLM Marketplace's configuration for the benchmarks: one model (gpt-4o-mini)
# with one OpenAI-type deployment on the upstream, priced, and logging at Warning.
gateway_yaml() {
  cat >"$1" <<YAML
Providers:
  - Name: nginx
    Type: openai
    BaseUrl: $2
Models:
  - Name: gpt-4o-mini
    Deployments:
      - Provider: nginx
        Model: gpt-4o-mini
        InputPerMTok: 0.15
        OutputPerMTok: 0.60
Logging:
  LogLevel:
    Default: Warning
YAML
}
