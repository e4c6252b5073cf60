#!/bin/sh
# Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE.
# run.sh: runs every benchmark RUNS times (default 3) from build dir $1,
# prints one JSON object per line (medians; raw baselines from this same
# run) and then a table. Everything stays on 127.0.0.1.
set -u
B=${1:-build/bench}
RUNS=${RUNS:-3}
BIN=$B/bench
LOG=$B/bench.log
: >"$LOG"
export AEMP_RC=/nonexistent/aemp-bench/aemp.db
unset AEMP_PROFILE AEMP_TRACE PERL_ANYEVENT_MP_TRACE 2>/dev/null || true
TABLE=$(mktemp)
trap 'rm -f "$TABLE" "$TABLE".*' EXIT

# run NAME CMD...: runs CMD once, appends its "key value" lines to
# $TABLE.NAME, one "key value" per line; a failure is recorded as such.
run() {
	name=$1; shift
	if out=$(timeout 150 "$@" 2>>"$LOG"); then
		printf '%s\n' "$out" >>"$TABLE.$name"
	else
		printf 'error %s\n' "exit status $? from $*" >>"$TABLE.$name"
	fi
}

# med NAME KEY: the median of KEY over the runs, or "null".
med() {
	awk -v k="$2" '$1 == k { print $2 }' "$TABLE.$1" 2>/dev/null |
	    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "null";
	    else print v[int((NR + 1) / 2)] }'
}

# mx NAME KEY: the largest KEY over the runs, or "null".
mx() {
	awk -v k="$2" '$1 == k { print $2 }' "$TABLE.$1" 2>/dev/null |
	    sort -n | tail -1 | awk '{ v = $1 } END { print NR ? v : "null" }'
}

# all NAME KEY: every run's KEY, as a JSON list.
all() {
	awk -v k="$2" '$1 == k { printf "%s%s", (n++ ? "," : ""), $2 }
	    END { printf "\n" }' "$TABLE.$1" 2>/dev/null | sed 's/^/[/; s/$/]/'
}

# err NAME: the first error of the runs, JSON-quoted, or empty.
err() {
	awk '$1 == "error" { $1 = ""; sub(/^ /, ""); gsub(/"/, "\\\"");
	    print "\"" $0 "\""; exit }' "$TABLE.$1" 2>/dev/null
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" ||
	    b == 0) print "null"; else printf "%.3f\n", a / b }'
}

# met VALUE OP LIMIT: true or false
met() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN { r = "false";
	    if (v != "null" && op == ">=" && v + 0 >= l + 0) r = "true";
	    if (v != "null" && op == "<=" && v + 0 <= l + 0) r = "true";
	    print r }'
}

# The TLS rows: one certificate for every node, as gencert makes it.
CERT=$TABLE.pem
openssl req -x509 -new -nodes -newkey rsa:2048 -keyout "$CERT.key" \
    -out "$CERT.crt" -subj /CN=AnyEvent::MP -days 30 -batch 2>>"$LOG" &&
    cat "$CERT.crt" "$CERT.key" >"$CERT"

