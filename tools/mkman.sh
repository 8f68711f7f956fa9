#!/usr/bin/env bash
# mkman.sh - certsentry(8) from its template, with options, findings and events from the binary itself.
# tools/mkman.sh BINARY TEMPLATE OUT: @OPTIONS@ from --help, @FINDINGS@ from
# --list-findings, @EVENTS@ from --list-events, so the page cannot drift from them.
set -euo pipefail
bin=$1 tmpl=$2 out=$3

# argp's --help: "  -x, --long=ARG   text" or "      --long   text", text
# continued at column 30; " Group:" headings; stops at the footnote.
options() {
	"$bin" --help | awk '
		/^Mandatory or optional/ { exit }
		/^  *-/ {
			if (spec != "") emit()
			line = $0; sub(/^ +/, "", line)
			if (match(line, /  +/)) { spec = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
			else { spec = line; text = "" }
			next
		}
		/^                             / && spec != "" { t = $0; sub(/^ +/, "", t); text = text (text == "" ? "" : " ") t; next }
		/^ [A-Z]/ { if (spec != "") emit(); h = $0; sub(/^ /, "", h); print ".SS \"" h "\""; next }
		/^$/ { next }
		END { if (spec != "") emit() }
		function emit() { gsub(/-/, "\\-", spec); print ".TP"; print ".B " spec; print text; spec = "" }
	'
}

findings() {
	"$bin" --list-findings -f json | jq -r '.[] |
		".TP\n.B \(.code)\n\(.severity); needs \(.needs | join(", ")).\n\(.description)"' | esc_body
}

events() {
	"$bin" --list-events -f json | jq -r '.[] | ".TP\n.B \(.action)\n\(.description)"' | esc_body
}

# roff-safe text lines (backslashes, a leading dot or quote), not the macros made here
esc_body() { sed -e '/^\.\(TP\|B \|SS\)/!{s/\\/\\e/g;s/^\([.'"'"']\)/\\\&\1/}'; }

opts=$(options | esc_body) fnd=$(findings) evs=$(events)
ver=$("$bin" --version | head -1)
awk -v o="$opts" -v f="$fnd" -v e="$evs" -v v="$ver" '
	$0 == "@OPTIONS@" { print o; next }
	$0 == "@FINDINGS@" { print f; next }
	$0 == "@EVENTS@" { print e; next }
	{ gsub(/@VERSION@/, v); print }
' "$tmpl" > "$out.tmp"
mv "$out.tmp" "$out"
