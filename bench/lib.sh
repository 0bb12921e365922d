# Shared by bench/run and bench/telemetry: nginx on core 1 serving a small file, counted
# at nginx (stub_status), and `measure`, which runs a generator on core 0 under
# /usr/bin/time. Source it with $out (the output folder) and $dur (seconds) set.

# Starts nginx; sets $url and $nginx_pid, and stops nginx on exit.
start_nginx() {
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  printf 'hello from nginx: a small static page for the throughput benchmark.\n' > "$out/www/index.html"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$out/nginx.conf" <<CONF
worker_processes 1;
pid $PWD/$out/nginx.pid;
error_log $PWD/$out/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port;
    location / { root $PWD/$out/www; }
    location = /nginx_status { stub_status; }
  }
}
CONF
  taskset -c 1 "$NGINX" -c "$PWD/$out/nginx.conf" -g 'daemon off;' &
  nginx_pid=$!
  trap 'kill $nginx_pid 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
  url="http://127.0.0.1:$port"
}

served() { curl -s "$url/nginx_status" | awk 'NR==3 {print $3}'; }

# measure NAME CMD...: requests at nginx, wall seconds and client CPU-seconds.
declare -A REQS CPU RPS PER_CPU
measure() {
  local name=$1; shift
  local before after start end
  before=$(served); start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$out/$name.time" taskset -c 0 "$@" >"$out/$name.log" 2>&1 || true
  end=$(date +%s.%N); after=$(served)
  REQS[$name]=$((after - before - 1))
  CPU[$name]=$(awk '{printf "%.2f", $1 + $2}' "$out/$name.time")
  RPS[$name]=$(awk -v r="${REQS[$name]}" -v d="$dur" 'BEGIN {printf "%.0f", r / d}')
  PER_CPU[$name]=$(awk -v r="${REQS[$name]}" -v c="${CPU[$name]}" 'BEGIN {printf "%.0f", (c > 0) ? r / c : 0}')
}