echo "running benchmarks ($RUNS runs each; log in $LOG)" >&2
i=0
while [ "$i" -lt "$RUNS" ]; do
	i=$((i + 1))
	echo "  round $i: tput" >&2
	run tput_remote "$BIN/tput" aemp 3000000
	run tput_scraped "$BIN/tput" scraped 3000000
	run tput_raw "$BIN/tput" raw 10000000
	run tput_remote_snd "$BIN/tput" snd 2000000
	run snd_floor "$BIN/tput" sndfloor 2000000
	run tput_naive "$BIN/tput" naive 2000000
	echo "  round $i: tput_1k, tput_64k, backpressure" >&2
	run tput_1k "$BIN/tput" aemp 300000 1024
	run raw_1k "$BIN/tput" raw 1000000 1024
	run tput_64k "$BIN/tput" aemp 10000 65536
	run raw_64k "$BIN/tput" raw 20000 65536
	run bp "$BIN/tput" bp 50000 1024
	run bp_naive "$BIN/tput" bpnaive 50000 1024
	echo "  round $i: rtt" >&2
	run rtt "$BIN/rtt" 20000 same
	run rtt_xcpu "$BIN/rtt" 20000 xcpu
	echo "  round $i: local, port_mem, handshake" >&2
	run tput_local "$BIN/local" 10000000
	run local_floor "$BIN/local" 10000000 floor
	run tput_local_sndf "$BIN/local" 10000000 sndf
	run port_mem "$BIN/portmem" 1000000
	run handshake "$BIN/handshake" 40
	echo "  round $i: mesh" >&2
	run mesh16 "$BIN/mesh" "$B/bin/aempd" 16 30
	run mesh32 "$BIN/mesh" "$B/bin/aempd" 32 30
	run mesh128 "$BIN/mesh" "$B/bin/aempd" 128 30
	run mesh256 "$BIN/mesh" "$B/bin/aempd" 256 60
	echo "  round $i: fanout" >&2
	run fanout "$BIN/fanout" 20000
	echo "  round $i: snapshot" >&2
	run snapshot "$BIN/snapshot" 10000 100
	echo "  round $i: tls" >&2
	export AEMP_BENCH_CERT="$CERT"
	run tput_remote_tls "$BIN/tput" aemp 3000000
	run tput_rawtls "$BIN/tput" rawtls 10000000
	run rtt_tls "$BIN/rtt" 20000 same
	run handshake_tls "$BIN/handshake" 40
	run conn_mem_tls "$BIN/connmem" 200
	unset AEMP_BENCH_CERT
	run conn_mem "$BIN/connmem" 200
	echo "  round $i: dataconn" >&2
	run dc "$BIN/dataconn" aemp 1073741824
	run dc_raw "$BIN/dataconn" raw 1073741824
	run dc_bev "$BIN/dataconn" rawbev 1073741824
	run dc_tls "$BIN/dataconn" tls 1073741824
	run dc_rawtls "$BIN/dataconn" rawtls 1073741824
done

