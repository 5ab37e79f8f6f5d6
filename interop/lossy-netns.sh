#!/usr/bin/env bash
# One network namespace whose loopback drops a share of UDP datagrams: a lossy network for tests
# that run both ends on 127.0.0.1. Adapted from the team's netlab.sh (two namespaces and a veth);
# this kernel has no netem, so loss is an nftables `numgen random` drop. It sits on the INPUT hook:
# on OUTPUT the sender's sendto() would fail with EPERM, which is not what a lossy network does.
# A capture on lo still sees every datagram sent, dropped or not.
# usage (root):
#   lossy-netns.sh up NAME PERCENT    create namespace NAME, lo up, drop PERCENT % of UDP on input
#   lossy-netns.sh loss NAME PERCENT  drop PERCENT % from now on (100: an outage; 0: none)
#   lossy-netns.sh dropped NAME       datagrams dropped so far (since the last `loss`)
#   lossy-netns.sh down NAME          delete the namespace (its nftables table goes with it)
set -eu
cmd=${1:-}; ns=${2:-}
# The drop rule for a loss of $1 %: numgen's range is 0-99, so 100 % is a plain drop.
rule() {
  if [ "$1" -ge 100 ]; then
    echo 'iifname "lo" meta l4proto udp counter drop'
  else
    echo "iifname \"lo\" meta l4proto udp numgen random mod 100 < $1 counter drop"
  fi
}
[ -n "$ns" ] || { sed -n '2,12p' "$0"; exit 2; }
case $cmd in
  up)
    loss=${3:?loss percent}
    ip netns add "$ns"
    if ! { ip -n "$ns" link set lo up && ip netns exec "$ns" nft -f - <<NFT
table inet lossy {
  chain input {
    type filter hook input priority -10; policy accept;
    $(rule "$loss")
  }
}
NFT
    }; then
      ip netns del "$ns"; echo "lossy-netns: could not set up $ns" >&2; exit 1
    fi
    ;;
  loss)
    loss=${3:?loss percent}
    ip netns exec "$ns" nft -f - <<NFT
flush chain inet lossy input
add rule inet lossy input $(rule "$loss")
NFT
    ;;
  dropped)
    ip netns exec "$ns" nft list table inet lossy | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
    ;;
  down)
    ip netns del "$ns"
    ;;
  *) sed -n '2,12p' "$0"; exit 2;;
esac
