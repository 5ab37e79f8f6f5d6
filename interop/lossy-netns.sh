#!/usr/bin/env bash
# One network namespace whose loopback drops a share of UDP datagrams: a lossy network for tests
# that run both ends on 127.0.0.1. Adapted from the team's netlab.sh (two namespaces and a veth);
# this kernel has no netem, so loss is an nftables `numgen random` drop. It sits on the INPUT hook:
# on OUTPUT the sender's sendto() would fail with EPERM, which is not what a lossy network does.
# A capture on lo still sees every datagram sent, dropped or not.
# usage (root):
#   lossy-netns.sh up NAME PERCENT    create namespace NAME, lo up, drop PERCENT % of UDP on input
#   lossy-netns.sh dropped NAME       datagrams dropped so far
#   lossy-netns.sh down NAME          delete the namespace (its nftables table goes with it)
set -eu
cmd=${1:-}; ns=${2:-}
[ -n "$ns" ] || { sed -n '2,11p' "$0"; exit 2; }
case $cmd in
  up)
    loss=${3:?loss percent}
    ip netns add "$ns"
    if ! { ip -n "$ns" link set lo up && ip netns exec "$ns" nft -f - <<NFT
table inet lossy {
  chain input {
    type filter hook input priority -10; policy accept;
    iifname "lo" meta l4proto udp numgen random mod 100 < $loss counter drop
  }
}
NFT
    }; then
      ip netns del "$ns"; echo "lossy-netns: could not set up $ns" >&2; exit 1
    fi
    ;;
  dropped)
    ip netns exec "$ns" nft list table inet lossy | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
    ;;
  down)
    ip netns del "$ns"
    ;;
  *) sed -n '2,11p' "$0"; exit 2;;
esac