tr=$(med tput_remote rate); tw=$(med tput_raw rate)
tsc=$(med tput_scraped rate); rsc=$(ratio "$tsc" "$tr")
sn=$(med snapshot snapshot_ms); sd=$(med snapshot dump_ms)
ts=$(med tput_remote_snd rate); tn=$(med tput_naive rate)
tsf=$(med snd_floor rate)
tnr=$(mx tput_naive peak_rss_mb); tnl=$(mx tput_naive lost)
t1=$(med tput_1k rate); w1=$(med raw_1k rate)
t64=$(med tput_64k rate); w64=$(med raw_64k rate)
bpr=$(med bp rate); bpo=$(med bp_naive rate); bpl=$(mx bp lost)
bpq=$(mx bp peak_queued); bpm=$(mx bp peak_rss_mb); bnm=$(mx bp_naive peak_rss_mb)
rm_=$(med rtt median_us); rp=$(med rtt p99_us)
wm=$(med rtt raw_median_us); wp=$(med rtt raw_p99_us)
fm=$(med rtt floor_median_us)
xm=$(med rtt_xcpu median_us); xp=$(med rtt_xcpu p99_us)
xw=$(med rtt_xcpu raw_median_us); xf=$(med rtt_xcpu floor_median_us)
tl=$(med tput_local rate); tlf=$(med local_floor rate); rtl=$(ratio "$tl" "$tlf")
tls_=$(med tput_local_sndf rate); rtls=$(ratio "$tls_" "$tlf")
pb=$(med port_mem bytes_per_port); pu=$(med port_mem us_per_port)
pc=$(med port_mem cpu_us_per_port)
hs=$(med handshake median_us)
m16=$(med mesh16 seconds); m32=$(med mesh32 seconds)
x16=$(mx mesh16 seconds); x32=$(mx mesh32 seconds)
m128=$(med mesh128 seconds); x128=$(mx mesh128 seconds)
d128=$(mx mesh128 downs); c128=$(med mesh128 cpu_s); r128=$(mx mesh128 rss_mb)
c32=$(med mesh32 cpu_s); d32=$(mx mesh32 downs)
m256=$(med mesh256 seconds); x256=$(mx mesh256 seconds)
d256=$(mx mesh256 downs); c256=$(med mesh256 cpu_s); r256=$(mx mesh256 rss_mb)
fo=$(med fanout rate)
ttr=$(med tput_remote_tls rate); ttw=$(med tput_rawtls rate)
trm=$(med rtt_tls median_us); trp=$(med rtt_tls p99_us)
ths=$(med handshake_tls median_us)
cm=$(med conn_mem bytes_per_conn); cmt=$(med conn_mem_tls bytes_per_conn)
rtc=$(ratio "$ttr" "$tr"); rtb=$(ratio "$ttr" "$ttw"); rtr=$(ratio "$trm" "$rm_")
tm=$(met "$ttr" ">=" 1500000); [ "$(met "$rtc" ">=" 0.6)" = false ] && tm=false
dc=$(med dc rate); dcr=$(med dc_raw rate); dcb=$(med dc_bev rate)
dct=$(med dc_tls rate); dctr=$(med dc_rawtls rate)
rdc=$(ratio "$dc" "$dcr"); rdcb=$(ratio "$dc" "$dcb"); rdct=$(ratio "$dct" "$dctr")
rr=$(ratio "$tr" "$tw"); rt=$(ratio "$rm_" "$wm"); rf=$(ratio "$fm" "$wm")
rs=$(ratio "$ts" "$tw"); rn=$(ratio "$tn" "$tw")
rsf=$(ratio "$tsf" "$tw"); rsof=$(ratio "$ts" "$tsf")
r1=$(ratio "$t1" "$w1"); r64=$(ratio "$t64" "$w64"); rbp=$(ratio "$bpr" "$bpo")
rtf=$(ratio "$rm_" "$fm")
# bp: within its high mark (1 MiB and one packet), nothing lost, >= 0.9
bpok=$(met "$rbp" ">=" 0.9)
[ "$(met "$bpq" "<=" 1050000)" = true ] && [ "$bpl" = 0 ] || bpok=false
rx=$(ratio "$xm" "$xw"); rxf=$(ratio "$xf" "$xw")

