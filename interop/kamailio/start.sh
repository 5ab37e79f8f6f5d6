#!/usr/bin/env bash
# Start the interop Kamailio in the background (kamailio -DD -E: no daemonizing, logs to stderr).
# Adapted from the workplace's verified interop recipe (shared/interop/start.sh): the TLS
# certificate is a leaf signed by a throw-away CA (DIR/ca.pem), because a verifying client
# (rustls/webpki) refuses a self-signed CA certificate presented as a server certificate.
# usage: start.sh DIR [PORT] [TLSPORT] [-- extra kamailio args, e.g. -A WITHOUT_TLS -A WITH_DEBUG]
# env:   KAM_IP (default 127.0.0.1), USERS=N (adds u0001..uN, password pw-u0001.., for load tests)
# DIR (created) receives: db/ (db_text tables), ca.pem (trust this), cert.pem/key.pem (the leaf),
# tls.cfg, kamailio.cfg (the filled-in template), kamailio.log, kamailio.pid, kamailio_ctl.
# Users, realm example.test: alice/alicepw bob/bobpw carol/carolpw. Prints the PID on success.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '2,8p' "$0"; exit 2; }
dir=$1; shift
port=5060; tlsport=5061
if [ $# -gt 0 ] && [ "$1" != "--" ]; then port=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then tlsport=$1; shift; fi
[ "${1:-}" = "--" ] && shift
ip=${KAM_IP:-127.0.0.1}
mkdir -p "$dir/db"; dir=$(cd "$dir" && pwd)
if [ -f "$dir/kamailio.pid" ] && kill -0 "$(cat "$dir/kamailio.pid")" 2>/dev/null; then
  echo "already running: PID $(cat "$dir/kamailio.pid")" >&2; exit 1
fi
tpl=/usr/share/kamailio/dbtext/kamailio
for t in version subscriber location presentity active_watchers watchers xcap pua rls_presentity rls_watchers; do cp "$tpl/$t" "$dir/db/$t"; done
i=1; extra=""
[ "${USERS:-0}" -gt 0 ] && extra=$(seq -f 'u%04g' 1 "$USERS")
for u in alice bob carol $extra; do
  case $u in u[0-9]*) pw="pw-$u";; *) pw="${u}pw";; esac
  # db_text refuses empty/NULL columns, so ha1/ha1b are filled although calculate_ha1=yes
  ha1=$(printf '%s' "$u:example.test:$pw" | md5sum | cut -d' ' -f1)
  ha1b=$(printf '%s' "$u@example.test:example.test:$pw" | md5sum | cut -d' ' -f1)
  echo "$i:$u:example.test:$pw:$ha1:$ha1b"; i=$((i+1))
done >> "$dir/db/subscriber"
if [ ! -f "$dir/cert.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=Interop Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=example.test" \
    -keyout "$dir/key.pem" -out "$dir/leaf.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:example.test,DNS:localhost,IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    "$ip" > "$dir/leaf.ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
    -days 7 -extfile "$dir/leaf.ext" -out "$dir/cert.pem" >/dev/null 2>&1
fi
cat > "$dir/tls.cfg" <<TLS
[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
private_key = $dir/key.pem
certificate = $dir/cert.pem

[client:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
TLS
sed -e "s!@DIR@!$dir!g" -e "s!@IP@!$ip!g" -e "s!@TLSPORT@!$tlsport!g" -e "s!@PORT@!$port!g" \
  "$here/kamailio.cfg" > "$dir/kamailio.cfg"
kamailio -f "$dir/kamailio.cfg" -c "$@" >"$dir/check.log" 2>&1 || { cat "$dir/check.log" >&2; exit 1; }
kamailio -f "$dir/kamailio.cfg" -DD -E -w "$dir" "$@" >"$dir/kamailio.log" 2>&1 &
pid=$!
echo "$pid" > "$dir/kamailio.pid"
# Ready when Kamailio itself listens on every port it was given: a port another process holds
# (taken between the caller's choice and this start) makes Kamailio exit, and must not pass
# for ready because someone else listens there.
ours() { ss -Hlnp "$1" "sport = :$2" | grep -q '"kamailio"'; }
tls_ready() { case " $* " in *" WITHOUT_TLS "*) true;; *) ours -t "$tlsport";; esac; }
for _ in $(seq 1 50); do   # up to 10 s
  if ours -t "$port" && ours -u "$port" && tls_ready "$@" && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"; exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "kamailio exited" >&2; tail -20 "$dir/kamailio.log" >&2; exit 1; }
  sleep 0.2
done
echo "kamailio did not open port $port" >&2; tail -20 "$dir/kamailio.log" >&2
kill "$pid" 2>/dev/null; exit 1
