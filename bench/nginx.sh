# shellcheck shell=bash
# Shared by the bench parts that run nginx (servers.sh, attach.sh): its configuration, and the
# awk functions their tables are made with: median and spread ((max - min) / median) of a
# space-separated list.
# shellcheck disable=SC2034 # used by the scripts that source this
STATS_AWK='
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function spread(list,   n, a, i, lo, hi) {
        n = split(list, a, " "); lo = hi = a[1]
        for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
        return median(list) ? (hi - lo) / median(list) : 0
    }
'

nginx_conf() { # DIR PORT [on|off]: a private nginx: own prefix, port, logs and temp paths
    mkdir -p "$1/www" "$1/tmp"
    head -c 1024 /dev/zero | tr '\0' x >"$1/www/index.html"
    cat >"$1/nginx.conf" <<EOF
daemon off;
master_process ${3:-on};
worker_processes 1;
$([ "$(id -u)" = 0 ] && echo "user root;  # the worker reads its page and writes its trace in root's directories")
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    server {
        listen 127.0.0.1:$2;
        location / { root $1/www; }
    }
}
EOF
}