e=$(err tput_remote)
echo "{\"bench\": \"tput_remote\", \"value\": $tr, \"unit\": \"msg/s\", \"baseline\": $tw, \"ratio\": $rr, \"target\": \"ratio >= 0.5\", \"met\": $(met "$rr" ">=" 0.5), \"runs\": $(all tput_remote rate)${e:+, \"error\": $e}}"
e=$(err tput_scraped)
echo "{\"bench\": \"tput_scraped\", \"value\": $tsc, \"unit\": \"msg/s\", \"scraper\": \"GET /metrics 10/s on the receiver\", \"baseline\": $tr, \"ratio\": $rsc, \"target\": \"ratio >= 0.97\", \"met\": $(met "$rsc" ">=" 0.97), \"runs\": $(all tput_scraped rate), \"scrapes\": $(all tput_scraped scrapes)${e:+, \"error\": $e}}"
e=$(err snapshot)
echo "{\"bench\": \"snapshot\", \"ports\": 10000, \"peers\": 100, \"value\": $sn, \"unit\": \"ms\", \"dump_ms\": $sd, \"target\": \"<= 10\", \"met\": $(met "$sn" "<=" 10), \"runs\": $(all snapshot snapshot_ms)${e:+, \"error\": $e}}"
e=$(err tput_raw)
echo "{\"bench\": \"tput_raw\", \"value\": $tw, \"unit\": \"msg/s\", \"runs\": $(all tput_raw rate)${e:+, \"error\": $e}}"
e=$(err tput_remote_snd)
echo "{\"bench\": \"tput_remote_snd\", \"value\": $ts, \"unit\": \"msg/s\", \"baseline\": $tw, \"ratio\": $rs, \"target\": \"ratio >= 0.45\", \"met\": $(met "$rs" ">=" 0.45), \"floor\": $tsf, \"of_floor\": $rsof, \"runs\": $(all tput_remote_snd rate)${e:+, \"error\": $e}}"
e=$(err snd_floor)
echo "{\"bench\": \"snd_floor\", \"value\": $tsf, \"unit\": \"msg/s\", \"baseline\": $tw, \"ratio\": $rsf, \"is\": \"the tput_remote_snd messages built with json_pack and freed, no aemp: its ceiling\", \"runs\": $(all snd_floor rate)${e:+, \"error\": $e}}"
e=$(err tput_naive)
echo "{\"bench\": \"tput_naive\", \"value\": $tn, \"unit\": \"msg/s\", \"baseline\": $tw, \"ratio\": $rn, \"peak_rss_mb\": $tnr, \"lost\": $tnl, \"runs\": $(all tput_naive rate), \"rss_runs\": $(all tput_naive peak_rss_mb)${e:+, \"error\": $e}}"
e=$(err tput_1k)$(err raw_1k)
echo "{\"bench\": \"tput_1k\", \"value\": $t1, \"unit\": \"msg/s\", \"baseline\": $w1, \"ratio\": $r1, \"target\": \"ratio >= 0.6\", \"met\": $(met "$r1" ">=" 0.6), \"runs\": $(all tput_1k rate), \"baseline_runs\": $(all raw_1k rate)${e:+, \"error\": $e}}"
e=$(err tput_64k)$(err raw_64k)
echo "{\"bench\": \"tput_64k\", \"value\": $t64, \"unit\": \"msg/s\", \"baseline\": $w64, \"ratio\": $r64, \"target\": \"ratio >= 0.6\", \"met\": $(met "$r64" ">=" 0.6), \"runs\": $(all tput_64k rate), \"baseline_runs\": $(all raw_64k rate)${e:+, \"error\": $e}}"
e=$(err bp)$(err bp_naive)
echo "{\"bench\": \"backpressure\", \"value\": $bpr, \"unit\": \"msg/s\", \"baseline\": $bpo, \"ratio\": $rbp, \"lost\": $bpl, \"peak_queued\": $bpq, \"high_mark\": 1048576, \"peak_rss_mb\": $bpm, \"naive_peak_rss_mb\": $bnm, \"target\": \"ratio >= 0.9, within the high mark, nothing lost\", \"met\": $bpok, \"runs\": $(all bp rate), \"baseline_runs\": $(all bp_naive rate)${e:+, \"error\": $e}}"
e=$(err rtt)
echo "{\"bench\": \"rtt\", \"placement\": \"same cpu\", \"value\": $rm_, \"unit\": \"us\", \"p99\": $rp, \"baseline\": $wm, \"baseline_p99\": $wp, \"ratio\": $rt, \"loop_floor\": $fm, \"loop_floor_ratio\": $rf, \"floor_ratio\": $rtf, \"target\": \"<= 1.03 x the loop floor\", \"met\": $(met "$rtf" "<=" 1.03), \"runs\": $(all rtt median_us), \"baseline_runs\": $(all rtt raw_median_us), \"floor_runs\": $(all rtt floor_median_us)${e:+, \"error\": $e}}"
e=$(err rtt_xcpu)
echo "{\"bench\": \"rtt_xcpu\", \"placement\": \"two cpus\", \"value\": $xm, \"unit\": \"us\", \"p99\": $xp, \"baseline\": $xw, \"ratio\": $rx, \"loop_floor\": $xf, \"loop_floor_ratio\": $rxf, \"target\": \"ratio <= 1.3\", \"met\": $(met "$rx" "<=" 1.3), \"runs\": $(all rtt_xcpu median_us), \"baseline_runs\": $(all rtt_xcpu raw_median_us)${e:+, \"error\": $e}}"
e=$(err tput_local)
echo "{\"bench\": \"tput_local\", \"value\": $tl, \"unit\": \"msg/s\", \"baseline\": $tlf, \"baseline_is\": \"the same messages built and freed without aemp\", \"ratio\": $rtl, \"target\": \">= 20000000\", \"met\": $(met "$tl" ">=" 20000000), \"runs\": $(all tput_local rate)${e:+, \"error\": $e}}"
e=$(err tput_local_sndf)
echo "{\"bench\": \"tput_local_sndf\", \"value\": $tls_, \"unit\": \"msg/s\", \"baseline\": $tlf, \"baseline_is\": \"the aemp_snd messages built and freed without aemp\", \"ratio\": $rtls, \"target\": \">= 20000000\", \"met\": $(met "$tls_" ">=" 20000000), \"runs\": $(all tput_local_sndf rate)${e:+, \"error\": $e}}"
e=$(err port_mem)
pm=$(met "$pb" "<=" 100); pm2=$(met "$pu" "<=" 0.4)
[ "$pm2" = false ] && pm=false
echo "{\"bench\": \"port_mem\", \"value\": $pb, \"unit\": \"B/port\", \"us_per_port\": $pu, \"cpu_us_per_port\": $pc, \"ports\": 1000000, \"target\": \"<= 100 B/port, <= 0.4 us/port\", \"met\": $pm, \"runs\": $(all port_mem bytes_per_port), \"us_runs\": $(all port_mem us_per_port)${e:+, \"error\": $e}}"
e=$(err handshake)
echo "{\"bench\": \"handshake\", \"value\": $hs, \"unit\": \"us\", \"target\": \"<= 1000\", \"met\": $(met "$hs" "<=" 1000), \"runs\": $(all handshake median_us)${e:+, \"error\": $e}}"
e=$(err mesh16)
echo "{\"bench\": \"mesh\", \"n\": 16, \"value\": $m16, \"max\": $x16, \"unit\": \"s\", \"downs\": $(all mesh16 downs), \"cpu_s\": $(all mesh16 cpu_s), \"runs\": $(all mesh16 seconds)${e:+, \"error\": $e}}"
e=$(err mesh32)
echo "{\"bench\": \"mesh\", \"n\": 32, \"value\": $m32, \"max\": $x32, \"unit\": \"s\", \"downs\": $(all mesh32 downs), \"cpu_s\": $(all mesh32 cpu_s), \"target\": \"<= 10\", \"met\": $(met "$x32" "<=" 10), \"runs\": $(all mesh32 seconds)${e:+, \"error\": $e}}"
e=$(err mesh128)
m128ok=$(met "$x128" "<=" 2); [ "$d128" = 0 ] || m128ok=false
echo "{\"bench\": \"mesh\", \"n\": 128, \"value\": $m128, \"max\": $x128, \"unit\": \"s\", \"downs\": $(all mesh128 downs), \"cpu_s\": $(all mesh128 cpu_s), \"rss_mb\": $(all mesh128 rss_mb), \"target\": \"<= 2 s, 0 down events\", \"met\": $m128ok, \"runs\": $(all mesh128 seconds)${e:+, \"error\": $e}}"
e=$(err mesh256)
echo "{\"bench\": \"mesh\", \"n\": 256, \"value\": $m256, \"max\": $x256, \"unit\": \"s\", \"downs\": $(all mesh256 downs), \"cpu_s\": $(all mesh256 cpu_s), \"rss_mb\": $(all mesh256 rss_mb), \"runs\": $(all mesh256 seconds)${e:+, \"error\": $e}}"
e=$(err fanout)
echo "{\"bench\": \"fanout\", \"value\": $fo, \"unit\": \"deliveries/s\", \"target\": \">= 500000\", \"met\": $(met "$fo" ">=" 500000), \"runs\": $(all fanout rate)${e:+, \"error\": $e}}"
e=$(err tput_remote_tls)
echo "{\"bench\": \"tput_remote_tls\", \"value\": $ttr, \"unit\": \"msg/s\", \"baseline\": $ttw, \"baseline_is\": \"bare OpenSSL pair\", \"ratio\": $rtb, \"cleartext\": $tr, \"ratio_to_cleartext\": $rtc, \"target\": \">= 1500000 and >= 0.6 x tput_remote\", \"met\": $tm, \"runs\": $(all tput_remote_tls rate), \"baseline_runs\": $(all tput_rawtls rate)${e:+, \"error\": $e}}"
e=$(err rtt_tls)
echo "{\"bench\": \"rtt_tls\", \"value\": $trm, \"unit\": \"us\", \"p99\": $trp, \"baseline\": $rm_, \"baseline_is\": \"cleartext rtt\", \"ratio\": $rtr, \"target\": \"ratio <= 1.15\", \"met\": $(met "$rtr" "<=" 1.15), \"runs\": $(all rtt_tls median_us)${e:+, \"error\": $e}}"
e=$(err handshake_tls)
echo "{\"bench\": \"handshake_tls\", \"value\": $ths, \"unit\": \"us\", \"baseline\": $hs, \"baseline_is\": \"cleartext handshake\", \"target\": \"<= 5000\", \"met\": $(met "$ths" "<=" 5000), \"runs\": $(all handshake_tls median_us)${e:+, \"error\": $e}}"
e=$(err conn_mem_tls)
echo "{\"bench\": \"conn_mem_tls\", \"value\": $cmt, \"unit\": \"B/peer\", \"baseline\": $cm, \"baseline_is\": \"cleartext peers\", \"peers\": 200, \"runs\": $(all conn_mem_tls bytes_per_conn)${e:+, \"error\": $e}}"
e=$(err dc)
echo "{\"bench\": \"dataconn\", \"value\": $dc, \"unit\": \"bytes/s\", \"bytes\": 1073741824, \"baseline\": $dcr, \"ratio\": $rdc, \"bufferevent_baseline\": $dcb, \"bufferevent_ratio\": $rdcb, \"target\": \"ratio >= 0.9\", \"met\": $(met "$rdc" ">=" 0.9), \"runs\": $(all dc rate), \"baseline_runs\": $(all dc_raw rate)${e:+, \"error\": $e}}"
e=$(err dc_tls)
echo "{\"bench\": \"dataconn_tls\", \"value\": $dct, \"unit\": \"bytes/s\", \"bytes\": 1073741824, \"baseline\": $dctr, \"ratio\": $rdct, \"target\": \"ratio >= 0.9\", \"met\": $(met "$rdct" ">=" 0.9), \"runs\": $(all dc_tls rate), \"baseline_runs\": $(all dc_rawtls rate)${e:+, \"error\": $e}}"

