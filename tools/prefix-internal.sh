#!/bin/sh
# Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE.
#
# prefix-internal.sh: gives every internal name of libaemp the one internal
# prefix, ae_ (aemp_ is the public one). An internal name is one with
# external linkage in build/lib/libaemp.a (nm), less the public ones
# (whatever libaemp.so exports) and those prefixed already. An internal
# name that starts with aemp_ (the profile store's, the wire helpers')
# trades it for ae_: aemp_ is the public prefix only.
# Each is renamed as a whole word in the C files of common/ profiles/
# daemon/ cli/ tests/ bench/ examples/, except where it names a file
# (xmalloc.h stays). tests/check_symbols.c is left alone: its names are
# a user program's.
#
# After a merge the tree may mix names: code from another branch calling
# node_now() where the library now defines ae_node_now() does not build,
# so nm cannot say what to rename. The names renamed when the prefix came
# (KNOWN below) and the few renamed by hand then (RENAMED) go first,
# without a build; then the library is built and nm names whatever else
# is left (functions the other branch added), which is renamed too; a
# last build shows that nothing is left, or the script fails.
#
# Idempotent: a second run renames nothing. Run it from anywhere in the
# checkout:
#   sh tools/prefix-internal.sh [-n]	(-n: list what nm finds, rename nothing)
set -eu

PREFIX=ae_
cd "$(dirname "$0")/.."
dry=0
[ "${1:-}" = "-n" ] && dry=1

MAKE="${MAKE:-make}"
lib=build/lib/libaemp.a
so=build/lib/libaemp.so

# The internal names of libaemp when the prefix came (without it).
KNOWN='
authfail_delay authfail_free authfail_record authfail_record_fd
authfail_waiting bytes_add bytes_commit bytes_consume bytes_free
bytes_move bytes_reserve codec_plain_name dataconn_free dataconn_pending
dataconn_start dc_id_valid dict_clear dict_del dict_get dict_init
dict_next dict_prefetch dict_put dict_put_hashed fast_dump fast_int
fast_packet func_lookup global_broadcast global_free global_node_addrs
global_random global_start global_up_count group_change group_free
group_init group_stats group_unreg_node is_local json_dump_named
json_dump_packet json_string_fast kernel_deliver kernel_deliver_tagged
kernel_drop kernel_free kernel_node_request kernel_nodes_event
kernel_port_name kernel_remote_down kernel_remote_forget
kernel_run_defer kernel_start logcatcher_forward logcatcher_free
logcatcher_start loglimit_free mon_fire mon_free mon_link mon_list_fire
mon_new mon_unlink node_call_later node_defer node_error node_free_later
node_log_limited node_log_line node_now node_random_string
node_request_find node_requests node_trace node_vlog ntimer_add
ntimer_del ntimer_free ntimer_new ntimer_pending packet_decode perl_dump
perl_load perl_utf8_ok pkg_name_valid plain_span port_deliver port_free
port_kill port_mons port_new remote_add_addrs remote_connect remote_down
remote_free_all remote_get remote_mon_list_free remote_of
remote_on_event remote_probe_answer remote_queued remote_send
remote_send_name remote_sent_bytes remote_start run_as run_kill
seed_free seed_more seed_start spawn_run stats_handshake_failed
stats_hs_reason_name stats_read stats_remote_down stats_remote_up
store_seterr stream_error stream_tcp_new stream_tls_describe
stream_tls_new strlist_join timer_free timers_free timers_init
tls_ctx_free tls_ctx_new transport_close transport_close_data
transport_connect transport_connect_data transport_detach
transport_free_all transport_held_verdict transport_in_len
transport_listen transport_out transport_peer transport_queued
transport_set_tag transport_tls transport_write transport_write_buffer
transport_write_named watch_sweep xasprintf xcalloc xmalloc
xreallocarray xstrdup xstrndup
'
# Renamed by hand then: old name, new name.
RENAMED='
kernel_split id_split
transport_plain_name ae_codec_plain_name
dataconn_id_valid ae_dc_id_valid
aemp_args_have_secret ae_args_have_secret
aemp_auth_token ae_auth_token
aemp_authline_clear ae_authline_clear
aemp_authline_parse ae_authline_parse
aemp_base64 ae_base64
aemp_bind_valid ae_bind_valid
aemp_config_args ae_config_args
aemp_config_check ae_config_check
aemp_config_defaults ae_config_defaults
aemp_config_item ae_config_item
aemp_config_odd_start ae_config_odd_start
aemp_config_value ae_config_value
aemp_default_profile ae_default_profile
aemp_greeting_clear ae_greeting_clear
aemp_greeting_format ae_greeting_format
aemp_greeting_parse ae_greeting_parse
aemp_hex ae_hex
aemp_hmac_md6_256 ae_hmac_md6_256
aemp_hostport_format ae_hostport_format
aemp_hostport_parse ae_hostport_parse
aemp_json_arg ae_json_arg
aemp_key_quotable ae_key_quotable
aemp_key_type ae_key_type
aemp_keys ae_keys
aemp_md6 ae_md6
aemp_nodeid_valid ae_nodeid_valid
aemp_scan_feed ae_scan_feed
aemp_scan_free ae_scan_free
aemp_scan_init ae_scan_init
aemp_scan_reset ae_scan_reset
aemp_scrub_secret_args ae_scrub_secret_args
aemp_secret_weakness ae_secret_weakness
aemp_seed_valid ae_hostport_seed_valid
aemp_service_valid ae_service_valid
aemp_store_add_profile ae_store_add_profile
aemp_store_chain ae_store_chain
aemp_store_close ae_store_close
aemp_store_commit ae_store_commit
aemp_store_del ae_store_del
aemp_store_del_profile ae_store_del_profile
aemp_store_effective ae_store_effective
aemp_store_effective_in ae_store_effective_in
aemp_store_file ae_store_file
aemp_store_get ae_store_get
aemp_store_has_profile ae_store_has_profile
aemp_store_mode_warning ae_store_mode_warning
aemp_store_open ae_store_open
aemp_store_path ae_store_path
aemp_store_profiles ae_store_profiles
aemp_store_set ae_store_set
aemp_tls_token ae_tls_token
'

