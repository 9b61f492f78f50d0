#!/usr/bin/env bash
# Regenerate the bundled speech demo: short clips spoken by eSpeak NG from sentences
# written for this project (CC0), as 16 kHz mono 16-bit WAV, plus transcripts.tsv.
#
# Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox). Run from anywhere:
#   bash resources/audio_demo/make_demo.sh
# The output depends on the espeak-ng and sox versions; the WAVs in the repository were
# made with the versions named in README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is not installed" >&2; exit 1; }

# id <TAB> voice <TAB> words per minute <TAB> sentence
sentences=$(cat <<'TEXT'
demo01	en-us+klatt2	175	Please open the window before the meeting starts.
demo02	en-us+klatt2	175	The train to the city leaves at seven thirty.
demo03	en-us+klatt2	175	My sister bought fresh bread at the market.
demo04	en-us+klatt2	175	We should test the new system on a small computer.
demo05	en-us+klatt2	175	The children played in the park until it was dark.
demo06	en-us+klatt2	175	Turn left at the church and walk two blocks.
demo07	en-us+klatt2	175	A cup of hot tea helps me think clearly.
demo08	en-us+klatt2	175	The results will be ready on Monday morning.
demo09	en-us+klatt2	175	Music filled the room as the guests arrived.
demo10	en-us+klatt2	175	She reads a short story every night before bed.
TEXT
)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'file_name\ttranscription\n' > transcripts.tsv.new
while IFS=$'\t' read -r id voice wpm text; do
    [ -n "$id" ] || continue
    espeak-ng -v "$voice" -s "$wpm" -w "$tmp/$id.wav" "$text"
    # 16 kHz, mono, 16-bit, no dither (-D) so the bytes are reproducible; trim leading and
    # trailing silence so the set stays small.
    sox -R -D "$tmp/$id.wav" -r 16000 -c 1 -b 16 -e signed-integer "$id.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.15 0.15
    printf '%s.wav\t%s\n' "$id" "$text" >> transcripts.tsv.new
done <<< "$sentences"
mv transcripts.tsv.new transcripts.tsv
du -ch ./*.wav | tail -1