yn() { [ "$1" = true ] && echo yes || echo NO; }
echo
printf '%-12s %16s %16s %8s  %-22s %s\n' bench value baseline ratio target met
printf '%-12s %16s %16s %8s  %-22s %s\n' tput_remote "$tr msg/s" "$tw msg/s" "$rr" ">= 0.5 x raw" "$(yn "$(met "$rr" ">=" 0.5)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  _snd" "$ts msg/s" "$tw msg/s" "$rs" ">= 0.45 x raw" "$(yn "$(met "$rs" ">=" 0.45)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  snd floor" "$tsf msg/s" "$tw msg/s" "$rsf" "(json_pack+free, no aemp)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "  scraped" "$tsc msg/s" "$tr msg/s" "$rsc" ">= 0.97 x tput_remote" "$(yn "$(met "$rsc" ">=" 0.97)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  naive" "$tn msg/s" "$tw msg/s" "$rn" "peak RSS $tnr MB" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' tput_1k "$t1 msg/s" "$w1 msg/s" "$r1" ">= 0.6 x raw" "$(yn "$(met "$r1" ">=" 0.6)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' tput_64k "$t64 msg/s" "$w64 msg/s" "$r64" ">= 0.6 x raw" "$(yn "$(met "$r64" ">=" 0.6)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' backpressure "$bpr msg/s" "$bpo msg/s" "$rbp" ">= 0.9, <= high, 0 lost" "$(yn "$bpok")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  memory" "$bpq B queued" "" "" "RSS $bpm MB (naive $bnm)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' rtt "$rm_ us" "$fm us" "$rtf" "<= 1.03 x loop floor" "$(yn "$(met "$rtf" "<=" 1.03)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  vs raw" "$rm_ us" "$wm us" "$rt" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "rtt p99" "$rp us" "$wp us" "" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "  loop floor" "$fm us" "$wm us" "$rf" "(bare libevent)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' rtt_xcpu "$xm us" "$xw us" "$rx" "<= 1.3 x raw" "$(yn "$(met "$rx" "<=" 1.3)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  loop floor" "$xf us" "$xw us" "$rxf" "(bare libevent)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' tput_local "$tl msg/s" "$tlf msg/s" "$rtl" ">= 20,000,000 msg/s" "$(yn "$(met "$tl" ">=" 20000000)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  _sndf" "$tls_ msg/s" "$tlf msg/s" "$rtls" ">= 20,000,000 msg/s" "$(yn "$(met "$tls_" ">=" 20000000)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' port_mem "$pb B/port" "" "" "<= 100 B/port" "$(yn "$(met "$pb" "<=" 100)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "port create" "$pu us" "" "" "<= 0.4 us/port" "$(yn "$pm2")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  (CPU time)" "$pc us" "" "" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' handshake "$hs us" "" "" "<= 1000 us" "$(yn "$(met "$hs" "<=" 1000)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "mesh N=16" "$m16 s" "max $x16 s" "" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "mesh N=32" "$m32 s" "max $x32 s" "" "<= 10 s" "$(yn "$(met "$x32" "<=" 10)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  cpu, downs" "$c32 s" "$d32 downs" "" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "mesh N=128" "$m128 s" "max $x128 s" "" "<= 2 s, 0 downs" "$(yn "$m128ok")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  cpu, downs" "$c128 s" "$d128 downs" "" "RSS $r128 MB/node" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "mesh N=256" "$m256 s" "max $x256 s" "" "" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' "  cpu, downs" "$c256 s" "$d256 downs" "" "RSS $r256 MB/node" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' fanout "$fo /s" "" "" ">= 500,000 /s" "$(yn "$(met "$fo" ">=" 500000)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' snapshot "$sn ms" "" "" "<= 10 ms" "$(yn "$(met "$sn" "<=" 10)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' tput_tls "$ttr msg/s" "$ttw msg/s" "$rtb" ">= 1.5M, >= 0.6 x $rtc" "$(yn "$tm")"
printf '%-12s %16s %16s %8s  %-22s %s\n' rtt_tls "$trm us" "$rm_ us" "$rtr" "<= 1.15 x rtt" "$(yn "$(met "$rtr" "<=" 1.15)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' handshake_tls "$ths us" "$hs us" "" "<= 5000 us" "$(yn "$(met "$ths" "<=" 5000)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' conn_mem_tls "$cmt B/peer" "$cm B/peer" "" "(RSS, 200 peers)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' dataconn "$dc B/s" "$dcr B/s" "$rdc" ">= 0.9 x raw TCP" "$(yn "$(met "$rdc" ">=" 0.9)")"
printf '%-12s %16s %16s %8s  %-22s %s\n' "  bufferev." "$dc B/s" "$dcb B/s" "$rdcb" "(bare bufferevents)" ""
printf '%-12s %16s %16s %8s  %-22s %s\n' dataconn_tls "$dct B/s" "$dctr B/s" "$rdct" ">= 0.9 x bare OpenSSL" "$(yn "$(met "$rdct" ">=" 0.9)")"
for name in tput_remote tput_raw tput_remote_snd snd_floor tput_naive tput_1k raw_1k tput_64k raw_64k bp bp_naive rtt rtt_xcpu tput_local local_floor tput_local_sndf port_mem handshake mesh16 mesh32 mesh128 mesh256 fanout tput_scraped snapshot tput_remote_tls tput_rawtls rtt_tls handshake_tls conn_mem conn_mem_tls dc dc_raw dc_bev dc_tls dc_rawtls; do
	e=$(err "$name")
	[ -n "$e" ] && echo "$name failed: $e (see $LOG)"
done
exit 0