build() {
	nice "$MAKE" -j2 "$lib" "$so" >/dev/null
}

# The internal names with external linkage in the library built now, as
# "old new" lines: name becomes ae_name, aemp_name becomes ae_name.
internal_names() {
	nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sort -u \
	    > build/.prefix-public
	nm -g --defined-only "$lib" 2>/dev/null |
	    awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | sort -u |
	    grep -v -e "^$PREFIX" -e '^_' -e '^main$' |
	    comm -23 - build/.prefix-public |
	    awk -v p="$PREFIX" '{ n = $1; sub(/^aemp_/, "", n); print $1, p n }'
	rm -f build/.prefix-public
}

files() {
	git ls-files --cached --others --exclude-standard -- 'common/*.[ch]' 'profiles/*.[ch]' 'daemon/*.[ch]' \
	    'cli/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'examples/*.[ch]' |
	    grep -v '^tests/check_symbols\.c$'
}

# rename: the "old new" lines of $PREFIX_MAP become whole-word
# replacements in every file; (?!\.[ch]\b): not a file name.
rename() {
	# shellcheck disable=SC2046
	perl -pi -e '
	    BEGIN {
		open(my $f, "<", $ENV{PREFIX_MAP}) or die;
		while (<$f>) { my ($a, $b) = split; $to{$a} = $b if $b; }
		my $alt = join("|", sort { length($b) <=> length($a) }
		    keys %to);
		$re = qr/\b($alt)\b(?!\.[ch]\b)/;
	    }
	    s/$re/$to{$1}/g' $(files)
}

map=$(mktemp)
trap 'rm -f "$map"' EXIT

if [ "$dry" = 0 ]; then
	{
		printf '%s\n' $KNOWN | awk -v p="$PREFIX" 'NF { print $1, p $1 }'
		printf '%s\n' "$RENAMED" | awk 'NF == 2'
	} >"$map"
	PREFIX_MAP="$map" rename
fi

if ! build; then
	echo "prefix-internal: the library does not build (make $lib)" >&2
	exit 1
fi
names=$(internal_names)
if [ -z "$names" ]; then
	echo "prefix-internal: every internal name has the prefix $PREFIX"
	exit 0
fi
count=$(printf '%s\n' "$names" | wc -l)
if [ "$dry" = 1 ]; then
	printf '%s\n' "$names"
	echo "prefix-internal: $count more names would get $PREFIX"
	exit 0
fi
printf '%s\n' "$names" >"$map"
PREFIX_MAP="$map" rename
echo "prefix-internal: $count names nm found renamed to $PREFIX..."
build
left=$(internal_names)
if [ -n "$left" ]; then
	echo "prefix-internal: still without $PREFIX:" >&2
	printf '%s\n' "$left" >&2
	exit 1
fi
echo "prefix-internal: done; every internal name has the prefix $PREFIX"
