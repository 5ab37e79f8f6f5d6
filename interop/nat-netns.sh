#!/usr/bin/env bash
# A client behind a home router's NAT, for tests: namespace ID-lan (the client, 10.77.0.2) routes
# through namespace ID-nat (the router, public address 198.18.NET.2: nftables masquerade with
# random ports, UDP conntrack entries forgotten after TIMEOUT s idle, as common routers do) to
# 198.18.NET.1 on a veth in the calling namespace (the "internet": run the server there, e.g.
# KAM_IP=198.18.NET.1). Replies from outside reach the client only while the router remembers
# the mapping. Runs at the same time need different IDs and NETs.
# usage (root):
#   nat-netns.sh up ID NET [TIMEOUT=30]   create ID-lan and ID-nat (ID: at most 8 characters,
#                                         NET: 0-255)
#   nat-netns.sh down ID                  delete them and the veth pair
set -eu
cmd=${1:-}; id=${2:-}
[ -n "$id" ] && [ ${#id} -le 8 ] || { sed -n '2,11p' "$0"; exit 2; }
lan=$id-lan; nat=$id-nat
case $cmd in
  up)
    net=${3:?NET}; timeout=${4:-30}
    cleanup() { ip netns del "$lan" 2>/dev/null; ip netns del "$nat" 2>/dev/null; ip link del "${id}h" 2>/dev/null; true; }
    trap 'cleanup; echo "nat-netns: could not set up $id" >&2' ERR
    ip netns add "$lan"
    ip netns add "$nat"
    # internet <-> router WAN
    ip link add "${id}h" type veth peer name "${id}w"
    ip link set "${id}w" netns "$nat"
    ip addr add 198.18.$net.1/24 dev "${id}h"
    ip link set "${id}h" up
    # router LAN <-> client
    ip -n "$nat" link add "${id}l" type veth peer name "${id}c"
    ip -n "$nat" link set "${id}c" netns "$lan"
    ip -n "$nat" addr add 198.18.$net.2/24 dev "${id}w"
    ip -n "$nat" addr add 10.77.0.1/24 dev "${id}l"
    for l in lo "${id}w" "${id}l"; do ip -n "$nat" link set "$l" up; done
    ip -n "$lan" addr add 10.77.0.2/24 dev "${id}c"
    for l in lo "${id}c"; do ip -n "$lan" link set "$l" up; done
    ip -n "$lan" route add default via 10.77.0.1
    ip netns exec "$nat" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$nat" nft -f - <<NFT
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${id}w" masquerade random
  }
}
NFT
    # The NAT table loads conntrack; its timeouts are per namespace.
    ip netns exec "$nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout="$timeout"
    ip netns exec "$nat" sysctl -qw net.netfilter.nf_conntrack_udp_timeout_stream="$timeout"
    trap - ERR
    ;;
  down)
    ip netns del "$lan" 2>/dev/null || true
    ip netns del "$nat" 2>/dev/null || true
    ip link del "${id}h" 2>/dev/null || true
    ;;
  *) sed -n '2,11p' "$0"; exit 2;;
esac
