#!/usr/bin/env python3
"""Writes node/assets/sweden.svg, Sweden's outline for the operator console, once.

Source: Natural Earth 1:50m Admin 0 countries (public domain), as redistributed in the npm
package world-atlas 2.0.2 (TopoJSON, quantized, lon/lat degrees):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 tools/sweden_svg.py package/countries-50m.json > node/assets/sweden.svg

Projection: equirectangular with cos(LAT0) scaling; the same constants are in
node/src/http/console/map.rs (a unit test checks the viewBox matches), so the regions'
coordinates from the config land where their cities are on the outline.
"""
import json
import math
import sys

# Keep in sync with node/src/http/console/map.rs.
LON_MIN, LON_MAX, LAT_MIN, LAT_MAX = 10.5, 24.5, 55.0, 69.5
LAT0 = 62.0
SCALE = 24.0  # SVG units per degree of latitude
SWEDEN = "752"  # ISO 3166-1 numeric


def project(lon, lat):
    x = (lon - LON_MIN) * math.cos(math.radians(LAT0)) * SCALE
    y = (LAT_MAX - lat) * SCALE
    return x, y


def main(path):
    topo = json.load(open(path))
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)

    def ring(indices):
        pts = []
        for i in indices:
            a = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
            pts.extend(a if not pts else a[1:])
        return pts

    geom = next(g for g in topo["objects"]["countries"]["geometries"] if g.get("id") == SWEDEN)
    polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
    d = []
    for poly in polys:
        for r in poly:
            pts = [project(lon, lat) for lon, lat in ring(r)]
            d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    w, h = project(LON_MAX, LAT_MIN)
    print(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.1f} {h:.1f}" width="{w:.1f}" height="{h:.1f}">')
    print("<!-- Sweden: Natural Earth 1:50m Admin 0 countries (public domain), via world-atlas 2.0.2. See sweden.svg.LICENSE. -->")
    print(f'<path id="sweden" fill="#dfe8df" stroke="#4a6b4a" stroke-width="1" stroke-linejoin="round" d="{"".join(d)}"/>')
    print("</svg>")


if __name__ == "__main__":
    main(sys.argv[1])
